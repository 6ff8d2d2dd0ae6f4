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
            Ok(packet) => {
                let mut frame = write_adts_header(&AdtsHeader {
                    object_type: 2,
                    sample_rate: SAMPLE_RATE,
                    channels: 2,
                    frame_length: packet.data.len() + 7,
                    header_len: 7,
                });
                frame.extend_from_slice(&packet.data);
                frames.push(frame);
            }
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
}
