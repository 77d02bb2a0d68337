//! On-disk format versions: a data directory written by format version 1 (records without a
//! schema version, the format before versioning) opens with the current code, reads back byte
//! for byte, takes new writes in version 2 and still reads everything after reopening; a
//! directory of a newer format than the code knows is refused.
//!
//! The fixture is `tests/fixtures/v1/store` (see the README there for how it was made).

use std::path::Path;
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Object, ServerSideEncryption};
use redb::{ReadableTable, TableDefinition};
use sealdrop_store::{Store, StoreError};

use crate::common::*;

// The index's tables as the crate README documents them (the on-disk format).
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const BUCKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("buckets");
const OBJECTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("objects");
const UPLOADS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("uploads");

/// `meta.format_version` of a closed directory's index (`None`: unstamped, version 1).
fn format_stamp(dir: &StoppedStore) -> Option<u64> {
    let db = dir.index();
    let txn = db.begin_read().unwrap();
    let meta = txn.open_table(META).unwrap();
    meta.get("format_version").unwrap().map(|v| v.value())
}

fn set_format_stamp(dir: &StoppedStore, version: u64) {
    let db = dir.index();
    let txn = db.begin_write().unwrap();
    txn.open_table(META)
        .unwrap()
        .insert("format_version", version)
        .unwrap();
    txn.commit().unwrap();
}

/// The `"v"` of a stored record (`None`: written before versioning).
fn record_version(raw: &[u8]) -> Option<u64> {
    let json: serde_json::Value = serde_json::from_slice(raw).unwrap();
    json.get("v").map(|v| v.as_u64().unwrap())
}

fn object_key(bucket: &str, key: &str) -> Vec<u8> {
    [bucket.as_bytes(), b"\0", key.as_bytes()].concat()
}

/// The version of the object record of (bucket, key), which must exist.
fn object_version(dir: &StoppedStore, bucket: &str, key: &str) -> Option<u64> {
    let db = dir.index();
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(OBJECTS).unwrap();
    let v = t.get(object_key(bucket, key).as_slice()).unwrap().unwrap();
    record_version(v.value())
}

fn bucket_version(dir: &StoppedStore, bucket: &str) -> Option<u64> {
    let db = dir.index();
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(BUCKETS).unwrap();
    let v = t.get(bucket).unwrap().unwrap();
    record_version(v.value())
}

/// The versions of the upload records of (bucket, key).
fn upload_versions(dir: &StoppedStore, bucket: &str, key: &str) -> Vec<Option<u64>> {
    let db = dir.index();
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(UPLOADS).unwrap();
    let mut prefix = object_key(bucket, key);
    prefix.push(0);
    t.iter()
        .unwrap()
        .map(|item| item.unwrap())
        .filter(|(k, _)| k.value().starts_with(&prefix))
        .map(|(_, v)| record_version(v.value()))
        .collect()
}

fn assert_refused_as_newer(dir: &StoppedStore, found: u64) {
    let err = Store::open(dir.config.clone()).expect_err("a newer format must be refused");
    assert!(
        matches!(err, StoreError::NewerFormat { found: f, supported } if f == found && supported < found),
        "{err:?}"
    );
    assert!(err.to_string().contains("newer"), "{err}");
}

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/v1/store");

/// Expands `index.redb.rle` (redb preallocates megabytes of repeated bytes, so the fixture
/// keeps its index run-length encoded): records of `0, len: u32 LE, len bytes` (literal) or
/// `1, count: u32 LE, byte` (a run).
pub fn rle_decode(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    while let Some((&kind, rest)) = data.split_first() {
        let (len, rest) = rest.split_at_checked(4)?;
        let len = usize::try_from(u32::from_le_bytes(len.try_into().ok()?)).ok()?;
        data = match kind {
            0 => {
                let (lit, rest) = rest.split_at_checked(len)?;
                out.extend_from_slice(lit);
                rest
            }
            1 => {
                let (&byte, rest) = rest.split_first()?;
                out.resize(out.len() + len, byte);
                rest
            }
            _ => return None,
        };
    }
    Some(out)
}

