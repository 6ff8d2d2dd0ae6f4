//! Piper as a voice: a neural (VITS) offline voice, run as a separate Python process from its
//! own virtual environment (Piper is GPL-3.0: never linked, and installed by a separate step).
//! Word timings come from Piper's own phoneme alignments: the model is patched once at set-up
//! (`piper.patch_voice_with_alignment`) so it reports how many samples each phoneme lasts, and
//! the phonemes between word breaks make a word.
//!
//! The script is sent a sentence at a time. Where Piper's words match the sentence's words
//! one for one (the usual case) each word takes its own timing; where they do not (Piper
//! reads "2" as "two" but "2024" as several words, CJK characters one by one) the sentence's
//! words are spread over the sentence's measured span by their length. So a caption is never
//! more than a sentence out, and usually exact.
//!
//! Layout of a Piper directory: `venv/bin/python` with `piper-tts` installed, and
//! `voices/<name>.onnx` + `voices/<name>.onnx.json` (the voice's config, which names its
//! language). `tests/run` makes `~/.cache/viral/piper` this way.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;
use viral_core::ports::ProviderError;
use viral_media::{Speech, Word};

use super::{SpeechRequest, Voice, sound_end, speakable};

const SCRIPT: &str = include_str!("piper_speak.py");
/// Silence between two sentences (s): Piper gives each sentence's audio without one.
const SENTENCE_GAP_S: f64 = 0.2;
/// A 60 s script takes about 3 s of CPU (the first request also loads the model); anything
/// past this is a hung process.
const TIMEOUT: Duration = Duration::from_secs(120);
/// Most bytes of PCM accepted: 10 minutes at 48 kHz.
const MAX_PCM_BYTES: usize = 48_000 * 2 * 600;

/// One installed Piper voice.
#[derive(Clone, Debug)]
struct InstalledVoice {
    /// The file name without `.onnx` (`en_US-joe-medium`): what a request names.
    name: String,
    /// Lower-case BCP 47 (`en-us`), from the voice's config.
    language: String,
    model: PathBuf,
}

/// The Piper voices installed in a directory, and the Python that runs them.
pub struct Piper {
    python: PathBuf,
    voices: Vec<InstalledVoice>,
    /// The running Piper, one per process: one synthesis at a time, each taking a core; the
    /// process holds about 200 MB while it runs.
    worker: Mutex<Option<Worker>>,
}

#[derive(Deserialize)]
struct VoiceConfig {
    language: Option<VoiceLanguage>,
}

#[derive(Deserialize)]
struct VoiceLanguage {
    code: String,
}

#[derive(Deserialize)]
struct Answer {
    sample_rate: u32,
    sentences: Vec<SentenceAnswer>,
}

#[derive(Deserialize)]
struct SentenceAnswer {
    samples: usize,
    words: Vec<(usize, usize)>,
}

