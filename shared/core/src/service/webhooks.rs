//! Tenant webhooks: endpoints (the signing secret sealed, shown once), events written as
//! deliveries beside whatever emitted them (one store write: a slow endpoint never delays the
//! pipeline), and the dispatcher that sends due deliveries, signed, at least once, retrying for
//! 24 hours before keeping a dead-letter record.
//!
//! Due deliveries live in an index by due time (`WEBHOOKS#DUE`), the same durable queue the
//! scheduled posts and the metrics collector use: every emitter (workflow steps, the API, the
//! token keeper) already has the store, and a retry is a new due time, not a new message.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::domain::keys;
use crate::domain::webhook::{
    Delivery, DeliveryStatus, EVENTS, MAX_WEBHOOKS, Webhook, check_url, next_attempt,
    secret_context, sign,
};
use crate::error::{Error, Result};
use crate::ids::{is_valid_id, new_id, random_bytes};
use crate::ports::{
    Cond, Item, ItemStore, Query, SecretString, StoreError, TokenVault, WebhookSender,
};

pub const WEBHOOKS_DUE: &str = "WEBHOOKS#DUE";
/// How long a dispatcher holds a delivery it is sending; a crash mid-send makes it due again
/// after this.
const CLAIM: Duration = Duration::from_secs(60);
/// Deliveries sent at once by one dispatcher.
const CONCURRENCY: usize = 8;

fn webhook_sk(id: &str) -> String {
    format!("WEBHOOK#{id}")
}

fn delivery_sk(webhook_id: &str, id: &str) -> String {
    format!("WHD#{webhook_id}#{id}")
}

fn decode<T: serde::de::DeserializeOwned>(item: &Item, attr: &str) -> Option<T> {
    serde_json::from_value(item.attrs.get(attr)?.clone()).ok()
}

fn webhook_item(w: &Webhook) -> Item {
    Item::new(keys::tenant_pk(&w.tenant_id), webhook_sk(&w.id))
        .with("webhook", serde_json::to_value(w).unwrap_or(Value::Null))
}

fn delivery_item(d: &Delivery) -> Item {
    let mut item = Item::new(
        keys::tenant_pk(&d.tenant_id),
        delivery_sk(&d.webhook_id, &d.id),
    )
    .with("delivery", serde_json::to_value(d).unwrap_or(Value::Null));
    item.version = d.version;
    if let (DeliveryStatus::Pending, Some(at)) = (d.status, d.next_at) {
        item.gsi1 = Some((
            WEBHOOKS_DUE.to_owned(),
            format!(
                "{:015}#{}#{}#{}",
                at.millis().max(0),
                d.tenant_id,
                d.webhook_id,
                d.id
            ),
        ));
    }
    item
}

fn delivery_of(tenant_id: &str, item: &Item) -> Option<Delivery> {
    let mut d: Delivery = decode(item, "delivery")?;
    d.tenant_id = tenant_id.to_owned();
    d.version = item.version;
    Some(d)
}

/// A new endpoint and its signing secret, which is never shown again.
pub struct Created {
    pub webhook: Webhook,
    pub secret: SecretString,
}

/// Registers an endpoint for `events`. `allow_loopback` is the local-development switch
/// (`VIRAL_ALLOW_LOOPBACK_PROVIDERS=1`): plain HTTP to this machine.
pub async fn create(
    store: &dyn ItemStore,
    vault: &dyn TokenVault,
    clock: &dyn Clock,
    tenant_id: &str,
    url: &str,
    events: &[String],
    allow_loopback: bool,
) -> Result<Created> {
    check_url(url, allow_loopback).map_err(Error::Invalid)?;
    if events.is_empty() || events.iter().any(|e| !EVENTS.contains(&e.as_str())) {
        return Err(Error::Invalid(format!(
            "events: one or more of {}",
            EVENTS.join(", ")
        )));
    }
    let mut events = events.to_vec();
    events.sort();
    if events.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::Invalid("events: each event at most once".into()));
    }
    if list(store, tenant_id).await?.len() >= MAX_WEBHOOKS {
        return Err(Error::Invalid(format!(
            "at most {MAX_WEBHOOKS} webhooks per workspace: delete one first"
        )));
    }
    let id = new_id("wh");
    let secret = SecretString::new(format!("whsec_{}", hex::encode(random_bytes::<32>())));
    let sealed = vault.seal(&secret, &secret_context(tenant_id, &id)).await?;
    let webhook = Webhook {
        id,
        tenant_id: tenant_id.to_owned(),
        url: url.to_owned(),
        events,
        secret_sealed: sealed,
        created_at: clock.now(),
    };
    store.put(webhook_item(&webhook), Cond::Absent).await?;
    Ok(Created { webhook, secret })
}

