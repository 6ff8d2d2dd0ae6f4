//! Creating and reading tenants.

use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::domain::api_key::hash_key;
use crate::domain::tenant::{Member, validate_name};
use crate::domain::{ApiKey, IssuedKey, Narration, Plan, Role, Scopes, Tenant, TenantStatus, keys};
use crate::error::{Error, Result};
use crate::ids::new_id;
use crate::ports::{Cond, Item, ItemStore, Query, StoreError, Write};

pub struct NewTenant {
    pub tenant: Tenant,
    pub owner: Member,
    pub key: IssuedKey,
}

/// Creates a tenant, its owner and the owner's first API key, all in one transaction.
pub async fn create_tenant(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    name: &str,
    plan: Plan,
) -> Result<NewTenant> {
    let now = clock.now();
    let tenant = Tenant {
        id: new_id("tn"),
        name: validate_name("tenant name", name)?,
        plan,
        status: TenantStatus::Active,
        created_at: now,
        billing: Default::default(),
        narration: None,
    };
    let owner = Member {
        id: new_id("usr"),
        tenant_id: tenant.id.clone(),
        name: "owner".into(),
        role: Role::Owner,
        created_at: now,
    };
    let key = ApiKey::issue(
        &tenant.id,
        &owner.id,
        Role::Owner,
        "default".into(),
        Scopes::ALL,
        now,
    );
    let hash = hash_key(key.token.expose());
    store
        .transact(vec![
            Write::Put(tenant.to_item(), Cond::Absent),
            Write::Put(owner.to_item(), Cond::Absent),
            Write::Put(key.key.to_item(), Cond::Absent),
            Write::Put(key.key.lookup_item(&hash), Cond::Absent),
        ])
        .await?;
    Ok(NewTenant { tenant, owner, key })
}

pub async fn get_tenant(store: &dyn ItemStore, tenant_id: &str) -> Result<Option<Tenant>> {
    let item = store
        .get(&keys::tenant_pk(tenant_id), keys::TENANT_SK)
        .await?;
    Ok(item.as_ref().and_then(Tenant::from_item))
}

/// Every tenant, newest first, a page at a time (for operators: no tenant sees another).
pub async fn list_tenants(
    store: &dyn ItemStore,
    limit: usize,
    cursor: Option<String>,
) -> Result<(Vec<Tenant>, Option<String>)> {
    let page = store
        .query_gsi1(
            Query::new(keys::TENANTS_INDEX, "")
                .limit(limit)
                .descending()
                .after(cursor),
        )
        .await?;
    let tenants = Item::decode_all(&page.items, "tenant", Tenant::from_item);
    Ok((tenants, page.next_cursor))
}

/// Changes a tenant's plan (operators and, later, billing).
pub async fn set_plan(store: &dyn ItemStore, tenant_id: &str, plan: Plan) -> Result<Tenant> {
    let upd = crate::ports::Update::new(keys::tenant_pk(tenant_id), keys::TENANT_SK)
        .set("plan", plan.as_str())
        .when(Cond::Exists);
    match store.update(upd).await {
        Ok(item) => Tenant::from_item(&item).ok_or(Error::NotFound("tenant")),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::NotFound("tenant")),
        Err(e) => Err(e.into()),
    }
}

/// Sets (or with `None` clears) how the tenant's videos are narrated unless a job says
/// otherwise.
pub async fn set_narration(
    store: &dyn ItemStore,
    tenant_id: &str,
    narration: Option<Narration>,
) -> Result<Tenant> {
    let upd = crate::ports::Update::new(keys::tenant_pk(tenant_id), keys::TENANT_SK);
    let upd = match narration {
        Some(n) => {
            n.check()?;
            let value = serde_json::to_value(&n).map_err(|e| Error::Invalid(e.to_string()))?;
            upd.set("narration", value)
        }
        None => upd.remove("narration"),
    }
    .when(Cond::Exists);
    match store.update(upd).await {
        Ok(item) => Tenant::from_item(&item).ok_or(Error::NotFound("tenant")),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::NotFound("tenant")),
        Err(e) => Err(e.into()),
    }
}

/// The tenant of an OIDC organisation: a stable id derived from issuer and organisation, so a
/// token's first use needs no lookup table, and a different issuer can never reach it.
pub fn oidc_tenant_id(issuer: &str, org_id: &str) -> String {
    let digest = Sha256::digest(format!("{issuer}\n{org_id}").as_bytes());
    format!("tn_{}", &hex::encode(digest)[..32])
}

/// Returns the OIDC organisation's tenant, creating it on the free plan on first sight.
/// Two first requests at once are safe: the second finds the first's tenant.
pub async fn ensure_oidc_tenant(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    issuer: &str,
    org_id: &str,
    display_name: &str,
) -> Result<Tenant> {
    let id = oidc_tenant_id(issuer, org_id);
    if let Some(t) = get_tenant(store, &id).await? {
        return Ok(t);
    }
    let name = validate_name("organisation name", display_name)
        .or_else(|_| validate_name("organisation id", org_id))?;
    let tenant = Tenant {
        id: id.clone(),
        name,
        plan: Plan::Free,
        status: TenantStatus::Active,
        created_at: clock.now(),
        billing: Default::default(),
        narration: None,
    };
    match store.put(tenant.to_item(), Cond::Absent).await {
        Ok(()) => Ok(tenant),
        Err(StoreError::ConditionFailed { .. }) => get_tenant(store, &id)
            .await?
            .ok_or(Error::NotFound("tenant")),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oidc_tenant_ids_depend_on_issuer_and_org() {
        let a = oidc_tenant_id("https://a.example", "org_1");
        assert_eq!(a, oidc_tenant_id("https://a.example", "org_1"));
        assert_ne!(a, oidc_tenant_id("https://b.example", "org_1"));
        assert_ne!(a, oidc_tenant_id("https://a.example", "org_2"));
        assert!(crate::ids::is_valid_id("tn", &a));
    }
}
