//! Joins a job's clips into one video and trims it to the target length. No provider renders
//! 15 s in one call, so a job renders several clips (10 s + 5 s, 8 s + 8 s, …).
//!
//! When every clip is H.264 at the same size with the same parameter sets, the samples are
//! copied as they are (no re-encoding, no quality loss): timestamps are shifted by the clips
//! before, and the cut falls after the last sample, in decode order, shown before the target.
//! Otherwise every clip is decoded (OpenH264), scaled to the largest clip's size and encoded
//! again. The clips' own audio is not carried over (our providers are asked for silent
//! clips); the joined video gets the sound track it is given, cut to its length.

use std::io::Cursor;

use mp4parse::unstable::{CheckedInteger, create_sample_table};
use mp4parse::{CodecType, SampleEntry, TrackType, VideoCodecSpecific};
use openh264::OpenH264API;
use openh264::decoder::{Decoder, DecoderConfig};
use openh264::formats::YUVSource;
use serde::Serialize;

use crate::MediaError;
use crate::audio::AacTrack;
use crate::captions::{CaptionTrack, Cue};
use crate::h264_writer::H264Writer;

/// How the clips were joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinMode {
    Copied,
    Reencoded,
}

#[derive(Debug)]
pub struct Joined {
    pub bytes: Vec<u8>,
    pub mode: JoinMode,
}

/// One clip's video track, read for joining.
struct Clip<'a> {
    bytes: &'a [u8],
    width: u32,
    height: u32,
    /// `avcC` parameter sets and NAL length size.
    sps: Vec<Vec<u8>>,
    pps: Vec<Vec<u8>>,
    length_size: usize,
    samples: Vec<Sample>,
    duration_s: f64,
}

struct Sample {
    start: usize,
    end: usize,
    pts: f64,
    dts: f64,
    sync: bool,
}

fn bad(why: impl Into<String>) -> MediaError {
    MediaError::NotMp4(why.into())
}

/// Reads `avcC`: version, profile, compatibility, level, length size, SPS list, PPS list.
/// NAL length size, SPS list, PPS list.
type AvcConfig = (usize, Vec<Vec<u8>>, Vec<Vec<u8>>);

fn parse_avcc(c: &[u8]) -> Result<AvcConfig, MediaError> {
    fn sets(c: &[u8], at: &mut usize, count: usize) -> Result<Vec<Vec<u8>>, MediaError> {
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let len = c
                .get(*at..*at + 2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                .ok_or_else(|| bad("short avcC"))?;
            let set = c
                .get(*at + 2..*at + 2 + len)
                .ok_or_else(|| bad("short avcC"))?;
            out.push(set.to_vec());
            *at += 2 + len;
        }
        Ok(out)
    }
    let length_size = usize::from(c.get(4).ok_or_else(|| bad("short avcC"))? & 3) + 1;
    let n_sps = usize::from(*c.get(5).ok_or_else(|| bad("short avcC"))? & 0x1f);
    let mut at = 6;
    let sps = sets(c, &mut at, n_sps)?;
    let n_pps = usize::from(*c.get(at).ok_or_else(|| bad("short avcC"))?);
    at += 1;
    let pps = sets(c, &mut at, n_pps)?;
    if sps.is_empty() || pps.is_empty() {
        return Err(bad("avcC without parameter sets"));
    }
    Ok((length_size, sps, pps))
}

fn read_clip(bytes: &[u8]) -> Result<Clip<'_>, MediaError> {
    let ctx = mp4parse::read_mp4(&mut Cursor::new(bytes)).map_err(|e| bad(format!("{e:?}")))?;
    let track = ctx
        .tracks
        .iter()
        .find(|t| t.track_type == TrackType::Video)
        .ok_or_else(|| bad("no video track"))?;
    let entry = track
        .stsd
        .as_ref()
        .and_then(|s| s.descriptions.first())
        .and_then(|d| match d {
            SampleEntry::Video(v) => Some(v),
            _ => None,
        })
        .ok_or_else(|| bad("no video sample description"))?;
    let avcc = match (&entry.codec_type, &entry.codec_specific) {
        (CodecType::H264, VideoCodecSpecific::AVCConfig(c)) => c.to_vec(),
        _ => {
            return Err(MediaError::Unsupported(
                "only H.264 clips can be joined".into(),
            ));
        }
    };
    let (length_size, sps, pps) = parse_avcc(&avcc)?;
    let timescale = track
        .timescale
        .map(|t| t.0)
        .filter(|t| *t > 0)
        .ok_or_else(|| bad("video track without a timescale"))? as f64;
    let table = create_sample_table(track, CheckedInteger(0))
        .ok_or_else(|| bad("unreadable sample table"))?;
    let mut samples = Vec::with_capacity(table.len());
    for s in table.iter() {
        let (start, end) = (s.start_offset.0 as usize, s.end_offset.0 as usize);
        if start >= end || end > bytes.len() {
            return Err(bad("a sample lies outside the file"));
        }
        samples.push(Sample {
            start,
            end,
            pts: s.start_composition.0 as f64 / timescale,
            dts: s.start_decode.0 as f64 / timescale,
            sync: s.sync,
        });
    }
    if !samples.first().is_some_and(|s| s.sync) {
        return Err(bad("the clip does not start with a key frame"));
    }
    let duration_s = match track.duration {
        Some(d) => d.0 as f64 / timescale,
        None => return Err(bad("video track without a duration")),
    };
    Ok(Clip {
        bytes,
        width: u32::from(entry.width),
        height: u32::from(entry.height),
        sps,
        pps,
        length_size,
        samples,
        duration_s,
    })
}

