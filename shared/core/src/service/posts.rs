//! Publishing a finished video to connected accounts: the request is checked whole (the video
//! succeeded and passed the target platform's rules, each account is the tenant's and active,
//! privacy is one the platform knows, the schedule is within the platform's window), each
//! target becomes a post filled in from the concept and cut to the platform's limits, and all
//! posts are written together with the `Idempotency-Key` record.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::{Clock, Timestamp};
use crate::domain::JobStatus;
use crate::domain::account::{AccountStatus, Platform};
use crate::domain::keys;
use crate::domain::post::{POST_SK_PREFIX, Post, PostStatus, compose, limits, post_sk};
use crate::error::{Error, Result};
use crate::ids::{is_valid_id, new_id};
use crate::ports::publisher::PostContent;
use crate::ports::{Cond, Item, ItemStore, Query, Transaction, TxError, Write};
use crate::service::{accounts, concepts, idempotency, videos};

const IDEMPOTENCY_SCOPE: &str = "publish";
/// Targets one request may name.
pub const MAX_TARGETS: usize = 10;
/// A schedule this far in the past is a mistake, not "now".
const PAST_GRACE_MS: i64 = 60_000;

/// One account to post to, as the API takes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub account_id: String,
    pub caption: Option<String>,
    pub title: Option<String>,
    pub hashtags: Option<Vec<String>>,
    pub privacy: Option<String>,
    /// RFC 3339 with a zone.
    pub schedule_at: Option<String>,
    #[serde(default)]
    pub options: Options,
}

/// Switches every platform has in some form; each is set deliberately on every post.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default)]
    pub disable_comment: bool,
    #[serde(default)]
    pub disable_duet: bool,
    #[serde(default)]
    pub disable_stitch: bool,
    /// YouTube: the video is made for children (COPPA). Default false.
    #[serde(default)]
    pub made_for_kids: bool,
    /// YouTube category id; default 22 (People & Blogs).
    pub category_id: Option<String>,
    /// The cover frame, in ms from the start.
    pub cover_ms: Option<u64>,
    /// TikTok commercial-content disclosure: a paid partnership.
    #[serde(default)]
    pub brand_content: bool,
    /// TikTok commercial-content disclosure: promoting the creator's own business.
    #[serde(default)]
    pub brand_organic: bool,
}

#[derive(Debug)]
pub struct Created {
    pub posts: Vec<Post>,
    pub replayed: bool,
}

fn request_hash(job_id: &str, targets: &[Target]) -> String {
    let body = serde_json::json!({"job_id": job_id, "targets": targets});
    hex::encode(Sha256::digest(body.to_string()))
}

/// The name of a platform in the video's validation report and in manual feedback.
pub(crate) fn validation_name(platform: Platform) -> Option<&'static str> {
    match platform {
        Platform::Tiktok => Some("tiktok"),
        Platform::Youtube => Some("youtube_shorts"),
        Platform::Instagram => Some("instagram_reels"),
        Platform::Sandbox => None,
    }
}

/// Whether the video passed `platform`'s rules when it was made; the error names the rule.
fn check_validation(job: &crate::domain::Job, platform: Platform) -> Result<()> {
    let Some(name) = validation_name(platform) else {
        return Ok(());
    };
    let report = job
        .validation
        .as_ref()
        .and_then(|v| v["platforms"].as_array())
        .and_then(|list| list.iter().find(|r| r["platform"] == name));
    match report {
        None => Err(Error::Invalid(format!(
            "this video was not checked against {name}'s rules; make it with {name} among its platforms"
        ))),
        Some(r) if r["pass"] != true => {
            let reasons: Vec<&str> = r["reasons"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            Err(Error::Invalid(format!(
                "this video fails {name}'s rules: {}",
                reasons.join("; ")
            )))
        }
        Some(_) => Ok(()),
    }
}

fn clean_text(what: &str, s: &str, max: usize) -> Result<String> {
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::Invalid(format!(
            "{what} may not contain control characters"
        )));
    }
    if s.chars().count() > max {
        return Err(Error::Invalid(format!(
            "{what} is longer than {max} characters"
        )));
    }
    Ok(s.to_owned())
}

