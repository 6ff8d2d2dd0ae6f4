//! Voices: text in, speech out with each word's timing, from the engine's own alignment
//! (never guessed when the engine can tell). The renderer times beats and captions from it.
//!
//! - `piper`: Piper, a neural offline voice, run as a separate Python process; its phoneme
//!   alignments give the timings. What `viral demo` speaks with when it is installed.
//! - `espeak`: espeak-ng, offline, loaded at run time when installed (Debian `espeak-ng`);
//!   its WORD events give the timings. A light voice for local runs and tests, and the
//!   fallback for languages Piper has no voice for.
//! - `elevenlabs`: ElevenLabs' text-to-speech with timestamps (a character alignment in the
//!   same answer). Paid per character.
//! - `polly`: Amazon Polly, the AWS-native voice: audio, then word speech marks. Paid per
//!   character, per call.
//!
//! A voice's errors are the video providers' [`ProviderError`]s, with the same meaning: a
//! transient one may be retried, a permanent one may not.

pub mod elevenlabs;
mod espeak;
mod piper;
pub mod polly;

pub use elevenlabs::ElevenLabs;
pub use espeak::Espeak;
pub use piper::Piper;
pub use polly::Polly;

use async_trait::async_trait;
use viral_core::ports::ProviderError;
use viral_media::Speech;

/// Longest script a voice is asked to read (characters): a 60 s video at a fast pace.
pub const MAX_SCRIPT_CHARS: usize = 3_000;

/// The most characters (spaces included) a video's script may carry per second of video:
/// a brisk narrator says about 15. A script is cut to this before it is sent, so a voice
/// priced per character costs at most this many characters per second, which is what a job's
/// estimate counts.
pub const MAX_CHARS_PER_SECOND: f64 = 18.0;

/// What narrating one second of video costs at most, in cents, for a voice priced per 1,000
/// characters.
pub fn cents_per_video_second(cents_per_1k_chars: f64) -> f64 {
    cents_per_1k_chars * MAX_CHARS_PER_SECOND / 1000.0
}

#[derive(Clone, Debug, PartialEq)]
pub struct SpeechRequest {
    /// What to say. Its whitespace-separated words are the words the timings come back for.
    pub text: String,
    /// BCP 47 language tag, lower case (`en-us`, `es`, `pt-br`).
    pub language: String,
    /// The engine's voice name; `None` for the language's default.
    pub voice: Option<String>,
    /// 1.0 is the engine's normal pace; 0.5 to 2.0.
    pub speed: f64,
}

impl SpeechRequest {
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            language: "en-us".into(),
            voice: None,
            speed: 1.0,
        }
    }

    /// Refuses what no engine should be sent.
    pub fn check(&self) -> Result<(), ProviderError> {
        let bad = |m: String| Err(ProviderError::InvalidInput(m));
        if self.text.trim().is_empty() {
            return bad("nothing to say".into());
        }
        if self.text.chars().count() > MAX_SCRIPT_CHARS {
            return bad(format!("a script of at most {MAX_SCRIPT_CHARS} characters"));
        }
        let tag_ok = (2..=12).contains(&self.language.len())
            && self
                .language
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-');
        if !tag_ok {
            return bad(format!(
                "language {:?} is not a tag like en-us",
                self.language
            ));
        }
        if !(self.speed.is_finite() && (0.5..=2.0).contains(&self.speed)) {
            return bad("speed must be 0.5 to 2.0".into());
        }
        // Engines look voices up by name (espeak-ng by file path): letters, digits, `-`,
        // `_` and `+` only.
        if let Some(v) = &self.voice {
            let ok = (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+'));
            if !ok {
                return bad(format!("voice {v:?} is not a voice name"));
            }
        }
        Ok(())
    }
}

#[async_trait]
pub trait Voice: Send + Sync {
    fn name(&self) -> &'static str;

    /// What the voice costs, US cents per 1,000 characters of script.
    fn price_cents_per_1k_chars(&self) -> f64;

    /// Reads `req.text` aloud. The answer is checked against the script before it is used.
    async fn speak(&self, req: &SpeechRequest) -> Result<Speech, ProviderError>;
}

/// The offline voices together: Piper where it has a voice for the request, espeak-ng for
/// the rest.
pub struct Offline {
    piper: Option<Piper>,
    espeak: Option<Espeak>,
}

impl Offline {
    /// `None` when neither is installed.
    pub fn load(piper_dir: Option<&std::path::Path>) -> Option<Self> {
        let piper = piper_dir.and_then(Piper::load);
        let espeak = Espeak::load();
        (piper.is_some() || espeak.is_some()).then_some(Self { piper, espeak })
    }

    /// The engine that reads `req`: `piper` or `espeak`.
    pub fn engine_for(&self, req: &SpeechRequest) -> Option<&'static str> {
        match (&self.piper, &self.espeak) {
            (Some(p), _) if p.speaks(req) => Some("piper"),
            (_, Some(_)) => Some("espeak"),
            _ => None,
        }
    }
}

#[async_trait]
impl Voice for Offline {
    fn name(&self) -> &'static str {
        if self.piper.is_some() {
            "piper"
        } else {
            "espeak"
        }
    }

    fn price_cents_per_1k_chars(&self) -> f64 {
        0.0
    }

    async fn speak(&self, req: &SpeechRequest) -> Result<Speech, ProviderError> {
        match (&self.piper, &self.espeak) {
            (Some(p), _) if p.speaks(req) => p.speak(req).await,
            (_, Some(e)) => e.speak(req).await,
            _ => Err(ProviderError::InvalidInput(format!(
                "no offline voice for {}",
                req.voice.as_deref().unwrap_or(&req.language)
            ))),
        }
    }
}

