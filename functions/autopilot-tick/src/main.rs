//! The autopilot workflow's step (`statemachines/autopilot.asl.json`): one tick of the tenant's
//! autopilot, started by the tenant's EventBridge schedule.

#[tokio::main]
async fn main() -> Result<(), viral_runtime::lambda::Error> {
    viral_runtime::lambda::serve_autopilot_tick().await
}
