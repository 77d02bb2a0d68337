//! OIDC bearer tokens at the API: a local identity provider (an ES256 key, its
//! discovery document and JWKS served on 127.0.0.1) and the broker configured
//! with its issuer only. Identities are `(issuer, subject)`: linked by an
//! operator or auto-provisioned, never named by a claim. (The browser's sign-in
//! against a certified provider is in `browser.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use sealdrop_tests::{Server, ServerOptions};
use serde_json::json;

struct Issuer {
    key: p256::SecretKey,
    kid: &'static str,
}

impl Issuer {
    fn new(kid: &'static str) -> Issuer {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).unwrap();
        Issuer {
            key: p256::SecretKey::from_slice(&bytes).unwrap(),
            kid,
        }
    }

    fn jwk(&self) -> serde_json::Value {
        let point = self.key.public_key().to_encoded_point(false);
        json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        })
    }

    fn token(&self, claims: serde_json::Value) -> String {
        let der = self.key.to_pkcs8_der().unwrap();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.into());
        encode(&header, &claims, &EncodingKey::from_ec_der(der.as_bytes())).unwrap()
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Serves `/.well-known/openid-configuration` and `/jwks` for `key` on a free
/// port; returns the issuer URL.
async fn serve_issuer(key: &Issuer) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let discovery = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")});
    let jwks = json!({"keys": [key.jwk()]});
    tokio::spawn(async move {
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || async move { axum::Json(discovery) }),
            )
            .route(
                "/jwks",
                axum::routing::get(move || async move { axum::Json(jwks) }),
            );
        axum::serve(listener, app).await.unwrap();
    });
    issuer
}

/// A broker trusting `issuer` (plus `env`), with a first admin.
fn broker(issuer: &str, env: &[(&str, &str)]) -> Server {
    let mut all = vec![
        // With OIDC there is no first admin unless asked for.
        ("SEALDROP_BOOTSTRAP_ADMIN".to_owned(), "true".to_owned()),
        ("SEALDROP_OIDC_ISSUER".to_owned(), issuer.to_owned()),
        ("SEALDROP_OIDC_AUDIENCE".to_owned(), "sealdrop".to_owned()),
    ];
    all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Server::embedded(ServerOptions {
        env: all,
        ..ServerOptions::default()
    })
    .unwrap()
}

/// `GET /me` with `token`: status and body.
async fn me(server: &Server, token: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/me", server.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json::<serde_json::Value>().await.unwrap(),
    )
}

