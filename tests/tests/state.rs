//! The state database against both engines it runs on: every test here runs
//! once on SQLite (a data directory) and once on a private PostgreSQL cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use sealdrop_state::{Database, DatabaseUrl, Location, StateError, TokenRefusal};
use sealdrop_tests::postgres::Postgres;
use sqlx::any::AnyPoolOptions;

/// A fresh database of one engine, and what keeps it alive.
struct Fixture {
    location: Location,
    db: Database,
    _dir: tempfile::TempDir,
    pg: Option<Postgres>,
}

async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let location = Location::DataDir(dir.path().join("data"));
    let db = Database::open(&location).await.unwrap();
    Fixture {
        location,
        db,
        _dir: dir,
        pg: None,
    }
}

async fn postgres() -> Fixture {
    let pg = Postgres::start().unwrap();
    let location = Location::Postgres(DatabaseUrl::parse(&pg.url()).unwrap());
    let db = Database::open(&location).await.unwrap();
    Fixture {
        location,
        db,
        _dir: tempfile::tempdir().unwrap(),
        pg: Some(pg),
    }
}

/// A raw connection to the same database, for what the API cannot do on
/// purpose (look at stored rows, fake a newer schema).
async fn raw(f: &Fixture) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let url = match (&f.location, &f.pg) {
        (Location::DataDir(dir), _) => format!("sqlite://{}/sealdrop.db", dir.display()),
        (Location::Postgres(_), Some(pg)) => pg.url(),
        _ => unreachable!(),
    };
    AnyPoolOptions::new().connect(&url).await.unwrap()
}

macro_rules! on_both_engines {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test(super::sqlite().await).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test(super::postgres().await).await })*
        }
    };
}

on_both_engines!(
    users_and_tokens,
    disabled_users_and_expired_tokens,
    legacy_users_file_is_imported_once_and_kept,
    newer_schema_is_refused,
    identities_link_provision_and_race,
    upload_plans_are_shared_until_forgotten,
    uploads_in_flight_are_counted_until_they_end,
    share_downloads_are_counted_once_across_replicas,
    file_request_limits_hold_across_replicas,
);

