//! Full CSE and SSE-KMS flows through the broker API and presigned URLs, with a
//! native client built on the envelope crate, against moto (with the official
//! Python S3 Encryption Client as the interop peer both ways) and against the
//! embedded default. Tampering, copying and an unreachable KMS end in clear
//! errors, and the logs never contain a data key, token or presigned signature.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use reqwest::StatusCode;
use sealdrop_client::api::{
    CreateUploadRequest, Decryption, Encryption, Mode, ObjectMode, Transfer, UploadEncryption,
    UploadTarget,
};
use sealdrop_client::{ErrorKind, NoProgress};
use sealdrop_tests::{Bucket, Moto, Peer, Server, ServerOptions, content, free_port};
use serde_json::json;

const MIB: usize = 1024 * 1024;
const BUCKET: &str = "sealdrop-test";

/// Small multipart parts, so "≥ 3 parts of 5 MiB" stays quick.
/// moto with the test bucket and a KMS key, and a broker on them.
struct OnMoto {
    moto: Moto,
    kms_key: String,
    server: Server,
    storage: Bucket,
}

impl OnMoto {
    async fn start(options: ServerOptions) -> OnMoto {
        let moto = Moto::start().unwrap();
        let kms_key = moto.bucket_and_key(BUCKET).await.unwrap();
        let server = Server::aws(&moto, BUCKET, &kms_key, options).unwrap();
        let storage = moto.bucket(BUCKET).await;
        OnMoto {
            moto,
            kms_key,
            server,
            storage,
        }
    }
}

fn five_mib_parts() -> ServerOptions {
    ServerOptions {
        env: vec![
            ("SEALDROP_PART_SIZE".into(), (5 * MIB).to_string()),
            ("SEALDROP_MULTIPART_THRESHOLD".into(), (5 * MIB).to_string()),
        ],
        ..ServerOptions::default()
    }
}

async fn round_trip(
    client: &sealdrop_client::Client,
    name: &str,
    data: &[u8],
    mode: Mode,
) -> String {
    let key = client
        .upload_reader(data, data.len() as u64, name, mode, false, NoProgress)
        .await
        .unwrap_or_else(|e| panic!("upload {name}: {e}"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let report = client.download_to(&key, &out, NoProgress).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), data, "{name}");
    assert_eq!(report.size, data.len() as u64);
    assert_eq!(
        report.mode,
        match mode {
            Mode::Cse => ObjectMode::CseV3,
            Mode::Sse => ObjectMode::SseKms,
        }
    );
    key
}

/// Checks that storage holds S3EC V3 ciphertext for `key`.
/// Round-trips SSE objects of a few sizes (`seed` for their content, across the 5 MiB part
/// size) and returns each key with storage's HEAD of it, which must say aws:kms; which KMS
/// key is for the caller to check.
async fn sse_round_trips(
    client: &sealdrop_client::Client,
    storage: &Bucket,
    seed: u64,
) -> Vec<(String, aws_sdk_s3::operation::head_object::HeadObjectOutput)> {
    let mut heads = Vec::new();
    for size in [0, 17, 11 * MIB] {
        let data = content(size, seed);
        let key = round_trip(client, &format!("sse-{size}.bin"), &data, Mode::Sse).await;
        let head = storage.head(&key).await;
        assert_eq!(
            head.server_side_encryption().map(|s| s.as_str()),
            Some("aws:kms"),
            "{key}"
        );
        heads.push((key, head));
    }
    heads
}

async fn assert_stored_ciphertext(storage: &Bucket, key: &str, plaintext: &[u8]) {
    let head = storage.head(key).await;
    let metadata = head.metadata().unwrap();
    assert_eq!(metadata["x-amz-c"], "115");
    assert!(metadata.contains_key("x-amz-3") && metadata.contains_key("x-amz-d"));
    let body = storage.body(key).await;
    assert_eq!(body.len(), plaintext.len() + 16);
    if plaintext.len() >= 16 {
        assert!(
            !body.windows(16).any(|w| w == &plaintext[..16]),
            "plaintext visible in storage"
        );
    }
}

