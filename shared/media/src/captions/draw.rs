//! Caption layers: text shaped by `cosmic-text` (complex scripts, bidi, font fallback),
//! rasterised by `swash` (colour emoji from CBDT fonts), in a bold white with the spoken word
//! in yellow and a black outline, then blended into the frame's I420 planes.
//!
//! Fonts: DejaVu Sans Bold is compiled in (Latin, Greek, Cyrillic, Arabic, Hebrew); Noto Sans
//! CJK and Noto Color Emoji are used when installed (Debian `fonts-noto-cjk`,
//! `fonts-noto-color-emoji`; the test command installs both). A character no font covers is
//! left out rather than drawn as an empty box.

use std::sync::{Mutex, OnceLock};

use cosmic_text::{
    Align, Attrs, Buffer, Color, Family, FontSystem, Metrics, Shaping, SwashCache, Weight, Wrap,
};

/// DejaVu Sans Bold (Bitstream Vera licence, see assets/DejaVu-LICENSE.txt).
static BUNDLED: &[u8] = include_bytes!("../assets/DejaVuSans-Bold.ttf");
const FAMILY: &str = "DejaVu Sans";

/// Fonts taken from the system when they are there, by path, so what a caption looks like
/// does not depend on fontconfig's settings. `VIRAL_FONT_DIRS` (colon-separated) adds more.
const SYSTEM_FONTS: [&str; 4] = [
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansArabic-Bold.ttf",
];

pub(crate) const WHITE: [u8; 3] = [255, 255, 255];
pub(crate) const YELLOW: [u8; 3] = [255, 224, 26];

struct Fonts {
    system: FontSystem,
    cache: SwashCache,
}

fn fonts() -> &'static Mutex<Fonts> {
    static FONTS: OnceLock<Mutex<Fonts>> = OnceLock::new();
    FONTS.get_or_init(|| {
        let mut db = cosmic_text::fontdb::Database::new();
        db.load_font_data(BUNDLED.to_vec());
        for path in SYSTEM_FONTS {
            if std::path::Path::new(path).exists() {
                // A font file that does not parse is skipped by fontdb: captions then fall
                // back to what else there is.
                let _ = db.load_font_file(path);
            }
        }
        if let Ok(dirs) = std::env::var("VIRAL_FONT_DIRS") {
            for dir in dirs.split(':').filter(|d| !d.is_empty()) {
                db.load_fonts_dir(dir);
            }
        }
        db.set_sans_serif_family(FAMILY);
        Mutex::new(Fonts {
            system: FontSystem::new_with_locale_and_db("en-US".into(), db),
            cache: SwashCache::new(),
        })
    })
}

