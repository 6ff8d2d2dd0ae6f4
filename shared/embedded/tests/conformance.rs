//! The embedded adapters against the port conformance suites.

use std::collections::HashMap;
use std::sync::Arc;

use viral_core::{Clock, SystemClock};
use viral_embedded::{
    Db, EnvSecrets, FsBlobStore, LocalQueue, Redrive, SqliteItemStore, UrlSigner,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_item_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteItemStore::open(&dir.path().join("viral.db")).unwrap());
    viral_testkit::item_store::run_all(store.clone()).await;
    viral_testkit::item_store::concurrent_counter_never_passes_its_limit(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_item_store_is_shared_safely_by_two_handles() {
    // Two handles on one file behave like two processes: each has its own connection.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("viral.db");
    let a = Arc::new(SqliteItemStore::open(&path).unwrap());
    let b = Arc::new(SqliteItemStore::open(&path).unwrap());
    let mut tasks = Vec::new();
    for i in 0..60 {
        let s: Arc<dyn viral_core::ports::ItemStore> =
            if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            use viral_core::ports::{Cond, StoreError, Update};
            loop {
                match s
                    .update(Update::new("P", "C").add("n", 1).when(Cond::below("n", 45)))
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
        ok += usize::from(t.await.unwrap());
    }
    assert_eq!(ok, 45);
}

#[tokio::test]
async fn fs_blob_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let signer = UrlSigner::new(
        b"test-signing-key-of-32-bytes!!!!",
        "http://127.0.0.1:3000",
        clock,
    );
    let store = FsBlobStore::new(dir.path(), signer);
    let fetch = |url: String| {
        let store = store.clone();
        async move {
            let rest = url.strip_prefix("http://127.0.0.1:3000/media/")?;
            let (key, query) = rest.split_once('?')?;
            store
                .open_signed(key, Some(query))
                .await
                .ok()
                .flatten()
                .map(|b| b.bytes)
        }
    };
    viral_testkit::blob_store::run_all(&store, fetch).await;
}

#[tokio::test]
async fn local_queue_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("viral.db")).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let redrive = Redrive {
        dead_letter_queue: "jobs-dlq".into(),
        max_receives: 2,
    };
    let q = LocalQueue::new(db.clone(), "jobs", Some(redrive), clock.clone());
    let dlq = LocalQueue::new(db, "jobs-dlq", None, clock);
    viral_testkit::queue::run_all(&q, &dlq).await;
}

#[tokio::test]
async fn env_secrets_conform() {
    let mut m = HashMap::new();
    m.insert("VIRAL_TEST_SECRET".to_owned(), "s3cr3t-value".to_owned());
    viral_testkit::secrets::run_all(&EnvSecrets::from_map(m)).await;
}

#[tokio::test]
async fn dotenv_file_secrets_conform() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    std::fs::write(
        &path,
        "# local secrets\nVIRAL_TEST_SECRET=\"s3cr3t-value\"\n",
    )
    .unwrap();
    viral_testkit::secrets::run_all(&EnvSecrets::load(Some(&path)).unwrap()).await;
}

#[tokio::test]
async fn file_token_vault_conforms_and_other_master_keys_cannot_open() {
    use viral_core::ports::{SecretString, TokenVault, VaultError};
    use viral_embedded::FileTokenVault;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token-vault.key");
    let vault = FileTokenVault::from_key_file(&path).unwrap();
    viral_testkit::token_vault::run_all(&vault).await;
    // The same key file opens what it sealed after a restart; another key does not.
    let sealed = vault
        .seal(&SecretString::new("refresh"), "ctx")
        .await
        .unwrap();
    let reopened = FileTokenVault::from_key_file(&path).unwrap();
    assert_eq!(
        reopened.open(&sealed, "ctx").await.unwrap().expose(),
        "refresh"
    );
    let other = FileTokenVault::from_key_file(&dir.path().join("other.key")).unwrap();
    assert_eq!(
        other.open(&sealed, "ctx").await.unwrap_err(),
        VaultError::Unreadable
    );
}
