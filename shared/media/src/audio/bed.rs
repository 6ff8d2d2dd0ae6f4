//! A music bed made here, not shipped: a four-chord progression on a soft pad with a sub-bass
//! root, a kick on each beat and a hat between them, faded in and out. Generated, so it
//! carries no licence or Content ID question, and seeded, so consecutive videos get their
//! own key and tempo. It is meant to sit quietly under speech, not to be a track of its own.

use super::{SAMPLE_RATE, Stereo};

/// Semitones above the key's root of each chord's root: vi–IV–I–V.
const PROGRESSION: [i32; 4] = [9, 5, 0, 7];
const FADE_IN_S: f64 = 0.4;
const FADE_OUT_S: f64 = 1.2;

/// A small deterministic generator (xorshift64*): the bed must not depend on a process's
/// randomness.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((x >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }
}

fn hz(midi: f64) -> f64 {
    440.0 * 2f64.powf((midi - 69.0) / 12.0)
}

/// How many different beds there are: one per key. Few enough that a process keeps each one
/// it made (see `soundtrack`), many enough that consecutive videos rarely share one.
pub const VARIANTS: u64 = 12;

const TABLE: usize = 4096;

/// One period of a sine, for oscillators that read instead of calling `sin` per sample.
fn sine_table() -> Vec<f32> {
    (0..=TABLE)
        .map(|i| (2.0 * std::f64::consts::PI * i as f64 / TABLE as f64).sin() as f32)
        .collect()
}

/// A table oscillator: phase in cycles, advanced by `f / rate` per sample.
#[derive(Clone, Copy, Default)]
struct Osc {
    phase: f64,
}

impl Osc {
    fn next(&mut self, table: &[f32], step: f64) -> f32 {
        let pos = self.phase * TABLE as f64;
        let i = pos as usize;
        let frac = (pos - i as f64) as f32;
        self.phase += step;
        if self.phase >= 1.0 {
            self.phase -= self.phase.floor();
        }
        table[i] + (table[i + 1] - table[i]) * frac
    }
}

/// The bed for `duration_s` seconds (at least one sample). `seed` picks one of
/// [`VARIANTS`]: its key, and with it its tempo.
pub fn bed(seed: u64, duration_s: f64) -> Stereo {
    let rate = f64::from(SAMPLE_RATE);
    let n = ((duration_s.max(0.0) * rate).round() as usize).max(1);
    let variant = seed % VARIANTS;
    // Key from A2 up to G#3; tempo 88–106 BPM; chords last a bar of four beats.
    let key = 45.0 + variant as f64;
    let bpm = 88.0 + ((variant * 7) % 10) as f64 * 2.0;
    let beat_s = 60.0 / bpm;
    let bar_s = beat_s * 4.0;
    let table = sine_table();
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15 ^ variant);
    let mut out = Stereo::silence(n);
    // Pad voices: root, third, fifth, octave; each a fundamental and its third harmonic, a
    // little detuned between the channels so the pad is wide.
    let mut pad = [[Osc::default(); 4]; 4];
    let mut bass = Osc::default();
    let (mut lp_l, mut lp_r, mut hat_lp) = (0.0f32, 0.0f32, 0.0f32);
    // One-pole low-pass: the pad's sines and harmonics are softened to a warm hum.
    let alpha = (1.0 - (-2.0 * std::f64::consts::PI * 1800.0 / rate).exp()) as f32;
    let mut kick_phase = 0.0f64;
    for i in 0..n {
        let t = i as f64 / rate;
        let chord = PROGRESSION[((t / bar_s) as usize) % PROGRESSION.len()];
        let root = key + f64::from(chord);
        // Minor on vi, major elsewhere.
        let third = if chord == 9 { 3.0 } else { 4.0 };
        let (mut pad_l, mut pad_r) = (0.0f32, 0.0f32);
        for (k, interval) in [0.0, third, 7.0, 12.0].into_iter().enumerate() {
            let f = hz(root + 12.0 + interval) / rate;
            let detune = 1.0 + 0.0015 * (k as f64 + 1.0);
            let [l1, l3, r1, r3] = &mut pad[k];
            pad_l += l1.next(&table, f) + 0.25 * l3.next(&table, 3.0 * f);
            pad_r += r1.next(&table, f * detune) + 0.25 * r3.next(&table, 3.0 * f * detune);
        }
        lp_l += alpha * (pad_l - lp_l);
        lp_r += alpha * (pad_r - lp_r);
        // Each bar's chord swells in rather than switching.
        let in_bar = (t % bar_s) / bar_s;
        let swell = (0.6 + 0.4 * (std::f64::consts::PI * in_bar).sin()) as f32;
        let low = bass.next(&table, hz(root - 12.0) / rate) * 0.5;
        // Kick: a sine swept from 120 to 45 Hz over 0.18 s on every beat.
        let in_beat = t % beat_s;
        let kick = if in_beat < 0.18 {
            let f = 45.0 + 75.0 * (1.0 - in_beat / 0.18);
            if in_beat < 1.0 / rate {
                kick_phase = 0.0;
            }
            kick_phase += f / rate;
            ((2.0 * std::f64::consts::PI * kick_phase).sin() * (1.0 - in_beat / 0.18).powi(2))
                as f32
        } else {
            0.0
        };
        // Hat: high-passed noise on the off-beat, 60 ms.
        let off = (t + beat_s / 2.0) % beat_s;
        let raw = noise.next();
        hat_lp += 0.3 * (raw - hat_lp);
        let hat = if off < 0.06 {
            (raw - hat_lp) * (1.0 - off / 0.06) as f32
        } else {
            0.0
        };
        let fade = (t / FADE_IN_S)
            .min(1.0)
            .min((duration_s - t) / FADE_OUT_S)
            .max(0.0) as f32;
        let common = low * 0.35 + kick * 0.5;
        out.left[i] = (lp_l * swell * 0.09 + common + hat * 0.10) * fade;
        out.right[i] = (lp_r * swell * 0.09 + common + hat * 0.08) * fade;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_one_bed_and_each_seed_its_own() {
        let a = bed(7, 1.0);
        assert_eq!(a.len(), 48_000);
        assert_eq!(a, bed(7, 1.0));
        assert_eq!(a, bed(7 + VARIANTS, 1.0));
        assert_ne!(a, bed(8, 1.0));
        assert!(a.left.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
        // Faded in: silent at the start, sounding a second in.
        assert!(a.left[0].abs() < 1e-3);
        assert!(a.left[20_000..30_000].iter().any(|s| s.abs() > 0.05));
    }
}
