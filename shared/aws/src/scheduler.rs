//! Autopilot's schedules on EventBridge Scheduler: one schedule per enabled tenant, named after
//! it, firing at the tenant's local run hours (`ScheduleExpressionTimezone` keeps them local
//! across daylight saving) and starting the autopilot state machine with `{"tenant_id"}`.

use async_trait::async_trait;
use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState, Target};
use serde_json::json;
use viral_core::domain::autopilot::{cron_expression, schedule_name};
use viral_core::ports::{AutopilotSchedules, ScheduleError};

use crate::errors::{code, describe};

#[derive(Clone, Debug)]
pub struct EventBridgeSchedules {
    client: Client,
    /// The autopilot state machine the schedules start.
    state_machine_arn: String,
    /// The role EventBridge Scheduler assumes to start it.
    role_arn: String,
}

fn unavailable<E: std::error::Error>(e: E) -> ScheduleError {
    ScheduleError::Unavailable(describe(&e))
}

impl EventBridgeSchedules {
    pub fn new(client: Client, state_machine_arn: &str, role_arn: &str) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.to_owned(),
            role_arn: role_arn.to_owned(),
        }
    }

    pub fn from_conf(
        conf: &aws_config::SdkConfig,
        state_machine_arn: &str,
        role_arn: &str,
    ) -> Self {
        Self::new(Client::new(conf), state_machine_arn, role_arn)
    }

    /// A client that only removes schedules (the tick, once a paused tenant has nothing under
    /// way): it needs neither the state machine nor the role, which would make the template's
    /// references circular.
    pub fn remover(conf: &aws_config::SdkConfig) -> Self {
        Self::new(Client::new(conf), "", "")
    }

    fn parts(&self, tenant_id: &str) -> Result<(Target, FlexibleTimeWindow), ScheduleError> {
        let target = Target::builder()
            .arn(&self.state_machine_arn)
            .role_arn(&self.role_arn)
            .input(json!({ "tenant_id": tenant_id }).to_string())
            .build()
            .map_err(unavailable)?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(unavailable)?;
        Ok((target, window))
    }
}

#[async_trait]
impl AutopilotSchedules for EventBridgeSchedules {
    async fn ensure(
        &self,
        tenant_id: &str,
        run_hours: &[u8],
        timezone: &str,
    ) -> Result<(), ScheduleError> {
        let name = schedule_name(tenant_id);
        let expression = cron_expression(run_hours);
        let (target, window) = self.parts(tenant_id)?;
        let updated = self
            .client
            .update_schedule()
            .name(&name)
            .schedule_expression(&expression)
            .schedule_expression_timezone(timezone)
            .flexible_time_window(window.clone())
            .target(target.clone())
            .state(ScheduleState::Enabled)
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some("ResourceNotFoundException") => {
                match self
                    .client
                    .create_schedule()
                    .name(&name)
                    .schedule_expression(&expression)
                    .schedule_expression_timezone(timezone)
                    .flexible_time_window(window)
                    .target(target)
                    .state(ScheduleState::Enabled)
                    .send()
                    .await
                {
                    Ok(_) => Ok(()),
                    // Created meanwhile by a concurrent change: ours is the next update.
                    Err(e) if code(&e) == Some("ConflictException") => Ok(()),
                    Err(e) => Err(unavailable(e)),
                }
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn remove(&self, tenant_id: &str) -> Result<(), ScheduleError> {
        match self
            .client
            .delete_schedule()
            .name(schedule_name(tenant_id))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}
