//! The built-in `storyboard` provider's renderer: the hook and the script beats as large text
//! cards over moving gradient backgrounds, with wipe transitions and a progress bar, encoded
//! as H.264 (OpenH264, built from source) in a fast-start MP4, over a sound bed of its own
//! (AAC-LC, see `audio`). Everything is drawn straight
//! into the I420 planes, so a frame costs a few memsets plus the text blend.

use serde::{Deserialize, Serialize};

use crate::MediaError;
use crate::h264_writer::H264Writer;
use crate::text::{self, Mask};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Beat {
    pub text: String,
    /// Relative weight of this beat's time on screen.
    pub duration_s: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Storyboard {
    /// The first card, on screen for the first two seconds.
    pub hook: String,
    pub beats: Vec<Beat>,
    /// Picks the colour palette, so one concept always looks the same.
    pub seed: u64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RenderSpec {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub duration_s: f64,
}

impl RenderSpec {
    /// 1080×1920 at 30 fps: the vertical format every platform takes.
    pub fn vertical(duration_s: f64) -> Self {
        Self {
            width: 1080,
            height: 1920,
            fps: 30,
            duration_s,
        }
    }
}

/// (top, bottom) colours as (Y, U, V).
const PALETTES: [[(u8, u8, u8); 2]; 6] = [
    [(60, 160, 110), (30, 150, 140)], // deep blue → violet
    [(90, 100, 170), (45, 120, 160)], // coral → plum
    [(110, 90, 100), (50, 130, 100)], // teal → deep green
    [(120, 70, 150), (55, 110, 150)], // amber → rust
    [(70, 150, 150), (35, 140, 160)], // magenta → indigo
    [(100, 140, 80), (40, 150, 100)], // cyan → navy
];

const TRANSITION_S: f64 = 0.35;
const HOOK_S: f64 = 2.0;

struct Card {
    palette: [(u8, u8, u8); 2],
    mask: Mask,
    /// Top-left of the text mask in the frame.
    x: usize,
    y: usize,
    start: f64,
    end: f64,
}

fn check(sb: &Storyboard, spec: &RenderSpec) -> Result<(), MediaError> {
    let bad = |m: &str| Err(MediaError::InvalidStoryboard(m.into()));
    if !spec.width.is_multiple_of(2)
        || !spec.height.is_multiple_of(2)
        || !(64..=4096).contains(&spec.width)
        || !(64..=4096).contains(&spec.height)
    {
        return bad("width and height must be even, 64 to 4096");
    }
    if !(1..=60).contains(&spec.fps) {
        return bad("fps must be 1 to 60");
    }
    if !(spec.duration_s.is_finite() && (0.5..=60.0).contains(&spec.duration_s)) {
        return bad("duration must be 0.5 to 60 s");
    }
    if sb.hook.trim().is_empty() || sb.hook.chars().count() > 300 {
        return bad("the hook must be 1 to 300 characters");
    }
    if sb.beats.len() > 20
        || sb.beats.iter().any(|b| {
            b.text.chars().count() > 500 || !(b.duration_s.is_finite() && b.duration_s > 0.0)
        })
    {
        return bad("at most 20 beats of at most 500 characters, each with a positive duration");
    }
    Ok(())
}

fn layout(sb: &Storyboard, spec: &RenderSpec) -> Vec<Card> {
    let font = text::font();
    let w = spec.width as f32;
    let margin = w * 0.08;
    let hook_end = if sb.beats.is_empty() {
        spec.duration_s
    } else {
        HOOK_S.min(spec.duration_s / 2.0)
    };
    let mut spans = vec![(sb.hook.as_str(), 0.0, hook_end, w * 0.11)];
    let total: f64 = sb.beats.iter().map(|b| b.duration_s).sum();
    let mut t = hook_end;
    for b in &sb.beats {
        let d = (spec.duration_s - hook_end) * b.duration_s / total;
        spans.push((b.text.as_str(), t, t + d, w * 0.085));
        t += d;
    }
    spans
        .into_iter()
        .enumerate()
        .map(|(i, (txt, start, end, px))| {
            let mask = text::render(&font, txt, px, w - 2.0 * margin, 7);
            let x = ((spec.width as usize).saturating_sub(mask.w)) / 2;
            let y = ((spec.height as usize).saturating_sub(mask.h)) * 9 / 20;
            Card {
                palette: PALETTES[(sb.seed as usize + i) % PALETTES.len()],
                mask,
                x,
                y,
                start,
                end,
            }
        })
        .collect()
}

fn lerp(a: u8, b: u8, t: f64) -> u8 {
    (f64::from(a) + (f64::from(b) - f64::from(a)) * t.clamp(0.0, 1.0)).round() as u8
}

struct Planes {
    w: usize,
    h: usize,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
}

impl Planes {
    fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            y: vec![0; w * h],
            u: vec![128; w * h / 4],
            v: vec![128; w * h / 4],
        }
    }

    /// Draws one frame at time `t` (seconds) into the planes.
    fn draw(&mut self, cards: &[Card], t: f64, duration: f64) {
        let (w, h) = (self.w, self.h);
        let i = cards.iter().rposition(|c| t >= c.start).unwrap_or(0);
        let cur = &cards[i];
        // During the last moments of a card the next one wipes in from the top.
        let (next, boundary) = match cards.get(i + 1) {
            Some(n) if t > cur.end - TRANSITION_S => {
                let p = ((t - (cur.end - TRANSITION_S)) / TRANSITION_S).clamp(0.0, 1.0);
                let eased = p * p * (3.0 - 2.0 * p);
                (n, (eased * h as f64) as usize)
            }
            _ => (cur, 0),
        };
        let card_at = |row: usize| if row < boundary { next } else { cur };
        // A soft light band sweeping down over a still gradient: the background moves, yet most
        // macroblocks of a frame stay identical to the last one, which the encoder skips
        // cheaply. Each row is one value, so drawing stays a memset per row.
        let band = ((t / 3.0).fract()) * h as f64 * 1.4 - h as f64 * 0.2;
        for row in 0..h {
            let c = card_at(row);
            let g = row as f64 / h as f64;
            let mut yv = lerp(c.palette[0].0, c.palette[1].0, g);
            let dist = (row as f64 - band).abs();
            if dist < 180.0 {
                yv = yv.saturating_add((28.0 * (1.0 - dist / 180.0)) as u8);
            }
            self.y[row * w..(row + 1) * w].fill(yv);
        }
        for row in 0..h / 2 {
            let c = card_at(row * 2);
            let g = (row * 2) as f64 / h as f64;
            self.u[row * w / 2..(row + 1) * w / 2].fill(lerp(c.palette[0].1, c.palette[1].1, g));
            self.v[row * w / 2..(row + 1) * w / 2].fill(lerp(c.palette[0].2, c.palette[1].2, g));
        }
        for row in 0..h {
            let c = card_at(row);
            self.blend_text_row(c, row);
        }
        // Progress bar along the bottom.
        let bar_w = ((t / duration).clamp(0.0, 1.0) * w as f64) as usize;
        for row in h.saturating_sub(14)..h.saturating_sub(4) {
            self.y[row * w..row * w + bar_w].fill(225);
        }
    }

    fn blend_text_row(&mut self, c: &Card, row: usize) {
        const SHADOW: usize = 6;
        let w = self.w;
        let m = &c.mask;
        // Shadow first (offset down-right), then the white text over it.
        for (dy, ink, strength) in [(SHADOW, 16u8, 150u32), (0, 240u8, 255u32)] {
            if row < c.y + dy || row >= c.y + dy + m.h {
                continue;
            }
            let my = row - c.y - dy;
            let dx = dy;
            let src = &m.data[my * m.w..(my + 1) * m.w];
            let dst = &mut self.y[row * w..(row + 1) * w];
            for (mx, &a) in src.iter().enumerate() {
                if a == 0 {
                    continue;
                }
                let x = c.x + dx + mx;
                if x >= w {
                    break;
                }
                let a = u32::from(a) * strength / 255;
                let p = u32::from(dst[x]);
                dst[x] = ((p * (255 - a) + u32::from(ink) * a) / 255) as u8;
            }
            // Chroma: pull text pixels towards neutral grey so white stays white.
            if dy == 0 && row.is_multiple_of(2) {
                let crow = row / 2;
                for mx in (0..m.w).step_by(2) {
                    let a = u32::from(src[mx]);
                    if a < 128 {
                        continue;
                    }
                    let x = (c.x + mx) / 2;
                    if x >= w / 2 {
                        break;
                    }
                    let at = crow * w / 2 + x;
                    self.u[at] = ((u32::from(self.u[at]) * (255 - a) + 128 * a) / 255) as u8;
                    self.v[at] = ((u32::from(self.v[at]) * (255 - a) + 128 * a) / 255) as u8;
                }
            }
        }
    }
}

/// Renders the storyboard to MP4 bytes.
pub fn render(sb: &Storyboard, spec: &RenderSpec) -> Result<Vec<u8>, MediaError> {
    check(sb, spec)?;
    let cards = layout(sb, spec);
    let (w, h) = (spec.width as usize, spec.height as usize);
    let fps = f64::from(spec.fps);
    let frames = (spec.duration_s * fps).round() as usize;
    let audio = crate::audio::soundtrack(sb.seed, spec.duration_s)?;
    let mut writer = H264Writer::new(spec.width, spec.height, spec.fps, 30, audio)?;
    let mut planes = Planes::new(w, h);
    for i in 0..frames {
        planes.draw(&cards, i as f64 / fps, spec.duration_s);
        writer.push(&planes.y, &planes.u, &planes.v)?;
    }
    writer.finish()
}