pub async fn list(store: &dyn ItemStore, tenant_id: &str) -> Result<Vec<Webhook>> {
    let page = store
        .query(Query::new(keys::tenant_pk(tenant_id), "WEBHOOK#").limit(MAX_WEBHOOKS + 5))
        .await?;
    Ok(Item::decode_all(&page.items, "webhook", |i| {
        let mut w: Webhook = decode(i, "webhook")?;
        w.tenant_id = tenant_id.to_owned();
        Some(w)
    }))
}

pub async fn get(store: &dyn ItemStore, tenant_id: &str, id: &str) -> Result<Webhook> {
    if !is_valid_id("wh", id) {
        return Err(Error::NotFound("webhook"));
    }
    let item = store
        .get(&keys::tenant_pk(tenant_id), &webhook_sk(id))
        .await?
        .ok_or(Error::NotFound("webhook"))?;
    let mut w: Webhook = decode(&item, "webhook").ok_or(Error::NotFound("webhook"))?;
    w.tenant_id = tenant_id.to_owned();
    Ok(w)
}

/// Deletes an endpoint; its pending deliveries end as dead when next due.
pub async fn delete(store: &dyn ItemStore, tenant_id: &str, id: &str) -> Result<()> {
    get(store, tenant_id, id).await?;
    store
        .delete(&keys::tenant_pk(tenant_id), &webhook_sk(id), Cond::None)
        .await?;
    Ok(())
}

