//! Queue on SQS. Redrive to the dead-letter queue is the queue's own policy (set by the
//! template, or by `create_with_redrive` in tests).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use viral_core::ports::queue::{validate_receive, validate_send};
use viral_core::ports::{Message, Queue, QueueError};

use crate::errors::{code, describe};

#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

fn backend<E: std::error::Error>(e: E) -> QueueError {
    QueueError::Backend(describe(&e))
}

fn secs(d: Duration) -> i32 {
    // SQS takes whole seconds; round up so a delay is never shorter than asked.
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(s).unwrap_or(i32::MAX)
}

impl SqsQueue {
    pub fn new(client: Client, url: &str) -> Self {
        Self {
            client,
            url: url.to_owned(),
        }
    }

    pub fn from_conf(conf: &aws_config::SdkConfig, url: &str) -> Self {
        Self::new(Client::new(conf), url)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Creates a queue and its dead-letter queue with a redrive policy (tests and local setups).
    /// Returns (queue, dead-letter queue).
    pub async fn create_with_redrive(
        conf: &aws_config::SdkConfig,
        name: &str,
        max_receives: u32,
    ) -> Result<(SqsQueue, SqsQueue), QueueError> {
        let client = Client::new(conf);
        let dlq_url = client
            .create_queue()
            .queue_name(format!("{name}-dlq"))
            .send()
            .await
            .map_err(backend)?
            .queue_url
            .ok_or_else(|| QueueError::Backend("no queue url".into()))?;
        let dlq_arn = client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(backend)?
            .attributes
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .ok_or_else(|| QueueError::Backend("no queue arn".into()))?;
        let policy =
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{max_receives}"}}"#);
        let url = client
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::RedrivePolicy, policy)
            .send()
            .await
            .map_err(backend)?
            .queue_url
            .ok_or_else(|| QueueError::Backend("no queue url".into()))?;
        Ok((
            SqsQueue::new(client.clone(), &url),
            SqsQueue::new(client, &dlq_url),
        ))
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, body: &str, delay: Duration) -> Result<String, QueueError> {
        validate_send(body, delay)?;
        let out = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(secs(delay))
            .send()
            .await
            .map_err(backend)?;
        out.message_id
            .ok_or_else(|| QueueError::Backend("SQS returned no message id".into()))
    }

    async fn receive(
        &self,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Message>, QueueError> {
        validate_receive(max)?;
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(i32::try_from(max).unwrap_or(10))
            .visibility_timeout(secs(visibility))
            .wait_time_seconds(secs(wait).min(20))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(backend)?;
        let mut msgs = Vec::new();
        for m in out.messages.unwrap_or_default() {
            let (Some(id), Some(receipt)) = (m.message_id.clone(), m.receipt_handle.clone()) else {
                continue;
            };
            let receive_count = m
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            msgs.push(Message {
                id,
                receipt,
                body: m.body.unwrap_or_default(),
                receive_count,
            });
        }
        Ok(msgs)
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        match self
            .client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    code(&e),
                    Some("ReceiptHandleIsInvalid" | "InvalidParameterValue")
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn extend(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        let secs = i32::try_from(visibility.as_secs().min(43_200)).unwrap_or(43_200);
        match self
            .client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(secs)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    code(&e),
                    Some("ReceiptHandleIsInvalid" | "InvalidParameterValue" | "MessageNotInflight")
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn depth(&self) -> Result<u64, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(backend)?;
        let attrs = out.attributes.unwrap_or_default();
        let get = |k: &QueueAttributeName| {
            attrs
                .get(k)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(get(&QueueAttributeName::ApproximateNumberOfMessages)
            + get(&QueueAttributeName::ApproximateNumberOfMessagesDelayed))
    }
}
