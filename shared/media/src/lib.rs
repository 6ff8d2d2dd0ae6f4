//! Video for viral: the built-in `storyboard` renderer (a real H.264 MP4 of text cards over
//! moving backgrounds, rendered in-process with no external binaries) and MP4 validation
//! against the platforms' rules.

mod h264_writer;
pub mod join;
pub mod probe;
pub mod rules;
pub mod storyboard;
mod text;

pub use join::{JoinMode, Joined, join};
pub use probe::{Probe, looks_like_mp4, probe};
pub use rules::{Platform, PlatformReport, validate};
pub use storyboard::{Beat, RenderSpec, Storyboard, render};

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
