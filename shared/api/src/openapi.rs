//! The OpenAPI 3.1 document, generated from the handlers' annotations.
//!
//! The server answers `/openapi.json` with the committed `shared/api/openapi.json`, so the
//! Lambdas do not carry the generator; a test keeps the file equal to what the annotations
//! generate (`VIRAL_UPDATE_OPENAPI=1 cargo test -p viral-api openapi` rewrites it).

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    accounts, analytics, api_keys, autopilot, billing, concepts, health, me, posts, providers,
    sessions, settings, usage, videos, webhooks,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "viral API",
        description = "Trends to short vertical videos. Authenticate with `Authorization: Bearer <API key>` \
                       (`vk_live_…`) or an OIDC token. Errors are `{\"error\":{\"code\",\"message\",\"request_id\"}}`."
    ),
    paths(
        health::healthz,
        me::me,
        settings::get,
        settings::put,
        api_keys::create,
        api_keys::list,
        api_keys::revoke,
        usage::usage,
        videos::create,
        videos::estimate,
        videos::get,
        videos::list,
        videos::events,
        providers::list,
        concepts::create,
        concepts::list,
        concepts::get,
        concepts::get_batch,
        concepts::feedback,
        concepts::insights,
        billing::checkout,
        billing::portal,
        billing::get,
        billing::webhook,
        sessions::create,
        accounts::connect,
        accounts::callback,
        accounts::list,
        accounts::get,
        accounts::remove,
        posts::publish,
        posts::list,
        posts::get,
        posts::cancel,
        posts::metrics,
        analytics::get,
        webhooks::create,
        webhooks::list,
        webhooks::get,
        webhooks::delete,
        webhooks::deliveries,
        webhooks::retry,
        autopilot::put,
        autopilot::get,
        autopilot::pause,
        autopilot::runs,
        autopilot::run,
        autopilot::approve,
        autopilot::reject,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "meta", description = "Health and the API description"),
        (name = "account", description = "The caller's tenant, its settings and usage"),
        (name = "api-keys", description = "Creating, listing and revoking API keys"),
        (name = "videos", description = "Video jobs: start one, follow it, fetch the MP4"),
        (name = "concepts", description = "Concepts from trends, feedback, and what the learner believes"),
        (name = "billing", description = "Subscriptions on Stripe: checkout, portal, plan and period, webhooks"),
        (name = "accounts", description = "Connected TikTok, YouTube, Instagram and sandbox accounts"),
        (name = "posts", description = "Publishing videos to connected accounts, and following the posts"),
        (name = "webhooks", description = "Signed event deliveries to your endpoints"),
        (name = "autopilot", description = "Runs a channel within a daily budget: settings, the kill switch, the audit feed, review"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The committed document, as served.
pub const DOCUMENT: &str = include_str!("../openapi.json");

/// The document as the annotations generate it, with what annotations cannot say.
pub fn document() -> String {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    tighten(&mut doc);
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| String::from("{}"))
}

/// Path and method of an operation, the statuses whose answers carry the links, and each
/// target operation with where its `id` comes from.
type Links = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

/// An operation's id: its function's name in camel case (`get-concept` → `getConcept`).
fn operation_id(route: crate::Route) -> String {
    let mut id = String::new();
    let mut upper = false;
    for c in route.function_name().chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            id.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            id.push(c);
        }
    }
    id
}

