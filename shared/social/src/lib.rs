//! Publishers: each social platform's documented API behind the core's `Publisher` port, and
//! the built-in `sandbox` channel that goes through the same workflow offline.

pub mod sandbox;

pub use sandbox::SandboxPublisher;