async fn file_request_limits_hold_across_replicas(f: Fixture) {
    use sealdrop_state::{NewFileRequest, ReservationRefusal};
    let db = &f.db;
    db.add_user("alice", None).await.unwrap();
    let request = NewFileRequest {
        user: "alice",
        name: "scans",
        expires_in: Duration::from_secs(3600),
        max_files: 3,
        max_bytes: 1000,
        note: None,
    };
    let issued = db.create_file_request(&request).await.unwrap();
    assert_eq!(
        db.find_file_request(&issued.id, "wrong").await.unwrap(),
        None
    );
    let found = db
        .find_file_request(&issued.id, &issued.secret)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.prefix(), "alice/inbox/scans/");

    // 12 uploads race for 3 files through two replicas: exactly 3 win.
    let other = Database::open(&f.location).await.unwrap();
    let races = (0..12).map(|i| {
        let db = if i % 2 == 0 {
            db.clone()
        } else {
            other.clone()
        };
        let id = issued.id.clone();
        tokio::spawn(async move {
            db.reserve_request_upload(&id, &format!("alice/inbox/scans/{i}"), 10)
                .await
                .unwrap()
        })
    });
    let mut won = 0;
    for race in races {
        match race.await.unwrap() {
            Ok(()) => won += 1,
            Err(refused) => assert_eq!(refused, ReservationRefusal::NoFilesLeft),
        }
    }
    assert_eq!(won, 3);
    // One key is one upload; an abort gives its file and bytes back.
    let winner = (0..12)
        .map(|i| format!("alice/inbox/scans/{i}"))
        .collect::<Vec<_>>();
    let record = db.file_requests_of("alice").await.unwrap().remove(0);
    assert_eq!((record.files, record.bytes), (3, 30));
    for key in &winner {
        db.release_request_upload(key).await.unwrap();
    }
    let record = db.file_requests_of("alice").await.unwrap().remove(0);
    assert_eq!((record.files, record.bytes), (0, 0));
    db.reserve_request_upload(&issued.id, "alice/inbox/scans/a", 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        db.reserve_request_upload(&issued.id, "alice/inbox/scans/a", 10)
            .await
            .unwrap(),
        Err(ReservationRefusal::NameTaken)
    );
    assert_eq!(
        db.reserve_request_upload(&issued.id, "alice/inbox/scans/b", 991)
            .await
            .unwrap(),
        Err(ReservationRefusal::TooLarge(990))
    );
    let record = db.file_requests_of("alice").await.unwrap().remove(0);
    assert_eq!(
        (record.files, record.bytes),
        (1, 10),
        "refusals take nothing"
    );
    // Replicas sweeping at once give a reservation back once.
    let releases = (0..4).map(|_| {
        let db = db.clone();
        tokio::spawn(async move { db.release_request_upload("alice/inbox/scans/a").await })
    });
    for release in releases {
        release.await.unwrap().unwrap();
    }
    let record = db.file_requests_of("alice").await.unwrap().remove(0);
    assert_eq!((record.files, record.bytes), (0, 0), "released once");
    // A file seen stored is settled and never offered for release.
    for key in ["alice/inbox/scans/c", "alice/inbox/scans/d"] {
        db.reserve_request_upload(&issued.id, key, 1)
            .await
            .unwrap()
            .unwrap();
    }
    db.settle_request_upload("alice/inbox/scans/c")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let unsettled = db
        .unsettled_request_uploads(Duration::ZERO, 10)
        .await
        .unwrap();
    assert_eq!(unsettled, ["alice/inbox/scans/d"]);

    // Expired, closed, or its owner disabled: no more uploads.
    let brief = db
        .create_file_request(&NewFileRequest {
            expires_in: Duration::from_millis(1),
            ..request
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        db.reserve_request_upload(&brief.id, "alice/inbox/scans/late", 1)
            .await
            .unwrap(),
        Err(ReservationRefusal::Ended(
            sealdrop_api::FileRequestStatus::Expired
        ))
    );
    db.set_disabled("alice", true).await.unwrap();
    assert!(matches!(
        db.reserve_request_upload(&issued.id, "alice/inbox/scans/c", 1)
            .await
            .unwrap(),
        Err(ReservationRefusal::Ended(_))
    ));
    db.set_disabled("alice", false).await.unwrap();
    assert!(db.close_file_request("alice", &issued.id).await.unwrap());
    assert!(!db.close_file_request("bob", &issued.id).await.unwrap());
    assert!(matches!(
        db.reserve_request_upload(&issued.id, "alice/inbox/scans/c", 1)
            .await
            .unwrap(),
        Err(ReservationRefusal::Ended(
            sealdrop_api::FileRequestStatus::Closed
        ))
    ));
}

