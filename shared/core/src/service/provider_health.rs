//! Provider health as routing sees it: recent outcomes per provider, in the item store so
//! every Lambda and process shares them. Recording is best-effort (a lost update only makes
//! the counts a little stale) but never overwrites a concurrent one: writes are conditional
//! on the version read.

use std::collections::HashMap;

use serde_json::Value;

use crate::clock::Clock;
use crate::domain::keys;
use crate::domain::routing::Health;
use crate::error::Result;
use crate::ports::{Cond, Item, ItemStore, StoreError};

fn read(item: &Item) -> Health {
    item.attrs
        .get("health")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// Health of each named provider (a provider never seen has the default).
pub async fn get_all(store: &dyn ItemStore, names: &[&str]) -> Result<HashMap<String, Health>> {
    let mut out = HashMap::new();
    for name in names {
        let item = store
            .get(keys::PROVIDERS_PK, &keys::provider_health_sk(name))
            .await?;
        out.insert(
            (*name).to_owned(),
            item.as_ref().map(read).unwrap_or_default(),
        );
    }
    Ok(out)
}

/// Records one outcome of `provider`.
pub async fn record(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    provider: &str,
    ok: bool,
    latency_s: f64,
) -> Result<()> {
    if ok {
        crate::metrics::record(
            "ProviderLatency",
            latency_s,
            crate::metrics::Unit::Seconds,
            Some(crate::metrics::Dimension::Provider(provider)),
        );
    } else {
        crate::metrics::count(
            "ProviderFailures",
            Some(crate::metrics::Dimension::Provider(provider)),
        );
    }
    let sk = keys::provider_health_sk(provider);
    for _ in 0..5 {
        let current = store.get(keys::PROVIDERS_PK, &sk).await?;
        let (mut health, cond, version) = match &current {
            Some(item) => (read(item), Cond::VersionIs(item.version), item.version + 1),
            None => (Health::default(), Cond::Absent, 1),
        };
        health.record(ok, latency_s, clock.now());
        let mut item = Item::new(keys::PROVIDERS_PK, sk.clone()).with(
            "health",
            serde_json::to_value(&health).unwrap_or(Value::Null),
        );
        item.version = version;
        match store.put(item, cond).await {
            Ok(()) => return Ok(()),
            Err(StoreError::ConditionFailed { .. } | StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(crate::Error::Conflict(format!(
        "provider health of {provider} kept changing"
    )))
}