/// Families the caption engine has (for `viral doctor`-style reports and tests).
pub fn font_families() -> Vec<String> {
    let fonts = fonts()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut names: Vec<String> = fonts
        .system
        .db()
        .faces()
        .filter_map(|f| f.families.first().map(|(n, _)| n.clone()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// An RGBA image with straight alpha.
#[derive(Clone, Debug, Default)]
pub struct Layer {
    pub w: usize,
    pub h: usize,
    pub rgba: Vec<u8>,
}

impl Layer {
    fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            rgba: vec![0; w * h * 4],
        }
    }

    pub fn alpha(&self, x: usize, y: usize) -> u8 {
        self.rgba[(y * self.w + x) * 4 + 3]
    }

    /// `src` over this layer at (x, y).
    fn put(&mut self, x: i32, y: i32, rgb: [u8; 3], a: u8) {
        if a == 0 || x < 0 || y < 0 || x as usize >= self.w || y as usize >= self.h {
            return;
        }
        let i = (y as usize * self.w + x as usize) * 4;
        let (sa, da) = (u32::from(a), u32::from(self.rgba[i + 3]));
        let out_a = sa + da * (255 - sa) / 255;
        if out_a == 0 {
            return;
        }
        for (dst, src) in self.rgba[i..i + 3].iter_mut().zip(rgb) {
            let s = u32::from(src) * sa;
            let d = u32::from(*dst) * da * (255 - sa) / 255;
            *dst = ((s + d) / out_a) as u8;
        }
        self.rgba[i + 3] = out_a as u8;
    }

    /// The smallest rectangle holding every visible pixel: (x, y, w, h).
    fn bounds(&self) -> Option<(usize, usize, usize, usize)> {
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        for y in 0..self.h {
            for x in 0..self.w {
                if self.alpha(x, y) > 0 {
                    x0 = x0.min(x);
                    y0 = y0.min(y);
                    x1 = x1.max(x);
                    y1 = y1.max(y);
                }
            }
        }
        (x0 != usize::MAX).then(|| (x0, y0, x1 - x0 + 1, y1 - y0 + 1))
    }

    fn crop(&self, (x, y, w, h): (usize, usize, usize, usize)) -> Layer {
        let mut out = Layer::new(w, h);
        for row in 0..h {
            let src = ((y + row) * self.w + x) * 4;
            out.rgba[row * w * 4..(row + 1) * w * 4].copy_from_slice(&self.rgba[src..src + w * 4]);
        }
        out
    }
}

/// Text to draw: words, each in its own colour.
pub struct Styled<'a> {
    pub words: Vec<(&'a str, [u8; 3])>,
    /// Font size to start from (px); it shrinks until the text fits.
    pub px: f32,
    pub max_w: f32,
    pub max_lines: usize,
}

/// Lays `text` out at `px`: the buffer, its line count and widest line.
fn lay_out(fs: &mut FontSystem, text: &Styled<'_>, px: f32) -> (Buffer, usize, f32) {
    let mut buf = Buffer::new(fs, Metrics::new(px, px * 1.18));
    buf.set_wrap(Wrap::WordOrGlyph);
    buf.set_size(Some(text.max_w), None);
    let base = Attrs::new()
        .family(Family::Name(FAMILY))
        .weight(Weight::BOLD);
    let mut spans: Vec<(&str, Attrs<'_>)> = Vec::new();
    for (i, (word, rgb)) in text.words.iter().enumerate() {
        if i > 0 {
            spans.push((" ", base.clone()));
        }
        spans.push((word, base.clone().color(Color::rgb(rgb[0], rgb[1], rgb[2]))));
    }
    buf.set_rich_text(spans, &base, Shaping::Advanced, Some(Align::Center));
    buf.shape_until_scroll(fs, false);
    let (lines, widest) = buf
        .layout_runs()
        .fold((0, 0.0f32), |(n, w), run| (n + 1, w.max(run.line_w)));
    (buf, lines, widest)
}

/// Renders `text` with a black outline `stroke` px wide; `None` when nothing is visible.
pub fn render(text: &Styled<'_>, stroke: usize) -> Option<Layer> {
    let mut guard = fonts()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Fonts { system, cache } = &mut *guard;
    // Shrink until the text fits the lines it may take: long text never overflows.
    let mut px = text.px;
    let (buf, lines) = loop {
        let (buf, lines, widest) = lay_out(system, text, px);
        let fits = lines <= text.max_lines && widest <= text.max_w + 0.5;
        if fits || px <= text.px * 0.3 {
            break (buf, lines);
        }
        px *= 0.88;
    };
    let pad = stroke + 2;
    let line_h = px * 1.18;
    let w = text.max_w.ceil() as usize + 2 * pad;
    let h = (line_h * lines.max(1) as f32).ceil() as usize + 2 * pad;
    let mut fill = Layer::new(w, h);
    for run in buf.layout_runs() {
        for glyph in run.glyphs {
            // Glyph 0 is the font's "missing" box: no font has this character.
            if glyph.glyph_id == 0 {
                continue;
            }
            let physical = glyph.physical((pad as f32, run.line_y + pad as f32), 1.0);
            let base = glyph.color_opt.unwrap_or(Color::rgb(255, 255, 255));
            cache.with_pixels(system, physical.cache_key, base, |x, y, c| {
                fill.put(physical.x + x, physical.y + y, [c.r(), c.g(), c.b()], c.a());
            });
        }
    }
    let outline = dilate(&fill, stroke);
    let mut out = Layer::new(w, h);
    for (px, a) in out.rgba.chunks_exact_mut(4).zip(&outline) {
        px[3] = *a;
    }
    for y in 0..h {
        for x in 0..w {
            let i = (y * w + x) * 4;
            let a = fill.rgba[i + 3];
            out.put(
                x as i32,
                y as i32,
                [fill.rgba[i], fill.rgba[i + 1], fill.rgba[i + 2]],
                a,
            );
        }
    }
    out.bounds().map(|b| out.crop(b))
}

/// The alpha of `layer` grown by `r` px in every direction (a square max filter, done as two
/// passes): the outline under the text.
fn dilate(layer: &Layer, r: usize) -> Vec<u8> {
    let (w, h) = (layer.w, layer.h);
    let src: Vec<u8> = (0..w * h).map(|i| layer.rgba[i * 4 + 3]).collect();
    if r == 0 {
        return src;
    }
    let mut rows = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let (a, b) = (x.saturating_sub(r), (x + r).min(w - 1));
            rows[y * w + x] = src[y * w + a..=y * w + b]
                .iter()
                .copied()
                .max()
                .unwrap_or(0);
        }
    }
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        let (a, b) = (y.saturating_sub(r), (y + r).min(h - 1));
        for x in 0..w {
            out[y * w + x] = (a..=b).map(|yy| rows[yy * w + x]).max().unwrap_or(0);
        }
    }
    out
}

