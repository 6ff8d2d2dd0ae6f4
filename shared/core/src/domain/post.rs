//! Posts: one video published to one connected account. A post moves
//! `scheduled → queued → uploading → processing → published`, or ends `failed` or
//! `cancelled`; what happened at the platform is recorded between its calls (the intent before
//! `begin`, the handle after it) so it is made at most once.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::account::Platform;
use super::keys;
use crate::clock::Timestamp;
use crate::ports::publisher::PostContent;
use crate::ports::{Item, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostStatus {
    /// Waits for its time (`schedule_at`, or the earliest a limit allows).
    Scheduled,
    Queued,
    Uploading,
    Processing,
    Published,
    Failed,
    Cancelled,
}

impl PostStatus {
    pub const ALL: [PostStatus; 7] = [
        PostStatus::Scheduled,
        PostStatus::Queued,
        PostStatus::Uploading,
        PostStatus::Processing,
        PostStatus::Published,
        PostStatus::Failed,
        PostStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PostStatus::Scheduled => "scheduled",
            PostStatus::Queued => "queued",
            PostStatus::Uploading => "uploading",
            PostStatus::Processing => "processing",
            PostStatus::Published => "published",
            PostStatus::Failed => "failed",
            PostStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            PostStatus::Published | PostStatus::Failed | PostStatus::Cancelled
        )
    }
}

/// Why a post failed, for people and for programs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostError {
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Post {
    pub id: String,
    #[serde(skip)]
    pub tenant_id: String,
    pub job_id: String,
    pub account_id: String,
    #[serde(with = "platform_name")]
    pub platform: Platform,
    pub status: PostStatus,
    pub content: PostContent,
    /// When the tenant asked it to go out.
    pub schedule_at: Option<Timestamp>,
    /// The earliest it may go out (its schedule, or later when a limit says so).
    pub not_before: Option<Timestamp>,
    /// What was changed to fit the platform (a caption cut, hashtags dropped), for people.
    pub warnings: Vec<String>,
    /// Set before `begin` is called: with no handle beside it, the outcome of that call is
    /// unknown and the post is never begun again blindly.
    pub begun_at: Option<Timestamp>,
    /// The platform's handle of the upload (publish id, upload session, container).
    pub handle: Option<String>,
    pub uploaded: bool,
    /// Set before Instagram's `media_publish`, for the same reason as `begun_at`.
    pub publish_requested_at: Option<Timestamp>,
    pub platform_post_id: Option<String>,
    pub url: Option<String>,
    /// The privacy the platform applied, when it says (it may differ from the asked one).
    pub privacy_applied: Option<String>,
    /// The UTC day whose posting limits this post counts against, once it took its slot.
    pub quota_day: Option<String>,
    /// Workflow attempts that reached the platform.
    pub attempts: u32,
    pub error: Option<PostError>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub published_at: Option<Timestamp>,
    /// When its numbers are fetched next: published posts on the collection cadence
    /// ([`crate::domain::metrics::CADENCE_H`]); none once collection ended.
    #[serde(default)]
    pub metrics_due: Option<Timestamp>,
    /// Observations taken so far.
    #[serde(default)]
    pub metrics_taken: u32,
    /// Fetches that failed in a row (they back off).
    #[serde(default)]
    pub metrics_failures: u32,
    /// Why collection waits or ended, for people ("deleted or private at the platform").
    #[serde(default)]
    pub metrics_note: Option<String>,
    #[serde(skip)]
    pub version: u64,
}

