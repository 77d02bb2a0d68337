//! SigV4 header and presigned auth, expiry, unsigned headers, CORS.

use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use crate::common::*;

fn request(p: &PresignedRequest) -> reqwest::RequestBuilder {
    let http = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(p.method().as_bytes()).unwrap();
    let mut rb = http.request(method, p.uri());
    for (k, v) in p.headers() {
        rb = rb.header(k, v);
    }
    rb
}

/// Sends the presigned request `p` with one more (unsigned) header.
async fn send_with_header(p: &PresignedRequest, name: &str, value: &str) -> reqwest::Response {
    request(p).header(name, value).send().await.unwrap()
}

async fn presign_put(c: &aws_sdk_s3::Client, key: &str, secs: u64) -> PresignedRequest {
    c.put_object()
        .bucket(BUCKET)
        .key(key)
        .content_type("application/octet-stream")
        .metadata("x-amz-c", "115")
        .metadata("owner", "alice")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(KEY_ID)
        .presigned(PresigningConfig::expires_in(Duration::from_secs(secs)).unwrap())
        .await
        .unwrap()
}

async fn presign_get(c: &aws_sdk_s3::Client, key: &str, secs: u64) -> PresignedRequest {
    c.get_object()
        .bucket(BUCKET)
        .key(key)
        .presigned(PresigningConfig::expires_in(Duration::from_secs(secs)).unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_put_and_get() {
    let srv = TestServer::start().await;
    let c = srv.client();
    let p = presign_put(&c, "presigned/obj", 300).await;
    let signed: Vec<String> = p.headers().map(|(k, _)| k.to_ascii_lowercase()).collect();
    assert!(signed.iter().any(|h| h == "x-amz-meta-owner"), "{signed:?}");
    let body = pattern(100_000, 5);
    let resp = request(&p).body(body.clone()).send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    assert_eq!(status, 200, "{}", resp.text().await.unwrap());
    assert_eq!(
        headers.get("x-amz-server-side-encryption").unwrap(),
        "aws:kms"
    );
    assert_eq!(
        headers
            .get("x-amz-server-side-encryption-aws-kms-key-id")
            .unwrap(),
        KEY_ID
    );
    assert!(headers.get("x-amz-request-id").is_some());

    let head = head(&c, BUCKET, "presigned/obj").await;
    assert_meta!(head, "owner", "alice");
    assert_meta!(head, "x-amz-c", "115");
    assert_kms!(head);

    let g = presign_get(&c, "presigned/obj", 60).await;
    let resp = send_with_header(&g, "range", "bytes=10-19").await;
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &body[10..20]);
    let resp = request(&g).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("x-amz-server-side-encryption").unwrap(),
        "aws:kms"
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), body.as_slice());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_tampering_expiry_and_unsigned_headers() {
    let srv = TestServer::start().await;
    let c = srv.client();
    let p = presign_put(&c, "t", 300).await;

    // one character of the signature changed
    let uri = p.uri().to_owned();
    let pos = uri.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut bytes = uri.into_bytes();
    bytes[pos] = if bytes[pos] == b'a' { b'b' } else { b'a' };
    let bad_uri = String::from_utf8(bytes).unwrap();
    let mut rb = reqwest::Client::new().put(&bad_uri);
    for (k, v) in p.headers() {
        rb = rb.header(k, v);
    }
    let resp = rb.body("x").send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("SignatureDoesNotMatch"));

    // an extra, unsigned x-amz-meta-* header; a signed header changed
    for (name, value) in [("x-amz-meta-x", "evil"), ("x-amz-meta-owner", "mallory")] {
        let resp = request(&p).header(name, value).body("x").send().await;
        assert_eq!(resp.unwrap().status(), 403, "{name}: {value}");
    }
    // a signed header left out
    let mut rb = reqwest::Client::new().put(p.uri());
    for (k, v) in p
        .headers()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("x-amz-meta-owner"))
    {
        rb = rb.header(k, v);
    }
    assert_eq!(rb.body("x").send().await.unwrap().status(), 403);
    assert!(
        c.head_object()
            .bucket(BUCKET)
            .key("t")
            .send()
            .await
            .is_err(),
        "nothing was stored"
    );

    // expired
    let p1 = presign_put(&c, "t", 1).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let resp = request(&p1).body("x").send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("AccessDenied"));

    // the untouched presigned request still works
    assert_eq!(request(&p).body("ok").send().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_and_wrongly_signed_requests_are_refused() {
    let srv = TestServer::start().await;
    let c = srv.client();
    put(&c, BUCKET, "k", ByteStream::from_static(b"secret")).await;
    let http = reqwest::Client::new();
    for (method, path) in [
        (reqwest::Method::GET, format!("/{BUCKET}/k")),
        (reqwest::Method::PUT, format!("/{BUCKET}/k2")),
        (reqwest::Method::GET, format!("/{BUCKET}")),
        (reqwest::Method::GET, "/".to_owned()),
        (reqwest::Method::PUT, "/newbucket".to_owned()),
        (reqwest::Method::DELETE, format!("/{BUCKET}/k")),
    ] {
        let resp = http
            .request(method.clone(), format!("{}{path}", srv.endpoint()))
            .header("content-type", "application/octet-stream")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{method} {path}");
        assert!(resp.text().await.unwrap().contains("AccessDenied"));
    }
    // SigV2-style auth header
    let resp = http
        .get(format!("{}/{BUCKET}/k", srv.endpoint()))
        .header("authorization", "AWS AK:c2ln")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    // wrong secret / unknown access key
    for (ak, sk) in [(AK, "wrong-secret"), ("UNKNOWNKEY", SK)] {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(srv.endpoint())
            .credentials_provider(Credentials::new(ak, sk, None, None, "test"))
            .force_path_style(true)
            .build();
        let bad = aws_sdk_s3::Client::from_conf(conf);
        let e = get_err(&bad, BUCKET, "k").await;
        assert_eq!(e.raw_response().unwrap().status().as_u16(), 403, "{ak}");
        let want = if ak == AK {
            "SignatureDoesNotMatch"
        } else {
            "InvalidAccessKeyId"
        };
        assert_eq!(err_code(&e), want);
    }
    let e = get(&c, BUCKET, "k").await;
    assert_eq!(body_bytes(e).await, b"secret");
    assert!(c.head_bucket().bucket("newbucket").send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_and_exposed_headers() {
    let srv = TestServer::start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/{BUCKET}/some/key", srv.endpoint());
    for method in ["PUT", "GET", "HEAD", "POST", "DELETE"] {
        let resp = http
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", "http://app.test")
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "content-type,x-amz-meta-x-amz-c,x-amz-server-side-encryption,content-md5",
            )
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{method}");
        let h = resp.headers();
        assert_eq!(
            h.get("access-control-allow-origin").unwrap(),
            "http://app.test"
        );
        assert!(
            h.get("access-control-allow-methods")
                .unwrap()
                .to_str()
                .unwrap()
                .contains(method)
        );
        let allowed = h
            .get("access-control-allow-headers")
            .unwrap()
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        for want in [
            "content-type",
            "x-amz-meta-x-amz-c",
            "x-amz-server-side-encryption",
            "content-md5",
        ] {
            assert!(allowed.contains(want), "{allowed}");
        }
    }
    // another origin gets no CORS grant
    let resp = http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "http://evil.test")
        .header("access-control-request-method", "PUT")
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());

    // actual (presigned) request from the app's origin exposes the headers the UI needs
    let c = srv.client();
    let kms = Some(ServerSideEncryption::AwsKms);
    let body = ByteStream::from_static(b"hello");
    put_sse(&c, BUCKET, "some/key", kms, None, body)
        .await
        .unwrap();
    let g = presign_get(&c, "some/key", 60).await;
    let resp = send_with_header(&g, "origin", "http://app.test").await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(
        h.get("access-control-allow-origin").unwrap(),
        "http://app.test"
    );
    let exposed = h
        .get("access-control-expose-headers")
        .unwrap()
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for want in [
        "etag",
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-request-id",
        "content-length",
        "content-range",
    ] {
        assert!(exposed.split(',').any(|e| e.trim() == want), "{exposed}");
    }
    let resp = send_with_header(&g, "origin", "http://evil.test").await;
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}