/// When the sound of `samples` ends: after the last sample louder than a whisper.
pub(crate) fn sound_end(samples: &[f32], rate: u32) -> f64 {
    samples
        .iter()
        .rposition(|s| s.abs() > 0.01)
        .map_or(0.0, |i| (i + 1) as f64 / f64::from(rate.max(1)))
}

/// Whether `c` is a pictograph (emoji and the joiners and selectors that build them): shown
/// in captions, never read out (engines would say "fire" for 🔥).
fn pictographic(c: char) -> bool {
    matches!(u32::from(c),
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF
        | 0xFE0E..=0xFE0F | 0x200D | 0x20E3 | 0xE0020..=0xE007F | 0x3030 | 0x303D | 0x2190..=0x21FF)
}

/// `text` as a voice should read it: pictographs replaced by spaces one for one, so every
/// other character keeps its position and the engine's events still point into `text`.
pub(crate) fn speakable(text: &str) -> String {
    text.chars()
        .map(|c| if pictographic(c) { ' ' } else { c })
        .collect()
}

/// Word timings for `script` from the character offsets an engine reports a word at (0-based,
/// in characters) and when (s): each script word starts at the first event inside it; a word
/// the engine said nothing for (an emoji, a symbol) is shown with the word before it. Each
/// word ends where a later word begins, and the last ones where the sound ends.
pub(crate) fn words_from_events(
    script: &str,
    events: &[(usize, f64)],
    sound_end_s: f64,
) -> Vec<viral_media::Word> {
    // (first char, one past the last char) of every word.
    let mut spans = Vec::new();
    let mut start = None;
    let mut n = 0;
    for (i, c) in script.chars().enumerate() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
        n = i + 1;
    }
    if let Some(s) = start {
        spans.push((s, n));
    }
    let mut starts: Vec<Option<f64>> = vec![None; spans.len()];
    for &(pos, t) in events {
        // The word this event is in, or the next one after it (an event on a space).
        if let Some(k) = spans.iter().position(|&(_, e)| pos < e) {
            let slot = &mut starts[k];
            if slot.is_none() {
                *slot = Some(t.max(0.0));
            }
        }
    }
    let mut prev = 0.0f64;
    let starts: Vec<f64> = starts
        .into_iter()
        .map(|s| {
            // Times never go backwards, whatever an engine says.
            prev = s.unwrap_or(prev).max(prev);
            prev
        })
        .collect();
    let words: Vec<&str> = script.split_whitespace().collect();
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let start_s = starts[i];
            let end_s = starts[i + 1..]
                .iter()
                .copied()
                .find(|t| *t > start_s)
                .unwrap_or(sound_end_s)
                .max(start_s);
            viral_media::Word {
                text: (*w).to_owned(),
                start_s,
                end_s,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_map_onto_the_scripts_words() {
        let script = "Stop  scrolling. 🛑 Two hours";
        // Events at "Stop" (0), "scrolling." (6) twice, none for the emoji, "Two" (19),
        // "hours" (23).
        let w = words_from_events(
            script,
            &[(0, 0.1), (6, 0.5), (8, 0.6), (19, 1.2), (23, 1.5)],
            2.0,
        );
        let got: Vec<(&str, f64, f64)> = w
            .iter()
            .map(|w| (w.text.as_str(), w.start_s, w.end_s))
            .collect();
        assert_eq!(
            got,
            [
                ("Stop", 0.1, 0.5),
                ("scrolling.", 0.5, 1.2),
                ("🛑", 0.5, 1.2),
                ("Two", 1.2, 1.5),
                ("hours", 1.5, 2.0)
            ]
        );
    }

    #[test]
    fn pictographs_are_not_read_and_nothing_moves() {
        let s = "Hot 🔥 take ❤️ now";
        let spoken = speakable(s);
        assert_eq!(spoken.chars().count(), s.chars().count());
        assert_eq!(
            spoken.split_whitespace().collect::<Vec<_>>(),
            ["Hot", "take", "now"]
        );
        assert_eq!(speakable("Café 東京 مرحبا"), "Café 東京 مرحبا");
    }

    #[test]
    fn times_never_go_backwards() {
        let w = words_from_events("a b c", &[(0, 1.0), (2, 0.5), (4, 2.0)], 3.0);
        assert!(w.windows(2).all(|p| p[0].start_s <= p[1].start_s));
        assert!(w.iter().all(|w| w.end_s >= w.start_s));
    }

    #[test]
    fn requests_are_checked() {
        assert!(SpeechRequest::new("Hello there").check().is_ok());
        assert!(SpeechRequest::new("  ").check().is_err());
        assert!(
            SpeechRequest::new("x".repeat(MAX_SCRIPT_CHARS + 1))
                .check()
                .is_err()
        );
        let mut r = SpeechRequest::new("Hi");
        r.language = "EN; rm -rf".into();
        assert!(r.check().is_err());
        let mut r = SpeechRequest::new("Hi");
        r.speed = f64::NAN;
        assert!(r.check().is_err());
    }
}
