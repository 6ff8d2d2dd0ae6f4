//! Reading usage in the current period (calendar month, or billing period when subscribed).

use crate::clock::Clock;
use crate::domain::{Resource, Tenant, Usage, keys};
use crate::error::Result;
use crate::ports::ItemStore;

pub async fn current_usage(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant: &Tenant,
) -> Result<Usage> {
    let now = clock.now();
    let period = tenant.usage_period(now);
    let item = store
        .get(&keys::tenant_pk(&tenant.id), &keys::quota_sk(&period.key))
        .await?;
    let used = |r: Resource| {
        item.as_ref()
            .and_then(|i| i.int(r.counter()))
            .unwrap_or(0)
            .max(0)
    };
    Ok(Usage::new(
        period,
        tenant.plan_at(now),
        used(Resource::Concepts),
        used(Resource::Videos),
    ))
}
