//! What an MP4 really is, read from its boxes (never from its name or Content-Type).

use std::io::Cursor;

use mp4parse::{AudioCodecSpecific, CodecType, SampleEntry, TrackType};
use serde::Serialize;

use crate::MediaError;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Probe {
    /// Major brand of the `ftyp` box, e.g. `isom`, `mp42`.
    pub brand: String,
    /// `h264`, `h265`, `av1`, `vp9` or `other`.
    pub video_codec: String,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub duration_s: f64,
    pub frames: u64,
    pub bitrate_bps: u64,
    pub has_audio: bool,
    /// The first audio track, when there is one.
    pub audio: Option<AudioProbe>,
    pub size_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AudioProbe {
    /// `aac_lc`, `aac` (another AAC profile), `opus`, `mp3`, `flac` or `other`.
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u32,
    /// Integrated loudness of the decoded track (EBU R128, LUFS), for AAC; `None` when the
    /// track is silent, too short to gate, or a codec we do not decode.
    pub lufs: Option<f64>,
}

/// True when the bytes start like an MP4: an `ftyp` box at offset 4.
pub fn looks_like_mp4(bytes: &[u8]) -> bool {
    bytes.len() >= 12 && &bytes[4..8] == b"ftyp"
}

fn codec_name(c: CodecType) -> &'static str {
    match c {
        CodecType::H264 => "h264",
        CodecType::AV1 => "av1",
        CodecType::VP9 => "vp9",
        _ => "other",
    }
}

/// Decodes an AAC track's samples (raw access units, configured by the `esds`) and measures
/// its loudness. A track we cannot decode measures as `None`; validation says so.
fn aac_loudness(bytes: &[u8], track: &mp4parse::Track, config: &[u8]) -> Option<f64> {
    use mp4parse::unstable::{CheckedInteger, create_sample_table};
    let table = create_sample_table(track, CheckedInteger(0))?;
    let mut decoder = rusty_aac::AacDecoder::with_config_bytes(config).ok()?;
    let mut pcm = Vec::new();
    let mut rate = 0;
    let mut got_channels = 0;
    for s in table.iter() {
        let au = bytes.get(s.start_offset.0 as usize..s.end_offset.0 as usize)?;
        let out = decoder.decode(au, None).ok()?;
        rate = out.sample_rate;
        got_channels = u32::from(out.channels);
        pcm.extend_from_slice(&out.samples);
    }
    if got_channels == 0 {
        return None;
    }
    crate::audio::integrated_lufs(&pcm, got_channels, rate).ok()?
}

fn audio_of(entry: &mp4parse::AudioSampleEntry) -> AudioProbe {
    let (codec, rate, channels) = match &entry.codec_specific {
        AudioCodecSpecific::ES_Descriptor(es) if es.audio_codec == CodecType::AAC => (
            // Audio object type 2 is AAC Low Complexity.
            if es.audio_object_type == Some(2) {
                "aac_lc"
            } else {
                "aac"
            },
            es.audio_sample_rate,
            es.audio_channel_count.map(u32::from),
        ),
        AudioCodecSpecific::OpusSpecificBox(_) => ("opus", None, None),
        AudioCodecSpecific::MP3 => ("mp3", None, None),
        AudioCodecSpecific::FLACSpecificBox(_) => ("flac", None, None),
        _ => ("other", None, None),
    };
    AudioProbe {
        codec: codec.to_owned(),
        sample_rate: rate.unwrap_or(entry.samplerate.round() as u32),
        channels: channels.unwrap_or(entry.channelcount),
        lufs: None,
    }
}

/// What the MP4 is: its boxes, and the sound's integrated loudness (the AAC track decoded
/// and metered: most of the cost).
pub fn probe(bytes: &[u8]) -> Result<Probe, MediaError> {
    probe_with(bytes, true)
}

/// [`probe`] without decoding the sound (`lufs` stays `None`): for what needs the boxes only.
pub(crate) fn probe_boxes(bytes: &[u8]) -> Result<Probe, MediaError> {
    probe_with(bytes, false)
}

