//! The ItemStore conformance suite (DESIGN §2 semantics).

use std::sync::Arc;

use serde_json::{Value, json};
use viral_core::ports::{Cond, Item, ItemStore, Query, StoreError, Update, Write};

use crate::unique;

/// The semantics every adapter must have. Run [`concurrent_counter_never_passes_its_limit`]
/// too where the backend itself is atomic under concurrency: moto serves requests on threads
/// without DynamoDB's per-item serialisation, so on moto that property is DynamoDB's to
/// guarantee, not something a test there can show.
pub async fn run_all(store: Arc<dyn ItemStore>) {
    round_trips_every_value_kind(&*store).await;
    conditional_puts(&*store).await;
    updates_and_counters(&*store).await;
    conditional_deletes(&*store).await;
    queries_page_in_order(&*store).await;
    cursors_are_checked(&*store).await;
    index_queries(&*store).await;
    transactions_are_all_or_nothing(&*store).await;
    transactions_name_the_reason_that_failed(&*store).await;
    invalid_requests_are_refused(&*store).await;
}

async fn round_trips_every_value_kind(s: &dyn ItemStore) {
    let pk = unique("P");
    let mut item = Item::new(&pk, "A")
        .with("s", "héllo ✓")
        .with("empty", "")
        .with("i", -42)
        .with("big", 9_007_199_254_740_993_i64)
        .with("f", 1.5)
        .with("t", true)
        .with("n", Value::Null)
        .with("l", json!([1, "two", [3], {"k": false}]))
        .with("m", json!({"a": {"b": [null, 2.25]}, "c": ""}))
        .with_gsi1(format!("G{pk}"), "g1");
    item.version = 3;
    item.expires_at = Some(1_900_000_000);
    s.put(item.clone(), Cond::None).await.expect("put");
    assert_eq!(s.get(&pk, "A").await.expect("get"), Some(item));
    assert_eq!(s.get(&pk, "missing").await.expect("get missing"), None);
}

async fn conditional_puts(s: &dyn ItemStore) {
    let pk = unique("P");
    let a = Item::new(&pk, "A").with("v", 1);
    s.put(a.clone(), Cond::Absent).await.expect("first put");
    let err = s.put(a.clone(), Cond::Absent).await.unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { .. }), "{err:?}");

    let mut v1 = a.clone().with("v", 2);
    v1.version = 1;
    s.put(v1.clone(), Cond::VersionIs(0))
        .await
        .expect("version 0 → 1");
    let stale = s.put(a.clone(), Cond::VersionIs(0)).await.unwrap_err();
    assert!(matches!(stale, StoreError::ConditionFailed { .. }));
    assert_eq!(s.get(&pk, "A").await.unwrap(), Some(v1));

    let err = s.put(Item::new(&pk, "B"), Cond::Exists).await.unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { .. }));
    assert_eq!(s.get(&pk, "B").await.unwrap(), None);
}

