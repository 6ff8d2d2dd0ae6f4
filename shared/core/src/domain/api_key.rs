//! API keys: `vk_live_<prefix>_<secret>`. The prefix is public and finds the record; only a
//! SHA-256 of the whole key is stored, and it is compared in constant time. The secret has 190
//! bits of entropy, so a fast hash is the right tool (no password stretching needed).

use std::collections::BTreeSet;

use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::keys;
use super::tenant::Role;
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::ids::random_bytes;
use crate::ports::{Item, SecretString};

const KEY_PREAMBLE: &str = "vk_live_";
const PREFIX_LEN: usize = 12;
const SECRET_LEN: usize = 32;
/// Exact length of a well-formed key.
pub const KEY_LEN: usize = KEY_PREAMBLE.len() + PREFIX_LEN + 1 + SECRET_LEN;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn random_base62(n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in random_bytes::<64>() {
            // 248 = 4 × 62: rejecting larger bytes keeps every character equally likely.
            if b < 248 && out.len() < n {
                out.push(char::from(BASE62[usize::from(b % 62)]));
            }
        }
    }
    out
}

/// What a route may do with a key. A key without scopes may do everything its holder may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    KeysManage,
    UsageRead,
    ConceptsWrite,
    VideosWrite,
    BillingManage,
    /// Connect and remove social accounts, publish and cancel posts.
    PublishWrite,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::KeysManage,
        Scope::UsageRead,
        Scope::ConceptsWrite,
        Scope::VideosWrite,
        Scope::BillingManage,
        Scope::PublishWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::KeysManage => "keys:manage",
            Scope::UsageRead => "usage:read",
            Scope::ConceptsWrite => "concepts:write",
            Scope::VideosWrite => "videos:write",
            Scope::BillingManage => "billing:manage",
            Scope::PublishWrite => "publish:write",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// `None` = unrestricted.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Scopes(pub Option<BTreeSet<Scope>>);

impl Scopes {
    pub const ALL: Scopes = Scopes(None);

    pub fn parse_list(list: &[String]) -> Result<Scopes> {
        let mut set = BTreeSet::new();
        for s in list {
            let scope = Scope::parse(s).ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown scope {s:?}; known scopes: {}",
                    Scope::ALL.map(Scope::as_str).join(", ")
                ))
            })?;
            if !set.insert(scope) {
                return Err(Error::Invalid(format!("scope {s:?} is listed twice")));
            }
        }
        if set.is_empty() {
            return Err(Error::Invalid(
                "scopes must not be empty; omit it for an unrestricted key".into(),
            ));
        }
        Ok(Scopes(Some(set)))
    }

    pub fn allows(&self, scope: Scope) -> bool {
        self.0.as_ref().is_none_or(|s| s.contains(&scope))
    }

    /// True when every scope of `other` is allowed here (no key can grant more than its maker).
    pub fn covers(&self, other: &Scopes) -> bool {
        match (&self.0, &other.0) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(mine), Some(theirs)) => theirs.is_subset(mine),
        }
    }

    pub fn names(&self) -> Option<Vec<&'static str>> {
        self.0
            .as_ref()
            .map(|s| s.iter().map(|x| x.as_str()).collect())
    }

    fn to_value(&self) -> Value {
        match self.names() {
            None => Value::Null,
            Some(v) => Value::from(v),
        }
    }

    fn from_value(v: Option<&Value>) -> Option<Scopes> {
        match v {
            None | Some(Value::Null) => Some(Scopes(None)),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| x.as_str().and_then(Scope::parse))
                .collect::<Option<BTreeSet<_>>>()
                .map(|s| Scopes(Some(s))),
            Some(_) => None,
        }
    }
}

/// A key as listed (never with its secret).
#[derive(Clone, Debug, PartialEq)]
pub struct ApiKey {
    pub id: String,
    pub tenant_id: String,
    pub user_id: String,
    pub role: Role,
    pub name: String,
    pub prefix: String,
    pub scopes: Scopes,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// Set for dashboard sessions (short-lived keys); `None` for keys that live until revoked.
    pub expires_at: Option<Timestamp>,
    /// For a session bought with an API key: that key (revoking it ends the session).
    pub parent_key_id: Option<String>,
    /// When it last authenticated a request, to within [`LAST_USE_PRECISION_MS`].
    pub last_used_at: Option<Timestamp>,
}

