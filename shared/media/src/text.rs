//! Text cards: word-wrapped, centred lines rasterised once into a coverage mask.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};

/// DejaVu Sans Bold (Bitstream Vera licence, see assets/DejaVu-LICENSE.txt).
static FONT_BYTES: &[u8] = include_bytes!("assets/DejaVuSans-Bold.ttf");

pub(crate) fn font() -> FontRef<'static> {
    // The font is compiled in and known good; a failure here is a build defect.
    FontRef::try_from_slice(FONT_BYTES).unwrap_or_else(|_| unreachable!("embedded font parses"))
}

/// Coverage 0–255 per pixel, `w × h`.
pub(crate) struct Mask {
    pub w: usize,
    pub h: usize,
    pub data: Vec<u8>,
}

fn width_of(font: &FontRef<'_>, scale: PxScale, s: &str) -> f32 {
    let f = font.as_scaled(scale);
    let mut w = 0.0;
    let mut prev = None;
    for c in s.chars() {
        let g = f.glyph_id(c);
        if let Some(p) = prev {
            w += f.kern(p, g);
        }
        w += f.h_advance(g);
        prev = Some(g);
    }
    w
}

fn wrap(font: &FontRef<'_>, scale: PxScale, text: &str, max_w: f32) -> Option<Vec<String>> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if width_of(font, scale, word) > max_w {
            return None;
        }
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if width_of(font, scale, &candidate) <= max_w {
            line = candidate;
        } else {
            lines.push(std::mem::replace(&mut line, word.to_owned()));
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    Some(lines)
}

/// Lays `text` out in at most `max_lines` lines of at most `max_w` pixels, at the largest size
/// from `max_px` down that fits, and rasterises it.
pub(crate) fn render(
    font: &FontRef<'_>,
    text: &str,
    max_px: f32,
    max_w: f32,
    max_lines: usize,
) -> Mask {
    let mut px = max_px;
    let lines = loop {
        let scale = PxScale::from(px);
        match wrap(font, scale, text, max_w) {
            Some(l) if l.len() <= max_lines || px <= 24.0 => break l,
            _ => px *= 0.9,
        }
    };
    let scale = PxScale::from(px);
    let sf = font.as_scaled(scale);
    let line_h = (sf.ascent() - sf.descent() + sf.line_gap()) * 1.1;
    let w = max_w.ceil() as usize;
    let h = ((line_h * lines.len() as f32).ceil() as usize).max(1);
    let mut data = vec![0u8; w * h];
    for (i, line) in lines.iter().enumerate() {
        let lw = width_of(font, scale, line);
        let mut x = (max_w - lw) / 2.0;
        let baseline = line_h * i as f32 + sf.ascent();
        let mut prev = None;
        for c in line.chars() {
            let id = sf.glyph_id(c);
            if let Some(p) = prev {
                x += sf.kern(p, id);
            }
            let glyph = id.with_scale_and_position(scale, point(x, baseline));
            x += sf.h_advance(id);
            prev = Some(id);
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let b = outline.px_bounds();
            outline.draw(|gx, gy, cov| {
                let px = b.min.x as i64 + i64::from(gx);
                let py = b.min.y as i64 + i64::from(gy);
                if px >= 0 && py >= 0 && (px as usize) < w && (py as usize) < h {
                    let at = py as usize * w + px as usize;
                    let v = (cov.clamp(0.0, 1.0) * 255.0) as u8;
                    data[at] = data[at].max(v);
                }
            });
        }
    }
    Mask { w, h, data }
}