async fn updates_and_counters(s: &dyn ItemStore) {
    let pk = unique("P");
    // An update creates the item when absent.
    let it = s
        .update(
            Update::new(&pk, "Q")
                .add("used", 1)
                .set("name", "q")
                .expires_at(1_900_000_000),
        )
        .await
        .expect("create by update");
    assert_eq!(it.int("used"), Some(1));
    assert_eq!(it.str("name"), Some("q"));
    assert_eq!(it.expires_at, Some(1_900_000_000));

    // Counter below a limit: 1 → 2 → 3, then refused.
    for want in [2, 3] {
        let it = s
            .update(
                Update::new(&pk, "Q")
                    .add("used", 1)
                    .when(Cond::below("used", 3)),
            )
            .await
            .expect("under the limit");
        assert_eq!(it.int("used"), Some(want));
    }
    let err = s
        .update(
            Update::new(&pk, "Q")
                .add("used", 1)
                .when(Cond::below("used", 3)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { .. }));

    // Decrement only while at least 1.
    let it = s
        .update(
            Update::new(&pk, "Q")
                .add("used", -3)
                .when(Cond::at_least("used", 3)),
        )
        .await
        .unwrap();
    assert_eq!(it.int("used"), Some(0));
    let err = s
        .update(
            Update::new(&pk, "Q")
                .add("used", -1)
                .when(Cond::at_least("used", 1)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { .. }));

    // Set, remove, equality and absence conditions, versions.
    let it = s
        .update(
            Update::new(&pk, "Q")
                .set("state", "RESERVED")
                .remove("name")
                .version(1)
                .when(Cond::AttrAbsent("state".into())),
        )
        .await
        .unwrap();
    assert_eq!(it.str("name"), None);
    assert_eq!(it.version, 1);
    let err = s
        .update(
            Update::new(&pk, "Q")
                .set("state", "X")
                .when(Cond::AttrAbsent("state".into())),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { .. }));
    s.update(
        Update::new(&pk, "Q")
            .set("state", "REFUNDED")
            .when(Cond::AttrEquals("state".into(), json!("RESERVED"))),
    )
    .await
    .expect("state transition");
    let err = s
        .update(
            Update::new(&pk, "Q")
                .set("state", "REFUNDED")
                .when(Cond::AttrEquals("state".into(), json!("RESERVED"))),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { .. }));
    let err = s
        .update(Update::new(&pk, "Q").set("x", 1).when(Cond::VersionIs(0)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { .. }));
    let got = s.get(&pk, "Q").await.unwrap().unwrap();
    assert_eq!(got.str("state"), Some("REFUNDED"));
    assert_eq!(got.int("used"), Some(0));

    // Update with Exists on a missing item does not create it.
    let err = s
        .update(Update::new(&pk, "none").set("x", 1).when(Cond::Exists))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { .. }));
    assert_eq!(s.get(&pk, "none").await.unwrap(), None);

    // All: every part must hold (a counter under its limit, on the item whose secret matches;
    // a missing counter counts as under it); a failing part writes nothing and creates nothing.
    s.put(Item::new(&pk, "K").with("hash", "h1"), Cond::None)
        .await
        .unwrap();
    let count = |hash: &str, sk: &str| {
        Update::new(&pk, sk)
            .add("w_2", 1)
            .remove("w_1")
            .when(Cond::All(vec![
                Cond::AttrEquals("hash".into(), json!(hash)),
                Cond::below("w_2", 2),
            ]))
    };
    let it = s
        .update(count("h1", "K"))
        .await
        .expect("first in the window");
    assert_eq!((it.int("w_2"), it.str("hash")), (Some(1), Some("h1")));
    s.update(count("h1", "K")).await.expect("second");
    for (hash, sk) in [("h1", "K"), ("other", "K"), ("h1", "missing")] {
        let err = s.update(count(hash, sk)).await.unwrap_err();
        assert!(
            matches!(err, StoreError::ConditionFailed { .. }),
            "{hash} {sk}"
        );
    }
    assert_eq!(s.get(&pk, "K").await.unwrap().unwrap().int("w_2"), Some(2));
    assert_eq!(s.get(&pk, "missing").await.unwrap(), None);
    s.update(Update::new(&pk, "K").set("x", 1).when(Cond::All(vec![])))
        .await
        .expect("an empty All always holds");
}

async fn conditional_deletes(s: &dyn ItemStore) {
    let pk = unique("P");
    s.put(Item::new(&pk, "D").with("k", "v"), Cond::None)
        .await
        .unwrap();
    let err = s
        .delete(&pk, "D", Cond::AttrEquals("k".into(), json!("other")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { .. }));
    s.delete(&pk, "D", Cond::Exists).await.expect("delete");
    assert_eq!(s.get(&pk, "D").await.unwrap(), None);
    // Deleting a missing item without a condition is fine; with Exists it fails.
    s.delete(&pk, "D", Cond::None)
        .await
        .expect("delete missing");
    assert!(s.delete(&pk, "D", Cond::Exists).await.is_err());
}

async fn collect(s: &dyn ItemStore, q: Query, index: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = None;
    for _ in 0..100 {
        let page = if index {
            s.query_gsi1(q.clone().after(cursor)).await
        } else {
            s.query(q.clone().after(cursor)).await
        }
        .expect("query");
        assert!(page.items.len() <= q.limit);
        out.extend(page.items.into_iter().map(|i| i.sk));
        cursor = page.next_cursor;
        if cursor.is_none() {
            return out;
        }
    }
    panic!("pagination did not end");
}

async fn queries_page_in_order(s: &dyn ItemStore) {
    let pk = unique("P");
    let mut want = Vec::new();
    for i in 0..7 {
        let sk = format!("JOB#{i:03}");
        s.put(Item::new(&pk, &sk).with("i", i), Cond::None)
            .await
            .unwrap();
        want.push(sk);
    }
    // Items outside the prefix are never returned.
    s.put(Item::new(&pk, "JOA"), Cond::None).await.unwrap();
    s.put(Item::new(&pk, "KEY#1"), Cond::None).await.unwrap();
    s.put(Item::new(format!("{pk}x"), "JOB#000"), Cond::None)
        .await
        .unwrap();

    assert_eq!(
        collect(s, Query::new(&pk, "JOB#").limit(3), false).await,
        want
    );
    let mut rev = want.clone();
    rev.reverse();
    assert_eq!(
        collect(s, Query::new(&pk, "JOB#").limit(2).descending(), false).await,
        rev
    );
    assert_eq!(
        collect(s, Query::new(&pk, "JOB#").limit(100), false).await,
        want
    );
    assert!(collect(s, Query::new(&pk, "NOPE#"), false).await.is_empty());
    let page = s.query(Query::new(&pk, "JOB#").limit(100)).await.unwrap();
    assert_eq!(page.items.len(), 7);
    assert_eq!(page.items[0].int("i"), Some(0));
}

