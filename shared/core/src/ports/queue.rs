//! Queue: at-least-once messages with delay, visibility timeout and a dead-letter queue.

use std::time::Duration;

use async_trait::async_trait;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    /// Handle for [`Queue::delete`]; valid for this receipt only.
    pub receipt: String,
    pub body: String,
    /// How many times this message has been received, this time included.
    pub receive_count: u32,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum QueueError {
    #[error("invalid queue request: {0}")]
    Invalid(String),
    #[error("queue unavailable: {0}")]
    Backend(String),
}

/// Largest message body, in bytes (SQS's limit).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Longest delay SQS allows.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

pub fn validate_send(body: &str, delay: Duration) -> Result<(), QueueError> {
    if body.is_empty() || body.len() > MAX_MESSAGE_BYTES {
        return Err(QueueError::Invalid(format!(
            "message body must be 1..={MAX_MESSAGE_BYTES} bytes"
        )));
    }
    if delay > MAX_DELAY {
        return Err(QueueError::Invalid("delay is over 900 s".into()));
    }
    Ok(())
}

/// A receive takes 1 to 10 messages (SQS's limit).
pub fn validate_receive(max: u32) -> Result<(), QueueError> {
    if (1..=10).contains(&max) {
        Ok(())
    } else {
        Err(QueueError::Invalid("max must be 1..=10".into()))
    }
}

/// One queue. A message received more than the queue's maximum number of times goes to its
/// dead-letter queue instead of being delivered again (SQS redrive).
#[async_trait]
pub trait Queue: Send + Sync {
    /// Returns the message id.
    async fn send(&self, body: &str, delay: Duration) -> Result<String, QueueError>;
    /// Up to `max` (1..=10) messages, hidden from other receivers for `visibility`. Waits up
    /// to `wait` for the first message when none is ready.
    async fn receive(
        &self,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Message>, QueueError>;
    /// Deleting with a stale receipt is not an error.
    async fn delete(&self, receipt: &str) -> Result<(), QueueError>;
    /// Hides a received message for `visibility` from now (SQS ChangeMessageVisibility): to
    /// keep it while work goes on, or (a short one) to have it back soon. A stale receipt is
    /// not an error.
    async fn extend(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError>;
    /// Approximate number of messages waiting (visible or delayed, not in flight).
    async fn depth(&self) -> Result<u64, QueueError>;
}
