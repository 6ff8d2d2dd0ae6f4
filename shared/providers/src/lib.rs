//! Video providers behind the VideoProvider port, and the registry the steps pick them from;
//! the live trend sources (YouTube, GNews) and the concept writer (Anthropic).

pub mod anthropic;
pub mod credential;
pub mod download;
pub mod google_auth;
pub mod http;
pub mod runway;
pub mod sora;
pub mod storyboard;
pub mod trends;
pub mod veo;
pub mod voice;
pub mod webhook_sender;

/// Largest provider output we take (a 15 s vertical video is a few MB).
pub const MAX_OUTPUT_BYTES: usize = 200 * 1024 * 1024;

use std::sync::Arc;

use viral_core::domain::routing::ProviderProfile;
use viral_core::ports::VideoProvider;

pub use anthropic::AnthropicWriter;
pub use credential::Credential;
pub use download::{DownloadPolicy, download};
pub use runway::RunwayProvider;
pub use sora::SoraProvider;
pub use storyboard::StoryboardProvider;
pub use trends::{GNewsTrends, YouTubeTrends};
pub use veo::VeoProvider;
pub use webhook_sender::GuardedWebhookSender;

/// The providers this deployment can use: their clients, or (for a process that only
/// routes) what routing knows of them.
#[derive(Clone, Default)]
pub struct Registry {
    providers: Vec<Arc<dyn VideoProvider>>,
    profiles: Vec<ProviderProfile>,
}

impl Registry {
    pub fn new(providers: Vec<Arc<dyn VideoProvider>>) -> Self {
        let profiles = providers
            .iter()
            .map(|p| ProviderProfile {
                name: p.name().to_owned(),
                model: p.model().to_owned(),
                cents_per_second: p.price_cents_per_second(),
                clip_durations: p.clip_durations().to_vec(),
                max_clip_s: p.max_clip_s(),
                quality: p.quality(),
            })
            .collect();
        Self {
            providers,
            profiles,
        }
    }

    /// Profiles without clients: [`Registry::get`] finds nothing.
    pub fn profiles_only(profiles: Vec<ProviderProfile>) -> Self {
        Self {
            providers: Vec::new(),
            profiles,
        }
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn VideoProvider>> {
        self.providers.iter().find(|p| p.name() == name).cloned()
    }

    /// What routing needs to know of each provider.
    pub fn profiles(&self) -> Vec<ProviderProfile> {
        self.profiles.clone()
    }
}
