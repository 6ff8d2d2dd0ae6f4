//! The built-in `storyboard` provider: renders text cards locally, for free, offline. It is
//! the default provider of local runs and a preview tier for users.
//!
//! `submit` renders at once (on the blocking pool) and keeps the MP4 in the blob store under
//! `renders/storyboard/<task>.mp4`, so `lookup`, `poll` and `fetch` work from any process (a
//! worker that takes over a clip after a crash finds the render instead of making it again).

use std::sync::Arc;

use async_trait::async_trait;
use viral_core::ids::new_id;
use viral_core::ports::{
    BlobKey, BlobStore, Lookup, ProviderError, RenderRequest, RenderStatus, Submitted,
    VideoProvider,
};
use viral_media::{Beat, RenderSpec, Speech, Storyboard};

use crate::voice::{SpeechRequest, Voice};

pub struct StoryboardProvider {
    blobs: Arc<dyn BlobStore>,
    /// Reads the script aloud; without one, videos carry music and captions at reading pace.
    voice: Option<Arc<dyn Voice>>,
}

impl StoryboardProvider {
    pub fn new(blobs: Arc<dyn BlobStore>) -> Self {
        Self { blobs, voice: None }
    }

    /// Videos are narrated by `voice`.
    pub fn with_voice(mut self, voice: Arc<dyn Voice>) -> Self {
        self.voice = Some(voice);
        self
    }

    /// The script read by the voice, when there is one and it answers well. A voice that
    /// fails does not fail the video (the render is the job): the video is made without it,
    /// and the log says why. A paid voice's answer is kept under the task's name before the
    /// render, so a submit run again after a crash reads it instead of paying twice; a call
    /// whose outcome is unknown is not repeated.
    async fn narration(
        &self,
        sb: &mut Storyboard,
        duration_s: f64,
        task_id: &str,
        narration: Option<&viral_core::domain::Narration>,
    ) -> Option<Speech> {
        let voice = self.voice.as_ref()?;
        let script = fitted_script(sb, duration_s)?;
        let paid = voice.price_cents_per_1k_chars() > 0.0;
        if paid {
            let (kept, intent) = (Self::speech_key(task_id)?, Self::intent_key(task_id)?);
            if let Ok(Some((bytes, _))) = self.blobs.get(&kept).await
                && let Some(speech) = speech_from_json(&bytes).filter(|s| s.check(&script).is_ok())
            {
                return Some(speech);
            }
            // A call recorded with no answer kept: it may have been paid. It is not made again.
            match self.blobs.head(&intent).await {
                Ok(None) => {}
                Ok(Some(_)) => {
                    tracing::warn!(
                        voice = voice.name(),
                        "an earlier narration call of this render has no answer; no narration"
                    );
                    return None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the narration record; no narration");
                    return None;
                }
            }
            if let Err(e) = self.blobs.put(&intent, Vec::new(), "text/plain").await {
                tracing::warn!(error = %e, "cannot record the narration call; no narration");
                return None;
            }
        }
        let speech = speak(voice.as_ref(), &script, narration).await?;
        if paid && let Some(key) = Self::speech_key(task_id) {
            let json = speech_to_json(&speech);
            if let Err(e) = self.blobs.put(&key, json, "application/json").await {
                tracing::warn!(error = %e, "could not keep the paid narration");
            }
        }
        Some(speech)
    }

    /// Where a paid voice's answer for a render is kept until the render is stored.
    fn speech_key(task_id: &str) -> Option<BlobKey> {
        BlobKey::parse(&format!("renders/storyboard/{task_id}.speech.json")).ok()
    }

    /// Written before a paid voice is called for a render: the record that it may have been.
    fn intent_key(task_id: &str) -> Option<BlobKey> {
        BlobKey::parse(&format!("renders/storyboard/{task_id}.speech.intent")).ok()
    }