async fn share_downloads_are_counted_once_across_replicas(f: Fixture) {
    use sealdrop_state::NewShare;
    let db = &f.db;
    db.add_user("alice", None).await.unwrap();
    let objects = [
        ("alice/a.txt".to_owned(), "\"etag-a\"".to_owned()),
        ("alice/b.txt".to_owned(), "\"etag-b\"".to_owned()),
    ];
    let share = NewShare {
        user: "alice",
        objects: &objects,
        expires_in: Duration::from_secs(3600),
        max_downloads: Some(3),
        note: Some("the contract,\nsigned"),
    };
    let issued = db.create_share(&share).await.unwrap();
    assert_eq!(issued.secret.len(), 43, "256 bits, base64url");
    // Only the hash is stored.
    let (stored,): (String,) = sqlx::query_as("SELECT secret_sha256 FROM shares WHERE id = $1")
        .bind(&issued.id)
        .fetch_one(&raw(&f).await)
        .await
        .unwrap();
    assert_eq!(stored, sha256_hex(&issued.secret));

    // A wrong secret is an unknown id.
    assert_eq!(db.find_share(&issued.id, "wrong").await.unwrap(), None);
    assert_eq!(
        db.find_share("no-such-id", &issued.secret).await.unwrap(),
        None
    );
    let found = db
        .find_share(&issued.id, &issued.secret)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user, "alice");
    assert_eq!(found.note.as_deref(), Some("the contract,\nsigned"));
    assert_eq!(found.objects.len(), 2);
    assert_eq!(found.objects[1].key, "alice/b.txt");
    assert_eq!(found.objects[1].etag, "\"etag-b\"");

    // A second handle on the same database is a second replica: 20 racing
    // downloads of a file limited to 3, spread over both, and exactly 3 count.
    let other = Database::open(&f.location).await.unwrap();
    let races = (0..20).map(|i| {
        let db = if i % 2 == 0 {
            db.clone()
        } else {
            other.clone()
        };
        let id = issued.id.clone();
        tokio::spawn(async move { db.count_share_download(&id, 0).await.unwrap() })
    });
    let mut counted = 0;
    for race in races {
        counted += usize::from(race.await.unwrap());
    }
    assert_eq!(counted, 3);
    let found = db
        .find_share(&issued.id, &issued.secret)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.objects[0].downloads, 3);
    assert_eq!(found.downloads_left(&found.objects[0]), Some(0));
    assert_eq!(found.downloads_left(&found.objects[1]), Some(3));
    assert!(found.last_access_at.is_some());

    // An expired link opens nothing.
    let brief = db
        .create_share(&NewShare {
            expires_in: Duration::from_millis(1),
            ..share
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!db.count_share_download(&brief.id, 0).await.unwrap());
    let found = db
        .find_share(&brief.id, &brief.secret)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.status(), sealdrop_api::ShareStatus::Expired);

    // A disabled owner's links stop working with their account.
    db.set_disabled("alice", true).await.unwrap();
    assert!(!db.count_share_download(&issued.id, 1).await.unwrap());
    let found = db
        .find_share(&issued.id, &issued.secret)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.status(), sealdrop_api::ShareStatus::Revoked);
    db.set_disabled("alice", false).await.unwrap();

    // Deleting an object ends its share; revoking ends the rest.
    db.unshare_object("alice/b.txt").await.unwrap();
    assert!(!db.count_share_download(&issued.id, 1).await.unwrap());
    let found = db
        .find_share(&issued.id, &issued.secret)
        .await
        .unwrap()
        .unwrap();
    assert!(found.objects[1].deleted);
    let unlimited = db
        .create_share(&NewShare {
            max_downloads: None,
            note: None,
            ..share
        })
        .await
        .unwrap();
    assert!(db.count_share_download(&unlimited.id, 0).await.unwrap());
    assert!(
        !db.revoke_share("bob", &unlimited.id).await.unwrap(),
        "not bob's"
    );
    assert!(db.revoke_share("alice", &unlimited.id).await.unwrap());
    assert!(
        db.revoke_share("alice", &unlimited.id).await.unwrap(),
        "twice is once"
    );
    assert!(!db.count_share_download(&unlimited.id, 0).await.unwrap());
    let listed = db.shares_of("alice").await.unwrap();
    assert_eq!(listed.len(), 3);
    assert!(
        listed
            .iter()
            .any(|s| s.id == unlimited.id && s.revoked_at.is_some())
    );

    // Bad input is refused before anything is written.
    for bad in [
        NewShare {
            objects: &[],
            ..share
        },
        NewShare {
            max_downloads: Some(0),
            ..share
        },
        NewShare {
            note: Some("bell\u{7}"),
            ..share
        },
        NewShare {
            expires_in: Duration::ZERO,
            ..share
        },
    ] {
        assert!(
            matches!(
                db.create_share(&bad).await,
                Err(StateError::InvalidInput(_))
            ),
            "{bad:?}"
        );
    }
}

async fn upload_plans_are_shared_until_forgotten(f: Fixture) {
    use sealdrop_state::UploadPlan;
    let db = &f.db;
    db.add_user("alice", None).await.unwrap();
    // 10 GiB + 16 in 8 MiB parts: the sizes survive BIGINT on both engines.
    let stored = (10u64 << 30) + 16;
    let plan = UploadPlan::new("alice/big", "alice", stored, 8 << 20, 1280).unwrap();
    db.record_upload("upload-1", &plan).await.unwrap();
    let read = db.upload_plan("upload-1").await.unwrap().unwrap();
    assert_eq!(read, plan);
    assert_eq!(read.part_len(1280), Some((8 << 20) + 16));
    assert_eq!(read.part_len(1281), None);
    assert_eq!(db.upload_plan("upload-2").await.unwrap(), None);
    assert_eq!(
        db.in_flight_of("alice").await.unwrap().multipart_bytes,
        stored
    );
    assert!(db.forget_upload("upload-1").await.unwrap());
    assert!(
        !db.forget_upload("upload-1").await.unwrap(),
        "forgotten once"
    );
    assert_eq!(db.upload_plan("upload-1").await.unwrap(), None);
}

