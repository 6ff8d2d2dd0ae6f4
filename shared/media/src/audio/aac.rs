//! AAC-LC encoding with `rusty_aac`, into ADTS frames as the muxer takes them.

use rusty_aac::{AacDecoder, AacEncoder, AacEncoderConfig, AdtsHeader, write_adts_header};

use super::{AacTrack, SAMPLE_RATE, Stereo};
use crate::MediaError;

/// 128 kbit/s stereo: what the platforms' upload guides name for AAC-LC.
const BITRATE_BPS: u32 = 128_000;

fn enc_err(e: rusty_aac::Error) -> MediaError {
    MediaError::Encoder(format!("AAC encoder: {e}"))
}

/// Encodes `audio` (48 kHz stereo) as AAC-LC.
pub fn encode(audio: &Stereo) -> Result<AacTrack, MediaError> {
    let n = audio.len();
    if n == 0 {
        return Err(MediaError::Encoder("no audio to encode".into()));
    }
    let mut encoder = AacEncoder::new(AacEncoderConfig {
        bitrate_bps: BITRATE_BPS,
        ..AacEncoderConfig::default()
    });
    encoder
        .push_pcm_planar(&[&audio.left[..n], &audio.right[..n]], SAMPLE_RATE)
        .map_err(enc_err)?;
    encoder.finish();
    let mut frames = Vec::with_capacity(n / super::AAC_FRAME + 2);
    loop {
        match encoder.next_packet() {
            Ok(packet) => frames.push(adts(&packet.data)),
            Err(rusty_aac::Error::Eof) => break,
            Err(e) => return Err(enc_err(e)),
        }
    }
    if frames.is_empty() {
        return Err(MediaError::Encoder(
            "the AAC encoder produced no frames".into(),
        ));
    }
    Ok(AacTrack { frames })
}

/// One raw AAC-LC access unit (48 kHz stereo) as an ADTS frame, as the muxer takes it.
fn adts(au: &[u8]) -> Vec<u8> {
    let mut frame = write_adts_header(&AdtsHeader {
        object_type: 2,
        sample_rate: SAMPLE_RATE,
        channels: 2,
        frame_length: au.len() + 7,
        header_len: 7,
    });
    frame.extend_from_slice(au);
    frame
}

/// The sound track of an MP4 when it is one we could have made (AAC-LC, 48 kHz, stereo), as
/// ADTS frames to mux again; `None` otherwise. A clip that already carries its finished
/// sound (the storyboard renderer's: voice and music) keeps it through the join.
pub fn track_of(mp4: &[u8]) -> Option<AacTrack> {
    use mp4parse::unstable::{CheckedInteger, create_sample_table};
    use mp4parse::{AudioCodecSpecific, CodecType, SampleEntry, TrackType};
    let ctx = mp4parse::read_mp4(&mut std::io::Cursor::new(mp4)).ok()?;
    let track = ctx
        .tracks
        .iter()
        .find(|t| t.track_type == TrackType::Audio)?;
    let SampleEntry::Audio(entry) = track.stsd.as_ref()?.descriptions.first()? else {
        return None;
    };
    let AudioCodecSpecific::ES_Descriptor(es) = &entry.codec_specific else {
        return None;
    };
    let ours = es.audio_codec == CodecType::AAC
        && es.audio_object_type == Some(2)
        && es.audio_sample_rate == Some(SAMPLE_RATE)
        && es.audio_channel_count == Some(2);
    if !ours {
        return None;
    }
    let table = create_sample_table(track, CheckedInteger(0))?;
    let frames: Option<Vec<Vec<u8>>> = table
        .iter()
        .map(|s| {
            mp4.get(s.start_offset.0 as usize..s.end_offset.0 as usize)
                .map(adts)
        })
        .collect();
    frames
        .filter(|f| !f.is_empty())
        .map(|frames| AacTrack { frames })
}

/// Decodes `track` back to samples: what a player will play, to measure before shipping.
pub fn decode(track: &AacTrack) -> Result<Stereo, MediaError> {
    let mut decoder = AacDecoder::new();
    let mut out = Stereo::default();
    for frame in &track.frames {
        let pcm = decoder
            .decode(frame, None)
            .map_err(|e| MediaError::Encoder(format!("AAC decoder: {e}")))?;
        if pcm.channels != 2 {
            return Err(MediaError::Encoder(format!(
                "decoded {} channels, not 2",
                pcm.channels
            )));
        }
        for lr in pcm.samples.chunks_exact(2) {
            out.left.push(lr[0]);
            out.right.push(lr[1]);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::bed;

    #[test]
    fn a_second_of_audio_is_about_47_adts_frames() {
        let track = encode(&bed(1, 1.0)).unwrap();
        // 48,000 / 1,024 = 46.9 frames, plus the encoder's flush.
        assert!(
            (46..=50).contains(&track.frames.len()),
            "{}",
            track.frames.len()
        );
        for f in &track.frames {
            assert!(rusty_aac::is_adts(f));
            assert_eq!(
                usize::from(f[3] & 3) << 11 | usize::from(f[4]) << 3 | usize::from(f[5] >> 5),
                f.len()
            );
        }
    }

    #[test]
    fn a_rendered_videos_track_is_read_back_frame_for_frame() {
        let sb = crate::Storyboard {
            hook: "Hello".into(),
            beats: vec![],
            seed: 4,
        };
        let mp4 = crate::render(
            &sb,
            &crate::RenderSpec {
                width: 64,
                height: 64,
                fps: 5,
                duration_s: 1.0,
            },
        )
        .unwrap();
        let back = track_of(&mp4).expect("our own track");
        let made = crate::audio::soundtrack(4, 1.0).unwrap();
        // The writer keeps the frames that fall within the video.
        assert!(back.frames.len() >= 44, "{} frames", back.frames.len());
        assert!(
            made.frames.starts_with(&back.frames),
            "the same frames, in order"
        );
        assert!(track_of(b"not an mp4").is_none());
    }
}