    /// Where the captions of a render are kept, beside it (`srt` or `vtt`).
    pub fn captions_key(task_id: &str, ext: &str) -> Option<BlobKey> {
        BlobKey::parse(&format!("renders/storyboard/{task_id}.{ext}")).ok()
    }

    /// A render's task id: named after the request's idempotency key, so a render whose
    /// submit lost its answer can be found again (see `lookup`).
    fn task_id(req: &RenderRequest) -> String {
        if req.idempotency_key.is_empty() {
            new_id("sb")
        } else {
            Self::task_of_key(&req.idempotency_key)
        }
    }

    fn task_of_key(idempotency_key: &str) -> String {
        format!("sb-{idempotency_key}")
    }

    /// Everything the render of a clip left in our bucket (for deleting a tenant's media): by
    /// its task id when it was taken, else by the clip's idempotency key (a render that
    /// failed keeps its narration and may have stored captions).
    pub fn clip_render_keys(task_id: Option<&str>, idempotency_key: &str) -> Vec<BlobKey> {
        match task_id {
            Some(task) => Self::render_keys(task),
            None => Self::render_keys(&Self::task_of_key(idempotency_key)),
        }
    }

    /// Everything the render of `task_id` left in our bucket: the MP4 and its captions, the
    /// kept narration and its record.
    pub fn render_keys(task_id: &str) -> Vec<BlobKey> {
        let captions = ["srt", "vtt"]
            .into_iter()
            .filter_map(|ext| Self::captions_key(task_id, ext));
        Self::key(task_id)
            .ok()
            .into_iter()
            .chain(captions)
            .chain(Self::speech_key(task_id))
            .chain(Self::intent_key(task_id))
            .collect()
    }

    fn key(task_id: &str) -> Result<BlobKey, ProviderError> {
        BlobKey::parse(&format!("renders/storyboard/{task_id}.mp4"))
            .map_err(|_| ProviderError::Permanent(format!("bad task id {task_id:?}")))
    }
}

/// Splits a prompt into a hook and beats: one card per sentence, the first being the hook.
pub fn storyboard_from_prompt(prompt: &str, seed: u64) -> Storyboard {
    let mut sentences: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in prompt.chars() {
        if c == '\n' {
            if !cur.trim().is_empty() {
                sentences.push(cur.trim().to_owned());
            }
            cur.clear();
            continue;
        }
        cur.push(c);
        if matches!(c, '.' | '!' | '?') {
            if !cur.trim().is_empty() {
                sentences.push(cur.trim().to_owned());
            }
            cur.clear();
        }
    }
    if !cur.trim().is_empty() {
        sentences.push(cur.trim().to_owned());
    }
    // A card holds at most CARD_CHARS: a longer sentence becomes several cards, so any
    // prompt the API accepts can be drawn.
    let mut sentences: Vec<String> = sentences.iter().flat_map(|s| cards_of(s)).collect();
    sentences.truncate(12);
    let mut it = sentences.into_iter();
    let hook = it.next().unwrap_or_else(|| "Untitled".into());
    let beats = it
        .map(|text| Beat {
            duration_s: 1.0 + text.chars().count() as f64 / 40.0,
            text,
        })
        .collect();
    Storyboard { hook, beats, seed }
}

/// A kept narration: the words and 16-bit PCM (base64), JSON.
fn speech_to_json(s: &Speech) -> Vec<u8> {
    use base64::Engine as _;
    let pcm = s.to_pcm16le();
    serde_json::to_vec(&serde_json::json!({
        "sample_rate": s.sample_rate,
        "words": s.words,
        "pcm_s16le": base64::engine::general_purpose::STANDARD.encode(pcm),
    }))
    .unwrap_or_default()
}

fn speech_from_json(bytes: &[u8]) -> Option<Speech> {
    use base64::Engine as _;
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let pcm = base64::engine::general_purpose::STANDARD
        .decode(v["pcm_s16le"].as_str()?)
        .ok()?;
    Some(Speech {
        sample_rate: u32::try_from(v["sample_rate"].as_u64()?).ok()?,
        samples: Speech::pcm16le(&pcm),
        words: serde_json::from_value(v["words"].clone()).ok()?,
    })
}