/// What uploads in flight hold, as quotas count it: multipart plans until
/// forgotten, single PUTs until their URL expires; idle uploads are found by
/// their last activity.
async fn uploads_in_flight_are_counted_until_they_end(f: Fixture) {
    use sealdrop_state::UploadPlan;
    let db = &f.db;
    db.add_user("alice", None).await.unwrap();
    db.add_user("bob", None).await.unwrap();
    let plan = UploadPlan::new("alice/a", "alice", 20 << 20, 8 << 20, 3).unwrap();
    db.record_upload("mp-a", &plan).await.unwrap();
    let bob = UploadPlan::new("bob/b", "bob", 9 << 20, 8 << 20, 2).unwrap();
    db.record_upload("mp-b", &bob).await.unwrap();
    let lasting = db
        .record_pending_put("alice/s", "alice", 1000, Duration::from_secs(600))
        .await
        .unwrap();
    db.record_pending_put("alice/t", "alice", 7, Duration::from_millis(300))
        .await
        .unwrap();
    let in_flight = db.in_flight_of("alice").await.unwrap();
    assert_eq!(in_flight.multipart_uploads, 1);
    assert_eq!(in_flight.multipart_bytes, 20 << 20);
    let mut keys: Vec<_> = in_flight
        .pending_puts
        .iter()
        .map(|p| p.key.as_str())
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["alice/s", "alice/t"]);

    tokio::time::sleep(Duration::from_millis(700)).await;
    // The expired PUT no longer counts, and is then forgotten; an idle
    // search with a short limit finds both plans, the touched one not.
    let in_flight = db.in_flight_of("alice").await.unwrap();
    assert_eq!(in_flight.pending_puts.len(), 1);
    assert_eq!(in_flight.pending_puts[0].id, lasting);
    assert_eq!(db.forget_expired_puts().await.unwrap(), 1);
    db.touch_upload("mp-b").await.unwrap();
    let idle = db
        .idle_uploads(Duration::from_millis(500), 10)
        .await
        .unwrap();
    assert_eq!(idle.len(), 1, "{idle:?}");
    assert_eq!(
        (idle[0].upload_id.as_str(), idle[0].user.as_str()),
        ("mp-a", "alice")
    );
    db.forget_pending_puts(&[lasting]).await.unwrap();
    assert!(db.forget_upload("mp-a").await.unwrap());
    assert_eq!(db.in_flight_of("alice").await.unwrap(), Default::default());
}

