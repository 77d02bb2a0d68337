//! The operator commands, against moto and the embedded default: bucket default
//! encryption, encrypting existing objects in place, and KMS key rotation of
//! client-side encrypted objects without touching their content.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use sealdrop_client::NoProgress;
use sealdrop_client::api::Mode;
use sealdrop_tests::{Bucket, Moto, Peer, Server, ServerOptions, content};

const BUCKET: &str = "ops";

/// Stores a plaintext object the way any S3 client would, bypassing sealdrop.
async fn put_plain(bucket: &Bucket, key: &str, body: &[u8], metadata: &[(&str, &str)]) {
    let metadata = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    bucket
        .put(key, body.to_vec(), metadata, "text/x-report")
        .await;
}

/// What a GET returns: SSE header, user metadata, content type, body.
async fn state(
    bucket: &Bucket,
    key: &str,
) -> (
    Option<String>,
    HashMap<String, String>,
    Option<String>,
    Vec<u8>,
) {
    let out = bucket.get(key).await;
    let sse = out.server_side_encryption().map(|s| s.as_str().to_owned());
    let metadata = out.metadata().cloned().unwrap_or_default();
    let content_type = out.content_type().map(str::to_owned);
    let body = out.body.collect().await.unwrap().into_bytes().to_vec();
    (sse, metadata, content_type, body)
}

/// bucket-encryption set → plain uploads are SSE-KMS; encrypt-existing turns
/// plaintext objects into SSE-KMS objects with identical content and metadata,
/// leaves client-side encrypted ones alone, and a second run changes nothing.
async fn default_encryption_and_encrypt_existing(server: &Server, bucket: &Bucket, kms_key: &str) {
    let client = server.client(&server.admin_token);
    let cse = client
        .upload_reader(
            &b"client-side"[..],
            11,
            "cse.txt",
            Mode::Cse,
            false,
            NoProgress,
        )
        .await
        .unwrap();
    let plain: Vec<(String, Vec<u8>)> = (0..5)
        .map(|i| {
            (
                format!("admin/old/report-{i}.txt"),
                content(1000 + i, i as u64),
            )
        })
        .collect();
    for (key, body) in &plain {
        put_plain(
            bucket,
            key,
            body,
            &[("department", "finance"), ("origin", key)],
        )
        .await;
        assert_eq!(state(bucket, key).await.0, None);
    }

    let out = server.admin(&["encrypt-existing", "--dry-run"]).unwrap();
    assert!(out.contains("5  would encrypt with SSE-KMS"), "{out}");
    assert_eq!(
        state(bucket, &plain[0].0).await.0,
        None,
        "dry run changes nothing"
    );

    let out = server
        .admin(&["bucket-encryption", "set", "--kms-key", kms_key])
        .unwrap();
    assert!(out.contains("SSE-KMS"), "{out}");
    let out = server.admin(&["bucket-encryption", "get"]).unwrap();
    assert!(out.contains("aws:kms") && out.contains(kms_key), "{out}");
    put_plain(bucket, "admin/new.txt", b"after default", &[]).await;
    assert_eq!(
        state(bucket, "admin/new.txt").await.0.as_deref(),
        Some("aws:kms")
    );

    let out = server
        .admin(&["encrypt-existing", "--prefix", "admin/old/"])
        .unwrap();
    assert!(out.contains("5  encrypted with SSE-KMS"), "{out}");
    for (key, body) in &plain {
        let (sse, metadata, content_type, stored) = state(bucket, key).await;
        assert_eq!(sse.as_deref(), Some("aws:kms"), "{key}");
        assert_eq!(&stored, body, "identical content");
        assert_eq!(
            metadata.get("department").map(String::as_str),
            Some("finance")
        );
        assert_eq!(metadata.get("origin"), Some(key));
        assert_eq!(content_type.as_deref(), Some("text/x-report"));
    }
    // Put into the bucket directly, they carried no binding; now they do,
    // and sealdrop opens them.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    client
        .download_to(&plain[0].0, &out, NoProgress)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), plain[0].1);
    // SSE by the bucket default, but never through sealdrop: refused until
    // encrypt-existing adopts it below.
    let refused = client
        .download_to("admin/new.txt", &out, NoProgress)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("no sealdrop binding"),
        "{refused}"
    );
    let before = state(bucket, &cse).await;
    let out = server.admin(&["encrypt-existing"]).unwrap();
    assert!(
        !out.contains("encrypted with SSE-KMS"),
        "second run changes nothing: {out}"
    );
    assert!(out.contains("already SSE-KMS"), "{out}");
    assert!(out.contains("1  bound to its key (SSE-KMS)"), "{out}");
    assert!(
        out.contains("1  client-side encrypted (left as is)"),
        "{out}"
    );
    let adopted = dir.path().join("new");
    client
        .download_to("admin/new.txt", &adopted, NoProgress)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&adopted).unwrap(), b"after default");
    assert_eq!(
        state(bucket, &cse).await,
        before,
        "client-side objects untouched"
    );

    let out = server.admin(&["bucket-encryption", "clear"]).unwrap();
    assert!(out.contains("removed"), "{out}");
}

