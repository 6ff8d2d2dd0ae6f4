//! Tenants and their members.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::billing::{Billing, Standing};
use super::job::Narration;
use super::keys;
use super::plan::Plan;
use super::usage::UsagePeriod;
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
    /// The plan an operator set (or the tenant started on). Once the tenant has Stripe
    /// subscriptions, they decide: see [`Tenant::standing`].
    pub plan: Plan,
    pub status: TenantStatus,
    pub created_at: Timestamp,
    /// Stripe customer and subscriptions, from checkout and webhooks.
    pub billing: Billing,
    /// How the tenant's videos are narrated unless a job says otherwise (`PUT /v1/settings`).
    /// Kept on the tenant, which every request reads already, so it costs no extra read.
    pub narration: Option<Narration>,
}

/// Display names: 1–100 characters as sent (so the published bound holds for what clients
/// send), not only spaces, no control characters; kept trimmed.
pub fn validate_name(what: &str, raw: &str) -> Result<String> {
    let name = raw.trim();
    if name.is_empty() || raw.chars().count() > 100 || raw.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "{what} must be 1 to 100 characters with no control characters"
        )));
    }
    Ok(name.to_owned())
}

impl Tenant {
    /// The plan in force at `now`, and the subscription behind it.
    pub fn standing(&self, now: Timestamp) -> Standing {
        self.billing.standing(self.plan, now)
    }

    pub fn plan_at(&self, now: Timestamp) -> Plan {
        self.standing(now).plan
    }

    /// The period usage is counted in at `now`: the billing period of the subscription giving
    /// the plan (it moves on when Stripe reports the next one, and rolls over on its own if
    /// that report is late), else the calendar month.
    pub fn usage_period(&self, now: Timestamp) -> UsagePeriod {
        match self.standing(now) {
            Standing {
                subscription_id: Some(_),
                period: Some(p),
                plan,
                ..
            } if plan != Plan::Free && p.start <= now.secs() => UsagePeriod::billing_at(p, now),
            _ => UsagePeriod::month(now),
        }
    }

    pub fn to_item(&self) -> Item {
        let mut item = Item::new(keys::tenant_pk(&self.id), keys::TENANT_SK)
            .with("id", self.id.as_str())
            .with("name", self.name.as_str())
            .with("plan", self.plan.as_str())
            .with("status", self.status.as_str())
            .with("created_at", self.created_at.millis());
        item.gsi1 = Some((
            keys::TENANTS_INDEX.to_owned(),
            // Fixed-width milliseconds sort as the times do.
            format!("{:015}#{}", self.created_at.millis(), self.id),
        ));
        if let Some(n) = &self.narration {
            item = item.with("narration", serde_json::to_value(n).unwrap_or(Value::Null));
        }
        if self.billing == Billing::default() {
            item
        } else {
            item.with(
                "billing",
                serde_json::to_value(&self.billing).unwrap_or(Value::Null),
            )
        }
    }

    /// `None` when the stored item is not a well-formed tenant.
    pub fn from_item(item: &Item) -> Option<Self> {
        Some(Self {
            id: item.str("id")?.to_owned(),
            name: item.str("name")?.to_owned(),
            plan: Plan::parse(item.str("plan")?)?,
            status: TenantStatus::parse(item.str("status")?)?,
            created_at: Timestamp(item.int("created_at")?),
            // A billing record we cannot read is logged and treated as none, rather than
            // locking the tenant out.
            billing: match item.attrs.get("billing") {
                None | Some(Value::Null) => Billing::default(),
                Some(v) => serde_json::from_value(v.clone()).unwrap_or_else(|e| {
                    tracing::error!(error = %e, "unreadable billing record on a tenant");
                    Billing::default()
                }),
            },
            // Likewise: a default narration we cannot read is no default.
            narration: match item.attrs.get("narration") {
                None | Some(Value::Null) => None,
                Some(v) => serde_json::from_value(v.clone())
                    .map_err(|e| tracing::error!(error = %e, "unreadable narration on a tenant"))
                    .ok(),
            },
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

    /// A member item of the tenant's partition; `None` when it is not well formed.
    pub fn from_item(item: &Item) -> Option<Self> {
        let tenant_id = item.pk.strip_prefix("T#")?;
        Some(Self {
            id: item.str("id")?.to_owned(),
            tenant_id: tenant_id.to_owned(),
            name: item.str("name")?.to_owned(),
            role: Role::parse(item.str("role")?)?,
            created_at: Timestamp(item.int("created_at")?),
        })
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
            billing: Billing::default(),
            narration: None,
        };
        assert_eq!(Tenant::from_item(&t.to_item()), Some(t.clone()));
        let spoken = Tenant {
            narration: Some(Narration {
                language: Some("es".into()),
                voice: None,
                speed: Some(1.25),
            }),
            ..t
        };
        assert_eq!(Tenant::from_item(&spoken.to_item()), Some(spoken));
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