async fn cursors_are_checked(s: &dyn ItemStore) {
    let a = unique("P");
    let b = unique("P");
    for pk in [&a, &b] {
        for i in 0..3 {
            s.put(Item::new(pk.as_str(), format!("K#{i}")), Cond::None)
                .await
                .unwrap();
        }
    }
    let page = s.query(Query::new(&a, "K#").limit(1)).await.unwrap();
    let cursor = page.next_cursor.expect("a cursor");
    // A cursor from partition A cannot be replayed against partition B.
    let err = s
        .query(Query::new(&b, "K#").limit(1).after(Some(cursor)))
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::InvalidCursor);
    for garbage in ["", "!!!", "eyJ9", "bm90IGpzb24"] {
        let err = s
            .query(Query::new(&a, "K#").after(Some(garbage.into())))
            .await
            .unwrap_err();
        assert_eq!(err, StoreError::InvalidCursor, "{garbage:?}");
    }
}

async fn index_queries(s: &dyn ItemStore) {
    let g = unique("G");
    let mut want = Vec::new();
    for i in 0..5 {
        let pk = unique("P");
        s.put(
            Item::new(&pk, format!("S{i}")).with_gsi1(&g, format!("REF#{i}")),
            Cond::None,
        )
        .await
        .unwrap();
        want.push(format!("S{i}"));
    }
    s.put(
        Item::new(unique("P"), "X").with_gsi1(&g, "OTHER"),
        Cond::None,
    )
    .await
    .unwrap();
    assert_eq!(
        collect(s, Query::new(&g, "REF#").limit(2), true).await,
        want
    );
    let page = s.query_gsi1(Query::new(&g, "REF#3")).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        page.items[0].gsi1.as_ref().map(|k| k.1.as_str()),
        Some("REF#3")
    );
    // An update can take an item out of the index (and keeps its other attributes).
    let it = &page.items[0];
    let after = s
        .update(Update::new(&it.pk, &it.sk).set("closed", true).clear_gsi1())
        .await
        .unwrap();
    assert_eq!(after.gsi1, None);
    assert!(
        s.query_gsi1(Query::new(&g, "REF#3"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let stored = s.get(&it.pk, &it.sk).await.unwrap().unwrap();
    assert_eq!(stored.gsi1, None);
    assert_eq!(
        stored.attrs.get("closed"),
        Some(&serde_json::Value::Bool(true))
    );
}

/// A failed condition comes back as the reason its write was given, whatever its position;
/// a write given no reason fails as the store's own error.
async fn transactions_name_the_reason_that_failed(s: &dyn ItemStore) {
    use viral_core::ports::{Transaction, TxError};
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Why {
        Taken,
        Spent,
    }
    let pk = unique("P");
    s.put(Item::new(&pk, "USED"), Cond::None).await.unwrap();
    s.put(Item::new(&pk, "QUOTA").with("left", 0), Cond::None)
        .await
        .unwrap();
    let spend = || {
        Write::Update(
            Update::new(&pk, "QUOTA")
                .add("left", -1)
                .when(Cond::at_least("left", 1)),
        )
    };
    let mut tx = Transaction::new();
    tx.write(Write::Put(Item::new(&pk, "NEW"), Cond::Absent))
        .guarded(Why::Taken, Write::Put(Item::new(&pk, "FREE"), Cond::Absent))
        .guarded(Why::Spent, spend());
    assert_eq!(tx.commit(s).await, Err(TxError::Refused(Why::Spent)));
    let mut tx = Transaction::new();
    tx.guarded(Why::Taken, Write::Put(Item::new(&pk, "USED"), Cond::Absent))
        .write(Write::Put(Item::new(&pk, "NEW"), Cond::Absent));
    assert_eq!(tx.commit(s).await, Err(TxError::Refused(Why::Taken)));
    let mut tx: Transaction<Why> = Transaction::new();
    tx.write(Write::Put(Item::new(&pk, "USED"), Cond::Absent));
    assert!(matches!(
        tx.commit(s).await,
        Err(TxError::Store(StoreError::ConditionFailed { .. }))
    ));
    assert!(
        s.get(&pk, "NEW").await.unwrap().is_none(),
        "nothing was written"
    );
}

async fn transactions_are_all_or_nothing(s: &dyn ItemStore) {
    let pk = unique("T");
    s.put(Item::new(&pk, "QUOTA").with("used", 1), Cond::None)
        .await
        .unwrap();

    // Reserve: counter + ledger entry + job, together.
    s.transact(vec![
        Write::Update(
            Update::new(&pk, "QUOTA")
                .add("used", 1)
                .when(Cond::below("used", 2)),
        ),
        Write::Put(
            Item::new(&pk, "LEDGER#1").with("state", "RESERVED"),
            Cond::Absent,
        ),
        Write::Put(Item::new(&pk, "JOB#1"), Cond::Absent),
    ])
    .await
    .expect("reserve");
    assert_eq!(
        s.get(&pk, "QUOTA").await.unwrap().unwrap().int("used"),
        Some(2)
    );

    // Over the limit: nothing of the transaction is applied.
    let err = s
        .transact(vec![
            Write::Put(Item::new(&pk, "JOB#2"), Cond::Absent),
            Write::Update(
                Update::new(&pk, "QUOTA")
                    .add("used", 1)
                    .when(Cond::below("used", 2)),
            ),
            Write::Put(Item::new(&pk, "LEDGER#2"), Cond::Absent),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::ConditionFailed { index: Some(1) }),
        "{err:?}"
    );
    assert_eq!(s.get(&pk, "JOB#2").await.unwrap(), None);
    assert_eq!(s.get(&pk, "LEDGER#2").await.unwrap(), None);
    assert_eq!(
        s.get(&pk, "QUOTA").await.unwrap().unwrap().int("used"),
        Some(2)
    );

    // A retried reservation cannot charge twice: the ledger entry exists.
    let err = s
        .transact(vec![
            Write::Update(
                Update::new(&pk, "QUOTA")
                    .add("used", 1)
                    .when(Cond::below("used", 10)),
            ),
            Write::Put(Item::new(&pk, "LEDGER#1"), Cond::Absent),
        ])
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::ConditionFailed { index: Some(1) }
    ));
    assert_eq!(
        s.get(&pk, "QUOTA").await.unwrap().unwrap().int("used"),
        Some(2)
    );

    // Check-only and delete writes.
    s.transact(vec![
        Write::Check {
            pk: pk.clone(),
            sk: "JOB#1".into(),
            cond: Cond::Exists,
        },
        Write::Delete {
            pk: pk.clone(),
            sk: "LEDGER#1".into(),
            cond: Cond::AttrEquals("state".into(), json!("RESERVED")),
        },
        Write::Update(
            Update::new(&pk, "QUOTA")
                .add("used", -1)
                .when(Cond::at_least("used", 1)),
        ),
    ])
    .await
    .expect("refund");
    assert_eq!(s.get(&pk, "LEDGER#1").await.unwrap(), None);
    assert_eq!(
        s.get(&pk, "QUOTA").await.unwrap().unwrap().int("used"),
        Some(1)
    );
}

