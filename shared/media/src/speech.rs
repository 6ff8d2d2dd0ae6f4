//! Speech as a voice engine hands it over: mono samples at the engine's rate and, for each
//! word of the script, when it is spoken. The renderer times cards and captions from the
//! words and mixes the samples over the music bed.

use serde::{Deserialize, Serialize};

use crate::audio::SAMPLE_RATE;

/// One word of the script and when the voice says it, in seconds from the speech's start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub text: String,
    pub start_s: f64,
    pub end_s: f64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Speech {
    /// Samples per second of `samples` (espeak-ng: 22,050; ElevenLabs' PCM: 24,000).
    pub sample_rate: u32,
    /// Mono, −1…1.
    pub samples: Vec<f32>,
    /// Every word of the script in order, as the script wrote it (whitespace-separated).
    pub words: Vec<Word>,
}

impl Speech {
    /// Samples from 16-bit little-endian mono PCM (a trailing odd byte is ignored).
    pub fn pcm16le(bytes: &[u8]) -> Vec<f32> {
        bytes
            .chunks_exact(2)
            .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0)
            .collect()
    }

    /// The samples as 16-bit little-endian PCM (what [`Speech::pcm16le`] reads back).
    pub fn to_pcm16le(&self) -> Vec<u8> {
        self.samples
            .iter()
            .flat_map(|v| ((v.clamp(-1.0, 1.0) * 32_767.0) as i16).to_le_bytes())
            .collect()
    }

    pub fn duration_s(&self) -> f64 {
        if self.sample_rate == 0 {
            return 0.0;
        }
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }

    /// The samples at the mixer's 48 kHz (linear interpolation: speech has little above
    /// 8 kHz, so nothing audible is lost).
    pub fn resampled(&self) -> Vec<f32> {
        if self.sample_rate == 0 || self.samples.is_empty() {
            return Vec::new();
        }
        if self.sample_rate == SAMPLE_RATE {
            return self.samples.clone();
        }
        let ratio = f64::from(self.sample_rate) / f64::from(SAMPLE_RATE);
        let n = (self.samples.len() as f64 / ratio).floor() as usize;
        let last = self.samples.len() - 1;
        (0..n)
            .map(|i| {
                let pos = i as f64 * ratio;
                let j = (pos.floor() as usize).min(last);
                let frac = (pos - j as f64) as f32;
                let a = self.samples[j];
                let b = self.samples[(j + 1).min(last)];
                a + (b - a) * frac
            })
            .collect()
    }

    /// Checks what an engine handed over before anything is timed from it: one timing for
    /// each of the script's words, the same words, times in order and inside the audio. An engine's answer is input
    /// like any other.
    pub fn check(&self, script: &str) -> Result<(), String> {
        let expected: Vec<&str> = script.split_whitespace().collect();
        if self.words.len() != expected.len() {
            return Err(format!(
                "{} word timings for a script of {} words",
                self.words.len(),
                expected.len()
            ));
        }
        if let Some((w, e)) = self
            .words
            .iter()
            .zip(&expected)
            .find(|(w, e)| w.text != **e)
        {
            return Err(format!(
                "a timing for {:?} where the script says {e:?}",
                w.text
            ));
        }
        if self.sample_rate < 8_000 || self.sample_rate > 96_000 {
            return Err(format!("sample rate {} Hz", self.sample_rate));
        }
        let end = self.duration_s() + 0.05;
        let mut prev = 0.0;
        for w in &self.words {
            let ok = w.start_s.is_finite()
                && w.end_s.is_finite()
                && w.start_s >= prev - 1e-6
                && w.end_s >= w.start_s
                && w.end_s <= end;
            if !ok {
                return Err(format!(
                    "word {:?} timed {:.3}–{:.3} s out of order or outside {:.3} s of audio",
                    w.text, w.start_s, w.end_s, end
                ));
            }
            prev = w.start_s;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speech(words: &[(&str, f64, f64)]) -> Speech {
        Speech {
            sample_rate: 24_000,
            samples: vec![0.0; 24_000 * 2],
            words: words
                .iter()
                .map(|(t, s, e)| Word {
                    text: (*t).into(),
                    start_s: *s,
                    end_s: *e,
                })
                .collect(),
        }
    }

    #[test]
    fn pcm_round_trips_within_a_step() {
        let mut s = speech(&[]);
        s.samples = vec![0.0, 0.5, -0.5, 1.0, -1.0];
        let back = Speech::pcm16le(&s.to_pcm16le());
        assert!(
            back.iter()
                .zip(&s.samples)
                .all(|(a, b)| (a - b).abs() < 1e-4)
        );
    }

    #[test]
    fn resampling_keeps_the_duration() {
        let s = speech(&[]);
        let r = s.resampled();
        assert_eq!(r.len(), 96_000);
    }

    #[test]
    fn an_engines_timings_are_checked_against_the_script() {
        let good = speech(&[("Stop", 0.1, 0.4), ("scrolling.", 0.45, 1.0)]);
        assert!(good.check("Stop scrolling.").is_ok());
        assert!(good.check("Stop scrolling now.").is_err());
        let backwards = speech(&[("Stop", 0.5, 0.6), ("scrolling.", 0.1, 1.0)]);
        assert!(backwards.check("Stop scrolling.").is_err());
        let late = speech(&[("Stop", 0.1, 0.4), ("scrolling.", 0.45, 9.0)]);
        assert!(late.check("Stop scrolling.").is_err());
        let nan = speech(&[("Stop", f64::NAN, 0.4), ("scrolling.", 0.45, 1.0)]);
        assert!(nan.check("Stop scrolling.").is_err());
    }
}
