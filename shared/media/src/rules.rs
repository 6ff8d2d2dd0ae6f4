//! Platform rules as data, and a per-platform pass/fail report with reasons.
//!
//! Sources: TikTok Content Posting API media requirements, YouTube Shorts help, Instagram
//! Graph API Reels specifications (late 2026). Where a platform accepts more than it
//! recommends, these rules follow the recommendation for vertical short video.

use serde::Serialize;

use crate::Probe;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Tiktok,
    YoutubeShorts,
    InstagramReels,
}

#[derive(Clone, Debug)]
pub struct Rules {
    /// Width ÷ height, and the tolerance around it.
    pub aspect: (u32, u32),
    pub aspect_tolerance: f64,
    pub min_width: u32,
    pub min_height: u32,
    pub min_duration_s: f64,
    pub max_duration_s: f64,
    pub max_bytes: u64,
    pub min_fps: f64,
    pub max_fps: f64,
    pub codecs: &'static [&'static str],
    pub max_bitrate_bps: u64,
    /// Audio the platform takes (a short without sound is not what people post, so a
    /// missing track fails too).
    pub audio_codecs: &'static [&'static str],
    pub audio_rates: &'static [u32],
    /// Integrated loudness a short may have (LUFS): the platforms normalise playback towards
    /// about −14, so a track far from it is one that will sound wrong or be turned down hard.
    pub audio_lufs: (f64, f64),
}