impl Piper {
    /// The Piper in `dir`, when its Python and at least one voice with a config are there
    /// (no process is started: a missing install costs nothing).
    pub fn load(dir: &Path) -> Option<Self> {
        let python = dir.join("venv/bin/python");
        if !python.is_file() {
            return None;
        }
        let mut voices: Vec<InstalledVoice> = std::fs::read_dir(dir.join("voices"))
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "onnx"))
            .filter_map(|model| {
                let name = model.file_stem()?.to_str()?.to_owned();
                let config = std::fs::read(model.with_extension("onnx.json")).ok()?;
                let config: VoiceConfig = serde_json::from_slice(&config).ok()?;
                let language = config.language?.code.to_ascii_lowercase().replace('_', "-");
                Some(InstalledVoice {
                    name,
                    language,
                    model,
                })
            })
            .collect();
        voices.sort_by(|a, b| a.name.cmp(&b.name));
        (!voices.is_empty()).then(|| Self {
            python,
            voices,
            worker: Mutex::new(None),
        })
    }

    /// The voice that reads `req`: the one it names, else the first for its language (or, for
    /// `en-gb` with only `en-us` installed, the first of its language family). `None` when
    /// Piper has none: another engine may.
    fn voice_for(&self, req: &SpeechRequest) -> Option<&InstalledVoice> {
        if let Some(name) = &req.voice {
            return self.voices.iter().find(|v| &v.name == name);
        }
        let family = |tag: &str| tag.split('-').next().unwrap_or_default().to_owned();
        self.voices
            .iter()
            .find(|v| v.language == req.language)
            .or_else(|| {
                self.voices
                    .iter()
                    .find(|v| family(&v.language) == family(&req.language))
            })
    }

    /// Whether Piper has a voice for `req`.
    pub fn speaks(&self, req: &SpeechRequest) -> bool {
        self.voice_for(req).is_some()
    }

    /// Sends one request to the running Piper (starting it when none runs) and reads its
    /// answer. A worker that fails, times out or answers out of shape is stopped; the next
    /// request starts a new one.
    async fn run(
        &self,
        model: &Path,
        speed: f64,
        sentences: &[String],
    ) -> Result<(Answer, Vec<u8>), ProviderError> {
        let mut line = serde_json::json!({
            "model": model,
            "speed": speed,
            "sentences": sentences,
        })
        .to_string();
        line.push('\n');
        let mut worker = self.worker.lock().await;
        // A worker that died since its last answer is found out when written to: the
        // request goes to a new one (a synthesis is free, so nothing is paid twice).
        for attempt in 0..2 {
            let w = match worker.as_mut() {
                Some(w) => w,
                None => worker.insert(Worker::start(&self.python)?),
            };
            match tokio::time::timeout(TIMEOUT, w.ask(&line)).await {
                Ok(Ok(answer)) => return answer,
                Ok(Err(Ask::Gone(e))) if attempt == 0 => {
                    tracing::debug!(error = %e, "Piper had stopped; starting it again");
                    *worker = None;
                }
                Ok(Err(Ask::Gone(e) | Ask::Broken(e))) => {
                    *worker = None;
                    return Err(ProviderError::Transient(format!("Piper: {e}")));
                }
                Err(_) => {
                    *worker = None;
                    return Err(ProviderError::Transient(format!(
                        "Piper did not answer in {} s",
                        TIMEOUT.as_secs()
                    )));
                }
            }
        }
        Err(ProviderError::Transient(
            "Piper could not be started".into(),
        ))
    }
}

/// Why a request to a running Piper got no answer.
enum Ask {
    /// The process was gone before it read the request.
    Gone(String),
    /// It failed or answered out of shape midway.
    Broken(String),
}

/// A running Piper: the Python process that keeps its voices loaded between requests (so a
/// request pays for synthesis only, not for starting Python and loading the model).
struct Worker {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::BufReader<tokio::process::ChildStdout>,
}

impl Worker {
    fn start(python: &Path) -> Result<Self, ProviderError> {
        let mut child = tokio::process::Command::new(python)
            .arg("-I")
            .arg("-c")
            .arg(SCRIPT)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ProviderError::Permanent(format!("cannot start Piper: {e}")))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(ProviderError::Transient("Piper's pipes are closed".into()));
        };
        // What Piper says on stderr goes to the log, never to a terminal the CLI draws on.
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                tracing::debug!(target: "piper", "{l}");
            }
        });
        Ok(Self {
            child,
            stdin,
            stdout: tokio::io::BufReader::new(stdout),
        })
    }

    async fn ask(&mut self, line: &str) -> Result<Result<(Answer, Vec<u8>), ProviderError>, Ask> {
        if let Err(e) = self.stdin.write_all(line.as_bytes()).await {
            return Err(Ask::Gone(e.to_string()));
        }
        self.stdin
            .flush()
            .await
            .map_err(|e| Ask::Gone(e.to_string()))?;
        let mut head = Vec::new();
        (&mut self.stdout)
            .take(1 << 20)
            .read_until(b'\n', &mut head)
            .await
            .map_err(|e| Ask::Broken(e.to_string()))?;
        if head.is_empty() {
            let status = self.child.try_wait().ok().flatten();
            return Err(Ask::Gone(format!("Piper exited ({status:?})")));
        }
        let head: Head = serde_json::from_slice(&head)
            .map_err(|e| Ask::Broken(format!("an answer out of shape: {e}")))?;
        let (answer, bytes) = match head {
            Head::Error { error } => {
                return Ok(Err(ProviderError::Permanent(format!("Piper: {error}"))));
            }
            Head::Speech { answer, bytes } => (answer, bytes),
        };
        if bytes > MAX_PCM_BYTES {
            return Err(Ask::Broken(format!("{bytes} bytes of audio")));
        }
        let mut pcm = vec![0u8; bytes];
        self.stdout
            .read_exact(&mut pcm)
            .await
            .map_err(|e| Ask::Broken(e.to_string()))?;
        Ok(Ok((answer, pcm)))
    }
}

