//! Connected social accounts: connect (OAuth, or one call for the sandbox), the platform's
//! callback, list, read (with what the creator may do now), and remove.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use viral_core::domain::Scope;
use viral_core::domain::account::{Account, Platform};
use viral_core::ports::{CreatorInfo, Publisher};
use viral_core::service::{accounts, connect, publishing};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Caller, Json, Path, Query};
use crate::state::{AppState, SocialState};

pub(crate) fn social(state: &AppState) -> Result<&SocialState, ApiError> {
    state.social.as_ref().ok_or_else(|| {
        viral_core::Error::NotConfigured {
            code: "publishing_not_configured",
            message: "this deployment does not connect accounts or publish yet".into(),
        }
        .into()
    })
}

fn publisher_for(
    s: &SocialState,
    platform: Platform,
) -> Result<std::sync::Arc<dyn Publisher>, ApiError> {
    s.publishers.get(platform).ok_or_else(|| {
        viral_core::Error::NotConfigured {
            code: "platform_not_configured",
            message: format!(
                "{} is not configured on this deployment (see `viral doctor`)",
                platform.as_str()
            ),
        }
        .into()
    })
}

fn platform_of(name: &str) -> Result<Platform, ApiError> {
    Platform::parse(name).ok_or_else(|| {
        viral_core::Error::Invalid(
            "platform must be one of tiktok, youtube, instagram, sandbox".into(),
        )
        .into()
    })
}