/// Copies the fixture to `dst` (opening writes to the index, and the fixture must stay as
/// it was written), expanding the index.
pub fn unpack_v1_fixture(dst: &Path) {
    for file in files_under(Path::new(FIXTURE)) {
        let rel = file.strip_prefix(FIXTURE).unwrap();
        let target = dst.join(rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        if rel == Path::new("index.redb.rle") {
            let index = rle_decode(&std::fs::read(&file).unwrap()).unwrap();
            std::fs::write(dst.join("index.redb"), index).unwrap();
        } else {
            std::fs::copy(&file, &target).unwrap();
        }
    }
}

/// The segment files of the fixture (every one is referenced by an object or upload).
pub fn segment_count(root: &Path) -> usize {
    files_under(&root.join("data")).len()
}

/// An object of the fixture as the v1 code stored it.
pub struct Expected {
    pub bucket: &'static str,
    pub key: &'static str,
    pub body: Vec<u8>,
    pub etag: &'static str,
    pub content_type: &'static str,
    pub metadata: &'static [(&'static str, &'static str)],
    pub sse: Option<ServerSideEncryption>,
    pub kms_key_id: Option<&'static str>,
    pub bucket_key: Option<bool>,
}

pub fn v1_objects() -> Vec<Expected> {
    let plain = |bucket, key, body, etag, content_type, metadata| Expected {
        bucket,
        key,
        body,
        etag,
        content_type,
        metadata,
        sse: None,
        kms_key_id: None,
        bucket_key: None,
    };
    let tiny = b"hello, sealdrop\n".to_vec();
    let tiny_meta: &[(&str, &str)] = &[("note", "v1 fixture"), ("owner", "alice")];
    vec![
        plain(
            "fixture",
            "tiny.txt",
            tiny.clone(),
            "c68cee0ba8c684ee693c5bdcfb79bb29",
            "text/plain; charset=utf-8",
            tiny_meta,
        ),
        plain(
            "fixture",
            "copy/tiny.txt",
            tiny,
            "c68cee0ba8c684ee693c5bdcfb79bb29",
            "text/plain; charset=utf-8",
            tiny_meta,
        ),
        plain(
            "fixture",
            "empty",
            Vec::new(),
            "d41d8cd98f00b204e9800998ecf8427e",
            "application/octet-stream",
            &[],
        ),
        plain(
            "fixture",
            "dir/multipart.bin",
            [pattern(3000, 1), pattern(2048, 2), pattern(700, 3)].concat(),
            "326956c328f76e749a8c1a6623e84943-3",
            "application/x-fixture",
            &[("kind", "multipart")],
        ),
        plain(
            "fixture",
            "ünïcode/../%key",
            b"weird".to_vec(),
            "498c381ba18fc1be2160719e3e0a7c45",
            "application/octet-stream",
            &[],
        ),
        Expected {
            sse: Some(ServerSideEncryption::AwsKms),
            kms_key_id: Some(OTHER_KEY_ID),
            ..plain(
                "fixture",
                "sse/kms.bin",
                pattern(70_000, 4),
                SSE_KMS_ETAG,
                "application/octet-stream",
                &[("secret", "no")],
            )
        },
        Expected {
            sse: Some(ServerSideEncryption::Aes256),
            ..plain(
                "fixture",
                "sse/aes256-multipart.bin",
                [pattern(1500, 5), pattern(900, 6)].concat(),
                SSE_AES256_MULTIPART_ETAG,
                "application/x-fixture",
                &[("kind", "multipart")],
            )
        },
        Expected {
            sse: Some(ServerSideEncryption::AwsKms),
            kms_key_id: Some(KEY_ID),
            bucket_key: Some(true),
            ..plain(
                "fixture-enc",
                "default-encrypted.txt",
                pattern(100, 8),
                SSE_DEFAULT_ETAG,
                "text/plain",
                &[],
            )
        },
    ]
}

// SSE ETags are MD5s of the stored ciphertext, which depends on the random data keys and
// salts of the generating run.
const SSE_KMS_ETAG: &str = "25d51d4d37b5b64e80666e227f52ea78";
const SSE_AES256_MULTIPART_ETAG: &str = "d70ab6a4764e9ed74b21d07217e0df9b-2";
const SSE_DEFAULT_ETAG: &str = "eae40538d681803a0871b1b97e97403e";

/// A store serving an unpacked copy of the fixture with the keys it was written with.
pub async fn open_v1_fixture() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    unpack_v1_fixture(&root);
    TestServer::start_in(dir, root, |c| {
        c.sse = Arc::new(TestKms::fixed());
        c.min_part_size = 1024;
    })
    .await
}

