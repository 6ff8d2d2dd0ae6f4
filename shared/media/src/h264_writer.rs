//! One way to encode I420 frames to a fast-start H.264 MP4 with its AAC audio track: OpenH264
//! (built from source) into muxide. The storyboard renderer and the join's re-encode path
//! both use it.

use openh264::OpenH264API;
use openh264::encoder::{
    Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, QpRange,
    RateControlMode, UsageType,
};
use openh264::formats::YUVSlices;

use crate::MediaError;
use crate::audio::{AacTrack, SAMPLE_RATE};

pub struct H264Writer {
    encoder: Encoder,
    muxer: muxide::api::Muxer<Vec<u8>>,
    width: usize,
    height: usize,
    fps: f64,
    frames: u64,
    nal: Vec<u8>,
    audio: AacTrack,
    /// The next audio frame to write.
    audio_next: usize,
}

fn enc_err(e: openh264::Error) -> MediaError {
    MediaError::Encoder(e.to_string())
}

fn mux_err(e: muxide::api::MuxerError) -> MediaError {
    MediaError::Encoder(e.to_string())
}

impl H264Writer {
    /// `qp` fixes the quantiser (no rate control): 30 suits flat text cards; lower keeps more
    /// detail of camera footage.
    pub fn new(
        width: u32,
        height: u32,
        fps: u32,
        qp: u8,
        audio: AacTrack,
    ) -> Result<Self, MediaError> {
        if width == 0 || height == 0 || width % 2 == 1 || height % 2 == 1 || fps == 0 {
            return Err(MediaError::Encoder(format!(
                "cannot encode {width}x{height} at {fps} fps"
            )));
        }
        // Low complexity, one thread: what measured fastest for our frames.
        let config = EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .max_frame_rate(FrameRate::from_hz(fps as f32))
            .rate_control_mode(RateControlMode::Off)
            .qp(QpRange::new(qp, qp))
            .complexity(Complexity::Low)
            .scene_change_detect(false)
            .adaptive_quantization(false)
            .background_detection(true)
            .skip_frames(false)
            .intra_frame_period(IntraFramePeriod::from_num_frames(fps * 2))
            .num_threads(1);
        let encoder =
            Encoder::with_api_config(OpenH264API::from_source(), config).map_err(enc_err)?;
        let muxer = muxide::api::MuxerBuilder::new(Vec::with_capacity(4 << 20))
            .video(muxide::api::VideoCodec::H264, width, height, f64::from(fps))
            .audio(
                muxide::api::AudioCodec::Aac(muxide::api::AacProfile::Lc),
                SAMPLE_RATE,
                2,
            )
            .with_fast_start(true)
            .build()
            .map_err(mux_err)?;
        Ok(Self {
            encoder,
            muxer,
            width: width as usize,
            height: height as usize,
            fps: f64::from(fps),
            frames: 0,
            nal: Vec::with_capacity(256 << 10),
            audio,
            audio_next: 0,
        })
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Encodes the next frame (I420 planes of exactly the writer's size).
    pub fn push(&mut self, y: &[u8], u: &[u8], v: &[u8]) -> Result<(), MediaError> {
        let (w, h) = (self.width, self.height);
        if y.len() != w * h || u.len() != w * h / 4 || v.len() != w * h / 4 {
            return Err(MediaError::Encoder("frame planes of the wrong size".into()));
        }
        let t = self.frames as f64 / self.fps;
        let src = YUVSlices::new((y, u, v), (w, h), (w, w / 2, w / 2));
        let bs = self
            .encoder
            .encode_at(&src, openh264::Timestamp::from_millis((t * 1000.0) as u64))
            .map_err(enc_err)?;
        let key = matches!(bs.frame_type(), FrameType::IDR | FrameType::I);
        self.nal.clear();
        bs.write_vec(&mut self.nal);
        if self.nal.is_empty() {
            return Err(MediaError::Encoder(format!(
                "the encoder produced no data for frame {}",
                self.frames
            )));
        }
        self.muxer.write_video(t, &self.nal, key).map_err(mux_err)?;
        self.frames += 1;
        // Audio interleaved with the video it plays under: up to where this frame ends.
        self.write_audio_until(self.frames as f64 / self.fps)
    }

    /// Writes the audio frames that start before `t`; the rest wait (or, past the last video
    /// frame, are left out so both tracks end together).
    fn write_audio_until(&mut self, t: f64) -> Result<(), MediaError> {
        while let Some(frame) = self.audio.frames.get(self.audio_next) {
            let pts = AacTrack::pts(self.audio_next);
            if pts >= t {
                break;
            }
            self.muxer.write_audio(pts, frame).map_err(mux_err)?;
            self.audio_next += 1;
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<Vec<u8>, MediaError> {
        self.muxer.finish_in_place().map_err(mux_err)?;
        Ok(self.muxer.into_writer())
    }
}
