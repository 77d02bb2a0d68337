//! The OpenAPI 3.1 document of `/api/v1`, generated — never written by hand.
//!
//! Paths, methods and operations come from the handlers' `#[utoipa::path]`
//! annotations, registered by [`crate::api::routes`] together with the routes
//! themselves; schemas come from the types in `sealdrop-api` (feature
//! `openapi`). `docs/openapi.json` is a committed copy: a test fails when the
//! two differ, so a change to a route or a type shows in review.

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use sealdrop_api::routes;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, path::HttpMethod};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "sealdrop broker API",
        description = "Authenticates users, hands out KMS data keys and presigned S3 requests. \
                       File bytes never pass through the broker. See docs/api.md for the flows.",
        license(name = "Apache-2.0"),
    ),
    // The error body of `crate::error::Failures`, which routes reference.
    components(schemas(sealdrop_api::ErrorBody, sealdrop_api::ErrorDetail, sealdrop_api::ErrorCode)),
    modifiers(&BearerAuth, &DocumentItself),
    tags(
        (name = "account", description = "Who the caller is"),
        (name = "uploads", description = "Client- or server-side encrypted uploads"),
        (name = "objects", description = "Listing, downloading, deleting"),
        (name = "shares", description = "Share links: create, list, revoke"),
        (name = "requests", description = "File requests: links that let outsiders upload into your inbox"),
        (name = "public", description = "What a share link's recipient calls: no account needed; the link's id and secret travel in the body, never in a URL"),
        (name = "system", description = "Health, readiness, metrics, configuration"),
    )
)]
struct ApiDoc;

/// `Authorization: Bearer <sealdrop token or OIDC JWT>`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A sealdrop API token (sdt_…), when configured an OIDC JWT, or on the upload \
                         routes a file request link's credential (sdr_<id>.<secret>)",
                    ))
                    .build(),
            ),
        );
    }
}

/// The route serving this document, described in it too.
struct DocumentItself;

impl Modify for DocumentItself {
    fn modify(&self, openapi: &mut Document) {
        let operation = utoipa::openapi::path::OperationBuilder::new()
            .operation_id(Some("openapi"))
            .tag("system")
            .summary(Some("This OpenAPI 3.1 document"))
            .response(
                "200",
                utoipa::openapi::ResponseBuilder::new()
                    .description("The document")
                    .content(
                        "application/json",
                        utoipa::openapi::ContentBuilder::new().build(),
                    )
                    .build(),
            )
            .build();
        openapi
            .paths
            .add_path_operation(routes::OPENAPI, vec![HttpMethod::Get], operation);
    }
}

/// The API's router and its document, built from the same route list.
pub fn split(api: OpenApiRouter<AppState>) -> (Router<AppState>, Document) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(api)
        .split_for_parts()
}

/// The document as served and committed (pretty JSON, trailing newline).
pub fn render(document: &Document) -> String {
    let mut text = document
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// `router` plus `GET /api/v1/openapi.json` serving `document`.
pub fn serve(router: Router<AppState>, document: &Document) -> Router<AppState> {
    let text: Arc<str> = render(document).into();
    router.route(
        routes::OPENAPI,
        get(move || {
            let text = Arc::clone(&text);
            async move {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    text.to_string(),
                )
            }
        }),
    )
}

/// The generated document, for tools (`cargo xtask openapi`) and tests.
pub fn document() -> Document {
    split(crate::api::routes()).1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/openapi.json`, relative to this crate.
    const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

    #[test]
    fn the_committed_document_is_the_generated_one() {
        let generated = render(&document());
        if std::env::var_os("SEALDROP_BLESS").is_some() {
            std::fs::write(COMMITTED, &generated).unwrap_or_else(|e| panic!("{COMMITTED}: {e}"));
        }
        let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/openapi.json differs from the document the routes and types generate; \
             review the change and run `SEALDROP_BLESS=1 cargo test -p sealdrop-broker openapi`"
        );
    }

    #[test]
    fn every_route_is_documented_with_resolving_references() {
        let doc: serde_json::Value = serde_json::from_str(&render(&document())).unwrap_or_default();
        assert_eq!(doc["openapi"], "3.1.0");
        for route in [
            routes::CONFIG,
            routes::ME,
            routes::UPLOADS,
            routes::UPLOAD_PARTS,
            routes::UPLOAD_COMPLETE,
            routes::UPLOAD_ABORT,
            routes::OBJECTS,
            routes::OBJECT_INFO,
            routes::OBJECT_OPEN,
            routes::OPENAPI,
            routes::HEALTH,
            routes::READY,
            routes::METRICS,
            routes::SHARES,
            routes::SHARE_REVOKE,
            routes::PUBLIC_SHARE,
            routes::PUBLIC_SHARE_OPEN,
            routes::REQUESTS,
            routes::REQUEST_CLOSE,
            routes::PUBLIC_REQUEST,
        ] {
            assert!(doc["paths"][route].is_object(), "{route} is not documented");
        }
        // The recipient's calls are public; the owner's are not.
        for public in [
            routes::PUBLIC_SHARE,
            routes::PUBLIC_SHARE_OPEN,
            routes::PUBLIC_REQUEST,
        ] {
            assert!(
                doc["paths"][public]["post"]["security"].is_null(),
                "{public}"
            );
        }
        assert!(doc["paths"][routes::SHARES]["post"]["security"].is_array());
        assert!(doc["paths"][routes::OBJECTS]["delete"].is_object());
        let text = doc.to_string();
        for piece in text.split("\"$ref\":\"#/components/").skip(1) {
            let path = piece.split('"').next().unwrap_or_default();
            let mut node = &doc["components"];
            for part in path.split('/') {
                node = &node[part];
            }
            assert!(!node.is_null(), "dangling $ref {path}");
        }
    }
}
