//! The audio track every video we make carries: a sound bed with the voice over it, mixed
//! at 48 kHz stereo, mastered to about −14 LUFS integrated with a true-peak ceiling, and
//! encoded as AAC-LC: what TikTok, Shorts and Reels expect. A feed autoplays with sound, and
//! a silent short is one nobody stops for.
//!
//! The encoder is `rusty_aac` (pure Rust, Apache-2.0, no C and no patent-licence question of
//! its own): it builds in seconds and runs in a Lambda without libstdc++. It is young, so the
//! tests decode its output with an independent decoder (ffmpeg) and measure the loudness.

mod aac;
mod bed;
mod clips;
mod master;
mod mix;

pub use aac::{decode, encode, track_of};
pub use bed::bed;
pub use clips::{ClipsSound, clips_sound};
pub use master::{Mastered, integrated_lufs, master, measure};
pub use mix::narrate;

use std::sync::Mutex;

use crate::MediaError;

/// Samples per second of everything we mix and encode.
pub const SAMPLE_RATE: u32 = 48_000;
/// Integrated loudness every platform normalises short videos towards (LUFS).
pub const TARGET_LUFS: f64 = -14.0;
/// True-peak ceiling of the master before encoding (dBTP).
pub const CEILING_DBTP: f64 = -1.5;
/// True-peak ceiling of what ships (dBTP), measured on the decoded AAC: encoding overshoots a
/// transient by up to a few decibels (the bed's kick: −1.5 dBTP in, −0.1 out), so the encoded
/// track is decoded, measured and, when over, encoded again quieter.
pub const SHIPPED_CEILING_DBTP: f64 = -1.0;
/// Samples per AAC frame.
pub const AAC_FRAME: usize = 1024;

/// Two channels of samples in −1…1 at [`SAMPLE_RATE`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stereo {
    pub left: Vec<f32>,
    pub right: Vec<f32>,
}

impl Stereo {
    pub fn silence(samples: usize) -> Self {
        Self {
            left: vec![0.0; samples],
            right: vec![0.0; samples],
        }
    }

    pub fn len(&self) -> usize {
        self.left.len().min(self.right.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn duration_s(&self) -> f64 {
        self.len() as f64 / f64::from(SAMPLE_RATE)
    }
}

/// An encoded track: AAC-LC ADTS frames, each [`AAC_FRAME`] samples long, at 48 kHz stereo.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AacTrack {
    pub frames: Vec<Vec<u8>>,
}

impl AacTrack {
    /// When frame `i` starts, in seconds.
    pub fn pts(i: usize) -> f64 {
        (i * AAC_FRAME) as f64 / f64::from(SAMPLE_RATE)
    }
}

/// Passes `ship` makes at most: each one that comes out over the ceiling lowers the track by
/// its excess and a margin that grows with every pass, so the last one is well under.
const SHIP_PASSES: usize = 4;

/// Encodes mastered audio so that its decoded true peak is at most [`SHIPPED_CEILING_DBTP`].
/// It never fails over loudness: a job whose clips are paid for must not fail for its music.
/// The last pass ships as it is (in practice the second is under: the overshoot is a few
/// decibels at most).
pub fn ship(mut audio: Stereo) -> Result<AacTrack, MediaError> {
    for pass in 0..SHIP_PASSES {
        let track = encode(&audio)?;
        if pass + 1 == SHIP_PASSES {
            return Ok(track);
        }
        let (_, peak) = master::measure(&decode(&track)?)?;
        if peak <= SHIPPED_CEILING_DBTP {
            return Ok(track);
        }
        let margin = 0.1 + 0.5 * pass as f64;
        let g = 10f64.powf((SHIPPED_CEILING_DBTP - margin - peak) / 20.0) as f32;
        for s in audio.left.iter_mut().chain(audio.right.iter_mut()) {
            *s *= g;
        }
    }
    encode(&audio)
}

/// Tracks this process made, by (variant, length in ms): a bed is the same every time for the
/// same pair, and making one (generate, master, encode) costs more than the join it goes in.
static MADE: Mutex<Vec<((u64, u64), AacTrack)>> = Mutex::new(Vec::new());
const KEEP: usize = 48;

/// The sound bed of a video `duration_s` long, mastered and encoded: the track a video with
/// no voice of its own gets. `seed` picks one of the [`bed::VARIANTS`] (key and tempo).
///
/// One track is made at a time, under the cache's lock: a burst of joins then makes its beds
/// one after another instead of all at once, and the workers that hold leases keep running.
pub fn soundtrack(seed: u64, duration_s: f64) -> Result<AacTrack, MediaError> {
    let key = (
        seed % bed::VARIANTS,
        (duration_s.max(0.0) * 1000.0).round() as u64,
    );
    let make = || ship(master(bed(seed, duration_s))?.audio);
    // A panic while making one leaves nothing half-written in the cache (a track is pushed
    // whole), so a poisoned lock is taken over rather than given up.
    let mut made = MADE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, track)) = made.iter().find(|(k, _)| *k == key) {
        return Ok(track.clone());
    }
    let track = make()?;
    if made.len() >= KEEP {
        made.remove(0);
    }
    made.push((key, track.clone()));
    Ok(track)
}

/// The track of a narrated video: the bed of `seed` with `speech` over it from `voice_at_s`,
/// mastered and encoded. Not cached: no two jobs say the same thing.
pub fn narrated(
    seed: u64,
    duration_s: f64,
    speech: &crate::speech::Speech,
    voice_at_s: f64,
) -> Result<AacTrack, MediaError> {
    narrated_over(bed(seed, duration_s), speech, voice_at_s)
}

/// `speech` over `under` (a bed, or clips' own sound) from `voice_at_s`, mastered and encoded.
pub fn narrated_over(
    under: Stereo,
    speech: &crate::speech::Speech,
    voice_at_s: f64,
) -> Result<AacTrack, MediaError> {
    ship(master(narrate(under, speech, voice_at_s)?)?.audio)
}

/// A video's own sound (its clips'), mastered and encoded like everything we ship.
pub fn mastered(sound: Stereo) -> Result<AacTrack, MediaError> {
    ship(master(sound)?.audio)
}

/// The clips' own sound ready to ship. One clip whose AAC track already meets the target
/// (within 1 LU of [`TARGET_LUFS`], as our own mastered tracks are after `ship` lowered them
/// under the ceiling; true peak at most [`SHIPPED_CEILING_DBTP`], as long
/// as the video) is kept as it is: decoding and encoding it again would only cost time and
/// a generation of quality. Anything else is [`mastered`]. `sound` is the clips' sound as
/// [`clips_sound`] laid it out for `target_s`, with its loudness; only the true peak is
/// measured here, and only when the rest allows keeping the track.
pub fn kept_or_mastered(
    clips: &[&[u8]],
    sound: ClipsSound,
    target_s: f64,
) -> Result<AacTrack, MediaError> {
    if let [clip] = clips
        && let Some(track) = track_of(clip)
    {
        let needed = (target_s.max(0.0) * f64::from(SAMPLE_RATE)).ceil() as usize;
        if track.frames.len() * AAC_FRAME >= needed
            && (sound.lufs - TARGET_LUFS).abs() <= 1.0
            && master::true_peak(&sound.audio)? <= SHIPPED_CEILING_DBTP
        {
            return Ok(track);
        }
    }
    mastered(sound.audio)
}
