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
use crate::ports::item_store::MAX_PAGE;
use crate::ports::{Cond, Item, ItemStore, Query, StoreError};

fn read(item: &Item) -> Health {
    item.attrs
        .get("health")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// Health of each named provider (a provider never seen has the default): one query of
/// the providers' partition, whatever their number.
pub async fn get_all(store: &dyn ItemStore, names: &[&str]) -> Result<HashMap<String, Health>> {
    let mut out: HashMap<String, Health> = names
        .iter()
        .map(|name| ((*name).to_owned(), Health::default()))
        .collect();
    if names.is_empty() {
        return Ok(out);
    }
    let prefix = keys::provider_health_sk("");
    let mut cursor = None;
    loop {
        let page = store
            .query(
                Query::new(keys::PROVIDERS_PK, prefix.as_str())
                    .limit(MAX_PAGE)
                    .after(cursor),
            )
            .await?;
        for item in &page.items {
            if let Some(health) = item
                .sk
                .strip_prefix(prefix.as_str())
                .and_then(|name| out.get_mut(name))
            {
                *health = read(item);
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
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
