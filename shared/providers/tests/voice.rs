//! The offline voices (Piper and espeak-ng, installed by `tests/run`) and a narrated render
//! checked from the outside: ffmpeg decodes the MP4, the highlighted caption word changes on the frames the
//! voice's word timings say (±1 frame), and the mix is near −14 LUFS.

use std::process::Command;

use viral_core::ports::ProviderError;
use viral_media::{Beat, RenderSpec, Storyboard, render_narrated, script};
use viral_providers::voice::{Espeak, Offline, Piper, SpeechRequest, Voice};

fn espeak() -> Espeak {
    Espeak::load().expect("espeak-ng: run the test command `tests/run` (it installs espeak-ng)")
}

fn piper_dir() -> std::path::PathBuf {
    std::env::var("VIRAL_TEST_PIPER_DIR")
        .ok()
        .filter(|p| !p.is_empty())
        .expect("VIRAL_TEST_PIPER_DIR: run the test command `tests/run` (it installs Piper)")
        .into()
}

fn piper() -> Piper {
    Piper::load(&piper_dir()).expect("Piper with a voice: run `tests/run`")
}

/// Root mean square of `samples` between `from` and `to` seconds.
fn rms(s: &viral_media::Speech, from: f64, to: f64) -> f32 {
    let at = |t: f64| ((t.max(0.0) * f64::from(s.sample_rate)) as usize).min(s.samples.len());
    let part = &s.samples[at(from)..at(to).max(at(from))];
    (part.iter().map(|v| v * v).sum::<f32>() / part.len().max(1) as f32).sqrt()
}

#[tokio::test]
async fn piper_reads_the_script_with_its_own_timing_for_every_word() {
    let voice = piper();
    let text =
        "Stop scrolling. This tiny habit saves you two hours every week 🔥 really. Here is how.";
    let speech = voice.speak(&SpeechRequest::new(text)).await.unwrap();
    speech.check(text).expect("timings match the script");
    assert_eq!(speech.words.len(), 16);
    let d = speech.duration_s();
    assert!((3.0..10.0).contains(&d), "{d} s of speech");
    // The emoji is not read out: it is shown with the word before it.
    assert_eq!(speech.words[11].start_s, speech.words[10].start_s);
    // Piper's timings, checked against the sound itself: the pause between two sentences
    // is quiet, and each sentence's first word starts with sound.
    for k in [2, 13] {
        let w = &speech.words[k];
        let prev_end = speech.words[k - 1].end_s;
        assert!(w.start_s >= prev_end + 0.15, "{w:?} after {prev_end}");
        let pause = rms(&speech, prev_end + 0.05, w.start_s - 0.05);
        let word = rms(&speech, w.start_s, w.end_s);
        assert!(word > 8.0 * pause, "{} {word} vs pause {pause}", w.text);
    }
    // Words are Piper's, not spread evenly: "Stop" is shorter than "scrolling.".
    let len = |i: usize| speech.words[i].end_s - speech.words[i].start_s;
    assert!(len(0) < len(1), "{:?}", &speech.words[..2]);

    let mut slow = SpeechRequest::new(text);
    slow.speed = 0.6;
    let slower = voice.speak(&slow).await.unwrap();
    assert!(
        slower.duration_s() > d * 1.3,
        "{} s at 0.6× vs {d} s",
        slower.duration_s()
    );
}

#[tokio::test]
async fn piper_words_it_reads_differently_still_get_a_timing_each() {
    // Piper says numbers and CJK in more words than the script has: the sentence's words are
    // spread over the sentence as Piper timed it.
    let text = "In 2024 we met in 東京 again. Then home.";
    let speech = piper().speak(&SpeechRequest::new(text)).await.unwrap();
    speech.check(text).expect("one timing per script word");
    assert!(speech.words[7].start_s > speech.words[6].end_s + 0.15);
}

