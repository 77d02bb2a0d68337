//! The broker's HTTP contract on the embedded default — authentication, policy,
//! bad input and abuse limits, every failure a JSON error with a stable code —
//! driven in-process: the router is called with `tower::ServiceExt::oneshot`;
//! only presigned requests cross a socket, to the embedded store this same
//! process serves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use sealdrop_broker::Config;
use sealdrop_server::{Deployment, Serving};
use serde_json::{Value, json};
use tower::ServiceExt;

/// A deployment on an empty temporary data directory, driven in-process.
struct Api {
    router: Router,
    state: sealdrop_broker::AppState,
    admin_token: String,
    data_dir: tempfile::TempDir,
    _serving: Serving,
}

impl Api {
    /// The embedded default, with `SEALDROP_*` settings as `sealdrop serve`
    /// reads them from the environment.
    async fn start(env: &[(&str, &str)]) -> Api {
        let data_dir = tempfile::tempdir().unwrap();
        let env: HashMap<&str, &str> = env.iter().copied().collect();
        let mut config = Config {
            data_dir: data_dir.path().to_owned(),
            listen: "127.0.0.1:0".parse().unwrap(),
            ..Config::default()
        };
        config.store.listen = "127.0.0.1:0".parse().unwrap();
        config
            .apply_env(|name| env.get(name).map(|v| (*v).to_owned()))
            .unwrap();
        let mut deployment = Deployment::start(config).await.unwrap();
        let admin_token = deployment.take_first_login().unwrap().to_string();
        let state = deployment.state().clone();
        let (router, serving) = deployment.into_router(None);
        Api {
            router,
            state,
            admin_token,
            data_dir,
            _serving: serving,
        }
    }

    async fn add_user(&self, name: &str) -> String {
        self.state
            .db
            .add_user(name, None)
            .await
            .unwrap()
            .token
            .to_string()
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        (status, headers, body)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        self.send(request.unwrap()).await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let (status, _, body) = self.call(Method::POST, path, Some(token), Some(body)).await;
        (status, body)
    }