/// How stale a key's `last_used_at` may be: it is written at most once per this period, so
/// the busiest key costs one extra write an hour, not one per request.
pub const LAST_USE_PRECISION_MS: i64 = 3_600_000;

/// A freshly made key: the only time its secret exists outside the caller's hands.
#[derive(Debug)]
pub struct IssuedKey {
    pub key: ApiKey,
    pub token: SecretString,
}

/// The parts of a presented key, after a strict shape check.
#[derive(Debug, PartialEq, Eq)]
pub struct PresentedKey<'a> {
    pub prefix: &'a str,
    pub whole: &'a str,
}

pub fn looks_like_api_key(token: &str) -> bool {
    token.starts_with("vk_")
}

pub fn parse_presented(token: &str) -> Option<PresentedKey<'_>> {
    if token.len() != KEY_LEN {
        return None;
    }
    let rest = token.strip_prefix(KEY_PREAMBLE)?;
    let (prefix, secret) = rest.split_at_checked(PREFIX_LEN)?;
    let secret = secret.strip_prefix('_')?;
    let alnum = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
    (alnum(prefix) && secret.len() == SECRET_LEN && alnum(secret)).then_some(PresentedKey {
        prefix,
        whole: token,
    })
}

pub fn hash_key(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time comparison of a presented key against a stored hash.
pub fn hash_matches(token: &str, stored_hex: &str) -> bool {
    let presented = hash_key(token);
    presented.as_bytes().ct_eq(stored_hex.as_bytes()).into()
}

impl ApiKey {
    /// Makes a new key for a member; returns the record and the secret to show once.
    pub fn issue(
        tenant_id: &str,
        user_id: &str,
        role: Role,
        name: String,
        scopes: Scopes,
        now: Timestamp,
    ) -> IssuedKey {
        let prefix = random_base62(PREFIX_LEN);
        let token = format!("{KEY_PREAMBLE}{prefix}_{}", random_base62(SECRET_LEN));
        IssuedKey {
            key: ApiKey {
                id: crate::ids::new_id("key"),
                tenant_id: tenant_id.to_owned(),
                user_id: user_id.to_owned(),
                role,
                name,
                prefix,
                scopes,
                created_at: now,
                revoked_at: None,
                expires_at: None,
                parent_key_id: None,
                last_used_at: None,
            },
            token: SecretString::new(token),
        }
    }

    /// The listing record, in the tenant's partition.
    pub fn to_item(&self) -> Item {
        let mut item = Item::new(keys::tenant_pk(&self.tenant_id), keys::key_sk(&self.id))
            .with("id", self.id.as_str())
            .with("user_id", self.user_id.as_str())
            .with("role", self.role.as_str())
            .with("name", self.name.as_str())
            .with("prefix", self.prefix.as_str())
            .with("scopes", self.scopes.to_value())
            .with("created_at", self.created_at.millis());
        if let Some(r) = self.revoked_at {
            item.attrs
                .insert("revoked_at".into(), Value::from(r.millis()));
        }
        if let Some(e) = self.expires_at {
            item.attrs
                .insert("expires_at".into(), Value::from(e.millis()));
        }
        if let Some(p) = &self.parent_key_id {
            item.attrs
                .insert("parent_key_id".into(), Value::from(p.as_str()));
        }
        item
    }

    /// Whether the key has run out of time (sessions only).
    pub fn expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|e| now >= e)
    }

    pub fn from_item(tenant_id: &str, item: &Item) -> Option<ApiKey> {
        Some(ApiKey {
            id: item.str("id")?.to_owned(),
            tenant_id: tenant_id.to_owned(),
            user_id: item.str("user_id")?.to_owned(),
            role: Role::parse(item.str("role")?)?,
            name: item.str("name")?.to_owned(),
            prefix: item.str("prefix")?.to_owned(),
            scopes: Scopes::from_value(item.attrs.get("scopes"))?,
            created_at: Timestamp(item.int("created_at")?),
            revoked_at: item.int("revoked_at").map(Timestamp),
            expires_at: item.int("expires_at").map(Timestamp),
            parent_key_id: item.str("parent_key_id").map(str::to_owned),
            last_used_at: item.int("last_used_at").map(Timestamp),
        })
    }

    /// The credential record, found by prefix: just what authentication needs.
    pub fn lookup_item(&self, token_hash: &str) -> Item {
        let item = Item::new(
            keys::api_key_lookup_pk(&self.prefix),
            keys::API_KEY_LOOKUP_SK,
        )
        .with("tenant_id", self.tenant_id.as_str())
        .with("key_id", self.id.as_str())
        .with("user_id", self.user_id.as_str())
        .with("role", self.role.as_str())
        .with("scopes", self.scopes.to_value())
        .with("hash", token_hash);
        match self.expires_at {
            Some(e) => item.with("expires_at", e.millis()),
            None => item,
        }
    }
}

