//! Word-timed captions burned into the picture: the words being spoken, one to three at a
//! time, large, bold and outlined, the current word highlighted, inside the area every
//! platform leaves clear of its buttons and overlays; and the hook as a title from the first
//! frame. The same cues are exported as `.srt` and `.vtt`.

mod cues;
mod draw;

pub use cues::{Cue, cues, srt, vtt};
pub use draw::{Layer, font_families};

use crate::rules::Platform;
use draw::{Styled, WHITE, YELLOW};

/// The share of the frame a platform's own interface covers on each side, where captions
/// must not go: TikTok's right-hand buttons and bottom caption band, Reels' and Shorts'
/// overlays. Commonly cited figures for a 1080×1920 frame (no platform publishes exact
/// ones), rounded outwards.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SafeArea {
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl SafeArea {
    pub fn of(platform: Platform) -> Self {
        match platform {
            Platform::Tiktok => Self {
                left: 0.05,
                right: 0.13,
                top: 0.08,
                bottom: 0.22,
            },
            Platform::InstagramReels => Self {
                left: 0.05,
                right: 0.11,
                top: 0.11,
                bottom: 0.20,
            },
            Platform::YoutubeShorts => Self {
                left: 0.05,
                right: 0.12,
                top: 0.08,
                bottom: 0.20,
            },
        }
    }

    /// What every platform leaves clear: one video is made for all three.
    pub fn common() -> Self {
        Platform::ALL
            .iter()
            .map(|p| Self::of(*p))
            .fold(Self::of(Platform::Tiktok), |a, b| Self {
                left: a.left.max(b.left),
                right: a.right.max(b.right),
                top: a.top.max(b.top),
                bottom: a.bottom.max(b.bottom),
            })
    }

    /// (x0, y0, x1, y1) in pixels of a `w × h` frame, x1 and y1 exclusive.
    pub fn rect(&self, w: usize, h: usize) -> (usize, usize, usize, usize) {
        let (wf, hf) = (w as f64, h as f64);
        (
            (wf * self.left).ceil() as usize,
            (hf * self.top).ceil() as usize,
            (wf * (1.0 - self.right)).floor() as usize,
            (hf * (1.0 - self.bottom)).floor() as usize,
        )
    }
}

/// A layer and where it goes in the frame.
#[derive(Clone, Debug)]
pub struct Placed {
    pub layer: Layer,
    /// The layer in the frame's colour space, made once.
    pixels: draw::Yuva,
    pub x: usize,
    pub y: usize,
    pub start_s: f64,
    pub end_s: f64,
}

/// Every caption layer of a video, rendered once, each shown while its word is spoken.
pub struct CaptionTrack {
    pub placed: Vec<Placed>,
}

/// Where a layer `lw × lh` goes: centred on (`cx`, `cy`) and moved inside `area`.
fn place(
    lw: usize,
    lh: usize,
    cx: usize,
    cy: usize,
    area: (usize, usize, usize, usize),
) -> (usize, usize) {
    let (x0, y0, x1, y1) = area;
    let x = cx
        .saturating_sub(lw / 2)
        .clamp(x0, x1.saturating_sub(lw).max(x0));
    let y = cy
        .saturating_sub(lh / 2)
        .clamp(y0, y1.saturating_sub(lh).max(y0));
    (x, y)
}

impl CaptionTrack {
    /// Renders the layers for `cues` and, when given, a `title` shown from 0 until its end.
    pub fn new(cues: &[Cue], title: Option<(&str, f64)>, w: usize, h: usize) -> Self {
        let area = SafeArea::common().rect(w, h);
        let max_w = (area.2 - area.0) as f32 - 0.04 * w as f32;
        let stroke = (w / 150).max(2);
        let mut placed = Vec::new();
        if let Some((text, end_s)) = title {
            let words: Vec<(&str, [u8; 3])> = text.split_whitespace().map(|t| (t, WHITE)).collect();
            let styled = Styled {
                words,
                px: w as f32 * 0.078,
                max_w,
                max_lines: 4,
            };
            if let Some(layer) = draw::render(&styled, stroke) {
                let (x, y) = place(layer.w, layer.h, w / 2, h * 30 / 100, area);
                placed.push(Placed {
                    pixels: draw::Yuva::of(&layer),
                    layer,
                    x,
                    y,
                    start_s: 0.0,
                    end_s,
                });
            }
        }
        for cue in cues {
            let upper: Vec<String> = cue.words.iter().map(|w| w.text.to_uppercase()).collect();
            for (i, word) in cue.words.iter().enumerate() {
                // Words said at the same moment (an unread emoji after its word) share the
                // first one's highlight.
                if i > 0 && word.start_s <= cue.words[i - 1].start_s {
                    continue;
                }
                let words = upper
                    .iter()
                    .enumerate()
                    .map(|(j, t)| (t.as_str(), if j == i { YELLOW } else { WHITE }))
                    .collect();
                let styled = Styled {
                    words,
                    px: w as f32 * 0.085,
                    max_w,
                    max_lines: 2,
                };
                let Some(layer) = draw::render(&styled, stroke) else {
                    continue;
                };
                let start_s = if i == 0 { cue.start_s } else { word.start_s };
                let end_s = cue.words[i + 1..]
                    .iter()
                    .map(|n| n.start_s)
                    .find(|s| *s > word.start_s)
                    .unwrap_or(cue.end_s);
                let (x, y) = place(layer.w, layer.h, w / 2, h * 62 / 100, area);
                placed.push(Placed {
                    pixels: draw::Yuva::of(&layer),
                    layer,
                    x,
                    y,
                    start_s,
                    end_s,
                });
            }
        }
        Self { placed }
    }