#[tokio::test]
async fn offline_voice_is_piper_where_it_has_a_voice_and_espeak_elsewhere() {
    let offline = Offline::load(Some(&piper_dir())).expect("offline voices");
    let english = SpeechRequest::new("Hello there.");
    assert_eq!(offline.engine_for(&english), Some("piper"));
    let mut spanish = SpeechRequest::new("Hola a todos.");
    spanish.language = "es".into();
    assert_eq!(offline.engine_for(&spanish), Some("espeak"));
    let speech = offline.speak(&spanish).await.unwrap();
    speech.check("Hola a todos.").unwrap();
    // A voice Piper does not have goes to espeak-ng, which refuses what it has not either.
    let mut named = SpeechRequest::new("Hello");
    named.voice = Some("no-such-voice-xx".into());
    assert_eq!(offline.engine_for(&named), Some("espeak"));
    assert!(matches!(
        offline.speak(&named).await,
        Err(ProviderError::InvalidInput(_))
    ));
}

fn ffmpeg() -> String {
    std::env::var("VIRAL_TEST_FFMPEG")
        .ok()
        .filter(|p| !p.is_empty())
        .expect("VIRAL_TEST_FFMPEG: run the test command `tests/run` (it installs ffmpeg)")
}

#[tokio::test]
async fn espeak_reads_the_script_with_a_timing_for_every_word() {
    let voice = espeak();
    let text = "Stop scrolling. This tiny habit saves you 2 hours every week 🔥 really.";
    let speech = voice.speak(&SpeechRequest::new(text)).await.unwrap();
    speech.check(text).expect("timings match the script");
    assert_eq!(speech.words.len(), 13);
    assert_eq!(speech.words[12].text, "really.");
    let d = speech.duration_s();
    assert!((2.5..8.0).contains(&d), "{d} s of speech");
    // Words are spread over the speech, not bunched at its start.
    assert!(speech.words[6].start_s > 1.0, "{:?}", speech.words[6]);
    assert!(speech.words[12].start_s > speech.words[6].start_s + 1.0);
    // The emoji is not read out ("fire"): it is shown with the word before it.
    assert_eq!(speech.words[11].start_s, speech.words[10].start_s);

    let mut fast = SpeechRequest::new(text);
    fast.speed = 1.6;
    let quick = voice.speak(&fast).await.unwrap();
    assert!(
        quick.duration_s() < d * 0.8,
        "{} s at 1.6× vs {d} s",
        quick.duration_s()
    );
}

#[tokio::test]
async fn bad_requests_are_refused_before_the_engine() {
    let voice = espeak();
    let mut r = SpeechRequest::new("Hello");
    r.voice = Some("no-such-voice-xx".into());
    assert!(matches!(
        voice.speak(&r).await,
        Err(ProviderError::InvalidInput(_))
    ));
    assert!(matches!(
        voice.speak(&SpeechRequest::new("   ")).await,
        Err(ProviderError::InvalidInput(_))
    ));
    let mut r = SpeechRequest::new("Hello");
    r.speed = 9.0;
    assert!(matches!(
        voice.speak(&r).await,
        Err(ProviderError::InvalidInput(_))
    ));
}

/// Frames decoded by ffmpeg as RGB at `w × h`.
fn decode_rgb(mp4: &[u8], w: usize, h: usize) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mp4");
    std::fs::write(&input, mp4).unwrap();
    let out = Command::new(ffmpeg())
        .args(["-v", "error", "-i"])
        .arg(&input)
        .args([
            "-vf",
            &format!("scale={w}:{h}"),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(w * h * 3)
        .map(<[u8]>::to_vec)
        .collect()
}

/// Centre (x, y) and count of the highlight's yellow pixels in a frame.
fn yellow(frame: &[u8], w: usize) -> Option<(f64, f64, usize)> {
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0usize);
    for (i, px) in frame.chunks_exact(3).enumerate() {
        let (r, g, b) = (i32::from(px[0]), i32::from(px[1]), i32::from(px[2]));
        if r > 200 && g > 170 && b < 110 {
            sx += (i % w) as f64;
            sy += (i / w) as f64;
            n += 1;
        }
    }
    (n > 20).then(|| (sx / n as f64, sy / n as f64, n))
}