async fn invalid_requests_are_refused(s: &dyn ItemStore) {
    let pk = unique("P");
    let bad = Item::new(&pk, "A").with("pk", "spoof");
    assert!(matches!(
        s.put(bad, Cond::None).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.put(Item::new("", "A"), Cond::None).await,
        Err(StoreError::Invalid(_))
    ));
    let twice = vec![
        Write::Put(Item::new(&pk, "A"), Cond::None),
        Write::Delete {
            pk: pk.clone(),
            sk: "A".into(),
            cond: Cond::None,
        },
    ];
    assert!(matches!(
        s.transact(twice).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.transact(vec![]).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(s.get(&pk, "A").await.unwrap(), None);
}

/// 40 concurrent conditional increments against a limit of 25: exactly 25 succeed.
pub async fn concurrent_counter_never_passes_its_limit(s: Arc<dyn ItemStore>) {
    let pk = unique("P");
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let s = s.clone();
        let pk = pk.clone();
        tasks.push(tokio::spawn(async move {
            // Retry only the store's "try again" answers, as callers do.
            loop {
                match s
                    .update(Update::new(&pk, "C").add("n", 1).when(Cond::below("n", 25)))
                    .await
                {
                    Err(StoreError::Conflict) => continue,
                    other => return other.is_ok(),
                }
            }
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.expect("task") {
            ok += 1;
        }
    }
    assert_eq!(ok, 25);
    assert_eq!(s.get(&pk, "C").await.unwrap().unwrap().int("n"), Some(25));
}
