//! Publisher: one social platform's documented API, as connecting an account and the publish
//! workflow need it. Real clients live in `viral-social`; the built-in `sandbox` platform
//! implements it without a network so the whole loop runs offline.
//!
//! Publishing is split where the platforms' own calls split, so the workflow can record what
//! happened between them and never make a post twice: `begin` is the one call that creates
//! something at the platform (TikTok's publish id, YouTube's upload session, Instagram's
//! container); `upload` sends the bytes and may be repeated (it resumes); `poll` only reads;
//! `publish` is Instagram's separate `media_publish`; `find_published` reconciles after a
//! `publish` whose outcome is unknown.

use async_trait::async_trait;

use super::SecretString;
use crate::clock::Timestamp;
use crate::domain::account::{Account, Platform, PlatformProfile};
use crate::domain::metrics::{MetricsTarget, Observed};

/// What a token endpoint answered.
pub struct Tokens {
    pub access: SecretString,
    pub refresh: Option<SecretString>,
    pub access_expires_at: Option<Timestamp>,
    pub refresh_expires_at: Option<Timestamp>,
    /// Scopes granted (users may grant fewer than asked); empty when the platform did not say.
    pub scopes: Vec<String>,
}

/// What the creator may do now, as the platform says (TikTok's `creator_info`; the others
/// answer from the account).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CreatorInfo {
    pub display_name: String,
    pub avatar_url: Option<String>,
    /// The privacy levels this creator may choose, in the platform's words.
    pub privacy_options: Vec<String>,
    pub comment_disabled: bool,
    pub duet_disabled: bool,
    pub stitch_disabled: bool,
    pub max_duration_s: Option<f64>,
    /// Why the creator cannot post now, when they cannot.
    pub cannot_post: Option<String>,
    /// What the platform applies whatever is asked (an unaudited app's posts are private).
    pub restriction: Option<String>,
}

/// What a post says and how it is shown, set deliberately for every platform.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PostContent {
    /// YouTube's title; TikTok and Instagram have only the caption.
    pub title: Option<String>,
    /// The caption with its hashtags, already cut to the platform's limits.
    pub caption: String,
    /// In the platform's words (`SELF_ONLY`, `private`, …).
    pub privacy: String,
    pub disable_comment: bool,
    pub disable_duet: bool,
    pub disable_stitch: bool,
    /// Generated video: set the platform's AI-generated label wherever it has one.
    pub ai_generated: bool,
    /// YouTube's `selfDeclaredMadeForKids`.
    pub made_for_kids: bool,
    /// YouTube category id (22 = People & Blogs).
    pub category_id: Option<String>,
    /// Which frame becomes the cover, in ms.
    pub cover_ms: Option<u64>,
    /// TikTok's commercial-content disclosures.
    pub brand_content: bool,
    pub brand_organic: bool,
}

/// The video to post: its bytes, and a signed URL on our media domain for platforms that
/// pull (Instagram; TikTok's `PULL_FROM_URL` when the domain is verified).
pub struct Media {
    pub bytes: Vec<u8>,
    pub url: Option<String>,
    pub duration_s: f64,
}

