//! The authenticated caller.

use crate::domain::{Role, Scope, Scopes, Tenant};
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq)]
pub enum Credential {
    ApiKey { key_id: String },
    Jwt { subject: String, issuer: String },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Principal {
    pub tenant: Tenant,
    pub user_id: String,
    pub role: Role,
    pub scopes: Scopes,
    pub credential: Credential,
}

/// The name an OIDC user's requests are counted under: known from the token alone, so the
/// count can be made while the tenant is read.
pub fn jwt_rate_limit_key(tenant_id: &str, subject: &str) -> String {
    format!("jwt:{tenant_id}:{subject}")
}

impl Principal {
    /// The name the rate limiter counts under: one per key, one per OIDC user. (An API key's
    /// requests are counted on its own record instead, as it is checked.)
    pub fn rate_limit_key(&self) -> String {
        match &self.credential {
            Credential::ApiKey { key_id } => format!("key:{key_id}"),
            Credential::Jwt { subject, .. } => jwt_rate_limit_key(&self.tenant.id, subject),
        }
    }

    pub fn require(&self, scope: Scope) -> Result<()> {
        if self.scopes.allows(scope) {
            Ok(())
        } else {
            Err(Error::Forbidden {
                code: "insufficient_scope",
                message: format!("this credential lacks the {} scope", scope.as_str()),
            })
        }
    }

    pub fn require_owner(&self) -> Result<()> {
        if self.role == Role::Owner {
            Ok(())
        } else {
            Err(Error::Forbidden {
                code: "owner_required",
                message: "only the tenant's owner may do this".into(),
            })
        }
    }
}
