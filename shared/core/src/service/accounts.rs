//! Connected accounts: storing what an OAuth connection gave (profile, scopes, tokens sealed
//! by the TokenVault), reconnecting the same platform user in place, storing refreshed tokens
//! so that concurrent refreshes never lose the newest rotated refresh token, and marking an
//! account that can no longer be refreshed.

use crate::clock::{Clock, Timestamp};
use crate::domain::account::{
    ACCOUNT_SK_PREFIX, Account, AccountStatus, Platform, PlatformProfile, account_sk,
    account_user_sk, sealing_context,
};
use crate::domain::keys;
use crate::error::{Error, Result};
use crate::ids::{is_valid_id, new_id};
use crate::ports::{
    Cond, Item, ItemStore, Query, SecretString, TokenVault, Transaction, TxError, Write,
};

pub use crate::ports::Tokens;

/// The tokens of an account, opened for a call to its platform.
pub struct OpenTokens {
    pub access: Option<SecretString>,
    pub refresh: Option<SecretString>,
}

const ACCESS: &str = "access_token";
const REFRESH: &str = "refresh_token";

async fn seal(
    vault: &dyn TokenVault,
    tenant_id: &str,
    account_id: &str,
    field: &str,
    secret: Option<&SecretString>,
) -> Result<Option<String>> {
    match secret {
        Some(s) => Ok(Some(
            vault
                .seal(s, &sealing_context(tenant_id, account_id, field))
                .await?,
        )),
        None => Ok(None),
    }
}

/// Sets `tokens` on `account` (sealed for it), keeping a refresh token the platform did not
/// send again (Google sends one only at the first consent).
async fn with_tokens(
    vault: &dyn TokenVault,
    mut account: Account,
    tokens: &Tokens,
) -> Result<Account> {
    let (t, id) = (account.tenant_id.clone(), account.id.clone());
    account.access_token_sealed = seal(vault, &t, &id, ACCESS, Some(&tokens.access)).await?;
    if let Some(r) = seal(vault, &t, &id, REFRESH, tokens.refresh.as_ref()).await? {
        account.refresh_token_sealed = Some(r);
        account.refresh_expires_at = tokens.refresh_expires_at;
    }
    account.access_expires_at = tokens.access_expires_at;
    if !tokens.scopes.is_empty() {
        account.scopes = tokens.scopes.clone();
    }
    Ok(account)
}

