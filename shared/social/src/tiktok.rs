//! TikTok: Login Kit v2 (OAuth with rotating refresh tokens) and the Content Posting API
//! (`creator_info` → direct-post `video/init` with `FILE_UPLOAD` → chunked `PUT`s →
//! `status/fetch`). Facts: `../shared/reference/social-apis.md` §1–2.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use viral_core::domain::account::{Account, Platform, PlatformProfile};
use viral_core::domain::metrics::{Metrics, MetricsTarget, Observed};
use viral_core::ports::{
    CreatorInfo, Handle, Media, PostContent, Progress, PublishError, Published, Publisher,
    SecretString, Secrets, Tokens,
};
use viral_core::{Clock, SystemClock, Timestamp};

use crate::config::SocialConfig;
use crate::http::{Answer, AppCredentials, Http, count, expiry, post_ids, unexpected, url_with};

const SCOPES: [&str; 4] = [
    "user.info.basic",
    "video.publish",
    "video.upload",
    "video.list",
];
/// TikTok's chunk rules: 5–64 MB each (the last up to 128 MB); under 5 MB, one chunk.
const MAX_SINGLE_CHUNK: usize = 64 * 1024 * 1024;
const CHUNK: usize = 32 * 1024 * 1024;
/// How long a public post may wait for TikTok's moderation to give its id.
const MODERATION_WAIT_S: i64 = 6 * 3600;

pub struct TiktokPublisher {
    config: SocialConfig,
    app: AppCredentials,
    http: Http,
    clock: Arc<dyn Clock>,
}

impl TiktokPublisher {
    pub fn new(config: SocialConfig, secrets: Arc<dyn Secrets>) -> Result<Self, PublishError> {
        Ok(Self {
            config,
            app: AppCredentials::new(secrets, "TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET"),
            http: Http::new(Duration::from_secs(300))?,
            clock: Arc::new(SystemClock),
        })
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn api(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.config.tiktok_base_url.trim_end_matches('/')
        )
    }

