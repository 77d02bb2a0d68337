//! Every supported operation, its S3 error codes, listings, keys, copy, multipart.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CommonPrefix, CompletedPart, CorsConfiguration, CorsRule, MetadataDirective, Object,
};

use crate::common::*;

const MIB: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets() {
    let srv = TestServer::start().await;
    let c = srv.client();
    c.head_bucket().bucket(BUCKET).send().await.unwrap();
    let e = c
        .head_bucket()
        .bucket("nope-bucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().unwrap().status().as_u16(), 404);
    c.create_bucket().bucket("second").send().await.unwrap();
    let e = c.create_bucket().bucket("second").send().await.unwrap_err();
    assert_eq!(err_code(&e), "BucketAlreadyOwnedByYou");
    let names: Vec<String> = c
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    assert_eq!(names, [BUCKET, "second"]);
    put(&c, "second", "x", ByteStream::from_static(b"1")).await;
    let e = c.delete_bucket().bucket("second").send().await.unwrap_err();
    assert_eq!(err_code(&e), "BucketNotEmpty");
    delete(&c, "second", "x").await;
    c.delete_bucket().bucket("second").send().await.unwrap();
    let e = c.delete_bucket().bucket("second").send().await.unwrap_err();
    assert_eq!(err_code(&e), "NoSuchBucket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_implicit_bucket_creation() {
    let srv = TestServer::start().await;
    let c = srv.client();
    let e = put_err(&c, "missing", "k", ByteStream::from_static(b"x")).await;
    assert_eq!(err_code(&e), "NoSuchBucket");
    let e = get_err(&c, "missing", "k").await;
    assert_eq!(err_code(&e), "NoSuchBucket");
    let e = c.list_objects_v2().bucket("missing").send().await;
    assert_eq!(err_code(&e.unwrap_err()), "NoSuchBucket");
    let e = c
        .create_multipart_upload()
        .bucket("missing")
        .key("k")
        .send();
    assert_eq!(err_code(&e.await.unwrap_err()), "NoSuchBucket");
    assert!(c.head_bucket().bucket("missing").send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_head_delete_and_ranges() {
    let srv = TestServer::start().await;
    let c = srv.client();
    let data = pattern(300_000, 1);
    let metadata = [("owner", "alice"), ("note", "héllo")];
    let body = ByteStream::from(data.clone());
    let content_type = Some("application/x-test");
    let put_out = put_described(&c, BUCKET, "dir/file.bin", content_type, &metadata, body).await;
    let want_etag = format!("\"{}\"", md5_hex(&data));
    assert_eq!(put_out.e_tag(), Some(want_etag.as_str()));
    // the SDK sent a CRC32 checksum (aws-chunked trailer) and the store verified it
    assert!(put_out.checksum_crc32().is_some());

    // Content-MD5 is verified
    let put_x = |key| {
        c.put_object()
            .bucket(BUCKET)
            .key(key)
            .body(ByteStream::from_static(b"x"))
    };
    let e = put_x("md5").content_md5("AAAAAAAAAAAAAAAAAAAAAA==").send();
    assert_eq!(err_code(&e.await.unwrap_err()), "BadDigest");
    assert_absent(&c, BUCKET, "md5").await;

    let got = get(&c, BUCKET, "dir/file.bin").await;
    assert_eq!(got.content_type(), Some("application/x-test"));
    assert_eq!(got.e_tag(), Some(want_etag.as_str()));
    assert_meta!(got, "owner", "alice");
    assert_eq!(got.content_length(), Some(300_000));
    assert!(got.server_side_encryption().is_none());
    assert_eq!(body_bytes(got).await, data);

    let head = head(&c, BUCKET, "dir/file.bin").await;
    assert_eq!(head.content_length(), Some(300_000));
    // non-ASCII metadata comes back RFC 2047-encoded, as from AWS S3
    assert_meta!(head, "note", "=?UTF-8?B?aMOpbGxv?=");
    assert!(head.last_modified().is_some());

    for (range, a, b) in [
        ("bytes=0-0", 0usize, 1usize),
        ("bytes=0-99", 0, 100),
        ("bytes=1000-200000", 1000, 200_001),
        ("bytes=299990-", 299_990, 300_000),
        ("bytes=-7", 299_993, 300_000),
        ("bytes=299999-400000", 299_999, 300_000),
        ("bytes=-400000", 0, 300_000),
    ] {
        let got = get_range(&c, BUCKET, "dir/file.bin", range).await;
        assert_eq!(
            got.content_range(),
            Some(format!("bytes {}-{}/300000", a, b - 1).as_str()),
            "{range}"
        );
        assert_eq!(body_bytes(got).await, &data[a..b], "{range}");
    }
    // an unsatisfiable range, and conditional GETs: (request, status, error code if any)
    let file = || c.get_object().bucket(BUCKET).key("dir/file.bin");
    for (request, status, code) in [
        (file().range("bytes=300000-"), 416, Some("InvalidRange")),
        (file().if_match("\"nope\""), 412, Some("PreconditionFailed")),
        (file().if_none_match(&want_etag), 304, None),
    ] {
        let e = request.send().await.unwrap_err();
        assert_eq!(e.raw_response().unwrap().status().as_u16(), status);
        if let Some(code) = code {
            assert_eq!(err_code(&e), code);
        }
    }

    // empty object
    put(&c, BUCKET, "empty", ByteStream::from_static(b"")).await;
    let got = get(&c, BUCKET, "empty").await;
    assert_eq!(got.e_tag(), Some("\"d41d8cd98f00b204e9800998ecf8427e\""));
    assert!(body_bytes(got).await.is_empty());

    let e = get_err(&c, BUCKET, "nope").await;
    assert_eq!(err_code(&e), "NoSuchKey");
    let e = head_err(&c, BUCKET, "nope").await;
    assert_eq!(e.raw_response().unwrap().status().as_u16(), 404);

    delete(&c, BUCKET, "dir/file.bin").await;
    // deleting a missing key succeeds, like S3
    delete(&c, BUCKET, "dir/file.bin").await;
    let e = get_err(&c, BUCKET, "dir/file.bin").await;
    assert_eq!(err_code(&e), "NoSuchKey");

    // conditional create
    let e = put_x("empty").if_none_match("*").send().await;
    assert_eq!(err_code(&e.unwrap_err()), "PreconditionFailed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusual_keys_stay_inside_root() {
    let srv = TestServer::start().await;
    let c = srv.client();
    let long = "k".repeat(1024);
    let keys = [
        "a".to_owned(),
        "a/b".to_owned(),
        "a/b/c".to_owned(),
        "../../etc/passwd".to_owned(),
        "../../../../../../tmp/sealdrop-escape".to_owned(),
        "..".to_owned(),
        "./x/../y".to_owned(),
        "%2e%2e/%00".to_owned(),
        "spaces and +plus & amp ?q=1#frag".to_owned(),
        "ünïcødé/日本語/😀".to_owned(),
        "line\nbreak\ttab".to_owned(),
        "trailing/".to_owned(),
        "//double//slash".to_owned(),
        long.clone(),
    ];
    for (i, k) in keys.iter().enumerate() {
        let body = format!("body-{i}");
        c.put_object()
            .bucket(BUCKET)
            .key(k)
            .body(ByteStream::from(body.into_bytes()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {k:?}: {e:?}"));
    }
    for (i, k) in keys.iter().enumerate() {
        let got = c
            .get_object()
            .bucket(BUCKET)
            .key(k)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get {k:?}: {e:?}"));
        assert_eq!(
            body_bytes(got).await,
            format!("body-{i}").into_bytes(),
            "{k:?}"
        );
    }
    let too_long = "k".repeat(1025);
    put_err(&c, BUCKET, &too_long, ByteStream::from_static(b"x")).await;

    // every listed key comes back exactly
    let pages = list_pages(|| c.list_objects_v2().bucket(BUCKET).max_keys(5)).await;
    let listed: Vec<&str> = pages
        .iter()
        .flat_map(|page| names(page.contents(), Object::key))
        .collect();
    let mut want = keys.to_vec();
    want.sort();
    assert_eq!(listed, want);

    // nothing was written outside the store root, and no file is named after a key
    assert!(!std::path::Path::new("/tmp/sealdrop-escape").exists());
    let parent = srv.root.parent().unwrap();
    for f in files_under(parent) {
        assert!(f.starts_with(&srv.root), "file outside root: {f:?}");
        let name = f.file_name().unwrap().to_string_lossy();
        assert!(!name.contains("passwd") && !name.contains("body"), "{f:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_objects_v2_paging_prefix_delimiter() {
    let srv = TestServer::start().await;
    let c = srv.client();
    let mut keys = Vec::new();
    for i in 0..25 {
        keys.push(format!("p/{i:03}"));
    }
    for d in ["a", "b", "c"] {
        for i in 0..3 {
            keys.push(format!("tree/{d}/{i}"));
        }
    }
    keys.push("tree/top".into());
    keys.push("other".into());
    for k in &keys {
        put(&c, BUCKET, k, ByteStream::from_static(b"v")).await;
    }

    // pagination over > max-keys
    let pages = list_pages(|| c.list_objects_v2().bucket(BUCKET).prefix("p/").max_keys(10)).await;
    assert_eq!(pages.len(), 3);
    let mut got = Vec::new();
    for page in &pages {
        assert!(page.key_count().unwrap() <= 10);
        got.extend(names(page.contents(), Object::key));
    }
    assert!(pages.last().unwrap().next_continuation_token().is_none());
    assert_eq!(got, keys[..25].to_vec());

    // delimiter
    let out = c
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("tree/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let cps: Vec<&str> = names(out.common_prefixes(), CommonPrefix::prefix);
    assert_eq!(cps, ["tree/a/", "tree/b/", "tree/c/"]);
    let ks: Vec<&str> = names(out.contents(), Object::key);
    assert_eq!(ks, ["tree/top"]);

    // delimiter + paging: common prefixes count toward max-keys and are not repeated
    let pages = list_pages(|| {
        c.list_objects_v2()
            .bucket(BUCKET)
            .delimiter("/")
            .max_keys(1)
    })
    .await;
    let mut seen = Vec::new();
    for page in &pages {
        seen.extend(names(page.common_prefixes(), CommonPrefix::prefix));
        seen.extend(names(page.contents(), Object::key));
    }
    assert_eq!(seen, ["other", "p/", "tree/"]);

    // start-after
    let out = c
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("p/")
        .start_after("p/020")
        .send()
        .await
        .unwrap();
    let ks: Vec<&str> = names(out.contents(), Object::key);
    assert_eq!(ks, ["p/021", "p/022", "p/023", "p/024"]);

    // bad token
    let e = c
        .list_objects_v2()
        .bucket(BUCKET)
        .continuation_token("zzz")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_code(&e), "InvalidArgument");

    // ListObjects (v1) with marker
    let out = c
        .list_objects()
        .bucket(BUCKET)
        .prefix("tree/")
        .delimiter("/")
        .marker("tree/a/")
        .send()
        .await
        .unwrap();
    let cps: Vec<&str> = names(out.common_prefixes(), CommonPrefix::prefix);
    assert_eq!(cps, ["tree/b/", "tree/c/"]);
}

/// Every page of the ListObjectsV2 that `request` makes (bucket, prefix, delimiter, max-keys),
/// following the continuation tokens to the last page.
async fn list_pages(
    request: impl Fn() -> aws_sdk_s3::operation::list_objects_v2::builders::ListObjectsV2FluentBuilder,
) -> Vec<aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output> {
    let mut pages = Vec::new();
    let mut token = None;
    loop {
        let page = request()
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        let truncated = page.is_truncated().unwrap();
        token = page.next_continuation_token().map(str::to_owned);
        pages.push(page);
        if !truncated {
            return pages;
        }
        assert!(
            token.is_some(),
            "a truncated page without a continuation token"
        );
    }
}

/// CopyObject of `BUCKET/src` to `key` with `MetadataDirective::Replace`, the given content
/// type and one metadata entry.
async fn copy_replacing(
    c: &aws_sdk_s3::Client,
    key: &str,
    content_type: &str,
    (meta_key, meta_value): (&str, &str),
) {
    c.copy_object()
        .bucket(BUCKET)
        .key(key)
        .copy_source(format!("{BUCKET}/src"))
        .metadata_directive(MetadataDirective::Replace)
        .content_type(content_type)
        .metadata(meta_key, meta_value)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_object_directives() {
    let srv = TestServer::start().await;
    let c = srv.client();
    let data = pattern(70_000, 2);
    let body = ByteStream::from(data.clone());
    put_described(&c, BUCKET, "src", Some("text/plain"), &[("m", "1")], body).await;

    // COPY (default) keeps metadata and content type
    let out = copy(&c, BUCKET, "dst", format!("{BUCKET}/src")).await;
    assert_eq!(
        out.copy_object_result().unwrap().e_tag(),
        Some(format!("\"{}\"", md5_hex(&data)).as_str())
    );
    let got = get(&c, BUCKET, "dst").await;
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_meta!(got, "m", "1");
    assert_eq!(body_bytes(got).await, data);

    // REPLACE
    copy_replacing(&c, "dst2", "application/json", ("n", "2")).await;
    let got = head(&c, BUCKET, "dst2").await;
    assert_eq!(got.content_type(), Some("application/json"));
    let md = got.metadata().unwrap();
    assert_eq!(md.get("n").map(String::as_str), Some("2"));
    assert!(!md.contains_key("m"));

    // in place without changes is illegal, with REPLACE it's fine
    let e = copy_err(&c, BUCKET, "src", format!("{BUCKET}/src")).await;
    assert_eq!(err_code(&e), "InvalidRequest");
    copy_replacing(&c, "src", "image/png", ("m", "3")).await;
    let got = get(&c, BUCKET, "src").await;
    assert_eq!(got.content_type(), Some("image/png"));
    assert_meta!(got, "m", "3");
    assert_eq!(body_bytes(got).await, data);

    // conditions on the destination (If-Match / If-None-Match: *)
    let dst_etag = head(&c, BUCKET, "dst2").await.e_tag().unwrap().to_owned();
    for (if_match, if_none_match) in [(Some("\"0000\""), None), (None, Some("*"))] {
        let e = c
            .copy_object()
            .bucket(BUCKET)
            .key("dst2")
            .copy_source(format!("{BUCKET}/src"))
            .set_if_match(if_match.map(str::to_owned))
            .set_if_none_match(if_none_match.map(str::to_owned))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err_code(&e), "PreconditionFailed");
    }
    c.copy_object()
        .bucket(BUCKET)
        .key("dst2")
        .copy_source(format!("{BUCKET}/src"))
        .if_match(&dst_etag)
        .send()
        .await
        .unwrap();

    // the copy still reads fine after the source is deleted (hard links, no shared files)
    delete(&c, BUCKET, "src").await;
    let got = get(&c, BUCKET, "dst").await;
    assert_eq!(body_bytes(got).await, data);

    let e = copy_err(&c, BUCKET, "x", format!("{BUCKET}/src")).await;
    assert_eq!(err_code(&e), "NoSuchKey");
    let e = copy_err(&c, BUCKET, "x", "nobucket/src").await;
    assert_eq!(err_code(&e), "NoSuchBucket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_happy_path_and_listing() {
    let srv = TestServer::start().await;
    let c = srv.client();
    let parts = vec![
        pattern(5 * MIB, 10),
        pattern(5 * MIB + 3, 11),
        pattern(1234, 12),
    ];
    let all: Vec<u8> = parts.concat();
    let up = c
        .create_multipart_upload()
        .bucket(BUCKET)
        .key("big")
        .content_type("video/test")
        .metadata("kind", "mpu")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_owned();

    let uploads = list_uploads(&c, BUCKET).await;
    assert_eq!(uploads.uploads().len(), 1);
    assert_eq!(uploads.uploads()[0].upload_id(), Some(id.as_str()));

    let done = upload_parts(&c, BUCKET, "big", &id, &parts).await;
    // re-upload part 3 (replaces it)
    let part3 = ByteStream::from(parts[2].clone());
    let out = upload_part(&c, BUCKET, "big", &id, 3, part3).await;
    assert_eq!(out.e_tag(), done[2].e_tag());

    let lp = list_parts(&c, BUCKET, "big", &id).await;
    let sizes: Vec<i64> = lp.parts().iter().map(|p| p.size().unwrap()).collect();
    assert_eq!(sizes, [5 * MIB as i64, 5 * MIB as i64 + 3, 1234]);
    let lp = c
        .list_parts()
        .bucket(BUCKET)
        .key("big")
        .upload_id(&id)
        .max_parts(2)
        .send()
        .await
        .unwrap();
    assert!(lp.is_truncated().unwrap());
    assert_eq!(lp.next_part_number_marker(), Some("2"));

    let out = complete_upload(&c, BUCKET, "big", &id, completed_parts(done.clone())).await;
    // md5 of the concatenated part md5s, "-3"
    let mut cat = Vec::new();
    for p in &parts {
        cat.extend_from_slice(&hex::decode(md5_hex(p)).unwrap());
    }
    let want = format!("\"{}-3\"", md5_hex(&cat));
    assert_eq!(out.e_tag(), Some(want.as_str()));

    let got = get(&c, BUCKET, "big").await;
    assert_eq!(got.content_type(), Some("video/test"));
    assert_meta!(got, "kind", "mpu");
    assert_eq!(got.e_tag(), Some(want.as_str()));
    assert_eq!(body_bytes(got).await, all);
    // a range across the part boundary
    let a = 5 * MIB - 10;
    let got = get_range(&c, BUCKET, "big", format!("bytes={}-{}", a, a + 19)).await;
    assert_eq!(body_bytes(got).await, &all[a..a + 20]);
    // GET by part number
    let got = get_part(&c, BUCKET, "big", 3).await;
    assert_eq!(got.parts_count(), Some(3));
    assert_eq!(body_bytes(got).await, parts[2]);

    let e = list_parts_err(&c, BUCKET, "big", &id).await;
    assert_eq!(err_code(&e), "NoSuchUpload");
    assert_no_uploads(&c, BUCKET).await;

    // UploadPartCopy: copy ranges of "big" into a new object
    let up = create_upload(&c, BUCKET, "copied").await;
    let id2 = up.upload_id().unwrap();
    let mut done = Vec::new();
    for (n, range) in [
        (1, format!("bytes=0-{}", 5 * MIB - 1)),
        (2, format!("bytes={}-{}", all.len() - 100, all.len() - 1)),
    ] {
        let out = c
            .upload_part_copy()
            .bucket(BUCKET)
            .key("copied")
            .upload_id(id2)
            .part_number(n)
            .copy_source(format!("{BUCKET}/big"))
            .copy_source_range(range)
            .send()
            .await
            .unwrap();
        done.push(completed_part(
            n,
            out.copy_part_result().unwrap().e_tag().unwrap(),
        ));
    }
    complete_upload(&c, BUCKET, "copied", id2, completed_parts(done)).await;
    let got = get(&c, BUCKET, "copied").await;
    let mut want = all[..5 * MIB].to_vec();
    want.extend_from_slice(&all[all.len() - 100..]);
    assert_eq!(body_bytes(got).await, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_errors() {
    let srv = TestServer::start().await;
    let c = srv.client();
    let up = create_upload(&c, BUCKET, "m").await;
    let id = up.upload_id().unwrap().to_owned();
    let small = vec![pattern(1000, 1), pattern(1000, 2)];
    let done = upload_parts(&c, BUCKET, "m", &id, &small).await;
    let complete = |parts: Vec<CompletedPart>| {
        c.complete_multipart_upload()
            .bucket(BUCKET)
            .key("m")
            .upload_id(&id)
            .multipart_upload(completed_parts(parts))
            .send()
    };
    // too small non-last part
    let e = complete(done.clone()).await.unwrap_err();
    assert_eq!(err_code(&e), "EntityTooSmall");
    // wrong order
    let e = complete(vec![done[1].clone(), done[0].clone()])
        .await
        .unwrap_err();
    assert_eq!(err_code(&e), "InvalidPartOrder");
    // unknown part
    let e = complete(vec![completed_part(7, done[0].e_tag().unwrap())]).await;
    assert_eq!(err_code(&e.unwrap_err()), "InvalidPart");
    // wrong etag
    let zero_etag = "\"00000000000000000000000000000000\"";
    let e = complete(vec![completed_part(1, zero_etag)]).await;
    assert_eq!(err_code(&e.unwrap_err()), "InvalidPart");
    // a single (last) small part is fine
    complete(vec![done[1].clone()]).await.unwrap();
    let got = get(&c, BUCKET, "m").await;
    assert_eq!(body_bytes(got).await, small[1]);
    // completed: the upload is gone
    let e = complete(vec![done[1].clone()]).await.unwrap_err();
    assert_eq!(err_code(&e), "NoSuchUpload");

    // abort
    let up = create_upload(&c, BUCKET, "a").await;
    let id = up.upload_id().unwrap().to_owned();
    upload_parts(&c, BUCKET, "a", &id, &small).await;
    abort_upload(&c, BUCKET, "a", &id).await;
    let e = abort_upload_err(&c, BUCKET, "a", &id).await;
    assert_eq!(err_code(&e), "NoSuchUpload");
    for upload_id in [id.as_str(), "bogus"] {
        let body = ByteStream::from_static(b"x");
        let e = upload_part_err(&c, BUCKET, "a", upload_id, 1, body).await;
        assert_eq!(err_code(&e), "NoSuchUpload", "{upload_id}");
    }
    assert!(c.get_object().bucket(BUCKET).key("a").send().await.is_err());
    // only the completed object's part file is left in data/
    let data_files = files_under(&srv.root.join("data"));
    assert_eq!(data_files.len(), 1, "{data_files:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_encryption_and_cors_config() {
    let srv = TestServer::start().await;
    let c = srv.client();
    let e = get_encryption_err(&c, BUCKET).await;
    assert_eq!(
        err_code(&e),
        "ServerSideEncryptionConfigurationNotFoundError"
    );
    put_default_kms(&c, BUCKET, Some(OTHER_KEY_ID), Some(true)).await;
    let rule = default_kms_rule(&c, BUCKET).await;
    assert_eq!(default_key_id(&rule), Some(OTHER_KEY_ID));
    assert_eq!(rule.bucket_key_enabled(), Some(true));
    c.delete_bucket_encryption()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    get_encryption_err(&c, BUCKET).await;

    let e = get_cors_err(&c, BUCKET).await;
    assert_eq!(err_code(&e), "NoSuchCORSConfiguration");
    let rule = CorsRule::builder()
        .allowed_methods("PUT")
        .allowed_origins("http://app.test")
        .build()
        .unwrap();
    c.put_bucket_cors()
        .bucket(BUCKET)
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let got = get_cors(&c, BUCKET).await;
    assert_eq!(got.cors_rules()[0].allowed_origins(), ["http://app.test"]);
    c.delete_bucket_cors().bucket(BUCKET).send().await.unwrap();
    get_cors_err(&c, BUCKET).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_objects_batch() {
    let srv = TestServer::start().await;
    let c = srv.client();
    for k in ["d1", "d2", "d3"] {
        put(&c, BUCKET, k, ByteStream::from_static(b"x")).await;
    }
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let del = Delete::builder()
        .objects(ObjectIdentifier::builder().key("d1").build().unwrap())
        .objects(ObjectIdentifier::builder().key("d3").build().unwrap())
        .build()
        .unwrap();
    let out = c
        .delete_objects()
        .bucket(BUCKET)
        .delete(del)
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 2);
    let left = list_objects(&c, BUCKET).await;
    assert_eq!(names(left.contents(), Object::key), ["d2"]);
}

/// Streaming bodies (files) make the SDK send `aws-chunked` with a signed CRC32 trailer
/// (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`); the store decodes, verifies and stores the
/// payload, and does not keep `aws-chunked` as the object's Content-Encoding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_streaming_uploads_aws_chunked() {
    let srv = TestServer::start().await;
    let c = srv.client();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("body");
    let data = pattern(5 * MIB + 4321, 42);
    std::fs::write(&path, &data).unwrap();
    let out = put(
        &c,
        BUCKET,
        "streamed",
        ByteStream::from_path(&path).await.unwrap(),
    )
    .await;
    assert!(out.checksum_crc32().is_some());
    assert_eq!(out.e_tag().unwrap().trim_matches('"'), md5_hex(&data));
    let got = get(&c, BUCKET, "streamed").await;
    assert!(
        got.content_encoding().is_none(),
        "{:?}",
        got.content_encoding()
    );
    assert_eq!(body_bytes(got).await, data);

    let up = create_upload(&c, BUCKET, "streamed-mpu").await;
    let id = up.upload_id().unwrap();
    let file = ByteStream::from_path(&path).await.unwrap();
    let p = upload_part(&c, BUCKET, "streamed-mpu", id, 1, file).await;
    assert_eq!(p.e_tag().unwrap().trim_matches('"'), md5_hex(&data));
    let done = completed(&[(1, p.e_tag().unwrap())]);
    complete_upload(&c, BUCKET, "streamed-mpu", id, done).await;
    let got = get(&c, BUCKET, "streamed-mpu").await;
    assert_eq!(body_bytes(got).await, data);
}