mod platform_name {
    use super::Platform;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(p: &Platform, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(p.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Platform, D::Error> {
        let s = String::deserialize(d)?;
        Platform::parse(&s).ok_or_else(|| serde::de::Error::custom("unknown platform"))
    }
}

pub const POST_SK_PREFIX: &str = "POST#";

pub fn post_sk(id: &str) -> String {
    format!("{POST_SK_PREFIX}{id}")
}

/// Index partition of posts that have not ended, by when they may go out: the scheduler and
/// the sweeper find due and stuck posts without scanning tenants.
pub const OPEN_POSTS: &str = "POSTS#OPEN";

pub fn open_post_index_key(due: Timestamp, tenant_id: &str, post_id: &str) -> String {
    format!("{:015}#{tenant_id}#{post_id}", due.millis().max(0))
}

/// Index partition of published posts whose numbers are still collected, by when each is due
/// next: the collector reads it from the front (a post is in one index at a time: open until it
/// ends, then this one while published and collected).
pub const METRICS_DUE: &str = "POSTS#METRICS";

/// Warnings a post keeps (the newest); reschedules add one each.
pub const MAX_WARNINGS: usize = 10;

impl Post {
    /// Adds a warning once, keeping the newest [`MAX_WARNINGS`].
    pub fn warn(&mut self, warning: String) {
        if self.warnings.last() != Some(&warning) {
            self.warnings.push(warning);
        }
        let over = self.warnings.len().saturating_sub(MAX_WARNINGS);
        self.warnings.drain(..over);
    }

    /// Whether it can still be cancelled: it has not reached its platform.
    pub fn cancellable(&self) -> bool {
        !self.status.is_terminal() && self.begun_at.is_none()
    }

    pub fn to_item(&self) -> Result<Item, StoreError> {
        let Value::Object(attrs) = serde_json::to_value(self)
            .map_err(|e| StoreError::Backend(format!("cannot encode a post: {e}")))?
        else {
            return Err(StoreError::Backend("a post is not an object".into()));
        };
        let mut item = Item::new(keys::tenant_pk(&self.tenant_id), post_sk(&self.id));
        item.attrs = attrs.into_iter().filter(|(_, v)| !v.is_null()).collect();
        item.version = self.version;
        if !self.status.is_terminal() {
            let due = self.not_before.unwrap_or(self.created_at);
            item.gsi1 = Some((
                OPEN_POSTS.to_owned(),
                open_post_index_key(due, &self.tenant_id, &self.id),
            ));
        } else if let (PostStatus::Published, Some(due)) = (self.status, self.metrics_due) {
            item.gsi1 = Some((
                METRICS_DUE.to_owned(),
                open_post_index_key(due, &self.tenant_id, &self.id),
            ));
        }
        Ok(item)
    }

    pub fn from_item(tenant_id: &str, item: &Item) -> Option<Post> {
        let attrs: serde_json::Map<String, Value> = item
            .attrs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut post: Post = serde_json::from_value(Value::Object(attrs)).ok()?;
        post.tenant_id = tenant_id.to_owned();
        post.version = item.version;
        Some(post)
    }
}

/// How a platform counts a caption's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    Chars,
    /// UTF-16 code units: an emoji counts two (TikTok).
    Utf16,
    /// UTF-8 bytes (YouTube's description).
    Bytes,
}

impl Measure {
    pub fn of(self, s: &str) -> usize {
        match self {
            Measure::Chars => s.chars().count(),
            Measure::Utf16 => s.encode_utf16().count(),
            Measure::Bytes => s.len(),
        }
    }
}

/// What a platform allows in a post, and how we fill it in.
#[derive(Clone, Copy, Debug)]
pub struct PlatformLimits {
    /// Longest caption, in `measure` units.
    pub caption_chars: usize,
    pub measure: Measure,
    /// Longest title, where the platform has one.
    pub title_chars: Option<usize>,
    pub max_hashtags: usize,
    /// The privacy levels the platform knows (TikTok's are narrowed per creator).
    pub privacy: &'static [&'static str],
    /// Used when the tenant does not choose; `None` where the user must choose (TikTok's
    /// audit forbids a default).
    pub default_privacy: Option<&'static str>,
    /// How far ahead a post may be scheduled.
    pub schedule_window_days: i64,
}