async fn identities_link_provision_and_race(f: Fixture) {
    use sealdrop_state::{Identity, IdentityRefusal, SignedIn, provisioned_user_name};
    let db = &f.db;
    let alice_at_idp = Identity {
        issuer: "https://idp",
        subject: "a-1",
        display_name: Some("Alice"),
    };
    // Unlinked, no provisioning: refused, with the identity named.
    assert!(matches!(
        db.sign_in_identity(&alice_at_idp, false).await.unwrap(),
        Err(IdentityRefusal::NotLinked { .. })
    ));
    // Linking needs the user; then the identity signs in as them.
    assert!(matches!(
        db.link_identity("alice", "https://idp", "a-1").await,
        Err(StateError::NoSuchUser(_))
    ));
    db.add_user("alice", None).await.unwrap();
    db.link_identity("alice", "https://idp", "a-1")
        .await
        .unwrap();
    db.link_identity("alice", "https://idp", "a-1")
        .await
        .unwrap(); // idempotent
    assert_eq!(
        db.sign_in_identity(&alice_at_idp, false).await.unwrap(),
        Ok(SignedIn {
            user: "alice".to_owned(),
            provisioned: false
        })
    );
    // The same subject at another issuer is another identity.
    let elsewhere = Identity {
        issuer: "https://other-idp",
        ..alice_at_idp.clone()
    };
    assert!(
        db.sign_in_identity(&elsewhere, false)
            .await
            .unwrap()
            .is_err()
    );
    // One identity, one user.
    db.add_user("bob", None).await.unwrap();
    assert!(matches!(
        db.link_identity("bob", "https://idp", "a-1").await,
        Err(StateError::InvalidInput(_))
    ));
    // Disabled users are refused.
    db.set_disabled("alice", true).await.unwrap();
    assert_eq!(
        db.sign_in_identity(&alice_at_idp, false).await.unwrap(),
        Err(IdentityRefusal::Disabled)
    );
    db.set_disabled("alice", false).await.unwrap();

    // Provisioning: many sign-ins of one new identity at once (two replicas,
    // several tabs) make one user, in the reserved namespace.
    let new = Identity {
        issuer: "https://idp",
        subject: "admin",
        display_name: Some("admin"),
    };
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (db, new) = (db.clone(), new.clone());
            tokio::spawn(async move { db.sign_in_identity(&new, true).await })
        })
        .collect();
    let expected = provisioned_user_name("https://idp", "admin");
    let mut created = 0;
    for task in tasks {
        let signed_in = task.await.unwrap().unwrap().unwrap();
        assert_eq!(signed_in.user, expected);
        created += usize::from(signed_in.provisioned);
    }
    assert_eq!(created, 1, "exactly one sign-in says it made the user");
    let users = db.list_users().await.unwrap();
    let provisioned: Vec<_> = users.iter().filter(|u| u.origin == "oidc").collect();
    assert_eq!(provisioned.len(), 1);
    assert_eq!(provisioned[0].name, expected);
    assert_eq!(
        provisioned[0].identities[0].display_name.as_deref(),
        Some("admin")
    );
    assert!(matches!(
        db.add_user(&expected, None).await,
        Err(StateError::InvalidName(_))
    ));
    // A user for single sign-on only holds no token at all.
    db.add_user_without_token("erin").await.unwrap();
    let erin = db.list_users().await.unwrap();
    let erin = erin.iter().find(|u| u.name == "erin").unwrap();
    assert!(erin.tokens.is_empty());
    assert!(matches!(
        db.add_user_without_token("erin").await,
        Err(StateError::UserExists(_))
    ));
    assert!(matches!(
        db.add_user_without_token(&expected).await,
        Err(StateError::InvalidName(_))
    ));
    // Unlinking ends it (and with provisioning on, the same user comes back).
    db.unlink_identity("https://idp", "a-1").await.unwrap();
    assert!(
        db.sign_in_identity(&alice_at_idp, false)
            .await
            .unwrap()
            .is_err()
    );
    assert!(db.unlink_identity("https://idp", "a-1").await.is_err());
}

async fn users_and_tokens(f: Fixture) {
    let db = &f.db;
    assert!(db.is_empty().await.unwrap());
    let first = db.add_user("alice", None).await.unwrap();
    assert!(first.token.starts_with("sdt_") && first.token.len() == 4 + 43);
    assert_eq!(first.expires_at, None);
    assert!(!db.is_empty().await.unwrap());
    let who = db.authenticate_token(&first.token).await.unwrap().unwrap();
    assert_eq!(
        (who.user.as_str(), who.token_id.as_str()),
        ("alice", first.id.as_str())
    );

    assert!(matches!(
        db.add_user("alice", None).await,
        Err(StateError::UserExists(_))
    ));
    assert!(matches!(
        db.add_user("../x", None).await,
        Err(StateError::InvalidName(_))
    ));
    assert!(matches!(
        db.issue_token("bob", None, None).await,
        Err(StateError::NoSuchUser(_))
    ));
    assert_eq!(
        db.authenticate_token("sdt_nope").await.unwrap(),
        Err(TokenRefusal::Unknown)
    );
    assert_eq!(
        db.authenticate_token("eyJ.a.b").await.unwrap(),
        Err(TokenRefusal::Unknown)
    );

    // A second token, named and expiring, does not reveal or replace the first.
    let laptop = db
        .issue_token("alice", Some("laptop"), Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_ne!(laptop.id, first.id);
    assert!(laptop.expires_at.is_some());
    let users = db.list_users().await.unwrap();
    assert_eq!(users.len(), 1);
    let tokens = &users[0].tokens;
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[1].label.as_deref(), Some("laptop"));
    assert!(tokens.iter().all(|t| t.status() == "active"));
    assert!(
        users[0].last_seen_at.is_some(),
        "authenticating records last seen"
    );
    assert!(tokens[0].last_used_at.is_some());

    // Only hashes are stored.
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, sha256 FROM api_tokens")
        .fetch_all(&raw(&f).await)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for (_, hash) in &rows {
        assert_eq!(hash.len(), 64);
        assert!(!first.token.contains(hash.as_str()) && !hash.contains(&first.token[4..]));
    }

    // Revoking one by id leaves the other working.
    db.revoke_token(&first.id).await.unwrap();
    assert_eq!(
        db.authenticate_token(&first.token).await.unwrap(),
        Err(TokenRefusal::Unknown)
    );
    assert!(db.authenticate_token(&laptop.token).await.unwrap().is_ok());
    assert!(matches!(
        db.revoke_token("000000000000").await,
        Err(StateError::NoSuchToken(_))
    ));
    assert!(matches!(
        db.revoke_user_tokens("alice", Some("000000000000")).await,
        Err(StateError::NotUsersToken { .. })
    ));
    assert_eq!(db.revoke_user_tokens("alice", None).await.unwrap(), 1);
    assert_eq!(
        db.authenticate_token(&laptop.token).await.unwrap(),
        Err(TokenRefusal::Unknown)
    );
    let users = db.list_users().await.unwrap();
    assert!(users[0].tokens.iter().all(|t| t.status() == "revoked"));
}

