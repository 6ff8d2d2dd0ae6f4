//! Caption cues from word timings: one to three words on screen at a time, broken after
//! punctuation and never across two beats, and the same cues written as SubRip and WebVTT.

use serde::{Deserialize, Serialize};

use crate::speech::Word;

/// Most words on screen at once.
const MAX_WORDS: usize = 3;
/// Most characters of a cue of several words (one longer word is a cue of its own).
const MAX_CHARS: usize = 18;
/// How long a cue stays after its last word when a pause follows it (s).
const LINGER_S: f64 = 0.35;

/// Words shown together, each highlighted while it is spoken.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cue {
    pub start_s: f64,
    pub end_s: f64,
    pub words: Vec<Word>,
}

impl Cue {
    pub fn text(&self) -> String {
        let words: Vec<&str> = self.words.iter().map(|w| w.text.as_str()).collect();
        words.join(" ")
    }
}

fn ends_phrase(word: &str) -> bool {
    word.ends_with([
        '.', ',', '!', '?', ';', ':', '…', '—', '。', '、', '！', '？', '،', '؟',
    ])
}

/// Cues for `words` (times in the video), starting a new cue at every index in `breaks` (the
/// first word of each beat). No cue outlasts `end_s` or overlaps the next one.
pub fn cues(words: &[Word], breaks: &[usize], end_s: f64) -> Vec<Cue> {
    let mut groups: Vec<Vec<Word>> = Vec::new();
    let mut cur: Vec<Word> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        // A word said at the same moment as the one before (an emoji the voice does not
        // read) stays with it: a cue of its own would last no time and hide that word.
        let prev_start = cur.last().or_else(|| groups.last().and_then(|g| g.last()));
        if prev_start.is_some_and(|p| w.start_s <= p.start_s) {
            match cur.last() {
                Some(_) => cur.push(w.clone()),
                None => {
                    if let Some(g) = groups.last_mut() {
                        g.push(w.clone());
                    }
                }
            }
            continue;
        }
        let chars: usize = cur
            .iter()
            .map(|c| c.text.chars().count() + 1)
            .sum::<usize>()
            + w.text.chars().count();
        let full = cur.len() >= MAX_WORDS || (!cur.is_empty() && chars > MAX_CHARS);
        if !cur.is_empty() && (full || breaks.contains(&i)) {
            groups.push(std::mem::take(&mut cur));
        }
        cur.push(w.clone());
        if ends_phrase(&w.text) {
            groups.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        groups.push(cur);
    }
    let starts: Vec<f64> = groups.iter().map(|g| g[0].start_s).collect();
    groups
        .into_iter()
        .enumerate()
        .filter_map(|(i, words)| {
            let start = words[0].start_s;
            let spoken_end = words.last().map_or(start, |w| w.end_s);
            let next = starts.get(i + 1).copied().unwrap_or(end_s);
            let end = (spoken_end + LINGER_S).min(next).min(end_s);
            (end > start).then_some(Cue {
                start_s: start,
                end_s: end,
                words,
            })
        })
        .collect()
}

fn stamp(t: f64, sep: char) -> String {
    let ms = (t.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}{sep}{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// A cue's text as a caption file may carry it: "-->" would read as a timing line (an arrow
/// reads the same).
fn file_text(c: &Cue) -> String {
    c.text().replace("-->", "→")
}

/// The cues as a SubRip (`.srt`) file.
pub fn srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (i, c) in cues.iter().enumerate() {
        out.push_str(&format!(
            "{}\n{} --> {}\n{}\n\n",
            i + 1,
            stamp(c.start_s, ','),
            stamp(c.end_s, ','),
            file_text(c)
        ));
    }
    out
}

/// The cues as a WebVTT (`.vtt`) file. `&`, `<` and `>` are escaped: WebVTT reads tags.
pub fn vtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for c in cues {
        let text = file_text(c)
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        out.push_str(&format!(
            "{} --> {}\n{}\n\n",
            stamp(c.start_s, '.'),
            stamp(c.end_s, '.'),
            text
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str, step: f64) -> Vec<Word> {
        text.split_whitespace()
            .enumerate()
            .map(|(i, t)| Word {
                text: t.into(),
                start_s: i as f64 * step,
                end_s: i as f64 * step + step * 0.8,
            })
            .collect()
    }

    #[test]
    fn cues_hold_one_to_three_words_and_break_after_punctuation_and_beats() {
        let w = words(
            "Stop scrolling. This tiny habit saves you two hours every week.",
            0.3,
        );
        let c = cues(&w, &[2], 10.0);
        let texts: Vec<String> = c.iter().map(Cue::text).collect();
        assert_eq!(
            texts,
            [
                "Stop scrolling.",
                "This tiny habit",
                "saves you two",
                "hours every week."
            ]
        );
        for pair in c.windows(2) {
            assert!(pair[0].end_s <= pair[1].start_s);
        }
        let c = cues(&w, &[1], 10.0);
        assert_eq!(c[0].text(), "Stop");
    }

    #[test]
    fn an_unspoken_emoji_stays_with_the_word_before_it() {
        let mut w = words("Bye! 🎉 Then more", 0.5);
        w[1].start_s = w[0].start_s;
        w[1].end_s = w[0].end_s;
        let c = cues(&w, &[1], 10.0);
        let texts: Vec<String> = c.iter().map(Cue::text).collect();
        assert_eq!(texts, ["Bye! 🎉", "Then more"]);
    }

    #[test]
    fn a_long_word_is_a_cue_of_its_own_and_nothing_outlasts_the_video() {
        let w = words("An extraordinarily incomprehensible sentence", 1.0);
        let c = cues(&w, &[], 2.5);
        assert_eq!(c[0].text(), "An extraordinarily");
        assert_eq!(c[1].text(), "incomprehensible");
        assert!(c.iter().all(|c| c.end_s <= 2.5));
        assert_eq!(c.len(), 2, "the cue starting at 3 s is past the end");
    }

    #[test]
    fn subrip_and_webvtt_carry_the_same_cues() {
        let w = words("Hello there, friend --> go <b>&", 1.25);
        let c = cues(&w, &[], 60.0);
        let s = srt(&c);
        assert!(
            s.starts_with("1\n00:00:00,000 --> 00:00:02,500\nHello there,\n\n2\n"),
            "{s}"
        );
        let v = vtt(&c);
        assert!(v.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello there,\n"));
        assert!(v.contains("friend → go"), "{v}");
        assert!(v.contains("&lt;b&gt;&amp;"), "{v}");
        assert!(s.contains("friend → go") && s.contains("<b>&"), "{s}");
        assert_eq!(stamp(3_723.456, ','), "01:02:03,456");
    }
}