pub fn limits(platform: Platform) -> PlatformLimits {
    match platform {
        Platform::Tiktok => PlatformLimits {
            caption_chars: 2200,
            measure: Measure::Utf16,
            title_chars: None,
            max_hashtags: 30,
            privacy: &[
                "PUBLIC_TO_EVERYONE",
                "MUTUAL_FOLLOW_FRIENDS",
                "FOLLOWER_OF_CREATOR",
                "SELF_ONLY",
            ],
            default_privacy: None,
            // TikTok's own in-app scheduler reaches 10 days ahead.
            schedule_window_days: 10,
        },
        Platform::Youtube => PlatformLimits {
            // The description's limit is 5,000 bytes.
            caption_chars: 5000,
            measure: Measure::Bytes,
            title_chars: Some(100),
            // YouTube ignores every hashtag of a video with more than 60.
            max_hashtags: 15,
            privacy: &["public", "unlisted", "private"],
            default_privacy: Some("public"),
            schedule_window_days: 30,
        },
        Platform::Instagram => PlatformLimits {
            caption_chars: 2200,
            measure: Measure::Chars,
            title_chars: None,
            max_hashtags: 30,
            privacy: &["public"],
            default_privacy: Some("public"),
            // Meta's own scheduler reaches 29 days ahead.
            schedule_window_days: 29,
        },
        Platform::Sandbox => PlatformLimits {
            caption_chars: 2200,
            measure: Measure::Chars,
            title_chars: Some(100),
            max_hashtags: 30,
            privacy: &["public", "private"],
            default_privacy: Some("public"),
            schedule_window_days: 30,
        },
    }
}

/// A hashtag as platforms take it: `#` and letters, digits or `_`, nothing else.
fn clean_hashtag(tag: &str) -> Option<String> {
    let body: String = tag
        .trim()
        .trim_start_matches('#')
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!body.is_empty()).then(|| format!("#{body}"))
}

/// `text` cut to at most `max` in `measure`, ending in `…` when cut.
fn cut(text: &str, max: usize, measure: Measure) -> (String, bool) {
    if measure.of(text) <= max {
        return (text.to_owned(), false);
    }
    let room = max.saturating_sub(measure.of("…"));
    let (mut s, mut size) = (String::new(), 0);
    for c in text.chars() {
        let mut b = [0u8; 4];
        let n = measure.of(c.encode_utf8(&mut b));
        if size + n > room {
            break;
        }
        s.push(c);
        size += n;
    }
    let mut s = s.trim_end().to_owned();
    s.push('…');
    (s, true)
}

