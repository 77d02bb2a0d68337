//! Crash safety (SIGKILL of a separate server process) and restart persistence.

use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use crate::common::*;

const MIB: usize = 1024 * 1024;

/// Streams `total` bytes slowly to a presigned PUT URL (until the connection dies).
fn slow_upload(
    p: &aws_sdk_s3::presigning::PresignedRequest,
    total: usize,
) -> tokio::task::JoinHandle<()> {
    let http = reqwest::Client::new();
    let mut rb = http.put(p.uri());
    for (k, v) in p.headers() {
        rb = rb.header(k, v);
    }
    let chunk = Bytes::from(pattern(MIB, 77));
    let n = total / MIB;
    let stream = futures::stream::unfold(0usize, move |i| {
        let chunk = chunk.clone();
        async move {
            if i == n {
                return None;
            }
            if i > 8 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Some((Ok::<_, std::io::Error>(chunk), i + 1))
        }
    });
    let rb = rb
        .header("content-length", total.to_string())
        .body(reqwest::Body::wrap_stream(stream));
    tokio::spawn(async move {
        let _ = rb.send().await;
    })
}

/// Waits until some file in `tmp/` holds at least `min` bytes.
async fn wait_for_tmp(root: &Path, min: u64) {
    for _ in 0..600 {
        if files_under(&root.join("tmp"))
            .iter()
            .any(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0) >= min)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("upload never reached {min} bytes in tmp/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_large_put_and_multipart() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let srv = ServerProcess::start(&root).await;
    let c = srv.client();
    let v1 = pattern(123_457, 1);
    let body = ByteStream::from(v1.clone());
    put_described(&c, BUCKET, "victim", None, &[("v", "1")], body).await;

    // 1. SIGKILL during a 200 MiB PUT to the same key
    let p = c
        .put_object()
        .bucket(BUCKET)
        .key("victim")
        .metadata("v", "2")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(600)).unwrap())
        .await
        .unwrap();
    let up = slow_upload(&p, 200 * MIB);
    wait_for_tmp(&root, 20 * MIB as u64).await;
    srv.kill9().await;
    up.abort();
    assert!(
        !files_under(&root.join("tmp")).is_empty(),
        "the partial upload was in tmp/"
    );

    let srv = ServerProcess::start(&root).await;
    assert!(
        files_under(&root.join("tmp")).is_empty(),
        "tmp/ cleaned at start"
    );
    let c = srv.client();
    let got = get(&c, BUCKET, "victim").await;
    assert_meta!(got, "v", "1");
    assert_eq!(got.e_tag().unwrap().trim_matches('"'), md5_hex(&v1));
    assert_eq!(body_bytes(got).await, v1);
    let listed = list_objects(&c, BUCKET).await;
    assert_eq!(listed.contents().len(), 1);

    // 2. SIGKILL during a multipart upload (part 1 done, part 2 streaming)
    let mpu = c
        .create_multipart_upload()
        .bucket(BUCKET)
        .key("victim")
        .metadata("v", "3")
        .send()
        .await
        .unwrap();
    let id = mpu.upload_id().unwrap().to_owned();
    let part1 = pattern(5 * MIB, 3);
    let body = ByteStream::from(part1.clone());
    let p1 = upload_part(&c, BUCKET, "victim", &id, 1, body).await;
    let p2 = c
        .upload_part()
        .bucket(BUCKET)
        .key("victim")
        .upload_id(&id)
        .part_number(2)
        .presigned(PresigningConfig::expires_in(Duration::from_secs(600)).unwrap())
        .await
        .unwrap();
    let up = slow_upload(&p2, 100 * MIB);
    wait_for_tmp(&root, 20 * MIB as u64).await;
    srv.kill9().await;
    up.abort();

    let srv = ServerProcess::start(&root).await;
    assert!(files_under(&root.join("tmp")).is_empty());
    let c = srv.client();
    let got = get(&c, BUCKET, "victim").await;
    assert_meta!(got, "v", "1");
    assert_eq!(body_bytes(got).await, v1);
    // the upload survived with its completed part only; it can still be completed
    let parts = list_parts(&c, BUCKET, "victim", &id).await;
    assert_eq!(parts.parts().len(), 1);
    let done = completed(&[(1, p1.e_tag().unwrap())]);
    complete_upload(&c, BUCKET, "victim", &id, done).await;
    let got = get(&c, BUCKET, "victim").await;
    assert_meta!(got, "v", "3");
    assert_eq!(body_bytes(got).await, part1);
    // the object's single part is the only data file
    assert_eq!(files_under(&root.join("data")).len(), 1);
    srv.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_persistence() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let srv = ServerProcess::start(&root).await;
    let c = srv.client();
    c.create_bucket().bucket("enc").send().await.unwrap();
    put_default_kms(&c, "enc", None, None).await;
    let a = pattern(77_777, 9);
    let b = pattern(300_000, 10);
    let body = ByteStream::from(a.clone());
    put_described(&c, BUCKET, "a/é", Some("text/x-a"), &[("k", "v")], body).await;
    put(&c, "enc", "b", ByteStream::from(b.clone())).await;
    srv.kill9().await;

    let srv = ServerProcess::start(&root).await;
    let c = srv.client();
    let got = get(&c, BUCKET, "a/é").await;
    assert_eq!(got.content_type(), Some("text/x-a"));
    assert_meta!(got, "k", "v");
    assert_eq!(got.e_tag().unwrap().trim_matches('"'), md5_hex(&a));
    assert_eq!(body_bytes(got).await, a);
    let got = get(&c, "enc", "b").await;
    assert_kms!(got, "local");
    assert_eq!(body_bytes(got).await, b);
    default_kms_rule(&c, "enc").await;
    srv.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_multipart_uploads_expire() {
    let srv = TestServer::start_with(|c| c.multipart_expiry = Duration::from_millis(500)).await;
    let c = srv.client();
    let up = create_upload(&c, BUCKET, "old").await;
    let part = ByteStream::from(pattern(1000, 1));
    upload_part(&c, BUCKET, "old", up.upload_id().unwrap(), 1, part).await;
    assert_eq!(files_under(&srv.root.join("data")).len(), 1);
    assert_eq!(srv.store.expire_uploads().unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(srv.store.expire_uploads().unwrap(), 1);
    assert_no_uploads(&c, BUCKET).await;
    assert!(files_under(&srv.root.join("data")).is_empty());
}
