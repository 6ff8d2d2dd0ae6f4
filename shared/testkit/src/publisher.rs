//! A scripted publisher for tests of the publish workflow's decisions: each call answers from
//! its script (or succeeds by default) and is recorded, so a test can check what the
//! "platform" received and that no post was begun twice. The real platform clients are tested
//! against local servers that speak the platforms' documented HTTP shapes.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use viral_core::Timestamp;
use viral_core::domain::account::{Account, Platform, PlatformProfile};
use viral_core::domain::metrics::{Metrics, MetricsTarget, Observed};
use viral_core::ports::{
    CreatorInfo, Handle, Media, PostContent, Progress, PublishError, Published, Publisher,
    SecretString, Tokens,
};

/// The calls a publisher can get.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    Exchange,
    Refresh,
    Revoke,
    CreatorInfo,
    Begin,
    Upload,
    Poll,
    Publish,
    FindPublished,
    Metrics,
}

/// An answer the script gives instead of the default success.
#[derive(Clone, Debug)]
pub enum Scripted {
    Fail(PublishError),
    Progress(Progress),
    /// What `find_published` finds.
    Found(Published),
    /// What `metrics` answers.
    Observed(Vec<(String, Observed)>),
}

pub struct ScriptedPublisher {
    platform: Platform,
    script: Mutex<HashMap<Call, VecDeque<Scripted>>>,
    /// Every call with what it carried (the access token used, the content begun).
    pub calls: Mutex<Vec<(Call, String)>>,
    pub begun: Mutex<Vec<PostContent>>,
    counter: Mutex<u32>,
}

impl ScriptedPublisher {
    pub fn new(platform: Platform) -> Self {
        Self {
            platform,
            script: Mutex::new(HashMap::new()),
            calls: Mutex::new(Vec::new()),
            begun: Mutex::new(Vec::new()),
            counter: Mutex::new(0),
        }
    }

    /// The next `call` answers `with` (queued in order).
    pub fn then(&self, call: Call, with: Scripted) -> &Self {
        self.script
            .lock()
            .unwrap()
            .entry(call)
            .or_default()
            .push_back(with);
        self
    }

    pub fn count(&self, call: Call) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(c, _)| *c == call)
            .count()
    }

    /// The access tokens calls were made with, in order.
    pub fn tokens_used(&self, call: Call) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(c, _)| *c == call)
            .map(|(_, t)| t.clone())
            .collect()
    }

    fn next(&self, call: Call, detail: &str) -> Option<Scripted> {
        self.calls.lock().unwrap().push((call, detail.to_owned()));
        self.script
            .lock()
            .unwrap()
            .get_mut(&call)
            .and_then(VecDeque::pop_front)
    }

    fn fresh(&self, prefix: &str) -> String {
        let mut n = self.counter.lock().unwrap();
        *n += 1;
        format!("{prefix}-{n}")
    }

    fn tokens(&self) -> Tokens {
        Tokens {
            access: SecretString::new(self.fresh("access")),
            refresh: Some(SecretString::new(self.fresh("refresh"))),
            access_expires_at: None,
            refresh_expires_at: None,
            scopes: vec!["video.publish".into()],
        }
    }
}

fn fail<T>(s: Option<Scripted>) -> Option<Result<T, PublishError>> {
    match s {
        Some(Scripted::Fail(e)) => Some(Err(e)),
        _ => None,
    }
}

#[async_trait]
impl Publisher for ScriptedPublisher {
    fn platform(&self) -> Platform {
        self.platform
    }

    fn scopes(&self) -> Vec<String> {
        vec!["video.publish".into()]
    }

    async fn authorize_url(
        &self,
        state: &str,
        challenge: &str,
        redirect_uri: &str,
    ) -> Result<String, PublishError> {
        Ok(format!(
            "https://platform.example/authorize?state={state}&code_challenge={challenge}&code_challenge_method=S256&redirect_uri={redirect_uri}"
        ))
    }

    async fn exchange_code(
        &self,
        code: &str,
        _verifier: &str,
        _redirect_uri: &str,
    ) -> Result<(PlatformProfile, Tokens), PublishError> {
        if let Some(e) = fail(self.next(Call::Exchange, code)) {
            return e;
        }
        Ok((
            PlatformProfile {
                user_id: format!("user-{code}"),
                display_name: format!("Creator {code}"),
                avatar_url: Some("https://platform.example/avatar.jpg".into()),
            },
            self.tokens(),
        ))
    }

