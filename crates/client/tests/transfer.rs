//! Uploads and downloads against a real deployment (broker and embedded
//! store, in-process), with a proxy in front of storage (see `common`).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Fault, Harness, PART_SIZE};
use sealdrop_api::{Mode, ObjectMode};
use sealdrop_client::{
    Client, Error, ErrorKind, NoProgress, Progress, RetryPolicy, TransferConfig,
};

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn quick_retries(client: Client) -> Client {
    let config = TransferConfig {
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            ..RetryPolicy::default()
        },
        ..client.transfer_config()
    };
    client.with_transfer_config(config)
}

/// Files in `dir`, to show nothing stray was left.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(u64, u64)>>);

impl Progress for Recorder {
    fn update(&self, done: u64, total: u64) {
        self.0.lock().unwrap().push((done, total));
    }
}

#[tokio::test]
async fn cse_round_trips_at_every_boundary() {
    let harness = Harness::start().await;
    let client = harness.client();
    let dir = tempfile::tempdir().unwrap();
    let part = PART_SIZE as usize;
    let threshold = PART_SIZE as usize;
    for size in [
        0,
        1,
        15,
        16,
        17,
        threshold - 17,
        threshold - 16,
        threshold - 15,
        2 * part + 1,
        3 * part,
    ] {
        let plaintext = data(size);
        let name = format!("cse-{size}.bin");
        let key = client
            .upload_reader(
                &plaintext[..],
                size as u64,
                &name,
                Mode::Cse,
                false,
                NoProgress,
            )
            .await
            .unwrap();
        assert_eq!(key, format!("alice/{name}"));
        let stored = harness.stored(&key).await.unwrap();
        assert_eq!(stored.body.len(), size + 16, "size {size}");
        if size > 0 {
            assert_ne!(&stored.body[..size.min(64)], &plaintext[..size.min(64)]);
        }
        assert_eq!(harness.decrypt_stored(&key).await, plaintext, "size {size}");

        let out = dir.path().join(&name);
        let report = client.download_to(&key, &out, NoProgress).await.unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), plaintext, "size {size}");
        assert_eq!(report.size, size as u64);
        assert_eq!(report.mode, ObjectMode::CseV3);
        assert_eq!(
            report.kms_key_id.as_deref(),
            Some(harness.state.keys.key_id())
        );
        assert_eq!(
            report.encryption_context.unwrap()["sealdrop:key"],
            key.as_str()
        );
    }
    let multipart = harness.calls_to("/api/v1/uploads/complete").len();
    // The threshold counts stored bytes: from `threshold - 16` on, multipart.
    assert_eq!(multipart, 4);
}

#[tokio::test]
async fn sse_sends_plaintext_and_reports_the_storage_headers() {
    let harness = Harness::start().await;
    let client = harness.client();
    let dir = tempfile::tempdir().unwrap();
    for size in [0usize, 17, 100_000, PART_SIZE as usize + 1] {
        let plaintext = data(size);
        let source = dir.path().join(format!("in-{size}"));
        std::fs::write(&source, &plaintext).unwrap();
        let key = client
            .upload_file(
                &source,
                &format!("sse-{size}"),
                Mode::Sse,
                false,
                NoProgress,
            )
            .await
            .unwrap();
        // Storage got the plaintext and encrypts it at rest itself.
        let stored = harness.stored(&key).await.unwrap();
        assert_eq!(stored.body, plaintext);
        assert_eq!(stored.server_side_encryption.as_deref(), Some("aws:kms"));

        let out = dir.path().join(format!("out-{size}"));
        let report = client.download_to(&key, &out, NoProgress).await.unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), plaintext);
        assert_eq!(report.mode, ObjectMode::SseKms);
        assert_eq!(report.server_side_encryption.as_deref(), Some("aws:kms"));
        assert_eq!(
            report.server_side_encryption_kms_key_id.as_deref(),
            Some(harness.state.keys.key_id())
        );
    }
}

