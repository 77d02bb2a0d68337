//! Serving the built web app (`dist/`) with a strict Content Security Policy.

use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use tower_http::services::{ServeDir, ServeFile};

/// The policy for the app: only our own scripts (and wasm), our own styles, and
/// connections to the broker and the storage origin. No inline script, no
/// third parties, no framing.
pub fn content_security_policy(storage_origin: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; \
         connect-src 'self' {storage_origin}; img-src 'self' data: blob:; style-src 'self'; \
         font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// The app at `/`, with single-page fallback to `index.html`.
pub fn app(root: &Path, csp: String) -> Router {
    let index = root.join("index.html");
    let files = ServeDir::new(root)
        .append_index_html_on_directories(true)
        .not_found_service(ServeFile::new(index));
    let csp = HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static("default-src 'self'"));
    Router::new()
        .fallback_service(files)
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let csp = csp.clone();
            async move { static_headers(req, next, csp).await }
        }))
}

async fn static_headers(request: Request, next: Next, csp: HeaderValue) -> Response {
    // Trunk names assets by content hash: cache those forever, never the page.
    let immutable = request.uri().path().rsplit('/').next().is_some_and(|file| {
        file.split('-')
            .next_back()
            .is_some_and(|tail| tail.len() > 16)
            && file.contains('.')
    });
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    response
}

/// What `/` shows when no web app is configured.
pub fn not_built() -> Router {
    Router::new().fallback(|| async {
        Html(
            "<!doctype html><meta charset=utf-8><title>sealdrop</title>\
             <p>The sealdrop API is running, but no web app is configured. Build it with \
             <code>cargo xtask run</code> or pass <code>--web-root dist</code>.</p>",
        )
        .into_response()
    })
}
