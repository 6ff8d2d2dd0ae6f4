//! Stripe settings: the plans' Price ids, where Checkout and the portal send users back, and
//! the API base. Keys are secrets (`STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`), read through
//! the Secrets port when first needed. Without the Price ids, billing is off and its routes
//! answer `billing_not_configured`.

use viral_core::domain::stripe_webhook::Prices;
use viral_core::service::billing::BillingSettings;

use crate::config::ConfigError;
use crate::provider_config::checked_url;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillingConfig {
    pub settings: BillingSettings,
    /// `STRIPE_BASE_URL`, default `https://api.stripe.com`.
    pub stripe_base_url: String,
}

fn err(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

fn absolute(var: &'static str, v: String) -> Result<String, ConfigError> {
    if (v.starts_with("https://") || v.starts_with("http://")) && v.len() <= 2000 {
        Ok(v)
    } else {
        Err(err(var, "expected an absolute http(s) URL"))
    }
}

impl BillingConfig {
    /// `None` when no Price ids are set (billing off).
    pub fn from_lookup(
        get: &dyn Fn(&str) -> Option<String>,
        public_url: &str,
        allow_loopback: bool,
    ) -> Result<Option<Self>, ConfigError> {
        let vars = [
            "STRIPE_PRICE_STARTER",
            "STRIPE_PRICE_PRO",
            "STRIPE_PRICE_AGENCY",
        ];
        let prices: Vec<Option<String>> = vars.iter().map(|v| get(v)).collect();
        if prices.iter().all(Option::is_none) {
            return Ok(None);
        }
        let mut ids = Vec::new();
        for (var, p) in vars.iter().zip(prices) {
            match p {
                Some(id) if id.starts_with("price_") && id.len() <= 255 => ids.push(id),
                Some(_) => return Err(err(var, "expected a Stripe Price id (price_…)")),
                None => return Err(err(var, "set all three STRIPE_PRICE_* or none")),
            }
        }
        let base = public_url.trim_end_matches('/');
        let url = |var: &'static str, default: String| absolute(var, get(var).unwrap_or(default));
        Ok(Some(Self {
            settings: BillingSettings {
                prices: Prices {
                    starter: ids[0].clone(),
                    pro: ids[1].clone(),
                    agency: ids[2].clone(),
                },
                success_url: url(
                    "VIRAL_BILLING_SUCCESS_URL",
                    format!("{base}/billing/done?session_id={{CHECKOUT_SESSION_ID}}"),
                )?,
                cancel_url: url("VIRAL_BILLING_CANCEL_URL", format!("{base}/billing"))?,
                portal_return_url: url("VIRAL_BILLING_RETURN_URL", format!("{base}/billing"))?,
            },
            stripe_base_url: checked_url(
                get,
                "STRIPE_BASE_URL",
                viral_core::domain::billing::STRIPE_API,
                allow_loopback,
            )?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Option<BillingConfig>, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        BillingConfig::from_lookup(&|k| m.get(k).cloned(), "https://app.example", false)
    }

    #[test]
    fn prices_turn_billing_on_and_urls_default_to_the_app() {
        assert_eq!(cfg(&[]).unwrap(), None);
        let c = cfg(&[
            ("STRIPE_PRICE_STARTER", "price_s"),
            ("STRIPE_PRICE_PRO", "price_p"),
            ("STRIPE_PRICE_AGENCY", "price_a"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.settings.prices.pro, "price_p");
        assert_eq!(
            c.settings.success_url,
            "https://app.example/billing/done?session_id={CHECKOUT_SESSION_ID}"
        );
        assert_eq!(c.stripe_base_url, "https://api.stripe.com");
        assert_eq!(
            cfg(&[("STRIPE_PRICE_PRO", "price_p")]).unwrap_err().var,
            "STRIPE_PRICE_STARTER"
        );
        assert_eq!(
            cfg(&[
                ("STRIPE_PRICE_STARTER", "prod_s"),
                ("STRIPE_PRICE_PRO", "price_p"),
                ("STRIPE_PRICE_AGENCY", "price_a")
            ])
            .unwrap_err()
            .var,
            "STRIPE_PRICE_STARTER"
        );
    }
}
