//! The OpenAPI 3.1 document, generated from the handlers' annotations.
//!
//! The server answers `/openapi.json` with the committed `shared/api/openapi.json`, so the
//! Lambdas do not carry the generator; a test keeps the file equal to what the annotations
//! generate (`VIRAL_UPDATE_OPENAPI=1 cargo test -p viral-api openapi` rewrites it).

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{api_keys, billing, concepts, health, me, providers, usage, videos};

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
        api_keys::create,
        api_keys::list,
        api_keys::revoke,
        usage::usage,
        videos::create,
        videos::get,
        videos::list,
        videos::events,
        providers::list,
        concepts::create,
        concepts::list,
        concepts::get,
        concepts::feedback,
        concepts::insights,
        billing::checkout,
        billing::portal,
        billing::get,
        billing::webhook,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "meta", description = "Health and the API description"),
        (name = "account", description = "The caller's tenant and usage"),
        (name = "api-keys", description = "Creating, listing and revoking API keys"),
        (name = "videos", description = "Video jobs: start one, follow it, fetch the MP4"),
        (name = "concepts", description = "Concepts from trends, feedback, and what the learner believes"),
        (name = "billing", description = "Subscriptions on Stripe: checkout, portal, plan and period, webhooks"),
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

/// The document as the annotations generate it.
pub fn document() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| String::from("{}"))
}

#[cfg(test)]
mod tests {
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