/// When a post may go out: now, or its schedule if that is within the platform's window.
fn schedule(platform: Platform, raw: Option<&str>, now: Timestamp) -> Result<Option<Timestamp>> {
    let Some(raw) = raw else { return Ok(None) };
    let at = Timestamp::parse_rfc3339(raw).ok_or_else(|| {
        Error::Invalid(format!(
            "schedule_at {raw:?} is not an RFC 3339 time with a zone (e.g. 2026-12-24T18:00:00+01:00)"
        ))
    })?;
    if at.millis() < now.millis() - PAST_GRACE_MS {
        return Err(Error::Invalid(format!(
            "schedule_at {} is in the past",
            at.rfc3339()
        )));
    }
    let days = limits(platform).schedule_window_days;
    if at.millis() > now.millis() + days * 86_400_000 {
        return Err(Error::Invalid(format!(
            "schedule_at is more than {days} days ahead, the furthest {} posts can be scheduled",
            platform.as_str()
        )));
    }
    Ok(Some(at))
}

fn privacy(platform: Platform, asked: Option<&str>) -> Result<String> {
    let l = limits(platform);
    match asked.or(l.default_privacy) {
        Some(p) if l.privacy.contains(&p) => Ok(p.to_owned()),
        Some(p) => Err(Error::Invalid(format!(
            "privacy {p:?} is not one of {}'s: {}",
            platform.as_str(),
            l.privacy.join(", ")
        ))),
        None => Err(Error::Invalid(format!(
            "privacy is required for {}: choose one of the creator's options ({})",
            platform.as_str(),
            l.privacy.join(", ")
        ))),
    }
}

