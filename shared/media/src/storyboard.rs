//! The built-in `storyboard` provider's renderer: one moving gradient background per beat with
//! wipe transitions, the hook as a title from the first frame, word-timed captions (see
//! `captions`) and a progress bar, encoded as H.264 (OpenH264, built from source) in a
//! fast-start MP4 with its sound (AAC-LC, see `audio`): the voice over a music bed, or the bed
//! alone. With a voice, each beat lasts as long as its speech. Everything is drawn straight
//! into the I420 planes, so a frame costs a few memsets plus the caption blend.

use serde::{Deserialize, Serialize};

use crate::MediaError;
use crate::captions::{self, CaptionTrack, Cue};
use crate::h264_writer::H264Writer;
use crate::speech::{Speech, Word};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Beat {
    pub text: String,
    /// Relative weight of this beat's time on screen.
    pub duration_s: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Storyboard {
    /// The first card: its title is on screen from the first frame until its beat ends (two
    /// seconds, or as long as the voice takes to say it).
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
/// When the voice starts: a beat of music first, so the first word is not clipped by a
/// player that fades in.
pub const VOICE_AT_S: f64 = 0.3;
/// The voice ends at least this long before the video does.
const VOICE_TAIL_S: f64 = 0.5;

/// A card's time on screen: its background, and the words said over it.
struct Card {
    palette: [(u8, u8, u8); 2],
    start: f64,
    end: f64,
}

/// What the renderer made: the MP4, and the captions burned into it as cues (for `.srt` and
/// `.vtt` files beside it).
#[derive(Clone, Debug)]
pub struct Rendered {
    pub mp4: Vec<u8>,
    pub cues: Vec<Cue>,
    /// Words the voice says in the video (a script too long for the video is cut at the last
    /// beat that fits); 0 without a voice.
    pub spoken_words: usize,
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

/// The cards' texts in order: the hook, then the beats.
fn card_texts(sb: &Storyboard) -> Vec<&str> {
    std::iter::once(sb.hook.as_str())
        .chain(sb.beats.iter().map(|b| b.text.as_str()))
        .collect()
}

/// What a voice reads for this storyboard: the hook and the beats, one after another. Its
/// words are the cards' words, so the voice's timings map back onto the cards.
pub fn script(sb: &Storyboard) -> String {
    card_texts(sb)
        .iter()
        .flat_map(|t| t.split_whitespace())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The cards and every word on a timeline.
struct Timeline {
    /// (start, end) of each card shown.
    cards: Vec<(f64, f64)>,
    /// Every word shown, with when it is (or would be) said, in video time.
    words: Vec<Word>,
    /// Index in `words` of each card's first word.
    breaks: Vec<usize>,
    /// How much of the speech is used (s from its start); `None` without a voice.
    speech_used_s: Option<f64>,
}

/// Cards timed by the speech: each starts just before its first word is said, and the video
/// keeps the beats whose speech ends in time.
fn timed_by_speech(sb: &Storyboard, spec: &RenderSpec, speech: &Speech) -> Timeline {
    let counts: Vec<usize> = card_texts(sb)
        .iter()
        .map(|t| t.split_whitespace().count())
        .collect();
    let last_end = spec.duration_s - VOICE_TAIL_S;
    let at = |w: &Word| Word {
        text: w.text.clone(),
        start_s: w.start_s + VOICE_AT_S,
        end_s: w.end_s + VOICE_AT_S,
    };
    let mut words: Vec<Word> = Vec::new();
    let mut breaks = Vec::new();
    let mut first = 0;
    for (k, n) in counts.iter().enumerate() {
        let card: Vec<Word> = speech.words[first..first + n].iter().map(at).collect();
        first += n;
        let fits = card.last().is_none_or(|w| w.end_s <= last_end);
        if !fits {
            if k == 0 {
                // A hook too long to say in time: keep the words of it that fit.
                breaks.push(0);
                words.extend(card.into_iter().take_while(|w| w.end_s <= last_end));
            }
            break;
        }
        breaks.push(words.len());
        words.extend(card);
    }
    let mut cards: Vec<(f64, f64)> = Vec::new();
    for (k, &b) in breaks.iter().enumerate() {
        let start = if k == 0 {
            0.0
        } else {
            let prev = cards[k - 1].0;
            words
                .get(b)
                .map_or(prev, |w| (w.start_s - 0.2).max(prev + 0.1))
        };
        if let Some(last) = cards.last_mut() {
            last.1 = start;
        }
        cards.push((start, spec.duration_s));
    }
    // A word ends where the next one starts (or where the sound ends), so cutting at the last
    // kept word's end never clips the first dropped one.
    let used = words
        .last()
        .map_or(0.0, |w| (w.end_s - VOICE_AT_S).max(0.0));
    Timeline {
        cards,
        words,
        breaks,
        speech_used_s: Some(used),
    }
}

/// Cards timed by their weights (the hook first for two seconds) and each card's words
/// spread over it by length, at reading pace: what a video without a voice shows.
fn timed_by_weight(sb: &Storyboard, spec: &RenderSpec) -> Timeline {
    let hook_end = if sb.beats.is_empty() {
        spec.duration_s
    } else {
        HOOK_S.min(spec.duration_s / 2.0)
    };
    let mut cards = vec![(0.0, hook_end)];
    let total: f64 = sb.beats.iter().map(|b| b.duration_s).sum();
    let mut t = hook_end;
    for b in &sb.beats {
        let d = (spec.duration_s - hook_end) * b.duration_s / total;
        cards.push((t, t + d));
        t += d;
    }
    let mut words = Vec::new();
    let mut breaks = Vec::new();
    for (text, &(start, end)) in card_texts(sb).iter().zip(&cards) {
        breaks.push(words.len());
        let parts: Vec<&str> = text.split_whitespace().collect();
        let weight = |w: &str| w.chars().count() as f64 + 2.0;
        let sum: f64 = parts.iter().map(|w| weight(w)).sum();
        let (from, span) = (start + 0.1, (end - start - 0.2).max(0.0));
        let mut at = from;
        for p in parts {
            let d = span * weight(p) / sum;
            words.push(Word {
                text: p.to_owned(),
                start_s: at,
                end_s: at + d * 0.9,
            });
            at += d;
        }
    }
    Timeline {
        cards,
        words,
        breaks,
        speech_used_s: None,
    }
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

    /// Draws one frame at time `t` (seconds) into the planes: the card's background, the
    /// next card wiping in over its last moments, the captions, and the progress bar.
    fn draw(&mut self, cards: &[Card], captions: &CaptionTrack, t: f64, duration: f64) {
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
        // The gradient drifts slowly up and down and a soft light band sweeps over it: the
        // background moves, yet each row stays one value (a memset), and most macroblocks
        // change little from one frame to the next, which the encoder codes cheaply.
        let drift = 0.18 * (t * 0.7).sin();
        let gradient = |row: usize| ((row as f64 / h as f64) + drift).clamp(0.0, 1.0);
        let band = ((t / 3.0).fract()) * h as f64 * 1.4 - h as f64 * 0.2;
        for row in 0..h {
            let c = card_at(row);
            let mut yv = lerp(c.palette[0].0, c.palette[1].0, gradient(row));
            let dist = (row as f64 - band).abs();
            if dist < 180.0 {
                yv = yv.saturating_add((28.0 * (1.0 - dist / 180.0)) as u8);
            }
            self.y[row * w..(row + 1) * w].fill(yv);
        }
        for row in 0..h / 2 {
            let c = card_at(row * 2);
            let g = gradient(row * 2);
            self.u[row * w / 2..(row + 1) * w / 2].fill(lerp(c.palette[0].1, c.palette[1].1, g));
            self.v[row * w / 2..(row + 1) * w / 2].fill(lerp(c.palette[0].2, c.palette[1].2, g));
        }
        captions.draw(t, w, h, &mut self.y, &mut self.u, &mut self.v);
        // Progress bar along the bottom.
        let bar_w = ((t / duration).clamp(0.0, 1.0) * w as f64) as usize;
        for row in h.saturating_sub(14)..h.saturating_sub(4) {
            self.y[row * w..row * w + bar_w].fill(225);
        }
    }
}

/// The captions of `sb` over a video `duration_s` long with no voice: its words at reading
/// pace over beats timed by their weights, and the hook as a title until its beat ends. What
/// provider clips, which come without our voice, are captioned with.
pub fn reading_captions(sb: &Storyboard, duration_s: f64) -> (Vec<Cue>, f64) {
    let t = timed_by_weight(sb, &RenderSpec::vertical(duration_s));
    let title_end = t.cards.first().map_or(duration_s, |c| c.1);
    (captions::cues(&t.words, &t.breaks, duration_s), title_end)
}

/// The first `used_s` of `speech` from [`VOICE_AT_S`] over `under` (else the bed of
/// `seed`), mastered.
fn voice_track(
    seed: u64,
    duration_s: f64,
    speech: &Speech,
    used_s: f64,
    under: Option<crate::audio::Stereo>,
) -> Result<crate::audio::AacTrack, MediaError> {
    let keep = ((used_s * f64::from(speech.sample_rate)) as usize).min(speech.samples.len());
    let said = Speech {
        sample_rate: speech.sample_rate,
        samples: speech.samples[..keep].to_vec(),
        words: Vec::new(),
    };
    match under {
        Some(sound) => crate::audio::narrated_over(sound, &said, VOICE_AT_S),
        None => crate::audio::narrated(seed, duration_s, &said, VOICE_AT_S),
    }
}

/// Provider clips narrated: `speech` reading [`script`] of `sb` over a video `duration_s`
/// long gives the captions (the voice's own word timings, beats kept while their speech ends
/// in time), the hook's title end, and the sound (the voice over `under`, the clips' own
/// sound, else over the music bed; mastered).
pub fn spoken_captions(
    sb: &Storyboard,
    duration_s: f64,
    speech: &Speech,
    under: Option<crate::audio::Stereo>,
) -> Result<(Vec<Cue>, f64, crate::audio::AacTrack), MediaError> {
    speech
        .check(&script(sb))
        .map_err(|m| MediaError::Unsupported(format!("voice: {m}")))?;
    let spec = RenderSpec::vertical(duration_s);
    let t = timed_by_speech(sb, &spec, speech);
    let title_end = t.cards.first().map_or(duration_s, |c| c.1);
    let cues = captions::cues(&t.words, &t.breaks, duration_s);
    let audio = voice_track(
        sb.seed,
        duration_s,
        speech,
        t.speech_used_s.unwrap_or(0.0),
        under,
    )?;
    Ok((cues, title_end, audio))
}

/// Renders the storyboard to MP4 bytes, without a voice (captions at reading pace).
pub fn render(sb: &Storyboard, spec: &RenderSpec) -> Result<Vec<u8>, MediaError> {
    render_narrated(sb, spec, None).map(|r| r.mp4)
}

/// Renders the storyboard with `speech` reading [`script`]: cards and captions follow the
/// voice's own word timings, and the voice is mixed over the music bed.
pub fn render_narrated(
    sb: &Storyboard,
    spec: &RenderSpec,
    speech: Option<&Speech>,
) -> Result<Rendered, MediaError> {
    check(sb, spec)?;
    if let Some(s) = speech {
        s.check(&script(sb))
            .map_err(|m| MediaError::Unsupported(format!("voice: {m}")))?;
    }
    let timeline = match speech {
        Some(s) => timed_by_speech(sb, spec, s),
        None => timed_by_weight(sb, spec),
    };
    let cards: Vec<Card> = timeline
        .cards
        .iter()
        .enumerate()
        .map(|(i, &(start, end))| Card {
            palette: PALETTES[(sb.seed as usize + i) % PALETTES.len()],
            start,
            end,
        })
        .collect();
    let cues = captions::cues(&timeline.words, &timeline.breaks, spec.duration_s);
    let (w, h) = (spec.width as usize, spec.height as usize);
    let title_end = cards.first().map_or(spec.duration_s, |c| c.end);
    let track = CaptionTrack::new(&cues, Some((sb.hook.as_str(), title_end)), w, h);
    let audio = match (speech, timeline.speech_used_s) {
        (Some(s), Some(used)) => voice_track(sb.seed, spec.duration_s, s, used, None)?,
        _ => crate::audio::soundtrack(sb.seed, spec.duration_s)?,
    };
    let fps = f64::from(spec.fps);
    let frames = (spec.duration_s * fps).round() as usize;
    let mut writer = H264Writer::new(spec.width, spec.height, spec.fps, 30, audio)?;
    let mut planes = Planes::new(w, h);
    for i in 0..frames {
        planes.draw(&cards, &track, i as f64 / fps, spec.duration_s);
        writer.push(&planes.y, &planes.u, &planes.v)?;
    }
    Ok(Rendered {
        mp4: writer.finish()?,
        cues,
        spoken_words: if speech.is_some() {
            timeline.words.len()
        } else {
            0
        },
    })
}
