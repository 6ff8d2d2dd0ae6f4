//! Stripe promises neither order nor single delivery. 1,000 random delivery orders of the
//! events of 20 subscriptions (each tenant's life cycle: checkout, invoices, renewals, failed
//! payments, plan changes, cancellations), with 30 % of events delivered twice, must leave
//! every tenant exactly where in-order delivery leaves it.

use std::collections::BTreeMap;

use viral_core::clock::Timestamp;
use viral_core::domain::billing::Billing;
use viral_core::domain::learner::Rng;
use viral_core::domain::plan::Plan;
use viral_core::domain::stripe_webhook::{Prices, parse};
use viral_testkit::stripe::{
    PRICE_AGENCY, PRICE_PRO, PRICE_STARTER, StripeEvent, lifecycle, shuffled_with_duplicates,
};

fn prices() -> Prices {
    Prices {
        starter: PRICE_STARTER.into(),
        pro: PRICE_PRO.into(),
        agency: PRICE_AGENCY.into(),
    }
}

/// Applies events as the webhook does: by tenant, each event id once.
fn deliver(events: &[StripeEvent]) -> BTreeMap<String, Billing> {
    let prices = prices();
    let mut seen = std::collections::HashSet::new();
    let mut tenants: BTreeMap<String, Billing> = BTreeMap::new();
    for e in events {
        let event = parse(e.body.as_bytes(), &prices).expect("a well-formed event");
        if !seen.insert(event.id.clone()) {
            continue;
        }
        if let Some(u) = event.update {
            let tenant = u
                .tenant_hint
                .expect("every generated event names its tenant");
            tenants.entry(tenant).or_default().apply(&u.change);
        }
    }
    tenants
}

#[test]
fn any_order_with_duplicates_ends_where_in_order_delivery_does() {
    let mut rng = Rng::new(20_261_125);
    let start = 1_790_000_000;
    let mut events = Vec::new();
    for n in 0..20 {
        events.extend(lifecycle(
            &mut rng,
            n,
            &format!("tn_{n:02}"),
            &format!("cus_{n:02}"),
            start + n as i64 * 977,
        ));
    }
    let mut in_order = events.clone();
    in_order.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    let expected = deliver(&in_order);
    assert_eq!(expected.len(), 20);
    // The lifecycles reach a spread of end states, so the comparison means something.
    let probe = Timestamp::from_secs(start + 200 * 24 * 3600);
    let mut plans: Vec<Plan> = expected
        .values()
        .map(|b| b.standing(Plan::Free, probe).plan)
        .collect();
    plans.sort_by_key(|p| p.as_str());
    plans.dedup();
    assert!(plans.len() >= 2, "end states: {plans:?}");

    for round in 0..1000 {
        let delivered = shuffled_with_duplicates(&mut rng, &events, 0.3);
        let got = deliver(&delivered);
        assert_eq!(got, expected, "delivery order {round} changed the outcome");
    }
}
