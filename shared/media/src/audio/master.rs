//! Mastering: gain to the target loudness (EBU R128 integrated, through `ebur128`), then a
//! soft limiter that keeps the true peak under the ceiling, measured again after limiting.

use ebur128::{EbuR128, Mode};

use super::{CEILING_DBTP, SAMPLE_RATE, Stereo, TARGET_LUFS};
use crate::MediaError;

/// The mastered audio and what it measured.
#[derive(Clone, Debug)]
pub struct Mastered {
    pub audio: Stereo,
    /// Integrated loudness (LUFS); `None` when the audio is silent or too short to gate.
    pub lufs: Option<f64>,
    /// True peak (dBTP).
    pub true_peak_dbtp: f64,
}

/// A meter's integrated loudness; `None` when what it took was silent or too short to gate.
fn integrated(meter: &EbuR128) -> Option<f64> {
    meter
        .loudness_global()
        .ok()
        .filter(|l| l.is_finite() && *l > -70.0)
}

fn meter_err(e: ebur128::Error) -> MediaError {
    MediaError::Encoder(format!("loudness meter: {e}"))
}

/// Integrated loudness of `audio` (`None` when silent or too short to gate).
pub(crate) fn loudness(audio: &Stereo) -> Result<Option<f64>, MediaError> {
    Ok(integrated(&metered(audio, Mode::I)?))
}

/// Integrated loudness of interleaved samples with `channels` channels at `rate` Hz, as a
/// player would hear a decoded track; `None` when silent or too short to gate.
pub fn integrated_lufs(
    interleaved: &[f32],
    channels: u32,
    rate: u32,
) -> Result<Option<f64>, MediaError> {
    let mut meter = EbuR128::new(channels, rate, Mode::I).map_err(meter_err)?;
    meter.add_frames_f32(interleaved).map_err(meter_err)?;
    Ok(integrated(&meter))
}

/// Integrated loudness and true peak of `audio`.
pub fn measure(audio: &Stereo) -> Result<(Option<f64>, f64), MediaError> {
    let meter = metered(audio, Mode::I | Mode::TRUE_PEAK)?;
    Ok((integrated(&meter), peak_db(&meter)?))
}

/// True peak of `audio` in dBTP, without the loudness filter and gating.
pub(crate) fn true_peak(audio: &Stereo) -> Result<f64, MediaError> {
    peak_db(&metered(audio, Mode::TRUE_PEAK)?)
}

fn metered(audio: &Stereo, mode: Mode) -> Result<EbuR128, MediaError> {
    let mut meter = EbuR128::new(2, SAMPLE_RATE, mode).map_err(meter_err)?;
    let n = audio.len();
    meter
        .add_frames_planar_f32(&[&audio.left[..n], &audio.right[..n]])
        .map_err(meter_err)?;
    Ok(meter)
}

fn peak_db(meter: &EbuR128) -> Result<f64, MediaError> {
    let peak = meter
        .true_peak(0)
        .map_err(meter_err)?
        .max(meter.true_peak(1).map_err(meter_err)?);
    Ok(if peak > 0.0 {
        20.0 * peak.log10()
    } else {
        f64::NEG_INFINITY
    })
}

fn gain(audio: &mut Stereo, db: f64) {
    let g = 10f64.powf(db / 20.0) as f32;
    for s in audio.left.iter_mut().chain(audio.right.iter_mut()) {
        *s *= g;
    }
}

/// Above `knee` a sample is bent smoothly towards `ceiling` and never past it.
fn soft_limit(audio: &mut Stereo, ceiling: f32) {
    let knee = ceiling * 0.8;
    let room = ceiling - knee;
    for s in audio.left.iter_mut().chain(audio.right.iter_mut()) {
        let a = s.abs();
        if a > knee {
            *s = s.signum() * (knee + room * ((a - knee) / room).tanh());
        }
    }
}

/// Brings `audio` to [`TARGET_LUFS`] with its true peak at most [`CEILING_DBTP`]. Silence
/// stays silence.
pub fn master(mut audio: Stereo) -> Result<Mastered, MediaError> {
    // The limiter takes off a little loudness; a second pass puts it back within a tenth of a
    // decibel, the third checks.
    // A sample-peak ceiling a bit under the true-peak one leaves room for inter-sample peaks.
    let ceiling = 10f64.powf((CEILING_DBTP - 0.5) / 20.0) as f32;
    for _ in 0..3 {
        let Some(lufs) = loudness(&audio)? else {
            let (lufs, peak) = measure(&audio)?;
            return Ok(Mastered {
                audio,
                lufs,
                true_peak_dbtp: peak,
            });
        };
        if (lufs - TARGET_LUFS).abs() < 0.1 {
            break;
        }
        gain(&mut audio, TARGET_LUFS - lufs);
        soft_limit(&mut audio, ceiling);
    }
    let (mut lufs, mut peak) = measure(&audio)?;
    if peak > CEILING_DBTP {
        // Inter-sample peaks the limiter could not see: lower the whole track the difference.
        gain(&mut audio, CEILING_DBTP - peak);
        (lufs, peak) = measure(&audio)?;
    }
    Ok(Mastered {
        audio,
        lufs,
        true_peak_dbtp: peak,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::bed;

    #[test]
    fn a_bed_is_mastered_to_the_target_under_the_ceiling() {
        let m = master(bed(3, 6.0)).unwrap();
        let (lufs, peak) = measure(&m.audio).unwrap();
        let lufs = lufs.unwrap();
        assert!((lufs - TARGET_LUFS).abs() < 0.6, "{lufs} LUFS");
        assert!(peak <= CEILING_DBTP + 0.05, "{peak} dBTP");
    }

    #[test]
    fn silence_stays_silent() {
        let m = master(Stereo::silence(48_000)).unwrap();
        assert!(m.lufs.is_none());
        assert!(m.audio.left.iter().all(|s| *s == 0.0));
    }
}