#[tokio::test]
async fn moto_bucket_encryption_and_encrypt_existing() {
    let moto = Moto::start().unwrap();
    let kms_key = moto.bucket_and_key(BUCKET).await.unwrap();
    let server = Server::aws(&moto, BUCKET, &kms_key, ServerOptions::default()).unwrap();
    let bucket = moto.bucket(BUCKET).await;
    default_encryption_and_encrypt_existing(&server, &bucket, &kms_key).await;
}

#[tokio::test]
async fn embedded_bucket_encryption_and_encrypt_existing() {
    let server = Server::embedded(ServerOptions::default()).unwrap();
    let key_id = server
        .client(&server.admin_token)
        .me()
        .await
        .unwrap()
        .kms_key_id;
    let bucket = server.store_bucket().await.unwrap();
    default_encryption_and_encrypt_existing(&server, &bucket, &key_id).await;
}

#[tokio::test]
async fn moto_rotation_moves_data_keys_without_touching_content() {
    let moto = Moto::start().unwrap();
    let old_key = moto.bucket_and_key(BUCKET).await.unwrap();
    let new_key = moto.create_key().await.unwrap();
    let server = Server::aws(&moto, BUCKET, &old_key, ServerOptions::default()).unwrap();
    let client = server.client(&server.admin_token);
    let bucket = moto.bucket(BUCKET).await;
    let mut keys = Vec::new();
    for (i, size) in [0usize, 17, 70_000].into_iter().enumerate() {
        let data = content(size, i as u64);
        let key = client
            .upload_reader(
                &data[..],
                size as u64,
                &format!("r{i}.bin"),
                Mode::Cse,
                false,
                NoProgress,
            )
            .await
            .unwrap();
        keys.push((key, data));
    }
    let sse_key = client
        .upload_reader(&b"sse"[..], 3, "sse.bin", Mode::Sse, false, NoProgress)
        .await
        .unwrap();
    let before: Vec<_> =
        futures::future::join_all(keys.iter().map(|(k, _)| state(&bucket, k))).await;

    // Rotating to a key the broker does not open objects with is refused, and
    // nothing changes: downloads would fail afterwards.
    let refused = server
        .admin_command(&["rotate", "--to-key", &new_key])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(stderr.contains("SEALDROP_KMS_KEY_ID="), "{stderr}");
    let unchanged: Vec<_> =
        futures::future::join_all(keys.iter().map(|(k, _)| state(&bucket, k))).await;
    assert_eq!(unchanged, before);

    // The operator's order: new key primary, old key still allowed, then rotate.
    let server = server
        .restart_with(vec![
            ("SEALDROP_KMS_KEY_ID".into(), new_key.clone()),
            ("SEALDROP_KMS_PREVIOUS_KEY_IDS".into(), old_key.clone()),
        ])
        .unwrap();
    let out = server
        .admin(&["rotate", "--to-key", &new_key, "--dry-run"])
        .unwrap();
    assert!(out.contains("3  would rotate"), "{out}");
    let out = server.admin(&["rotate", "--to-key", &new_key]).unwrap();
    assert!(
        out.contains("rotated (verified)") && out.contains("not client-side encrypted"),
        "{out}"
    );

    for ((key, _), (_, old_metadata, old_type, old_body)) in keys.iter().zip(&before) {
        let (_, metadata, content_type, body) = state(&bucket, key).await;
        assert_eq!(&body, old_body, "content bytes unchanged: {key}");
        assert_eq!(&content_type, old_type);
        assert_ne!(
            metadata["x-amz-3"], old_metadata["x-amz-3"],
            "data key re-wrapped"
        );
        for field in ["x-amz-c", "x-amz-d", "x-amz-i", "x-amz-t", "x-amz-w"] {
            assert_eq!(metadata[field], old_metadata[field], "{field} unchanged");
        }
        assert!(metadata["sealdrop-kms-key-id"].contains(&new_key));
    }
    let out = server.admin(&["rotate", "--to-key", &new_key]).unwrap();
    assert!(
        out.contains("3  already under the target key") && !out.contains("  rotated"),
        "idempotent: {out}"
    );

    // The old key is no longer needed: sealdrop and the official client decrypt
    // with the new key alone.
    let server = server
        .restart_with(vec![(
            "SEALDROP_KMS_PREVIOUS_KEY_IDS".into(),
            String::new(),
        )])
        .unwrap();
    let client = server.client(&server.admin_token);
    let dir = tempfile::tempdir().unwrap();
    let peer = Peer::new(&moto);
    for (i, (key, data)) in keys.iter().enumerate() {
        let out = dir.path().join(format!("ours-{i}"));
        client.download_to(key, &out, NoProgress).await.unwrap();
        assert_eq!(&std::fs::read(&out).unwrap(), data);
        let theirs = peer
            .get(
                BUCKET,
                key,
                &new_key,
                &dir.path().join(format!("theirs-{i}")),
            )
            .unwrap();
        assert_eq!(&theirs, data, "official client with the new key");
        assert!(
            peer.get(BUCKET, key, &old_key, &dir.path().join("old"))
                .is_err(),
            "the old key no longer opens {key}"
        );
    }
    let out = dir.path().join("sse");
    client
        .download_to(&sse_key, &out, NoProgress)
        .await
        .unwrap();
}

