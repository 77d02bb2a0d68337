//! Two `sealdrop serve` replicas on one PostgreSQL and one bucket (moto) behave
//! as one service: an account made through either works on both, a disable or
//! revoke through one counts on the other from the next request (nothing is
//! cached), an upload through one downloads through the other, and losing the
//! database is a 503 that heals when it returns.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use sealdrop_client::NoProgress;
use sealdrop_client::api::{CreateShareRequest, Mode};
use sealdrop_tests::postgres::Postgres;
use sealdrop_tests::{Moto, Server, ServerOptions, content};
use serde_json::Value;

const BUCKET: &str = "sealdrop-replicas";
const MIB: usize = 1024 * 1024;

/// `GET path` with an optional bearer token: status and JSON body.
async fn get(server: &Server, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(format!("{}{path}", server.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_database_and_bucket_are_one_service() {
    let pg = Postgres::start().unwrap();
    let moto = Moto::start().unwrap();
    let kms_key = moto.bucket_and_key(BUCKET).await.unwrap();
    let replica = || {
        let options = ServerOptions {
            env: vec![
                ("SEALDROP_DATABASE_URL".into(), pg.url_with_password("pw")),
                ("SEALDROP_PART_SIZE".into(), (5 * MIB).to_string()),
                ("SEALDROP_MULTIPART_THRESHOLD".into(), (5 * MIB).to_string()),
            ],
            no_first_login: true,
            ..ServerOptions::default()
        };
        Server::aws(&moto, BUCKET, &kms_key, options)
    };
    // Both start at once on the empty database: one migrates, the other waits.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(replica);
        let b = s.spawn(replica);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    for server in [&a, &b] {
        let logs = server.logs();
        assert!(!logs.contains("#token="), "AWS mode prints no login link");
        assert!(
            !logs.contains(":pw@"),
            "the database password is never logged"
        );
        assert!(logs.contains("users and tokens: postgres://postgres:***@"));
    }

    // An account made through A's configuration works on B.
    let alice = a.add_user("alice").unwrap();
    let (status, body) = get(&b, "/api/v1/me", Some(&alice)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"], "alice");

    // An upload completed through A (multipart, client-side encrypted)
    // downloads through B.
    let data = content(11 * MIB + 123, 7);
    let key = a
        .client(&alice)
        .upload_reader(
            &data[..],
            data.len() as u64,
            "shared.bin",
            Mode::Cse,
            false,
            NoProgress,
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shared.bin");
    b.client(&alice)
        .download_to(&key, &out, NoProgress)
        .await
        .unwrap();
    assert!(std::fs::read(&out).unwrap() == data);

    // A share link limited to 3 downloads, opened 12 times at once through
    // both replicas: exactly 3 get key material, the rest a 410 that says why.
    let created = a
        .client(&alice)
        .create_share(&CreateShareRequest {
            keys: vec![key.clone()],
            expires_in_secs: None,
            max_downloads: Some(3),
            note: None,
        })
        .await
        .unwrap();
    let open = |server: &Server, secret: &str| {
        let request = reqwest::Client::new()
            .post(format!("{}/api/v1/public/share/open", server.url))
            .json(&serde_json::json!({"id": created.share.id, "secret": secret, "file": 0}));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let secret = created.secret.expose();
    let racing = (0..12).map(|i| open(if i % 2 == 0 { &a } else { &b }, secret));
    let answers = futures::future::join_all(racing).await;
    let granted = answers.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(granted, 3, "{answers:?}");
    for (status, body) in &answers {
        if *status == 200 {
            assert!(body["decryption"]["data_key"].is_string());
        } else {
            assert_eq!(*status, 410, "{body}");
            assert!(body.to_string().contains("download limit"), "{body}");
        }
    }
    let listed = b.client(&alice).list_shares().await.unwrap();
    assert_eq!(listed.shares[0].objects[0].downloads, 3);
    // Guessing is throttled per client address, and a wrong secret is an
    // unknown link: same status, same words.
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(open(&a, &"A".repeat(43)).await);
    }
    assert_eq!(statuses[0].0, 404);
    assert!(
        statuses.iter().any(|(status, _)| *status == 429),
        "never throttled"
    );
    let unknown = reqwest::Client::new()
        .post(format!("{}/api/v1/public/share", b.url))
        .json(&serde_json::json!({"id": "AAAAAAAAAAAAAAAAAAAAAA", "secret": secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(unknown, statuses[0].1);

    // Disabled through B: A refuses the very next request.
    b.admin(&["user", "disable", "alice"]).unwrap();
    let (status, body) = get(&a, "/api/v1/me", Some(&alice)).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("disabled")
    );
    a.admin(&["user", "enable", "alice"]).unwrap();
    assert_eq!(get(&b, "/api/v1/me", Some(&alice)).await.0, 200);

    // A second token, revoked by id through A: B refuses it at once, the
    // first keeps working.
    let laptop = b
        .admin(&["user", "token", "alice", "--name", "laptop"])
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(get(&a, "/api/v1/me", Some(&laptop)).await.0, 200);
    let list: Value = serde_json::from_str(&a.admin(&["user", "list", "--json"]).unwrap()).unwrap();
    let tokens = list[0]["tokens"].as_array().unwrap();
    let laptop_id = tokens.iter().find(|t| t["label"] == "laptop").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        tokens.iter().all(|t| t["last_used_at"].is_string()),
        "both were used: {tokens:?}"
    );
    a.admin(&["token", "revoke", &laptop_id]).unwrap();
    assert_eq!(get(&b, "/api/v1/me", Some(&laptop)).await.0, 401);
    assert_eq!(get(&b, "/api/v1/me", Some(&alice)).await.0, 200);

    // The database goes away: a 503 with a JSON body, not a 500 or a hang;
    // readiness says so; both recover on their own when it returns.
    pg.stop().unwrap();
    let (status, body) = get(&a, "/api/v1/me", Some(&alice)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(!body.to_string().contains("pw"), "{body}");
    pg.restart().unwrap();
    for server in [&a, &b] {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, _) = get(server, "/api/v1/me", Some(&alice)).await;
            if status == 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no recovery: last status {status}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // Readiness answers are reused for 5 s; after that it is ready again.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (status, body) = get(&a, "/readyz", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["database"]["ok"], true);
}
