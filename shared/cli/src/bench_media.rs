//! `viral bench render`: a narrated, captioned storyboard beside ffmpeg doing the same job,
//! then captions burned into provider-like clips beside a plain re-encode of the same clips
//! (and ffmpeg doing that job).

use crate::failure::Failure;
use std::process::ExitCode;
use std::time::Instant;

use viral_media::RenderSpec;
use viral_providers::storyboard::storyboard_from_prompt;

pub(crate) const CARDS: &str = "Nobody tells you this about cold brew. Steep it 18 hours, not 12. \
Filter twice, paper then cloth. Follow for part two.";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// ffmpeg doing the same job: gradient backgrounds, the same caption cues burned in by
/// libass (`subtitles`), the same voice delayed as ours over a tone "bed", mixed, libx264
/// (ultrafast, one thread) and its AAC encoder. It does less than we do (no ducking, no
/// loudness mastering, no word highlight), so the ratio flatters it.
fn ffmpeg_args(voice_wav: Option<&str>, srt: &str, out: &str) -> Vec<String> {
    let style = "Fontname=DejaVu Sans,Bold=1,Fontsize=22,Outline=3,Alignment=5,MarginV=40";
    let video = format!("[0:v]format=yuv420p,subtitles='{srt}':force_style='{style}'[v]");
    let mut args: Vec<String> = [
        "-v",
        "error",
        "-y",
        "-filter_threads",
        "1",
        "-f",
        "lavfi",
        "-i",
        "gradients=s=1080x1920:r=30:d=15:speed=0.02:c0=0x3a1f8a:c1=0x8a1f3a",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=220:sample_rate=48000:duration=15",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let graph = match voice_wav {
        Some(wav) => {
            args.extend(["-i".to_owned(), wav.to_owned()]);
            format!(
                "{video};[2:a]adelay=300|300,aresample=48000[vo];[1:a]volume=0.15[m];\
                 [m][vo]amix=inputs=2:duration=first,aformat=channel_layouts=stereo[a]"
            )
        }
        None => format!("{video};[1:a]volume=0.15,aformat=channel_layouts=stereo[a]"),
    };
    args.extend(
        [
            "-filter_complex",
            &graph,
            "-map",
            "[v]",
            "-map",
            "[a]",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-threads",
            "1",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-t",
            "15",
            out,
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    args
}

/// `speech` as a 16-bit mono WAV file.
fn wav(speech: &viral_media::Speech) -> Vec<u8> {
    let data = speech.to_pcm16le();
    let mut out = Vec::with_capacity(44 + data.len());
    let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&len(36 + data.len()));
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&speech.sample_rate.to_le_bytes());
    out.extend_from_slice(&(speech.sample_rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&len(data.len()));
    out.extend_from_slice(&data);
    out
}

/// The storyboard rendered with each offline voice installed (Piper from `piper_dir`, then
/// espeak-ng; or none), voice synthesis included in the time, then ffmpeg given the first
/// voice's speech.
pub async fn render(
    runs: usize,
    ffmpeg: Option<String>,
    piper_dir: Option<&std::path::Path>,
) -> Result<ExitCode, Failure> {
    use viral_providers::voice::{Espeak, Piper, SpeechRequest, Voice};
    let sb = storyboard_from_prompt(CARDS, 1);
    let spec = RenderSpec::vertical(15.0);
    let mut voices: Vec<(&str, Option<Box<dyn Voice>>)> = Vec::new();
    if let Some(p) = piper_dir.and_then(Piper::load) {
        voices.push(("voice Piper", Some(Box::new(p))));
    }
    if let Some(e) = Espeak::load() {
        voices.push(("voice espeak-ng", Some(Box::new(e))));
    }
    if voices.is_empty() {
        voices.push(("no voice installed", None));
    }
    println!(
        "viral bench render: 15 s of 1080x1920 30 fps H.264 with an offline voice (its synthesis timed too), word-timed captions, music, AAC; one encoder thread, median of {runs}"
    );
    println!("{:<40} {:>8} {:>14}", "renderer", "seconds", "x real time");
    let mut first = None;
    let mut ours_first = 0.0;
    for (label, voice) in &voices {
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            let speech = match voice {
                Some(v) => Some(
                    v.speak(&SpeechRequest::new(viral_media::script(&sb)))
                        .await
                        .map_err(|e| e.to_string())?,
                ),
                None => None,
            };
            let made = viral_media::render_narrated(&sb, &spec, speech.as_ref())
                .map_err(|e| e.to_string())?;
            times.push(t.elapsed().as_secs_f64());
            viral_media::probe(&made.mp4).map_err(|e| e.to_string())?;
            last = Some((made, speech));
        }
        let ours = median(times);
        println!(
            "{:<40} {:>8.2} {:>14.1}",
            format!("storyboard, {label}"),
            ours,
            15.0 / ours
        );
        if first.is_none() {
            first = last;
            ours_first = ours;
        }
    }
    let ours = ours_first;
    let Some((made, speech)) = first else {
        return Ok(ExitCode::SUCCESS);
    };
    match &ffmpeg {
        None => println!(
            "ffmpeg: not found (pass --ffmpeg PATH or set VIRAL_FFMPEG) — no baseline this run"
        ),
        Some(ff) => {
            let dir = std::env::temp_dir().join(format!("viral-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let srt = dir.join("cues.srt");
            std::fs::write(&srt, viral_media::captions::srt(&made.cues))
                .map_err(|e| e.to_string())?;
            let voice_wav = dir.join("voice.wav");
            if let Some(s) = &speech {
                std::fs::write(&voice_wav, wav(s)).map_err(|e| e.to_string())?;
            }
            let out = dir.join("ffmpeg.mp4");
            let args = ffmpeg_args(
                speech
                    .as_ref()
                    .map(|_| voice_wav.to_str().unwrap_or_default()),
                &srt.display().to_string(),
                &out.display().to_string(),
            );
            let mut times = Vec::new();
            for _ in 0..runs.max(1) {
                let t = Instant::now();
                let st = std::process::Command::new(ff)
                    .args(&args)
                    .status()
                    .map_err(|e| format!("{ff}: {e}"))?;
                if !st.success() {
                    return Err(format!("ffmpeg failed ({st})").into());
                }
                times.push(t.elapsed().as_secs_f64());
            }
            let theirs = median(times);
            let _ = std::fs::remove_dir_all(&dir);
            println!(
                "{:<40} {:>8.2} {:>14.1}",
                "ffmpeg libx264 + libass + aac",
                theirs,
                15.0 / theirs
            );
            println!("storyboard time / ffmpeg time = {:.2}", ours / theirs);
        }
    }
    overlay(runs, ffmpeg.as_deref())
}

/// Captions on two 8 s provider-like clips joined and trimmed to 15 s: our join burning them
/// in, beside the same join re-encoding with nothing drawn (the baseline), and ffmpeg
/// concatenating, burning the same cues with libass and encoding.
fn overlay(runs: usize, ffmpeg: Option<&str>) -> Result<ExitCode, Failure> {
    let sb = storyboard_from_prompt(CARDS, 2);
    let clip = |seed: u64| {
        let sb = viral_media::Storyboard { seed, ..sb.clone() };
        viral_media::render(&sb, &RenderSpec::vertical(8.0)).map_err(|e| e.to_string())
    };
    let clips = [clip(3)?, clip(4)?];
    let parts: Vec<&[u8]> = clips.iter().map(Vec::as_slice).collect();
    let (cues, title_end) = viral_media::reading_captions(&sb, 15.0);
    let audio = viral_media::audio::soundtrack(1, 15.0).map_err(|e| e.to_string())?;
    let time =
        |cues: &[viral_media::captions::Cue], title: Option<(&str, f64)>| -> Result<f64, Failure> {
            let mut times = Vec::new();
            for _ in 0..runs.max(1) {
                let t = Instant::now();
                let burn = viral_media::Burn { cues, title };
                let joined = viral_media::join_captioned(&parts, 15.0, audio.clone(), Some(burn))
                    .map_err(|e| e.to_string())?;
                times.push(t.elapsed().as_secs_f64());
                viral_media::probe(&joined.bytes).map_err(|e| e.to_string())?;
            }
            Ok(median(times))
        };
    let plain = time(&[], None)?;
    let burned = time(&cues, Some((sb.hook.as_str(), title_end)))?;
    println!();
    println!(
        "captions on provider clips: two 8 s 1080x1920 clips joined and trimmed to 15 s; median of {runs}"
    );
    println!("{:<40} {:>8} {:>14}", "join", "seconds", "x real time");
    for (name, secs) in [
        ("decode + re-encode, nothing drawn", plain),
        ("decode + captions + re-encode", burned),
    ] {
        println!("{name:<40} {secs:>8.2} {:>14.1}", 15.0 / secs);
    }
    println!(
        "captioned / plain re-encode = {:.2} (target at most 1.5)",
        burned / plain
    );
    if let Some(ff) = ffmpeg {
        let dir = std::env::temp_dir().join(format!("viral-bench-overlay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let mut inputs = Vec::new();
        for (i, c) in clips.iter().enumerate() {
            let p = dir.join(format!("clip-{i}.mp4"));
            std::fs::write(&p, c).map_err(|e| e.to_string())?;
            inputs.push(p.display().to_string());
        }
        let srt = dir.join("cues.srt");
        std::fs::write(&srt, viral_media::captions::srt(&cues)).map_err(|e| e.to_string())?;
        let out = dir.join("ffmpeg.mp4").display().to_string();
        let style = "Fontname=DejaVu Sans,Bold=1,Fontsize=22,Outline=3,Alignment=5,MarginV=40";
        let graph = format!(
            "[0:v][1:v]concat=n=2:v=1:a=0,subtitles='{}':force_style='{style}'[v]",
            srt.display()
        );
        let args = [
            "-v",
            "error",
            "-y",
            "-filter_threads",
            "1",
            "-i",
            &inputs[0],
            "-i",
            &inputs[1],
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=220:sample_rate=48000:duration=15",
            "-filter_complex",
            &graph,
            "-map",
            "[v]",
            "-map",
            "2:a",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-threads",
            "1",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-t",
            "15",
            &out,
        ];
        let mut times = Vec::new();
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            let st = std::process::Command::new(ff)
                .args(args)
                .status()
                .map_err(|e| format!("{ff}: {e}"))?;
            if !st.success() {
                return Err(format!("ffmpeg failed ({st})").into());
            }
            times.push(t.elapsed().as_secs_f64());
        }
        let theirs = median(times);
        let _ = std::fs::remove_dir_all(&dir);
        println!(
            "{:<40} {:>8.2} {:>14.1}",
            "ffmpeg concat + libass + libx264",
            theirs,
            15.0 / theirs
        );
        println!("our captioned join / ffmpeg = {:.2}", burned / theirs);
    }
    Ok(ExitCode::SUCCESS)
}
