//! The `sealdrop` client commands (`put`, `get`, `ls`, `rm`) as a user runs
//! them: the real binary against `sealdrop serve` (embedded default and moto),
//! checking output, exit codes, files left behind, and interop of what the CLI
//! writes with the official S3 Encryption Client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use sealdrop_tests::{Moto, Peer, Server, ServerOptions, content, sealdrop_bin};

const MIB: usize = 1024 * 1024;

/// The outcome of one command.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn of(output: std::process::Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// Asserts success and returns the output.
    fn ok(self) -> Run {
        assert_eq!(self.code, 0, "failed: {}", self.stderr);
        self
    }

    /// Asserts failure with `code`, with exactly one line of reason on stderr
    /// and no panic.
    fn fails(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert_eq!(
            self.stderr.lines().count(),
            1,
            "one line: {:?}",
            self.stderr
        );
        assert!(self.stderr.starts_with("sealdrop: "), "{}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }

    /// Asserts failure with `code` after what the command said on the way:
    /// the last line of stderr is the one reason.
    fn fails_last(self, code: i32) -> Run {
        assert_eq!(self.code, code, "stderr: {}", self.stderr);
        let last = self.stderr.lines().last().unwrap_or_default();
        assert!(last.starts_with("sealdrop: "), "{}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }
}

/// A user at a terminal-less shell: a working directory, a broker and a token.
struct User {
    url: String,
    token: String,
    dir: tempfile::TempDir,
}

impl User {
    fn new(url: &str, token: &str) -> User {
        User {
            url: url.to_owned(),
            token: token.to_owned(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Someone with no account: no broker URL, no token.
    fn outsider() -> User {
        User::new("", "")
    }

    /// `sealdrop ARGS` as this user runs it, output captured.
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(sealdrop_bin());
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("SEALDROP_URL")
            .env_remove("SEALDROP_TOKEN")
            .env_remove("SEALDROP_LOG")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if !self.url.is_empty() {
            command
                .env("SEALDROP_URL", &self.url)
                .env("SEALDROP_TOKEN", &self.token);
        }
        command
    }

    async fn run(&self, args: &[&str]) -> Run {
        Run::of(self.command(args).output().await.unwrap())
    }

    /// `put`s `bytes` as `name` and returns the key it printed.
    async fn put(&self, name: &str, bytes: &[u8], extra: &[&str]) -> String {
        let file = self.write(&format!("in-{}", name.replace('/', "_")), bytes);
        let mut args = vec!["put", file.to_str().unwrap(), "--name", name];
        args.extend_from_slice(extra);
        let run = self.run(&args).await.ok();
        run.stdout.trim().to_owned()
    }
}

#[tokio::test]
async fn every_size_round_trips_with_cse_and_sse() {
    let server = Server::embedded(ServerOptions::default()).unwrap();
    let user = User::new(&server.url, &server.admin_token);
    let sizes = [0, 1, 16, 17, 5 * MIB - 1, 5 * MIB, 5 * MIB + 1, 23 * MIB];
    for (mode, flags, label) in [
        ("cse", &[][..], "CSE V3"),
        ("sse", &["--sse"][..], "SSE-KMS"),
    ] {
        for (i, &size) in sizes.iter().enumerate() {
            let bytes = content(size, i as u64);
            let name = format!("{mode}/{size}.bin");
            let key = user.put(&name, &bytes, flags).await;
            assert_eq!(key, format!("admin/{name}"));

            let out = user.path(&format!("out-{mode}-{size}"));
            let run = user
                .run(&["get", &key, "-o", out.to_str().unwrap()])
                .await
                .ok();
            assert_eq!(std::fs::read(&out).unwrap(), bytes, "{mode} {size}");
            assert!(
                run.stderr.contains(&format!("encryption: {label}")),
                "{}",
                run.stderr
            );
            if mode == "sse" {
                assert!(
                    run.stderr.contains("x-amz-server-side-encryption: aws:kms"),
                    "{}",
                    run.stderr
                );
            }
        }
    }

    // The listing shows every object with its size and mode.
    let listing = user.run(&["ls"]).await.ok().stdout;
    assert_eq!(listing.lines().count(), 1 + 2 * sizes.len(), "{listing}");
    assert!(listing.lines().next().unwrap().contains("ENCRYPTION"));
    let row = listing
        .lines()
        .find(|l| l.ends_with("admin/cse/17.bin"))
        .unwrap();
    assert!(row.contains("17 B") && row.contains("CSE V3"), "{row}");
    let row = listing
        .lines()
        .find(|l| l.ends_with("admin/sse/24117248.bin"))
        .unwrap();
    assert!(
        row.contains("23.00 MiB") && row.contains("SSE-KMS"),
        "{row}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&user.run(&["ls", "sse/", "--json"]).await.ok().stdout).unwrap();
    let objects = json.as_array().unwrap();
    assert_eq!(objects.len(), sizes.len());
    assert!(objects.iter().all(|o| o["encryption"]["mode"] == "sse-kms"));
}

#[tokio::test]
async fn get_names_refuses_to_overwrite_reports_and_rm_deletes() {
    let server = Server::embedded(ServerOptions::default()).unwrap();
    let user = User::new(&server.url, &server.admin_token);
    let key = user.put("docs/report.txt", b"first", &[]).await;

    // Default output: the key's last segment in the current directory.
    user.run(&["get", &key]).await.ok();
    assert_eq!(std::fs::read(user.path("report.txt")).unwrap(), b"first");

    user.put("docs/report.txt", b"second", &["--overwrite"])
        .await;
    let run = user.run(&["get", &key]).await.fails(1);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read(user.path("report.txt")).unwrap(), b"first");
    let run = user.run(&["get", &key, "--force", "--json"]).await.ok();
    assert_eq!(std::fs::read(user.path("report.txt")).unwrap(), b"second");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["mode"], "cse-v3");
    assert_eq!(report["key"], key.as_str());
    assert_eq!(report["size"], 6);
    assert_eq!(report["encryption_context"]["sealdrop:key"], key.as_str());

    // Into a directory, under the default name.
    std::fs::create_dir(user.path("sub")).unwrap();
    user.run(&["get", &key, "-o", "sub"]).await.ok();
    assert_eq!(
        std::fs::read(user.path("sub/report.txt")).unwrap(),
        b"second"
    );

    // Without --overwrite an existing name is a conflict.
    let file = user.write("again", b"x");
    user.run(&["put", file.to_str().unwrap(), "--name", "docs/report.txt"])
        .await
        .fails(1);

    user.run(&["rm", &key]).await.ok();
    assert!(!user.run(&["ls"]).await.ok().stdout.contains("report.txt"));
    user.run(&["get", &key, "-o", "gone"]).await.fails(4);
    assert!(!user.path("gone").exists());
}

#[tokio::test]
async fn a_tampered_object_exits_5_and_leaves_no_file() {
    let server = Server::embedded(ServerOptions::default()).unwrap();
    let user = User::new(&server.url, &server.admin_token);
    let s3 = server.store_s3().await.unwrap();
    let out_dir = user.path("out");
    std::fs::create_dir(&out_dir).unwrap();
    // Single PUT and multipart (over the default 16 MiB threshold).
    for size in [1000, 17 * MIB] {
        for tamper in ["content", "tag", "message id"] {
            let key = user
                .put(&format!("t-{size}"), &content(size, 7), &["--overwrite"])
                .await;
            let object = s3
                .get_object()
                .bucket("sealdrop")
                .key(&key)
                .send()
                .await
                .unwrap();
            let mut metadata = object.metadata().cloned().unwrap_or_default();
            let mut body = object.body.collect().await.unwrap().to_vec();
            match tamper {
                "content" => body[size / 2] ^= 1,
                "tag" => *body.last_mut().unwrap() ^= 0x80,
                _ => {
                    let id = metadata.get_mut("x-amz-i").unwrap();
                    let flipped = if id.starts_with('A') { "B" } else { "A" };
                    id.replace_range(0..1, flipped);
                }
            }
            s3.put_object()
                .bucket("sealdrop")
                .key(&key)
                .set_metadata(Some(metadata))
                .content_type("application/octet-stream")
                .body(body.into())
                .send()
                .await
                .unwrap();

            let out = out_dir.join("x");
            let run = user
                .run(&["get", &key, "-o", out.to_str().unwrap()])
                .await
                .fails(5);
            assert!(run.stderr.contains("integrity"), "{tamper}: {}", run.stderr);
            assert!(
                sealdrop_tests::file_names(&out_dir).is_empty(),
                "{tamper}: {:?}",
                sealdrop_tests::file_names(&out_dir)
            );
        }
    }
}

/// Storage dies in the middle of a transfer (the embedded store goes down
/// with its `sealdrop serve`, as in a crash): `put` and `get` fail with exit
/// code 6 and say so, no partial object becomes visible, and no file —
/// partial, staged or unverified — is left behind; after a restart the same
/// commands succeed.
#[tokio::test]
async fn a_crash_mid_transfer_leaves_nothing_half_done() {
    use std::time::{Duration, Instant};
    let mut server = Server::embedded(ServerOptions::default()).unwrap();
    let user = User::new(&server.url, &server.admin_token);
    let big = content(160 * MIB, 11);
    let path = user.write("big.bin", &big);
    let bucket = server.store_bucket().await.unwrap();
    let until = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        let what = what.to_owned();
        move || assert!(Instant::now() < deadline, "waited a minute for {what}")
    };

    // Killed once the multipart upload is under way.
    let put = user
        .command(&["put", path.to_str().unwrap(), "--name", "big.bin"])
        .spawn()
        .unwrap();
    let waited = until("the upload to start");
    while bucket.pending_uploads("admin/").await == 0 {
        waited();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    // With the broker gone too, the client cannot abort the upload: it warns
    // (the broker cancels it once idle), then gives its one-line reason.
    let run = Run::of(put.wait_with_output().await.unwrap());
    assert_eq!(run.code, 6, "{}", run.stderr);
    let reason = run.stderr.lines().last().unwrap();
    assert!(
        reason.starts_with("sealdrop: cannot reach"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);

    let server = server.restart().unwrap();
    let user = User::new(&server.url, &server.admin_token);
    let bucket = server.store_bucket().await.unwrap();
    assert!(!bucket.exists("admin/big.bin").await, "no partial object");
    let listed = user.run(&["ls"]).await.ok();
    assert!(!listed.stdout.contains("big.bin"), "{}", listed.stdout);
    let path = user.write("big.bin", &big);
    user.run(&["put", path.to_str().unwrap(), "--name", "big.bin"])
        .await
        .ok();

    // Killed once the download is being staged beside its destination.
    let out_dir = user.path("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("big.bin");
    let mut server = server;
    let get = user
        .command(&["get", "admin/big.bin", "-o", out.to_str().unwrap()])
        .spawn()
        .unwrap();
    let waited = until("the download to start");
    while sealdrop_tests::file_names(&out_dir).is_empty() {
        waited();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    let run = Run::of(get.wait_with_output().await.unwrap()).fails(6);
    assert!(run.stderr.contains("reach"), "{}", run.stderr);
    assert_eq!(
        sealdrop_tests::file_names(&out_dir),
        Vec::<String>::new(),
        "nothing left behind"
    );

    let server = server.restart().unwrap();
    let user = User {
        url: server.url.clone(),
        token: server.admin_token.clone(),
        ..user
    };
    user.run(&["get", "admin/big.bin", "-o", out.to_str().unwrap()])
        .await
        .ok();
    assert!(std::fs::read(&out).unwrap() == big, "the same bytes");
}

#[tokio::test]
async fn failures_exit_with_their_class_and_one_line() {
    let server = Server::embedded(ServerOptions::default()).unwrap();
    let bob = server.add_user("bob").unwrap();
    let admin = User::new(&server.url, &server.admin_token);
    let key = admin.put("private", b"secret", &[]).await;

    let stranger = User::new(&server.url, "sdt_not-a-token");
    stranger.run(&["ls"]).await.fails(3);
    let bob = User::new(&server.url, &bob);
    bob.run(&["get", &key, "-o", "x"]).await.fails(3);
    bob.run(&["rm", &key]).await.fails(3);
    assert!(!bob.path("x").exists());
    admin.run(&["get", "admin/missing"]).await.fails(4);
    admin.run(&["put", "no-such-file"]).await.fails(1);

    let port = sealdrop_tests::free_port();
    let offline = User::new(&format!("http://127.0.0.1:{port}"), "t");
    let run = offline.run(&["ls"]).await.fails(6);
    assert!(
        run.stderr.contains("cannot reach the broker"),
        "{}",
        run.stderr
    );

    // Usage errors are clap's: exit 2, with help on how to fix them.
    let run = admin.run(&["get"]).await;
    assert_eq!(run.code, 2);
    let no_url = tokio::process::Command::new(sealdrop_bin())
        .args(["ls"])
        .env_remove("SEALDROP_URL")
        .env("SEALDROP_TOKEN", "t")
        .output()
        .await
        .unwrap();
    assert_eq!(no_url.status.code(), Some(2));

    // The server and operator commands document their flags and environment.
    for command in [
        &["serve", "--help"][..],
        &["admin", "--help"],
        &["admin", "user", "add", "--help"],
        &["admin", "bucket-encryption", "set", "--help"],
        &["admin", "encrypt-existing", "--help"],
        &["admin", "rotate", "--help"],
        &["admin", "cors", "set", "--help"],
    ] {
        let help = admin.run(command).await.ok().stdout;
        for needle in [
            "--config",
            "SEALDROP_CONFIG",
            "--data-dir",
            "SEALDROP_DATA_DIR",
        ] {
            assert!(help.contains(needle), "{command:?} lacks {needle}:\n{help}");
        }
    }
    let rotate = admin.run(&["admin", "rotate", "--help"]).await.ok().stdout;
    assert!(
        rotate.contains("--to-key") && rotate.contains("--dry-run") && rotate.contains("--prefix")
    );
    let serve = admin.run(&["serve", "--help"]).await.ok().stdout;
    assert!(serve.contains("SEALDROP_BUCKET") && serve.contains("SEALDROP_KMS_KEY_ID"));

    // Every command documents its flags, environment and exit codes.
    for command in ["put", "get", "ls", "rm"] {
        let help = admin.run(&[command, "--help"]).await.ok().stdout;
        for needle in ["SEALDROP_URL", "SEALDROP_TOKEN", "Exit codes", "integrity"] {
            assert!(
                help.contains(needle),
                "{command} --help lacks {needle}:\n{help}"
            );
        }
        assert!(!help.contains(&server.admin_token));
    }
}

/// Share links end to end: the owner shares with the CLI, someone with no
/// account fetches with `get LINK`, and every way a link ends is its own
/// clear message and exit code.
#[tokio::test]
async fn share_links_reach_people_without_an_account() {
    let server = Server::embedded(ServerOptions::default()).unwrap();
    let owner = User::new(&server.url, &server.admin_token);
    let report = content(70_000, 11);
    let scan = content(6 * MIB + 5, 12);
    let report_key = owner.put("cases/report.pdf", &report, &[]).await;
    let scan_key = owner.put("scan.tiff", &scan, &["--sse"]).await;

    let run = owner
        .run(&[
            "share",
            &report_key,
            &scan_key,
            "--max-downloads",
            "1",
            "--note",
            "the signed copies",
        ])
        .await
        .ok();
    let link = run.stdout.trim().to_owned();
    assert!(
        link.starts_with(&format!("{}/s/", server.url)) && link.contains('#'),
        "{link}"
    );
    assert!(
        run.stderr.contains("1 download(s) per file"),
        "{}",
        run.stderr
    );
    let (_, secret) = link.split_once('#').unwrap();

    // Someone with no account and no configuration gets both files, verified.
    let outsider = User::outsider();
    let run = outsider.run(&["get", &link]).await.ok();
    assert!(run.stderr.contains("the signed copies"), "{}", run.stderr);
    assert!(std::fs::read(outsider.path("report.pdf")).unwrap() == report);
    assert!(std::fs::read(outsider.path("scan.tiff")).unwrap() == scan);
    assert!(run.stderr.contains("CSE V3") && run.stderr.contains("SSE-KMS"));

    // Each file had one download: the link is used up (exit 3, says so).
    let elsewhere = User::outsider();
    let run = elsewhere.run(&["get", &link]).await.fails(3);
    assert!(run.stderr.contains("download limit"), "{}", run.stderr);
    assert!(elsewhere.path("report.pdf").metadata().is_err());

    // A wrong secret and an unknown id get the same answer: exit 4.
    let wrong_secret = format!("{}#{}", link.split_once('#').unwrap().0, "A".repeat(43));
    let (base, _) = link.rsplit_once("/s/").unwrap();
    let unknown_id = format!("{base}/s/AAAAAAAAAAAAAAAAAAAAAA#{secret}");
    let wrong = elsewhere.run(&["get", &wrong_secret]).await.fails(4);
    let unknown = elsewhere.run(&["get", &unknown_id]).await.fails(4);
    assert_eq!(wrong.stderr, unknown.stderr);
    // A link cut short says so, without echoing it.
    let without_secret = link.split_once('#').unwrap().0;
    for cut in [without_secret.to_owned(), format!("{without_secret}#")] {
        let run = elsewhere.run(&["get", &cut]).await.fails(1);
        assert!(run.stderr.contains("copy the whole link"), "{}", run.stderr);
    }

    // Revoked: exit 3, "revoked"; the owner's list says so.
    let link = owner.run(&["share", &report_key]).await.ok().stdout;
    let link = link.trim();
    let id = link
        .rsplit_once("/s/")
        .unwrap()
        .1
        .split('#')
        .next()
        .unwrap();
    let listed: serde_json::Value =
        serde_json::from_str(&owner.run(&["share", "ls", "--json"]).await.ok().stdout).unwrap();
    let first = &listed[0];
    assert_eq!(first["id"], id, "newest first");
    assert_eq!(first["status"], "active");
    assert!(first.get("max_downloads").is_none());
    let table = owner.run(&["share", "ls"]).await.ok().stdout;
    assert!(table.contains(id) && table.contains("exhausted"), "{table}");
    owner.run(&["share", "rm", id]).await.ok();
    let run = elsewhere.run(&["get", link]).await.fails(3);
    assert!(run.stderr.contains("revoked"), "{}", run.stderr);
    owner.run(&["share", "rm", "no-such-share"]).await.fails(4);

    // A file replaced after it was shared is not served in its place; a
    // deleted one ends its link.
    let link = owner.run(&["share", &report_key]).await.ok().stdout;
    owner
        .put("cases/report.pdf", b"another report", &["--overwrite"])
        .await;
    let run = elsewhere.run(&["get", link.trim()]).await.fails(3);
    assert!(run.stderr.contains("deleted or replaced"), "{}", run.stderr);
    let link = owner.run(&["share", &scan_key]).await.ok().stdout;
    owner.run(&["rm", &scan_key]).await.ok();
    let run = elsewhere.run(&["get", link.trim()]).await.fails(3);
    assert!(run.stderr.contains("deleted or replaced"), "{}", run.stderr);

    // Bad requests are refused with the reason.
    let run = owner
        .run(&["share", &report_key, "--expires", "400d"])
        .await
        .fails(1);
    assert!(run.stderr.contains("expires_in_secs"), "{}", run.stderr);
    owner.run(&["share", "someone-else/file"]).await.fails(3);
    let run = owner.run(&["share"]).await;
    assert_eq!(run.code, 2, "no key is a usage error");

    // The audit log names the share, never its secret; no log holds a secret.
    let audit = std::fs::read_to_string(server.data_dir().join("audit.log")).unwrap();
    assert!(audit.contains("\"action\":\"open_shared\""), "{audit}");
    assert!(audit.contains(&format!("\"link\":\"{id}\"")), "{audit}");
    assert!(!audit.contains(secret));
    assert!(!server.logs().contains(secret));
}

#[tokio::test]
async fn against_aws_apis_the_official_client_reads_what_put_writes() {
    let moto = Moto::start().unwrap();
    let kms_key = moto.bucket_and_key("cli-bucket").await.unwrap();
    let server = Server::aws(&moto, "cli-bucket", &kms_key, ServerOptions::default()).unwrap();
    let user = User::new(&server.url, &server.admin_token);
    let peer = Peer::new(&moto);
    for size in [0, 17, 17 * MIB] {
        let bytes = content(size, 3);
        let key = user.put(&format!("aws-{size}"), &bytes, &[]).await;
        let out = user.path(&format!("out-{size}"));
        user.run(&["get", &key, "-o", out.to_str().unwrap()])
            .await
            .ok();
        assert_eq!(std::fs::read(&out).unwrap(), bytes);
        let official = peer
            .get(
                "cli-bucket",
                &key,
                &kms_key,
                &user.path(&format!("peer-{size}")),
            )
            .unwrap();
        assert_eq!(
            official, bytes,
            "the official S3EC decrypts the CLI's {size} bytes"
        );

        // …and `get` decrypts what the official client wrote.
        let theirs = format!("admin/official-{size}");
        let input = user.write(&format!("official-in-{size}"), &bytes);
        peer.put("cli-bucket", &theirs, &kms_key, &input, "v3", size > MIB)
            .unwrap();
        let out = user.path(&format!("official-out-{size}"));
        let run = user
            .run(&["get", &theirs, "-o", out.to_str().unwrap()])
            .await
            .ok();
        assert_eq!(
            std::fs::read(&out).unwrap(),
            bytes,
            "get decrypts the official client's {size} bytes"
        );
        assert!(run.stderr.contains("V3"), "{}", run.stderr);

        let key = user
            .put(&format!("aws-sse-{size}"), &bytes, &["--sse"])
            .await;
        let out = user.path(&format!("out-sse-{size}"));
        let run = user
            .run(&["get", &key, "-o", out.to_str().unwrap()])
            .await
            .ok();
        assert_eq!(std::fs::read(&out).unwrap(), bytes);
        assert!(run.stderr.contains("SSE-KMS"), "{}", run.stderr);
    }

    // A file that came in through a file request (multipart, client-side
    // encrypted by an outsider's CLI) is one the official client decrypts.
    let link = user
        .run(&["request", "create", "contracts"])
        .await
        .ok()
        .stdout;
    let outsider = User::outsider();
    let signed = content(17 * MIB + 3, 8);
    let file = outsider.write("signed.pdf", &signed);
    let run = outsider
        .run(&["put", file.to_str().unwrap(), "--to", link.trim()])
        .await
        .ok();
    let key = run.stdout.trim();
    assert_eq!(key, "admin/inbox/contracts/signed.pdf");
    let official = peer
        .get("cli-bucket", key, &kms_key, &user.path("peer-inbox"))
        .unwrap();
    assert!(
        official == signed,
        "the official S3EC decrypts an inbox file"
    );
}

/// File requests end to end: the owner asks, someone with no account sends
/// files (one of them multipart) with `put --to`, gets a receipt, cannot read,
/// list or replace anything, and is held to the limits; the owner gets the
/// files.
#[tokio::test]
async fn file_requests_collect_files_from_people_without_an_account() {
    let server = Server::embedded(ServerOptions {
        env: vec![
            ("SEALDROP_PART_SIZE".into(), (5 * MIB).to_string()),
            ("SEALDROP_MULTIPART_THRESHOLD".into(), (5 * MIB).to_string()),
        ],
        ..ServerOptions::default()
    })
    .unwrap();
    let owner = User::new(&server.url, &server.admin_token);
    let run = owner
        .run(&[
            "request",
            "create",
            "tax-2026",
            "--max-files",
            "3",
            "--max-bytes",
            "20M",
            "--note",
            "Scans of last year's receipts",
        ])
        .await
        .ok();
    let link = run.stdout.trim().to_owned();
    assert!(link.starts_with(&format!("{}/r/", server.url)), "{link}");
    assert!(
        run.stderr.contains("admin/inbox/tax-2026/"),
        "{}",
        run.stderr
    );
    let (_, secret) = link.split_once('#').unwrap();

    let outsider = User::outsider();
    let letter = content(1234, 21);
    let scans = content(11 * MIB + 7, 22);
    let letter_path = outsider.write("letter.txt", &letter);
    let scans_path = outsider.write("scans.zip", &scans);
    let run = outsider
        .run(&[
            "put",
            letter_path.to_str().unwrap(),
            scans_path.to_str().unwrap(),
            "--to",
            &link,
        ])
        .await
        .ok();
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        [
            "admin/inbox/tax-2026/letter.txt",
            "admin/inbox/tax-2026/scans.zip"
        ]
    );
    assert!(
        run.stderr.contains("Scans of last year's receipts"),
        "{}",
        run.stderr
    );
    let digest = |bytes: &[u8]| {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(bytes))
    };
    for (name, bytes) in [("letter.txt", &letter), ("scans.zip", &scans)] {
        let line = format!(
            "sent {name} ({} bytes) sha256 {}",
            bytes.len(),
            digest(bytes)
        );
        assert!(run.stderr.contains(&line), "receipt {line}: {}", run.stderr);
    }

    // The owner has them, client-side encrypted, byte for byte.
    let listing = owner.run(&["ls", "inbox/"]).await.ok().stdout;
    assert_eq!(listing.matches("CSE V3").count(), 2, "{listing}");
    for (name, bytes) in [("letter.txt", &letter), ("scans.zip", &scans)] {
        let out = owner.path(&format!("got-{name}"));
        owner
            .run(&[
                "get",
                &format!("admin/inbox/tax-2026/{name}"),
                "-o",
                out.to_str().unwrap(),
            ])
            .await
            .ok();
        assert!(std::fs::read(&out).unwrap() == *bytes, "{name}");
    }

    // The same name again never replaces the first: it arrives beside it.
    let again = outsider.write("letter.txt", b"a second letter");
    let run = outsider
        .run(&["put", again.to_str().unwrap(), "--to", &link])
        .await
        .ok();
    assert_eq!(run.stdout.trim(), "admin/inbox/tax-2026/letter (2).txt");
    let out = owner.path("first-letter");
    owner
        .run(&[
            "get",
            "admin/inbox/tax-2026/letter.txt",
            "-o",
            out.to_str().unwrap(),
        ])
        .await
        .ok();
    assert!(
        std::fs::read(&out).unwrap() == letter,
        "the first letter is intact"
    );

    // The link's credential reads, lists and deletes nothing, and cannot
    // write outside the request's folder or replace a file.
    let bearer = format!(
        "sdr_{}.{secret}",
        link.rsplit_once("/r/")
            .unwrap()
            .1
            .split('#')
            .next()
            .unwrap()
    );
    let snooper = User::new(&server.url, &bearer);
    snooper.run(&["ls"]).await.fails(3);
    snooper
        .run(&["get", "admin/inbox/tax-2026/letter.txt"])
        .await
        .fails(3);
    snooper
        .run(&["rm", "admin/inbox/tax-2026/letter.txt"])
        .await
        .fails(3);
    let elsewhere = snooper.write("x.txt", b"x");
    let run = snooper
        .run(&["put", elsewhere.to_str().unwrap(), "--name", "../../x.txt"])
        .await;
    assert_ne!(run.code, 0, "{}", run.stderr);
    snooper
        .run(&["put", elsewhere.to_str().unwrap(), "--overwrite"])
        .await
        .fails(3);

    // Three files sent: the fourth is refused, with the reason.
    let run = outsider
        .run(&["put", elsewhere.to_str().unwrap(), "--to", &link])
        .await
        .fails_last(1);
    assert!(run.stderr.contains("no more files"), "{}", run.stderr);

    // Bytes are limited too: a fresh request of 1 KiB refuses 2 KiB, and
    // storage would not take more than was signed anyway.
    let small = owner
        .run(&["request", "create", "small", "--max-bytes", "1K"])
        .await
        .ok()
        .stdout;
    let big = outsider.write("big.bin", &content(2048, 5));
    let run = outsider
        .run(&["put", big.to_str().unwrap(), "--to", small.trim()])
        .await
        .fails_last(1);
    assert!(
        run.stderr.contains("larger than the 1024 bytes"),
        "{}",
        run.stderr
    );

    // The owner's list counts what came in; closing ends the link (exit 3).
    let listed: serde_json::Value =
        serde_json::from_str(&owner.run(&["request", "ls", "--json"]).await.ok().stdout).unwrap();
    let tax = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "tax-2026")
        .unwrap();
    assert_eq!(tax["files"], 3);
    assert_eq!(tax["status"], "open");
    let id = tax["id"].as_str().unwrap();
    owner.run(&["request", "close", id]).await.ok();
    let run = outsider
        .run(&["put", elsewhere.to_str().unwrap(), "--to", &link])
        .await
        .fails_last(3);
    assert!(run.stderr.contains("closed"), "{}", run.stderr);
    // A wrong secret is an unknown link (exit 4).
    let wrong = format!("{}#{}", link.split_once('#').unwrap().0, "A".repeat(43));
    outsider
        .run(&["put", elsewhere.to_str().unwrap(), "--to", &wrong])
        .await
        .fails(4);

    let audit = std::fs::read_to_string(server.data_dir().join("audit.log")).unwrap();
    assert!(audit.contains(&format!("\"link\":\"{id}\"")), "{audit}");
    assert!(!audit.contains(secret));
    assert!(!server.logs().contains(secret));
}

/// Configuration a deployment cannot use stops `serve` with one line naming
/// the setting, before anything listens: never a panic.
#[test]
fn unusable_configuration_stops_serve_with_a_message() {
    for (name, value, says) in [
        ("SEALDROP_CORS_ORIGINS", "*", "SEALDROP_CORS_ORIGINS"),
        (
            "SEALDROP_CORS_ORIGINS",
            "files.example.com",
            "SEALDROP_CORS_ORIGINS",
        ),
        ("SEALDROP_PART_SIZE", "1000", "part_size"),
        (
            "SEALDROP_PRESIGN_TTL_SECS",
            "soon",
            "SEALDROP_PRESIGN_TTL_SECS",
        ),
    ] {
        let data = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(sealdrop_bin())
            .arg("serve")
            .env("SEALDROP_DATA_DIR", data.path())
            .env("SEALDROP_LISTEN", "127.0.0.1:0")
            .env(name, value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}={value} started");
        assert!(stderr.contains(says), "{name}={value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}={value}: {stderr}");
    }
}
