//! Connected accounts on the embedded store and the file token vault: tokens only sealed,
//! reconnects in place, concurrent refreshes that never lose the newest refresh token.

use std::time::Duration;

use viral_core::domain::account::{AccountStatus, Platform, PlatformProfile};
use viral_core::ports::SecretString;
use viral_core::service::accounts::{self, Tokens};
use viral_core::{Error, ManualClock, Timestamp};
use viral_embedded::{FileTokenVault, SqliteItemStore};

fn tokens(access: &str, refresh: Option<&str>) -> Tokens {
    Tokens {
        access: SecretString::new(access),
        refresh: refresh.map(SecretString::new),
        access_expires_at: Some(Timestamp(1_795_600_000_000)),
        refresh_expires_at: refresh.map(|_| Timestamp(1_811_000_000_000)),
        scopes: vec!["user.info.basic".into(), "video.publish".into()],
    }
}

fn profile(user: &str) -> PlatformProfile {
    PlatformProfile {
        user_id: user.into(),
        display_name: "Acme Studio".into(),
        avatar_url: None,
    }
}

struct Fixture {
    store: SqliteItemStore,
    vault: FileTokenVault,
    clock: ManualClock,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    Fixture {
        store: SqliteItemStore::open(&dir.path().join("viral.db")).unwrap(),
        vault: FileTokenVault::from_key_file(&dir.path().join("token-vault.key")).unwrap(),
        clock: ManualClock::new(Timestamp(1_795_569_153_000)),
        _dir: dir,
    }
}

#[tokio::test]
async fn tokens_are_stored_sealed_and_reconnecting_updates_the_same_account() {
    let f = fixture();
    let a = accounts::connect(
        &f.store,
        &f.vault,
        &f.clock,
        "tn_1",
        Platform::Tiktok,
        profile("open_1"),
        tokens("act.first", Some("rft.first")),
    )
    .await
    .unwrap();
    let raw = viral_core::ports::ItemStore::get(
        &f.store,
        "T#tn_1",
        &viral_core::domain::account::account_sk(&a.id),
    )
    .await
    .unwrap()
    .unwrap();
    let text = serde_json::to_string(&raw.attrs).unwrap();
    assert!(
        !text.contains("act.first") && !text.contains("rft.first"),
        "{text}"
    );
    let open = accounts::open_tokens(&f.vault, &a).await.unwrap();
    assert_eq!(open.access.unwrap().expose(), "act.first");
    assert_eq!(open.refresh.unwrap().expose(), "rft.first");

    let marked = accounts::mark_needs_reconnect(&f.store, &f.clock, &a, "refresh token revoked")
        .await
        .unwrap();
    assert_eq!(marked.status, AccountStatus::NeedsReconnect);
    f.clock.advance(Duration::from_secs(60));
    let again = accounts::connect(
        &f.store,
        &f.vault,
        &f.clock,
        "tn_1",
        Platform::Tiktok,
        profile("open_1"),
        tokens("act.second", Some("rft.second")),
    )
    .await
    .unwrap();
    assert_eq!(again.id, a.id, "the same platform user is the same account");
    assert_eq!(again.status, AccountStatus::Active);
    assert_eq!(accounts::list(&f.store, "tn_1").await.unwrap().len(), 1);
    let open = accounts::open_tokens(&f.vault, &again).await.unwrap();
    assert_eq!(open.refresh.unwrap().expose(), "rft.second");
    // Another user of the same platform is another account (an account pool).
    accounts::connect(
        &f.store,
        &f.vault,
        &f.clock,
        "tn_1",
        Platform::Tiktok,
        profile("open_2"),
        tokens("act.x", Some("rft.x")),
    )
    .await
    .unwrap();
    assert_eq!(accounts::list(&f.store, "tn_1").await.unwrap().len(), 2);
    // Another tenant sees none of them.
    assert!(matches!(
        accounts::get(&f.store, "tn_2", &a.id).await,
        Err(Error::NotFound("account"))
    ));
    assert!(accounts::list(&f.store, "tn_2").await.unwrap().is_empty());
}

#[tokio::test]
async fn concurrent_refreshes_never_lose_the_newest_refresh_token() {
    let f = fixture();
    let a = accounts::connect(
        &f.store,
        &f.vault,
        &f.clock,
        "tn_1",
        Platform::Tiktok,
        profile("open_1"),
        tokens("act.0", Some("rft.0")),
    )
    .await
    .unwrap();
    // Two refreshes read the same version; TikTok rotated the refresh token for each.
    let first = accounts::store_refreshed(
        &f.store,
        &f.vault,
        &f.clock,
        &a,
        &tokens("act.1", Some("rft.1")),
    )
    .await
    .unwrap();
    let second = accounts::store_refreshed(
        &f.store,
        &f.vault,
        &f.clock,
        &a,
        &tokens("act.2", Some("rft.2")),
    )
    .await;
    assert!(
        matches!(second, Err(Error::Conflict(_))),
        "the stale write is refused"
    );
    let stored = accounts::get(&f.store, "tn_1", &a.id).await.unwrap();
    assert_eq!(stored.version, first.version);
    let open = accounts::open_tokens(&f.vault, &stored).await.unwrap();
    assert_eq!(open.refresh.unwrap().expose(), "rft.1");
    // A refresh without a new refresh token (Google) keeps the one there is.
    let kept = accounts::store_refreshed(
        &f.store,
        &f.vault,
        &f.clock,
        &stored,
        &tokens("act.3", None),
    )
    .await
    .unwrap();
    let open = accounts::open_tokens(&f.vault, &kept).await.unwrap();
    assert_eq!(
        (
            open.access.unwrap().expose(),
            open.refresh.unwrap().expose()
        ),
        ("act.3", "rft.1")
    );
}

#[tokio::test]
async fn a_sealed_token_moved_to_another_account_does_not_open_and_removal_forgets() {
    let f = fixture();
    let a = accounts::connect(
        &f.store,
        &f.vault,
        &f.clock,
        "tn_1",
        Platform::Youtube,
        profile("UC_a"),
        tokens("ya29.a", Some("1//a")),
    )
    .await
    .unwrap();
    let mut b = accounts::connect(
        &f.store,
        &f.vault,
        &f.clock,
        "tn_1",
        Platform::Youtube,
        profile("UC_b"),
        tokens("ya29.b", Some("1//b")),
    )
    .await
    .unwrap();
    b.refresh_token_sealed = a.refresh_token_sealed.clone();
    assert!(matches!(
        accounts::open_tokens(&f.vault, &b).await,
        Err(Error::Vault(viral_core::ports::VaultError::Unreadable))
    ));
    accounts::remove(&f.store, "tn_1", &a.id).await.unwrap();
    assert!(matches!(
        accounts::get(&f.store, "tn_1", &a.id).await,
        Err(Error::NotFound("account"))
    ));
    let back = accounts::connect(
        &f.store,
        &f.vault,
        &f.clock,
        "tn_1",
        Platform::Youtube,
        profile("UC_a"),
        tokens("ya29.c", None),
    )
    .await
    .unwrap();
    assert_ne!(back.id, a.id, "a removed account comes back as a new one");
}