    /// Whether storage holds `key`.
    async fn exists(&self, key: &str) -> bool {
        self.state.storage.head(key).await.unwrap().is_some()
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no code>")
}

#[tokio::test]
async fn every_call_needs_a_valid_unrevoked_token() {
    let api = Api::start(&[]).await;
    let (status, headers, body) = api.call(Method::GET, "/api/v1/me", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "unauthenticated");
    assert_eq!(headers["www-authenticate"], "Bearer");
    assert_eq!(headers["cache-control"], "no-store");

    for bad in ["sdt_invalid", "not-a-token", "a.b.c"] {
        let (status, _, body) = api.call(Method::GET, "/api/v1/me", Some(bad), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
        assert_eq!(code(&body), "unauthenticated");
    }

    let bob = api.add_user("bob").await;
    let (status, _, body) = api.call(Method::GET, "/api/v1/me", Some(&bob), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"], "bob");
    assert_eq!(body["prefix"], "bob/");
    api.state.db.revoke_user_tokens("bob", None).await.unwrap();
    let (status, _, body) = api.call(Method::GET, "/api/v1/me", Some(&bob), None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "revoked tokens stop working at once"
    );
    assert_eq!(code(&body), "unauthenticated");

    // Public endpoints stay public.
    for path in [
        "/healthz",
        "/readyz",
        "/api/v1/openapi.json",
        "/api/v1/config",
    ] {
        let (status, _, _) = api.call(Method::GET, path, None, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn disabled_accounts_and_expired_tokens_are_refused_and_say_why() {
    let api = Api::start(&[]).await;
    let api = &api;
    let me = |token: String| async move {
        let (status, _, body) = api
            .call(Method::GET, "/api/v1/me", Some(&token), None)
            .await;
        (
            status,
            body["error"]["message"].as_str().unwrap_or("").to_owned(),
        )
    };
    let carol = api.add_user("carol").await;
    let laptop = api
        .state
        .db
        .issue_token("carol", Some("laptop"), None)
        .await
        .unwrap()
        .token
        .to_string();
    assert_eq!(me(carol.clone()).await.0, StatusCode::OK);

    api.state.db.set_disabled("carol", true).await.unwrap();
    for token in [&carol, &laptop] {
        let (status, message) = me(token.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(message.contains("disabled"), "{message}");
    }
    api.state.db.set_disabled("carol", false).await.unwrap();
    assert_eq!(
        me(laptop).await.0,
        StatusCode::OK,
        "enabling restores tokens"
    );

    let brief = api
        .state
        .db
        .issue_token("carol", None, Some(std::time::Duration::from_millis(1)))
        .await
        .unwrap()
        .token
        .to_string();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (status, message) = me(brief).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message.contains("expired"), "{message}");
}

#[tokio::test]
async fn a_database_that_is_gone_is_a_503_not_a_500() {
    let api = Api::start(&[]).await;
    let admin = api.admin_token.clone();
    api.state.db.close().await;
    let (status, _, body) = api
        .call(Method::GET, "/api/v1/me", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(code(&body), "unavailable");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("database"), "{message}");
    assert!(
        !message.contains(&api.data_dir.path().display().to_string()),
        "where the database is stays in the log: {message}"
    );
    let (status, _, body) = api.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["database"]["ok"], false);
    assert_eq!(body["storage"]["ok"], true);
}

#[tokio::test]
async fn users_reach_only_their_own_prefix_and_names_are_validated() {
    let api = Api::start(&[]).await;
    let alice = api.add_user("alice").await;
    let bob = api.add_user("bob").await;

    // Bob creates an object; Alice can do nothing with it.
    let (status, created) = api
        .post(
            "/api/v1/uploads",
            &bob,
            json!({"name": "big.bin", "size": 40u64 << 20, "mode": "cse"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let key = created["key"].as_str().unwrap();
    assert_eq!(key, "bob/big.bin");
    let upload_id = created["transfer"]["upload_id"].as_str().unwrap();

    for (path, body) in [
        (
            "/api/v1/uploads",
            json!({"key": "bob/mine.bin", "size": 1, "mode": "cse"}),
        ),
        ("/api/v1/objects/open", json!({"key": key})),
        (
            "/api/v1/uploads/parts",
            json!({"key": key, "upload_id": upload_id, "part_numbers": [1]}),
        ),
        (
            "/api/v1/uploads/complete",
            json!({"key": key, "upload_id": upload_id, "parts": [{"part_number": 1, "etag": "x"}]}),
        ),
        (
            "/api/v1/uploads/abort",
            json!({"key": key, "upload_id": upload_id}),
        ),
    ] {
        let (status, body) = api.post(path, &alice, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(code(&body), "forbidden");
    }
    for method in [Method::DELETE, Method::GET] {
        let path = if method == Method::GET {
            "/api/v1/objects/info?key=bob%2Fbig.bin"
        } else {
            "/api/v1/objects?key=bob%2Fbig.bin"
        };
        let (status, _, body) = api.call(method, path, Some(&alice), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(code(&body), "forbidden");
    }
    // Every refusal is in the audit log: who tried what on which key.
    let audit = std::fs::read_to_string(api.data_dir.path().join("audit.log")).unwrap();
    let denied: Vec<serde_json::Value> = audit
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|line: &serde_json::Value| line["user"] == "alice" && line["outcome"] == "denied")
        .collect();
    let actions: Vec<&str> = denied.iter().filter_map(|l| l["action"].as_str()).collect();
    assert_eq!(
        actions,
        [
            "create_upload",
            "open",
            "sign_parts",
            "complete",
            "abort",
            "delete",
            "info"
        ],
        "{audit}"
    );
    assert!(
        denied
            .iter()
            .all(|l| l["key"].as_str().unwrap().starts_with("bob/"))
    );

    // Traversal and malformed names never leave the prefix: 400.
    for name in [
        "../bob/x",
        "a/../../bob/x",
        "a//b",
        "/abs",
        "dir/",
        ".",
        "tab\there",
        "nul\u{0}",
        "",
        "a\u{202E}gpj.exe",
        "zero\u{200B}width",
    ] {
        let (status, body) = api
            .post(
                "/api/v1/uploads",
                &alice,
                json!({"name": name, "size": 1, "mode": "cse"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}: {body}");
        assert_eq!(code(&body), "invalid_name", "{name:?}");
    }
    let (status, body) = api
        .post(
            "/api/v1/objects/open",
            &alice,
            json!({"key": "alice/../bob/big.bin"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // A full key of one's own works like a name; name and key together do not.
    let (status, body) = api
        .post(
            "/api/v1/uploads",
            &alice,
            json!({"key": "alice/by-key.bin", "size": 1, "mode": "sse"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["key"], "alice/by-key.bin");
    let (status, _) = api
        .post(
            "/api/v1/uploads",
            &alice,
            json!({"name": "a", "key": "alice/a", "size": 1, "mode": "sse"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = api
        .post(
            "/api/v1/uploads",
            &alice,
            json!({"name": "x".repeat(2000), "size": 1, "mode": "cse"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body), "invalid_name");
    let (status, body) = api
        .post(
            "/api/v1/uploads",
            &alice,
            json!({"name": "a.txt", "size": 1, "mode": "cse", "content_type": "text/plain\r\nx-amz-meta-evil: 1"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Missing objects are 404; Bob's abort works for Bob.
    let (status, body) = api
        .post("/api/v1/objects/open", &alice, json!({"key": "alice/none"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&body), "not_found");
    let (status, _) = api
        .post(
            "/api/v1/uploads/abort",
            &bob,
            json!({"key": key, "upload_id": upload_id}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn bad_requests_get_json_errors() {
    let api = Api::start(&[]).await;
    let token = api.admin_token.clone();

    // Oversized body: 413.
    let huge = json!({"name": "a", "size": 1, "mode": "cse", "pad": "x".repeat(100_000)});
    let (status, body) = api.post("/api/v1/uploads", &token, huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(code(&body), "too_large");

    // Object over the configured limit: 413.
    let (status, body) = api
        .post(
            "/api/v1/uploads",
            &token,
            json!({"name": "a", "size": u64::MAX, "mode": "cse"}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    // Malformed JSON, wrong types, unknown mode: 400.
    for body in [
        json!({"name": 1}),
        json!({"name": "a", "size": -1, "mode": "cse"}),
        json!({"name": "a", "size": 1, "mode": "rot13"}),
    ] {
        let (status, body) = api.post("/api/v1/uploads", &token, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(code(&body), "bad_request");
    }
    let (status, _, body) = api
        .send(
            Request::post("/api/v1/uploads")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body), "bad_request");

    // Unknown route and wrong method: JSON too.
    let (status, _, body) = api
        .call(Method::GET, "/api/v1/nope", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&body), "not_found");
    let (status, _, body) = api
        .call(Method::PUT, "/api/v1/uploads", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(body["error"]["message"].is_string());

    // Existing name without overwrite: 409.
    let (status, created) = api
        .post(
            "/api/v1/uploads",
            &token,
            json!({"name": "dup", "size": 0, "mode": "sse"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let request = &created["transfer"]["request"];
    let mut put = reqwest::Client::new().put(request["url"].as_str().unwrap());
    for (k, v) in request["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    assert!(put.body("").send().await.unwrap().status().is_success());
    let (status, body) = api
        .post(
            "/api/v1/uploads",
            &token,
            json!({"name": "dup", "size": 0, "mode": "sse"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&body), "conflict");
    let (status, _) = api
        .post(
            "/api/v1/uploads",
            &token,
            json!({"name": "dup", "size": 0, "mode": "sse", "overwrite": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn listing_cursors_are_the_callers_input_not_an_upstream_failure() {
    // Found by schemathesis: `?cursor=` reached storage and came back as 502.
    let api = Api::start(&[]).await;
    let token = api.admin_token.clone();
    let (status, _, body) = api
        .call(
            Method::GET,
            "/api/v1/objects?cursor=&limit=1",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an empty cursor starts at the top: {body}"
    );
    let long = "a".repeat(2000);
    for cursor in ["not-a-token", "%01", long.as_str()] {
        let path = format!("/api/v1/objects?cursor={cursor}");
        let (status, _, body) = api.call(Method::GET, &path, Some(&token), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{cursor:.20}: {body}");
        assert!(body.to_string().contains("cursor"), "{body}");
    }
}

#[tokio::test]
async fn every_authenticated_call_has_a_per_user_budget() {
    let api = Api::start(&[
        ("SEALDROP_API_RATE_LIMIT_BURST", "5"),
        ("SEALDROP_API_RATE_LIMIT_PER_MINUTE", "1"),
    ])
    .await;
    let token = api.admin_token.clone();
    let other = api.add_user("other").await;
    for path in [
        "/api/v1/me",
        "/api/v1/objects",
        "/api/v1/objects?prefix=a",
        "/api/v1/me",
        "/api/v1/objects",
    ] {
        let (status, _, body) = api.call(Method::GET, path, Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (status, headers, body) = api
        .call(Method::GET, "/api/v1/objects", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(code(&body), "rate_limited");
    assert!(headers.contains_key("retry-after"));
    let (status, _, _) = api
        .call(Method::GET, "/api/v1/me", Some(&other), None)
        .await;
    assert_eq!(status, StatusCode::OK, "another user has their own budget");
    // Public routes are not counted against anyone.
    let (status, _, _) = api.call(Method::GET, "/api/v1/config", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn key_operations_are_rate_limited_per_user() {
    let api = Api::start(&[
        ("SEALDROP_RATE_LIMIT_BURST", "3"),
        ("SEALDROP_RATE_LIMIT_PER_MINUTE", "1"),
    ])
    .await;
    let token = api.admin_token.clone();
    let other = api.add_user("other").await;
    let create = |i: usize| json!({"name": format!("f{i}"), "size": 1, "mode": "cse"});
    for i in 0..3 {
        let (status, body) = api.post("/api/v1/uploads", &token, create(i)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, headers, body) = api
        .call(
            Method::POST,
            "/api/v1/uploads",
            Some(&token),
            Some(create(9)),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(code(&body), "rate_limited");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    // Another user has their own budget.
    let (status, _) = api.post("/api/v1/uploads", &other, create(0)).await;
    assert_eq!(status, StatusCode::OK);
    // The audit log recorded the refusal.
    let audit = std::fs::read_to_string(api.data_dir.path().join("audit.log")).unwrap();
    assert!(audit.contains("\"outcome\":\"denied\"") && audit.contains("rate limited"));
}

#[tokio::test]
async fn metrics_and_openapi_are_served() {
    let api = Api::start(&[]).await;
    api.call(Method::GET, "/api/v1/me", Some(&api.admin_token), None)
        .await;
    let response = api
        .router
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let metrics = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(
        metrics.contains("sealdrop_http_requests_total"),
        "{metrics}"
    );
    assert!(metrics.contains("route=\"/api/v1/me\""));
    assert!(!metrics.contains(&api.admin_token));

    // Requests without a credential, with made-up methods and paths, add no
    // series: /metrics does not grow with what strangers send.
    async fn read_metrics(router: &Router) -> String {
        let request = Request::get("/metrics").body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
    async fn flood(router: &Router, i: usize) {
        let method = Method::from_bytes(format!("FLOOD{i}").as_bytes()).unwrap();
        let request = Request::builder()
            .method(method)
            .uri(format!("/api/v1/nothing-{i}"))
            .body(Body::empty())
            .unwrap();
        router.clone().oneshot(request).await.unwrap();
    }
    flood(&api.router, 0).await;
    let before = read_metrics(&api.router).await;
    for i in 1..200 {
        flood(&api.router, i).await;
    }
    let after = read_metrics(&api.router).await;
    assert!(
        !after.contains("FLOOD") && !after.contains("nothing-"),
        "{after}"
    );
    let series = |text: &str| text.lines().filter(|l| !l.starts_with('#')).count();
    // The first flood request made the `other`/unmatched series; 199 more
    // only moved their values.
    assert_eq!(series(&after), series(&before), "{after}");
    assert!(after.len() < before.len() + 200, "{after}");
    let (status, _, doc) = api
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/objects/open"]["post"].is_object());
}

#[tokio::test]
async fn cors_allow_list_and_security_headers() {
    let api = Api::start(&[("SEALDROP_CORS_ORIGINS", "https://app.example")]).await;
    let preflight = |origin: &'static str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/v1/uploads")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .body(Body::empty())
            .unwrap()
    };
    let allowed = api
        .router
        .clone()
        .oneshot(preflight("https://app.example"))
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let denied = api
        .router
        .clone()
        .oneshot(preflight("https://evil.example"))
        .await
        .unwrap();
    assert!(
        denied
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let (_, headers, _) = api.call(Method::GET, "/api/v1/me", None, None).await;
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
}

/// Sends a presigned request with `body` (headers as signed, but Content-Length
/// from the body, as browsers do); returns the status and the `ETag`.
async fn send_presigned(request: &Value, body: Vec<u8>) -> (StatusCode, Option<String>) {
    let method = Method::from_bytes(request["method"].as_str().unwrap().as_bytes()).unwrap();
    let mut send = reqwest::Client::new().request(method, request["url"].as_str().unwrap());
    for (name, value) in request["headers"].as_object().unwrap() {
        if name != "content-length" {
            send = send.header(name, value.as_str().unwrap());
        }
    }
    let response = send.body(body).send().await.unwrap();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status(), etag)
}

/// The size the broker checks is the size storage accepts: a single PUT and
/// every part of a multipart upload are signed for their exact length, and
/// only the parts of the broker's own plan can be signed.
#[tokio::test]
async fn storage_takes_no_more_than_the_size_limit() {
    const MIB: u64 = 1024 * 1024;
    let (max, part) = ((6 * MIB).to_string(), (5 * MIB).to_string());
    let api = Api::start(&[
        ("SEALDROP_MAX_OBJECT_SIZE", &max),
        ("SEALDROP_MULTIPART_THRESHOLD", &part),
        ("SEALDROP_PART_SIZE", &part),
    ])
    .await;
    let token = api.admin_token.clone();

    // Single PUT: declared 1,000 bytes, so 1,016 stored (with the tag).
    let (status, created) = api
        .post(
            "/api/v1/uploads",
            &token,
            json!({"name": "small.bin", "size": 1000, "mode": "cse"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let request = &created["transfer"]["request"];
    assert_eq!(request["headers"]["content-length"], "1016");
    // (Small bodies: the store answers before reading a body, and a large one
    // would end as a reset connection instead of a readable 403.)
    for wrong in [1015, 1017, 2048] {
        let (status, _) = send_presigned(request, vec![0; wrong]).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{wrong} bytes on a 1,016-byte URL"
        );
    }
    assert!(!api.exists("admin/small.bin").await);
    let (status, _) = send_presigned(request, vec![0; 1016]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(api.exists("admin/small.bin").await);

    // Multipart: declared 6 MiB, so 6 MiB + 16 stored in a 5 MiB part and a
    // 1 MiB + 16 one. Only those two parts exist, each signed for its length.
    let (status, created) = api
        .post(
            "/api/v1/uploads",
            &token,
            json!({"name": "big.bin", "size": 6 * MIB, "mode": "cse"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let upload_id = created["transfer"]["upload_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(created["transfer"]["kind"], "multipart");
    let sign = |numbers: Value, upload_id: &str| json!({"key": "admin/big.bin", "upload_id": upload_id, "part_numbers": numbers});
    let (status, body) = api
        .post(
            "/api/v1/uploads/parts",
            &token,
            sign(json!([1, 3]), &upload_id),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("1..=2"), "{body}");
    let (status, body) = api
        .post(
            "/api/v1/uploads/parts",
            &token,
            sign(json!([1]), "not-an-upload"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, signed) = api
        .post(
            "/api/v1/uploads/parts",
            &token,
            sign(json!([1, 2]), &upload_id),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let signed = signed["parts"].as_array().unwrap().clone();
    let lens = [5 * MIB, MIB + 16];
    for (part, len) in signed.iter().zip(lens) {
        assert_eq!(
            part["request"]["headers"]["content-length"],
            len.to_string()
        );
    }
    // A byte more or less than part 2 holds is refused by storage.
    for wrong in [MIB + 15, MIB + 17] {
        let (status, _) = send_presigned(&signed[1]["request"], vec![7; wrong as usize]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{wrong} bytes for part 2");
    }
    let mut parts = Vec::new();
    for (part, len) in signed.iter().zip(lens) {
        let (status, etag) = send_presigned(&part["request"], vec![7; len as usize]).await;
        assert_eq!(status, StatusCode::OK);
        parts.push(json!({"part_number": part["part_number"], "etag": etag.unwrap()}));
    }
    let (status, body) = api
        .post(
            "/api/v1/uploads/complete",
            &token,
            json!({"key": "admin/big.bin", "upload_id": upload_id, "parts": parts}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(api.exists("admin/big.bin").await);
    // A completed upload has no parts left to sign.
    let (status, _) = api
        .post(
            "/api/v1/uploads/parts",
            &token,
            sign(json!([1]), &upload_id),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The body of `POST /api/v1/uploads` for an SSE upload of `size` bytes.
fn sse_upload(name: &str, size: u64) -> Value {
    json!({"name": name, "size": size, "mode": "sse"})
}

/// Multipart uploads storage holds for the deployment's bucket.
async fn multipart_uploads_in_storage(api: &Api) -> Vec<String> {
    let listed = api
        .state
        .storage
        .client()
        .list_multipart_uploads()
        .bucket(api.state.storage.bucket())
        .send()
        .await
        .unwrap();
    listed
        .uploads()
        .iter()
        .map(|u| u.key().unwrap().to_owned())
        .collect()
}

/// An outsider's upload into `admin`'s file request: creates a file request
/// and returns its bearer credential.
async fn file_request_bearer(api: &Api, name: &str) -> (String, String) {
    let (status, created) = api
        .post(
            "/api/v1/requests",
            &api.admin_token,
            json!({"name": name, "max_files": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["request"]["id"].as_str().unwrap().to_owned();
    let bearer = sealdrop_api::request_bearer(&id, created["secret"].as_str().unwrap());
    (id, bearer)
}

/// Files the request with `id` has taken (reserved or stored).
async fn request_files(api: &Api, id: &str) -> u64 {
    let (status, _, listed) = api
        .call(
            Method::GET,
            "/api/v1/requests",
            Some(&api.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    listed["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap()["files"]
        .as_u64()
        .unwrap()
}

/// A user cannot hold more than their quota by any route: stored objects,
/// single PUTs and multipart uploads in flight all count, a file request
/// counts against its owner, and nothing is left behind by a refusal. No API
/// route copies objects, and storage refuses a presigned PUT turned into a
/// copy by an unsigned header.
#[tokio::test]
async fn quotas_hold_on_every_route() {
    const MIB: u64 = 1024 * 1024;
    let part = (5 * MIB).to_string();
    let api = Api::start(&[
        ("SEALDROP_QUOTA_BYTES", "12M"),
        ("SEALDROP_MAX_UPLOADS_IN_FLIGHT", "1"),
        ("SEALDROP_MULTIPART_THRESHOLD", &part),
        ("SEALDROP_PART_SIZE", &part),
    ])
    .await;
    let token = api.admin_token.clone();

    // 3 MiB stored, then a 4 MiB single PUT signed and not sent yet: 7 MiB.
    let (status, a) = api
        .post("/api/v1/uploads", &token, sse_upload("a.bin", 3 * MIB))
        .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    let (status, _) = send_presigned(&a["transfer"]["request"], vec![1; 3 * MIB as usize]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, b) = api
        .post("/api/v1/uploads", &token, sse_upload("b.bin", 4 * MIB))
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");

    // A 6 MiB multipart upload would make 13 MiB: refused, and the upload the
    // broker had created in storage is gone again.
    let (status, body) = api
        .post("/api/v1/uploads", &token, sse_upload("c.bin", 6 * MIB))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(code(&body), "too_large");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("quota") && message.contains("3.0 MiB stored"),
        "{message}"
    );
    // People see server text cut at 200 characters (sealdrop_transfer::failure).
    assert!(message.chars().count() <= 200, "{message}");
    assert_eq!(multipart_uploads_in_storage(&api).await, [""; 0]);
    let (status, c) = api
        .post("/api/v1/uploads", &token, sse_upload("c.bin", 5 * MIB))
        .await;
    assert_eq!(status, StatusCode::OK, "exactly the quota fits: {c}");
    assert_eq!(c["transfer"]["kind"], "multipart");
    let (status, body) = api
        .post("/api/v1/uploads", &token, sse_upload("d.bin", 1))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "a byte over: {body}");

    // One multipart upload in flight is the most; the refusal says so.
    let (status, body) = api
        .post("/api/v1/uploads", &token, sse_upload("e.bin", 5 * MIB))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("in progress"),
        "{body}"
    );
    assert_eq!(multipart_uploads_in_storage(&api).await, ["admin/c.bin"]);

    // Files sent through a file request count against its owner.
    let (request_id, bearer) = file_request_bearer(&api, "scans").await;
    let (status, body) = api
        .post("/api/v1/uploads", &bearer, sse_upload("scan.pdf", 1000))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("recipient"),
        "{body}"
    );
    assert_eq!(request_files(&api, &request_id).await, 0, "given back");

    // A presigned PUT cannot be turned into a copy of a stored object.
    let mut copy = b["transfer"]["request"].clone();
    copy["headers"]["x-amz-copy-source"] = json!("sealdrop/admin/a.bin");
    let (status, _) = send_presigned(&copy, vec![3; 4 * MIB as usize]).await;
    assert!(status.is_client_error(), "{status}");
    assert!(!api.exists("admin/b.bin").await);

    // Completing the multipart upload stores exactly its plan; deleting the
    // 3 MiB file makes room again.
    let upload_id = c["transfer"]["upload_id"].as_str().unwrap();
    let signed = &c["transfer"]["parts"][0];
    let (status, etag) = send_presigned(&signed["request"], vec![2; 5 * MIB as usize]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api
        .post(
            "/api/v1/uploads/complete",
            &token,
            json!({"key": "admin/c.bin", "upload_id": upload_id,
                   "parts": [{"part_number": 1, "etag": etag.unwrap()}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = api
        .post("/api/v1/uploads", &token, sse_upload("d.bin", 1))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "still full: {body}");
    let (status, _, _) = api
        .call(
            Method::DELETE,
            "/api/v1/objects?key=admin/a.bin",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = api
        .post("/api/v1/uploads", &token, sse_upload("d.bin", 3 * MIB))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Abandoned uploads stop holding storage and quota: an idle multipart upload
/// is aborted (one still being signed is not), one storage has but the state
/// never recorded too, an expired single PUT stops counting, and a file
/// request's file that never arrived is given back to the request.
#[tokio::test]
async fn abandoned_uploads_are_cleaned_up() {
    use std::time::Duration;
    const MIB: u64 = 1024 * 1024;
    let part = (5 * MIB).to_string();
    let api = Api::start(&[
        ("SEALDROP_QUOTA_BYTES", "16M"),
        ("SEALDROP_PRESIGN_TTL_SECS", "3"),
        ("SEALDROP_UPLOAD_MAX_IDLE_SECS", "3"),
        ("SEALDROP_MULTIPART_THRESHOLD", &part),
        ("SEALDROP_PART_SIZE", &part),
    ])
    .await;
    let token = api.admin_token.clone();
    let (status, idle) = api
        .post("/api/v1/uploads", &token, sse_upload("idle.bin", 6 * MIB))
        .await;
    assert_eq!(status, StatusCode::OK, "{idle}");
    let (status, busy) = api
        .post("/api/v1/uploads", &token, sse_upload("busy.bin", 6 * MIB))
        .await;
    assert_eq!(status, StatusCode::OK, "{busy}");
    let (status, body) = api
        .post("/api/v1/uploads", &token, sse_upload("more.bin", 5 * MIB))
        .await;
    assert_eq!(
        status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "12 MiB in flight: {body}"
    );
    // An upload storage has that no broker recorded.
    let unrecorded = api
        .state
        .storage
        .create_multipart(
            "admin/unrecorded.bin",
            &sealdrop_broker::storage::UploadHeaders {
                content_type: "application/octet-stream".into(),
                metadata: Default::default(),
                sse: None,
            },
        )
        .await
        .unwrap();
    let (request_id, bearer) = file_request_bearer(&api, "late").await;
    let (status, body) = api
        .post("/api/v1/uploads", &bearer, sse_upload("never.pdf", 1000))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(request_files(&api, &request_id).await, 1);

    tokio::time::sleep(Duration::from_secs(2)).await;
    let sign = |created: &Value, key: &str| json!({"key": key, "upload_id": created["transfer"]["upload_id"], "part_numbers": [2]});
    let (status, body) = api
        .post(
            "/api/v1/uploads/parts",
            &token,
            sign(&busy, "admin/busy.bin"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // (Storage dates uploads in whole seconds: a second more than the limit.)
    tokio::time::sleep(Duration::from_secs(2)).await;

    let swept = sealdrop_broker::lifecycle::sweep(&api.state).await.unwrap();
    assert_eq!(swept.aborted, 1, "{swept:?}");
    assert_eq!(swept.orphans, 1, "{swept:?}");
    assert!(swept.expired_puts >= 1, "{swept:?}");
    assert_eq!(swept.released, 0, "the file may still arrive: {swept:?}");
    let (status, _) = api
        .post(
            "/api/v1/uploads/parts",
            &token,
            sign(&idle, "admin/idle.bin"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the idle upload is gone");
    assert_eq!(
        multipart_uploads_in_storage(&api).await,
        ["admin/busy.bin"],
        "{unrecorded} is gone too"
    );
    // Room again for 5 MiB: 6 (busy) + 5 ≤ 16.
    let (status, body) = api
        .post("/api/v1/uploads", &token, sse_upload("more.bin", 5 * MIB))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Twice the URL's lifetime after it was signed, the file request's file
    // that never came is given back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let swept = sealdrop_broker::lifecycle::sweep(&api.state).await.unwrap();
    assert_eq!(swept.released, 1, "{swept:?}");
    assert_eq!(request_files(&api, &request_id).await, 0);
    let audit = std::fs::read_to_string(api.data_dir.path().join("audit.log")).unwrap();
    assert!(
        audit.contains("idle upload cancelled by the broker") && audit.contains("idle.bin"),
        "{audit}"
    );
}

/// SSE objects are bound to their key by the broker's MAC: one copied into
/// another user's prefix by someone with bucket access (keeping its metadata,
/// or replacing it with its original binding) does not open there, nor does
/// one put into the bucket directly; the owner's own opens, and the refusal
/// says what is wrong.
#[tokio::test]
async fn sse_objects_open_only_at_the_key_they_were_uploaded_to() {
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::{MetadataDirective, ServerSideEncryption};
    let api = Api::start(&[]).await;
    let alice = api.add_user("alice").await;
    let bob = api.add_user("bob").await;
    let body = b"alice's payroll".to_vec();
    let (status, created) = api
        .post(
            "/api/v1/uploads",
            &alice,
            sse_upload("payroll.csv", body.len() as u64),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let request = &created["transfer"]["request"];
    assert!(
        request["headers"]["x-amz-meta-sealdrop-binding"]
            .as_str()
            .is_some_and(|b| b.starts_with("1.")),
        "the binding is a signed header: {request}"
    );
    let (status, _) = send_presigned(request, body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, opened) = api
        .post(
            "/api/v1/objects/open",
            &alice,
            json!({"key": "alice/payroll.csv"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{opened}");

    // Someone with write access to the bucket copies it into bob's prefix.
    let s3 = api.state.storage.client();
    let bucket = api.state.storage.bucket();
    let head = s3
        .head_object()
        .bucket(bucket)
        .key("alice/payroll.csv")
        .send()
        .await
        .unwrap();
    for (to, directive) in [
        ("bob/kept.csv", MetadataDirective::Copy),
        ("bob/replaced.csv", MetadataDirective::Replace),
    ] {
        s3.copy_object()
            .bucket(bucket)
            .key(to)
            .copy_source(format!("{bucket}/alice/payroll.csv"))
            .metadata_directive(directive)
            .set_metadata(head.metadata().cloned())
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .send()
            .await
            .unwrap();
        let (status, body) = api
            .post("/api/v1/objects/open", &bob, json!({"key": to}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{to}: {body}");
        assert_eq!(code(&body), "integrity_error");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("copied or moved"), "{message}");
        assert!(!body.to_string().contains("url"), "no download: {body}");
    }
    // Put into the bucket directly: no binding.
    s3.put_object()
        .bucket(bucket)
        .key("bob/dropped.csv")
        .body(ByteStream::from(body.clone()))
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .send()
        .await
        .unwrap();
    let (status, body) = api
        .post(
            "/api/v1/objects/open",
            &bob,
            json!({"key": "bob/dropped.csv"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("no sealdrop binding") && message.contains("encrypt-existing"),
        "{message}"
    );
}