fn probe_with(bytes: &[u8], measure_sound: bool) -> Result<Probe, MediaError> {
    if !looks_like_mp4(bytes) {
        return Err(MediaError::NotMp4("no ftyp box at offset 4".into()));
    }
    let brand = String::from_utf8_lossy(&bytes[8..12]).into_owned();
    let ctx = mp4parse::read_mp4(&mut Cursor::new(bytes))
        .map_err(|e| MediaError::NotMp4(format!("{e:?}")))?;
    let (index, video) = ctx
        .tracks
        .iter()
        .enumerate()
        .find(|(_, t)| t.track_type == TrackType::Video)
        .ok_or_else(|| MediaError::NotMp4("no video track".into()))?;
    let entry = video
        .stsd
        .as_ref()
        .and_then(|s| s.descriptions.first())
        .and_then(|d| match d {
            SampleEntry::Video(v) => Some(v),
            _ => None,
        });
    let known = entry
        .filter(|v| v.codec_type != CodecType::Unknown)
        .map(|v| {
            (
                codec_name(v.codec_type),
                u32::from(v.width),
                u32::from(v.height),
            )
        });
    // mp4parse has no HEVC sample entry: read the entry's type and size from the boxes. An
    // entry neither reads is `other`, with the size mp4parse saw.
    let (codec, width, height) = match known {
        Some(k) => k,
        None => match (crate::boxes::visual_entry(bytes, index), entry) {
            (Some(e), _) => {
                let codec = match &e.fourcc {
                    b"hvc1" | b"hev1" => "h265",
                    _ => "other",
                };
                (codec, u32::from(e.width), u32::from(e.height))
            }
            (None, Some(v)) => ("other", u32::from(v.width), u32::from(v.height)),
            (None, None) => {
                return Err(MediaError::NotMp4(
                    "video track without a sample description".into(),
                ));
            }
        },
    };
    let timescale = video.timescale.map(|t| t.0).filter(|t| *t > 0);
    let duration_s = match (video.duration, timescale) {
        (Some(d), Some(ts)) => d.0 as f64 / ts as f64,
        _ => return Err(MediaError::NotMp4("video track without a duration".into())),
    };
    if !(duration_s.is_finite() && duration_s > 0.0) {
        return Err(MediaError::NotMp4(
            "video track with a zero duration".into(),
        ));
    }
    let frames = video
        .stts
        .as_ref()
        .map(|s| s.samples.iter().map(|x| u64::from(x.sample_count)).sum())
        .unwrap_or(0);
    let size_bytes = bytes.len() as u64;
    Ok(Probe {
        brand,
        video_codec: codec.to_owned(),
        width,
        height,
        fps: frames as f64 / duration_s,
        duration_s,
        frames,
        bitrate_bps: (size_bytes as f64 * 8.0 / duration_s) as u64,
        has_audio: ctx.tracks.iter().any(|t| t.track_type == TrackType::Audio),
        audio: ctx
            .tracks
            .iter()
            .filter(|t| t.track_type == TrackType::Audio)
            .find_map(|t| match t.stsd.as_ref()?.descriptions.first()? {
                SampleEntry::Audio(a) => {
                    let mut probe = audio_of(a);
                    if let AudioCodecSpecific::ES_Descriptor(es) = &a.codec_specific
                        && es.audio_codec == CodecType::AAC
                        && measure_sound
                    {
                        probe.lufs = aac_loudness(bytes, t, &es.decoder_specific_data);
                    }
                    Some(probe)
                }
                _ => None,
            }),
        size_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_an_mp4() {
        for bad in [
            &b""[..],
            b"<html>hello</html>",
            b"\0\0\0\x18ftypisom",
            b"\0\0\0\x18ftypisom\0\0\0\0garbage",
        ] {
            assert!(matches!(probe(bad), Err(MediaError::NotMp4(_))), "{bad:?}");
        }
    }
}
