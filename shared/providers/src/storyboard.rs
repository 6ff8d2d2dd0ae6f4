//! The built-in `storyboard` provider: renders text cards locally, for free, offline. It is
//! the default provider of local runs and a preview tier for users.
//!
//! `submit` renders at once (on the blocking pool) and keeps the MP4 in the blob store under
//! `renders/storyboard/<task>.mp4`, so `poll` and `fetch` work from any process — also from
//! one built with [`StoryboardProvider::outputs_only`], which does not carry the renderer.

use std::sync::Arc;

use async_trait::async_trait;
use viral_core::ids::new_id;
use viral_core::ports::{
    BlobKey, BlobStore, Lookup, ProviderError, RenderRequest, RenderStatus, Submitted,
    VideoProvider,
};
use viral_media::{Beat, RenderSpec, Rendered, Speech, Storyboard};

use crate::voice::{SpeechRequest, Voice};

type RenderFn =
    fn(&Storyboard, &RenderSpec, Option<&Speech>) -> Result<Rendered, viral_media::MediaError>;

pub struct StoryboardProvider {
    blobs: Arc<dyn BlobStore>,
    /// `None` in a process that only polls and fetches renders: its binary does not link the
    /// renderer (the H.264 encoder and the fonts).
    render: Option<RenderFn>,
    /// Reads the script aloud; without one, videos carry music and captions at reading pace.
    voice: Option<Arc<dyn Voice>>,
}

impl StoryboardProvider {
    pub fn new(blobs: Arc<dyn BlobStore>) -> Self {
        Self {
            blobs,
            render: Some(viral_media::render_narrated),
            voice: None,
        }
    }

    /// Polls and fetches renders made elsewhere; `submit` is refused.
    pub fn outputs_only(blobs: Arc<dyn BlobStore>) -> Self {
        Self {
            blobs,
            render: None,
            voice: None,
        }
    }

    /// Videos are narrated by `voice`.
    pub fn with_voice(mut self, voice: Arc<dyn Voice>) -> Self {
        self.voice = Some(voice);
        self
    }

    /// The script read by the voice, when there is one and it answers well. A voice that
    /// fails does not fail the video (it is free, and the render is the job): the video is
    /// made without it, and the log says why.
    async fn narration(&self, sb: &Storyboard) -> Option<Speech> {
        let voice = self.voice.as_ref()?;
        let script = viral_media::script(sb);
        let spoken = voice.speak(&SpeechRequest::new(script.clone())).await;
        match spoken.map(|s| s.check(&script).map(|()| s)) {
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
            format!("sb-{}", req.idempotency_key)
        }
    }

    /// Everything the render of `task_id` left in our bucket: the MP4 and its captions (for
    /// deleting a tenant's media).
    pub fn render_keys(task_id: &str) -> Vec<BlobKey> {
        let captions = ["srt", "vtt"]
            .into_iter()
            .filter_map(|ext| Self::captions_key(task_id, ext));
        Self::key(task_id)
            .ok()
            .into_iter()
            .chain(captions)
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

    fn price_cents_per_second(&self) -> f64 {
        0.0
    }

    fn quality(&self) -> u8 {
        1
    }

    async fn submit(&self, req: &RenderRequest) -> Result<Submitted, ProviderError> {
        let render = self.render.ok_or_else(|| {
            ProviderError::Permanent(
                "this process only polls and fetches storyboard renders".into(),
            )
        })?;
        let sb = storyboard_from_prompt(&req.prompt, viral_media::seed_of(&req.job_id));
        let speech = self.narration(&sb).await;
        let spec = RenderSpec {
            width: req.width,
            height: req.height,
            fps: req.fps,
            duration_s: req.duration_s,
        };
        let rendered = tokio::task::spawn_blocking(move || render(&sb, &spec, speech.as_ref()))
            .await
            .map_err(|e| ProviderError::Transient(format!("render task failed: {e}")))?
            .map_err(|e| match e {
                viral_media::MediaError::InvalidStoryboard(m) => ProviderError::InvalidInput(m),
                other => ProviderError::Transient(other.to_string()),
            })?;
        let task_id = Self::task_id(req);
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
        Ok(Submitted { task_id, eta_s: 0 })
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

    /// What PollRender and FetchVideo build: they poll and fetch a render made by the worker's
    /// full provider, and refuse to render themselves.
    #[tokio::test]
    async fn outputs_only_reads_renders_and_refuses_to_make_them() {
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
        };
        let reader = StoryboardProvider::outputs_only(blobs.clone());
        assert!(matches!(
            reader.submit(&req).await,
            Err(ProviderError::Permanent(_))
        ));
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
