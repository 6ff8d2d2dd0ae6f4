//! Probing files another encoder wrote: HEVC (which mp4parse reads as an unknown sample
//! entry) in both of its sample-entry forms, made by ffmpeg's libx265.

use std::process::Command;

fn hevc(dir: &std::path::Path, tag: &str) -> Vec<u8> {
    let ffmpeg = std::env::var("VIRAL_TEST_FFMPEG")
        .ok()
        .filter(|p| !p.is_empty())
        .expect("VIRAL_TEST_FFMPEG: run the test command `tests/run` (it installs ffmpeg)");
    let out = dir.join(format!("{tag}.mp4"));
    let status = Command::new(ffmpeg)
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"])
        .args(["-i", "testsrc=size=360x640:rate=30", "-t", "2"])
        .args(["-c:v", "libx265", "-x265-params", "log-level=error"])
        .args(["-tag:v", tag])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(out).unwrap()
}

#[test]
fn hevc_files_probe_as_h265_with_their_frame_size() {
    let dir = tempfile::tempdir().unwrap();
    for tag in ["hvc1", "hev1"] {
        let p = viral_media::probe::probe(&hevc(dir.path(), tag)).unwrap();
        assert_eq!(p.video_codec, "h265", "{tag}");
        assert_eq!((p.width, p.height), (360, 640), "{tag}");
        assert_eq!(p.frames, 60, "{tag}");
        assert!((p.duration_s - 2.0).abs() < 0.05, "{tag}: {}", p.duration_s);
    }
}