    async fn refresh(&self, refresh: &SecretString) -> Result<Tokens, PublishError> {
        if let Some(e) = fail(self.next(Call::Refresh, refresh.expose())) {
            return e;
        }
        Ok(self.tokens())
    }

    async fn revoke(
        &self,
        access: Option<&SecretString>,
        refresh: Option<&SecretString>,
    ) -> Result<bool, PublishError> {
        let used = access
            .or(refresh)
            .map(|t| t.expose().to_owned())
            .unwrap_or_default();
        fail(self.next(Call::Revoke, &used)).unwrap_or(Ok(true))
    }

    async fn creator_info(
        &self,
        access: &SecretString,
        account: &Account,
    ) -> Result<CreatorInfo, PublishError> {
        if let Some(e) = fail(self.next(Call::CreatorInfo, access.expose())) {
            return e;
        }
        Ok(CreatorInfo {
            display_name: account.profile.display_name.clone(),
            avatar_url: account.profile.avatar_url.clone(),
            privacy_options: vec!["SELF_ONLY".into(), "MUTUAL_FOLLOW_FRIENDS".into()],
            comment_disabled: false,
            duet_disabled: true,
            stitch_disabled: false,
            max_duration_s: Some(60.0),
            cannot_post: None,
            restriction: Some("unaudited app: posts are SELF_ONLY".into()),
        })
    }

    async fn begin(
        &self,
        access: &SecretString,
        _: &Account,
        content: &PostContent,
        _: &Media,
    ) -> Result<Handle, PublishError> {
        let s = self.next(Call::Begin, access.expose());
        if let Some(e) = fail(s) {
            return e;
        }
        self.begun.lock().unwrap().push(content.clone());
        Ok(self.fresh("handle"))
    }

    async fn upload(
        &self,
        access: &SecretString,
        _: &Account,
        handle: &Handle,
        _: &Media,
    ) -> Result<Handle, PublishError> {
        fail(self.next(Call::Upload, access.expose())).unwrap_or(Ok(handle.clone()))
    }

    async fn poll(
        &self,
        access: &SecretString,
        _: &Account,
        handle: &Handle,
    ) -> Result<Progress, PublishError> {
        match self.next(Call::Poll, access.expose()) {
            Some(Scripted::Fail(e)) => Err(e),
            Some(Scripted::Progress(p)) => Ok(p),
            Some(Scripted::Found(_) | Scripted::Observed(_)) | None => {
                Ok(Progress::Published(Published {
                    post_id: Some(format!("post-of-{handle}")),
                    url: Some(format!("https://platform.example/p/{handle}")),
                    privacy: Some("SELF_ONLY".into()),
                }))
            }
        }
    }

    async fn publish(
        &self,
        access: &SecretString,
        _: &Account,
        handle: &Handle,
    ) -> Result<Published, PublishError> {
        fail(self.next(Call::Publish, access.expose())).unwrap_or(Ok(Published {
            post_id: Some(format!("media-of-{handle}")),
            url: None,
            privacy: None,
        }))
    }

    async fn find_published(
        &self,
        access: &SecretString,
        _: &Account,
        _: &Handle,
    ) -> Result<Option<Published>, PublishError> {
        match self.next(Call::FindPublished, access.expose()) {
            Some(Scripted::Fail(e)) => Err(e),
            Some(Scripted::Found(p)) => Ok(Some(p)),
            _ => Ok(None),
        }
    }

    fn metrics_batch(&self) -> usize {
        20
    }

    /// By default every post has 1,000 views and 100 likes.
    async fn metrics(
        &self,
        access: &SecretString,
        _: &Account,
        targets: &[MetricsTarget],
        _: Timestamp,
    ) -> Result<Vec<(String, Observed)>, PublishError> {
        let ids: Vec<&str> = targets
            .iter()
            .map(|t| t.platform_post_id.as_str())
            .collect();
        match self.next(
            Call::Metrics,
            &format!("{}:{}", access.expose(), ids.join(",")),
        ) {
            Some(Scripted::Fail(e)) => Err(e),
            Some(Scripted::Observed(o)) => Ok(o),
            _ => Ok(targets
                .iter()
                .map(|t| {
                    let m = Metrics {
                        views: Some(1000),
                        likes: Some(100),
                        ..Metrics::default()
                    };
                    (t.platform_post_id.clone(), Observed::Metrics(m))
                })
                .collect()),
        }
    }
}
