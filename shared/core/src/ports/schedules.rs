//! Autopilot's schedules: one per enabled tenant, at the tenant's local run hours, that starts
//! the autopilot workflow. EventBridge Scheduler on AWS; locally `viral up` ticks every tenant
//! itself and needs none. A paused or idle tenant has no schedule, so it costs nothing.

use async_trait::async_trait;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ScheduleError {
    #[error("scheduler unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait AutopilotSchedules: Send + Sync {
    /// Creates the tenant's schedule, or changes it to these local hours in this IANA zone.
    async fn ensure(
        &self,
        tenant_id: &str,
        run_hours: &[u8],
        timezone: &str,
    ) -> Result<(), ScheduleError>;
    /// Deletes the tenant's schedule; a schedule that does not exist is fine.
    async fn remove(&self, tenant_id: &str) -> Result<(), ScheduleError>;
}
