//! The publishers a process can use: the sandbox channel always; each real platform once its
//! client is configured.

use std::sync::Arc;

use viral_core::ports::{Publishers, Secrets};

use crate::config::Config;

pub fn publishers(_config: &Config, _secrets: Arc<dyn Secrets>) -> Publishers {
    Publishers::default().with(Arc::new(viral_social::SandboxPublisher))
}
