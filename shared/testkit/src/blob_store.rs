//! The BlobStore conformance suite.

use std::future::Future;
use std::time::Duration;

use viral_core::ports::{BlobKey, BlobMeta, BlobStore};

use crate::unique;

/// `fetch` GETs a signed URL the way a client would and returns the body, or `None` when the
/// URL is refused.
pub async fn run_all<F, Fut>(store: &dyn BlobStore, fetch: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Option<Vec<u8>>>,
{
    let key = BlobKey::parse(&format!("tenants/{}/videos/v.mp4", unique("tn"))).unwrap();
    assert_eq!(store.head(&key).await.unwrap(), None);
    assert_eq!(store.get(&key).await.unwrap(), None);

    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    store
        .put(&key, body.clone(), "video/mp4")
        .await
        .expect("put");
    let meta = BlobMeta {
        size: body.len() as u64,
        content_type: "video/mp4".into(),
    };
    assert_eq!(store.head(&key).await.unwrap(), Some(meta.clone()));
    assert_eq!(store.get(&key).await.unwrap(), Some((body.clone(), meta)));

    // Copies keep the bytes and the content type; a missing source copies nothing.
    let copied = BlobKey::parse(&format!("tenants/{}/videos/copy.mp4", unique("tn"))).unwrap();
    assert!(store.copy(&key, &copied).await.unwrap());
    assert_eq!(
        store.get(&copied).await.unwrap(),
        store.get(&key).await.unwrap()
    );
    let nowhere = BlobKey::parse(&format!("tenants/{}/videos/none.mp4", unique("tn"))).unwrap();
    assert!(!store.copy(&nowhere, &copied).await.unwrap());
    assert!(store.head(&copied).await.unwrap().is_some());
    store.delete(&copied).await.unwrap();

    // Overwrite replaces.
    store
        .put(&key, b"small".to_vec(), "text/plain")
        .await
        .unwrap();
    assert_eq!(store.head(&key).await.unwrap().map(|m| m.size), Some(5));

    let url = store
        .signed_url(&key, Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(fetch(url.clone()).await.as_deref(), Some(&b"small"[..]));
    // A tampered URL is refused.
    let tampered = url.replacen("v.mp4", "w.mp4", 1);
    assert_eq!(fetch(tampered).await, None);

    store.delete(&key).await.expect("delete");
    assert_eq!(store.head(&key).await.unwrap(), None);
    store.delete(&key).await.expect("delete missing is fine");
}