#[tokio::test]
async fn caption_highlights_follow_the_voice_to_the_frame() {
    let sb = Storyboard {
        hook: "Stop scrolling right now.".into(),
        beats: vec![
            Beat {
                text: "This tiny habit saves you hours every single week.".into(),
                duration_s: 1.0,
            },
            Beat {
                text: "Try it tonight and tell me.".into(),
                duration_s: 1.0,
            },
        ],
        seed: 3,
    };
    let speech = espeak()
        .speak(&SpeechRequest::new(script(&sb)))
        .await
        .unwrap();
    let spec = RenderSpec {
        width: 540,
        height: 960,
        fps: 30,
        duration_s: 10.0,
    };
    let rendered =
        tokio::task::spawn_blocking(move || render_narrated(&sb, &spec, Some(&speech)).unwrap())
            .await
            .unwrap();
    assert_eq!(rendered.spoken_words, 19, "the whole script fits 10 s");

    // Where the highlight moves to another word, as the cues say (in frames).
    let fps = 30.0;
    let mut expected = Vec::new();
    for cue in &rendered.cues {
        for w in &cue.words {
            expected.push((w.start_s * fps).ceil() as i64);
        }
    }
    let (w, h) = (270, 480);
    let frames = decode_rgb(&rendered.mp4, w, h);
    assert_eq!(frames.len(), 300);
    let marks: Vec<Option<(f64, f64, usize)>> = frames.iter().map(|f| yellow(f, w)).collect();
    let mut changes = Vec::new();
    for i in 1..marks.len() {
        let moved = match (marks[i - 1], marks[i]) {
            (Some(a), Some(b)) => {
                (a.0 - b.0).abs() > 2.0
                    || (a.1 - b.1).abs() > 2.0
                    || (a.2 as f64 / b.2 as f64 - 1.0).abs() > 0.25
            }
            (None, Some(_)) => true,
            _ => false,
        };
        if moved {
            changes.push(i as i64);
        }
    }
    // Every change seen is a word starting (±1 frame), and nearly every word start is seen (a
    // word whose highlight looks the same as the one before, e.g. the same position and
    // length, cannot be told apart).
    for c in &changes {
        assert!(
            expected.iter().any(|e| (e - c).abs() <= 1),
            "highlight changed at frame {c}, no word starts there; expected {expected:?}"
        );
    }
    let seen = expected
        .iter()
        .filter(|e| changes.iter().any(|c| (*e - c).abs() <= 1))
        .count();
    eprintln!(
        "{seen} of {} word starts seen in the frames; {} highlight changes, all at a word start",
        expected.len(),
        changes.len()
    );
    assert!(
        seen * 10 >= expected.len() * 9,
        "{seen} of {} word starts seen: {changes:?} vs {expected:?}",
        expected.len()
    );

    // The sound: AAC-LC 48 kHz stereo, loudness near −14 LUFS, decoded by ffmpeg.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.mp4");
    std::fs::write(&input, &rendered.mp4).unwrap();
    let out = Command::new(ffmpeg())
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(&input)
        .args(["-map", "0:a", "-af", "ebur128", "-f", "null", "-"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("aac (LC)") && log.contains("48000 Hz, stereo"),
        "{log}"
    );
    let summary = log.rsplit("Summary:").next().unwrap_or("");
    let lufs: f64 = summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("I:"))
        .and_then(|v| v.trim().trim_end_matches("LUFS").trim().parse().ok())
        .expect("integrated loudness");
    assert!((lufs + 14.0).abs() <= 2.0, "{lufs} LUFS");
}
