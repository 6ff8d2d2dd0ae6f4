//! Joining clips: same-encoder clips are copied without re-encoding and cut to the target;
//! clips of different sizes are decoded and encoded again. An independent decoder (ffmpeg from
//! the test command's `imageio-ffmpeg` wheel) checks every frame of the result.

use std::process::Command;

use viral_media::{Beat, JoinMode, RenderSpec, Storyboard, join, probe, render};

fn soundtrack(seconds: f64) -> viral_media::audio::AacTrack {
    viral_media::audio::soundtrack(1, seconds).unwrap()
}

fn clip(text: &str, width: u32, height: u32, seconds: f64) -> Vec<u8> {
    let sb = Storyboard {
        hook: text.into(),
        beats: vec![Beat {
            text: format!("{text}, continued"),
            duration_s: 1.0,
        }],
        seed: text.len() as u64,
    };
    let spec = RenderSpec {
        width,
        height,
        fps: 30,
        duration_s: seconds,
    };
    render(&sb, &spec).unwrap()
}

/// ffmpeg decodes every frame without complaint; returns its frame count and duration.
fn ffmpeg_check(bytes: &[u8]) -> (u64, f64) {
    let ffmpeg = std::env::var("VIRAL_TEST_FFMPEG")
        .ok()
        .filter(|p| !p.is_empty())
        .expect("VIRAL_TEST_FFMPEG: run the test command `tests/run` (it installs ffmpeg)");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("joined.mp4");
    std::fs::write(&file, bytes).unwrap();
    let out = Command::new(ffmpeg)
        .args(["-v", "error", "-i"])
        .arg(&file)
        .args(["-map", "0:v:0", "-f", "framemd5", "-"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "ffmpeg: {err}"
    );
    let frames = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count() as u64;
    let p = probe(bytes).unwrap();
    (frames, p.duration_s)
}

#[test]
fn same_encoder_clips_are_copied_and_trimmed() {
    let a = clip("First part", 1080, 1920, 3.0);
    let b = clip("Second part", 1080, 1920, 3.0);
    let joined = join(&[&a, &b], 5.0, soundtrack(5.0)).unwrap();
    assert_eq!(joined.mode, JoinMode::Copied);
    let p = probe(&joined.bytes).unwrap();
    assert_eq!(
        (p.width, p.height, p.video_codec.as_str()),
        (1080, 1920, "h264")
    );
    assert!((p.duration_s - 5.0).abs() <= 0.1, "{}", p.duration_s);
    let (frames, _) = ffmpeg_check(&joined.bytes);
    assert_eq!(frames, 150);
    // Copying keeps the clips' bytes: the result is about the size of the parts it keeps.
    assert!(joined.bytes.len() < a.len() + b.len());
}

#[test]
fn clips_of_different_sizes_are_reencoded_to_the_largest() {
    let a = clip("Small clip", 720, 1280, 2.0);
    let b = clip("Large clip", 1080, 1920, 2.0);
    let joined = join(&[&a, &b], 3.5, soundtrack(3.5)).unwrap();
    assert_eq!(joined.mode, JoinMode::Reencoded);
    let p = probe(&joined.bytes).unwrap();
    assert_eq!((p.width, p.height), (1080, 1920));
    assert!((p.duration_s - 3.5).abs() <= 0.1, "{}", p.duration_s);
    let (frames, _) = ffmpeg_check(&joined.bytes);
    assert_eq!(frames, 105);
}

#[test]
fn clips_too_short_for_the_target_are_refused() {
    let a = clip("Short", 1080, 1920, 2.0);
    let e = join(&[&a, &a], 15.0, soundtrack(15.0)).unwrap_err();
    assert!(e.to_string().contains("less than"), "{e}");
}

/// Clips like a cloud provider's: x264 with B-frames (pts ≠ dts), made by ffmpeg.
fn x264_clip(dir: &std::path::Path, name: &str, seconds: u32) -> Vec<u8> {
    let ffmpeg = std::env::var("VIRAL_TEST_FFMPEG").expect("VIRAL_TEST_FFMPEG");
    let file = dir.join(name);
    let out = Command::new(ffmpeg)
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size=720x1280:rate=30:duration={seconds}"))
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-bf",
            "2",
            "-g",
            "30",
        ])
        .args([
            "-x264-params",
            "b-adapt=0:scenecut=0",
            "-pix_fmt",
            "yuv420p",
            "-y",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(&file).unwrap()
}

#[test]
fn clips_with_b_frames_are_copied_and_every_frame_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let a = x264_clip(dir.path(), "a.mp4", 3);
    let b = x264_clip(dir.path(), "b.mp4", 3);
    let joined = join(&[&a, &b], 5.0, soundtrack(5.0)).unwrap();
    assert_eq!(joined.mode, JoinMode::Copied);
    let (frames, duration) = ffmpeg_check(&joined.bytes);
    // The cut keeps what the last frame shown before 5 s references: at most a few more.
    assert!((150..=153).contains(&frames), "{frames} frames");
    assert!((duration - 5.0).abs() <= 0.2, "{duration}");
}

/// Captions burned into clips that could be copied: they are encoded once, with the script's
/// words on the frames, and ffmpeg decodes every frame.
#[test]
fn captions_are_burned_into_clips_in_one_encode() {
    let a = clip("first", 360, 640, 3.0);
    let b = clip("second", 360, 640, 3.0);
    let plain = join(&[&a, &b], 5.0, soundtrack(5.0)).unwrap();
    assert_eq!(plain.mode, JoinMode::Copied);
    let sb = Storyboard {
        hook: "Night trains are back".into(),
        beats: vec![Beat {
            text: "Sleep in Paris, wake in Rome.".into(),
            duration_s: 1.0,
        }],
        seed: 1,
    };
    let (cues, title_end) = viral_media::reading_captions(&sb, 5.0);
    assert_eq!(
        cues.first().map(|c| c.text()),
        Some("Night trains are".into())
    );
    let burned = viral_media::join_captioned(
        &[&a, &b],
        5.0,
        soundtrack(5.0),
        Some(viral_media::Burn {
            cues: &cues,
            title: Some((&sb.hook, title_end)),
        }),
    )
    .unwrap();
    assert_eq!(burned.mode, JoinMode::Reencoded);
    let (frames, seconds) = ffmpeg_check(&burned.bytes);
    assert_eq!(frames, 150);
    assert!((seconds - 5.0).abs() < 0.1, "{seconds}");
    assert_ne!(probe(&burned.bytes).unwrap().frames, 0);
}
