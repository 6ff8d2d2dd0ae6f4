//! Serving the dashboard from `viral up`, and writing it out for S3.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::assets::Bundle;
use crate::config::ClientConfig;

/// The dashboard's pages: each serves `index.html`, which routes in the browser. Deep links
/// work because every one of them is listed (unknown paths stay the API's JSON 404).
pub const PAGES: &[&str] = &[
    "/",
    "/dashboard",
    "/signin",
    "/auth/callback",
    "/overview",
    "/concepts",
    "/concepts/{id}",
    "/videos",
    "/videos/new",
    "/videos/{id}",
    "/providers",
    "/insights",
    "/billing",
    "/billing/done",
    "/keys",
    "/docs",
    "/accounts",
    "/posts",
    "/analytics",
    "/webhooks",
    "/autopilot",
    "/settings",
];

/// Hashed assets never change under their name.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `index.html` and `config.json` are checked on every load, so a deploy shows at once.
const REVALIDATE: &str = "no-cache";

/// The Content-Security-Policy: our own origin only, no inline script or style; `connect` and
/// `media` add the API's, the OIDC token endpoint's and the media CDN's origins when those are
/// elsewhere.
pub fn content_security_policy(connect: &[String], media: &[String]) -> String {
    let join = |extra: &[String]| {
        let mut s = String::from("'self'");
        for o in extra {
            s.push(' ');
            s.push_str(o);
        }
        s
    };
    // Images from any https origin: connected accounts' avatars come from each platform's
    // CDN (TikTok's, Google's, Meta's hosts change); an image runs nothing.
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; \
         font-src 'self'; connect-src {}; media-src {}; manifest-src 'self'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
        join(connect),
        join(media)
    )
}

/// The headers every dashboard response carries.
pub fn security_headers(csp: &str) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = vec![
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ];
    if let Ok(v) = HeaderValue::from_str(csp) {
        out.push((header::CONTENT_SECURITY_POLICY, v));
    }
    out
}

#[derive(Clone)]
struct Served {
    config_json: String,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Served {
    fn respond(&self, content_type: &'static str, cache: &'static str, body: Vec<u8>) -> Response {
        let mut resp = body.into_response();
        let h: &mut HeaderMap = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        for (k, v) in &self.headers {
            h.insert(k.clone(), v.clone());
        }
        resp
    }
}

/// The dashboard's routes for `viral up`: its pages, `/assets/{name}` and `/config.json`.
/// `media` are the origins video URLs point at when they are not this server (S3, the CDN).
pub fn router(config: &ClientConfig, media: &[String]) -> Router {
    let csp = content_security_policy(&config.connect_origins(), media);
    let served = Served {
        config_json: serde_json::to_string(config).unwrap_or_else(|_| "{}".into()),
        headers: security_headers(&csp),
    };
    let mut r = Router::new();
    for page in PAGES {
        r = r.route(page, get(index));
    }
    r.route("/assets/{name}", get(asset))
        .route("/config.json", get(config_json))
        .with_state(served)
}

async fn index(State(s): State<Served>) -> Response {
    s.respond(
        "text/html; charset=utf-8",
        REVALIDATE,
        Bundle::get().index_html.clone().into_bytes(),
    )
}

async fn config_json(State(s): State<Served>) -> Response {
    s.respond(
        "application/json",
        REVALIDATE,
        s.config_json.clone().into_bytes(),
    )
}

async fn asset(State(s): State<Served>, UrlPath(name): UrlPath<String>) -> Response {
    match Bundle::get().assets.get(&name) {
        Some(a) => s.respond(a.content_type, IMMUTABLE, a.bytes.clone()),
        None => {
            let mut resp = s.respond(
                "text/plain; charset=utf-8",
                REVALIDATE,
                b"no such file; reload the page".to_vec(),
            );
            *resp.status_mut() = StatusCode::NOT_FOUND;
            resp
        }
    }
}

/// One file of the dashboard for a static host, with the headers to store it with.
#[derive(Clone, Debug)]
pub struct StaticFile {
    /// Path under the site's root, e.g. `assets/app.0a1b2c3d4e.js`.
    pub path: String,
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub cache_control: &'static str,
}

/// Every file of the dashboard, in upload order: the hashed assets first, `index.html` last, so
/// a visitor during a deploy never gets an index naming files not there yet.
pub fn static_files(config: &ClientConfig) -> Vec<StaticFile> {
    let bundle = Bundle::get();
    let mut out: Vec<StaticFile> = bundle
        .assets
        .values()
        .map(|a| StaticFile {
            path: format!("assets/{}", a.name),
            bytes: a.bytes.clone(),
            content_type: a.content_type,
            cache_control: IMMUTABLE,
        })
        .collect();
    out.push(StaticFile {
        path: "config.json".into(),
        bytes: serde_json::to_vec_pretty(config).unwrap_or_else(|_| b"{}".to_vec()),
        content_type: "application/json",
        cache_control: REVALIDATE,
    });
    out.push(StaticFile {
        path: "index.html".into(),
        bytes: bundle.index_html.clone().into_bytes(),
        content_type: "text/html; charset=utf-8",
        cache_control: REVALIDATE,
    });
    out
}

/// Writes the dashboard into `dir` for a static host; returns what it wrote.
pub fn export(dir: &Path, config: &ClientConfig) -> std::io::Result<Vec<(PathBuf, &'static str)>> {
    let mut written = Vec::new();
    for f in static_files(config) {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &f.bytes)?;
        written.push((path, f.cache_control));
    }
    Ok(written)
}