/// Reads every object of the fixture and compares it with what was written.
pub async fn assert_v1_objects(c: &aws_sdk_s3::Client) {
    for want in v1_objects() {
        let what = format!("{}/{}", want.bucket, want.key);
        let got = c
            .get_object()
            .bucket(want.bucket)
            .key(want.key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e:?}"));
        assert_eq!(
            got.e_tag(),
            Some(format!("\"{}\"", want.etag).as_str()),
            "{what}"
        );
        assert_eq!(got.content_length(), Some(want.body.len() as i64), "{what}");
        assert_eq!(got.content_type(), Some(want.content_type), "{what}");
        let mut meta: Vec<(String, String)> = got
            .metadata()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        meta.sort();
        let want_meta: Vec<(String, String)> = want
            .metadata
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(meta, want_meta, "{what}");
        assert_eq!(got.server_side_encryption(), want.sse.as_ref(), "{what}");
        assert_eq!(got.ssekms_key_id(), want.kms_key_id, "{what}");
        assert_eq!(got.bucket_key_enabled(), want.bucket_key, "{what}");
        assert!(body_bytes(got).await == want.body, "{what}: body differs");
    }
}

/// The default encryption of the fixture's bucket `fixture-enc`, as v1 stored it.
async fn assert_fixture_enc_default(c: &aws_sdk_s3::Client) {
    let rule = default_kms_rule(c, "fixture-enc").await;
    assert_eq!(default_key_id(&rule), Some(KEY_ID));
    assert_eq!(rule.bucket_key_enabled(), Some(true));
}

/// `pending.bin`, the fixture's upload in progress, once completed with a part 2 of
/// `pattern(10, 9)`.
async fn assert_pending_completed(c: &aws_sdk_s3::Client) {
    let got = get(c, "fixture", "pending.bin").await;
    assert_eq!(got.content_type(), Some("application/x-fixture"));
    assert_eq!(
        body_bytes(got).await,
        [pattern(1200, 7), pattern(10, 9)].concat()
    );
}

