//! Connected social accounts (TikTok, YouTube, Instagram, and the offline `sandbox`): who the
//! tenant posts as. Tokens are kept only sealed (see `ports::TokenVault`); this record never
//! holds them in the clear and the API never returns them.

use serde_json::Value;

use super::keys;
use crate::clock::Timestamp;
use crate::ports::Item;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Platform {
    Tiktok,
    Youtube,
    Instagram,
    /// Built in: no OAuth, posts stay local and are labelled as such everywhere.
    Sandbox,
}

impl Platform {
    pub const ALL: [Platform; 4] = [
        Platform::Tiktok,
        Platform::Youtube,
        Platform::Instagram,
        Platform::Sandbox,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Tiktok => "tiktok",
            Platform::Youtube => "youtube",
            Platform::Instagram => "instagram",
            Platform::Sandbox => "sandbox",
        }
    }

    pub fn parse(s: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    /// A refresh failed or the platform revoked access: the tenant must connect it again.
    NeedsReconnect,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::NeedsReconnect => "needs_reconnect",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(AccountStatus::Active),
            "needs_reconnect" => Some(AccountStatus::NeedsReconnect),
            _ => None,
        }
    }
}

/// Who the account is at the platform, as its profile call says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformProfile {
    pub user_id: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    pub id: String,
    pub tenant_id: String,
    pub platform: Platform,
    pub profile: PlatformProfile,
    /// Scopes the user granted (they may grant fewer than asked).
    pub scopes: Vec<String>,
    pub status: AccountStatus,
    /// Why the account needs reconnecting, for people.
    pub status_reason: Option<String>,
    pub access_expires_at: Option<Timestamp>,
    pub refresh_expires_at: Option<Timestamp>,
    /// The tokens, sealed for this record (`sealing_context`).
    pub access_token_sealed: Option<String>,
    pub refresh_token_sealed: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Every token change bumps it; a write from an older version is refused, so two
    /// concurrent refreshes never overwrite the newer (rotated) refresh token with an older one.
    pub version: u64,
}

/// Index partition of active accounts by when their grant must be refreshed to stay alive
/// (see [`Account::keep_alive_due`]): the scheduled refresher finds them without a scan.
pub const KEEP_ALIVE: &str = "ACCOUNTS#KEEPALIVE";

pub fn keep_alive_key(due: Timestamp, tenant_id: &str, account_id: &str) -> String {
    format!("{:015}#{tenant_id}#{account_id}", due.millis().max(0))
}

const DAY_MS: i64 = 86_400_000;

pub fn account_sk(id: &str) -> String {
    format!("{ACCOUNT_SK_PREFIX}{id}")
}

pub const ACCOUNT_SK_PREFIX: &str = "ACCOUNT#";

/// One platform user is one account per tenant: reconnecting updates it.
pub fn account_user_sk(platform: Platform, platform_user_id: &str) -> String {
    format!("ACCOUNTUSER#{}#{platform_user_id}", platform.as_str())
}

/// What a token is sealed for: its tenant, account and field, so a sealed token copied to
/// another record or field does not open.
pub fn sealing_context(tenant_id: &str, account_id: &str, field: &str) -> String {
    format!(
        "{}/{}/{field}",
        keys::tenant_pk(tenant_id),
        account_sk(account_id)
    )
}

impl Account {
    /// When the grant must be refreshed so it does not die unused. Access tokens are refreshed
    /// when a call needs them; this keeps the *grant* alive: TikTok's rotating refresh token
    /// (180 days) a month before it ends, Instagram's 60-day token ten days before, and a Google
    /// refresh token (dead after six months unused) after five months without a refresh.
    pub fn keep_alive_due(&self) -> Option<Timestamp> {
        if self.status != AccountStatus::Active || self.refresh_token_sealed.is_none() {
            return None;
        }
        match self.platform {
            Platform::Tiktok => self
                .refresh_expires_at
                .map(|t| Timestamp(t.0 - 30 * DAY_MS)),
            Platform::Instagram => self.access_expires_at.map(|t| Timestamp(t.0 - 10 * DAY_MS)),
            Platform::Youtube => Some(Timestamp(self.updated_at.0 + 150 * DAY_MS)),
            Platform::Sandbox => None,
        }
    }