/// Creates one post per target (see the module), to platforms among `configured`.
/// `Idempotency-Key` replays answer with the posts the first request made.
pub async fn create(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant_id: &str,
    job_id: &str,
    targets: Vec<Target>,
    idempotency_key: Option<&str>,
    configured: &[Platform],
) -> Result<Created> {
    let now = clock.now();
    let pk = keys::tenant_pk(tenant_id);
    let hash = request_hash(job_id, &targets);
    if let Some(k) = idempotency_key {
        idempotency::validate_key(k)?;
        if let Some(ids) = idempotency::earlier(store, &pk, IDEMPOTENCY_SCOPE, k, &hash).await? {
            return replay(store, tenant_id, &ids).await;
        }
    }
    if targets.is_empty() || targets.len() > MAX_TARGETS {
        return Err(Error::Invalid(format!(
            "targets must name 1 to {MAX_TARGETS} accounts"
        )));
    }
    let job = videos::get(store, tenant_id, job_id).await?;
    if job.status != JobStatus::Succeeded {
        return Err(Error::State {
            code: "video_not_ready",
            message: format!(
                "only a succeeded video can be published; this one is {}",
                job.status.as_str()
            ),
        });
    }
    let concept = match &job.spec.concept_id {
        Some(id) => concepts::get(store, tenant_id, id).await.ok(),
        None => None,
    };
    let mut posts = Vec::with_capacity(targets.len());
    for t in &targets {
        if targets
            .iter()
            .filter(|o| o.account_id == t.account_id)
            .count()
            > 1
        {
            return Err(Error::Invalid(format!(
                "account {} is named twice; one post per account per request",
                t.account_id
            )));
        }
        let account = accounts::get(store, tenant_id, &t.account_id).await?;
        if account.status != AccountStatus::Active {
            return Err(Error::State {
                code: "account_needs_reconnect",
                message: format!(
                    "account {} ({}) must be connected again before it can post",
                    account.id,
                    account.platform.as_str()
                ),
            });
        }
        if !configured.contains(&account.platform) {
            return Err(Error::Invalid(format!(
                "{} publishing is not configured on this deployment (see `viral doctor`)",
                account.platform.as_str()
            )));
        }
        check_validation(&job, account.platform)?;
        let title = match &t.title {
            Some(s) => Some(clean_text("title", s, 1000)?),
            None => concept.as_ref().map(|c| c.title.clone()),
        };
        let caption = match &t.caption {
            Some(s) => clean_text("caption", s, 10_000)?,
            None => concept
                .as_ref()
                .map(|c| c.caption.clone())
                .unwrap_or_else(|| job.spec.prompt.chars().take(300).collect()),
        };
        let hashtags = match &t.hashtags {
            Some(h) if h.len() > 100 => {
                return Err(Error::Invalid("at most 100 hashtags".into()));
            }
            Some(h) => h
                .iter()
                .map(|x| clean_text("a hashtag", x, 100))
                .collect::<Result<Vec<_>>>()?,
            None => concept
                .as_ref()
                .map(|c| c.hashtags.clone())
                .unwrap_or_default(),
        };
        if let Some(c) = &t.options.category_id
            && (c.is_empty() || c.len() > 4 || !c.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(Error::Invalid(
                "options.category_id must be a YouTube category id (digits)".into(),
            ));
        }
        if let Some(ms) = t.options.cover_ms
            && ms as f64 > job.spec.duration_s * 1000.0
        {
            return Err(Error::Invalid(
                "options.cover_ms is past the end of the video".into(),
            ));
        }
        let (title, caption, warnings) =
            compose(account.platform, title.as_deref(), &caption, &hashtags);
        let schedule_at = schedule(account.platform, t.schedule_at.as_deref(), now)?;
        let content = PostContent {
            title,
            caption,
            privacy: privacy(account.platform, t.privacy.as_deref())?,
            disable_comment: t.options.disable_comment,
            disable_duet: t.options.disable_duet,
            disable_stitch: t.options.disable_stitch,
            // Every video we make is generated: the label is always set where a platform has one.
            ai_generated: true,
            made_for_kids: t.options.made_for_kids,
            category_id: Some(t.options.category_id.clone().unwrap_or_else(|| "22".into())),
            cover_ms: t.options.cover_ms,
            brand_content: t.options.brand_content,
            brand_organic: t.options.brand_organic,
        };
        posts.push(Post {
            id: new_id("post"),
            tenant_id: tenant_id.to_owned(),
            job_id: job.id.clone(),
            account_id: account.id.clone(),
            platform: account.platform,
            status: if schedule_at.is_some_and(|s| s > now) {
                PostStatus::Scheduled
            } else {
                PostStatus::Queued
            },
            content,
            schedule_at,
            not_before: schedule_at,
            warnings,
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
            created_at: now,
            updated_at: now,
            published_at: None,
            metrics_due: None,
            metrics_taken: 0,
            metrics_failures: 0,
            metrics_note: None,
            version: 1,
        });
    }
    #[derive(Clone, Copy)]
    struct KeyTaken;
    let mut tx = Transaction::new();
    for p in &posts {
        tx.write(Write::Put(p.to_item()?, Cond::Absent));
    }
    let ids: Vec<&str> = posts.iter().map(|p| p.id.as_str()).collect();
    if let Some(k) = idempotency_key {
        let record = idempotency::record(&pk, IDEMPOTENCY_SCOPE, k, &hash, &ids.join(","), now);
        tx.guarded(KeyTaken, Write::Put(record, Cond::Absent));
    }
    match tx.commit(store).await {
        Ok(()) => Ok(Created {
            posts,
            replayed: false,
        }),
        Err(TxError::Refused(KeyTaken)) => {
            let k = idempotency_key.unwrap_or_default();
            let ids = idempotency::replayed_id(store, &pk, IDEMPOTENCY_SCOPE, k, &hash).await?;
            replay(store, tenant_id, &ids).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn replay(store: &dyn ItemStore, tenant_id: &str, ids: &str) -> Result<Created> {
    let mut posts = Vec::new();
    for id in ids.split(',').filter(|s| !s.is_empty()) {
        posts.push(get(store, tenant_id, id).await?);
    }
    Ok(Created {
        posts,
        replayed: true,
    })
}

/// One of the tenant's posts; another tenant's id is "not found".
pub async fn get(store: &dyn ItemStore, tenant_id: &str, id: &str) -> Result<Post> {
    if !is_valid_id("post", id) {
        return Err(Error::NotFound("post"));
    }
    let item = store
        .get(&keys::tenant_pk(tenant_id), &post_sk(id))
        .await?
        .ok_or(Error::NotFound("post"))?;
    Post::from_item(tenant_id, &item).ok_or(Error::NotFound("post"))
}

/// Which posts a list shows.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub status: Option<PostStatus>,
    pub account_id: Option<String>,
}

pub struct PostPage {
    pub posts: Vec<Post>,
    pub next_cursor: Option<String>,
}

/// The tenant's posts, newest first. Filters apply within each page of `limit` posts, so a
/// filtered page may hold fewer (even none) and still have a `next_cursor`.
pub async fn list(
    store: &dyn ItemStore,
    tenant_id: &str,
    filter: &Filter,
    limit: usize,
    cursor: Option<String>,
) -> Result<PostPage> {
    let page = store
        .query(
            Query::new(keys::tenant_pk(tenant_id), POST_SK_PREFIX)
                .descending()
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let posts = Item::decode_all(&page.items, "post", |i| Post::from_item(tenant_id, i))
        .into_iter()
        .filter(|p| {
            filter.status.is_none_or(|s| s == p.status)
                && filter
                    .account_id
                    .as_ref()
                    .is_none_or(|a| *a == p.account_id)
        })
        .collect();
    Ok(PostPage {
        posts,
        next_cursor: page.next_cursor,
    })
}

/// Cancels a post that has not reached its platform. Cancelling twice is harmless; a post
/// already begun at the platform cannot be called back.
pub async fn cancel(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    publish_limits: &crate::domain::publish_limits::PublishLimits,
    tenant_id: &str,
    id: &str,
) -> Result<Post> {
    for _ in 0..3 {
        let post = get(store, tenant_id, id).await?;
        if post.status == PostStatus::Cancelled {
            return Ok(post);
        }
        if !post.cancellable() {
            return Err(Error::State {
                code: "post_not_cancellable",
                message: format!(
                    "this post is {} and has reached its platform; delete it there",
                    post.status.as_str()
                ),
            });
        }
        let mut next = post.clone();
        next.status = PostStatus::Cancelled;
        next.quota_day = None;
        match save(store, clock, next).await {
            Err(Error::Conflict(_)) => continue,
            Ok(saved) => {
                // A queued post took a slot of its day's limits: it goes back.
                if let Some(day) = &post.quota_day {
                    crate::service::publishing::release_slot(store, publish_limits, &post, day)
                        .await;
                }
                return Ok(saved);
            }
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict("the post is changing; retry".into()))
}

/// Writes `post` over the version it was read at, as the next version.
pub async fn save(store: &dyn ItemStore, clock: &dyn Clock, mut post: Post) -> Result<Post> {
    let read = post.version;
    post.version = read + 1;
    post.updated_at = clock.now();
    match store.put(post.to_item()?, Cond::VersionIs(read)).await {
        Ok(()) => Ok(post),
        Err(crate::ports::StoreError::ConditionFailed { .. }) => Err(Error::Conflict(
            "the post changed meanwhile; read it again".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// One page of the posts that have not ended, of every tenant, by when each is due (the
/// index the scheduler, the sweeper and the reconciler read).
pub async fn open_posts(
    store: &dyn ItemStore,
    cursor: Option<String>,
) -> Result<(Vec<Post>, Option<String>)> {
    let page = store
        .query_gsi1(
            Query::new(crate::domain::post::OPEN_POSTS, "")
                .limit(100)
                .after(cursor),
        )
        .await?;
    let posts = Item::decode_all(&page.items, "post", |item| {
        Post::from_item(item.pk.strip_prefix("T#")?, item)
    });
    Ok((posts, page.next_cursor))
}