/// Stores a connection. The same platform user connected again (a reconnect) updates its
/// account and makes it active; a new one gets a new account.
pub async fn connect(
    store: &dyn ItemStore,
    vault: &dyn TokenVault,
    clock: &dyn Clock,
    tenant_id: &str,
    platform: Platform,
    profile: PlatformProfile,
    tokens: Tokens,
) -> Result<Account> {
    let pk = keys::tenant_pk(tenant_id);
    let user_sk = account_user_sk(platform, &profile.user_id);
    for _ in 0..3 {
        let now = clock.now();
        if let Some(existing) = store.get(&pk, &user_sk).await?
            && let Some(id) = existing.str("account_id")
        {
            let mut account = get(store, tenant_id, id).await?;
            account.profile = profile.clone();
            account.status = AccountStatus::Active;
            account.status_reason = None;
            match save(store, with_tokens(vault, account, &tokens).await?, now).await {
                Err(Error::Conflict(_)) => continue,
                other => return other,
            }
        }
        let account = Account {
            id: new_id("acc"),
            tenant_id: tenant_id.to_owned(),
            platform,
            profile: profile.clone(),
            scopes: tokens.scopes.clone(),
            status: AccountStatus::Active,
            status_reason: None,
            access_expires_at: None,
            refresh_expires_at: None,
            access_token_sealed: None,
            refresh_token_sealed: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let account = with_tokens(vault, account, &tokens).await?;
        #[derive(Clone, Copy)]
        struct UserTaken;
        let mut tx = Transaction::new();
        tx.write(Write::Put(account.to_item(), Cond::Absent))
            .guarded(
                UserTaken,
                Write::Put(
                    Item::new(&pk, &user_sk).with("account_id", account.id.as_str()),
                    Cond::Absent,
                ),
            );
        match tx.commit(store).await {
            Ok(()) => return Ok(account),
            // Connected at the same moment by another request: update that one instead.
            Err(TxError::Refused(UserTaken)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict(
        "this account is being connected concurrently; retry".into(),
    ))
}

/// Writes `account` if nobody changed it since it was read (its version), as the next version.
async fn save(store: &dyn ItemStore, mut account: Account, now: Timestamp) -> Result<Account> {
    let read = account.version;
    account.version = read + 1;
    account.updated_at = now;
    match store.put(account.to_item(), Cond::VersionIs(read)).await {
        Ok(()) => Ok(account),
        Err(crate::ports::StoreError::ConditionFailed { .. }) => Err(Error::Conflict(
            "the account changed meanwhile (tokens refreshed concurrently); read it again".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Stores tokens from a refresh of `account` as read. Refused with `Conflict` when another
/// refresh stored newer tokens first: the caller reads the account again and uses those
/// (TikTok rotates refresh tokens, so an older write would lose the only valid one).
pub async fn store_refreshed(
    store: &dyn ItemStore,
    vault: &dyn TokenVault,
    clock: &dyn Clock,
    account: &Account,
    tokens: &Tokens,
) -> Result<Account> {
    let updated = with_tokens(vault, account.clone(), tokens).await?;
    save(store, updated, clock.now()).await
}

/// Marks an account that cannot be refreshed (revoked, expired): posts that need it fail with
/// `account_needs_reconnect` and the tenant is asked to connect it again.
pub async fn mark_needs_reconnect(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    account: &Account,
    reason: &str,
) -> Result<Account> {
    let mut a = account.clone();
    a.status = AccountStatus::NeedsReconnect;
    a.status_reason = Some(reason.chars().take(300).collect());
    let saved = save(store, a, clock.now()).await?;
    if account.status != AccountStatus::NeedsReconnect {
        crate::service::webhooks::emit(
            store,
            clock,
            &saved.tenant_id,
            "account.needs_reconnect",
            serde_json::json!({
                "account_id": saved.id, "platform": saved.platform.as_str(),
                "reason": saved.status_reason,
            }),
        )
        .await;
    }
    Ok(saved)
}

/// Opens an account's tokens for a call to its platform.
pub async fn open_tokens(vault: &dyn TokenVault, account: &Account) -> Result<OpenTokens> {
    let open = |sealed: &Option<String>, field: &'static str| {
        let context = sealing_context(&account.tenant_id, &account.id, field);
        let sealed = sealed.clone();
        async move {
            match sealed {
                Some(s) => vault.open(&s, &context).await.map(Some),
                None => Ok(None),
            }
        }
    };
    Ok(OpenTokens {
        access: open(&account.access_token_sealed, ACCESS).await?,
        refresh: open(&account.refresh_token_sealed, REFRESH).await?,
    })
}

/// One of the tenant's accounts; another tenant's id is "not found".
pub async fn get(store: &dyn ItemStore, tenant_id: &str, id: &str) -> Result<Account> {
    if !is_valid_id("acc", id) {
        return Err(Error::NotFound("account"));
    }
    let item = store
        .get(&keys::tenant_pk(tenant_id), &account_sk(id))
        .await?
        .ok_or(Error::NotFound("account"))?;
    Account::from_item(tenant_id, &item).ok_or(Error::NotFound("account"))
}

/// The tenant's accounts (a tenant connects a handful; all of them, in id order).
pub async fn list(store: &dyn ItemStore, tenant_id: &str) -> Result<Vec<Account>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .query(
                Query::new(keys::tenant_pk(tenant_id), ACCOUNT_SK_PREFIX)
                    .limit(100)
                    .after(cursor),
            )
            .await?;
        out.extend(Item::decode_all(&page.items, "account", |i| {
            Account::from_item(tenant_id, i)
        }));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// Forgets an account and its tokens (revoking at the platform is the caller's first step).
pub async fn remove(store: &dyn ItemStore, tenant_id: &str, id: &str) -> Result<()> {
    let account = get(store, tenant_id, id).await?;
    let pk = keys::tenant_pk(tenant_id);
    store
        .transact(vec![
            Write::Delete {
                pk: pk.clone(),
                sk: account_sk(&account.id),
                cond: Cond::None,
            },
            Write::Delete {
                pk,
                sk: account_user_sk(account.platform, &account.profile.user_id),
                cond: Cond::None,
            },
        ])
        .await?;
    Ok(())
}

/// Refresh an access token this long before it expires, so a call never starts on a token
/// about to die.
pub const REFRESH_AHEAD: std::time::Duration = std::time::Duration::from_secs(600);

/// Whether the account's access token is past or near its expiry.
pub fn needs_refresh(account: &Account, now: Timestamp) -> bool {
    account
        .access_expires_at
        .is_some_and(|t| t <= now.plus(REFRESH_AHEAD))
}

/// A usable access token for `account`: its own while fresh, otherwise (or when `force`, after
/// the platform refused it) a refreshed one. A refresh the platform refuses marks the account
/// `needs_reconnect`. When a concurrent refresh stored newer tokens first, those are used: the
/// rotated refresh token this one sent is already spent. Returns the account as stored.
pub async fn access_token(
    store: &dyn ItemStore,
    vault: &dyn TokenVault,
    clock: &dyn Clock,
    publisher: &dyn crate::ports::Publisher,
    account: &Account,
    force: bool,
) -> Result<(Account, SecretString)> {
    use crate::ports::PublishError;
    if account.status == AccountStatus::NeedsReconnect {
        return Err(PublishError::NeedsReconnect(
            account
                .status_reason
                .clone()
                .unwrap_or_else(|| "the account must be connected again".into()),
        )
        .into());
    }
    let open = open_tokens(vault, account).await?;
    if !force
        && !needs_refresh(account, clock.now())
        && let Some(access) = open.access
    {
        return Ok((account.clone(), access));
    }
    let Some(refresh) = open.refresh else {
        let reason = "the platform gave no refresh token and the access token expired";
        mark_needs_reconnect(store, clock, account, reason).await?;
        return Err(PublishError::NeedsReconnect(reason.into()).into());
    };
    let tokens = match publisher.refresh(&refresh).await {
        Ok(t) => t,
        Err(e @ (PublishError::NeedsReconnect(_) | PublishError::Unauthorized(_))) => {
            // A concurrent refresh may have rotated the refresh token first (TikTok's old one
            // then fails): its tokens are stored, and they are the ones to use.
            let newer = get(store, &account.tenant_id, &account.id).await?;
            if newer.version != account.version
                && newer.status == AccountStatus::Active
                && let Some(access) = open_tokens(vault, &newer).await?.access
            {
                return Ok((newer, access));
            }
            let reason = format!("refreshing the token failed: {e}");
            if let Err(err) = mark_needs_reconnect(store, clock, &newer, &reason).await {
                tracing::warn!(error = %err, account_id = %account.id, "could not mark an account for reconnecting");
            }
            return Err(PublishError::NeedsReconnect(reason).into());
        }
        // Not the grant's fault (the platform is down, the app is misconfigured, a limit):
        // the account stays as it is.
        Err(e) => return Err(e.into()),
    };
    // The platform has rotated the tokens: storing them is all that keeps the account alive,
    // so a failed write is tried again before giving up.
    let mut last = None;
    for _ in 0..3 {
        match store_refreshed(store, vault, clock, account, &tokens).await {
            Ok(stored) => return Ok((stored, tokens.access)),
            Err(Error::Conflict(_)) => {
                let newer = get(store, &account.tenant_id, &account.id).await?;
                if newer.status == AccountStatus::NeedsReconnect {
                    // A concurrent refresh with the token this one had just spent was refused
                    // and marked the account: these tokens are the live ones, so they are
                    // stored over that mark.
                    let mut revived = newer.clone();
                    revived.status = AccountStatus::Active;
                    revived.status_reason = None;
                    if let Ok(stored) =
                        store_refreshed(store, vault, clock, &revived, &tokens).await
                    {
                        tracing::info!(account_id = %account.id, "a lost refresh race was undone");
                        return Ok((stored, tokens.access));
                    }
                }
                let access = open_tokens(vault, &newer)
                    .await?
                    .access
                    .ok_or_else(|| Error::Conflict("the account lost its token; retry".into()))?;
                return Ok((newer, access));
            }
            Err(e) => {
                tracing::warn!(error = %e, account_id = %account.id, "storing refreshed tokens failed; trying again");
                last = Some(e);
            }
        }
    }
    tracing::error!(account_id = %account.id, "refreshed tokens could not be stored; the account may need reconnecting");
    Err(last.unwrap_or_else(|| Error::Conflict("could not store the tokens".into())))
}

/// What a keep-alive pass did.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct KeptAlive {
    pub refreshed: usize,
    /// Accounts the platform refused to refresh: now `needs_reconnect`.
    pub needs_reconnect: usize,
    /// Refreshes that failed for now (the platform or the vault did not answer); tried again
    /// next pass.
    pub errors: usize,
}

/// Refreshes every active account whose grant is due (see `Account::keep_alive_due`), one
/// tenant's failure never stopping another's.
pub async fn keep_alive(
    store: &dyn ItemStore,
    vault: &dyn TokenVault,
    clock: &dyn Clock,
    publishers: &crate::ports::Publishers,
) -> Result<KeptAlive> {
    use crate::domain::account::KEEP_ALIVE;
    let now = clock.now();
    let mut done = KeptAlive::default();
    let mut cursor = None;
    loop {
        let page = store
            .query_gsi1(Query::new(KEEP_ALIVE, "").limit(100).after(cursor))
            .await?;
        for item in &page.items {
            let Some(tenant_id) = item.pk.strip_prefix("T#") else {
                continue;
            };
            let Some(account) = Account::from_item(tenant_id, item) else {
                continue;
            };
            // Sorted by due time: the rest are not due yet.
            if account.keep_alive_due().is_none_or(|due| due > now) {
                return Ok(done);
            }
            let Some(publisher) = publishers.get(account.platform) else {
                continue;
            };
            match access_token(store, vault, clock, &*publisher, &account, true).await {
                Ok(_) => done.refreshed += 1,
                Err(Error::Platform(crate::ports::PublishError::NeedsReconnect(why))) => {
                    tracing::warn!(account_id = %account.id, %tenant_id, %why, "an account's grant could not be kept alive");
                    done.needs_reconnect += 1;
                }
                Err(e) => {
                    tracing::warn!(account_id = %account.id, %tenant_id, error = %e, "keeping an account alive failed for now");
                    done.errors += 1;
                }
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(done),
        }
    }
}

/// Revokes the grant at the platform where it can (best effort: a platform that fails or has
/// no revoke call leaves the user to remove the app there), then forgets the account and its
/// tokens. Returns the account and whether the platform confirmed the revocation.
pub async fn revoke_and_remove(
    store: &dyn ItemStore,
    vault: &dyn TokenVault,
    clock: &dyn Clock,
    publisher: Option<&dyn crate::ports::Publisher>,
    tenant_id: &str,
    id: &str,
) -> Result<(Account, bool)> {
    let account = get(store, tenant_id, id).await?;
    let mut revoked = false;
    if let Some(publisher) = publisher {
        match open_tokens(vault, &account).await {
            Ok(tokens) => {
                // TikTok revokes by the access token: an expired one is refreshed first (not
                // stored: the account is being forgotten).
                let mut access = tokens.access;
                if needs_refresh(&account, clock.now())
                    && let Some(r) = &tokens.refresh
                    && let Ok(fresh) = publisher.refresh(r).await
                {
                    access = Some(fresh.access);
                }
                match publisher
                    .revoke(access.as_ref(), tokens.refresh.as_ref())
                    .await
                {
                    Ok(done) => revoked = done,
                    Err(e) => {
                        tracing::warn!(error = %e, account_id = %account.id, "revoking at the platform failed; forgetting the account anyway")
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, account_id = %account.id, "an account's tokens do not open; forgetting it anyway")
            }
        }
    }
    remove(store, tenant_id, &account.id).await?;
    Ok((account, revoked))
}
