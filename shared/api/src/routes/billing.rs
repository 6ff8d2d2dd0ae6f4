//! Billing: checkout and portal sessions on Stripe, the tenant's plan and period, and
//! Stripe's webhook (verified over the raw body; no credentials, the signature is the proof).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use viral_core::domain::{Plan, Scope};
use viral_core::ports::BillingError;
use viral_core::service::billing::{self, Handled};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Caller, Json, RawBody};
use crate::state::{AppState, BillingState};

/// The secret Stripe signs webhooks with (`whsec_…`), through the Secrets port.
pub const WEBHOOK_SECRET: &str = "STRIPE_WEBHOOK_SECRET";

fn configured(state: &AppState) -> ApiResult<&BillingState> {
    state.billing.as_ref().ok_or_else(|| {
        ApiError::from(viral_core::Error::Billing(BillingError::NotConfigured(
            "no Stripe prices configured".into(),
        )))
    })
}

fn gateway(b: &BillingState) -> ApiResult<&dyn viral_core::ports::BillingGateway> {
    b.gateway.as_deref().ok_or_else(|| {
        ApiError::from(viral_core::Error::Billing(BillingError::NotConfigured(
            "this function has no Stripe client".into(),
        )))
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckoutBody {
    /// `starter`, `pro` or `agency`.
    #[schema(value_type = PaidPlan)]
    plan: String,
}

/// A plan one can subscribe to.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // documents the names; requests carry them as strings
pub(crate) enum PaidPlan {
    Starter,
    Pro,
    Agency,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SessionUrl {
    /// Where to send the user (Stripe Checkout or the Billing Portal).
    url: String,
}

/// Starts a subscription checkout for a plan; send the owner to `url`. Owners only.
#[utoipa::path(post, path = "/v1/billing/checkout", tag = "billing", security(("bearer" = [])),
    request_body = CheckoutBody,
    responses((status = 200, body = SessionUrl), (status = 401, body = ErrorBody),
        (status = 403, description = "Not the owner, or the key lacks billing:manage", body = ErrorBody),
        (status = 409, description = "`subscription_exists`: change plans in the portal", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 501, description = "`billing_not_configured`", body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn checkout(
    State(state): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<CheckoutBody>,
) -> ApiResult<axum::Json<SessionUrl>> {
    p.require_owner()?;
    p.require(Scope::BillingManage)?;
    let b = configured(&state)?;
    let plan = Plan::parse(&body.plan).ok_or_else(|| {
        ApiError::from(viral_core::Error::Invalid(
            "plan must be starter, pro or agency".into(),
        ))
    })?;
    let url = billing::checkout(
        &*state.store,
        &*state.clock,
        gateway(b)?,
        &b.settings,
        &p.tenant,
        plan,
    )
    .await?;
    Ok(axum::Json(SessionUrl { url }))
}

/// A Billing Portal session: change plan, payment method, cancel. Owners only.
#[utoipa::path(post, path = "/v1/billing/portal", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = SessionUrl), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "`no_billing_account`: check out first", body = ErrorBody),
        (status = 501, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn portal(
    State(state): State<AppState>,
    Caller(p): Caller,
) -> ApiResult<axum::Json<SessionUrl>> {
    p.require_owner()?;
    p.require(Scope::BillingManage)?;
    let b = configured(&state)?;
    let url = billing::portal(gateway(b)?, &b.settings, &p.tenant).await?;
    Ok(axum::Json(SessionUrl { url }))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct BillingView {
    /// The plan in force now.
    plan: String,
    /// The subscription's status (`active`, `trialing`, `past_due`, `unpaid`, `canceled`,
    /// `incomplete`, …); absent without a subscription.
    status: Option<String>,
    subscription_id: Option<String>,
    /// The current billing period (RFC 3339), when subscribed.
    current_period_start: Option<String>,
    current_period_end: Option<String>,
    /// The subscription ends when the period does.
    cancel_at_period_end: bool,
    /// While `past_due`: when the plan drops to free unless the payment goes through.
    grace_ends_at: Option<String>,
    /// Whether the tenant has a Stripe customer (and so a portal).
    billing_account: bool,
}

/// The tenant's plan, subscription status and period.
#[utoipa::path(get, path = "/v1/billing", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = BillingView), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Caller(p): Caller,
) -> ApiResult<axum::Json<BillingView>> {
    let v = billing::view(&p.tenant, state.clock.now());
    let s = v.standing;
    let period = s.period.as_ref().map(billing::period_strings);
    let grace = match (s.status, s.period) {
        (Some(viral_core::domain::billing::SubscriptionStatus::PastDue), Some(per)) => Some(
            viral_core::Timestamp::from_secs(
                per.start + viral_core::domain::billing::PAST_DUE_GRACE.as_secs() as i64,
            )
            .rfc3339(),
        ),
        _ => None,
    };
    Ok(axum::Json(BillingView {
        plan: s.plan.as_str().to_owned(),
        status: s.status.map(|x| x.as_str().to_owned()),
        subscription_id: s.subscription_id,
        current_period_start: period.as_ref().map(|p| p.0.clone()),
        current_period_end: period.map(|p| p.1),
        cancel_at_period_end: s.cancel_at_period_end,
        grace_ends_at: grace,
        billing_account: v.has_customer,
    }))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookAnswer {
    received: bool,
    /// `applied`, `duplicate` or `ignored`.
    result: &'static str,
}

/// Stripe's webhook. Verified over the raw body (any `v1`, 300 s tolerance); each event id is
/// applied once; events may come in any order. Unknown types are acknowledged and ignored.
#[utoipa::path(post, path = "/webhooks/stripe", tag = "billing",
    responses((status = 200, body = WebhookAnswer),
        (status = 400, description = "`invalid_signature`, `stale_signature` or `invalid_event`; nothing changed", body = ErrorBody),
        (status = 408, description = "`request_timeout`: the body did not arrive in time", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: larger than 1 MiB", body = ErrorBody),
        (status = 501, body = ErrorBody)))]
pub(crate) async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, axum::Json<WebhookAnswer>)> {
    let b = configured(&state)?;
    let secret = match b.secrets.get(WEBHOOK_SECRET).await {
        Ok(Some(s)) if !s.expose().is_empty() => s,
        Ok(_) => {
            return Err(
                viral_core::Error::Billing(BillingError::NotConfigured(format!(
                    "{WEBHOOK_SECRET} is not set"
                )))
                .into(),
            );
        }
        Err(e) => return Err(viral_core::Error::Secrets(e).into()),
    };
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let handled = billing::handle_webhook(
        &*state.store,
        &*state.clock,
        &b.settings.prices,
        secret.expose(),
        signature,
        &body,
    )
    .await?;
    let result = match handled {
        Handled::Applied => "applied",
        Handled::Duplicate => "duplicate",
        Handled::Ignored(why) => {
            tracing::info!(why, "Stripe event ignored");
            "ignored"
        }
    };
    Ok((
        StatusCode::OK,
        axum::Json(WebhookAnswer {
            received: true,
            result,
        }),
    ))
}