#[tokio::test]
async fn moto_cse_round_trips_and_official_client_interop_both_ways() {
    let OnMoto {
        moto,
        kms_key,
        server,
        storage,
    } = OnMoto::start(five_mib_parts()).await;
    let client = server.client(&server.admin_token);
    let peer = Peer::new(&moto);
    let scratch = tempfile::tempdir().unwrap();

    // sealdrop writes, the official client reads: single PUT and ≥ 3 parts of 5 MiB.
    let mut interop = Vec::new();
    for (i, size) in [0, 1, 15, 16, 17, 15 * MIB + 5].into_iter().enumerate() {
        let data = content(size, i as u64);
        let key = round_trip(&client, &format!("cse-{size}.bin"), &data, Mode::Cse).await;
        assert_stored_ciphertext(&storage, &key, &data).await;
        let head = storage.head(&key).await;
        let context: serde_json::Value =
            serde_json::from_str(&head.metadata().unwrap()["x-amz-t"]).unwrap();
        assert_eq!(
            context,
            json!({"sealdrop:key": key, "aws:x-amz-cek-alg": "115"})
        );
        let decrypted = peer
            .get(
                BUCKET,
                &key,
                &kms_key,
                &scratch.path().join(format!("peer-{size}")),
            )
            .unwrap();
        assert_eq!(
            decrypted, data,
            "official client decrypts sealdrop's {size} bytes"
        );
        interop.push(format!("sealdrop→official {size} B ok"));
    }

    // The official client writes, sealdrop reads (V3 and V2, single and multipart).
    for (size, format, multipart) in [
        (0, "v3", false),
        (17, "v3", false),
        (MIB + 3, "v3", false),
        (11 * MIB + 7, "v3", true),
        (17, "v2", false),
        (MIB + 5, "v2", false),
    ] {
        let data = content(size, 100 + size as u64);
        let file = scratch.path().join(format!("in-{format}-{size}"));
        std::fs::write(&file, &data).unwrap();
        let key = format!("admin/official-{format}-{size}.bin");
        peer.put(BUCKET, &key, &kms_key, &file, format, multipart)
            .unwrap();
        let out = scratch.path().join(format!("out-{format}-{size}"));
        let report = client.download_to(&key, &out, NoProgress).await.unwrap();
        assert_eq!(
            std::fs::read(&out).unwrap(),
            data,
            "sealdrop decrypts the official {format} {size} bytes"
        );
        let expected = if format == "v3" {
            ObjectMode::CseV3
        } else {
            ObjectMode::CseV2
        };
        assert_eq!(report.mode, expected);
        interop.push(format!(
            "official→sealdrop {format} {size} B (multipart {multipart}) ok"
        ));
    }
    println!("{}", interop.join("\n"));

    // Listing shows the modes.
    let objects = client.list_all(None).await.unwrap();
    assert_eq!(objects.len(), 12);
    let v2 = objects
        .iter()
        .filter(|o| o.encryption.mode() == ObjectMode::CseV2)
        .count();
    assert_eq!(v2, 2, "listing tells V2 from V3");
    assert!(objects.iter().all(|o| o.encryption.mode().is_client_side()));
}

#[tokio::test]
async fn moto_sse_kms_uploads_are_encrypted_by_storage() {
    let OnMoto {
        moto: _moto,
        kms_key,
        server,
        storage,
    } = OnMoto::start(five_mib_parts()).await;
    let client = server.client(&server.admin_token);
    for (key, head) in sse_round_trips(&client, &storage, 7).await {
        assert!(head.ssekms_key_id().unwrap().contains(&kms_key));
        let info = client.object_info(&key).await.unwrap();
        assert_eq!(
            info.encryption,
            Encryption::SseKms {
                kms_key_id: head.ssekms_key_id().map(str::to_owned)
            }
        );
    }
}