/// The data loss this guards against: `encrypt-existing` copies a large
/// plaintext object onto itself; while it copies, the owner replaces the object
/// with a new (client-side encrypted) upload. The copy must not bring the old
/// bytes back: it is discarded, the object inspected again, and the owner's
/// upload kept. `cutoff` selects the path: one CopyObject, or (small cutoff)
/// UploadPartCopy parts and a conditional CompleteMultipartUpload.
async fn a_write_during_encrypt_existing_is_kept(cutoff: Option<&str>) {
    const SIZE: usize = 768 << 20;
    let server = Server::embedded(ServerOptions::default()).unwrap();
    let bucket = server.store_bucket().await.unwrap();
    let key = "admin/big";
    // Straight into the store, as any S3 client would (not through sealdrop).
    let old: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    put_plain(&bucket, key, &old, &[]).await;
    drop(old);
    let tmp = server.data_dir().join("store/tmp");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);

    let mut args = vec!["encrypt-existing"];
    if let Some(cutoff) = cutoff {
        args.extend(["--copy-cutoff", cutoff]);
    }
    let copying = server
        .admin_command(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The copy has started once the store stages its first bytes.
    let started = std::time::Instant::now();
    while std::fs::read_dir(&tmp).unwrap().count() == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the copy never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let small = content(5000, 7);
    let client = server.client(&server.admin_token);
    client
        .upload_reader(&small[..], 5000, "big", Mode::Cse, true, NoProgress)
        .await
        .unwrap();
    let output = copying.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("big");
    client.download_to(key, &path, NoProgress).await.unwrap();
    let read = std::fs::read(&path).unwrap();
    assert!(
        read == small,
        "the owner's 5000-byte upload was replaced by {} bytes",
        read.len()
    );
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "note: {key} was written while it was being copied"
        )),
        "the overwrite landed during the copy, and it is reported: {stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1  changed while being copied (newer version kept)")
            && stdout.contains("1  client-side encrypted (left as is)"),
        "inspected again and left alone: {stdout}"
    );

    assert_eq!(bucket.head(key).await.content_length(), Some(5016));
    let pending = bucket
        .s3
        .list_multipart_uploads()
        .bucket(&bucket.name)
        .send()
        .await
        .unwrap();
    assert!(
        pending.uploads().is_empty(),
        "the discarded copy is aborted"
    );
}

#[tokio::test]
async fn a_write_during_an_in_place_copy_is_kept() {
    a_write_during_encrypt_existing_is_kept(None).await;
}

#[tokio::test]
async fn a_write_during_a_multipart_in_place_copy_is_kept() {
    a_write_during_encrypt_existing_is_kept(Some("5242880")).await;
}
