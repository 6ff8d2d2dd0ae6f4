//! Publishers: each social platform's documented API behind the core's `Publisher` port, and
//! the built-in `sandbox` channel that goes through the same workflow offline.

pub mod config;
mod http;
pub mod instagram;
pub mod sandbox;
pub mod tiktok;
pub mod youtube;

pub use config::SocialConfig;
pub use instagram::InstagramPublisher;
pub use sandbox::SandboxPublisher;
pub use tiktok::TiktokPublisher;
pub use youtube::YoutubePublisher;