fn message(body: &serde_json::Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn identities_sign_in_only_as_the_user_they_are_linked_to() {
    let key = Issuer::new("key-1");
    let iss = serve_issuer(&key).await;
    let server = broker(&iss, &[]);
    let session = |sub: &str, name: &str| {
        key.token(json!({
            "sub": sub, "preferred_username": name, "aud": "sealdrop", "iss": iss,
            "exp": now() + 300, "iat": now(),
        }))
    };

    // Not linked: refused, and told why.
    let (status, body) = me(&server, &session("carol-sub", "carol")).await;
    assert_eq!(status, 401, "{body}");
    assert!(message(&body).contains("not linked"), "{body}");

    server.add_user("carol").unwrap();
    server
        .admin(&["user", "link", "carol", "--subject", "carol-sub"])
        .unwrap();
    let (status, body) = me(&server, &session("carol-sub", "Carol C.")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"], "carol");
    assert_eq!(body["auth"], "oidc");
    assert_eq!(body["prefix"], "carol/");

    // A claim that reads "admin" makes nobody admin.
    let (status, body) = me(&server, &session("admin", "admin")).await;
    assert_eq!(status, 401, "{body}");

    let config: serde_json::Value = reqwest::get(format!("{}/api/v1/config", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["oidc"]["issuer"], iss.as_str());
    assert_eq!(config["oidc"]["audience"], "sealdrop");

    let base = json!({"sub": "carol-sub", "aud": "sealdrop", "iss": iss, "exp": now() + 300});
    let with = |changes: serde_json::Value| {
        let mut claims = base.clone();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    };
    let rejected = [
        ("wrong audience", key.token(with(json!({"aud": "other"})))),
        (
            "wrong issuer",
            key.token(with(json!({"iss": "https://evil.test"}))),
        ),
        ("expired", key.token(with(json!({"exp": now() - 3600})))),
        (
            "not yet valid",
            key.token(with(json!({"nbf": now() + 3600}))),
        ),
        ("no subject", key.token(with(json!({"sub": null})))),
        ("empty subject", key.token(with(json!({"sub": ""})))),
        ("unknown key", Issuer::new("key-2").token(base.clone())),
        (
            "other key, same kid",
            Issuer::new("key-1").token(base.clone()),
        ),
    ];
    for (why, token) in rejected {
        let (status, body) = me(&server, &token).await;
        assert_eq!(status, 401, "{why}: {body}");
        assert_eq!(body["error"]["code"], "unauthenticated", "{why}");
    }
    // Sealdrop tokens keep working next to OIDC.
    let (status, _) = me(&server, &server.admin_token).await;
    assert_eq!(status, 200);

    // The operator sees the identity and the display name it last showed.
    let list: serde_json::Value =
        serde_json::from_str(&server.admin(&["user", "list", "--json"]).unwrap()).unwrap();
    let carol = list
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "carol")
        .unwrap();
    assert_eq!(carol["identities"][0]["subject"], "carol-sub");
    assert_eq!(carol["identities"][0]["issuer"], iss.as_str());
    assert_eq!(carol["identities"][0]["display_name"], "Carol C.");

    // Disabling the account locks out its OIDC sessions too, at once.
    server.admin(&["user", "disable", "carol"]).unwrap();
    let (status, body) = me(&server, &session("carol-sub", "carol")).await;
    assert_eq!(status, 401, "{body}");
    assert!(message(&body).contains("disabled"), "{body}");
    server.admin(&["user", "enable", "carol"]).unwrap();
    let (status, body) = me(&server, &session("carol-sub", "carol")).await;
    assert_eq!(status, 200, "{body}");

    // An identity links to one user; unlinking ends its sign-in.
    server.add_user("dave").unwrap();
    let refused = server.admin(&["user", "link", "dave", "--subject", "carol-sub"]);
    assert!(
        refused.unwrap_err().to_string().contains("already linked"),
        "linking elsewhere is refused"
    );
    server
        .admin(&["user", "unlink", "--subject", "carol-sub"])
        .unwrap();
    let (status, _) = me(&server, &session("carol-sub", "carol")).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn auto_provisioned_identities_get_users_of_their_own() {
    let key = Issuer::new("key-1");
    let iss = serve_issuer(&key).await;
    let server = broker(&iss, &[("SEALDROP_OIDC_AUTO_PROVISION", "true")]);
    let session = |sub: &str| {
        key.token(json!({
            "sub": sub, "preferred_username": "admin", "aud": "sealdrop", "iss": iss,
            "exp": now() + 300,
        }))
    };
    // Subject and display claim both say "admin": a new user, not admin.
    let (status, first) = me(&server, &session("admin")).await;
    assert_eq!(status, 200, "{first}");
    let user = first["user"].as_str().unwrap().to_owned();
    assert!(user.starts_with("sso-"), "{user}");
    assert_eq!(first["prefix"], format!("{user}/"));
    let (_, again) = me(&server, &session("admin")).await;
    assert_eq!(
        again["user"],
        user.as_str(),
        "the same identity, the same user"
    );
    let (_, other) = me(&server, &session("someone-else")).await;
    assert_ne!(other["user"], user.as_str());

    // The new account is in the audit log, with the identity that made it.
    let audit = std::fs::read_to_string(server.data_dir().join("audit.log")).unwrap();
    let lines: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("provision_user"))
        .collect();
    assert_eq!(lines.len(), 2, "{audit}");
    assert!(
        lines[0].contains(&user) && lines[0].contains("\\\"admin\\\" at"),
        "{}",
        lines[0]
    );

    // Nobody can make a local user in that namespace.
    let refused = server.add_user(&user);
    assert!(refused.unwrap_err().to_string().contains("reserved"));

    // Provisioned users are users: they can be disabled.
    server.admin(&["user", "disable", &user]).unwrap();
    let (status, _) = me(&server, &session("admin")).await;
    assert_eq!(status, 401);
}
