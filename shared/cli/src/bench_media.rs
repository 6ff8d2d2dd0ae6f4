//! `viral bench render`: the storyboard renderer beside ffmpeg.

use crate::failure::Failure;
use std::process::ExitCode;
use std::time::Instant;

use viral_media::{RenderSpec, Storyboard};
use viral_providers::storyboard::storyboard_from_prompt;

pub(crate) const CARDS: &str = "Nobody tells you this about cold brew. Steep it 18 hours, not 12. \
Filter twice, paper then cloth. Follow for part two.";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The same cards as an ffmpeg filter graph: gradient-coloured backgrounds and drawtext.
fn ffmpeg_args(sb: &Storyboard, out: &str) -> Vec<String> {
    let font = "DejaVu Sans";
    let mut texts = vec![sb.hook.clone()];
    texts.extend(sb.beats.iter().map(|b| b.text.clone()));
    let per = 15.0 / texts.len() as f64;
    let mut filters = vec!["[0:v]format=yuv420p".to_owned()];
    for (i, t) in texts.iter().enumerate() {
        let safe = t
            .replace(['\\', '\''], "")
            .replace(':', "\\:")
            .replace(',', "\\,");
        filters.push(format!(
            "drawtext=font='{font}':text='{safe}':fontsize=80:fontcolor=white:shadowx=6:shadowy=6:\
             x=(w-text_w)/2:y=(h-text_h)/2:enable='between(t,{:.2},{:.2})'",
            i as f64 * per,
            (i + 1) as f64 * per
        ));
    }
    let graph = filters.join(",");
    [
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "gradients=s=1080x1920:r=30:d=15:speed=0.02:c0=0x3a1f8a:c1=0x8a1f3a",
        "-vf",
        &graph,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-threads",
        "1",
        "-pix_fmt",
        "yuv420p",
        out,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

pub fn render(runs: usize, ffmpeg: Option<String>) -> Result<ExitCode, Failure> {
    let sb = storyboard_from_prompt(CARDS, 1);
    let spec = RenderSpec::vertical(15.0);
    let mut ours = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let bytes = viral_media::render(&sb, &spec).map_err(|e| e.to_string())?;
        ours.push(t.elapsed().as_secs_f64());
        viral_media::probe(&bytes).map_err(|e| e.to_string())?;
    }
    let ours = median(ours);
    println!(
        "viral bench render: 15 s of 1080x1920 30 fps H.264, one encoder thread, median of {runs}"
    );
    println!("{:<34} {:>8} {:>14}", "renderer", "seconds", "x real time");
    println!(
        "{:<34} {:>8.2} {:>14.1}",
        "storyboard (openh264 + muxide)",
        ours,
        15.0 / ours
    );
    match ffmpeg {
        None => println!(
            "ffmpeg: not found (pass --ffmpeg PATH or set VIRAL_FFMPEG) — no baseline this run"
        ),
        Some(ff) => {
            let out = std::env::temp_dir().join(format!("viral-bench-{}.mp4", std::process::id()));
            let args = ffmpeg_args(&sb, &out.display().to_string());
            let mut times = Vec::new();
            for _ in 0..runs.max(1) {
                let t = Instant::now();
                let st = std::process::Command::new(&ff)
                    .args(&args)
                    .status()
                    .map_err(|e| format!("{ff}: {e}"))?;
                if !st.success() {
                    return Err(format!("ffmpeg failed ({st})").into());
                }
                times.push(t.elapsed().as_secs_f64());
            }
            let theirs = median(times);
            let _ = std::fs::remove_file(out);
            println!(
                "{:<34} {:>8.2} {:>14.1}",
                "ffmpeg libx264 ultrafast + drawtext",
                theirs,
                15.0 / theirs
            );
            println!("storyboard time / ffmpeg time = {:.2}", ours / theirs);
        }
    }
    Ok(ExitCode::SUCCESS)
}