/// What the annotations cannot express, so that the document describes exactly what the
/// server takes and answers:
/// - every operation with a JSON body may answer 400 (not JSON), 408 (body too slow, local
///   server), 413 (too large) and 415 (not `application/json`);
/// - every operation may answer 414 or 431 when its request line or head is over what the
///   server reads (64 KiB on `viral up`), which long enough query strings reach;
/// - a video is made from `concept_id` or `prompt`, exactly one of them;
/// - each operation's id is unique (its function's name), and what one operation creates is
///   linked to the operations that read it.
fn tighten(doc: &mut serde_json::Value) {
    use serde_json::json;
    for route in crate::Route::ALL {
        let pointer = format!(
            "/paths/{}/{}",
            route.path().replace('~', "~0").replace('/', "~1"),
            route.method().to_lowercase()
        );
        if let Some(op) = doc.pointer_mut(&pointer) {
            op["operationId"] = json!(operation_id(route));
        }
    }
    let links: [Links; 3] = [
        (
            "/v1/concepts",
            "post",
            &["200", "201"],
            &[
                ("getConceptBatch", "$response.body#/batch_id"),
                ("getConcept", "$response.body#/concepts/0/id"),
                ("postFeedback", "$response.body#/concepts/0/id"),
            ],
        ),
        (
            "/v1/videos",
            "post",
            &["202"],
            &[
                ("getVideo", "$response.body#/job_id"),
                ("getVideoEvents", "$response.body#/job_id"),
            ],
        ),
        (
            "/v1/api-keys",
            "post",
            &["201"],
            &[("revokeApiKey", "$response.body#/id")],
        ),
    ];
    for (path, method, statuses, targets) in links {
        for status in statuses {
            let pointer = format!(
                "/paths/{}/{method}/responses/{status}",
                path.replace('/', "~1")
            );
            if let Some(response) = doc.pointer_mut(&pointer) {
                let mut all = serde_json::Map::new();
                for (op, value) in targets {
                    all.insert(
                        (*op).to_owned(),
                        json!({"operationId": op, "parameters": {"id": value}}),
                    );
                }
                response["links"] = serde_json::Value::Object(all);
            }
        }
    }
    let error = json!({"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}});
    let body_errors = [
        (
            "400",
            "`invalid_json`: the body is not JSON of the documented shape",
        ),
        ("408", "`request_timeout`: the body did not arrive in time"),
        (
            "413",
            "`payload_too_large`: the body is larger than the route takes",
        ),
        (
            "415",
            "`unsupported_media_type`: send `Content-Type: application/json`",
        ),
    ];
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for item in paths.values_mut() {
            let Some(ops) = item.as_object_mut() else {
                continue;
            };
            for op in ops.values_mut() {
                let json_body = op
                    .pointer("/requestBody/content/application~1json")
                    .is_some();
                let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut())
                else {
                    continue;
                };
                responses.entry("414").or_insert_with(|| {
                    json!({"description": "The request line (path and query) is longer than the server reads; nothing was handled"})
                });
                responses.entry("431").or_insert_with(|| {
                    json!({"description": "The request line and headers together are larger than the server reads (64 KiB on `viral up`); nothing was handled"})
                });
                if json_body {
                    for (status, text) in body_errors {
                        responses.entry(status).or_insert_with(|| {
                            let mut e = error.clone();
                            e["description"] = json!(text);
                            e
                        });
                    }
                }
            }
        }
    }
    if let Some(video) = doc.pointer_mut("/components/schemas/CreateVideoRequest") {
        video["oneOf"] = json!([
            {"required": ["prompt"], "properties": {"prompt": {"type": "string"}, "concept_id": {"type": "null"}}},
            {"required": ["concept_id"], "properties": {"concept_id": {"type": "string"}, "prompt": {"type": "null"}}}
        ]);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// A string schema the server's rules bound: a length, a closed set, or a pattern that
    /// cannot repeat without end.
    fn bounded_string(s: &Value) -> bool {
        s.get("maxLength").is_some()
            || s.get("enum").is_some()
            || s.get("const").is_some()
            || s["pattern"]
                .as_str()
                .is_some_and(|p| p.starts_with('^') && p.ends_with('$') && !p.contains(['*', '+']))
    }

    /// Walks a request schema; records strings without a bound and lists without a length.
    fn unbounded(doc: &Value, s: &Value, at: &str, seen: &mut Vec<String>, out: &mut Vec<String>) {
        if let Some(r) = s["$ref"].as_str() {
            let name = r.rsplit('/').next().unwrap_or_default().to_owned();
            if !seen.contains(&name) {
                seen.push(name.clone());
                unbounded(doc, &doc["components"]["schemas"][&name], &name, seen, out);
            }
            return;
        }
        let types: Vec<&str> = match &s["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if types.contains(&"string") && !bounded_string(s) {
            out.push(at.to_owned());
        }
        if types.contains(&"array") {
            if s.get("maxItems").is_none() {
                out.push(format!("{at} (no maxItems)"));
            }
            unbounded(doc, &s["items"], &format!("{at}[]"), seen, out);
        }
        if let Some(props) = s["properties"].as_object() {
            for (name, p) in props {
                unbounded(doc, p, &format!("{at}.{name}"), seen, out);
            }
        } else {
            // `oneOf` beside `properties` only narrows fields already bounded there.
            for key in ["oneOf", "anyOf", "allOf"] {
                for (i, branch) in s[key].as_array().into_iter().flatten().enumerate() {
                    unbounded(doc, branch, &format!("{at}/{key}{i}"), seen, out);
                }
            }
        }
    }

    /// Every string a request carries (path, query, header, body, and the items of lists)
    /// has a documented bound, and every list a length: generated clients and fuzzers see
    /// the limits the server enforces.
    #[test]
    fn every_string_a_request_carries_is_bounded() {
        let doc: Value = serde_json::from_str(super::DOCUMENT).unwrap();
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for p in op["parameters"].as_array().into_iter().flatten() {
                    let at = format!("{method} {path} {}", p["name"].as_str().unwrap_or("?"));
                    unbounded(&doc, &p["schema"], &at, &mut seen, &mut out);
                }
                for (_, media) in op["requestBody"]["content"]
                    .as_object()
                    .into_iter()
                    .flatten()
                {
                    let at = format!("{method} {path} body");
                    unbounded(&doc, &media["schema"], &at, &mut seen, &mut out);
                }
            }
        }
        assert!(
            out.is_empty(),
            "request strings or lists without a bound: {out:#?}"
        );
    }

    #[test]
    fn openapi_file_matches_the_annotations() {
        let generated = super::document() + "\n";
        if std::env::var_os("VIRAL_UPDATE_OPENAPI").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
            std::fs::write(path, &generated).expect("write openapi.json");
            return;
        }
        assert!(
            generated == super::DOCUMENT,
            "shared/api/openapi.json is stale: run VIRAL_UPDATE_OPENAPI=1 cargo test -p viral-api openapi"
        );
    }
}
