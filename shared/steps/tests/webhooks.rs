//! Tenant webhooks end to end on loopback: an event becomes a signed delivery the receiver can
//! verify with the secret it was shown once; a failing endpoint is retried on its schedule for
//! 24 hours and then dead-lettered (and can be retried by hand); the address guard refuses
//! this machine without the local-development switch; emitting never touches the endpoint,
//! and an endpoint that never answers holds up neither the others nor the dispatcher.

mod support;
mod world;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use viral_core::Clock;
use viral_core::domain::Plan;
use viral_core::domain::webhook::{DeliveryStatus, verify};
use viral_core::service::webhooks::{self, Dispatcher};
use viral_providers::GuardedWebhookSender;
use world::World;

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    /// The status it answers with.
    status: Arc<Mutex<u16>>,
}

async fn receiver() -> (Receiver, String) {
    let r = Receiver {
        status: Arc::new(Mutex::new(200)),
        ..Receiver::default()
    };
    let state = r.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let state = state.clone();
            async move {
                state.got.lock().unwrap().push((headers, body));
                StatusCode::from_u16(*state.status.lock().unwrap()).unwrap()
            }
        }),
    );
    let base = support::serve(app).await;
    (r, format!("{base}/hook"))
}

impl World {
    async fn dispatch(&self, sender: &GuardedWebhookSender) -> webhooks::Dispatched {
        Dispatcher {
            store: &*self.store,
            vault: &*self.vault,
            clock: &*self.clock,
            sender,
        }
        .dispatch(100)
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn an_event_arrives_signed_and_verifiable_with_the_secret_shown_once() {
    let w = World::new(vec![]);
    let t = w.tenant(Plan::Pro).await;
    let (rx, url) = receiver().await;
    let created = webhooks::create(
        &*w.store,
        &*w.vault,
        &*w.clock,
        &t,
        &url,
        &["video.succeeded".into(), "post.failed".into()],
        true,
    )
    .await
    .unwrap();
    let secret = created.secret.expose().to_owned();
    assert!(secret.starts_with("whsec_"));
    let stored = webhooks::get(&*w.store, &t, &created.webhook.id)
        .await
        .unwrap();
    assert!(
        !stored.secret_sealed.contains(&secret),
        "sealed, not in the clear"
    );

    // An event nobody subscribed to writes nothing; a subscribed one writes a delivery and
    // sends nothing by itself.
    webhooks::emit(&*w.store, &*w.clock, &t, "post.published", json!({})).await;
    webhooks::emit(
        &*w.store,
        &*w.clock,
        &t,
        "video.succeeded",
        json!({"video_id": "job_1"}),
    )
    .await;
    assert!(rx.got.lock().unwrap().is_empty());
    let (ds, _) = webhooks::deliveries(&*w.store, &t, &created.webhook.id, 10, None)
        .await
        .unwrap();
    assert_eq!(ds.len(), 1);

    let sender = GuardedWebhookSender::new(true);
    let sent = w.dispatch(&sender).await;
    assert_eq!(sent.delivered, 1);
    let got = rx.got.lock().unwrap().clone();
    let (headers, body) = &got[0];
    let signature = headers["viral-signature"].to_str().unwrap();
    // The receiver's ten lines: HMAC-SHA256 of "t.body" with the secret, t within 5 minutes.
    verify(signature, body.as_bytes(), &secret, w.clock.now().secs()).unwrap();
    assert!(
        verify(
            signature,
            body.as_bytes(),
            "whsec_wrong",
            w.clock.now().secs()
        )
        .is_err()
    );
    let event: Value = serde_json::from_str(body).unwrap();
    assert_eq!(event["type"], "video.succeeded");
    assert_eq!(event["data"]["video_id"], "job_1");
    assert_eq!(headers["viral-event"], "video.succeeded");
    assert_eq!(headers["viral-delivery"].to_str().unwrap(), ds[0].id);
    let (ds, _) = webhooks::deliveries(&*w.store, &t, &created.webhook.id, 10, None)
        .await
        .unwrap();
    assert_eq!(
        (ds[0].status, ds[0].attempts, ds[0].last_status),
        (DeliveryStatus::Delivered, 1, Some(200))
    );
    // Nothing is due any more.
    assert_eq!(w.dispatch(&sender).await, webhooks::Dispatched::default());
    // Another tenant sees none of it.
    let other = w.tenant(Plan::Pro).await;
    assert!(
        webhooks::get(&*w.store, &other, &created.webhook.id)
            .await
            .is_err()
    );
    assert!(
        webhooks::deliveries(&*w.store, &other, &created.webhook.id, 10, None)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_for_a_day_then_dead_lettered_and_retried_by_hand() {
    let w = World::new(vec![]);
    let t = w.tenant(Plan::Pro).await;
    let (rx, url) = receiver().await;
    *rx.status.lock().unwrap() = 503;
    let hook = webhooks::create(
        &*w.store,
        &*w.vault,
        &*w.clock,
        &t,
        &url,
        &["post.failed".into()],
        true,
    )
    .await
    .unwrap()
    .webhook;
    webhooks::emit(
        &*w.store,
        &*w.clock,
        &t,
        "post.failed",
        json!({"post_id": "p"}),
    )
    .await;
    let sender = GuardedWebhookSender::new(true);
    let start = w.clock.now();
    let mut attempts = 0;
    // 1 min, 5 min, 30 min, 2 h, 6 h, 12 h, 24 h after the first: eight attempts in all.
    for _ in 0..20 {
        let sent = w.dispatch(&sender).await;
        attempts += sent.retrying + sent.dead;
        if sent.dead == 1 {
            break;
        }
        w.clock.advance(Duration::from_secs(60));
        // Skip ahead to the next due time.
        let (ds, _) = webhooks::deliveries(&*w.store, &t, &hook.id, 1, None)
            .await
            .unwrap();
        if let Some(next) = ds[0].next_at
            && next > w.clock.now()
        {
            w.clock.set(next);
        }
    }
    assert_eq!(attempts, 8);
    assert_eq!(rx.got.lock().unwrap().len(), 8);
    assert!(w.clock.now().millis() - start.millis() >= 86_400_000);
    let (ds, _) = webhooks::deliveries(&*w.store, &t, &hook.id, 1, None)
        .await
        .unwrap();
    let dead = &ds[0];
    assert_eq!((dead.status, dead.next_at), (DeliveryStatus::Dead, None));
    assert_eq!(dead.last_status, Some(503));
    // Dead-lettered: never sent again by itself.
    w.clock.advance(Duration::from_secs(7 * 86_400));
    assert_eq!(w.dispatch(&sender).await, webhooks::Dispatched::default());
    // The endpoint is fixed; a retry by hand delivers it.
    *rx.status.lock().unwrap() = 204;
    let again = webhooks::retry(&*w.store, &*w.clock, &t, &hook.id, &dead.id)
        .await
        .unwrap();
    assert_eq!(again.status, DeliveryStatus::Pending);
    assert_eq!(w.dispatch(&sender).await.delivered, 1);
    assert!(matches!(
        webhooks::retry(&*w.store, &*w.clock, &t, &hook.id, &dead.id).await,
        Err(viral_core::Error::State {
            code: "already_delivered",
            ..
        })
    ));
}

#[tokio::test]
async fn endpoints_on_this_machine_or_private_addresses_are_refused() {
    let w = World::new(vec![]);
    let t = w.tenant(Plan::Pro).await;
    let (rx, url) = receiver().await;
    // Registering: https on a public address only, without the local-development switch.
    for bad in [
        url.as_str(),
        "https://10.1.2.3/hook",
        "https://169.254.169.254/x",
    ] {
        let err = webhooks::create(
            &*w.store,
            &*w.vault,
            &*w.clock,
            &t,
            bad,
            &["video.failed".into()],
            false,
        )
        .await;
        assert!(matches!(err, Err(viral_core::Error::Invalid(_))), "{bad}");
    }
    assert!(
        webhooks::create(
            &*w.store,
            &*w.vault,
            &*w.clock,
            &t,
            "https://hooks.example.com/x",
            &["video.exploded".into()],
            false,
        )
        .await
        .is_err()
    );
    // Sending: a name that resolves to this machine is refused after DNS, before connecting.
    let sender = GuardedWebhookSender::new(false);
    let port = url.split(':').nth(2).unwrap().split('/').next().unwrap();
    let refused = viral_core::ports::WebhookSender::post(
        &sender,
        &format!("https://localhost:{port}/hook"),
        &[],
        "{}",
    )
    .await
    .unwrap_err();
    assert!(refused.contains("endpoint refused"), "{refused}");
    assert!(rx.got.lock().unwrap().is_empty());
}

/// `quota.low` is sent once a period, when what is left of a quota falls to a fifth or below:
/// Starter's 10 videos warn at the 8th, not before and not again.
#[tokio::test]
async fn quota_low_is_sent_once_when_a_fifth_is_left() {
    let w = World::new(vec![]);
    let t = w.tenant(Plan::Starter).await;
    let tenant = viral_core::service::tenants::get_tenant(&*w.store, &t)
        .await
        .unwrap()
        .unwrap();
    let hook = webhooks::create(
        &*w.store,
        &*w.vault,
        &*w.clock,
        &t,
        "https://hooks.example.com/quota",
        &["quota.low".into()],
        false,
    )
    .await
    .unwrap()
    .webhook;
    let profiles = vec![viral_core::domain::routing::ProviderInfo::storyboard().profile];
    let spec = viral_core::domain::JobSpec {
        prompt: "Octopuses have three hearts.".into(),
        concept_id: None,
        provider: "auto".into(),
        platforms: vec!["tiktok".into()],
        duration_s: 15.0,
        narration: None,
    };
    for i in 1..=10 {
        viral_core::service::videos::accept(
            &*w.store,
            &*w.clock,
            &tenant,
            spec.clone(),
            None,
            &profiles,
        )
        .await
        .unwrap();
        let (items, _) = webhooks::deliveries(&*w.store, &t, &hook.id, 50, None)
            .await
            .unwrap();
        assert_eq!(items.len(), usize::from(i >= 8), "after video {i}");
        if i == 8 {
            let body: Value = serde_json::from_str(&items[0].body).unwrap();
            assert_eq!(body["type"], "quota.low");
            assert_eq!(
                (&body["data"]["resource"], &body["data"]["remaining"]),
                (&json!("videos"), &json!(2))
            );
        }
    }
}

#[tokio::test]
async fn an_endpoint_that_never_answers_holds_up_neither_the_others_nor_the_pass() {
    let w = World::new(vec![]);
    let t = w.tenant(Plan::Pro).await;
    // This one answers only once the test lets it: long after the sender gives up.
    let release = Arc::new(tokio::sync::Notify::new());
    let wait = release.clone();
    let slow = support::serve(Router::new().route(
        "/hook",
        post(move || {
            let wait = wait.clone();
            async move {
                wait.notified().await;
                StatusCode::OK
            }
        }),
    ))
    .await;
    let (rx, fast) = receiver().await;
    let mut hooks = Vec::new();
    for url in [format!("{slow}/hook"), fast] {
        let hook = webhooks::create(
            &*w.store,
            &*w.vault,
            &*w.clock,
            &t,
            &url,
            &["video.failed".into()],
            true,
        )
        .await
        .unwrap();
        hooks.push(hook.webhook.id);
    }
    webhooks::emit(
        &*w.store,
        &*w.clock,
        &t,
        "video.failed",
        json!({"video_id": "job_1"}),
    )
    .await;
    let sender = GuardedWebhookSender::new(true).with_timeout(Duration::from_millis(300));
    // The pass ends although the slow endpoint has not answered: that delivery waits for its
    // next attempt with why, the other endpoint has its event.
    let sent = w.dispatch(&sender).await;
    assert_eq!((sent.delivered, sent.retrying, sent.dead), (1, 1, 0));
    assert_eq!(rx.got.lock().unwrap().len(), 1);
    let (ds, _) = webhooks::deliveries(&*w.store, &t, &hooks[0], 1, None)
        .await
        .unwrap();
    assert_eq!((ds[0].status, ds[0].attempts), (DeliveryStatus::Pending, 1));
    assert_eq!(ds[0].last_status, None);
    assert!(ds[0].last_error.is_some(), "{:?}", ds[0]);
    assert!(ds[0].next_at.unwrap() > w.clock.now());
    release.notify_waiters();
}
