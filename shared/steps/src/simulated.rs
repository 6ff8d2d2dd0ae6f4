//! A workflow for simulations (`viral simulate`, `viral demo --days`) and tests of what runs
//! above the pipeline (autopilot): a job ends at once, succeeded, with a stand-in MP4 and its
//! route's estimated cost as spent — the audience of the sandbox channel does not watch pixels.
//! Posts go through the real publish steps (check, upload, poll) on the sandbox channel, when
//! their time comes on the simulation's clock ([`InstantWorkflow::drive`]).

use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{Value, json};
use viral_core::Clock;
use viral_core::ports::{BlobKey, BlobStore, ItemStore, Workflow, WorkflowError};
use viral_core::service::publishing::{self, Ctx, Next};
use viral_core::service::videos;

/// Finishes jobs at once; publishes posts through the real steps when driven.
pub struct InstantWorkflow<'a> {
    pub store: &'a dyn ItemStore,
    pub blobs: &'a dyn BlobStore,
    pub clock: &'a dyn Clock,
    pub ctx: Ctx<'a>,
    /// Posts started and not yet done: (tenant, post).
    pending: Mutex<Vec<(String, String)>>,
}

fn unavailable(e: impl std::fmt::Display) -> WorkflowError {
    WorkflowError::Unavailable(e.to_string())
}

/// A few bytes the sandbox takes for an MP4 (it checks the `ftyp` box only).
fn stand_in_mp4() -> Vec<u8> {
    let mut mp4 = vec![0, 0, 0, 24];
    mp4.extend_from_slice(b"ftypisom");
    mp4.resize(1024, 0);
    mp4
}

impl<'a> InstantWorkflow<'a> {
    pub fn new(ctx: Ctx<'a>) -> Self {
        Self {
            store: ctx.store,
            blobs: ctx.blobs,
            clock: ctx.clock,
            ctx,
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Runs every started post's publish steps as far as the clock allows: a scheduled post
    /// waits for its time. Returns the posts that ended.
    pub async fn drive(&self) -> Result<usize, viral_core::Error> {
        let pending: Vec<(String, String)> =
            self.pending.lock().map(|p| p.clone()).unwrap_or_default();
        let mut waiting = Vec::new();
        let mut done = 0;
        for (tenant, post) in pending {
            let mut next = publishing::check(&self.ctx, &tenant, &post).await?;
            let mut steps = 0;
            loop {
                steps += 1;
                next = match next {
                    Next::Done => {
                        done += 1;
                        break;
                    }
                    Next::Wait(_) if steps > 8 => {
                        waiting.push((tenant.clone(), post.clone()));
                        break;
                    }
                    Next::Wait(at) if at > self.clock.now() => {
                        waiting.push((tenant.clone(), post.clone()));
                        break;
                    }
                    Next::Wait(_) => publishing::check(&self.ctx, &tenant, &post).await?,
                    Next::Upload => publishing::upload(&self.ctx, &tenant, &post).await?,
                    Next::Poll(_) => publishing::poll(&self.ctx, &tenant, &post).await?,
                };
            }
        }
        if let Ok(mut p) = self.pending.lock() {
            *p = waiting;
        }
        Ok(done)
    }
}

#[async_trait]
impl Workflow for InstantWorkflow<'_> {
    async fn start_job(&self, tenant_id: &str, job_id: &str) -> Result<bool, WorkflowError> {
        let job = videos::get(self.store, tenant_id, job_id)
            .await
            .map_err(unavailable)?;
        if job.status.is_terminal() {
            return Ok(false);
        }
        let key = format!("tenants/{tenant_id}/videos/{job_id}.mp4");
        let blob = BlobKey::parse(&key).map_err(unavailable)?;
        self.blobs
            .put(&blob, stand_in_mp4(), "video/mp4")
            .await
            .map_err(unavailable)?;
        let cost = job.routing().map_or(0, |r| r.estimated_cost_cents);
        let passed: Vec<Value> = job
            .spec
            .platforms
            .iter()
            .map(|p| json!({"platform": p, "pass": true, "reasons": []}))
            .collect();
        videos::finish_succeeded(
            self.store,
            self.clock,
            tenant_id,
            job_id,
            vec![
                ("video_key", Value::from(key)),
                ("spent_cents", Value::from(cost)),
                (
                    "validation",
                    json!({"platforms": passed, "simulated": true}),
                ),
            ],
        )
        .await
        .map_err(unavailable)?;
        Ok(true)
    }

    async fn start_post(&self, tenant_id: &str, post_id: &str) -> Result<bool, WorkflowError> {
        if let Ok(mut p) = self.pending.lock() {
            let entry = (tenant_id.to_owned(), post_id.to_owned());
            if p.contains(&entry) {
                return Ok(false);
            }
            p.push(entry);
        }
        self.drive().await.map_err(unavailable)?;
        Ok(true)
    }

    async fn job_history(&self, _: &str, _: &str) -> Result<Option<Value>, WorkflowError> {
        Ok(None)
    }
}
