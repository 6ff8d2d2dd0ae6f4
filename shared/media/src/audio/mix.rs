//! The voice over the music bed: the bed is set a fixed distance under the voice's loudness,
//! ducked further while the voice speaks (an envelope follower: fast attack, slow release, as
//! a radio mixer does it), and the sum goes to mastering like any other track.

use super::{SAMPLE_RATE, Stereo, master};
use crate::MediaError;
use crate::speech::Speech;

/// How far under the voice the bed sits while nobody speaks (LU).
const BED_UNDER_VOICE_LU: f64 = 10.0;
/// How much further the bed drops while the voice speaks (dB).
const DUCK_DB: f32 = 8.0;
const ATTACK_S: f32 = 0.010;
const RELEASE_S: f32 = 0.250;
/// Envelope level (of a voice peaking at 0.7) under which the voice counts as silent; the
/// bed is fully ducked from four times that.
const GATE: f32 = 0.03;
/// The voice fades out over this long where it is cut, so a cut never clicks.
const EDGE_S: f64 = 0.015;

/// The bed and `speech` (starting `voice_at_s` in, cut at `duration_s`), mixed.
pub fn narrate(bed: Stereo, speech: &Speech, voice_at_s: f64) -> Result<Stereo, MediaError> {
    let n = bed.len();
    let mut voice = vec![0.0f32; n];
    let at = (voice_at_s.max(0.0) * f64::from(SAMPLE_RATE)) as usize;
    let said = speech.resampled();
    let peak = said.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    if peak <= 0.0 || at >= n {
        return Ok(bed);
    }
    // A voice peaking at −3 dBFS before the mix: mastering sets the final level.
    let g = 0.7 / peak;
    for (dst, src) in voice[at..].iter_mut().zip(&said) {
        *dst = src * g;
    }
    let edge = (EDGE_S * f64::from(SAMPLE_RATE)) as usize;
    let spoken_end = (at + said.len()).min(n);
    for i in 0..edge.min(spoken_end - at) {
        voice[spoken_end - 1 - i] *= i as f32 / edge as f32;
    }

    let bed_gain = bed_gain_db(&bed, &voice)?;
    let bed_gain = 10f32.powf(bed_gain as f32 / 20.0);
    let duck = 10f32.powf(-DUCK_DB / 20.0);
    let attack = (-1.0 / (ATTACK_S * SAMPLE_RATE as f32)).exp();
    let release = (-1.0 / (RELEASE_S * SAMPLE_RATE as f32)).exp();
    let mut env = 0.0f32;
    let mut out = bed;
    for (i, v) in voice.iter().enumerate() {
        let a = v.abs();
        let k = if a > env { attack } else { release };
        env = a + (env - a) * k;
        // 0 when silent, 1 when clearly speaking: a smooth gain between the two levels.
        let speaking = ((env - GATE) / (3.0 * GATE)).clamp(0.0, 1.0);
        let g = bed_gain * (1.0 - speaking * (1.0 - duck));
        out.left[i] = out.left[i] * g + v;
        out.right[i] = out.right[i] * g + v;
    }
    Ok(out)
}

/// The gain that puts the bed [`BED_UNDER_VOICE_LU`] under the voice.
fn bed_gain_db(bed: &Stereo, voice: &[f32]) -> Result<f64, MediaError> {
    let both = |x: &[f32]| Stereo {
        left: x.to_vec(),
        right: x.to_vec(),
    };
    let voice_lufs = master::loudness(&both(voice))?;
    let bed_lufs = master::loudness(bed)?;
    Ok(match (voice_lufs, bed_lufs) {
        (Some(v), Some(b)) => v - BED_UNDER_VOICE_LU - b,
        _ => 0.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::bed;
    use crate::speech::Word;

    /// A 220 Hz tone from 1 s to 2 s: a stand-in for a spoken phrase.
    fn phrase() -> Speech {
        let rate = 22_050;
        let samples = (0..rate * 3)
            .map(|i| {
                let t = i as f32 / rate as f32;
                if (1.0..2.0).contains(&t) {
                    0.5 * (t * 220.0 * std::f32::consts::TAU).sin()
                } else {
                    0.0
                }
            })
            .collect();
        Speech {
            sample_rate: rate,
            samples,
            words: vec![Word {
                text: "hi".into(),
                start_s: 1.0,
                end_s: 2.0,
            }],
        }
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|s| s * s).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn the_bed_ducks_while_the_voice_speaks_and_comes_back() {
        let b = bed(1, 5.0);
        let plain = b.clone();
        let mixed = narrate(b, &phrase(), 0.0).unwrap();
        let sec = |x: &[f32], s: f64, e: f64| -> Vec<f32> {
            x[(s * 48_000.0) as usize..(e * 48_000.0) as usize].to_vec()
        };
        // Before the voice: the bed alone, lowered by the fixed gain only.
        let before = rms(&sec(&mixed.left, 0.5, 0.9)) / rms(&sec(&plain.left, 0.5, 0.9));
        // While it speaks, the bed part is ducked: mixed minus voice.
        let voice = narrate(Stereo::silence(plain.len()), &phrase(), 0.0).unwrap();
        let bed_during: Vec<f32> = sec(&mixed.left, 1.3, 1.8)
            .iter()
            .zip(sec(&voice.left, 1.3, 1.8))
            .map(|(m, v)| m - v)
            .collect();
        let during = rms(&bed_during) / rms(&sec(&plain.left, 1.3, 1.8));
        let after = rms(&sec(&mixed.left, 3.0, 3.5)) / rms(&sec(&plain.left, 3.0, 3.5));
        let ducked_db = 20.0 * (during / before).log10();
        assert!(
            (-(DUCK_DB + 1.0)..=-(DUCK_DB - 1.0)).contains(&ducked_db),
            "ducked {ducked_db:.1} dB"
        );
        assert!((after / before - 1.0).abs() < 0.05, "{after} vs {before}");
    }

    #[test]
    fn a_silent_voice_leaves_the_bed_alone() {
        let b = bed(2, 2.0);
        let silent = Speech {
            sample_rate: 22_050,
            samples: vec![0.0; 22_050],
            words: vec![],
        };
        assert_eq!(narrate(b.clone(), &silent, 0.3).unwrap(), b);
    }
}