/// An endpoint's deliveries, newest first.
pub async fn deliveries(
    store: &dyn ItemStore,
    tenant_id: &str,
    webhook_id: &str,
    limit: usize,
    cursor: Option<String>,
) -> Result<(Vec<Delivery>, Option<String>)> {
    get(store, tenant_id, webhook_id).await?;
    let page = store
        .query(
            Query::new(keys::tenant_pk(tenant_id), format!("WHD#{webhook_id}#"))
                .descending()
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let items = Item::decode_all(&page.items, "delivery", |i| delivery_of(tenant_id, i));
    Ok((items, page.next_cursor))
}

async fn delivery(
    store: &dyn ItemStore,
    tenant_id: &str,
    webhook_id: &str,
    id: &str,
) -> Result<Delivery> {
    if !is_valid_id("whd", id) {
        return Err(Error::NotFound("delivery"));
    }
    let item = store
        .get(&keys::tenant_pk(tenant_id), &delivery_sk(webhook_id, id))
        .await?
        .ok_or(Error::NotFound("delivery"))?;
    delivery_of(tenant_id, &item).ok_or(Error::NotFound("delivery"))
}

/// Sends a delivery again now (one more attempt; a dead one stays dead if it fails again).
pub async fn retry(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant_id: &str,
    webhook_id: &str,
    id: &str,
) -> Result<Delivery> {
    get(store, tenant_id, webhook_id).await?;
    let d = delivery(store, tenant_id, webhook_id, id).await?;
    if d.status == DeliveryStatus::Delivered {
        return Err(Error::State {
            code: "already_delivered",
            message: "this delivery reached the endpoint; nothing to retry".into(),
        });
    }
    let mut next = d.clone();
    next.status = DeliveryStatus::Pending;
    next.next_at = Some(clock.now());
    save(store, next).await
}

async fn save(store: &dyn ItemStore, mut d: Delivery) -> Result<Delivery> {
    let read = d.version;
    d.version = read + 1;
    match store.put(delivery_item(&d), Cond::VersionIs(read)).await {
        Ok(()) => Ok(d),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::Conflict(
            "the delivery changed meanwhile; read it again".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Writes one delivery per endpoint of the tenant subscribed to `event_type`. Never fails its
/// caller: whatever goes wrong is logged (the event is then lost to webhooks, not the work).
pub async fn emit(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant_id: &str,
    event_type: &'static str,
    data: Value,
) {
    if let Err(e) = try_emit(store, clock, tenant_id, event_type, data).await {
        tracing::warn!(tenant_id, event_type, error = %e, "a webhook event could not be written");
    }
}

async fn try_emit(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant_id: &str,
    event_type: &'static str,
    data: Value,
) -> Result<()> {
    let hooks: Vec<Webhook> = list(store, tenant_id)
        .await?
        .into_iter()
        .filter(|w| w.events.iter().any(|e| e == event_type))
        .collect();
    if hooks.is_empty() {
        return Ok(());
    }
    let now = clock.now();
    let event_id = new_id("evt");
    let body = json!({
        "id": event_id,
        "type": event_type,
        "created_at": now.rfc3339(),
        "data": data,
    })
    .to_string();
    for w in hooks {
        let d = Delivery {
            id: new_id("whd"),
            tenant_id: tenant_id.to_owned(),
            webhook_id: w.id.clone(),
            event_id: event_id.clone(),
            event_type: event_type.to_owned(),
            body: body.clone(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_at: Some(now),
            last_status: None,
            last_error: None,
            created_at: now,
            delivered_at: None,
            version: 1,
        };
        store.put(delivery_item(&d), Cond::Absent).await?;
    }
    Ok(())
}

/// What one dispatcher pass did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Dispatched {
    pub delivered: usize,
    /// Failed attempts that will be retried.
    pub retrying: usize,
    /// Deliveries dead-lettered this pass.
    pub dead: usize,
}

/// What the dispatcher needs.
pub struct Dispatcher<'a> {
    pub store: &'a dyn ItemStore,
    pub vault: &'a dyn TokenVault,
    pub clock: &'a dyn Clock,
    pub sender: &'a dyn WebhookSender,
}

enum Outcome {
    Delivered,
    Retrying,
    Dead,
    Skipped,
}

impl Dispatcher<'_> {
    /// Sends every delivery due now (at most `max`), several at once.
    pub async fn dispatch(&self, max: usize) -> Result<Dispatched> {
        let now = self.clock.now();
        let page = self
            .store
            .query_gsi1(Query::new(WEBHOOKS_DUE, "").limit(max.clamp(1, 500)))
            .await?;
        let due: Vec<Delivery> = page
            .items
            .iter()
            .filter_map(|i| delivery_of(i.pk.strip_prefix("T#")?, i))
            .filter(|d| d.next_at.is_some_and(|t| t <= now))
            .collect();
        let outcomes: Vec<Outcome> = futures_util::stream::iter(due)
            .map(|d| async move {
                let (tenant, id) = (d.tenant_id.clone(), d.id.clone());
                match self.send(d).await {
                    Ok(o) => o,
                    Err(e) => {
                        tracing::warn!(tenant_id = %tenant, delivery_id = %id, error = %e, "a webhook delivery could not be recorded");
                        Outcome::Skipped
                    }
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut out = Dispatched::default();
        for o in outcomes {
            match o {
                Outcome::Delivered => out.delivered += 1,
                Outcome::Retrying => out.retrying += 1,
                Outcome::Dead => out.dead += 1,
                Outcome::Skipped => {}
            }
        }
        Ok(out)
    }

    async fn send(&self, d: Delivery) -> Result<Outcome> {
        let now = self.clock.now();
        // Claimed first, so a second dispatcher does not send it at the same time.
        let mut claimed = d.clone();
        claimed.next_at = Some(now.plus(CLAIM));
        let mut d = match save(self.store, claimed).await {
            Ok(d) => d,
            Err(Error::Conflict(_)) => return Ok(Outcome::Skipped),
            Err(e) => return Err(e),
        };
        let webhook = match get(self.store, &d.tenant_id, &d.webhook_id).await {
            Ok(w) => Some(w),
            Err(Error::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let answer = match &webhook {
            None => Err("the endpoint was deleted".to_owned()),
            Some(w) => {
                let secret = self
                    .vault
                    .open(&w.secret_sealed, &secret_context(&w.tenant_id, &w.id))
                    .await?;
                let signature = sign(d.body.as_bytes(), secret.expose(), now.secs());
                let headers = [
                    ("viral-signature", signature),
                    ("viral-event", d.event_type.clone()),
                    ("viral-delivery", d.id.clone()),
                ];
                self.sender.post(&w.url, &headers, &d.body).await
            }
        };
        d.attempts += 1;
        let outcome = match answer {
            Ok(status) if (200..300).contains(&status) => {
                d.status = DeliveryStatus::Delivered;
                d.delivered_at = Some(self.clock.now());
                d.next_at = None;
                d.last_status = Some(status);
                d.last_error = None;
                Outcome::Delivered
            }
            failed => {
                match failed {
                    Ok(status) => {
                        d.last_status = Some(status);
                        d.last_error = Some(format!("the endpoint answered {status}"));
                    }
                    Err(why) => {
                        d.last_status = None;
                        d.last_error = Some(why.chars().take(300).collect());
                    }
                }
                match next_attempt(d.created_at, d.attempts).filter(|_| webhook.is_some()) {
                    Some(at) => {
                        d.next_at = Some(at.max(self.clock.now()));
                        Outcome::Retrying
                    }
                    None => {
                        d.status = DeliveryStatus::Dead;
                        d.next_at = None;
                        tracing::info!(tenant_id = %d.tenant_id, delivery_id = %d.id, "a webhook delivery was dead-lettered");
                        Outcome::Dead
                    }
                }
            }
        };
        save(self.store, d).await?;
        Ok(outcome)
    }
}