    /// Draws what is on screen at `t` into the I420 planes of a `w × h` frame.
    #[allow(clippy::too_many_arguments)]
    pub fn draw(&self, t: f64, w: usize, h: usize, y: &mut [u8], u: &mut [u8], v: &mut [u8]) {
        for p in self.placed.iter().filter(|p| p.start_s <= t && t < p.end_s) {
            draw::blend_i420(&p.pixels, p.x, p.y, w, h, y, u, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coverage(layer: &Layer) -> usize {
        (0..layer.h)
            .flat_map(|y| (0..layer.w).map(move |x| (x, y)))
            .filter(|&(x, y)| layer.alpha(x, y) > 128)
            .count()
    }

    #[test]
    fn the_common_safe_area_is_inside_every_platforms() {
        let c = SafeArea::common().rect(1080, 1920);
        for p in Platform::ALL {
            let r = SafeArea::of(p).rect(1080, 1920);
            assert!(
                c.0 >= r.0 && c.1 >= r.1 && c.2 <= r.2 && c.3 <= r.3,
                "{p:?}"
            );
        }
    }

    #[test]
    fn long_text_shrinks_to_fit_and_stays_inside_the_safe_area() {
        let long = "Pneumonoultramicroscopicsilicovolcanoconiosis supercalifragilistic";
        let cue = cues(
            &[crate::speech::Word {
                text: long.into(),
                start_s: 0.0,
                end_s: 1.0,
            }],
            &[],
            2.0,
        );
        let track = CaptionTrack::new(&cue, Some((long, 1.0)), 1080, 1920);
        let (x0, y0, x1, y1) = SafeArea::common().rect(1080, 1920);
        assert_eq!(track.placed.len(), 2);
        for p in &track.placed {
            assert!(p.x >= x0 && p.y >= y0, "{} {}", p.x, p.y);
            assert!(p.x + p.layer.w <= x1 && p.y + p.layer.h <= y1);
        }
    }

    #[test]
    fn latin_and_arabic_render_glyphs_not_boxes() {
        let draw = |t: &str| {
            draw::render(
                &Styled {
                    words: vec![(t, WHITE)],
                    px: 90.0,
                    max_w: 900.0,
                    max_lines: 2,
                },
                0,
            )
            .map_or(0, |l| coverage(&l))
        };
        assert!(draw("HELLO") > 2_000);
        assert!(draw("مرحبا") > 1_000, "Arabic comes from the bundled font");
        // A character no font has is left out, not drawn as a box.
        assert_eq!(draw("\u{10FFFD}"), 0);
    }

    /// Colour emoji and CJK come from the Noto fonts `tests/run` installs.
    #[test]
    fn emoji_in_colour_and_cjk_render_from_the_installed_fonts() {
        let families = font_families();
        for needed in ["Noto Color Emoji", "Noto Sans CJK SC"] {
            assert!(
                families.iter().any(|f| f == needed),
                "{needed} is not installed: run the test command `tests/run` (it installs \
                 fonts-noto-color-emoji and fonts-noto-cjk); have {families:?}"
            );
        }
        let layer = |t: &str| {
            draw::render(
                &Styled {
                    words: vec![(t, WHITE)],
                    px: 90.0,
                    max_w: 900.0,
                    max_lines: 2,
                },
                0,
            )
            .expect("something drawn")
        };
        let fire = layer("🔥");
        let coloured = fire
            .rgba
            .chunks_exact(4)
            .filter(|p| p[3] > 200 && p[0] > 200 && p[2] < 100)
            .count();
        assert!(
            coloured > 500,
            "{coloured} orange pixels: the emoji is in colour"
        );
        let cjk = layer("你好世界");
        assert!(coverage(&cjk) > 4_000, "{}", coverage(&cjk));
        assert!(cjk.w > 250, "four glyphs side by side, {} px", cjk.w);
        // Mixed in one caption, with the highlight colour, shaped right to left for Arabic.
        let mixed = layer("🚀 今晚 مرحبا GO");
        assert!(coverage(&mixed) > 6_000);
    }
}