/// Today's posting allowance of an account.
#[derive(Serialize, ToSchema)]
pub(crate) struct AllowanceView {
    /// Posts this account made today (UTC) and may make.
    posts: i64,
    limit: u32,
    /// This workspace's posts today on the platform, and its share of the app's daily quota
    /// (shared by every workspace; paying plans get more); `null` where there is no app cap.
    workspace_posts: Option<i64>,
    workspace_limit: Option<u32>,
    resets_at: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AccountView {
    id: String,
    /// `tiktok`, `youtube`, `instagram`, or `sandbox` (posts stay on this deployment).
    platform: String,
    sandbox: bool,
    platform_user_id: String,
    display_name: String,
    avatar_url: Option<String>,
    /// Scopes the user granted.
    scopes: Vec<String>,
    /// `active`, or `needs_reconnect` (connect it again; its posts fail meanwhile).
    status: String,
    status_reason: Option<String>,
    /// When the current access token expires (it is refreshed before then).
    token_expires_at: Option<String>,
    refresh_expires_at: Option<String>,
    created_at: String,
    updated_at: String,
    today: Option<AllowanceView>,
}

impl AccountView {
    fn of(a: &Account, today: Option<AllowanceView>) -> Self {
        Self {
            id: a.id.clone(),
            platform: a.platform.as_str().to_owned(),
            sandbox: a.platform == Platform::Sandbox,
            platform_user_id: a.profile.user_id.clone(),
            display_name: a.profile.display_name.clone(),
            avatar_url: a.profile.avatar_url.clone(),
            scopes: a.scopes.clone(),
            status: a.status.as_str().to_owned(),
            status_reason: a.status_reason.clone(),
            token_expires_at: a.access_expires_at.map(|t| t.rfc3339()),
            refresh_expires_at: a.refresh_expires_at.map(|t| t.rfc3339()),
            created_at: a.created_at.rfc3339(),
            updated_at: a.updated_at.rfc3339(),
            today,
        }
    }
}

async fn allowance_of(
    state: &AppState,
    s: &SocialState,
    p: &viral_core::service::Principal,
    a: &Account,
) -> Result<AllowanceView, ApiError> {
    let plan = p.tenant.plan_at(state.clock.now());
    let al = publishing::allowance(&*state.store, &*state.clock, &s.limits, a, plan).await?;
    Ok(AllowanceView {
        posts: al.account_used,
        limit: al.account_limit,
        workspace_posts: al.tenant_used,
        workspace_limit: al.tenant_limit,
        resets_at: al.resets_at.rfc3339(),
    })
}

/// A platform an account can be connected on.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // documents the names; requests carry them as strings
pub(crate) enum PlatformName {
    Tiktok,
    Youtube,
    Instagram,
    Sandbox,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConnectRequest {
    #[schema(value_type = PlatformName)]
    platform: String,
    /// Sandbox only: the channel's name (default "Sandbox channel").
    #[schema(min_length = 1, max_length = 100)]
    name: Option<String>,
    /// Where the browser goes once the platform's consent is done (the dashboard's accounts
    /// page): an origin this deployment serves. Without it the callback shows a short page.
    #[schema(max_length = 2000)]
    redirect_uri: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ConnectAnswer {
    platform: String,
    /// Open this in the user's browser to grant access (`null` for the sandbox, connected
    /// already).
    authorize_url: Option<String>,
    /// When the authorize URL stops working.
    expires_at: Option<String>,
    /// The sandbox channel, connected.
    account: Option<AccountView>,
}

/// A redirect target must be one of the origins this deployment serves, so a connect link
/// cannot send users elsewhere.
fn check_return(s: &SocialState, uri: &str) -> Result<(), ApiError> {
    let bad = || {
        ApiError::from(viral_core::Error::Invalid(
            "redirect_uri must be on this deployment's dashboard or API origin".into(),
        ))
    };
    let origin = crate::routes::origin_of(uri).ok_or_else(bad)?;
    if s.return_origins.contains(&origin)
        || crate::routes::origin_of(&s.public_url).as_deref() == Some(origin.as_str())
    {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Starts connecting an account: the platform's authorize URL (OAuth 2 with PKCE and a
/// sealed, single-use state that expires in 15 minutes). The sandbox connects at once.
#[utoipa::path(post, path = "/v1/accounts/connect", tag = "accounts", security(("bearer" = [])),
    request_body = ConnectRequest,
    responses(
        (status = 200, description = "Open `authorize_url`; the account appears once the platform calls back", body = ConnectAnswer),
        (status = 201, description = "The sandbox channel, connected", body = ConnectAnswer),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "The key lacks publish:write", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Unknown platform, or a redirect_uri elsewhere", body = ErrorBody),
        (status = 429, body = ErrorBody),
        (status = 501, description = "`platform_not_configured`: this deployment has no app for the platform yet", body = ErrorBody),
        (status = 502, description = "The platform did not answer", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub(crate) async fn connect(
    State(state): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<ConnectRequest>,
) -> ApiResult<Response> {
    p.require(Scope::PublishWrite)?;
    let s = social(&state)?;
    let platform = platform_of(&body.platform)?;
    // Checked for every platform, the sandbox's too: the document bounds it for all.
    if let Some(uri) = &body.redirect_uri {
        if uri.chars().count() > 2000 {
            return Err(viral_core::Error::Invalid(
                "redirect_uri is longer than 2000 characters".into(),
            )
            .into());
        }
        check_return(s, uri)?;
    }
    if platform == Platform::Sandbox {
        let name = body.name.as_deref().unwrap_or("Sandbox channel");
        let account =
            connect::sandbox(&*state.store, &*s.vault, &*state.clock, &p.tenant.id, name).await?;
        let today = allowance_of(&state, s, &p, &account).await?;
        return Ok((
            StatusCode::CREATED,
            axum::Json(ConnectAnswer {
                platform: platform.as_str().into(),
                authorize_url: None,
                expires_at: None,
                account: Some(AccountView::of(&account, Some(today))),
            }),
        )
            .into_response());
    }
    if body.name.is_some() {
        return Err(viral_core::Error::Invalid(
            "name is for sandbox channels; a platform account keeps its own name".into(),
        )
        .into());
    }
    let publisher = publisher_for(s, platform)?;
    // A connect that returns to the dashboard is bound to the browser that started it.
    let binding = body
        .redirect_uri
        .is_some()
        .then(connect::new_browser_binding);
    let url = connect::start(
        &connect::Connector {
            store: &*state.store,
            vault: &*s.vault,
            clock: &*state.clock,
            public_url: &s.public_url,
        },
        &*publisher,
        &p.tenant.id,
        body.redirect_uri,
        binding.as_deref(),
    )
    .await?;
    let mut resp = (
        StatusCode::OK,
        axum::Json(ConnectAnswer {
            platform: platform.as_str().into(),
            authorize_url: Some(url),
            expires_at: Some(state.clock.now().plus(connect::STATE_TTL).rfc3339()),
            account: None,
        }),
    )
        .into_response();
    if let Some(b) = binding {
        let secure = if s.public_url.starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!(
            "{BINDING_COOKIE}={b}; Path=/oauth/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            connect::STATE_TTL.as_secs()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}

/// The cookie that binds a dashboard connect to its browser.
const BINDING_COOKIE: &str = "viral_oauth";

fn binding_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            kv.trim()
                .strip_prefix(&format!("{BINDING_COOKIE}="))
                .map(str::to_owned)
        })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CallbackParams {
    /// The authorization code (absent when the user declined).
    #[param(max_length = 4096)]
    code: Option<String>,
    #[param(max_length = 8192)]
    state: Option<String>,
    /// The platform's error, e.g. `access_denied`.
    #[param(max_length = 200)]
    error: Option<String>,
    #[param(max_length = 2000)]
    error_description: Option<String>,
    /// Google and Instagram add these; ignored.
    #[param(max_length = 4096)]
    scope: Option<String>,
    #[param(max_length = 4096)]
    scopes: Option<String>,
}

impl CallbackParams {
    /// The parameter over the length the document gives it, if any.
    fn over_bound(&self) -> Option<&'static str> {
        let fields = [
            ("code", &self.code, 4096),
            ("state", &self.state, 8192),
            ("error", &self.error, 200),
            ("error_description", &self.error_description, 2000),
            ("scope", &self.scope, 4096),
            ("scopes", &self.scopes, 4096),
        ];
        fields
            .into_iter()
            .find(|(_, v, max)| v.as_ref().is_some_and(|v| v.chars().count() > *max))
            .map(|(name, _, _)| name)
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A short page for a callback without a place to return to.
fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · viral</title></head><body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem\">\
         <h1>{t}</h1><p>{x}</p></body></html>",
        t = escape(title),
        x = escape(text)
    );
    let mut resp = (status, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// Where the platform sends the browser after consent. Stores the account and returns to the
/// `redirect_uri` of the connect (with `?connected=<account id>` or `?connect_error=<code>`),
/// or shows a short page. Public: the sealed `state` says whose connect it is.
#[utoipa::path(get, path = "/oauth/{platform}/callback", tag = "accounts",
    params(("platform" = String, Path, pattern = "^(tiktok|youtube|instagram)$", description = "tiktok, youtube or instagram"), CallbackParams),
    responses(
        (status = 200, description = "Connected (a page for people)", content_type = "text/html"),
        (status = 303, description = "Connected, or refused: back to the connect's redirect_uri"),
        (status = 400, description = "The user declined, or the code or state is missing", content_type = "text/html"),
        (status = 403, description = "The state is forged, expired, used or for another platform", content_type = "text/html"),
        (status = 404, body = ErrorBody),
        (status = 501, description = "The platform is not configured here", content_type = "text/html"),
        (status = 502, description = "The platform refused the code", content_type = "text/html"),
        (status = 503, description = "The token vault did not answer", content_type = "text/html")))]
pub(crate) async fn callback(
    State(state): State<AppState>,
    Path(platform): Path<String>,
    Query(q): Query<CallbackParams>,
    headers: HeaderMap,
) -> Response {
    let Some(platform) = Platform::parse(&platform).filter(|p| *p != Platform::Sandbox) else {
        return ApiError::from(viral_core::Error::NotFound("platform")).into_response();
    };
    if let Some(name) = q.over_bound() {
        return page(
            StatusCode::BAD_REQUEST,
            "Not connected",
            &format!("The callback's {name} is too long. You can start again from viral."),
        );
    }
    let (Some(code), Some(sealed)) = (q.code.as_deref(), q.state.as_deref()) else {
        let why = q
            .error_description
            .or(q.error)
            .unwrap_or_else(|| "the platform sent no code".into());
        return page(
            StatusCode::BAD_REQUEST,
            "Not connected",
            &format!(
                "{} did not grant access: {why}. You can start again from viral.",
                platform.as_str()
            ),
        );
    };
    let (s, publisher) = match social(&state).and_then(|s| Ok((s, publisher_for(s, platform)?))) {
        Ok(x) => x,
        Err(e) => return page(e.status, "Not connected", &e.message),
    };
    let finished = connect::finish(
        &connect::Connector {
            store: &*state.store,
            vault: &*s.vault,
            clock: &*state.clock,
            public_url: &s.public_url,
        },
        &*publisher,
        code,
        sealed,
        binding_of(&headers).as_deref(),
    )
    .await;
    match finished {
        Ok(f) => {
            tracing::info!(account_id = %f.account.id, platform = platform.as_str(), "account connected");
            match f.return_to {
                Some(to) => redirect(&to, "connected", &f.account.id),
                None => page(
                    StatusCode::OK,
                    "Connected",
                    &format!(
                        "{} is connected to viral as {}. You can close this window.",
                        platform.as_str(),
                        f.account.profile.display_name
                    ),
                ),
            }
        }
        Err(e) => {
            let err = ApiError::from(e);
            page(err.status, "Not connected", &err.message)
        }
    }
}

fn redirect(to: &str, key: &str, value: &str) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    let location = format!("{to}{sep}{key}={value}");
    match HeaderValue::from_str(&location) {
        Ok(v) => {
            let mut resp = StatusCode::SEE_OTHER.into_response();
            resp.headers_mut().insert(header::LOCATION, v);
            resp
        }
        Err(_) => page(StatusCode::OK, "Connected", "You can close this window."),
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AccountList {
    items: Vec<AccountView>,
}

/// The workspace's connected accounts, with today's posting allowance of each.
#[utoipa::path(get, path = "/v1/accounts", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = AccountList), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 501, description = "`publishing_not_configured`", body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(p): Caller,
) -> ApiResult<axum::Json<AccountList>> {
    let s = social(&state)?;
    let mut items = Vec::new();
    for a in accounts::list(&*state.store, &p.tenant.id).await? {
        let today = allowance_of(&state, s, &p, &a).await?;
        items.push(AccountView::of(&a, Some(today)));
    }
    Ok(axum::Json(AccountList { items }))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AccountDetail {
    #[serde(flatten)]
    account: AccountView,
    /// What the creator may do now, as the platform says (privacy levels to choose from,
    /// switches the creator turned off, longest video); `null` when the platform could not be
    /// asked (see `creator_error`).
    creator: Option<CreatorView>,
    creator_error: Option<ErrorBody>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct CreatorView {
    display_name: String,
    avatar_url: Option<String>,
    privacy_options: Vec<String>,
    comment_disabled: bool,
    duet_disabled: bool,
    stitch_disabled: bool,
    max_duration_s: Option<f64>,
    /// Why the creator cannot post now, when they cannot.
    cannot_post: Option<String>,
    /// What the platform applies whatever is asked (an unaudited app's posts stay private).
    restriction: Option<String>,
}

impl From<CreatorInfo> for CreatorView {
    fn from(c: CreatorInfo) -> Self {
        Self {
            display_name: c.display_name,
            avatar_url: c.avatar_url,
            privacy_options: c.privacy_options,
            comment_disabled: c.comment_disabled,
            duet_disabled: c.duet_disabled,
            stitch_disabled: c.stitch_disabled,
            max_duration_s: c.max_duration_s,
            cannot_post: c.cannot_post,
            restriction: c.restriction,
        }
    }
}

/// One account, with what its creator may do now (asked of the platform).
#[utoipa::path(get, path = "/v1/accounts/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100)),
    responses((status = 200, body = AccountDetail), (status = 401, body = ErrorBody),
        (status = 404, description = "No such account in this workspace", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 501, description = "`publishing_not_configured`", body = ErrorBody), (status = 502, description = "The platform did not answer", body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<AccountDetail>> {
    let s = social(&state)?;
    let account = accounts::get(&*state.store, &p.tenant.id, &id).await?;
    let today = allowance_of(&state, s, &p, &account).await?;
    let creator = match s.publishers.get(account.platform) {
        None => Err(viral_core::Error::Platform(
            viral_core::ports::PublishError::NotConfigured(format!(
                "{} is not configured here",
                account.platform.as_str()
            )),
        )),
        Some(publisher) => creator_info(&state, s, &*publisher, &account).await,
    };
    let (creator, creator_error) = match creator {
        Ok(c) => (Some(CreatorView::from(c)), None),
        Err(e) => (None, Some(ApiError::from(e).body())),
    };
    let account = accounts::get(&*state.store, &p.tenant.id, &id).await?;
    Ok(axum::Json(AccountDetail {
        account: AccountView::of(&account, Some(today)),
        creator,
        creator_error,
    }))
}

async fn creator_info(
    state: &AppState,
    s: &SocialState,
    publisher: &dyn Publisher,
    account: &Account,
) -> viral_core::error::Result<CreatorInfo> {
    use viral_core::domain::publish_limits::PlatformCall;
    if let Some(wait) = viral_core::service::publishing::call_budget(
        &*state.store,
        &*state.clock,
        account,
        PlatformCall::CreatorInfo,
    )
    .await?
    {
        return Err(viral_core::ports::PublishError::Limited {
            code: "rate_limit_exceeded".into(),
            message: format!(
                "the platform allows this account a few of these a minute; ask again in {wait} s"
            ),
            retry_after_secs: wait,
        }
        .into());
    }
    let (account, access) = accounts::access_token(
        &*state.store,
        &*s.vault,
        &*state.clock,
        publisher,
        account,
        false,
    )
    .await?;
    match publisher.creator_info(&access, &account).await {
        Err(viral_core::ports::PublishError::Unauthorized(_)) => {
            let (account, access) = accounts::access_token(
                &*state.store,
                &*s.vault,
                &*state.clock,
                publisher,
                &account,
                true,
            )
            .await?;
            Ok(publisher.creator_info(&access, &account).await?)
        }
        other => Ok(other?),
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Removed {
    id: String,
    removed: bool,
    /// Whether the platform confirmed the token is revoked (`false` where the platform has
    /// no revoke call or did not answer: remove the app in the platform's settings too).
    revoked_at_platform: bool,
}

/// Revokes the account's token at the platform where it can, then forgets the account and
/// its tokens. Its posts not yet begun fail with `account_removed`.
#[utoipa::path(delete, path = "/v1/accounts/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100)),
    responses((status = 200, body = Removed), (status = 401, body = ErrorBody),
        (status = 403, description = "The key lacks publish:write", body = ErrorBody),
        (status = 404, description = "No such account in this workspace", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 501, description = "`publishing_not_configured`", body = ErrorBody), (status = 502, description = "The platform did not answer", body = ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Removed>> {
    p.require(Scope::PublishWrite)?;
    let s = social(&state)?;
    let account = accounts::get(&*state.store, &p.tenant.id, &id).await?;
    let publisher = s.publishers.get(account.platform);
    let (account, revoked) = accounts::revoke_and_remove(
        &*state.store,
        &*s.vault,
        &*state.clock,
        publisher.as_deref(),
        &p.tenant.id,
        &account.id,
    )
    .await?;
    Ok(axum::Json(Removed {
        id: account.id,
        removed: true,
        revoked_at_platform: revoked,
    }))
}