#[tokio::test]
async fn parts_upload_concurrently_and_are_signed_on_demand() {
    let harness = Harness::start().await;
    harness.with_wire(|w| w.part_delay = Duration::from_millis(100));
    let client = harness.client().with_transfer_config(TransferConfig {
        parts_in_flight: 3,
        sign_batch: 2,
        ..TransferConfig::default()
    });
    let plaintext = data(10 * PART_SIZE as usize + 5);
    let key = client
        .upload_reader(
            &plaintext[..],
            plaintext.len() as u64,
            "big",
            Mode::Cse,
            false,
            NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(harness.decrypt_stored(&key).await, plaintext);
    assert_eq!(harness.with_wire(|w| w.max_in_flight), 3);
    // 11 parts; the broker presigns 8 at creation, the rest are asked for in
    // batches of 2 when needed.
    let signed: Vec<serde_json::Value> = harness
        .calls_to("/api/v1/uploads/parts")
        .into_iter()
        .map(|body| body["part_numbers"].clone())
        .collect();
    assert_eq!(
        signed,
        vec![serde_json::json!([9, 10]), serde_json::json!([11])]
    );
}

#[tokio::test]
async fn a_failed_part_is_resent_with_the_same_bytes() {
    let harness = Harness::start().await;
    harness.with_wire(|w| {
        w.faults = vec![
            Fault {
                part: Some(2),
                status: 503,
                times: 2,
            },
            Fault {
                part: Some(3),
                status: 500,
                times: 1,
            },
        ]
    });
    let client = quick_retries(harness.client());
    let plaintext = data(3 * PART_SIZE as usize);
    let recorder = Arc::new(Recorder::default());
    let key = client
        .upload_reader(
            &plaintext[..],
            plaintext.len() as u64,
            "retried",
            Mode::Cse,
            false,
            Arc::clone(&recorder),
        )
        .await
        .unwrap();
    assert_eq!(harness.decrypt_stored(&key).await, plaintext);
    let attempts = harness.with_wire(|w| w.attempts.clone());
    assert_eq!(attempts[&2].len(), 3);
    assert!(attempts[&2].iter().all(|body| *body == attempts[&2][0]));
    assert_eq!(attempts[&3].len(), 2);
    assert_eq!(attempts[&3][0], attempts[&3][1]);

    // Progress never passes the total and ends exactly there.
    let total = plaintext.len() as u64 + 16;
    let seen = recorder.0.lock().unwrap().clone();
    assert!(seen.iter().all(|&(done, t)| t == total && done <= total));
    assert_eq!(seen.last(), Some(&(total, total)));
}

#[tokio::test]
async fn a_permanent_failure_aborts_the_multipart_upload() {
    let harness = Harness::start().await;
    harness.with_wire(|w| {
        w.faults = vec![Fault {
            part: Some(3),
            status: 403,
            times: u32::MAX,
        }]
    });
    let client = quick_retries(harness.client());
    let plaintext = data(4 * PART_SIZE as usize);
    let err = client
        .upload_reader(
            &plaintext[..],
            plaintext.len() as u64,
            "refused",
            Mode::Cse,
            false,
            NoProgress,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.status(), Some(403));
    assert!(err.to_string().contains("part 3"), "{err}");
    assert!(
        !err.to_string().contains("Signature="),
        "no presigned URL in {err}"
    );
    assert_eq!(
        harness.with_wire(|w| w.attempts[&3].len()),
        1,
        "a 403 is not retried"
    );
    assert_eq!(harness.calls_to("/api/v1/uploads/abort").len(), 1);
    assert_eq!(harness.uploads_in_progress().await, 0);
    assert!(harness.stored("alice/refused").await.is_none());
}

#[tokio::test]
async fn a_dropped_upload_is_aborted() {
    let harness = Harness::start().await;
    harness.with_wire(|w| w.part_delay = Duration::from_secs(30));
    let client = harness.client();
    let plaintext = data(2 * PART_SIZE as usize);
    let upload = client.upload_reader(
        &plaintext[..],
        plaintext.len() as u64,
        "cancelled",
        Mode::Sse,
        false,
        NoProgress,
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), upload)
            .await
            .is_err()
    );
    assert_eq!(harness.uploads_in_progress().await, 1);
    client.finish_pending_aborts().await;
    assert_eq!(harness.calls_to("/api/v1/uploads/abort").len(), 1);
    assert_eq!(harness.uploads_in_progress().await, 0);
}

#[tokio::test]
async fn a_source_that_changes_size_fails_and_stores_nothing() {
    let harness = Harness::start().await;
    let client = harness.client();
    let plaintext = data(PART_SIZE as usize + 100_000);
    let len = plaintext.len() as u64;
    // Announced longer than it is, the last part cannot be read; announced
    // shorter, the end check after the last byte fails; and a single request.
    for (source, announced, name) in [
        (&plaintext[..], len + 1, "short"),
        (&plaintext[..], len - 1, "long"),
        (&plaintext[..10], 11, "small"),
    ] {
        let err = client
            .upload_reader(source, announced, name, Mode::Cse, false, NoProgress)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::SourceChanged { .. }), "{name}: {err}");
    }
    assert!(client.list_all(None).await.unwrap().is_empty());
    assert_eq!(harness.calls_to("/api/v1/uploads/abort").len(), 2);
    assert_eq!(harness.uploads_in_progress().await, 0);
}

