//! YouTube: Google OAuth (offline access, so a refresh token) and the Data API's resumable
//! upload (a session, then the bytes, resumed from what the server has after a `308` or a
//! dropped connection), then `videos.list` until the video is processed. Facts:
//! `../shared/reference/social-apis.md` §3, `external-apis.md` §4.

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

/// What the loop reads from YouTube Analytics (views there lag; fresh views come from
/// `videos.list`).
const REPORT_METRICS: &str =
    "averageViewDuration,averageViewPercentage,shares,subscribersGained,subscribersLost";

const SCOPES: [&str; 3] = [
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube.readonly",
    "https://www.googleapis.com/auth/yt-analytics.readonly",
];
/// How many times one upload call resumes a broken transfer before giving the step back.
const RESUMES: usize = 3;

pub struct YoutubePublisher {
    config: SocialConfig,
    app: AppCredentials,
    http: Http,
    clock: Arc<dyn Clock>,
}

impl YoutubePublisher {
    pub fn new(config: SocialConfig, secrets: Arc<dyn Secrets>) -> Result<Self, PublishError> {
        Ok(Self {
            config,
            app: AppCredentials::new(
                secrets,
                "GOOGLE_OAUTH_CLIENT_ID",
                "GOOGLE_OAUTH_CLIENT_SECRET",
            ),
            http: Http::new(Duration::from_secs(300))?,
            clock: Arc::new(SystemClock),
        })
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<Tokens, PublishError> {
        let (id, secret) = self.app.get().await?;
        let mut body: Vec<(&str, &str)> = vec![
            ("client_id", id.as_str()),
            ("client_secret", secret.expose()),
        ];
        body.extend_from_slice(form);
        let url = format!(
            "{}/token",
            self.config.google_oauth_base_url.trim_end_matches('/')
        );
        let a = self
            .http
            .send(self.http.client().post(url).form(&body), false)
            .await?;
        if let Some(err) = a.json["error"].as_str() {
            let why = a.json["error_description"]
                .as_str()
                .unwrap_or(err)
                .to_owned();
            return Err(match err {
                // A dead refresh token: revoked, unused for 6 months, or a "testing" app's 7 days.
                "invalid_grant" => PublishError::NeedsReconnect(format!("{err}: {why}")),
                "invalid_client" | "unauthorized_client" => {
                    PublishError::NotConfigured(format!("Google refused the app: {err}: {why}"))
                }
                _ if a.status.is_client_error() && a.status.as_u16() != 429 => {
                    PublishError::Rejected {
                        code: err.to_owned(),
                        message: why,
                    }
                }
                _ => PublishError::Transient(why),
            });
        }
        let Some(access) = a.json["access_token"].as_str() else {
            return Err(unexpected("Google", &a));
        };
        Ok(Tokens {
            access: SecretString::new(access),
            // Google sends a refresh token at the first consent only; the account keeps it.
            refresh: a.json["refresh_token"].as_str().map(SecretString::new),
            access_expires_at: expiry(self.clock.now(), a.json["expires_in"].as_i64()),
            refresh_expires_at: None,
            scopes: a.json["scope"]
                .as_str()
                .unwrap_or_default()
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }

    fn api(&self, path: &str, query: &[(&str, &str)]) -> Result<String, PublishError> {
        url_with(&self.config.youtube_api_base_url, path, query)
    }

    /// A YouTube Analytics report of these videos over `from`..=`to` (whole days), by video:
    /// each row's metrics by name.
    async fn report(
        &self,
        access: &SecretString,
        ids: &[&str],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<std::collections::HashMap<String, Vec<(String, f64)>>, PublishError> {
        let day = |t: Timestamp| t.rfc3339().chars().take(10).collect::<String>();
        let filter = format!("video=={}", ids.join(","));
        let (start, end) = (day(from), day(to));
        let url = url_with(
            &self.config.youtube_analytics_base_url,
            "/v2/reports",
            &[
                ("ids", "channel==MINE"),
                ("startDate", &start),
                ("endDate", &end),
                ("metrics", REPORT_METRICS),
                ("dimensions", "video"),
                ("filters", &filter),
                // Reports by video want a sort and a cap.
                ("sort", "-shares"),
                ("maxResults", "200"),
            ],
        )?;
        let req = self.http.client().get(url).bearer_auth(access.expose());
        let a = self.http.send(req, false).await?;
        if !a.status.is_success() {
            return Err(google_error(&a, false));
        }
        let names: Vec<String> = a.json["columnHeaders"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| h["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        let mut out = std::collections::HashMap::new();
        for row in a.json["rows"].as_array().into_iter().flatten() {
            let Some(cells) = row.as_array() else {
                continue;
            };
            let Some(video) = cells.first().and_then(Value::as_str) else {
                continue;
            };
            let values = names
                .iter()
                .zip(cells)
                .skip(1)
                .filter_map(|(n, v)| v.as_f64().filter(|x| x.is_finite()).map(|x| (n.clone(), x)))
                .collect();
            out.insert(video.to_owned(), values);
        }
        Ok(out)
    }

    /// Asks the upload session how much it has: `Ok(Some(video))` when the upload is complete,
    /// `Ok(None)` with `received` bytes otherwise.
    async fn received(
        &self,
        access: &SecretString,
        session: &str,
        size: usize,
    ) -> Result<(Option<Value>, usize), PublishError> {
        let req = self
            .http
            .client()
            .put(session)
            .bearer_auth(access.expose())
            .header("content-range", format!("bytes */{size}"))
            .header("content-length", "0");
        let a = self.http.send(req, false).await?;
        session_answer(&a)
    }
}

/// What an upload session answered: the video when complete, or how many bytes it holds.
fn session_answer(a: &Answer) -> Result<(Option<Value>, usize), PublishError> {
    match a.status.as_u16() {
        200 | 201 => Ok((Some(a.json.clone()), 0)),
        // `Range: bytes=0-N` means N+1 bytes are there; no Range header means none.
        308 => Ok((
            None,
            a.header("range")
                .and_then(|r| r.rsplit('-').next())
                .and_then(|n| n.trim().parse::<usize>().ok())
                .map_or(0, |n| n + 1),
        )),
        404 | 410 => Err(PublishError::Rejected {
            code: "upload_session_expired".into(),
            message: "YouTube's upload session expired before the upload finished".into(),
        }),
        _ => Err(google_error(a, false)),
    }
}

/// Google's error envelope `{error:{code,message,errors:[{reason}]}}`, mapped.
fn google_error(a: &Answer, creates: bool) -> PublishError {
    let reason = a.json["error"]["errors"][0]["reason"]
        .as_str()
        .or_else(|| a.json["error"]["status"].as_str())
        .unwrap_or_default()
        .to_owned();
    let message = a.json["error"]["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| a.text.clone());
    match (a.status.as_u16(), reason.as_str()) {
        (401, _) => PublishError::Unauthorized(message),
        (_, "quotaExceeded" | "rateLimitExceeded" | "userRateLimitExceeded") => {
            PublishError::Limited {
                code: reason,
                message,
                // The project's quota resets at midnight Pacific; an hour's wait is cheap.
                retry_after_secs: a.retry_after().unwrap_or(3600),
            }
        }
        (_, "uploadLimitExceeded") => PublishError::Limited {
            code: reason,
            message,
            retry_after_secs: 86_400,
        },
        (403, "forbidden" | "insufficientPermissions" | "youtubeSignupRequired") => {
            PublishError::NeedsReconnect(format!("{reason}: {message}"))
        }
        (500..=599, _) if creates => PublishError::Unknown(format!("{} {message}", a.status)),
        (500..=599, _) => PublishError::Transient(format!("{} {message}", a.status)),
        (429, _) => PublishError::Limited {
            code: "rate_limited".into(),
            message,
            retry_after_secs: a.retry_after().unwrap_or(60),
        },
        _ => PublishError::Rejected {
            code: if reason.is_empty() {
                format!("http_{}", a.status.as_u16())
            } else {
                reason
            },
            message,
        },
    }
}

fn video_id(video: &Value) -> Result<String, PublishError> {
    video["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| PublishError::Transient("YouTube's upload answer had no video id".into()))
}

#[async_trait]
impl Publisher for YoutubePublisher {
    fn platform(&self) -> Platform {
        Platform::Youtube
    }

    fn scopes(&self) -> Vec<String> {
        SCOPES.map(str::to_owned).to_vec()
    }

    fn publish_scope(&self) -> Option<&'static str> {
        Some("https://www.googleapis.com/auth/youtube.upload")
    }

    async fn authorize_url(
        &self,
        state: &str,
        challenge: &str,
        redirect_uri: &str,
    ) -> Result<String, PublishError> {
        let (id, _) = self.app.get().await?;
        url_with(
            &self.config.google_authorize_url,
            "",
            &[
                ("client_id", &id),
                ("redirect_uri", redirect_uri),
                ("response_type", "code"),
                ("scope", &SCOPES.join(" ")),
                // Offline access with a fresh consent: the only way to get a refresh token.
                ("access_type", "offline"),
                ("prompt", "consent"),
                ("include_granted_scopes", "true"),
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
                ("code_verifier", verifier),
                ("redirect_uri", redirect_uri),
                ("grant_type", "authorization_code"),
            ])
            .await?;
        let req = self
            .http
            .client()
            .get(self.api(
                "/youtube/v3/channels",
                &[("part", "snippet"), ("mine", "true")],
            )?)
            .bearer_auth(tokens.access.expose());
        let a = self.http.send(req, false).await?;
        if !a.status.is_success() {
            return Err(google_error(&a, false));
        }
        let channel = &a.json["items"][0];
        let Some(id) = channel["id"].as_str() else {
            return Err(PublishError::Rejected {
                code: "youtube_signup_required".into(),
                message:
                    "this Google account has no YouTube channel; create one, then connect again"
                        .into(),
            });
        };
        Ok((
            PlatformProfile {
                user_id: id.to_owned(),
                display_name: channel["snippet"]["title"]
                    .as_str()
                    .unwrap_or("YouTube channel")
                    .to_owned(),
                avatar_url: channel["snippet"]["thumbnails"]["default"]["url"]
                    .as_str()
                    .map(str::to_owned),
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
        refresh: Option<&SecretString>,
    ) -> Result<bool, PublishError> {
        // Revoking the refresh token ends the whole grant; an access token, only if no other.
        let Some(token) = refresh.or(access) else {
            return Ok(false);
        };
        let url = format!(
            "{}/revoke",
            self.config.google_oauth_base_url.trim_end_matches('/')
        );
        let req = self
            .http
            .client()
            .post(url)
            .form(&[("token", token.expose())]);
        let a = self.http.send(req, false).await?;
        match a.status.as_u16() {
            200 => Ok(true),
            // Already revoked or expired: nothing left to revoke.
            400 if a.json["error"] == "invalid_token" => Ok(true),
            _ => Err(google_error(&a, false)),
        }
    }

    async fn creator_info(
        &self,
        _: &SecretString,
        account: &Account,
    ) -> Result<CreatorInfo, PublishError> {
        Ok(CreatorInfo {
            display_name: account.profile.display_name.clone(),
            avatar_url: account.profile.avatar_url.clone(),
            privacy_options: vec!["public".into(), "unlisted".into(), "private".into()],
            comment_disabled: false,
            duet_disabled: true,
            stitch_disabled: true,
            // Vertical videos up to 3 minutes are Shorts.
            max_duration_s: Some(180.0),
            cannot_post: None,
            restriction: Some(
                "uploads from a Google Cloud project that YouTube has not audited are locked private"
                    .into(),
            ),
        })
    }

    async fn begin(
        &self,
        access: &SecretString,
        _: &Account,
        content: &PostContent,
        media: &Media,
    ) -> Result<Handle, PublishError> {
        let (description, tags) = split_tags(&content.caption);
        let metadata = json!({
            "snippet": {
                // YouTube refuses `<` and `>` in titles.
                "title": content
                    .title
                    .clone()
                    .unwrap_or_else(|| first_line(&content.caption))
                    .replace(['<', '>'], ""),
                "description": description,
                "tags": tags,
                "categoryId": content.category_id.clone().unwrap_or_else(|| "22".into()),
            },
            "status": {
                "privacyStatus": content.privacy,
                // Always sent: without it the upload waits for a manual answer in Studio.
                "selfDeclaredMadeForKids": content.made_for_kids,
                "containsSyntheticMedia": content.ai_generated,
            },
        });
        let size = media.bytes.len();
        let url = url_with(
            &self.config.youtube_upload_base_url,
            "/upload/youtube/v3/videos",
            &[("uploadType", "resumable"), ("part", "snippet,status")],
        )?;
        let req = self
            .http
            .client()
            .post(url)
            .bearer_auth(access.expose())
            .header("content-type", "application/json; charset=UTF-8")
            .header("x-upload-content-length", size.to_string())
            .header("x-upload-content-type", "video/mp4")
            .body(metadata.to_string());
        let a = self.http.send(req, true).await?;
        if !a.status.is_success() {
            return Err(google_error(&a, true));
        }
        let Some(session) = a.header("location") else {
            return Err(PublishError::Unknown(
                "YouTube sent no upload session".into(),
            ));
        };
        Ok(json!({"session": session, "size": size}).to_string())
    }

    async fn upload(
        &self,
        access: &SecretString,
        _: &Account,
        handle: &Handle,
        media: &Media,
    ) -> Result<Handle, PublishError> {
        let h: Value = serde_json::from_str(handle).unwrap_or(Value::Null);
        if let Some(id) = h["video_id"].as_str() {
            return Ok(json!({ "video_id": id }).to_string());
        }
        let session = h["session"].as_str().unwrap_or_default().to_owned();
        let size = media.bytes.len();
        // An earlier attempt may have sent part (or all) of it: ask first, then send the rest.
        let (mut done, mut from) = self.received(access, &session, size).await?;
        let mut resumes = 0;
        while done.is_none() {
            let req = self
                .http
                .client()
                .put(&session)
                .bearer_auth(access.expose())
                .header("content-type", "video/mp4")
                .header(
                    "content-range",
                    format!("bytes {from}-{}/{size}", size.saturating_sub(1)),
                )
                .body(media.bytes[from.min(size)..].to_vec());
            let answer = self.http.send(req, false).await;
            let next = match answer {
                Ok(a) if a.status.is_server_error() => None,
                Ok(a) => Some(session_answer(&a)?),
                Err(PublishError::Transient(_)) => None,
                Err(e) => return Err(e),
            };
            match next {
                Some((video, received)) => {
                    done = video;
                    from = received;
                }
                None => {
                    resumes += 1;
                    if resumes > RESUMES {
                        return Err(PublishError::Transient(
                            "the upload to YouTube kept breaking; it resumes on the next try"
                                .into(),
                        ));
                    }
                    tracing::info!(resumes, "YouTube upload broke; resuming from what it has");
                    (done, from) = self.received(access, &session, size).await?;
                }
            }
        }
        let video = done.unwrap_or(Value::Null);
        Ok(json!({ "video_id": video_id(&video)? }).to_string())
    }

    async fn poll(
        &self,
        access: &SecretString,
        _: &Account,
        handle: &Handle,
    ) -> Result<Progress, PublishError> {
        let h: Value = serde_json::from_str(handle).unwrap_or(Value::Null);
        let id = h["video_id"].as_str().unwrap_or_default();
        let req = self
            .http
            .client()
            .get(self.api(
                "/youtube/v3/videos",
                &[("part", "status,processingDetails"), ("id", id)],
            )?)
            .bearer_auth(access.expose());
        let a = self.http.send(req, false).await?;
        if !a.status.is_success() {
            return Err(google_error(&a, false));
        }
        let Some(video) = a.json["items"].as_array().and_then(|i| i.first()) else {
            return Ok(Progress::Failed {
                code: "video_missing".into(),
                message: "YouTube no longer has this video (deleted?)".into(),
            });
        };
        let status = &video["status"];
        Ok(match status["uploadStatus"].as_str().unwrap_or_default() {
            "processed" => Progress::Published(Published {
                post_id: Some(id.to_owned()),
                url: Some(format!("https://www.youtube.com/shorts/{id}")),
                privacy: status["privacyStatus"].as_str().map(str::to_owned),
            }),
            "failed" | "rejected" | "deleted" => Progress::Failed {
                code: status["failureReason"]
                    .as_str()
                    .or_else(|| status["rejectionReason"].as_str())
                    .unwrap_or("upload_failed")
                    .to_owned(),
                message: format!(
                    "YouTube {} the video",
                    status["uploadStatus"].as_str().unwrap_or("failed")
                ),
            },
            other => Progress::Processing(
                video["processingDetails"]["processingStatus"]
                    .as_str()
                    .or(Some(other))
                    .map(str::to_owned),
            ),
        })
    }

    async fn publish(
        &self,
        access: &SecretString,
        account: &Account,
        handle: &Handle,
    ) -> Result<Published, PublishError> {
        // A processed upload is published; nothing to call.
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
        50
    }

    /// Fresh counts from `videos.list` (1 quota unit per 50 videos); watch time, shares and
    /// subscribers from YouTube Analytics once its 48–72 h lag has passed (a refused report
    /// keeps the counts).
    async fn metrics(
        &self,
        access: &SecretString,
        _: &Account,
        targets: &[MetricsTarget],
        now: Timestamp,
    ) -> Result<Vec<(String, Observed)>, PublishError> {
        let ids = post_ids(targets, self.metrics_batch());
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let joined = ids.join(",");
        let req = self
            .http
            .client()
            .get(self.api(
                "/youtube/v3/videos",
                &[("part", "statistics"), ("id", &joined)],
            )?)
            .bearer_auth(access.expose());
        let a = self.http.send(req, false).await?;
        if !a.status.is_success() {
            return Err(google_error(&a, false));
        }
        // Videos absent from the list are taken as gone: only a well-formed list says so.
        let Some(items) = a.json["items"].as_array() else {
            return Err(PublishError::Transient(
                "YouTube's videos.list answer has no items".into(),
            ));
        };
        let mut found: Vec<(String, Metrics)> = Vec::new();
        for v in items {
            let Some(id) = v["id"].as_str() else { continue };
            let s = &v["statistics"];
            let mut m = Metrics::default();
            for (name, slot) in [
                ("viewCount", &mut m.views),
                ("likeCount", &mut m.likes),
                ("commentCount", &mut m.comments),
            ] {
                if let Some(n) = count(&s[name]) {
                    *slot = Some(n);
                    m.raw.insert(name.to_owned(), n as f64);
                }
            }
            found.push((id.to_owned(), m));
        }
        // Analytics has days only after they are fully processed: posts older than 3 days.
        let settled = now.secs() - 3 * 86_400;
        let ripe: Vec<&MetricsTarget> = targets
            .iter()
            .filter(|t| t.published_at.secs() <= settled)
            .collect();
        if let Some(first) = ripe.iter().map(|t| t.published_at).min() {
            let ids: Vec<&str> = ripe.iter().map(|t| t.platform_post_id.as_str()).collect();
            match self
                .report(access, &ids, first, Timestamp::from_secs(settled))
                .await
            {
                Ok(rows) => {
                    for (id, m) in &mut found {
                        if let Some(r) = rows.get(id.as_str()) {
                            merge_report(m, r);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "YouTube Analytics gave no report; counts only")
                }
            }
        }
        Ok(found
            .into_iter()
            .map(|(id, m)| (id, Observed::Metrics(m)))
            .collect())
    }
}

/// The caption's last line of hashtags become tags; the description keeps them too (YouTube
/// shows the first three above the title).
fn split_tags(caption: &str) -> (String, Vec<String>) {
    let tags = caption
        .split_whitespace()
        .filter_map(|w| w.strip_prefix('#'))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    (caption.to_owned(), tags)
}

fn first_line(caption: &str) -> String {
    caption
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(100)
        .collect()
}

/// Adds a YouTube Analytics row to the fresh counts.
fn merge_report(m: &mut Metrics, row: &[(String, f64)]) {
    let get = |name: &str| row.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    for (n, v) in row {
        m.raw.insert(n.clone(), *v);
    }
    m.avg_view_s = get("averageViewDuration");
    m.completion = get("averageViewPercentage").map(|p| (p / 100.0).clamp(0.0, 1.0));
    m.shares = get("shares").filter(|v| *v >= 0.0).map(|v| v as u64);
    if let Some(gained) = get("subscribersGained") {
        m.followers_gained = Some((gained - get("subscribersLost").unwrap_or(0.0)) as i64);
    }
}
