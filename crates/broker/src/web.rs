//! Serving the built web app (`dist/`) with a strict Content Security Policy.

use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use tower_http::services::{ServeDir, ServeFile};

/// The policy for the app: only our own scripts (and wasm), our own styles, and
/// connections to the broker, the storage origin and, with single sign-on, the
/// identity provider (its discovery document and token endpoint). No inline
/// script, no third parties, no framing.
pub fn content_security_policy(storage_origin: &str, identity_provider: Option<&str>) -> String {
    let provider = identity_provider.and_then(origin_of).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; \
         connect-src 'self' {storage_origin}{provider}; img-src 'self' data: blob:; style-src 'self'; \
         font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// ` scheme://host[:port]` of an http(s) URL, for a policy's source list.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let safe = |c: char| c.is_ascii_alphanumeric() || ".-:[]".contains(c);
    (matches!(scheme, "http" | "https") && !authority.is_empty() && authority.chars().all(safe))
        .then(|| format!(" {scheme}://{authority}"))
}

/// The app at `/` (and at `/s/`, for share links' pages), with single-page
/// fallback to `index.html`.
pub fn app(root: &Path, csp: String) -> Router {
    let index = root.join("index.html");
    let files = ServeDir::new(root)
        .append_index_html_on_directories(true)
        .not_found_service(ServeFile::new(index));
    let csp = HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static("default-src 'self'"));
    // A share link's page, `/s/<id>`, and a file request's, `/r/<id>`, are the
    // app too; their relative asset URLs (`./boot.js`, …) resolve under `/s/`
    // and `/r/`, so those folders serve the app's files.
    Router::new()
        .nest_service("/s", files.clone())
        .nest_service("/r", files.clone())
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
    // A window the app opens, or that opens it, gets no handle on it: a
    // provider's page or a link's target cannot script or navigate the app.
    headers.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_admits_the_identity_provider_by_origin_only() {
        let csp = content_security_policy("http://store", Some("https://idp.example/realms/x"));
        assert!(
            csp.contains("connect-src 'self' http://store https://idp.example;"),
            "{csp}"
        );
        let csp = content_security_policy("http://store", None);
        assert!(csp.contains("connect-src 'self' http://store;"), "{csp}");
        for bad in [
            "idp.example",
            "javascript://x",
            "https://a b/",
            "https://x;y",
        ] {
            assert_eq!(origin_of(bad), None, "{bad}");
        }
        assert_eq!(
            origin_of("http://127.0.0.1:4000"),
            Some(" http://127.0.0.1:4000".into())
        );
    }
}
