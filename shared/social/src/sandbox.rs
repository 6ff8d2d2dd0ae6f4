//! The sandbox channel: a platform with no OAuth and no network. It takes a post through the
//! same workflow as the real ones (begin, upload, poll) and "publishes" it locally, under an id
//! that says `sandbox`; it never claims to be a real post and has no public URL.

use async_trait::async_trait;
use serde_json::{Value, json};
use viral_core::Timestamp;
use viral_core::domain::account::{Account, Platform, PlatformProfile};
use viral_core::domain::audience::{Audience, SANDBOX_SEED};
use viral_core::domain::metrics::{MetricsTarget, Observed};
use viral_core::ids::new_id;
use viral_core::ports::{
    CreatorInfo, Handle, Media, PostContent, Progress, PublishError, Published, Publisher,
    SecretString, Tokens,
};
use viral_core::service::connect::sandbox_tokens;

pub const PRIVACY: [&str; 2] = ["public", "private"];

#[derive(Clone, Debug)]
pub struct SandboxPublisher {
    /// The seed of the simulated audience behind the channel: the documented
    /// [`SANDBOX_SEED`] everywhere but in `viral simulate`, which draws audiences of its own.
    pub audience_seed: u64,
}

impl Default for SandboxPublisher {
    fn default() -> Self {
        Self {
            audience_seed: SANDBOX_SEED,
        }
    }
}

fn handle_of(raw: &str) -> Result<Value, PublishError> {
    serde_json::from_str(raw).map_err(|_| PublishError::Rejected {
        code: "invalid_params".into(),
        message: "not a sandbox handle".into(),
    })
}

fn no_oauth() -> PublishError {
    PublishError::NotConfigured("the sandbox connects without OAuth".into())
}

#[async_trait]
impl Publisher for SandboxPublisher {
    fn platform(&self) -> Platform {
        Platform::Sandbox
    }

    fn scopes(&self) -> Vec<String> {
        vec!["sandbox.publish".into()]
    }

    async fn authorize_url(&self, _: &str, _: &str, _: &str) -> Result<String, PublishError> {
        Err(no_oauth())
    }

    async fn exchange_code(
        &self,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<(PlatformProfile, Tokens), PublishError> {
        Err(no_oauth())
    }

    async fn refresh(&self, _: &SecretString) -> Result<Tokens, PublishError> {
        Ok(sandbox_tokens())
    }

    async fn revoke(
        &self,
        _: Option<&SecretString>,
        _: Option<&SecretString>,
    ) -> Result<bool, PublishError> {
        Ok(true)
    }

    async fn creator_info(
        &self,
        _: &SecretString,
        account: &Account,
    ) -> Result<CreatorInfo, PublishError> {
        Ok(CreatorInfo {
            display_name: account.profile.display_name.clone(),
            avatar_url: None,
            privacy_options: PRIVACY.map(str::to_owned).to_vec(),
            comment_disabled: false,
            duet_disabled: false,
            stitch_disabled: false,
            max_duration_s: Some(600.0),
            cannot_post: None,
            restriction: Some("sandbox: posts stay on this deployment and are never public".into()),
        })
    }

    async fn begin(
        &self,
        _: &SecretString,
        _: &Account,
        content: &PostContent,
        media: &Media,
    ) -> Result<Handle, PublishError> {
        // What a real platform checks first: an MP4 of a postable length.
        if media.bytes.get(4..8) != Some(b"ftyp") {
            return Err(PublishError::Rejected {
                code: "file_format_check_failed".into(),
                message: "the file is not an MP4".into(),
            });
        }
        if !(3.0..=600.0).contains(&media.duration_s) {
            return Err(PublishError::Rejected {
                code: "duration_check_failed".into(),
                message: format!("{:.1} s is outside 3–600 s", media.duration_s),
            });
        }
        Ok(json!({
            "id": new_id("sbxpost"),
            "privacy": content.privacy,
            "bytes": media.bytes.len(),
        })
        .to_string())
    }

    async fn upload(
        &self,
        _: &SecretString,
        _: &Account,
        handle: &Handle,
        _: &Media,
    ) -> Result<Handle, PublishError> {
        handle_of(handle)?;
        Ok(handle.clone())
    }

    async fn poll(
        &self,
        _: &SecretString,
        _: &Account,
        handle: &Handle,
    ) -> Result<Progress, PublishError> {
        let h = handle_of(handle)?;
        Ok(Progress::Published(Published {
            post_id: h["id"].as_str().map(str::to_owned),
            url: None,
            privacy: h["privacy"].as_str().map(str::to_owned),
        }))
    }

    async fn publish(
        &self,
        _: &SecretString,
        _: &Account,
        handle: &Handle,
    ) -> Result<Published, PublishError> {
        let h = handle_of(handle)?;
        Ok(Published {
            post_id: h["id"].as_str().map(str::to_owned),
            url: None,
            privacy: h["privacy"].as_str().map(str::to_owned),
        })
    }

    async fn find_published(
        &self,
        s: &SecretString,
        a: &Account,
        handle: &Handle,
    ) -> Result<Option<Published>, PublishError> {
        self.publish(s, a, handle).await.map(Some)
    }

    fn metrics_batch(&self) -> usize {
        100
    }

    /// The simulated audience's numbers (see `viral_core::domain::audience`), labelled
    /// `simulated_*` in the raw names.
    async fn metrics(
        &self,
        _: &SecretString,
        _: &Account,
        targets: &[MetricsTarget],
        now: Timestamp,
    ) -> Result<Vec<(String, Observed)>, PublishError> {
        let audience = Audience::new(self.audience_seed);
        Ok(targets
            .iter()
            .map(|t| {
                let age_h = (now.millis() - t.published_at.millis()) as f64 / 3_600_000.0;
                (
                    t.platform_post_id.clone(),
                    Observed::Metrics(audience.metrics(
                        &t.platform_post_id,
                        &t.features,
                        age_h,
                        t.duration_s,
                        t.trend_age_h,
                    )),
                )
            })
            .collect())
    }
}