/// The first line of an answer.
#[derive(Deserialize)]
#[serde(untagged)]
enum Head {
    Error {
        error: String,
    },
    Speech {
        #[serde(flatten)]
        answer: Answer,
        bytes: usize,
    },
}

/// A script word and what of it is read out (pictographs are not: an empty `spoken`).
struct ScriptWord<'a> {
    text: &'a str,
    spoken: String,
}

/// The script's words in sentences: a sentence ends after a word ending in `.`, `!`, `?`,
/// `…` or their CJK forms (closing quotes and brackets aside).
fn sentences(script: &str) -> Vec<Vec<ScriptWord<'_>>> {
    let mut all = Vec::new();
    let mut current = Vec::new();
    for text in script.split_whitespace() {
        let spoken = speakable(text)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let ends = spoken
            .trim_end_matches(['"', '\'', ')', ']', '”', '’', '»', '」'])
            .ends_with(['.', '!', '?', '…', '。', '！', '？']);
        current.push(ScriptWord { text, spoken });
        if ends {
            all.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        all.push(current);
    }
    all
}

/// Times (in samples from the sentence's start) for each word of a sentence, from the word
/// spans Piper reported: one for one when the counts match, else spread over the reported
/// span by length. Unspoken words share the time of the word before them.
fn sentence_times(
    words: &[ScriptWord<'_>],
    spans: &[(usize, usize)],
    samples: usize,
) -> Vec<(usize, usize)> {
    let spoken: Vec<usize> = (0..words.len())
        .filter(|&i| !words[i].spoken.is_empty())
        .collect();
    let mut times = vec![None; words.len()];
    if spoken.len() == spans.len() {
        for (&i, &span) in spoken.iter().zip(spans) {
            times[i] = Some(span);
        }
    } else {
        let start = spans.first().map_or(0, |s| s.0).min(samples);
        let end = spans.last().map_or(samples, |s| s.1).clamp(start, samples);
        let weight = |i: usize| words[i].spoken.chars().count() as f64 + 1.0;
        let total: f64 = spoken.iter().map(|&i| weight(i)).sum();
        let mut at = 0.0;
        for &i in &spoken {
            let from = start + ((end - start) as f64 * at / total) as usize;
            at += weight(i);
            let to = start + ((end - start) as f64 * at / total) as usize;
            times[i] = Some((from, to));
        }
    }
    let mut prev = (0, 0);
    times
        .into_iter()
        .map(|t| {
            let (s, e) = t.unwrap_or(prev);
            let s = s.min(samples).max(prev.0);
            let t = (s, e.min(samples).max(s));
            prev = t;
            t
        })
        .collect()
}

#[async_trait]
impl Voice for Piper {
    fn name(&self) -> &'static str {
        "piper"
    }

    fn price_cents_per_1k_chars(&self) -> f64 {
        0.0
    }

    async fn speak(&self, req: &SpeechRequest) -> Result<Speech, ProviderError> {
        req.check()?;
        let voice = self.voice_for(req).ok_or_else(|| {
            ProviderError::InvalidInput(format!(
                "no Piper voice for {}",
                req.voice.as_deref().unwrap_or(&req.language)
            ))
        })?;
        let script = sentences(&req.text);
        let said: Vec<String> = script
            .iter()
            .map(|s| {
                s.iter()
                    .map(|w| w.spoken.as_str())
                    .filter(|w| !w.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let (answer, pcm) = self.run(&voice.model, req.speed, &said).await?;
        if !(8_000..=48_000).contains(&answer.sample_rate) {
            return Err(ProviderError::Permanent(format!(
                "Piper answered at {} Hz",
                answer.sample_rate
            )));
        }
        if answer.sentences.len() != script.len() {
            return Err(ProviderError::Permanent(format!(
                "Piper read {} sentences of {}",
                answer.sentences.len(),
                script.len()
            )));
        }
        let all = Speech::pcm16le(&pcm);
        let rate = answer.sample_rate;
        let gap = (SENTENCE_GAP_S * f64::from(rate)) as usize;
        let mut samples = Vec::with_capacity(all.len() + gap * script.len());
        let mut words = Vec::with_capacity(req.text.split_whitespace().count());
        let mut read = 0;
        for (sentence, heard) in script.iter().zip(&answer.sentences) {
            let end = read + heard.samples;
            let audio = all.get(read..end).ok_or_else(|| {
                ProviderError::Permanent("Piper's audio is shorter than its answer says".into())
            })?;
            if !samples.is_empty() {
                samples.resize(samples.len() + gap, 0.0);
            }
            let offset = samples.len();
            samples.extend_from_slice(audio);
            read = end;
            for (w, (s, e)) in
                sentence
                    .iter()
                    .zip(sentence_times(sentence, &heard.words, heard.samples))
            {
                words.push(Word {
                    text: w.text.to_owned(),
                    start_s: (offset + s) as f64 / f64::from(rate),
                    end_s: (offset + e) as f64 / f64::from(rate),
                });
            }
        }
        // The last words end where the sound does (Piper's trailing silence aside).
        let sound_end = sound_end(&samples, rate);
        for w in words.iter_mut().rev() {
            if w.end_s <= sound_end {
                break;
            }
            w.end_s = sound_end.max(w.start_s);
        }
        Ok(Speech {
            sample_rate: rate,
            samples,
            words,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_is_read_a_sentence_at_a_time() {
        let s = sentences("Stop scrolling. Two hours, every week! 🔥 \"Really?\" yes");
        let said: Vec<Vec<&str>> = s
            .iter()
            .map(|s| s.iter().map(|w| w.spoken.as_str()).collect())
            .collect();
        assert_eq!(
            said,
            [
                vec!["Stop", "scrolling."],
                vec!["Two", "hours,", "every", "week!"],
                vec!["", "\"Really?\""],
                vec!["yes"]
            ]
        );
    }

    #[test]
    fn matching_words_take_piper_s_timings_and_others_are_spread_over_the_sentence() {
        let s = sentences("Hot 🔥 take now");
        let words = &s[0];
        let exact = sentence_times(words, &[(10, 20), (30, 40), (50, 60)], 100);
        assert_eq!(exact, [(10, 20), (10, 20), (30, 40), (50, 60)]);
        // Four of Piper's words for three: the span 10..70 shared by length (4, 5, 4).
        let spread = sentence_times(words, &[(10, 20), (25, 30), (35, 50), (55, 70)], 100);
        assert_eq!(spread, [(10, 28), (10, 28), (28, 51), (51, 70)]);
        // Nothing reported: the whole sentence.
        let none = sentence_times(&sentences("a b")[0], &[], 40);
        assert_eq!(none, [(0, 20), (20, 40)]);
        // Times never run past the audio or backwards.
        let odd = sentence_times(&sentences("a b")[0], &[(30, 90), (10, 20)], 50);
        assert!(odd.windows(2).all(|p| p[0].0 <= p[1].0));
        assert!(odd.iter().all(|&(s, e)| s <= e && e <= 50));
    }

    #[test]
    fn an_install_without_voices_is_no_voice() {
        let dir = std::env::temp_dir().join(format!("viral-piper-none-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("venv/bin")).unwrap();
        std::fs::write(dir.join("venv/bin/python"), "").unwrap();
        assert!(Piper::load(&dir).is_none());
        std::fs::create_dir_all(dir.join("voices")).unwrap();
        std::fs::write(dir.join("voices/x.onnx"), "").unwrap();
        std::fs::write(
            dir.join("voices/x.onnx.json"),
            r#"{"language": {"code": "en_US"}}"#,
        )
        .unwrap();
        let piper = Piper::load(&dir).unwrap();
        assert!(piper.speaks(&SpeechRequest::new("hi")));
        let mut gb = SpeechRequest::new("hi");
        gb.language = "en-gb".into();
        assert!(piper.speaks(&gb));
        let mut es = SpeechRequest::new("hola");
        es.language = "es".into();
        assert!(!piper.speaks(&es));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
