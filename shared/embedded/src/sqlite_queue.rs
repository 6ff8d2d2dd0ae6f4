//! The local queue: SQS semantics (delay, visibility timeout, receive count, redrive to a
//! dead-letter queue) on the data directory's SQLite database.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{TransactionBehavior, params};
use viral_core::Clock;
use viral_core::ids::new_id;
use viral_core::ports::queue::{validate_receive, validate_send};
use viral_core::ports::{Message, Queue, QueueError};

use crate::db::{Db, DbError, Sql};

impl From<DbError> for QueueError {
    fn from(e: DbError) -> Self {
        QueueError::Backend(e.to_string())
    }
}

/// Where a message goes once it has been received `max_receives` times without being deleted.
#[derive(Clone, Debug)]
pub struct Redrive {
    pub dead_letter_queue: String,
    pub max_receives: u32,
}

#[derive(Clone)]
pub struct LocalQueue {
    db: Db,
    name: String,
    redrive: Option<Redrive>,
    clock: Arc<dyn Clock>,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl LocalQueue {
    pub fn new(db: Db, name: &str, redrive: Option<Redrive>, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            name: name.to_owned(),
            redrive,
            clock,
        }
    }

    async fn receive_ready(
        &self,
        max: u32,
        visibility: Duration,
    ) -> Result<Vec<Message>, QueueError> {
        let now = self.clock.now().millis();
        let name = self.name.clone();
        let redrive = self.redrive.clone();
        let visible_again = now.saturating_add(ms(visibility));
        self.db
            .run(move |c| {
                let tx = c
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .db()?;
                let mut out = Vec::new();
                {
                    let mut pick = tx
                        .prepare_cached(
                            "SELECT id, body, receive_count FROM queue_messages \
                             WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, id LIMIT ?3",
                        )
                        .db()?;
                    let limit = i64::from(max) * 2 + 10;
                    let rows: Vec<(String, String, u32)> = pick
                        .query_map(params![name, now, limit], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        })
                        .db()?
                        .collect::<Result<_, _>>()
                        .db()?;
                    for (id, body, count) in rows {
                        if out.len() >= max as usize {
                            break;
                        }
                        if let Some(r) = &redrive
                            && count >= r.max_receives
                        {
                            tx.execute(
                                "UPDATE queue_messages SET queue = ?1, receive_count = 0, \
                                 receipt = NULL, visible_at = ?2 WHERE id = ?3",
                                params![r.dead_letter_queue, now, id],
                            )
                            .db()?;
                            continue;
                        }
                        let receipt = new_id("rcpt");
                        tx.execute(
                            "UPDATE queue_messages SET receive_count = receive_count + 1, \
                             receipt = ?1, visible_at = ?2 WHERE id = ?3",
                            params![receipt, visible_again, id],
                        )
                        .db()?;
                        out.push(Message {
                            id,
                            receipt,
                            body,
                            receive_count: count + 1,
                        });
                    }
                }
                tx.commit().db()?;
                Ok(out)
            })
            .await
    }
}

#[async_trait]
impl Queue for LocalQueue {
    async fn send(&self, body: &str, delay: Duration) -> Result<String, QueueError> {
        validate_send(body, delay)?;
        let now = self.clock.now().millis();
        let id = new_id("msg");
        let (name, body, out) = (self.name.clone(), body.to_owned(), id.clone());
        self.db
            .run(move |c| {
                c.execute(
                    "INSERT INTO queue_messages (id, queue, body, visible_at, sent_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id, name, body, now.saturating_add(ms(delay)), now],
                )
                .db()
                .map_err(QueueError::from)
            })
            .await?;
        Ok(out)
    }

    async fn receive(
        &self,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Message>, QueueError> {
        validate_receive(max)?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let got = self.receive_ready(max, visibility).await?;
            let now = tokio::time::Instant::now();
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            tokio::time::sleep((deadline - now).min(Duration::from_millis(50))).await;
        }
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        let (name, receipt) = (self.name.clone(), receipt.to_owned());
        self.db
            .run(move |c| {
                c.execute(
                    "DELETE FROM queue_messages WHERE queue = ?1 AND receipt = ?2",
                    params![name, receipt],
                )
                .db()
                .map_err(QueueError::from)
            })
            .await?;
        Ok(())
    }

    async fn extend(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        let visible_at = self.clock.now().millis().saturating_add(ms(visibility));
        let (name, receipt) = (self.name.clone(), receipt.to_owned());
        self.db
            .run(move |c| {
                c.execute(
                    "UPDATE queue_messages SET visible_at = ?1 WHERE queue = ?2 AND receipt = ?3",
                    params![visible_at, name, receipt],
                )
                .db()
                .map_err(QueueError::from)
            })
            .await?;
        Ok(())
    }

    async fn depth(&self) -> Result<u64, QueueError> {
        let now = self.clock.now().millis();
        let name = self.name.clone();
        self.db
            .run(move |c| {
                // Messages never received, or whose visibility timeout has run out.
                c.query_row(
                    "SELECT COUNT(*) FROM queue_messages WHERE queue = ?1 \
                     AND (receipt IS NULL OR visible_at <= ?2)",
                    params![name, now],
                    |r| r.get::<_, i64>(0),
                )
                .db()
                .map(|n| u64::try_from(n).unwrap_or(0))
                .map_err(QueueError::from)
            })
            .await
    }
}
