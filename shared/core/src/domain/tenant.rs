//! Tenants and their members.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::keys;
use super::plan::Plan;
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::ports::Item;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Self::Owner),
            "member" => Some(Self::Member),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub plan: Plan,
    pub status: TenantStatus,
    pub created_at: Timestamp,
}

/// Display names: 1–100 characters, no control characters, trimmed.
pub fn validate_name(what: &str, raw: &str) -> Result<String> {
    let name = raw.trim();
    let len = name.chars().count();
    if len == 0 || len > 100 || name.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "{what} must be 1 to 100 characters with no control characters"
        )));
    }
    Ok(name.to_owned())
}

impl Tenant {
    pub fn to_item(&self) -> Item {
        Item::new(keys::tenant_pk(&self.id), keys::TENANT_SK)
            .with("id", self.id.as_str())
            .with("name", self.name.as_str())
            .with("plan", self.plan.as_str())
            .with("status", self.status.as_str())
            .with("created_at", self.created_at.millis())
    }

    /// `None` when the stored item is not a well-formed tenant.
    pub fn from_item(item: &Item) -> Option<Self> {
        Some(Self {
            id: item.str("id")?.to_owned(),
            name: item.str("name")?.to_owned(),
            plan: Plan::parse(item.str("plan")?)?,
            status: TenantStatus::parse(item.str("status")?)?,
            created_at: Timestamp(item.int("created_at")?),
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub role: Role,
    pub created_at: Timestamp,
}

impl Member {
    pub fn to_item(&self) -> Item {
        Item::new(keys::tenant_pk(&self.tenant_id), keys::user_sk(&self.id))
            .with("id", self.id.as_str())
            .with("name", self.name.as_str())
            .with("role", self.role.as_str())
            .with("created_at", Value::from(self.created_at.millis()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_round_trips_through_an_item() {
        let t = Tenant {
            id: "tn_1".into(),
            name: "Acme".into(),
            plan: Plan::Pro,
            status: TenantStatus::Active,
            created_at: Timestamp(42),
        };
        assert_eq!(Tenant::from_item(&t.to_item()), Some(t));
        assert_eq!(Tenant::from_item(&Item::new("T#x", "TENANT")), None);
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(validate_name("name", "  Acme ").unwrap(), "Acme");
        assert!(validate_name("name", "").is_err());
        assert!(validate_name("name", "a\u{0}b").is_err());
        assert!(validate_name("name", &"x".repeat(101)).is_err());
    }
}