/// A length-prefixed sample as Annex B (start codes), as the muxer and decoder take it.
fn to_annex_b(data: &[u8], length_size: usize, out: &mut Vec<u8>) -> Result<(), MediaError> {
    let mut at = 0;
    while at < data.len() {
        let len_bytes = data
            .get(at..at + length_size)
            .ok_or_else(|| bad("truncated NAL length"))?;
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        at += length_size;
        let nal = data
            .get(at..at + len)
            .ok_or_else(|| bad("a NAL unit runs past its sample"))?;
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
        at += len;
    }
    Ok(())
}

fn parameter_sets(clip: &Clip<'_>, out: &mut Vec<u8>) {
    for set in clip.sps.iter().chain(&clip.pps) {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(set);
    }
}

/// Joins `clips` in order, trims the result to `target_s` seconds and lays `audio` under it.
pub fn join(clips: &[&[u8]], target_s: f64, audio: AacTrack) -> Result<Joined, MediaError> {
    join_captioned(clips, target_s, audio, None)
}

/// Captions to burn into joined clips: the cues, and a title shown from the first frame until
/// the given time.
pub struct Burn<'a> {
    pub cues: &'a [Cue],
    pub title: Option<(&'a str, f64)>,
}

/// As [`join`], burning `captions` into the picture: the clips are then always decoded and
/// encoded once.
pub fn join_captioned(
    clips: &[&[u8]],
    target_s: f64,
    audio: AacTrack,
    captions: Option<Burn<'_>>,
) -> Result<Joined, MediaError> {
    if clips.is_empty() || !(target_s.is_finite() && target_s > 0.0) {
        return Err(MediaError::Unsupported(
            "nothing to join, or no target length".into(),
        ));
    }
    let clips: Vec<Clip<'_>> = clips
        .iter()
        .map(|c| read_clip(c))
        .collect::<Result<_, _>>()?;
    let total: f64 = clips.iter().map(|c| c.duration_s).sum();
    if total + 0.05 < target_s {
        return Err(MediaError::Unsupported(format!(
            "the clips last {total:.2} s, less than the {target_s} s asked for"
        )));
    }
    let first = &clips[0];
    let same = clips.iter().all(|c| {
        (c.width, c.height) == (first.width, first.height)
            && c.sps == first.sps
            && c.pps == first.pps
    });
    if same && captions.is_none() {
        copy(&clips, target_s, &audio).map(|bytes| Joined {
            bytes,
            mode: JoinMode::Copied,
        })
    } else {
        reencode(&clips, target_s, audio, captions).map(|bytes| Joined {
            bytes,
            mode: JoinMode::Reencoded,
        })
    }
}

fn mux_err(e: muxide::api::MuxerError) -> MediaError {
    MediaError::Encoder(e.to_string())
}

fn frame_rate(clip: &Clip<'_>) -> f64 {
    let fps = clip.samples.len() as f64 / clip.duration_s;
    if fps.is_finite() && fps > 0.0 {
        fps
    } else {
        30.0
    }
}

fn copy(clips: &[Clip<'_>], target_s: f64, audio: &AacTrack) -> Result<Vec<u8>, MediaError> {
    let first = &clips[0];
    let mut muxer = muxide::api::MuxerBuilder::new(Vec::with_capacity(8 << 20))
        .video(
            muxide::api::VideoCodec::H264,
            first.width,
            first.height,
            frame_rate(first),
        )
        .audio(
            muxide::api::AudioCodec::Aac(muxide::api::AacProfile::Lc),
            crate::audio::SAMPLE_RATE,
            2,
        )
        .with_fast_start(true)
        .build()
        .map_err(mux_err)?;
    let mut offset = 0.0;
    let mut end: f64 = 0.0;
    // The muxer takes no audio before the first video sample written; with an open GOP that
    // sample is shown a little after 0, so the sound starts with it.
    let mut first: Option<f64> = None;
    let mut frame = Vec::with_capacity(512 << 10);
    'clips: for clip in clips {
        // Each clip's timeline starts where its first sample is shown.
        let base = clip
            .samples
            .iter()
            .map(|s| s.pts)
            .fold(f64::INFINITY, f64::min);
        let base_dts = clip.samples[0].dts;
        // Keep samples up to the last one (in decode order) shown before the target; the
        // ones before it are what it references.
        let last = clip
            .samples
            .iter()
            .rposition(|s| offset + s.pts - base < target_s);
        let Some(last) = last else {
            break;
        };
        for (i, s) in clip.samples[..=last].iter().enumerate() {
            frame.clear();
            if i == 0 {
                parameter_sets(clip, &mut frame);
            }
            to_annex_b(&clip.bytes[s.start..s.end], clip.length_size, &mut frame)?;
            let pts = offset + s.pts - base;
            let dts = offset + s.dts - base_dts;
            end = end.max(pts + 1.0 / frame_rate(clip));
            first.get_or_insert(pts.max(0.0));
            muxer
                .write_video_with_dts(pts.max(0.0), dts.max(0.0), &frame, s.sync)
                .map_err(mux_err)?;
        }
        offset += clip.duration_s;
        if last + 1 < clip.samples.len() || offset >= target_s {
            break 'clips;
        }
    }
    // The sound under the whole video, and not past its last frame.
    let start = first.unwrap_or(0.0);
    for (i, f) in audio.frames.iter().enumerate() {
        let pts = start + AacTrack::pts(i);
        if pts >= end {
            break;
        }
        muxer.write_audio(pts, f).map_err(mux_err)?;
    }
    muxer.finish_in_place().map_err(mux_err)?;
    Ok(muxer.into_writer())
}

