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
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
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
pub fn router(config: &ClientConfig) -> Router {
    let csp = content_security_policy(&config.connect_origins(), &[]);
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

/// Writes the dashboard for a static host: `index.html`, `config.json` and `assets/<hashed>`.
/// Returns each file written with the `Cache-Control` it should be uploaded with.
pub fn export(dir: &Path, config: &ClientConfig) -> std::io::Result<Vec<(PathBuf, &'static str)>> {
    let bundle = Bundle::get();
    std::fs::create_dir_all(dir.join("assets"))?;
    let mut written = Vec::new();
    let index = dir.join("index.html");
    std::fs::write(&index, &bundle.index_html)?;
    written.push((index, REVALIDATE));
    let cfg = dir.join("config.json");
    let json = serde_json::to_string_pretty(config).map_err(std::io::Error::other)?;
    std::fs::write(&cfg, json)?;
    written.push((cfg, REVALIDATE));
    for a in bundle.assets.values() {
        let p = dir.join("assets").join(&a.name);
        std::fs::write(&p, &a.bytes)?;
        written.push((p, IMMUTABLE));
    }
    Ok(written)
}