impl Platform {
    pub const ALL: [Platform; 3] = [
        Platform::Tiktok,
        Platform::YoutubeShorts,
        Platform::InstagramReels,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Tiktok => "tiktok",
            Platform::YoutubeShorts => "youtube_shorts",
            Platform::InstagramReels => "instagram_reels",
        }
    }

    pub fn parse(s: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn rules(self) -> Rules {
        let vertical = Rules {
            aspect: (9, 16),
            aspect_tolerance: 0.01,
            min_width: 720,
            min_height: 1280,
            min_duration_s: 3.0,
            max_duration_s: 600.0,
            max_bytes: 4 * 1024 * 1024 * 1024,
            min_fps: 23.0,
            max_fps: 60.0,
            codecs: &["h264", "h265"],
            max_bitrate_bps: 25_000_000,
            // AAC-LC at 44.1 or 48 kHz: what Instagram's Reels spec and YouTube's upload
            // guide name, and what TikTok takes.
            audio_codecs: &["aac_lc"],
            audio_rates: &[44_100, 48_000],
            audio_lufs: (-20.0, -9.0),
        };
        match self {
            Platform::Tiktok => vertical,
            Platform::YoutubeShorts => Rules {
                max_duration_s: 180.0,
                ..vertical
            },
            Platform::InstagramReels => Rules {
                max_duration_s: 90.0,
                max_bytes: 1024 * 1024 * 1024,
                max_bitrate_bps: 25_000_000,
                codecs: &["h264", "h265"],
                ..vertical
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlatformReport {
    pub platform: Platform,
    pub pass: bool,
    /// Empty when `pass`.
    pub reasons: Vec<String>,
}

pub fn check(p: &Probe, platform: Platform) -> PlatformReport {
    let r = platform.rules();
    let mut reasons = Vec::new();
    if !r.codecs.contains(&p.video_codec.as_str()) {
        reasons.push(format!(
            "video codec {} is not one of {:?}",
            p.video_codec, r.codecs
        ));
    }
    let want = f64::from(r.aspect.0) / f64::from(r.aspect.1);
    let got = if p.height == 0 {
        0.0
    } else {
        f64::from(p.width) / f64::from(p.height)
    };
    if (got - want).abs() > want * r.aspect_tolerance {
        reasons.push(format!(
            "aspect {}x{} is not {}:{}",
            p.width, p.height, r.aspect.0, r.aspect.1
        ));
    }
    if p.width < r.min_width || p.height < r.min_height {
        reasons.push(format!(
            "resolution {}x{} is below {}x{}",
            p.width, p.height, r.min_width, r.min_height
        ));
    }
    if p.duration_s < r.min_duration_s || p.duration_s > r.max_duration_s {
        reasons.push(format!(
            "duration {:.2} s is outside {}–{} s",
            p.duration_s, r.min_duration_s, r.max_duration_s
        ));
    }
    if p.fps < r.min_fps || p.fps > r.max_fps {
        reasons.push(format!(
            "frame rate {:.2} is outside {}–{}",
            p.fps, r.min_fps, r.max_fps
        ));
    }
    if p.size_bytes > r.max_bytes {
        reasons.push(format!(
            "size {} bytes is over {}",
            p.size_bytes, r.max_bytes
        ));
    }
    match &p.audio {
        None => reasons.push("no audio track".to_owned()),
        Some(a) => {
            if !r.audio_codecs.contains(&a.codec.as_str()) {
                reasons.push(format!(
                    "audio codec {} is not one of {:?}",
                    a.codec, r.audio_codecs
                ));
            }
            if !r.audio_rates.contains(&a.sample_rate) {
                reasons.push(format!(
                    "audio sample rate {} Hz is not one of {:?}",
                    a.sample_rate, r.audio_rates
                ));
            }
            if !(1..=2).contains(&a.channels) {
                reasons.push(format!("{} audio channels; mono or stereo", a.channels));
            }
            match a.lufs {
                None => reasons.push("the audio is silent or could not be measured".to_owned()),
                Some(l) if l < r.audio_lufs.0 || l > r.audio_lufs.1 => reasons.push(format!(
                    "audio loudness {l:.1} LUFS is outside {}–{} LUFS",
                    r.audio_lufs.0, r.audio_lufs.1
                )),
                Some(_) => {}
            }
        }
    }
    if p.bitrate_bps > r.max_bitrate_bps {
        reasons.push(format!(
            "bitrate {} bps is over {}",
            p.bitrate_bps, r.max_bitrate_bps
        ));
    }
    PlatformReport {
        platform,
        pass: reasons.is_empty(),
        reasons,
    }
}

/// One report per requested platform.
pub fn validate(p: &Probe, platforms: &[Platform]) -> Vec<PlatformReport> {
    platforms.iter().map(|pl| check(p, *pl)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe() -> Probe {
        Probe {
            brand: "isom".into(),
            video_codec: "h264".into(),
            width: 1080,
            height: 1920,
            fps: 30.0,
            duration_s: 15.0,
            frames: 450,
            bitrate_bps: 2_000_000,
            has_audio: true,
            audio: Some(crate::probe::AudioProbe {
                codec: "aac_lc".into(),
                sample_rate: 48_000,
                channels: 2,
                lufs: Some(-14.0),
            }),
            size_bytes: 3_750_000,
        }
    }

    #[test]
    fn a_vertical_15_second_h264_passes_everywhere() {
        assert!(validate(&probe(), &Platform::ALL).iter().all(|r| r.pass));
    }

    #[test]
    fn failures_say_why() {
        let landscape = Probe {
            width: 1920,
            height: 1080,
            ..probe()
        };
        let r = check(&landscape, Platform::Tiktok);
        assert!(!r.pass);
        assert!(
            r.reasons.iter().any(|x| x.contains("aspect")),
            "{:?}",
            r.reasons
        );
        let long = Probe {
            duration_s: 120.0,
            ..probe()
        };
        assert!(check(&long, Platform::Tiktok).pass);
        assert!(check(&long, Platform::YoutubeShorts).pass);
        assert!(!check(&long, Platform::InstagramReels).pass);
        let small = Probe {
            width: 360,
            height: 640,
            video_codec: "vp9".into(),
            ..probe()
        };
        let r = check(&small, Platform::YoutubeShorts);
        assert_eq!(r.reasons.len(), 2, "{:?}", r.reasons);
        let silent = Probe {
            has_audio: false,
            audio: None,
            ..probe()
        };
        assert_eq!(check(&silent, Platform::Tiktok).reasons, ["no audio track"]);
        let mp3 = Probe {
            audio: Some(crate::probe::AudioProbe {
                codec: "mp3".into(),
                sample_rate: 22_050,
                channels: 1,
                lufs: Some(-14.0),
            }),
            ..probe()
        };
        assert_eq!(check(&mp3, Platform::InstagramReels).reasons.len(), 2);
        let quiet = Probe {
            audio: Some(crate::probe::AudioProbe {
                lufs: Some(-31.0),
                ..probe().audio.unwrap()
            }),
            ..probe()
        };
        let r = check(&quiet, Platform::Tiktok);
        assert!(r.reasons[0].contains("-31.0 LUFS"), "{:?}", r.reasons);
        assert_eq!(Platform::parse("tiktok"), Some(Platform::Tiktok));
    }
}