    pub fn to_item(&self) -> Item {
        let mut item = Item::new(keys::tenant_pk(&self.tenant_id), account_sk(&self.id))
            .with("id", self.id.as_str())
            .with("platform", self.platform.as_str())
            .with("platform_user_id", self.profile.user_id.as_str())
            .with("display_name", self.profile.display_name.as_str())
            .with("scopes", Value::from(self.scopes.clone()))
            .with("status", self.status.as_str())
            .with("created_at", self.created_at.millis())
            .with("updated_at", self.updated_at.millis());
        let optional = [
            (
                "avatar_url",
                self.profile.avatar_url.clone().map(Value::from),
            ),
            ("status_reason", self.status_reason.clone().map(Value::from)),
            (
                "access_expires_at",
                self.access_expires_at.map(|t| Value::from(t.millis())),
            ),
            (
                "refresh_expires_at",
                self.refresh_expires_at.map(|t| Value::from(t.millis())),
            ),
            (
                "access_token",
                self.access_token_sealed.clone().map(Value::from),
            ),
            (
                "refresh_token",
                self.refresh_token_sealed.clone().map(Value::from),
            ),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                item.attrs.insert(name.into(), v);
            }
        }
        item.version = self.version;
        if let Some(due) = self.keep_alive_due() {
            item.gsi1 = Some((
                KEEP_ALIVE.to_owned(),
                keep_alive_key(due, &self.tenant_id, &self.id),
            ));
        }
        item
    }

    pub fn from_item(tenant_id: &str, item: &Item) -> Option<Self> {
        Some(Self {
            id: item.str("id")?.to_owned(),
            tenant_id: tenant_id.to_owned(),
            platform: Platform::parse(item.str("platform")?)?,
            profile: PlatformProfile {
                user_id: item.str("platform_user_id")?.to_owned(),
                display_name: item.str("display_name")?.to_owned(),
                avatar_url: item.str("avatar_url").map(str::to_owned),
            },
            scopes: item
                .attrs
                .get("scopes")?
                .as_array()?
                .iter()
                .map(|s| s.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()?,
            status: AccountStatus::parse(item.str("status")?)?,
            status_reason: item.str("status_reason").map(str::to_owned),
            access_expires_at: item.int("access_expires_at").map(Timestamp),
            refresh_expires_at: item.int("refresh_expires_at").map(Timestamp),
            access_token_sealed: item.str("access_token").map(str::to_owned),
            refresh_token_sealed: item.str("refresh_token").map(str::to_owned),
            created_at: Timestamp(item.int("created_at")?),
            updated_at: Timestamp(item.int("updated_at")?),
            version: item.version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_round_trip_and_platforms_parse() {
        let a = Account {
            id: "acc_1".into(),
            tenant_id: "tn_1".into(),
            platform: Platform::Tiktok,
            profile: PlatformProfile {
                user_id: "open_1".into(),
                display_name: "Studio".into(),
                avatar_url: Some("https://p16.tiktokcdn.com/a.jpg".into()),
            },
            scopes: vec!["user.info.basic".into(), "video.publish".into()],
            status: AccountStatus::Active,
            status_reason: None,
            access_expires_at: Some(Timestamp(10)),
            refresh_expires_at: None,
            access_token_sealed: Some("v1.sealed".into()),
            refresh_token_sealed: Some("v1.sealed2".into()),
            created_at: Timestamp(1),
            updated_at: Timestamp(2),
            version: 4,
        };
        assert_eq!(Account::from_item("tn_1", &a.to_item()), Some(a));
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
        }
        assert_eq!(Platform::parse("myspace"), None);
        assert_ne!(
            sealing_context("tn_1", "acc_1", "refresh_token"),
            sealing_context("tn_2", "acc_1", "refresh_token")
        );
    }
}
