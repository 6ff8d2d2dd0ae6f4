//! The clips' own sound: Veo (and Runway's Veo models) can return clips with sound of their
//! own (ambience, effects, speech). When clips carry it, the joined video keeps it, one clip's
//! sound after another, in place of the generated music bed; a voice then goes over it as
//! over the bed.

use super::{SAMPLE_RATE, Stereo, decode, master, track_of};

/// The clips' sound, and its integrated loudness (measured once: deciding whether to keep
/// the track needs it again).
#[derive(Clone, Debug)]
pub struct ClipsSound {
    pub audio: Stereo,
    pub lufs: f64,
}

/// The clips' sound laid end to end, each as long as its picture, cut or padded to
/// `target_s`. `None` when no clip has a sound track we can read (AAC-LC, 48 kHz, stereo) or
/// what they carry is silence: the video then gets the music bed. A clip without sound among
/// clips with it is silent for its length.
pub fn clips_sound(clips: &[&[u8]], target_s: f64) -> Option<ClipsSound> {
    let mut out = Stereo::default();
    let mut any = false;
    for clip in clips {
        let picture_s = crate::probe::probe_boxes(clip).ok()?.duration_s;
        let len = (picture_s * f64::from(SAMPLE_RATE)).round() as usize;
        let sound = track_of(clip).and_then(|t| decode(&t).ok());
        let start = out.len();
        if let Some(s) = sound {
            any = true;
            let n = s.len().min(len);
            out.left.extend_from_slice(&s.left[..n]);
            out.right.extend_from_slice(&s.right[..n]);
        }
        out.left.resize(start + len, 0.0);
        out.right.resize(start + len, 0.0);
    }
    let n = (target_s.max(0.0) * f64::from(SAMPLE_RATE)).round() as usize;
    out.left.resize(n, 0.0);
    out.right.resize(n, 0.0);
    // Integrated loudness only: a silent track has none (the true peak is not needed here).
    if !any {
        return None;
    }
    let lufs = master::loudness(&out).ok()??;
    Some(ClipsSound { audio: out, lufs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::AacTrack;
    use crate::h264_writer::H264Writer;

    fn clip(seconds: f64, sound: AacTrack) -> Vec<u8> {
        let (w, h) = (64, 112);
        let mut writer = H264Writer::new(w, h, 30, 30, sound).unwrap();
        let (y, c) = (
            vec![90u8; (w * h) as usize],
            vec![128u8; (w * h / 4) as usize],
        );
        for _ in 0..(seconds * 30.0) as usize {
            writer.push(&y, &c, &c).unwrap();
        }
        writer.finish().unwrap()
    }

    #[test]
    fn clips_with_sound_keep_it_end_to_end_and_silent_ones_have_none() {
        let loud = clip(2.0, crate::audio::soundtrack(1, 2.0).unwrap());
        let mute = clip(2.0, AacTrack::default());
        let quiet = clip(2.0, crate::audio::encode(&Stereo::silence(96_000)).unwrap());
        assert!(clips_sound(&[&mute], 2.0).is_none());
        assert!(clips_sound(&[&quiet, &mute], 4.0).is_none());

        let sound = clips_sound(&[&mute, &loud], 3.0).expect("one clip has sound");
        assert_eq!(sound.audio.len(), 3 * 48_000);
        assert_eq!(
            Some(sound.lufs),
            master::loudness(&sound.audio).unwrap(),
            "its loudness comes with it"
        );
        let energy = |from: usize, to: usize| {
            sound.audio.left[from..to]
                .iter()
                .map(|v| v * v)
                .sum::<f32>()
        };
        // The silent clip is silent for its 2 s, then the other's sound starts.
        assert_eq!(energy(0, 96_000), 0.0);
        assert!(energy(100_000, 144_000) > 1.0);
    }

    /// A clip already mastered keeps its track byte for byte; a quiet one is mastered again;
    /// a track shorter than the video is not kept.
    #[test]
    fn a_mastered_clip_keeps_its_track_and_others_are_mastered() {
        use crate::audio::{kept_or_mastered, master};
        let track = crate::audio::soundtrack(3, 4.0).unwrap();
        let ready = clip(4.0, track.clone());
        let sound = clips_sound(&[&ready], 4.0).unwrap();
        // The clip carries the track up to its last frame of picture.
        let carried = crate::audio::track_of(&ready).unwrap();
        assert!(track.frames.starts_with(&carried.frames));
        assert!(kept_or_mastered(&[&ready], sound, 4.0).unwrap() == carried);

        let mut soft = crate::audio::decode(&track).unwrap();
        for s in soft.left.iter_mut().chain(soft.right.iter_mut()) {
            *s *= 0.2;
        }
        let quiet = clip(4.0, crate::audio::encode(&soft).unwrap());
        let sound = clips_sound(&[&quiet], 4.0).unwrap();
        let shipped = kept_or_mastered(&[&quiet], sound, 4.0).unwrap();
        let (lufs, _) = master::measure(&crate::audio::decode(&shipped).unwrap()).unwrap();
        assert!(
            (lufs.unwrap() - crate::audio::TARGET_LUFS).abs() < 1.0,
            "{lufs:?}"
        );

        let short = clip(4.0, crate::audio::soundtrack(3, 2.0).unwrap());
        let sound = clips_sound(&[&short], 4.0).unwrap();
        let kept = kept_or_mastered(&[&short], sound, 4.0).unwrap();
        assert!(kept.frames.len() * crate::audio::AAC_FRAME >= 4 * 48_000);
    }
}
