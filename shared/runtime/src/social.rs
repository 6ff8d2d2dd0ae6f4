//! The publishers a process can use: the sandbox channel always, and TikTok, YouTube and
//! Instagram with their clients built (no network call; each reads its app credentials from
//! the Secrets port on first use and says `platform_not_configured` while they are missing).

use std::sync::Arc;

use viral_core::domain::account::Platform;
use viral_core::ports::{Publishers, Secrets};
use viral_social::{InstagramPublisher, SandboxPublisher, TiktokPublisher, YoutubePublisher};

use crate::config::Config;

pub fn publishers(config: &Config, secrets: Arc<dyn Secrets>) -> Publishers {
    let mut all = Publishers::default().with(Arc::new(SandboxPublisher::default()));
    let c = &config.social;
    match TiktokPublisher::new(c.clone(), secrets.clone()) {
        Ok(p) => all = all.with(Arc::new(p)),
        Err(e) => tracing::error!(error = %e, "no TikTok client"),
    }
    match YoutubePublisher::new(c.clone(), secrets.clone()) {
        Ok(p) => all = all.with(Arc::new(p)),
        Err(e) => tracing::error!(error = %e, "no YouTube client"),
    }
    match InstagramPublisher::new(c.clone(), secrets) {
        Ok(p) => all = all.with(Arc::new(p)),
        Err(e) => tracing::error!(error = %e, "no Instagram client"),
    }
    all
}

/// The secrets each platform needs, for `viral doctor` and the docs.
pub const PLATFORM_SECRETS: [(Platform, [&str; 2]); 3] = [
    (
        Platform::Tiktok,
        ["TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET"],
    ),
    (
        Platform::Youtube,
        ["GOOGLE_OAUTH_CLIENT_ID", "GOOGLE_OAUTH_CLIENT_SECRET"],
    ),
    (
        Platform::Instagram,
        ["INSTAGRAM_APP_ID", "INSTAGRAM_APP_SECRET"],
    ),
];