/// Drops the beats past `max_chars` of script (and cuts the hook's words past it): what a
/// voice reads, and is paid for, never outruns the video.
/// The script a voice reads for `sb` in a video `duration_s` long: `sb` is cut to the beats
/// (and hook words) that fit in [`crate::voice::MAX_CHARS_PER_SECOND`], which is what a paid
/// voice's estimate counts. `None` when even the hook's first word is longer.
pub fn fitted_script(sb: &mut Storyboard, duration_s: f64) -> Option<String> {
    let max_chars = (duration_s * crate::voice::MAX_CHARS_PER_SECOND) as usize;
    fit_script(sb, max_chars);
    let script = viral_media::script(sb);
    if script.chars().count() > max_chars {
        // One word longer than the video has time for: the estimate would not cover it.
        tracing::warn!("the hook's first word is longer than the video can say; no narration");
        return None;
    }
    Some(script)
}

/// `script` read by `voice` with the job's narration, the answer checked against the script.
/// A voice that fails or answers wrongly gives no narration (logged), never a failed video.
pub async fn speak(
    voice: &dyn Voice,
    script: &str,
    narration: Option<&viral_core::domain::Narration>,
) -> Option<Speech> {
    let mut ask = SpeechRequest::new(script.to_owned());
    if let Some(n) = narration {
        ask.language = n.language.clone().unwrap_or(ask.language);
        ask.voice = n.voice.clone();
        ask.speed = n.speed.unwrap_or(ask.speed);
    }
    match voice.speak(&ask).await.map(|s| s.check(script).map(|()| s)) {
        Ok(Ok(speech)) => Some(speech),
        Ok(Err(why)) => {
            tracing::warn!(voice = voice.name(), %why, "voice answer refused; no narration");
            None
        }
        Err(e) => {
            tracing::warn!(voice = voice.name(), error = %e, "voice failed; no narration");
            None
        }
    }
}

fn fit_script(sb: &mut Storyboard, max_chars: usize) {
    let hook_words: Vec<&str> = sb.hook.split_whitespace().collect();
    let mut used = 0;
    let mut kept = Vec::new();
    for w in hook_words {
        let add = w.chars().count() + usize::from(used > 0);
        if used + add > max_chars && !kept.is_empty() {
            break;
        }
        used += add;
        kept.push(w);
    }
    sb.hook = kept.join(" ");
    let mut beats = 0;
    for b in &sb.beats {
        let words: Vec<&str> = b.text.split_whitespace().collect();
        let add = words.join(" ").chars().count() + 1;
        if used + add > max_chars {
            break;
        }
        used += add;
        beats += 1;
    }
    sb.beats.truncate(beats);
}

/// Most characters on one card (the renderer takes a 300-character hook).
const CARD_CHARS: usize = 280;

/// `sentence` in pieces of at most [`CARD_CHARS`], broken between words where it can be.
fn cards_of(sentence: &str) -> Vec<String> {
    let mut cards = Vec::new();
    let mut card = String::new();
    for word in sentence.split_whitespace() {
        let mut word = word;
        loop {
            let room = CARD_CHARS - card.chars().count() - usize::from(!card.is_empty());
            if word.chars().count() <= room {
                if !card.is_empty() {
                    card.push(' ');
                }
                card.push_str(word);
                break;
            }
            if card.is_empty() {
                // One word longer than a card: cut it.
                let cut = word
                    .char_indices()
                    .nth(CARD_CHARS)
                    .map_or(word.len(), |(i, _)| i);
                cards.push(word[..cut].to_owned());
                word = &word[cut..];
                if word.is_empty() {
                    break;
                }
            } else {
                cards.push(std::mem::take(&mut card));
            }
        }
    }
    if !card.is_empty() {
        cards.push(card);
    }
    cards
}