/// Where a post is at the platform.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// Still uploading or processing.
    Processing(Option<String>),
    /// Processed and waiting for `publish` (Instagram's container is `FINISHED`).
    Ready,
    Published(Published),
    Failed {
        code: String,
        message: String,
    },
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Published {
    /// The platform's id of the post; some platforms tell it only after moderation.
    pub post_id: Option<String>,
    pub url: Option<String>,
    /// The privacy the platform actually applied, when it says.
    pub privacy: Option<String>,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PublishError {
    /// The access token was refused: refresh it and try once more.
    #[error("the platform refused the access token: {0}")]
    Unauthorized(String),
    /// Access is gone (revoked, refresh token dead, scope withdrawn): reconnect.
    #[error("the account must be connected again: {0}")]
    NeedsReconnect(String),
    /// A limit that resets: try again after `retry_after_secs`.
    #[error("{code}: {message}")]
    Limited {
        code: String,
        message: String,
        retry_after_secs: u64,
    },
    /// The platform refused this post for good.
    #[error("{code}: {message}")]
    Rejected { code: String, message: String },
    /// Failed before the platform acted (connection refused, 5xx): safe to retry.
    #[error("the platform is unavailable: {0}")]
    Transient(String),
    /// The request may or may not have been acted on (a timeout after sending): reconcile.
    #[error("the outcome is unknown: {0}")]
    Unknown(String),
    /// The app's client id or secret is missing.
    #[error("{0}")]
    NotConfigured(String),
}

impl PublishError {
    /// The stable code a post's error carries.
    pub fn code(&self) -> String {
        match self {
            PublishError::Unauthorized(_) | PublishError::NeedsReconnect(_) => {
                "account_needs_reconnect".into()
            }
            PublishError::Limited { code, .. } | PublishError::Rejected { code, .. } => {
                code.clone()
            }
            PublishError::Transient(_) => "platform_unavailable".into(),
            PublishError::Unknown(_) => "publish_outcome_unknown".into(),
            PublishError::NotConfigured(_) => "platform_not_configured".into(),
        }
    }
}

/// The handle of a post at its platform (a publish id, an upload session, a container),
/// opaque to everything but its publisher.
pub type Handle = String;

#[async_trait]
pub trait Publisher: Send + Sync {
    fn platform(&self) -> Platform;

    /// The scopes asked for at connect.
    fn scopes(&self) -> Vec<String>;

    /// The scope without which the account cannot post: a connect whose user withheld it
    /// is refused (`None`: nothing to check).
    fn publish_scope(&self) -> Option<&'static str> {
        None
    }

    /// The platform's authorize URL for this connect (`state`, PKCE S256 `challenge`).
    async fn authorize_url(
        &self,
        state: &str,
        challenge: &str,
        redirect_uri: &str,
    ) -> Result<String, PublishError>;

    /// Trades the callback's code for tokens and reads who connected.
    async fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<(PlatformProfile, Tokens), PublishError>;

    async fn refresh(&self, refresh: &SecretString) -> Result<Tokens, PublishError>;

    /// Revokes the grant at the platform: `Ok(false)` where the platform has no revoke call
    /// (the user removes the app in the platform's settings).
    /// Each platform takes its own token: TikTok the access token, Google the refresh token
    /// (which ends the whole grant).
    async fn revoke(
        &self,
        access: Option<&SecretString>,
        refresh: Option<&SecretString>,
    ) -> Result<bool, PublishError>;

    async fn creator_info(
        &self,
        access: &SecretString,
        account: &Account,
    ) -> Result<CreatorInfo, PublishError>;

    /// The one call that creates the post's upload at the platform.
    async fn begin(
        &self,
        access: &SecretString,
        account: &Account,
        content: &PostContent,
        media: &Media,
    ) -> Result<Handle, PublishError>;

    /// Sends the bytes (resuming where an earlier attempt stopped); may refine the handle.
    async fn upload(
        &self,
        access: &SecretString,
        account: &Account,
        handle: &Handle,
        media: &Media,
    ) -> Result<Handle, PublishError>;

    /// Reads where the post is; never changes anything.
    async fn poll(
        &self,
        access: &SecretString,
        account: &Account,
        handle: &Handle,
    ) -> Result<Progress, PublishError>;

    /// Publishes what `poll` said is `Ready` (Instagram's `media_publish`).
    async fn publish(
        &self,
        access: &SecretString,
        account: &Account,
        handle: &Handle,
    ) -> Result<Published, PublishError>;

    /// After a `publish` whose outcome is unknown: the post, if it was made.
    async fn find_published(
        &self,
        access: &SecretString,
        account: &Account,
        handle: &Handle,
    ) -> Result<Option<Published>, PublishError>;

    /// Most posts one [`Publisher::metrics`] call may name (TikTok's `video/query` takes 20,
    /// YouTube's `videos.list` 50; Instagram's insights are one media at a time).
    fn metrics_batch(&self) -> usize {
        1
    }

    /// The numbers of published posts now, by platform post id (at most
    /// [`Publisher::metrics_batch`] of them). A post the platform no longer shows is
    /// `Observed::Gone`; one it has no numbers for yet is `Observed::Unavailable`.
    async fn metrics(
        &self,
        access: &SecretString,
        account: &Account,
        targets: &[MetricsTarget],
        now: Timestamp,
    ) -> Result<Vec<(String, Observed)>, PublishError>;
}

/// The publishers a process can use, by platform.
#[derive(Clone, Default)]
pub struct Publishers(std::collections::HashMap<Platform, std::sync::Arc<dyn Publisher>>);

impl Publishers {
    pub fn with(mut self, publisher: std::sync::Arc<dyn Publisher>) -> Self {
        self.0.insert(publisher.platform(), publisher);
        self
    }

    pub fn get(&self, platform: Platform) -> Option<std::sync::Arc<dyn Publisher>> {
        self.0.get(&platform).cloned()
    }

    /// The platforms this process can publish to, in `Platform::ALL` order.
    pub fn platforms(&self) -> Vec<Platform> {
        Platform::ALL
            .into_iter()
            .filter(|p| self.0.contains_key(p))
            .collect()
    }
}