#[tokio::test]
async fn a_tampered_object_fails_and_leaves_no_file() {
    let harness = Harness::start().await;
    let client = harness.client();
    let dir = tempfile::tempdir().unwrap();
    for size in [0usize, 1, 5000, 200_000] {
        let plaintext = data(size);
        let key = client
            .upload_reader(
                &plaintext[..],
                size as u64,
                "t",
                Mode::Cse,
                true,
                NoProgress,
            )
            .await
            .unwrap();
        let original = harness.stored(&key).await.unwrap().body;
        // Flip a bit in the ciphertext, in the tag, then cut the tag short.
        let tampered: Vec<Vec<u8>> = vec![
            {
                let mut b = original.clone();
                b[size / 2] ^= 1;
                b
            },
            {
                let mut b = original.clone();
                *b.last_mut().unwrap() ^= 0x80;
                b
            },
        ];
        for body in tampered {
            harness.overwrite(&key, body).await;
            let out = dir.path().join("out");
            let err = client
                .download_to(&key, &out, NoProgress)
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
            assert!(err.to_string().contains("integrity check failed"), "{err}");
            assert!(
                entries(dir.path()).is_empty(),
                "left {:?}",
                entries(dir.path())
            );
        }
    }
}

#[tokio::test]
async fn a_body_of_the_wrong_length_is_an_integrity_failure() {
    let harness = Harness::start().await;
    let client = harness.client();
    let dir = tempfile::tempdir().unwrap();
    fn cut(mut body: Vec<u8>) -> Vec<u8> {
        body.truncate(body.len() - 10);
        body
    }
    fn padded(mut body: Vec<u8>) -> Vec<u8> {
        body.extend_from_slice(&[0; 100]);
        body
    }
    for mode in [Mode::Sse, Mode::Cse] {
        let key = client
            .upload_reader(&data(1000)[..], 1000, "f", mode, true, NoProgress)
            .await
            .unwrap();
        for rewrite in [cut as fn(Vec<u8>) -> Vec<u8>, padded] {
            harness.with_wire(|w| w.rewrite_downloads = Some(rewrite));
            let err = client
                .download_to(&key, &dir.path().join("f"), NoProgress)
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Integrity, "{mode:?}: {err}");
            assert!(entries(dir.path()).is_empty());
        }
    }
}

#[tokio::test]
async fn downloads_refuse_to_replace_unless_asked() {
    let harness = Harness::start().await;
    let client = harness.client();
    let dir = tempfile::tempdir().unwrap();
    let key = client
        .upload_reader(&b"new"[..], 3, "f", Mode::Cse, false, NoProgress)
        .await
        .unwrap();
    let out = dir.path().join("f");
    std::fs::write(&out, b"old").unwrap();
    let err = client
        .download_to_new_file(&key, &out, NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DestinationExists(_)));
    assert_eq!(std::fs::read(&out).unwrap(), b"old");
    client.download_to(&key, &out, NoProgress).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"new");
    assert_eq!(entries(dir.path()), vec!["f"]);
}

#[tokio::test]
async fn api_errors_are_typed() {
    let harness = Harness::start().await;
    let client = harness.client();
    client
        .upload_reader(&b"x"[..], 1, "exists", Mode::Cse, false, NoProgress)
        .await
        .unwrap();
    let err = client
        .upload_reader(&b"y"[..], 1, "exists", Mode::Cse, false, NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.code(), Some("conflict"));

    let err = client.object_info("alice/missing").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let dir = tempfile::tempdir().unwrap();
    let err = client
        .download_to("alice/missing", &dir.path().join("x"), NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(entries(dir.path()).is_empty());

    let stranger = Client::new(&harness.url(), "wrong").unwrap();
    let err = stranger.me().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert_eq!(err.status(), Some(401));
    assert_eq!(
        err.to_string(),
        "Not signed in: the token or session is missing, wrong, expired or revoked \
         (invalid token). Sign in again."
    );
}

#[tokio::test]
async fn an_unreachable_broker_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = quick_retries(Client::new(&url, "t").unwrap());
    let err = client.me().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert!(err.is_retryable());
}

#[tokio::test]
async fn listing_follows_every_page() {
    let harness = Harness::start().await;
    let client = harness.client();
    // More than one of the broker's pages of 100.
    let mut names: Vec<String> = (0..120).map(|i| format!("a/{i:03}")).collect();
    names.push("b/1".into());
    for name in &names {
        client
            .upload_reader(&b"x"[..], 1, name, Mode::Sse, false, NoProgress)
            .await
            .unwrap();
    }
    let listed: Vec<String> = client
        .list_all(Some("a/"))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(listed, names[..120]);
    client.delete_object("alice/a/002").await.unwrap();
    assert_eq!(client.list_all(None).await.unwrap().len(), 120);
    assert!(harness.stored("alice/a/002").await.is_none());
}

#[test]
fn transfers_can_run_on_spawned_tasks() {
    fn assert_send<T: Send>(_: &T) {}
    let client = Client::new("http://127.0.0.1:9", "t").unwrap();
    assert_send(&client.upload_file(Path::new("f"), "f", Mode::Cse, false, NoProgress));
    assert_send(&client.upload_reader(&b"x"[..], 1, "f", Mode::Sse, false, NoProgress));
    assert_send(&client.download_to("k", Path::new("f"), NoProgress));
    assert_send(&client.download_to_new_file("k", Path::new("f"), NoProgress));
}