async fn disabled_users_and_expired_tokens(f: Fixture) {
    let db = &f.db;
    let token = db.add_user("carol", None).await.unwrap().token;
    assert!(db.user_enabled("carol").await.unwrap());
    db.set_disabled("carol", true).await.unwrap();
    assert!(!db.user_enabled("carol").await.unwrap());
    assert_eq!(
        db.authenticate_token(&token).await.unwrap(),
        Err(TokenRefusal::Disabled)
    );
    let listed = db.list_users().await.unwrap();
    assert!(listed[0].disabled_at.is_some());
    db.set_disabled("carol", false).await.unwrap();
    assert!(db.authenticate_token(&token).await.unwrap().is_ok());
    assert!(matches!(
        db.set_disabled("nobody", true).await,
        Err(StateError::NoSuchUser(_))
    ));
    assert!(!db.user_enabled("nobody").await.unwrap());

    let short = db
        .issue_token("carol", None, Some(Duration::from_millis(1)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        db.authenticate_token(&short.token).await.unwrap(),
        Err(TokenRefusal::Expired)
    );
    let listed = db.list_users().await.unwrap();
    assert_eq!(listed[0].tokens[1].status(), "expired");
    assert!(matches!(
        db.issue_token("carol", Some(""), None).await,
        Err(StateError::InvalidInput(_))
    ));
}

/// `users.json` as sealdrop wrote it before it had a database.
fn legacy_users_file(active: &str, revoked: &str) -> String {
    let (a, r) = (sha256_hex(active), sha256_hex(revoked));
    format!(
        r#"{{"users":[
          {{"name":"admin","created_at":"2026-01-02T03:04:05Z","tokens":[
            {{"id":"{}","sha256":"{a}","created_at":"2026-01-02T03:04:05Z"}},
            {{"id":"{}","sha256":"{r}","created_at":"2026-01-02T03:04:06Z","revoked_at":"2026-02-01T00:00:00Z"}}]}},
          {{"name":"dave","created_at":"2026-03-04T05:06:07Z","tokens":[]}}]}}"#,
        &a[..8],
        &r[..8]
    )
}