/// BT.601 limited-range YUV of an RGB colour (what the encoder is told the frames are).
fn yuv(rgb: [u8; 3]) -> (u8, u8, u8) {
    let [r, g, b] = rgb.map(i32::from);
    let y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
    let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
    let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
    (y as u8, u as u8, v as u8)
}

fn mix(dst: &mut u8, src: u8, a: u32) {
    *dst = ((u32::from(*dst) * (255 - a) + u32::from(src) * a) / 255) as u8;
}

/// A layer converted once to the frame's colour space, so a frame only blends: Y and alpha
/// per pixel, U and V per pixel too (the blend takes the even ones).
#[derive(Clone, Debug, Default)]
pub(crate) struct Yuva {
    w: usize,
    h: usize,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
    a: Vec<u8>,
}

impl Yuva {
    pub(crate) fn of(layer: &Layer) -> Self {
        let n = layer.w * layer.h;
        let mut out = Self {
            w: layer.w,
            h: layer.h,
            y: Vec::with_capacity(n),
            u: Vec::with_capacity(n),
            v: Vec::with_capacity(n),
            a: Vec::with_capacity(n),
        };
        for px in layer.rgba.chunks_exact(4) {
            let (y, u, v) = yuv([px[0], px[1], px[2]]);
            out.y.push(y);
            out.u.push(u);
            out.v.push(v);
            out.a.push(px[3]);
        }
        out
    }
}

/// Blends `layer` into I420 planes of a `w × h` frame with its top-left at (x, y); whatever
/// falls outside the frame is cut.
#[allow(clippy::too_many_arguments)]
pub(crate) fn blend_i420(
    layer: &Yuva,
    x: usize,
    y: usize,
    w: usize,
    h: usize,
    py: &mut [u8],
    pu: &mut [u8],
    pv: &mut [u8],
) {
    let cols = layer.w.min(w.saturating_sub(x));
    for ly in 0..layer.h.min(h.saturating_sub(y)) {
        let fy = y + ly;
        let row = ly * layer.w;
        let alpha = &layer.a[row..row + cols];
        let dst = &mut py[fy * w + x..fy * w + x + cols];
        for ((d, &a), &src) in dst.iter_mut().zip(alpha).zip(&layer.y[row..row + cols]) {
            if a != 0 {
                mix(d, src, u32::from(a));
            }
        }
        if fy.is_multiple_of(2) {
            let crow = (fy / 2) * (w / 2);
            for lx in (0..cols).filter(|lx| (x + lx).is_multiple_of(2)) {
                let a = u32::from(alpha[lx]);
                if a != 0 {
                    let c = crow + (x + lx) / 2;
                    mix(&mut pu[c], layer.u[row + lx], a);
                    mix(&mut pv[c], layer.v[row + lx], a);
                }
            }
        }
    }
}