#[tokio::test]
async fn v1_data_directory_reads_back() {
    let srv = open_v1_fixture().await;
    let c = srv.client();
    assert_v1_objects(&c).await;

    // Nothing the index references was taken for a leftover at open.
    assert_eq!(segment_count(&srv.root), 12);

    // Content headers, ranges and listings of v1 records.
    let h = head(&c, "fixture", "tiny.txt").await;
    assert_eq!(h.cache_control(), Some("max-age=60"));
    assert_eq!(
        h.content_disposition(),
        Some("attachment; filename=\"tiny.txt\"")
    );
    assert_eq!(h.content_language(), Some("en"));
    let got = get_range(&c, "fixture", "sse/kms.bin", "bytes=65530-65545").await;
    assert_eq!(body_bytes(got).await, &pattern(70_000, 4)[65530..65546]);
    let got = get_part(&c, "fixture", "dir/multipart.bin", 2).await;
    assert_eq!(got.parts_count(), Some(3));
    assert_eq!(body_bytes(got).await, pattern(2048, 2));
    let listed = list_objects(&c, "fixture").await;
    let mut keys = names(listed.contents(), Object::key);
    keys.sort_unstable();
    let mut want: Vec<&str> = v1_objects()
        .iter()
        .filter(|o| o.bucket == "fixture")
        .map(|o| o.key)
        .collect();
    want.sort_unstable();
    assert_eq!(keys, want);

    // v1 bucket records: default encryption and CORS configuration.
    assert_fixture_enc_default(&c).await;
    let cors = get_cors(&c, "fixture-enc").await;
    assert_eq!(cors.cors_rules()[0].allowed_origins(), ["http://app.test"]);
    assert_eq!(cors.cors_rules()[0].max_age_seconds(), Some(600));

    // The v1 upload in progress can be finished.
    let uploads = list_uploads(&c, "fixture").await;
    let up = &uploads.uploads()[0];
    assert_eq!(up.key(), Some("pending.bin"));
    let id = up.upload_id().unwrap().to_owned();
    let parts = list_parts(&c, "fixture", "pending.bin", &id).await;
    let p1 = &parts.parts()[0];
    assert_eq!(p1.size(), Some(1200));
    let part2 = ByteStream::from(pattern(10, 9));
    let p2 = upload_part(&c, "fixture", "pending.bin", &id, 2, part2).await;
    let done = completed(&[(1, p1.e_tag().unwrap()), (2, p2.e_tag().unwrap())]);
    complete_upload(&c, "fixture", "pending.bin", &id, done).await;
    assert_pending_completed(&c).await;

    // New writes to the opened v1 directory: an object, a bucket, a bucket configuration,
    // an upload left in progress.
    put(
        &c,
        "fixture",
        "v2/new.txt",
        ByteStream::from(pattern(300, 10)),
    )
    .await;
    c.create_bucket().bucket("fresh").send().await.unwrap();
    c.delete_bucket_cors()
        .bucket("fixture-enc")
        .send()
        .await
        .unwrap();
    let later = create_upload(&c, "fixture", "later.bin").await;
    let later_id = later.upload_id().unwrap().to_owned();
    let segments = segment_count(&srv.root);
    drop(c);
    let dir = srv.stop().await;

    // On disk: the index is stamped version 2; what was written since is version 2, what was
    // not is still version 1 (and is read as such).
    assert_eq!(format_stamp(&dir), Some(2));
    assert_eq!(object_version(&dir, "fixture", "tiny.txt"), None);
    assert_eq!(object_version(&dir, "fixture", "pending.bin"), Some(2));
    assert_eq!(object_version(&dir, "fixture", "v2/new.txt"), Some(2));
    assert_eq!(bucket_version(&dir, "fixture"), None);
    assert_eq!(bucket_version(&dir, "fixture-enc"), Some(2));
    assert_eq!(bucket_version(&dir, "fresh"), Some(2));
    assert_eq!(upload_versions(&dir, "fixture", "later.bin"), [Some(2)]);

    // Reopened: every v1 object and every v2 write reads back; nothing was taken for a
    // leftover.
    let srv = dir.start().await;
    let c = srv.client();
    assert_v1_objects(&c).await;
    assert_eq!(segment_count(&srv.root), segments);
    assert_pending_completed(&c).await;
    let got = get(&c, "fixture", "v2/new.txt").await;
    assert_eq!(body_bytes(got).await, pattern(300, 10));
    c.head_bucket().bucket("fresh").send().await.unwrap();
    let cors = get_cors_err(&c, "fixture-enc").await;
    assert_eq!(err_code(&cors), "NoSuchCORSConfiguration");
    assert_fixture_enc_default(&c).await;
    let uploads = list_uploads(&c, "fixture").await;
    let ids: Vec<&str> = uploads
        .uploads()
        .iter()
        .filter_map(|u| u.upload_id())
        .collect();
    assert_eq!(ids, [later_id.as_str()]);
}

#[tokio::test]
async fn a_directory_of_a_newer_format_is_refused() {
    let srv = TestServer::start().await;
    let c = srv.client();
    put(&c, BUCKET, "k", ByteStream::from_static(b"data")).await;
    drop(c);
    let dir = srv.stop().await;
    assert_eq!(format_stamp(&dir), Some(2));

    // The index stamped with a newer version: refused, and left as it was (not even the
    // missing `tmp/` is created again).
    set_format_stamp(&dir, 1000);
    std::fs::remove_dir(dir.root.join("tmp")).unwrap();
    assert_refused_as_newer(&dir, 1000);
    assert_eq!(format_stamp(&dir), Some(1000));
    assert_eq!(segment_count(&dir.root), 1);
    assert!(!dir.root.join("tmp").exists());

    // A record of a newer version in an index of the current one: refused too.
    set_format_stamp(&dir, 2);
    {
        let db = dir.index();
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(OBJECTS).unwrap();
            let key = object_key(BUCKET, "k");
            let raw = t.get(key.as_slice()).unwrap().unwrap().value().to_vec();
            let mut json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
            json["v"] = 7.into();
            t.insert(
                key.as_slice(),
                serde_json::to_vec(&json).unwrap().as_slice(),
            )
            .unwrap();
        }
        txn.commit().unwrap();
    }
    assert_refused_as_newer(&dir, 7);
    assert_eq!(segment_count(&dir.root), 1);
}