/// Title and caption (with its hashtags) cut to the platform's limits, and a warning for each
/// change: the platform never rejects a post for its length.
pub fn compose(
    platform: Platform,
    title: Option<&str>,
    caption: &str,
    hashtags: &[String],
) -> (Option<String>, String, Vec<String>) {
    let l = limits(platform);
    let mut warnings = Vec::new();
    let mut tags: Vec<String> = Vec::new();
    for t in hashtags.iter().filter_map(|t| clean_hashtag(t)) {
        if !tags.iter().any(|x| x.eq_ignore_ascii_case(&t)) {
            tags.push(t);
        }
    }
    if tags.len() > l.max_hashtags {
        warnings.push(format!(
            "{} hashtags dropped: {} allows {} per post",
            tags.len() - l.max_hashtags,
            platform.as_str(),
            l.max_hashtags
        ));
        tags.truncate(l.max_hashtags);
    }
    let title = match (
        l.title_chars,
        title.map(str::trim).filter(|t| !t.is_empty()),
    ) {
        (Some(max), Some(t)) => {
            let (t, was_cut) = cut(t, max, Measure::Chars);
            if was_cut {
                warnings.push(format!("title cut to {max} characters"));
            }
            Some(t)
        }
        _ => None,
    };
    let tag_text = tags.join(" ");
    let room = l
        .caption_chars
        .saturating_sub(l.measure.of(&tag_text) + usize::from(!tag_text.is_empty()));
    let (mut body, was_cut) = cut(caption.trim(), room, l.measure);
    if was_cut {
        warnings.push(format!(
            "caption cut to {room} characters to fit {} with its hashtags",
            l.caption_chars
        ));
    }
    if !tag_text.is_empty() {
        if !body.is_empty() {
            body.push('\n');
        }
        body.push_str(&tag_text);
    }
    (title, body, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> PostContent {
        PostContent {
            title: Some("Night trains".into()),
            caption: "Sleep in Paris, wake in Vienna".into(),
            privacy: "public".into(),
            disable_comment: false,
            disable_duet: false,
            disable_stitch: false,
            ai_generated: true,
            made_for_kids: false,
            category_id: Some("22".into()),
            cover_ms: None,
            brand_content: false,
            brand_organic: false,
        }
    }

    #[test]
    fn posts_round_trip_and_leave_the_open_index_when_they_end() {
        let mut p = Post {
            id: "post_1".into(),
            tenant_id: "tn_1".into(),
            job_id: "job_1".into(),
            account_id: "acc_1".into(),
            platform: Platform::Sandbox,
            status: PostStatus::Queued,
            content: content(),
            schedule_at: None,
            not_before: Some(Timestamp(5)),
            warnings: vec!["title cut".into()],
            begun_at: None,
            handle: None,
            uploaded: false,
            publish_requested_at: None,
            platform_post_id: None,
            url: None,
            privacy_applied: None,
            quota_day: None,
            attempts: 0,
            error: None,
            created_at: Timestamp(1),
            updated_at: Timestamp(2),
            published_at: None,
            metrics_due: None,
            metrics_taken: 0,
            metrics_failures: 0,
            metrics_note: None,
            version: 3,
        };
        let item = p.to_item().unwrap();
        assert_eq!(item.gsi1.as_ref().unwrap().0, OPEN_POSTS);
        assert_eq!(Post::from_item("tn_1", &item), Some(p.clone()));
        p.status = PostStatus::Published;
        p.error = Some(PostError {
            code: "x".into(),
            message: "y".into(),
        });
        let item = p.to_item().unwrap();
        assert!(item.gsi1.is_none());
        assert_eq!(Post::from_item("tn_1", &item), Some(p));
        for s in PostStatus::ALL {
            assert_eq!(PostStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn captions_and_titles_are_cut_to_the_platform_with_a_warning() {
        let tags: Vec<String> = (0..40).map(|i| format!("tag{i}")).collect();
        let long = "word ".repeat(1000);
        let (title, caption, warnings) = compose(Platform::Tiktok, Some("ignored"), &long, &tags);
        assert_eq!(title, None, "TikTok has no title");
        assert!(caption.encode_utf16().count() <= 2200);
        assert!(caption.ends_with("#tag29"));
        assert!(!caption.contains("#tag30"));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let (title, caption, warnings) = compose(
            Platform::Youtube,
            Some(&"t".repeat(150)),
            "Short",
            &["#ok".into(), "bad tag!".into(), "#OK".into(), "  ".into()],
        );
        assert_eq!(title.unwrap().chars().count(), 100);
        assert_eq!(caption, "Short\n#ok #badtag");
        assert_eq!(warnings, vec!["title cut to 100 characters".to_owned()]);
        // TikTok counts UTF-16 units (an emoji is two), YouTube's description bytes.
        let emoji = "🐙".repeat(1500);
        let (_, caption, _) = compose(Platform::Tiktok, None, &emoji, &[]);
        assert!(
            caption.encode_utf16().count() <= 2200,
            "{}",
            caption.encode_utf16().count()
        );
        let accents = "é".repeat(3000);
        let (_, caption, _) = compose(Platform::Youtube, None, &accents, &[]);
        assert!(
            caption.len() <= 5000 && caption.len() > 4900,
            "{}",
            caption.len()
        );
        let (_, caption, warnings) = compose(Platform::Instagram, None, "Just words", &[]);
        assert_eq!(caption, "Just words");
        assert!(warnings.is_empty());
    }
}
