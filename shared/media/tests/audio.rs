//! Every video we make carries its sound: an independent decoder (ffmpeg from the test
//! command's `imageio-ffmpeg` wheel) finds an AAC-LC 48 kHz stereo stream as long as the
//! picture, decodes it without an error, and measures its loudness (EBU R128) near −14 LUFS
//! with the true peak under −1 dBTP.

use std::process::Command;

use viral_media::audio::{TARGET_LUFS, soundtrack};
use viral_media::{
    Beat, JoinMode, Platform, RenderSpec, Storyboard, join, probe, render, validate,
};

fn ffmpeg() -> String {
    std::env::var("VIRAL_TEST_FFMPEG")
        .ok()
        .filter(|p| !p.is_empty())
        .expect("VIRAL_TEST_FFMPEG: run the test command `tests/run` (it installs ffmpeg)")
}

struct Measured {
    /// From ffmpeg's stream header line, e.g. "aac (LC) … 48000 Hz, stereo".
    stream: String,
    integrated_lufs: f64,
    true_peak_dbtp: f64,
    decoded_s: f64,
}

fn number_after(text: &str, label: &str) -> f64 {
    let at = text
        .rfind(label)
        .unwrap_or_else(|| panic!("no {label:?} in {text}"));
    text[at + label.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in {text}"))
}

/// Decodes the audio with ffmpeg's own AAC decoder and runs its EBU R128 meter over it.
fn measure(bytes: &[u8]) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("video.mp4");
    std::fs::write(&file, bytes).unwrap();
    let out = Command::new(ffmpeg())
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(&file)
        .args([
            "-map",
            "0:a:0",
            "-af",
            "ebur128=peak=true",
            "-f",
            "null",
            "-",
        ])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ffmpeg: {log}");
    assert!(
        !log.lines()
            .any(|l| l.contains("Error") || l.contains("error while decoding")),
        "decode errors: {log}"
    );
    let stream = log
        .lines()
        .find(|l| l.contains("Audio:"))
        .unwrap_or_else(|| panic!("no audio stream: {log}"))
        .to_owned();
    let summary = &log[log.rfind("Summary:").expect("an ebur128 summary")..];
    let time = log
        .rsplit("time=")
        .next()
        .and_then(|t| t.split_whitespace().next())
        .map(|t| {
            t.split(':').fold(0.0, |acc, part| {
                acc * 60.0 + part.parse::<f64>().unwrap_or(0.0)
            })
        })
        .unwrap_or(0.0);
    Measured {
        stream,
        integrated_lufs: number_after(summary, "I:"),
        true_peak_dbtp: number_after(summary, "Peak:"),
        decoded_s: time,
    }
}

fn assert_postable(bytes: &[u8], seconds: f64) {
    let p = probe(bytes).unwrap();
    let a = p.audio.as_ref().expect("an audio track");
    assert_eq!(
        (a.codec.as_str(), a.sample_rate, a.channels),
        ("aac_lc", 48_000, 2)
    );
    let reports = validate(&p, &Platform::ALL);
    assert!(reports.iter().all(|r| r.pass), "{reports:?}");
    let m = measure(bytes);
    eprintln!(
        "{}: {:.1} LUFS, {:.1} dBTP, {:.2} s decoded",
        m.stream.trim(),
        m.integrated_lufs,
        m.true_peak_dbtp,
        m.decoded_s
    );
    assert!(m.stream.contains("aac (LC)"), "{}", m.stream);
    // Our probe's own measure (rusty_aac's decoder, ebur128) agrees with ffmpeg's.
    let ours = a.lufs.expect("the probe measured the track");
    assert!(
        (ours - m.integrated_lufs).abs() <= 0.5,
        "probe {ours:.1} LUFS, ffmpeg {:.1}",
        m.integrated_lufs
    );
    assert!(
        m.stream.contains("48000 Hz") && m.stream.contains("stereo"),
        "{}",
        m.stream
    );
    assert!(
        (m.integrated_lufs - TARGET_LUFS).abs() <= 2.0,
        "{} LUFS, not within 2 LU of {TARGET_LUFS}",
        m.integrated_lufs
    );
    assert!(
        m.true_peak_dbtp <= -1.0,
        "true peak {} dBTP",
        m.true_peak_dbtp
    );
    assert!(
        (m.decoded_s - seconds).abs() <= 0.1,
        "{} s of audio under {seconds} s of video",
        m.decoded_s
    );
}

fn storyboard(seed: u64) -> Storyboard {
    Storyboard {
        hook: "Sound on".into(),
        beats: vec![Beat {
            text: "Every video has a track of its own".into(),
            duration_s: 1.0,
        }],
        seed,
    }
}

#[test]
fn a_rendered_storyboard_has_a_mastered_aac_track() {
    // 15 s, as shipped: a longer bed has more transients for the encoder to overshoot on.
    for seed in [11, 4] {
        let bytes = render(&storyboard(seed), &RenderSpec::vertical(15.0)).unwrap();
        assert_postable(&bytes, 15.0);
    }
}

#[test]
fn joined_clips_get_the_track_they_are_given_in_both_join_modes() {
    let small = RenderSpec {
        width: 720,
        height: 1280,
        fps: 30,
        duration_s: 3.0,
    };
    let a = render(&storyboard(1), &small).unwrap();
    let b = render(&storyboard(2), &small).unwrap();
    let copied = join(&[&a, &b], 5.0, soundtrack(9, 5.0).unwrap()).unwrap();
    assert_eq!(copied.mode, JoinMode::Copied);
    assert_postable(&copied.bytes, 5.0);
    let c = render(
        &storyboard(3),
        &RenderSpec {
            width: 1080,
            height: 1920,
            ..small
        },
    )
    .unwrap();
    let reencoded = join(&[&a, &c], 5.0, soundtrack(9, 5.0).unwrap()).unwrap();
    assert_eq!(reencoded.mode, JoinMode::Reencoded);
    assert_postable(&reencoded.bytes, 5.0);
}