#[tokio::test]
async fn moto_tampering_copying_and_kms_outage_fail_clearly() {
    let OnMoto {
        moto,
        kms_key,
        server,
        storage,
    } = OnMoto::start(ServerOptions::default()).await;
    let client = server.client(&server.admin_token);
    check_tampering(&server, &client, &storage).await;

    // KMS unreachable: 503 JSON, not a hang or a 500.
    let dead_kms = format!("http://127.0.0.1:{}", free_port());
    let outage = Server::aws(
        &moto,
        BUCKET,
        &kms_key,
        ServerOptions {
            env: vec![("AWS_ENDPOINT_URL_KMS".into(), dead_kms)],
            ..ServerOptions::default()
        },
    )
    .unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/uploads", outage.url))
        .bearer_auth(&outage.admin_token)
        .json(&json!({"name": "x", "size": 1, "mode": "cse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    let ready = reqwest::get(format!("{}/readyz", outage.url))
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    // A disabled KMS key is not ready either: every new upload would fail.
    moto.kms()
        .await
        .disable_key()
        .key_id(&kms_key)
        .send()
        .await
        .unwrap();
    let ready = reqwest::get(format!("{}/readyz", server.url))
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["key_provider"]["ok"], false);
    assert_eq!(body["storage"]["ok"], true);

    assert_no_secrets_in_logs(&server, &client).await;
}

/// Shared by the moto and embedded runs: every kind of tampering is caught.
/// Asserts that downloading `key` (which was tampered with) to `out` fails as an integrity
/// error and leaves no output file.
async fn assert_integrity_failure(client: &sealdrop_client::Client, key: &str, out: &Path) {
    let err = client.download_to(key, out, NoProgress).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{key}: {err}");
    assert!(!out.exists(), "{key}");
}

async fn check_tampering(server: &Server, client: &sealdrop_client::Client, storage: &Bucket) {
    let data = content(4097, 3);
    let scratch = tempfile::tempdir().unwrap();
    let fresh = |name: &str| {
        let client = client.clone();
        let data = data.clone();
        let name = name.to_owned();
        async move {
            client
                .upload_reader(
                    &data[..],
                    data.len() as u64,
                    &name,
                    Mode::Cse,
                    false,
                    NoProgress,
                )
                .await
                .unwrap()
        }
    };
    let open_status = |key: String| {
        let url = server.url.clone();
        let token = server.admin_token.clone();
        async move {
            let response = reqwest::Client::new()
                .post(format!("{url}/api/v1/objects/open"))
                .bearer_auth(token)
                .json(&json!({"key": key}))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap();
            assert!(body["cse"].is_null(), "no key material on failure: {body}");
            (status, body)
        }
    };

    // One byte of ciphertext: the download fails authentication, no file appears.
    let key = fresh("ciphertext.bin").await;
    storage.tamper(&key, |_, body| body[100] ^= 1).await;
    let out = scratch.path().join("ciphertext.out");
    assert_integrity_failure(client, &key, &out).await;
    assert!(
        std::fs::read_dir(scratch.path()).unwrap().next().is_none(),
        "no temp files left"
    );

    // The tag: same.
    let key = fresh("tag.bin").await;
    storage
        .tamper(&key, |_, body| *body.last_mut().unwrap() ^= 0x80)
        .await;
    assert_integrity_failure(client, &key, &out).await;

    // Metadata: commitment, message ID, wrapped key, context: 422, no key.
    for (name, field) in [
        ("commitment.bin", "x-amz-d"),
        ("message-id.bin", "x-amz-i"),
        ("wrapped-key.bin", "x-amz-3"),
    ] {
        let key = fresh(name).await;
        storage
            .tamper(&key, |metadata, _| {
                let value = metadata.get_mut(field).unwrap();
                let mut bytes = base64_decode(value);
                bytes[5] ^= 1;
                *value = base64_encode(&bytes);
            })
            .await;
        let (status, body) = open_status(key.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert_eq!(body["error"]["code"], "integrity_error");
        assert_integrity_failure(client, &key, &out).await;
    }
    let context_field = match storage
        .head(&fresh("probe.bin").await)
        .await
        .metadata()
        .unwrap()
        .contains_key("x-amz-t")
    {
        true => "x-amz-t",
        false => "x-amz-m",
    };
    let key = fresh("context.bin").await;
    storage
        .tamper(&key, |metadata, _| {
            let value = metadata.get_mut(context_field).unwrap();
            *value = value.replacen('{', "{\"extra\": \"entry\", ", 1);
        })
        .await;
    let (status, body) = open_status(key).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "context: {body}");

    // Copied to another key (plain copy, and with the binding rewritten).
    let original = fresh("original.bin").await;
    storage.copy(&original, "admin/copied.bin", None).await;
    let (status, body) = open_status("admin/copied.bin".into()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "copy: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("copied or renamed")
    );
    let mut relabelled = storage.head(&original).await.metadata().cloned().unwrap();
    let value = relabelled.get_mut(context_field).unwrap();
    *value = value.replace("admin/original.bin", "admin/relabelled.bin");
    storage
        .copy(&original, "admin/relabelled.bin", Some(relabelled))
        .await;
    let (status, body) = open_status("admin/relabelled.bin".into()).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "relabelled copy: {body}"
    );
    // The original still opens.
    let ok = client
        .download_to(&original, &out, NoProgress)
        .await
        .unwrap();
    assert_eq!(ok.size, data.len() as u64);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Creates uploads and opens objects through the raw API to learn the secrets
/// that went over the wire, then checks none of them reached the logs.
async fn assert_no_secrets_in_logs(server: &Server, client: &sealdrop_client::Client) {
    let mut secrets = vec![server.admin_token.clone()];
    let created = client
        .create_upload(&CreateUploadRequest {
            target: UploadTarget::Name("secret-probe.bin".into()),
            size: 3,
            content_type: None,
            mode: Mode::Cse,
            overwrite: true,
        })
        .await
        .unwrap();
    let UploadEncryption::Cse(cse) = &created.encryption else {
        panic!("a CSE upload has materials")
    };
    secrets.push(cse.data_key.expose().to_owned());
    let Transfer::Single { request } = &created.transfer else {
        panic!("small uploads are single PUTs")
    };
    let signature = request
        .url
        .split("X-Amz-Signature=")
        .nth(1)
        .unwrap()
        .to_owned();
    secrets.push(signature);
    let key = client
        .upload_reader(
            &b"abc"[..],
            3,
            "secret-probe-2.bin",
            Mode::Cse,
            false,
            NoProgress,
        )
        .await
        .unwrap();
    let opened = client.open_object(&key).await.unwrap();
    let Decryption::Client(materials) = &opened.decryption else {
        panic!("a CSE object opens with its key")
    };
    secrets.push(materials.data_key.expose().to_owned());
    secrets.push(
        opened
            .download
            .url
            .split("X-Amz-Signature=")
            .nth(1)
            .unwrap()
            .to_owned(),
    );

    let logs = server.logs();
    assert!(
        logs.lines().count() > 20,
        "debug logging was on: {} lines",
        logs.lines().count()
    );
    let kinds = [
        "token",
        "data key (create)",
        "PUT signature",
        "data key (open)",
        "GET signature",
    ];
    for (secret, kind) in secrets.iter().zip(kinds) {
        let leaks: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains(secret.as_str()) && !l.ends_with(&format!("#token={secret}")))
            .map(|l| l.split(secret.as_str()).next().unwrap_or(""))
            .collect();
        assert!(
            leaks.is_empty(),
            "the {kind} leaked into the logs, after: {leaks:?}"
        );
    }
    // The token appears once on stdout, as the login link, and nowhere else.
    assert_eq!(logs.matches(server.admin_token.as_str()).count(), 1);
    let audit = std::fs::read_to_string(server.data_dir().join("audit.log")).unwrap();
    for secret in &secrets {
        assert!(!audit.contains(secret.as_str()));
    }
    assert!(
        audit.contains("\"action\":\"open\"") && audit.contains("\"action\":\"create_upload\"")
    );
}

#[tokio::test]
async fn embedded_default_cse_sse_tampering_and_logs() {
    let server = Server::embedded(five_mib_parts()).unwrap();
    let client = server.client(&server.admin_token);
    let storage = server.store_bucket().await.unwrap();
    for (i, size) in [0, 1, 15, 16, 17, 15 * MIB + 5].into_iter().enumerate() {
        let data = content(size, i as u64);
        let key = round_trip(&client, &format!("cse-{size}.bin"), &data, Mode::Cse).await;
        assert_stored_ciphertext(&storage, &key, &data).await;
        let head = storage.head(&key).await;
        assert_eq!(
            head.metadata().unwrap()["x-amz-w"],
            "02",
            "local keyring wrapping"
        );
    }
    for (_, head) in sse_round_trips(&client, &storage, 9).await {
        assert!(head.ssekms_key_id().unwrap().starts_with("local:"));
    }
    check_tampering(&server, &client, &storage).await;
    assert_no_secrets_in_logs(&server, &client).await;
}

#[tokio::test]
async fn embedded_default_survives_a_restart() {
    let server = Server::embedded(ServerOptions::default()).unwrap();
    let client = server.client(&server.admin_token);
    let bob = server.add_user("bob").unwrap();
    let data = content(100_000, 5);
    let cse = round_trip(&client, "keep-cse.bin", &data, Mode::Cse).await;
    let sse = round_trip(&client, "keep-sse.bin", &data, Mode::Sse).await;
    let keyring = std::fs::read(server.data_dir().join("keyring")).unwrap();
    let store_key = server.admin(&["bucket-encryption", "get"]).unwrap();
    assert!(store_key.contains("no default encryption"), "{store_key}");
    let key_id = client.me().await.unwrap().kms_key_id;
    server
        .admin(&["bucket-encryption", "set", "--kms-key", &key_id])
        .unwrap();

    let server = server.restart().unwrap();
    assert_eq!(
        std::fs::read(server.data_dir().join("keyring")).unwrap(),
        keyring
    );
    let client = server.client(&server.admin_token);
    let dir = tempfile::tempdir().unwrap();
    for key in [&cse, &sse] {
        let out = dir.path().join("out");
        client.download_to(key, &out, NoProgress).await.unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), data);
    }
    let me = server.client(&bob).me().await.unwrap();
    assert_eq!(me.user, "bob");
    let encryption = server.admin(&["bucket-encryption", "get"]).unwrap();
    assert!(
        encryption.contains("aws:kms") && encryption.contains(&key_id),
        "{encryption}"
    );
    // No second login link on restart.
    assert!(!server.logs().contains("#token="));
}

/// `serve` refuses storage that runs presigned requests with headers they were
/// not signed with (moto checks no signature: a presigned upload with an extra
/// `x-amz-copy-source` becomes a CopyObject), and says how to proceed.
#[tokio::test]
async fn serve_refuses_storage_that_ignores_presigned_signatures() {
    let moto = Moto::start().unwrap();
    let kms_key = moto.bucket_and_key(BUCKET).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(sealdrop_tests::sealdrop_bin())
        .arg("serve")
        .envs(Server::aws_env(&moto, BUCKET, &kms_key))
        .env("SEALDROP_DATA_DIR", data.path())
        .env("SEALDROP_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "served on lax storage: {stderr}");
    assert!(stderr.contains("x-amz-copy-source"), "{stderr}");
    assert!(
        stderr.contains("SEALDROP_S3_INSECURE_SKIP_PRESIGN_CHECK"),
        "{stderr}"
    );
    // The probe left nothing behind.
    let storage = moto.bucket(BUCKET).await;
    let listed = storage
        .s3
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(0), "{listed:?}");
}
