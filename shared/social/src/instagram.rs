//! Instagram (Instagram API with Instagram Login, professional accounts): the code exchange
//! and its 60-day token, then Reels: a container Meta fetches from our signed media URL →
//! `status_code` until `FINISHED` → `media_publish` (after reading `content_publishing_limit`)
//! → the permalink. Facts: `../shared/reference/social-apis.md` §1 and §4.

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
use crate::http::{Answer, AppCredentials, Http, expiry, unexpected, url_with};

/// The Instagram Login scope names since 2025-01-27 (the older `business_*` stopped working).
const SCOPES: [&str; 3] = [
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_insights",
];

pub struct InstagramPublisher {
    config: SocialConfig,
    app: AppCredentials,
    http: Http,
    clock: Arc<dyn Clock>,
}

impl InstagramPublisher {
    pub fn new(config: SocialConfig, secrets: Arc<dyn Secrets>) -> Result<Self, PublishError> {
        Ok(Self {
            config,
            app: AppCredentials::new(secrets, "INSTAGRAM_APP_ID", "INSTAGRAM_APP_SECRET"),
            http: Http::new(Duration::from_secs(60))?,
            clock: Arc::new(SystemClock),
        })
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn graph(&self, path: &str, query: &[(&str, &str)]) -> Result<String, PublishError> {
        url_with(
            &self.config.instagram_graph_base_url,
            &format!("/{}{path}", self.config.instagram_graph_version),
            query,
        )
    }

    /// A Graph call with the user's token in the `Authorization` header (never in a URL that
    /// could be logged).
    async fn call(
        &self,
        access: &SecretString,
        req: reqwest::RequestBuilder,
        creates: bool,
    ) -> Result<Value, PublishError> {
        let a = self
            .http
            .send(req.bearer_auth(access.expose()), creates)
            .await?;
        if a.status.is_success() && a.json["error"].is_null() {
            return Ok(a.json);
        }
        Err(graph_error(&a, creates))
    }

    /// Trades a token for a long-lived one (60 days), or refreshes a long-lived one.
    async fn long_lived(&self, path: &str, query: &[(&str, &str)]) -> Result<Tokens, PublishError> {
        let url = url_with(&self.config.instagram_graph_base_url, path, query)?;
        let a = self.http.send(self.http.client().get(url), false).await?;
        if !a.status.is_success() {
            return Err(match graph_error(&a, false) {
                PublishError::Unauthorized(m) => PublishError::NeedsReconnect(m),
                e => e,
            });
        }
        let Some(token) = a.json["access_token"].as_str() else {
            return Err(unexpected("Instagram", &a));
        };
        let expires = expiry(self.clock.now(), a.json["expires_in"].as_i64());
        Ok(Tokens {
            access: SecretString::new(token),
            // A long-lived token refreshes itself: it is its own refresh token.
            refresh: Some(SecretString::new(token)),
            access_expires_at: expires,
            refresh_expires_at: expires,
            scopes: Vec::new(),
        })
    }
}

/// Meta's error envelope `{error:{message,type,code,error_subcode,fbtrace_id}}`, mapped.
fn graph_error(a: &Answer, creates: bool) -> PublishError {
    let e = &a.json["error"];
    let code = e["code"].as_i64().unwrap_or_default();
    let sub = e["error_subcode"].as_i64().unwrap_or_default();
    let message = e["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| a.text.clone());
    if let Some(trace) = e["fbtrace_id"].as_str() {
        tracing::info!(code, sub, fbtrace_id = trace, "Instagram refused a call");
    }
    match (code, sub) {
        (190, _) => PublishError::Unauthorized(message),
        (10 | 200 | 3, _) => PublishError::NeedsReconnect(format!("({code}) {message}")),
        (4 | 17 | 32 | 613, _) | (_, 2_207_042) => PublishError::Limited {
            code: if sub != 0 {
                sub.to_string()
            } else {
                code.to_string()
            },
            message,
            retry_after_secs: a.retry_after().unwrap_or(3600),
        },
        // Published before the container was ready: not an error of the post.
        (9007, _) | (_, 2_207_027) => PublishError::Transient(message),
        _ if a.status.is_server_error() && creates => PublishError::Unknown(message),
        _ if a.status.is_server_error() => PublishError::Transient(message),
        _ => PublishError::Rejected {
            code: if sub != 0 {
                sub.to_string()
            } else if code != 0 {
                code.to_string()
            } else {
                format!("http_{}", a.status.as_u16())
            },
            message,
        },
    }
}

#[async_trait]
impl Publisher for InstagramPublisher {
    fn platform(&self) -> Platform {
        Platform::Instagram
    }

    fn scopes(&self) -> Vec<String> {
        SCOPES.map(str::to_owned).to_vec()
    }

    fn publish_scope(&self) -> Option<&'static str> {
        Some("instagram_business_content_publish")
    }

    async fn authorize_url(
        &self,
        state: &str,
        _challenge: &str,
        redirect_uri: &str,
    ) -> Result<String, PublishError> {
        // Instagram documents no PKCE; the sealed state and the app secret protect the code.
        let (id, _) = self.app.get().await?;
        url_with(
            &self.config.instagram_authorize_url,
            "",
            &[
                ("client_id", &id),
                ("redirect_uri", redirect_uri),
                ("response_type", "code"),
                ("scope", &SCOPES.join(",")),
                ("state", state),
            ],
        )
    }

    async fn exchange_code(
        &self,
        code: &str,
        _verifier: &str,
        redirect_uri: &str,
    ) -> Result<(PlatformProfile, Tokens), PublishError> {
        let (id, secret) = self.app.get().await?;
        // Instagram appends `#_` to the code it hands back.
        let code = code.trim_end_matches("#_");
        let url = format!(
            "{}/oauth/access_token",
            self.config.instagram_api_base_url.trim_end_matches('/')
        );
        let req = self.http.client().post(url).form(&[
            ("client_id", id.as_str()),
            ("client_secret", secret.expose()),
            ("grant_type", "authorization_code"),
            ("redirect_uri", redirect_uri),
            ("code", code),
        ]);
        let a = self.http.send(req, false).await?;
        // Documented as `{data:[{access_token,user_id,permissions}]}`; older answers are flat.
        let body = if a.json["data"].is_array() {
            a.json["data"][0].clone()
        } else {
            a.json.clone()
        };
        let short = match body["access_token"].as_str() {
            Some(t) => t.to_owned(),
            None => {
                return Err(match a.json["error_message"].as_str() {
                    Some(m) => PublishError::Rejected {
                        code: a.json["error_type"]
                            .as_str()
                            .unwrap_or("oauth_error")
                            .to_owned(),
                        message: m.to_owned(),
                    },
                    None => unexpected("Instagram", &a),
                });
            }
        };
        let mut tokens = self
            .long_lived(
                "/access_token",
                &[
                    ("grant_type", "ig_exchange_token"),
                    ("client_secret", secret.expose()),
                    ("access_token", &short),
                ],
            )
            .await?;
        tokens.scopes = body["permissions"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .or_else(|| {
                body["permissions"]
                    .as_str()
                    .map(|p| p.split(',').map(|s| s.trim().to_owned()).collect())
            })
            .unwrap_or_default();
        let me = self
            .call(
                &tokens.access,
                self.http
                    .client()
                    .get(self.graph("/me", &[("fields", "user_id,username,profile_picture_url")])?),
                false,
            )
            .await?;
        let user_id = me["user_id"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| me["user_id"].as_u64().map(|n| n.to_string()))
            .ok_or_else(|| PublishError::Transient("Instagram sent no user_id".into()))?;
        Ok((
            PlatformProfile {
                user_id,
                display_name: me["username"]
                    .as_str()
                    .unwrap_or("Instagram account")
                    .to_owned(),
                avatar_url: me["profile_picture_url"].as_str().map(str::to_owned),
            },
            tokens,
        ))
    }

    async fn refresh(&self, refresh: &SecretString) -> Result<Tokens, PublishError> {
        self.long_lived(
            "/refresh_access_token",
            &[
                ("grant_type", "ig_refresh_token"),
                ("access_token", refresh.expose()),
            ],
        )
        .await
    }

    async fn revoke(
        &self,
        _: Option<&SecretString>,
        _: Option<&SecretString>,
    ) -> Result<bool, PublishError> {
        // Instagram Login has no revoke call: the user removes the app in their settings.
        Ok(false)
    }

    async fn creator_info(
        &self,
        access: &SecretString,
        account: &Account,
    ) -> Result<CreatorInfo, PublishError> {
        let limit = self.publishing_limit(access, account).await?;
        Ok(CreatorInfo {
            display_name: account.profile.display_name.clone(),
            avatar_url: account.profile.avatar_url.clone(),
            privacy_options: vec!["public".into()],
            comment_disabled: false,
            duet_disabled: true,
            stitch_disabled: true,
            max_duration_s: Some(900.0),
            cannot_post: (limit.0 >= limit.1)
                .then(|| format!("this account used its {} posts of the last 24 h", limit.1)),
            restriction: None,
        })
    }

    async fn begin(
        &self,
        access: &SecretString,
        account: &Account,
        content: &PostContent,
        media: &Media,
    ) -> Result<Handle, PublishError> {
        let Some(video_url) = media.url.as_deref() else {
            return Err(PublishError::Rejected {
                code: "media_url_missing".into(),
                message:
                    "Instagram fetches the video from a public URL, and this deployment has none"
                        .into(),
            });
        };
        let mut form = vec![
            ("media_type", "REELS".to_owned()),
            ("video_url", video_url.to_owned()),
            ("caption", content.caption.clone()),
            ("share_to_feed", "true".to_owned()),
        ];
        if let Some(ms) = content.cover_ms {
            form.push(("thumb_offset", ms.to_string()));
        }
        let req = self
            .http
            .client()
            .post(self.graph(&format!("/{}/media", account.profile.user_id), &[])?)
            .form(&form);
        let j = self.call(access, req, true).await?;
        let Some(id) = j["id"].as_str() else {
            return Err(PublishError::Unknown(
                "Instagram's container answer had no id".into(),
            ));
        };
        Ok(json!({"container": id, "caption": content.caption, "created": self.clock.now().secs()}).to_string())
    }

    async fn upload(
        &self,
        _: &SecretString,
        _: &Account,
        handle: &Handle,
        _: &Media,
    ) -> Result<Handle, PublishError> {
        // Meta fetches the video itself from the URL the container names.
        Ok(handle.clone())
    }

    async fn poll(
        &self,
        access: &SecretString,
        _: &Account,
        handle: &Handle,
    ) -> Result<Progress, PublishError> {
        let h: Value = serde_json::from_str(handle).unwrap_or(Value::Null);
        let container = h["container"].as_str().unwrap_or_default();
        let j = self
            .call(
                access,
                self.http.client().get(self.graph(
                    &format!("/{container}"),
                    &[("fields", "status_code,status")],
                )?),
                false,
            )
            .await?;
        Ok(match j["status_code"].as_str().unwrap_or_default() {
            "FINISHED" => Progress::Ready,
            // Published already: the workflow reconciles to find the media.
            "PUBLISHED" => Progress::Ready,
            "ERROR" => Progress::Failed {
                code: j["status"]
                    .as_str()
                    .and_then(|s| {
                        s.split(|c: char| !c.is_ascii_digit())
                            .find(|x| x.len() >= 6)
                    })
                    .unwrap_or("container_error")
                    .to_owned(),
                message: format!(
                    "Instagram could not process the video: {}",
                    j["status"].as_str().unwrap_or("no detail")
                ),
            },
            "EXPIRED" => Progress::Failed {
                code: "container_expired".into(),
                message: "the container was not published within 24 h".into(),
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
        let (used, total) = self.publishing_limit(access, account).await?;
        if used >= total {
            return Err(PublishError::Limited {
                code: "2207042".into(),
                message: format!("the account used its {total} posts of the last 24 h"),
                retry_after_secs: 3600,
            });
        }
        let h: Value = serde_json::from_str(handle).unwrap_or(Value::Null);
        let container = h["container"].as_str().unwrap_or_default();
        let req = self
            .http
            .client()
            .post(self.graph(&format!("/{}/media_publish", account.profile.user_id), &[])?)
            .form(&[("creation_id", container)]);
        let j = self.call(access, req, true).await?;
        let Some(media) = j["id"].as_str() else {
            return Err(PublishError::Unknown(
                "Instagram's publish answer had no id".into(),
            ));
        };
        Ok(Published {
            post_id: Some(media.to_owned()),
            url: self.permalink(access, media).await,
            privacy: Some("public".into()),
        })
    }

    async fn find_published(
        &self,
        access: &SecretString,
        account: &Account,
        handle: &Handle,
    ) -> Result<Option<Published>, PublishError> {
        let h: Value = serde_json::from_str(handle).unwrap_or(Value::Null);
        let container = h["container"].as_str().unwrap_or_default();
        let status = self
            .call(
                access,
                self.http
                    .client()
                    .get(self.graph(&format!("/{container}"), &[("fields", "status_code")])?),
                false,
            )
            .await?;
        if status["status_code"] != "PUBLISHED" {
            return Ok(None);
        }
        // Published: find the media among the newest, by its caption.
        let recent = self
            .call(
                access,
                self.http.client().get(self.graph(
                    &format!("/{}/media", account.profile.user_id),
                    &[
                        ("fields", "id,caption,permalink,timestamp"),
                        ("limit", "25"),
                    ],
                )?),
                false,
            )
            .await?;
        // The media with this caption made after the container: exactly one, or the id is left
        // unknown rather than taken from another post with the same caption.
        let caption = h["caption"].as_str().unwrap_or_default();
        let created = h["created"].as_i64().unwrap_or_default();
        let made_after = |m: &&Value| {
            m["timestamp"]
                .as_str()
                .and_then(meta_time)
                .is_some_and(|t| t.secs() >= created - 60)
        };
        let matches: Vec<&Value> = recent["data"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter(|m| m["caption"].as_str() == Some(caption))
                    .filter(made_after)
                    .collect()
            })
            .unwrap_or_default();
        let found = (matches.len() == 1).then(|| matches[0]);
        Ok(Some(Published {
            post_id: found.and_then(|m| m["id"].as_str().map(str::to_owned)),
            url: found.and_then(|m| m["permalink"].as_str().map(str::to_owned)),
            privacy: Some("public".into()),
        }))
    }

    /// Reels insights (`views`, `reach`, `likes`, `comments`, `shares`, `saved`,
    /// `ig_reels_avg_watch_time` in ms), one media per call. A metric Instagram leaves out is
    /// missing, not 0.
    async fn metrics(
        &self,
        access: &SecretString,
        _: &Account,
        targets: &[MetricsTarget],
        _: Timestamp,
    ) -> Result<Vec<(String, Observed)>, PublishError> {
        let mut out = Vec::new();
        for t in targets.iter().filter(|t| !t.platform_post_id.is_empty()) {
            let id = &t.platform_post_id;
            let req = self
                .http
                .client()
                .get(self.graph(
                    &format!("/{id}/insights"),
                    &[(
                        "metric",
                        "views,reach,likes,comments,shares,saved,ig_reels_avg_watch_time",
                    )],
                )?)
                .bearer_auth(access.expose());
            let a = self.http.send(req, false).await?;
            let e = &a.json["error"];
            if !a.status.is_success() || !e.is_null() {
                let (code, sub) = (
                    e["code"].as_i64().unwrap_or_default(),
                    e["error_subcode"].as_i64().unwrap_or_default(),
                );
                let message = e["message"].as_str().unwrap_or("no message").to_owned();
                match (code, sub) {
                    // "(#10) Not enough viewers for the media to show insights".
                    (10, _) if message.to_ascii_lowercase().contains("viewers") => {
                        out.push((id.clone(), Observed::Unavailable(message)));
                    }
                    // The media does not exist (deleted) or is not ours any more.
                    (100, 33) => out.push((id.clone(), Observed::Gone(message))),
                    _ => return Err(graph_error(&a, false)),
                }
                continue;
            }
            let mut m = Metrics::default();
            for entry in a.json["data"].as_array().into_iter().flatten() {
                let (Some(name), Some(v)) = (
                    entry["name"].as_str(),
                    entry["values"]
                        .as_array()
                        .and_then(|v| v.first())
                        .and_then(|v| v["value"].as_f64()),
                ) else {
                    continue;
                };
                if !v.is_finite() || v < 0.0 {
                    continue;
                }
                m.raw.insert(name.to_owned(), v);
                let n = Some(v as u64);
                match name {
                    "views" => m.views = n,
                    "reach" => m.reach = n,
                    "likes" => m.likes = n,
                    "comments" => m.comments = n,
                    "shares" => m.shares = n,
                    "saved" => m.saves = n,
                    "ig_reels_avg_watch_time" => m.avg_view_s = Some(v / 1000.0),
                    _ => {}
                }
            }
            out.push((id.clone(), Observed::Metrics(m)));
        }
        Ok(out)
    }
}

impl InstagramPublisher {
    /// `(used, total)` of the account's rolling 24 h publishing limit, read at run time.
    async fn publishing_limit(
        &self,
        access: &SecretString,
        account: &Account,
    ) -> Result<(i64, i64), PublishError> {
        let j = self
            .call(
                access,
                self.http.client().get(self.graph(
                    &format!("/{}/content_publishing_limit", account.profile.user_id),
                    &[("fields", "quota_usage,config")],
                )?),
                false,
            )
            .await?;
        let d = &j["data"][0];
        Ok((
            d["quota_usage"].as_i64().unwrap_or(0),
            d["config"]["quota_total"].as_i64().unwrap_or(50),
        ))
    }

    async fn permalink(&self, access: &SecretString, media: &str) -> Option<String> {
        let url = self
            .graph(&format!("/{media}"), &[("fields", "permalink")])
            .ok()?;
        match self.call(access, self.http.client().get(url), false).await {
            Ok(j) => j["permalink"].as_str().map(str::to_owned),
            Err(e) => {
                tracing::warn!(error = %e, "no permalink for a published reel");
                None
            }
        }
    }
}

/// Meta's timestamps (`2026-12-04T08:20:00+0000`), which are not quite RFC 3339.
fn meta_time(s: &str) -> Option<viral_core::Timestamp> {
    let cut = s.len().checked_sub(5).filter(|i| s.is_char_boundary(*i));
    let fixed = match cut.map(|i| s.split_at(i)) {
        Some((head, tz)) if (tz.starts_with('+') || tz.starts_with('-')) && !tz.contains(':') => {
            format!("{head}{}:{}", &tz[..3], &tz[3..])
        }
        _ => s.to_owned(),
    };
    viral_core::Timestamp::parse_rfc3339(&fixed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn metas_timestamps_parse() {
        let t = super::meta_time("2026-12-04T08:20:00+0000").unwrap();
        assert_eq!(t.rfc3339(), "2026-12-04T08:20:00Z");
        assert_eq!(super::meta_time("2026-12-04T09:20:00+0100").unwrap(), t);
        assert!(super::meta_time("yesterday").is_none());
        assert!(
            super::meta_time("2026-12-04T08:20:00+00é").is_none(),
            "no panic"
        );
    }
}
