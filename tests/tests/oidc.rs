//! OIDC bearer tokens: a local identity provider (an ES256 key and its JWKS
//! served on 127.0.0.1) and the broker configured to trust it.
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

#[tokio::test]
async fn jwts_from_the_configured_issuer_authenticate() {
    let issuer = Issuer::new("key-1");
    let jwks = json!({"keys": [issuer.jwk()]});
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let jwks = jwks.clone();
                async move { axum::Json(jwks) }
            }),
        );
        axum::serve(listener, app).await.unwrap();
    });

    let server = Server::embedded(ServerOptions {
        env: vec![
            // With OIDC there is no first admin unless asked for.
            ("SEALDROP_BOOTSTRAP_ADMIN".into(), "true".into()),
            ("SEALDROP_OIDC_ISSUER".into(), "https://idp.test".into()),
            ("SEALDROP_OIDC_AUDIENCE".into(), "sealdrop".into()),
            ("SEALDROP_OIDC_JWKS_URL".into(), jwks_url),
        ],
        ..ServerOptions::default()
    })
    .unwrap();
    let me = |token: String| {
        let url = format!("{}/api/v1/me", server.url);
        async move {
            let response = reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let claims = |sub: &str, aud: &str, iss: &str, exp: u64| json!({"sub": sub, "aud": aud, "iss": iss, "exp": exp, "iat": now()});

    let (status, body) =
        me(issuer.token(claims("carol", "sealdrop", "https://idp.test", now() + 300))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"], "carol");
    assert_eq!(body["auth"], "oidc");
    assert_eq!(body["prefix"], "carol/");

    let config: serde_json::Value = reqwest::get(format!("{}/api/v1/config", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["oidc"]["issuer"], "https://idp.test");

    let rejected = [
        (
            "wrong audience",
            issuer.token(claims("carol", "other", "https://idp.test", now() + 300)),
        ),
        (
            "wrong issuer",
            issuer.token(claims(
                "carol",
                "sealdrop",
                "https://evil.test",
                now() + 300,
            )),
        ),
        (
            "expired",
            issuer.token(claims(
                "carol",
                "sealdrop",
                "https://idp.test",
                now() - 3600,
            )),
        ),
        (
            "invalid user name",
            issuer.token(claims(
                "Carol/../x",
                "sealdrop",
                "https://idp.test",
                now() + 300,
            )),
        ),
        (
            "unknown key",
            Issuer::new("key-2").token(claims(
                "carol",
                "sealdrop",
                "https://idp.test",
                now() + 300,
            )),
        ),
        (
            "other key, same kid",
            Issuer::new("key-1").token(claims(
                "carol",
                "sealdrop",
                "https://idp.test",
                now() + 300,
            )),
        ),
    ];
    for (why, token) in rejected {
        let (status, body) = me(token).await;
        assert_eq!(status, 401, "{why}: {body}");
        assert_eq!(body["error"]["code"], "unauthenticated", "{why}");
    }
    // Sealdrop tokens keep working next to OIDC.
    let (status, _) = me(server.admin_token.clone()).await;
    assert_eq!(status, 200);

    // Disabling the account locks out its OIDC sessions too, at once.
    server.add_user("carol").unwrap();
    server.admin(&["user", "disable", "carol"]).unwrap();
    let session = || issuer.token(claims("carol", "sealdrop", "https://idp.test", now() + 300));
    let (status, body) = me(session()).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("disabled")
    );
    server.admin(&["user", "enable", "carol"]).unwrap();
    let (status, body) = me(session()).await;
    assert_eq!(status, 200, "{body}");
}
