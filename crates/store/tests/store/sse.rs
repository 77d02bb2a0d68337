//! SSE-KMS at rest: headers, ranges, no plaintext on disk, tamper detection, key errors.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use crate::common::*;

const CHUNK: usize = 64 * 1024;
const MIB: usize = 1024 * 1024;
/// The SSE header of SSE-KMS.
const AWS_KMS: Option<ServerSideEncryption> = Some(ServerSideEncryption::AwsKms);

/// Asserts that neither the start nor a 64-byte window from the middle of `plain` occurs in any
/// file under the store root.
fn assert_not_on_disk(srv: &TestServer, plain: &[u8]) {
    let mid = plain.len() / 2;
    let needles = [
        &plain[..64],
        &plain[mid..mid + 64],
        &plain[plain.len() - 64..],
    ];
    let files = files_under(&srv.root);
    assert!(!files.is_empty());
    for f in files {
        let content = std::fs::read(&f).unwrap();
        for n in needles {
            assert!(!contains(&content, n), "plaintext found in {f:?}");
        }
    }
}

async fn check_ranges(c: &aws_sdk_s3::Client, key: &str, data: &[u8]) {
    let n = data.len();
    let ranges = [
        (0, 1),
        (0, CHUNK),
        (CHUNK - 1, CHUNK + 1),
        (CHUNK - 5, 3 * CHUNK + 5),
        (2 * CHUNK, 2 * CHUNK + 1),
        (n / 2 - 100, n / 2 + 100),
        (n - 1, n),
        (n - CHUNK - 3, n),
    ];
    for (a, b) in ranges {
        let got = get_range(c, BUCKET, key, format!("bytes={}-{}", a, b - 1)).await;
        assert_kms!(got);
        assert_eq!(body_bytes(got).await, &data[a..b], "range {a}-{b}");
    }
    let got = get_range(c, BUCKET, key, "bytes=-70000").await;
    assert_eq!(body_bytes(got).await, &data[n - 70000..]);
    let got = get(c, BUCKET, key).await;
    assert_eq!(body_bytes(got).await, data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_put_multipart_default_and_copy_in_place() {
    let srv = TestServer::start().await;
    let c = srv.client();

    // 1. single PUT with explicit key id
    let single = pattern(3 * MIB + 17, 100);
    let body = ByteStream::from(single.clone());
    let other = Some(OTHER_KEY_ID.to_owned());
    let out = put_sse(&c, BUCKET, "single", AWS_KMS, other, body)
        .await
        .unwrap();
    assert_kms!(out, OTHER_KEY_ID);
    let head = head(&c, BUCKET, "single").await;
    assert_kms!(head, OTHER_KEY_ID);
    assert_eq!(head.content_length(), Some(single.len() as i64));
    check_ranges(&c, "single", &single).await;

    // 2. multipart, default key id
    let parts = [pattern(5 * MIB, 101), pattern(300_001, 102)];
    let mp: Vec<u8> = parts.concat();
    let up = create_upload_sse(&c, BUCKET, "multi", AWS_KMS, None)
        .await
        .unwrap();
    assert_kms!(up);
    let id = up.upload_id().unwrap();
    let done = upload_parts(&c, BUCKET, "multi", id, &parts).await;
    // parts on disk are encrypted too (checked before completion)
    assert_not_on_disk(&srv, &parts[0]);
    assert_not_on_disk(&srv, &parts[1]);
    let out = complete_upload(&c, BUCKET, "multi", id, completed_parts(done)).await;
    assert_kms!(out, KEY_ID);
    check_ranges(&c, "multi", &mp).await;
    // across the part boundary
    let across = format!("bytes={}-{}", 5 * MIB - 70_000, 5 * MIB + 70_000);
    let got = get_range(&c, BUCKET, "multi", across).await;
    assert_eq!(
        body_bytes(got).await,
        &mp[5 * MIB - 70_000..=5 * MIB + 70_000]
    );

    // 3. copy in place of a plaintext object encrypts it (same key, no bytes left in clear)
    let plain = pattern(200_000, 103);
    put(&c, BUCKET, "was-plain", ByteStream::from(plain.clone())).await;
    let encrypt_in_place = || {
        c.copy_object()
            .bucket(BUCKET)
            .key("was-plain")
            .copy_source(format!("{BUCKET}/was-plain"))
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .send()
    };
    let out = encrypt_in_place().await.unwrap();
    assert_kms!(out);
    let got = get(&c, BUCKET, "was-plain").await;
    assert_kms!(got, KEY_ID);
    assert_eq!(body_bytes(got).await, plain);
    // idempotent: once more in place with the SSE header
    encrypt_in_place().await.unwrap();

    // 4. bucket default encryption
    c.create_bucket().bucket("defaulted").send().await.unwrap();
    let legacy = pattern(180_000, 106);
    put(&c, "defaulted", "legacy", ByteStream::from(legacy.clone())).await;
    put_default_kms(&c, "defaulted", Some(OTHER_KEY_ID), None).await;
    let by_default = pattern(150_000, 104);
    let out = put(
        &c,
        "defaulted",
        "auto",
        ByteStream::from(by_default.clone()),
    )
    .await;
    assert_kms!(out, OTHER_KEY_ID);
    let got = get(&c, "defaulted", "auto").await;
    assert_eq!(got.ssekms_key_id(), Some(OTHER_KEY_ID));
    assert_eq!(body_bytes(got).await, by_default);
    // an object written before the default: CopyObject in place (no SSE header) encrypts it
    let out = copy(&c, "defaulted", "legacy", "defaulted/legacy").await;
    assert_kms!(out, OTHER_KEY_ID);
    let got = get(&c, "defaulted", "legacy").await;
    assert_eq!(got.ssekms_key_id(), Some(OTHER_KEY_ID));
    assert_eq!(body_bytes(got).await, legacy);
    // once encrypted, an unchanged in-place copy is the usual S3 InvalidRequest
    let e = copy_err(&c, "defaulted", "legacy", "defaulted/legacy").await;
    assert_eq!(err_code(&e), "InvalidRequest");
    // copy across buckets re-encrypts under the destination's settings
    copy(&c, BUCKET, "from-defaulted", "defaulted/auto").await;
    let got = get(&c, BUCKET, "from-defaulted").await;
    assert!(got.server_side_encryption().is_none());
    assert_eq!(body_bytes(got).await, by_default);
    delete(&c, BUCKET, "from-defaulted").await;

    // SSE-S3 (AES256) also encrypts at rest
    let s3 = pattern(100_000, 105);
    let aes256 = Some(ServerSideEncryption::Aes256);
    let body = ByteStream::from(s3.clone());
    let out = put_sse(&c, BUCKET, "aes256", aes256, None, body)
        .await
        .unwrap();
    assert_eq!(
        out.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert!(out.ssekms_key_id().is_none());

    for p in [&single, &mp, &plain, &by_default, &s3, &legacy] {
        assert_not_on_disk(&srv, p);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_chunk_is_an_error() {
    let srv = TestServer::start().await;
    let c = srv.client();
    let data = pattern(5 * CHUNK + 100, 200);
    put_sse(
        &c,
        BUCKET,
        "t",
        AWS_KMS,
        None,
        ByteStream::from(data.clone()),
    )
    .await
    .unwrap();
    let files = files_under(&srv.root.join("data"));
    assert_eq!(files.len(), 1);
    let file = &files[0];
    let orig = std::fs::read(file).unwrap();
    assert_eq!(orig.len(), data.len() + 6 * 16);

    // flip one byte in chunk 2
    let mut bad = orig.clone();
    bad[2 * (CHUNK + 16) + 1234] ^= 0x01;
    std::fs::write(file, &bad).unwrap();
    // a range inside the damaged chunk: error response
    let damaged = format!("bytes={}-{}", 2 * CHUNK + 10, 2 * CHUNK + 20);
    assert!(
        range_fails(&c, BUCKET, "t", damaged).await,
        "ranged read of a tampered chunk must fail"
    );
    // a full read: the body fails (never the wrong bytes)
    match c.get_object().bucket(BUCKET).key("t").send().await {
        Err(_) => {}
        Ok(out) => assert!(
            out.body.collect().await.is_err(),
            "full read of a tampered object must fail"
        ),
    }
    // untouched chunks still read
    let got = get_range(&c, BUCKET, "t", "bytes=0-99").await;
    assert_eq!(body_bytes(got).await, &data[..100]);

    // flipping a tag byte of the last chunk, and truncation
    let mut bad = orig.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x80;
    std::fs::write(file, &bad).unwrap();
    assert!(range_fails(&c, BUCKET, "t", "bytes=-10").await);
    std::fs::write(file, &orig[..orig.len() - 116]).unwrap();
    assert!(range_fails(&c, BUCKET, "t", "bytes=0-9").await);
    std::fs::write(file, &orig).unwrap();
    let got = get(&c, BUCKET, "t").await;
    assert_eq!(body_bytes(got).await, data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_key_id_is_an_error() {
    let srv = TestServer::start().await;
    let c = srv.client();
    let unknown = || Some("no-such-key".to_owned());
    let e = put_sse(
        &c,
        BUCKET,
        "k",
        AWS_KMS,
        unknown(),
        ByteStream::from_static(b"x"),
    )
    .await
    .unwrap_err();
    assert_eq!(err_code(&e), "KMS.NotFoundException");
    assert_eq!(e.raw_response().unwrap().status().as_u16(), 400);
    let e = create_upload_sse(&c, BUCKET, "k", AWS_KMS, unknown()).await;
    assert_eq!(err_code(&e.unwrap_err()), "KMS.NotFoundException");
    // key id without aws:kms
    let key_id = Some(KEY_ID.to_owned());
    let e = put_sse(&c, BUCKET, "k", None, key_id, ByteStream::from_static(b"x")).await;
    assert_eq!(err_code(&e.unwrap_err()), "InvalidArgument");
    assert_absent(&c, BUCKET, "k").await;
    assert!(files_under(&srv.root.join("data")).is_empty());
    assert!(files_under(&srv.root.join("tmp")).is_empty());
}