    /// The token endpoint, for a code or a refresh.
    async fn token(&self, form: &[(&str, &str)]) -> Result<Tokens, PublishError> {
        let (key, secret) = self.app.get().await?;
        let mut body: Vec<(&str, &str)> = vec![
            ("client_key", key.as_str()),
            ("client_secret", secret.expose()),
        ];
        body.extend_from_slice(form);
        let req = self
            .http
            .client()
            .post(self.api("/v2/oauth/token/"))
            .header("cache-control", "no-cache")
            .form(&body);
        let a = self.http.send(req, false).await?;
        let j = &a.json;
        if let Some(err) = j["error"].as_str().filter(|e| !e.is_empty()) {
            let why = j["error_description"].as_str().unwrap_or(err);
            return Err(match err {
                // The grant is gone (revoked, expired, a rotated token used twice).
                "invalid_grant" | "access_denied" => {
                    PublishError::NeedsReconnect(format!("{err}: {why}"))
                }
                // Our app's key or secret is wrong: an operator's problem, not the account's.
                "invalid_client" | "unauthorized_client" => {
                    PublishError::NotConfigured(format!("TikTok refused the app: {err}: {why}"))
                }
                _ if a.status.is_client_error() && a.status.as_u16() != 429 => {
                    PublishError::Rejected {
                        code: err.to_owned(),
                        message: why.to_owned(),
                    }
                }
                _ => PublishError::Transient(format!("{err}: {why}")),
            });
        }
        let Some(access) = j["access_token"].as_str() else {
            return Err(unexpected("TikTok", &a));
        };
        let now = self.clock.now();
        Ok(Tokens {
            access: SecretString::new(access),
            refresh: j["refresh_token"].as_str().map(SecretString::new),
            access_expires_at: expiry(now, j["expires_in"].as_i64()),
            refresh_expires_at: expiry(now, j["refresh_expires_in"].as_i64()),
            // TikTok separates granted scopes with commas.
            scopes: j["scope"]
                .as_str()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }

    /// A v2 call with the user's token: its `data`, or the error its `error.code` names.
    async fn call(
        &self,
        access: &SecretString,
        req: reqwest::RequestBuilder,
        creates: bool,
    ) -> Result<Value, PublishError> {
        let req = req.bearer_auth(access.expose());
        let a = self.http.send(req, creates).await?;
        check(&a, creates)?;
        Ok(a.json["data"].clone())
    }

    async fn creator(&self, access: &SecretString) -> Result<Value, PublishError> {
        let req = self
            .http
            .client()
            .post(self.api("/v2/post/publish/creator_info/query/"))
            .header("content-type", "application/json; charset=UTF-8")
            .body("{}");
        self.call(access, req, false).await
    }
}

/// TikTok's error envelope `{error:{code,message,log_id}}` (`ok` is success), mapped to what
/// the workflow does about it.
fn check(a: &Answer, creates: bool) -> Result<(), PublishError> {
    let code = a.json["error"]["code"].as_str().unwrap_or_default();
    let message = a.json["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let log_id = a.json["error"]["log_id"].as_str().unwrap_or_default();
    if a.status.is_success() && (code == "ok" || code.is_empty()) {
        return Ok(());
    }
    if !log_id.is_empty() {
        tracing::info!(
            code,
            log_id,
            status = a.status.as_u16(),
            "TikTok refused a call"
        );
    }
    let day = 86_400;
    let message = if message.is_empty() {
        a.text.clone()
    } else {
        message
    };
    Err(match code {
        "access_token_invalid" => PublishError::Unauthorized(message),
        "scope_not_authorized" | "scope_permission_missed" => PublishError::NeedsReconnect(
            format!("{code}: the user did not grant every scope; connect again and allow them all"),
        ),
        "rate_limit_exceeded" => PublishError::Limited {
            code: code.into(),
            message,
            retry_after_secs: a.retry_after().unwrap_or(60),
        },
        "spam_risk_too_many_posts"
        | "spam_risk_too_many_pending_share"
        | "reached_active_user_cap" => PublishError::Limited {
            code: code.into(),
            message,
            retry_after_secs: day,
        },
        "internal_error" => {
            if creates {
                PublishError::Unknown(format!("{code}: {message}"))
            } else {
                PublishError::Transient(format!("{code}: {message}"))
            }
        }
        _ if a.status.is_server_error() => {
            if creates {
                PublishError::Unknown(format!("{} {message}", a.status))
            } else {
                PublishError::Transient(format!("{} {message}", a.status))
            }
        }
        _ if a.status == reqwest::StatusCode::UNAUTHORIZED => PublishError::Unauthorized(message),
        "" => PublishError::Rejected {
            code: format!("http_{}", a.status.as_u16()),
            message,
        },
        _ => PublishError::Rejected {
            code: code.into(),
            message,
        },
    })
}

/// `(chunk_size, total_chunk_count)` for a file of `size` bytes, by TikTok's rules.
pub fn chunking(size: usize) -> (usize, usize) {
    if size <= MAX_SINGLE_CHUNK {
        (size, 1)
    } else {
        // The last chunk takes the remainder (under 2 × CHUNK, within TikTok's 128 MB).
        (CHUNK, size / CHUNK)
    }
}

#[async_trait]
impl Publisher for TiktokPublisher {
    fn platform(&self) -> Platform {
        Platform::Tiktok
    }

    fn scopes(&self) -> Vec<String> {
        SCOPES.map(str::to_owned).to_vec()
    }

    fn publish_scope(&self) -> Option<&'static str> {
        Some("video.publish")
    }

    async fn authorize_url(
        &self,
        state: &str,
        challenge: &str,
        redirect_uri: &str,
    ) -> Result<String, PublishError> {
        let (key, _) = self.app.get().await?;
        url_with(
            &self.config.tiktok_authorize_url,
            "",
            &[
                ("client_key", &key),
                ("response_type", "code"),
                ("scope", &SCOPES.join(",")),
                ("redirect_uri", redirect_uri),
                ("state", state),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ],
        )
    }

    async fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<(PlatformProfile, Tokens), PublishError> {
        let tokens = self
            .token(&[
                ("code", code),
                ("grant_type", "authorization_code"),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
            ])
            .await?;
        let req = self.http.client().get(url_with(
            &self.config.tiktok_base_url,
            "/v2/user/info/",
            &[("fields", "open_id,avatar_url,display_name")],
        )?);
        let data = self.call(&tokens.access, req, false).await?;
        let user = &data["user"];
        let Some(open_id) = user["open_id"].as_str() else {
            return Err(PublishError::Transient("TikTok sent no open_id".into()));
        };
        Ok((
            PlatformProfile {
                user_id: open_id.to_owned(),
                display_name: user["display_name"]
                    .as_str()
                    .unwrap_or("TikTok user")
                    .to_owned(),
                avatar_url: user["avatar_url"].as_str().map(str::to_owned),
            },
            tokens,
        ))
    }

    async fn refresh(&self, refresh: &SecretString) -> Result<Tokens, PublishError> {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose()),
        ])
        .await
    }

    async fn revoke(
        &self,
        access: Option<&SecretString>,
        _refresh: Option<&SecretString>,
    ) -> Result<bool, PublishError> {
        // TikTok revokes by the access token.
        let Some(token) = access else {
            return Ok(false);
        };
        let (key, secret) = self.app.get().await?;
        let req = self
            .http
            .client()
            .post(self.api("/v2/oauth/revoke/"))
            .form(&[
                ("client_key", key.as_str()),
                ("client_secret", secret.expose()),
                ("token", token.expose()),
            ]);
        let a = self.http.send(req, false).await?;
        if a.status.is_success() && a.json["error"].as_str().is_none_or(str::is_empty) {
            Ok(true)
        } else {
            Err(PublishError::Rejected {
                code: a.json["error"]
                    .as_str()
                    .unwrap_or("revoke_failed")
                    .to_owned(),
                message: a.text,
            })
        }
    }

    async fn creator_info(
        &self,
        access: &SecretString,
        _: &Account,
    ) -> Result<CreatorInfo, PublishError> {
        let d = self.creator(access).await?;
        let options: Vec<String> = d["privacy_level_options"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let restriction = (options == ["SELF_ONLY"]).then(|| {
            "this app is not audited by TikTok yet: posts are visible to their creator only (SELF_ONLY)"
                .to_owned()
        });
        Ok(CreatorInfo {
            display_name: d["creator_nickname"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            avatar_url: d["creator_avatar_url"].as_str().map(str::to_owned),
            cannot_post: options
                .is_empty()
                .then(|| "TikTok says this creator cannot post right now".to_owned()),
            privacy_options: options,
            comment_disabled: d["comment_disabled"].as_bool().unwrap_or(false),
            duet_disabled: d["duet_disabled"].as_bool().unwrap_or(false),
            stitch_disabled: d["stitch_disabled"].as_bool().unwrap_or(false),
            max_duration_s: d["max_video_post_duration_sec"].as_f64(),
            restriction,
        })
    }

    async fn begin(
        &self,
        access: &SecretString,
        account: &Account,
        content: &PostContent,
        media: &Media,
    ) -> Result<Handle, PublishError> {
        // What TikTok's audit asks of every post: the creator may post now, the privacy is one
        // of theirs, the video fits their longest, switches they turned off stay off.
        let info = self.creator_info(access, account).await?;
        if let Some(why) = info.cannot_post {
            return Err(PublishError::Limited {
                code: "creator_cannot_post".into(),
                message: why,
                retry_after_secs: 3600,
            });
        }
        if !info.privacy_options.contains(&content.privacy) {
            return Err(PublishError::Rejected {
                code: "privacy_level_option_mismatch".into(),
                message: format!(
                    "{} is not one of this creator's privacy options ({})",
                    content.privacy,
                    info.privacy_options.join(", ")
                ),
            });
        }
        if let Some(max) = info.max_duration_s
            && media.duration_s > max
        {
            return Err(PublishError::Rejected {
                code: "duration_check_failed".into(),
                message: format!(
                    "the video is {:.0} s; this creator may post at most {max:.0} s",
                    media.duration_s
                ),
            });
        }
        let size = media.bytes.len();
        let (chunk_size, chunks) = chunking(size);
        let mut post_info = json!({
            "title": content.caption,
            "privacy_level": content.privacy,
            "disable_comment": content.disable_comment || info.comment_disabled,
            "disable_duet": content.disable_duet || info.duet_disabled,
            "disable_stitch": content.disable_stitch || info.stitch_disabled,
            "brand_content_toggle": content.brand_content,
            "brand_organic_toggle": content.brand_organic,
            "is_aigc": content.ai_generated,
        });
        if let Some(ms) = content.cover_ms {
            post_info["video_cover_timestamp_ms"] = json!(ms);
        }
        let body = json!({
            "post_info": post_info,
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": size,
                "chunk_size": chunk_size,
                "total_chunk_count": chunks,
            },
        });
        let req = self
            .http
            .client()
            .post(self.api("/v2/post/publish/video/init/"))
            .header("content-type", "application/json; charset=UTF-8")
            .body(body.to_string());
        let d = self.call(access, req, true).await?;
        let (Some(id), Some(url)) = (d["publish_id"].as_str(), d["upload_url"].as_str()) else {
            return Err(PublishError::Unknown(
                "TikTok's init answer had no publish_id".into(),
            ));
        };
        Ok(json!({
            "publish_id": id, "upload_url": url, "size": size, "chunk_size": chunk_size,
            "chunks": chunks, "privacy": content.privacy, "begun": self.clock.now().secs(),
        })
        .to_string())
    }

    async fn upload(
        &self,
        _: &SecretString,
        _: &Account,
        handle: &Handle,
        media: &Media,
    ) -> Result<Handle, PublishError> {
        let h: Value = serde_json::from_str(handle).map_err(|_| PublishError::Rejected {
            code: "bad_handle".into(),
            message: "not a TikTok handle".into(),
        })?;
        let url = h["upload_url"].as_str().unwrap_or_default();
        let size = media.bytes.len();
        if h["size"].as_u64() != Some(size as u64) {
            return Err(PublishError::Rejected {
                code: "invalid_file_upload".into(),
                message: "the video changed since its upload to TikTok began".into(),
            });
        }
        let chunk_size = h["chunk_size"].as_u64().unwrap_or(size as u64) as usize;
        let chunks = h["chunks"].as_u64().unwrap_or(1).max(1) as usize;
        // In order, as TikTok requires; a chunk refused once (a dropped connection, a 5xx) is
        // sent again before giving up.
        for i in 0..chunks {
            let first = i * chunk_size;
            let last = if i + 1 == chunks {
                size
            } else {
                first + chunk_size
            };
            let part = media.bytes[first..last].to_vec();
            let mut tries = 0;
            loop {
                tries += 1;
                let req = self
                    .http
                    .client()
                    .put(url)
                    .header("content-type", "video/mp4")
                    .header(
                        "content-range",
                        format!("bytes {first}-{}/{size}", last - 1),
                    )
                    .body(part.clone());
                match self.http.send(req, false).await {
                    Ok(a) if a.status.is_success() => break,
                    Ok(a) if a.status.is_client_error() => {
                        return Err(PublishError::Rejected {
                            code: "invalid_file_upload".into(),
                            message: format!(
                                "TikTok refused chunk {} of {chunks}: {} {}",
                                i + 1,
                                a.status,
                                a.text
                            ),
                        });
                    }
                    Ok(a) if tries >= 2 => {
                        return Err(PublishError::Transient(format!(
                            "chunk {}: {}",
                            i + 1,
                            a.status
                        )));
                    }
                    Err(e) if tries >= 2 => return Err(e),
                    _ => tokio_sleep(Duration::from_millis(200)).await,
                }
            }
        }
        Ok(handle.clone())
    }

    async fn poll(
        &self,
        access: &SecretString,
        account: &Account,
        handle: &Handle,
    ) -> Result<Progress, PublishError> {
        let h: Value = serde_json::from_str(handle).unwrap_or(Value::Null);
        let id = h["publish_id"].as_str().unwrap_or_default();
        let req = self
            .http
            .client()
            .post(self.api("/v2/post/publish/status/fetch/"))
            .header("content-type", "application/json; charset=UTF-8")
            .body(json!({ "publish_id": id }).to_string());
        let d = self.call(access, req, false).await?;
        let status = d["status"].as_str().unwrap_or_default();
        Ok(match status {
            "PUBLISH_COMPLETE" | "SEND_TO_USER_INBOX" => {
                // TikTok's spelling. The id appears once moderation made the post public;
                // private posts never get one.
                let post_id = d["publicaly_available_post_id"]
                    .as_array()
                    .and_then(|a| a.first())
                    .and_then(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .or_else(|| v.as_u64().map(|n| n.to_string()))
                    });
                let url = match &post_id {
                    Some(pid) => self
                        .creator(access)
                        .await
                        .ok()
                        .and_then(|c| c["creator_username"].as_str().map(str::to_owned))
                        .map(|user| format!("https://www.tiktok.com/@{user}/video/{pid}")),
                    None => None,
                };
                let _ = account;
                // A public post's id appears only after moderation, which can take hours:
                // wait for it, up to MODERATION_WAIT, then record the post without one.
                let begun = h["begun"].as_i64().unwrap_or_default();
                let waited = self.clock.now().secs() - begun;
                if post_id.is_none()
                    && h["privacy"] == "PUBLIC_TO_EVERYONE"
                    && status == "PUBLISH_COMPLETE"
                    && waited < MODERATION_WAIT_S
                {
                    return Ok(Progress::Processing(Some(
                        "posted; TikTok's moderation has not made it public yet".into(),
                    )));
                }
                Progress::Published(Published {
                    post_id,
                    url,
                    privacy: None,
                })
            }
            "FAILED" => Progress::Failed {
                code: d["fail_reason"]
                    .as_str()
                    .unwrap_or("publish_failed")
                    .to_owned(),
                message: format!(
                    "TikTok failed the post: {}",
                    d["fail_reason"].as_str().unwrap_or("no reason given")
                ),
            },
            other => Progress::Processing(Some(other.to_owned())),
        })
    }

    async fn publish(
        &self,
        access: &SecretString,
        account: &Account,
        handle: &Handle,
    ) -> Result<Published, PublishError> {
        // Direct posts publish themselves; nothing to call.
        match self.poll(access, account, handle).await? {
            Progress::Published(p) => Ok(p),
            _ => Ok(Published::default()),
        }
    }

    async fn find_published(
        &self,
        access: &SecretString,
        account: &Account,
        handle: &Handle,
    ) -> Result<Option<Published>, PublishError> {
        match self.poll(access, account, handle).await? {
            Progress::Published(p) => Ok(Some(p)),
            _ => Ok(None),
        }
    }

    fn metrics_batch(&self) -> usize {
        20
    }

    /// `video/query` (scope `video.list`): counts only — TikTok's Display API has no watch
    /// time, saves or reach, and returns nothing for private posts.
    async fn metrics(
        &self,
        access: &SecretString,
        _: &Account,
        targets: &[MetricsTarget],
        _: Timestamp,
    ) -> Result<Vec<(String, Observed)>, PublishError> {
        let ids = post_ids(targets, self.metrics_batch());
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let req = self
            .http
            .client()
            .post(url_with(
                &self.config.tiktok_base_url,
                "/v2/video/query/",
                &[(
                    "fields",
                    "id,view_count,like_count,comment_count,share_count",
                )],
            )?)
            .header("content-type", "application/json; charset=UTF-8")
            .body(json!({ "filters": { "video_ids": ids } }).to_string());
        let d = self.call(access, req, false).await?;
        // Posts absent from the list are taken as gone: only a well-formed list says so.
        let Some(videos) = d["videos"].as_array() else {
            return Err(PublishError::Transient(
                "TikTok's video/query answer has no video list".into(),
            ));
        };
        let mut out = Vec::new();
        for v in videos {
            let Some(id) = v["id"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| v["id"].as_u64().map(|n| n.to_string()))
            else {
                continue;
            };
            let mut m = Metrics::default();
            for (name, slot) in [
                ("view_count", &mut m.views),
                ("like_count", &mut m.likes),
                ("comment_count", &mut m.comments),
                ("share_count", &mut m.shares),
            ] {
                if let Some(n) = count(&v[name]) {
                    *slot = Some(n);
                    m.raw.insert(name.to_owned(), n as f64);
                }
            }
            out.push((id, Observed::Metrics(m)));
        }
        Ok(out)
    }
}

async fn tokio_sleep(d: Duration) {
    tokio::time::sleep(d).await;
}