/// Nearest-neighbour scale of one plane.
fn scale_plane(src: &[u8], stride: usize, sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<u8> {
    let mut out = vec![0u8; dw * dh];
    for y in 0..dh {
        let sy = (y * sh / dh).min(sh - 1);
        let row = &src[sy * stride..sy * stride + sw];
        for (x, px) in out[y * dw..(y + 1) * dw].iter_mut().enumerate() {
            *px = row[(x * sw / dw).min(sw - 1)];
        }
    }
    out
}

fn reencode(
    clips: &[Clip<'_>],
    target_s: f64,
    audio: AacTrack,
    captions: Option<Burn<'_>>,
) -> Result<Vec<u8>, MediaError> {
    let big = clips
        .iter()
        .max_by_key(|c| u64::from(c.width) * u64::from(c.height))
        .ok_or_else(|| MediaError::Unsupported("no clips".into()))?;
    let (w, h) = ((big.width & !1) as usize, (big.height & !1) as usize);
    let fps = frame_rate(&clips[0]).round().max(1.0) as u32;
    let wanted = (target_s * f64::from(fps)).round() as u64;
    let track = captions.map(|c| CaptionTrack::new(c.cues, c.title, w, h));
    let mut writer = H264Writer::new(w as u32, h as u32, fps, 24, audio)?;
    let dec_err = |e: openh264::Error| MediaError::Encoder(format!("decoder: {e}"));
    let mut packet = Vec::with_capacity(512 << 10);
    for clip in clips {
        let mut decoder =
            Decoder::with_api_config(OpenH264API::from_source(), DecoderConfig::new())
                .map_err(dec_err)?;
        for (i, s) in clip.samples.iter().enumerate() {
            if writer.frames() >= wanted {
                break;
            }
            packet.clear();
            if i == 0 {
                parameter_sets(clip, &mut packet);
            }
            to_annex_b(&clip.bytes[s.start..s.end], clip.length_size, &mut packet)?;
            let Some(yuv) = decoder.decode(&packet).map_err(dec_err)? else {
                continue;
            };
            let (sw, sh) = yuv.dimensions();
            let (ys, us, vs) = yuv.strides();
            let mut y = scale_plane(yuv.y(), ys, sw, sh, w, h);
            let mut u = scale_plane(yuv.u(), us, sw / 2, sh / 2, w / 2, h / 2);
            let mut v = scale_plane(yuv.v(), vs, sw / 2, sh / 2, w / 2, h / 2);
            if let Some(t) = &track {
                let at = writer.frames() as f64 / f64::from(fps);
                t.draw(at, w, h, &mut y, &mut u, &mut v);
            }
            writer.push(&y, &u, &v)?;
        }
    }
    if writer.frames() == 0 {
        return Err(MediaError::Encoder("no frame could be decoded".into()));
    }
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avcc_is_read() {
        let avcc = [
            1, 0x42, 0xc0, 0x1f, 0xff, 0xe1, 0, 3, 0x67, 1, 2, 1, 0, 2, 0x68, 9,
        ];
        let (len, sps, pps) = parse_avcc(&avcc).unwrap();
        assert_eq!(
            (len, sps, pps),
            (4, vec![vec![0x67, 1, 2]], vec![vec![0x68, 9]])
        );
        assert!(parse_avcc(&avcc[..9]).is_err());
    }

    #[test]
    fn samples_become_annex_b() {
        let mut out = Vec::new();
        to_annex_b(&[0, 0, 0, 2, 0x65, 1, 0, 0, 0, 1, 0x41], 4, &mut out).unwrap();
        assert_eq!(out, [0, 0, 0, 1, 0x65, 1, 0, 0, 0, 1, 0x41]);
        assert!(to_annex_b(&[0, 0, 0, 9, 0x65], 4, &mut Vec::new()).is_err());
    }

    #[test]
    fn nothing_or_garbage_is_refused() {
        let audio = crate::audio::AacTrack::default();
        assert!(join(&[], 15.0, audio.clone()).is_err());
        assert!(join(&[b"not a video"], 15.0, audio).is_err());
    }
}