async fn legacy_users_file_is_imported_once_and_kept(f: Fixture) {
    let db = &f.db;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.json");
    let active = format!("sdt_{}", "A".repeat(43));
    let revoked = format!("sdt_{}", "B".repeat(43));
    let text = legacy_users_file(&active, &revoked);
    std::fs::write(&path, &text).unwrap();

    let report = db.import_users_file(&path).await.unwrap().unwrap();
    assert_eq!((report.users, report.tokens, report.inserted), (2, 2, 4));
    assert!(!path.exists());
    let backup = dir.path().join("users.json.imported");
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), text);
    assert_eq!(
        db.authenticate_token(&active).await.unwrap().unwrap().user,
        "admin"
    );
    assert_eq!(
        db.authenticate_token(&revoked).await.unwrap(),
        Err(TokenRefusal::Unknown)
    );
    let users = db.list_users().await.unwrap();
    let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["admin", "dave"]);
    assert_eq!(users[0].created_at, "2026-01-02T03:04:05Z");
    assert_eq!(users[0].tokens[0].id, &sha256_hex(&active)[..8]);
    assert_eq!(
        users[0].tokens[1].revoked_at.as_deref(),
        Some("2026-02-01T00:00:00Z")
    );

    // Nothing to import now; the same file again changes nothing.
    assert_eq!(db.import_users_file(&path).await.unwrap(), None);
    std::fs::copy(&backup, &path).unwrap();
    let again = db.import_users_file(&path).await.unwrap().unwrap();
    assert_eq!(again.inserted, 0);
    assert_eq!(db.list_users().await.unwrap().len(), 2);

    // A file that is not a users file is refused, and stays where it is.
    std::fs::write(&path, "{").unwrap();
    assert!(matches!(
        db.import_users_file(&path).await,
        Err(StateError::Import { .. })
    ));
    assert!(path.exists());
}

fn sha256_hex(token: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

async fn newer_schema_is_refused(f: Fixture) {
    // What a newer sealdrop leaves behind: a migration this binary lacks.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (999, 'from the future', TRUE, $1, 0)",
    )
    .bind(vec![0u8; 48])
    .execute(&raw(&f).await)
    .await
    .unwrap();
    let refused = Database::open(&f.location).await.err().expect("refused");
    assert!(
        matches!(
            refused,
            StateError::NewerSchema {
                found: 999,
                known: 5,
                ..
            }
        ),
        "{refused}"
    );
    assert!(refused.to_string().contains("newer sealdrop"), "{refused}");
}

/// Replicas starting at once on an empty database migrate it exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_starts_migrate_once() {
    let pg = Postgres::start().unwrap();
    let location = Location::Postgres(DatabaseUrl::parse(&pg.url()).unwrap());
    let opens = (0..4).map(|_| {
        let location = location.clone();
        tokio::spawn(async move { Database::open(&location).await })
    });
    for open in futures::future::join_all(opens).await {
        open.unwrap().unwrap();
    }
    sqlx::any::install_default_drivers();
    let raw = AnyPoolOptions::new().connect(&pg.url()).await.unwrap();
    let (rows, versions): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT version) FROM _sqlx_migrations")
            .fetch_one(&raw)
            .await
            .unwrap();
    assert_eq!(
        (rows, versions),
        (5, 5),
        "each migration (accounts, uploads, shares, file requests, upload lifecycle) applied once"
    );
}

/// An unreachable database is named without its password; one that goes away
/// while running is `Unavailable` and works again when it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_are_reported_and_recovered_from() {
    let pg = Postgres::start().unwrap();
    let nowhere = format!(
        "postgres://sd:hunter2@127.0.0.1:{}/postgres",
        sealdrop_tests::free_port()
    );
    let error = Database::open(&Location::Postgres(DatabaseUrl::parse(&nowhere).unwrap()))
        .await
        .err()
        .expect("unreachable");
    let message = error.to_string();
    assert!(matches!(error, StateError::Unavailable { .. }), "{message}");
    assert!(message.contains("sd:***@127.0.0.1"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");

    let url = DatabaseUrl::parse(&pg.url_with_password("hunter2")).unwrap();
    let db = Database::open(&Location::Postgres(url)).await.unwrap();
    let token = db.add_user("erin", None).await.unwrap().token;
    pg.stop().unwrap();
    let error = db.authenticate_token(&token).await.unwrap_err();
    assert!(matches!(error, StateError::Unavailable { .. }), "{error}");
    assert!(!error.to_string().contains("hunter2"), "{error}");
    pg.restart().unwrap();
    let mut recovered = None;
    for _ in 0..50 {
        if let Ok(result) = db.authenticate_token(&token).await {
            recovered = Some(result);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        recovered.expect("recovered within 5 s").unwrap().user,
        "erin"
    );
}
