//! Video for viral: the built-in `storyboard` renderer (a real H.264 MP4 of moving
//! backgrounds, word-timed captions, voice and music, rendered in-process with no external
//! binaries) and MP4 validation against the platforms' rules.

pub mod audio;
mod boxes;
pub mod captions;
mod h264_writer;
pub mod join;
pub mod probe;
pub mod rules;
pub mod speech;
pub mod storyboard;

pub use join::{Burn, JoinMode, Joined, join, join_captioned};
pub use probe::{AudioProbe, Probe, looks_like_mp4, probe};
pub use rules::{Platform, PlatformReport, validate};
pub use speech::{Speech, Word};
pub use storyboard::{
    Beat, RenderSpec, Rendered, Storyboard, reading_captions, render, render_narrated, script,
    spoken_captions,
};

/// A stable seed from a name (FNV-1a): one job or concept always gets the same palette and
/// the same sound bed, in every process.
pub fn seed_of(name: &str) -> u64 {
    name.bytes().fold(1469598103934665603u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(1099511628211)
    })
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MediaError {
    /// The bytes are not an MP4 we can read (wrong magic, truncated, no video track).
    #[error("not a valid MP4: {0}")]
    NotMp4(String),
    #[error("invalid storyboard: {0}")]
    InvalidStoryboard(String),
    #[error("encoder failed: {0}")]
    Encoder(String),
    /// Valid input we cannot handle (a codec we cannot join, clips too short).
    #[error("unsupported: {0}")]
    Unsupported(String),
}
