//! The Queue conformance suite. It uses real time with short timeouts, because SQS does.

use std::collections::HashSet;
use std::time::Duration;

use viral_core::ports::Queue;

const NO_WAIT: Duration = Duration::ZERO;

async fn drain(q: &dyn Queue) {
    loop {
        let got = q
            .receive(10, Duration::from_secs(30), NO_WAIT)
            .await
            .unwrap();
        if got.is_empty() {
            return;
        }
        for m in got {
            q.delete(&m.receipt).await.unwrap();
        }
    }
}

/// `queue` must redrive to `dlq` after 2 receives. Both start empty.
pub async fn run_all(queue: &dyn Queue, dlq: &dyn Queue) {
    send_receive_delete(queue).await;
    visibility_timeout_redelivers(queue).await;
    visibility_can_be_changed(queue).await;
    delayed_messages_wait(queue).await;
    redrive_to_dead_letter_queue(queue, dlq).await;
    assert!(queue.send("", NO_WAIT).await.is_err());
    assert!(
        queue
            .send(&"x".repeat(256 * 1024 + 1), NO_WAIT)
            .await
            .is_err()
    );
}

async fn send_receive_delete(q: &dyn Queue) {
    let mut sent = HashSet::new();
    for i in 0..3 {
        q.send(&format!("{{\"n\":{i}}}"), NO_WAIT)
            .await
            .expect("send");
        sent.insert(format!("{{\"n\":{i}}}"));
    }
    assert_eq!(q.depth().await.unwrap(), 3);
    let mut got = HashSet::new();
    for _ in 0..10 {
        for m in q
            .receive(10, Duration::from_secs(30), Duration::from_secs(1))
            .await
            .unwrap()
        {
            assert_eq!(m.receive_count, 1);
            got.insert(m.body.clone());
            q.delete(&m.receipt).await.expect("delete");
        }
        if got.len() == 3 {
            break;
        }
    }
    assert_eq!(got, sent);
    assert!(
        q.receive(10, Duration::from_secs(30), NO_WAIT)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(q.depth().await.unwrap(), 0);
    q.delete("stale-receipt-handle").await.ok();
}

async fn visibility_timeout_redelivers(q: &dyn Queue) {
    q.send("again", NO_WAIT).await.unwrap();
    let first = q
        .receive(1, Duration::from_secs(1), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    // Hidden while in flight.
    assert!(
        q.receive(1, Duration::from_secs(1), NO_WAIT)
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let second = q
        .receive(1, Duration::from_secs(30), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, first[0].id);
    assert_eq!(second[0].receive_count, 2);
    q.delete(&second[0].receipt).await.unwrap();
    drain(q).await;
}

async fn visibility_can_be_changed(q: &dyn Queue) {
    q.send("kept", NO_WAIT).await.unwrap();
    let got = q
        .receive(1, Duration::from_secs(1), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    // Kept hidden past its first timeout while work goes on.
    q.extend(&got[0].receipt, Duration::from_secs(30))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(
        q.receive(1, Duration::from_secs(1), NO_WAIT)
            .await
            .unwrap()
            .is_empty(),
        "an extended message stays hidden"
    );
    // Handed back at once.
    q.extend(&got[0].receipt, Duration::ZERO).await.unwrap();
    let again = q
        .receive(1, Duration::from_secs(30), Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, got[0].id);
    q.delete(&again[0].receipt).await.unwrap();
    q.extend("stale-receipt-handle", Duration::ZERO).await.ok();
    drain(q).await;
}

async fn delayed_messages_wait(q: &dyn Queue) {
    q.send("later", Duration::from_secs(1)).await.unwrap();
    assert!(
        q.receive(1, Duration::from_secs(30), NO_WAIT)
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let got = q
        .receive(1, Duration::from_secs(30), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(
        got.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["later"]
    );
    q.delete(&got[0].receipt).await.unwrap();
}

async fn redrive_to_dead_letter_queue(q: &dyn Queue, dlq: &dyn Queue) {
    let id = q.send("poison", NO_WAIT).await.unwrap();
    for n in 1..=2 {
        let got = q.receive(1, NO_WAIT, Duration::from_secs(1)).await.unwrap();
        assert_eq!(got.len(), 1, "receive {n}");
        assert_eq!(got[0].receive_count, n);
    }
    // The third receive finds it gone to the dead-letter queue.
    assert!(q.receive(1, NO_WAIT, NO_WAIT).await.unwrap().is_empty());
    let dead = dlq
        .receive(1, Duration::from_secs(30), Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, id);
    assert_eq!(dead[0].body, "poison");
    dlq.delete(&dead[0].receipt).await.unwrap();
}
