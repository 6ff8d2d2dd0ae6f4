//! Item keys of the single table (DESIGN §2). Every tenant-owned item lives in `T#<tenant>`;
//! lookups that start without a tenant have their own partitions holding only what the lookup
//! needs.

pub fn tenant_pk(tenant_id: &str) -> String {
    format!("T#{tenant_id}")
}

pub const TENANT_SK: &str = "TENANT";

/// Index partition of every tenant, ordered by creation (operators list them).
pub const TENANTS_INDEX: &str = "TENANTS";

pub fn user_sk(user_id: &str) -> String {
    format!("USER#{user_id}")
}

pub const KEY_SK_PREFIX: &str = "KEY#";

pub fn key_sk(key_id: &str) -> String {
    format!("{KEY_SK_PREFIX}{key_id}")
}

pub fn quota_sk(month_key: &str) -> String {
    format!("QUOTA#{month_key}")
}

/// API-key prefix → credential record. A base-table item rather than an index entry: index
/// reads are eventually consistent on DynamoDB, and a key must work the moment it is shown.
pub fn api_key_lookup_pk(prefix: &str) -> String {
    format!("APIKEY#{prefix}")
}

pub const API_KEY_LOOKUP_SK: &str = "APIKEY";

pub fn rate_limit_pk(principal: &str) -> String {
    format!("RL#{principal}")
}

pub fn rate_limit_sk(window_start_secs: i64) -> String {
    format!("W#{window_start_secs}")
}

/// Provider health records: one partition, one item per provider (routing reads them all in
/// one query; the routing of every job does, so they are small).
pub const PROVIDERS_PK: &str = "PROVIDERS";

pub fn provider_health_sk(provider: &str) -> String {
    format!("HEALTH#{provider}")
}