/// What the credential record says about a key.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyCredential {
    pub tenant_id: String,
    pub key_id: String,
    pub user_id: String,
    pub role: Role,
    pub scopes: Scopes,
    pub hash: String,
    pub revoked: bool,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

impl KeyCredential {
    pub fn from_item(item: &Item) -> Option<Self> {
        Some(Self {
            tenant_id: item.str("tenant_id")?.to_owned(),
            key_id: item.str("key_id")?.to_owned(),
            user_id: item.str("user_id")?.to_owned(),
            role: Role::parse(item.str("role")?)?,
            scopes: Scopes::from_value(item.attrs.get("scopes"))?,
            hash: item.str("hash")?.to_owned(),
            revoked: item.attrs.contains_key("revoked_at"),
            expires_at: item.int("expires_at").map(Timestamp),
            last_used_at: item.int("last_used_at").map(Timestamp),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_keys_parse_and_hash_match() {
        let issued = ApiKey::issue(
            "tn_1",
            "usr_1",
            Role::Owner,
            "ci".into(),
            Scopes::ALL,
            Timestamp(1),
        );
        let token = issued.token.expose();
        assert_eq!(token.len(), KEY_LEN);
        let p = parse_presented(token).unwrap();
        assert_eq!(p.prefix, issued.key.prefix);
        let h = hash_key(token);
        assert!(hash_matches(token, &h));
        let mut wrong = token.to_owned();
        wrong.pop();
        wrong.push(if token.ends_with('a') { 'b' } else { 'a' });
        assert!(!hash_matches(&wrong, &h));
        assert!(!h.contains(token));
    }

    #[test]
    fn malformed_keys_are_refused() {
        let good = format!("vk_live_{}_{}", "A".repeat(12), "b".repeat(32));
        assert!(parse_presented(&good).is_some());
        for bad in [
            String::new(),
            "vk_live_".into(),
            good.replace("vk_live_", "vk_test_"),
            format!("vk_live_{}_{}", "A".repeat(11), "b".repeat(33)),
            format!("vk_live_{}-{}", "A".repeat(12), "b".repeat(32)),
            format!("vk_live_{}_{}é", "A".repeat(12), "b".repeat(30)),
            "x".repeat(10_000),
        ] {
            assert!(parse_presented(&bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn scopes_cover_only_subsets() {
        let some = Scopes::parse_list(&["usage:read".into()]).unwrap();
        let more = Scopes::parse_list(&["usage:read".into(), "keys:manage".into()]).unwrap();
        assert!(Scopes::ALL.covers(&more));
        assert!(more.covers(&some));
        assert!(!some.covers(&more));
        assert!(!some.covers(&Scopes::ALL));
        assert!(some.allows(Scope::UsageRead));
        assert!(!some.allows(Scope::KeysManage));
        assert!(Scopes::parse_list(&["root".into()]).is_err());
        assert!(Scopes::parse_list(&[]).is_err());
        assert!(Scopes::parse_list(&["usage:read".into(), "usage:read".into()]).is_err());
    }

    #[test]
    fn key_records_round_trip() {
        let issued = ApiKey::issue(
            "tn_1",
            "usr_1",
            Role::Member,
            "ci".into(),
            Scopes::parse_list(&["usage:read".into()]).unwrap(),
            Timestamp(7),
        );
        let k = issued.key;
        assert_eq!(ApiKey::from_item("tn_1", &k.to_item()), Some(k.clone()));
        let cred = KeyCredential::from_item(&k.lookup_item("h")).unwrap();
        assert_eq!(cred.key_id, k.id);
        assert_eq!(cred.scopes, k.scopes);
        assert!(!cred.revoked);
    }
}