#[async_trait]
impl VideoProvider for StoryboardProvider {
    fn name(&self) -> &'static str {
        "storyboard"
    }

    fn model(&self) -> &'static str {
        "cards-v1"
    }

    /// Rendering is free; a paid voice is not, and its most per second is the price.
    fn price_cents_per_second(&self) -> f64 {
        self.voice.as_ref().map_or(0.0, |v| {
            crate::voice::cents_per_video_second(v.price_cents_per_1k_chars())
        })
    }

    fn quality(&self) -> u8 {
        1
    }

    async fn submit(&self, req: &RenderRequest) -> Result<Submitted, ProviderError> {
        let render = viral_media::render_narrated;
        let task_id = Self::task_id(req);
        let mut sb = storyboard_from_prompt(&req.prompt, viral_media::seed_of(&req.job_id));
        let speech = self
            .narration(&mut sb, req.duration_s, &task_id, req.narration.as_ref())
            .await;
        let spec = RenderSpec {
            width: req.width,
            height: req.height,
            fps: req.fps,
            duration_s: req.duration_s,
        };
        // In the request's span, so a panic there is logged with the job.
        let span = tracing::Span::current();
        let rendered = tokio::task::spawn_blocking(move || {
            span.in_scope(|| render(&sb, &spec, speech.as_ref()))
        })
        .await
        .map_err(|e| ProviderError::Transient(format!("render task failed: {e}")))?
        .map_err(|e| match e {
            viral_media::MediaError::InvalidStoryboard(m) => ProviderError::InvalidInput(m),
            other => ProviderError::Transient(other.to_string()),
        })?;
        // The captions first: a render is taken as done once its MP4 is stored.
        let captions = [
            (
                "srt",
                viral_media::captions::srt(&rendered.cues),
                "application/x-subrip",
            ),
            (
                "vtt",
                viral_media::captions::vtt(&rendered.cues),
                "text/vtt",
            ),
        ];
        for (ext, text, content_type) in captions {
            if let Some(key) = Self::captions_key(&task_id, ext) {
                self.blobs
                    .put(&key, text.into_bytes(), content_type)
                    .await
                    .map_err(|e| ProviderError::Transient(e.to_string()))?;
            }
        }
        self.blobs
            .put(&Self::key(&task_id)?, rendered.mp4, "video/mp4")
            .await
            .map_err(|e| ProviderError::Transient(e.to_string()))?;
        // The narration is in the video now; its copy goes (the intent record stays, so a
        // submit of this task never pays again).
        if let Some(kept) = Self::speech_key(&task_id)
            && let Err(e) = self.blobs.delete(&kept).await
        {
            tracing::warn!(error = %e, "could not delete the kept narration");
        }
        Ok(Submitted { task_id, eta_s: 0 })
    }

    /// A failed render spent money when its paid voice was asked (the call is recorded
    /// before it is made: see `narration`); when that cannot be read, it may have. A retry
    /// of the same clip never pays the voice again while that record exists (it reads the
    /// kept answer, or goes without a voice), which is what lets its claim be discounted.
    async fn spent_on_failed_submit(&self, req: &RenderRequest) -> bool {
        let paid = self
            .voice
            .as_ref()
            .is_some_and(|v| v.price_cents_per_1k_chars() > 0.0);
        if !paid {
            return false;
        }
        // Without an idempotency key the task id is new each time: the call cannot be found.
        if req.idempotency_key.is_empty() {
            return true;
        }
        let Some(intent) = Self::intent_key(&Self::task_id(req)) else {
            return true;
        };
        !matches!(self.blobs.head(&intent).await, Ok(None))
    }

    async fn lookup(&self, req: &RenderRequest) -> Result<Lookup, ProviderError> {
        if req.idempotency_key.is_empty() {
            return Ok(Lookup::Unsupported);
        }
        let task_id = Self::task_id(req);
        match self.blobs.head(&Self::key(&task_id)?).await {
            Ok(Some(_)) => Ok(Lookup::Found(Submitted { task_id, eta_s: 0 })),
            // A render is stored once it is whole: without it, there is no task.
            Ok(None) => Ok(Lookup::Absent),
            Err(e) => Err(ProviderError::Transient(e.to_string())),
        }
    }

    async fn poll(&self, task_id: &str) -> Result<RenderStatus, ProviderError> {
        match self.blobs.head(&Self::key(task_id)?).await {
            Ok(Some(_)) => Ok(RenderStatus::Done),
            Ok(None) => Ok(RenderStatus::Failed {
                reason: format!("no render for task {task_id}"),
            }),
            Err(e) => Err(ProviderError::Transient(e.to_string())),
        }
    }

    async fn fetch(&self, task_id: &str) -> Result<Vec<u8>, ProviderError> {
        match self.blobs.get(&Self::key(task_id)?).await {
            Ok(Some((bytes, _))) => Ok(bytes),
            Ok(None) => Err(ProviderError::Permanent(format!(
                "no render for task {task_id}"
            ))),
            Err(e) => Err(ProviderError::Transient(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_become_cards() {
        let sb = storyboard_from_prompt("Cold brew secrets! Steep 18 hours. Filter twice", 1);
        assert_eq!(sb.hook, "Cold brew secrets!");
        let beats: Vec<_> = sb.beats.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(beats, ["Steep 18 hours.", "Filter twice"]);
        assert_eq!(storyboard_from_prompt("   ", 1).hook, "Untitled");
    }

    #[test]
    fn a_script_is_cut_to_what_the_video_has_time_for() {
        let mut sb = storyboard_from_prompt("Hook here. One beat. Two beat. Three beat.", 1);
        fit_script(&mut sb, 30);
        assert_eq!(viral_media::script(&sb), "Hook here. One beat. Two beat.");
        let mut sb = storyboard_from_prompt(&"word ".repeat(50), 1);
        fit_script(&mut sb, 20);
        assert!(viral_media::script(&sb).chars().count() <= 20);
        assert!(!sb.hook.is_empty(), "a hook always keeps a word");
    }

    #[test]
    fn a_sentence_longer_than_a_card_becomes_several_and_renders() {
        // The API takes 2,000 characters; the renderer a 300-character hook.
        let long = format!("{} {}. Short one.", "word ".repeat(150), "x".repeat(700));
        let sb = storyboard_from_prompt(&long, 1);
        let cards: Vec<&str> = std::iter::once(sb.hook.as_str())
            .chain(sb.beats.iter().map(|b| b.text.as_str()))
            .collect();
        assert!(
            cards.iter().all(|c| c.chars().count() <= CARD_CHARS),
            "{cards:?}"
        );
        assert_eq!(cards.join(" ").split_whitespace().count(), 150 + 3 + 2);
        assert_eq!(cards.last(), Some(&"Short one."));
        let spec = viral_media::RenderSpec {
            width: 108,
            height: 192,
            fps: 10,
            duration_s: 1.0,
        };
        viral_media::render(&sb, &spec).expect("every card fits the renderer");
    }

    /// A paid voice that counts its calls and times each word 0.3 s apart (or fails).
    struct CountingVoice {
        calls: std::sync::atomic::AtomicUsize,
        fail: bool,
    }

    #[async_trait]
    impl Voice for CountingVoice {
        fn name(&self) -> &'static str {
            "counting"
        }
        fn price_cents_per_1k_chars(&self) -> f64 {
            30.0
        }
        async fn speak(&self, req: &SpeechRequest) -> Result<Speech, ProviderError> {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if self.fail {
                return Err(ProviderError::UnknownOutcome("no answer".into()));
            }
            let words: Vec<viral_media::Word> = req
                .text
                .split_whitespace()
                .enumerate()
                .map(|(i, w)| viral_media::Word {
                    text: w.into(),
                    start_s: i as f64 * 0.3,
                    end_s: i as f64 * 0.3 + 0.25,
                })
                .collect();
            Ok(Speech {
                sample_rate: 16_000,
                samples: vec![0.1; 16_000 * (words.len() / 3 + 1)],
                words,
            })
        }
    }

    fn blobs() -> (tempfile::TempDir, Arc<dyn BlobStore>) {
        use viral_embedded::{FsBlobStore, UrlSigner};
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(viral_core::SystemClock);
        let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(
            dir.path(),
            UrlSigner::new(b"k", "http://127.0.0.1:3000", clock),
        ));
        (dir, blobs)
    }

    fn request() -> RenderRequest {
        RenderRequest {
            idempotency_key: "job_1-a1-c0".into(),
            job_id: "job_1".into(),
            tenant_id: "tn_1".into(),
            prompt: "Night trains are back. Sleep in Paris, wake in Rome.".into(),
            duration_s: 2.0,
            width: 144,
            height: 256,
            fps: 10,
            narration: None,
        }
    }

    fn counting(fail: bool) -> Arc<CountingVoice> {
        Arc::new(CountingVoice {
            calls: Default::default(),
            fail,
        })
    }

    fn calls(v: &CountingVoice) -> usize {
        v.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    async fn captions_of(blobs: &Arc<dyn BlobStore>, task_id: &str) -> String {
        let vtt = StoryboardProvider::captions_key(task_id, "vtt").unwrap();
        String::from_utf8(blobs.get(&vtt).await.unwrap().unwrap().0).unwrap()
    }

    #[tokio::test]
    async fn a_failed_submit_spent_money_only_once_a_paid_voice_was_asked() {
        let (_dir, blobs) = blobs();
        let free = StoryboardProvider::new(blobs.clone());
        assert!(!free.spent_on_failed_submit(&request()).await);
        let p = StoryboardProvider::new(blobs.clone()).with_voice(counting(false));
        assert!(
            !p.spent_on_failed_submit(&request()).await,
            "the voice was not asked yet"
        );
        p.submit(&request()).await.unwrap();
        assert!(p.spent_on_failed_submit(&request()).await);
        let other = RenderRequest {
            idempotency_key: "job_1-a1-c1".into(),
            ..request()
        };
        assert!(
            !p.spent_on_failed_submit(&other).await,
            "another clip's voice"
        );
        let unkeyed = RenderRequest {
            idempotency_key: String::new(),
            ..request()
        };
        assert!(p.spent_on_failed_submit(&unkeyed).await, "cannot tell");
    }

    #[test]
    fn a_clip_not_taken_is_found_by_its_idempotency_key() {
        let req = request();
        let task = StoryboardProvider::task_id(&req);
        assert_eq!(
            StoryboardProvider::clip_render_keys(None, &req.idempotency_key),
            StoryboardProvider::render_keys(&task)
        );
        assert!(
            StoryboardProvider::clip_render_keys(None, &req.idempotency_key)
                .contains(&StoryboardProvider::speech_key(&task).unwrap())
        );
    }

    #[tokio::test]
    async fn a_paid_voice_is_priced_recorded_first_and_its_copy_dropped() {
        let (_dir, blobs) = blobs();
        let voice = counting(false);
        let p = StoryboardProvider::new(blobs.clone()).with_voice(voice.clone());
        // 30 cents per 1,000 characters, at most 18 characters a second.
        assert!((p.price_cents_per_second() - 0.54).abs() < 1e-9);
        let made = p.submit(&request()).await.unwrap();
        assert_eq!(calls(&voice), 1);
        // 2 s of video at 18 characters a second: the script is cut to 36 characters, so
        // only the hook ("Night trains are back.", 22) is read; the captions follow the voice.
        let text = captions_of(&blobs, &made.task_id).await;
        assert!(text.contains("00:00:00.300 --> "), "{text}");
        assert!(!text.contains("Rome"), "{text}");
        let intent = StoryboardProvider::intent_key(&made.task_id).unwrap();
        assert!(
            blobs.head(&intent).await.unwrap().is_some(),
            "the call was recorded"
        );
        let kept = StoryboardProvider::speech_key(&made.task_id).unwrap();
        assert!(
            blobs.head(&kept).await.unwrap().is_none(),
            "the copy went with the render"
        );
    }

    #[tokio::test]
    async fn a_submit_run_again_never_pays_the_voice_twice() {
        let (_dir, blobs) = blobs();
        let req = request();
        let task = StoryboardProvider::task_id(&req);
        // A crash after the voice answered and its answer was kept, before the render.
        let answer = counting(false)
            .speak(&SpeechRequest::new("Night trains are back."))
            .await
            .unwrap();
        let intent = StoryboardProvider::intent_key(&task).unwrap();
        let kept = StoryboardProvider::speech_key(&task).unwrap();
        blobs.put(&intent, Vec::new(), "text/plain").await.unwrap();
        blobs
            .put(&kept, speech_to_json(&answer), "application/json")
            .await
            .unwrap();
        let voice = counting(false);
        let p = StoryboardProvider::new(blobs.clone()).with_voice(voice.clone());
        p.submit(&req).await.unwrap();
        assert_eq!(calls(&voice), 0, "the kept answer is used");
        assert!(
            captions_of(&blobs, &task)
                .await
                .contains("00:00:00.300 --> ")
        );

        // A crash after the call went out with no answer kept: no second call, no voice.
        blobs
            .delete(&StoryboardProvider::key(&task).unwrap())
            .await
            .unwrap();
        p.submit(&req).await.unwrap();
        assert_eq!(calls(&voice), 0);
        assert!(
            !captions_of(&blobs, &task)
                .await
                .contains("00:00:00.300 --> ")
        );
    }

    #[tokio::test]
    async fn a_failed_voice_leaves_a_video_without_narration_and_is_not_called_again() {
        let (_dir, blobs) = blobs();
        let voice = counting(true);
        let p = StoryboardProvider::new(blobs.clone()).with_voice(voice.clone());
        let req = request();
        let made = p.submit(&req).await.unwrap();
        assert!(viral_media::looks_like_mp4(
            &p.fetch(&made.task_id).await.unwrap()
        ));
        blobs
            .delete(&StoryboardProvider::key(&made.task_id).unwrap())
            .await
            .unwrap();
        p.submit(&req).await.unwrap();
        assert_eq!(calls(&voice), 1, "an unknown outcome is not sent again");
    }

    /// A worker taking over a clip after a crash finds, polls and fetches the render another
    /// process made.
    #[tokio::test]
    async fn renders_are_found_polled_and_fetched_from_any_process() {
        use viral_embedded::{FsBlobStore, UrlSigner};
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(viral_core::SystemClock);
        let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(
            dir.path(),
            UrlSigner::new(b"k", "http://127.0.0.1:3000", clock),
        ));
        let req = RenderRequest {
            idempotency_key: "job_1-a1-c0".into(),
            job_id: "job_1".into(),
            tenant_id: "tn_1".into(),
            prompt: "Night trains. Sleep and wake abroad.".into(),
            duration_s: 1.0,
            width: 144,
            height: 256,
            fps: 10,
            narration: None,
        };
        let reader = StoryboardProvider::new(blobs.clone());
        assert_eq!(reader.lookup(&req).await.unwrap(), Lookup::Absent);
        let made = StoryboardProvider::new(blobs).submit(&req).await.unwrap();
        assert_eq!(
            reader.lookup(&req).await.unwrap(),
            Lookup::Found(made.clone()),
            "a render is found again by the request's idempotency key"
        );
        assert_eq!(
            reader.poll(&made.task_id).await.unwrap(),
            RenderStatus::Done
        );
        let bytes = reader.fetch(&made.task_id).await.unwrap();
        assert!(viral_media::looks_like_mp4(&bytes));
    }
}
