//! The web app end to end: headless Debian Chromium driven through ChromeDriver
//! against `sealdrop serve` — the embedded default and moto — using the app's
//! stable `data-testid` hooks. Screenshots of the main states are saved under
//! `tests/artifacts/screenshots/<deployment>/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use fantoccini::Locator;
use sealdrop_tests::browser::{Browser, BrowserMemory};
use sealdrop_tests::{Bucket, Moto, Peer, Server, ServerOptions, content, workspace};
use serde_json::{Value, json};

const MIB: usize = 1024 * 1024;
const WAIT: Duration = Duration::from_secs(90);

fn web_root() -> PathBuf {
    let dist = std::env::var_os("SEALDROP_WEB_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("dist"));
    assert!(
        dist.join("index.html").exists(),
        "the web app is not built in {} (cargo xtask test builds it; or run `trunk build --release`)",
        dist.display()
    );
    dist
}

/// A server that also serves the built web app.
fn serving_the_app() -> ServerOptions {
    ServerOptions {
        web_root: Some(web_root()),
        ..ServerOptions::default()
    }
}

fn skip() -> bool {
    // `cargo xtask test --quick` skips the browser; CI never does.
    std::env::var_os("SEALDROP_SKIP_BROWSER_TESTS").is_some()
}

/// The app in one browser, signed in or not.
struct App {
    browser: Browser,
    url: String,
    shots: PathBuf,
}

impl App {
    async fn open(server: &Server, deployment: &str) -> App {
        let shots = workspace()
            .join("tests/artifacts/screenshots")
            .join(deployment);
        std::fs::create_dir_all(&shots).unwrap();
        App {
            browser: Browser::start().await.unwrap(),
            url: server.url.clone(),
            shots,
        }
    }

    async fn shot(&self, name: &str) {
        self.browser
            .screenshot(&self.shots.join(format!("{name}.png")))
            .await
            .unwrap();
    }

    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.browser.client().execute(script, args).await.unwrap()
    }

    /// An attribute of the first element matching `css`, if it exists.
    async fn attr(&self, css: &str, attr: &str) -> Option<String> {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
            vec![json!(css), json!(attr)],
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    async fn text(&self, css: &str) -> String {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            vec![json!(css)],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    async fn click(&self, css: &str) {
        self.browser
            .wait_for(css, WAIT)
            .await
            .unwrap()
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Waits until `css`'s `attr` is `want`; fails early on `failed` unless that
    /// is what is wanted, with the element's text as the reason.
    async fn wait_attr(&self, css: &str, attr: &str, want: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.attr(css, attr).await;
            if value.as_deref() == Some(want) {
                return Ok(());
            }
            if value.as_deref() == Some("failed") {
                bail!("{css} failed: {}", self.text(css).await);
            }
            if Instant::now() > deadline {
                bail!("{css}: {attr} is {value:?} after {timeout:?}, wanted {want}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn sign_in_with_link(&self, token: &str) {
        self.browser
            .client()
            .goto(&format!("{}/#token={token}", self.url))
            .await
            .unwrap();
        self.browser
            .wait_for(".account:not([hidden]) [data-testid=sign-out]", WAIT)
            .await
            .unwrap();
        let url = self.browser.client().current_url().await.unwrap();
        assert!(
            !url.as_str().contains("token"),
            "the token left the address bar: {url}"
        );
    }

    async fn sign_in_with_field(&self, token: &str) {
        let field = self
            .browser
            .wait_for("[data-testid=token-input]", WAIT)
            .await
            .unwrap();
        field.send_keys(token).await.unwrap();
        self.click("[data-testid=sign-in]").await;
        self.browser
            .wait_for(".account:not([hidden]) [data-testid=sign-out]", WAIT)
            .await
            .unwrap();
    }

    async fn choose(&self, files: &[PathBuf]) {
        let input = self
            .browser
            .client()
            .find(Locator::Css("[data-testid=file-input]"))
            .await
            .unwrap();
        let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        input.send_keys(&paths.join("\n")).await.unwrap();
    }

    fn upload_row(name: &str) -> String {
        format!("[data-testid=upload-row][data-name=\"{name}\"]")
    }

    fn object_row(key: &str) -> String {
        format!("[data-testid=object-row][data-key=\"{key}\"]")
    }

    async fn wait_uploaded(&self, name: &str, timeout: Duration) {
        self.wait_attr(&Self::upload_row(name), "data-state", "done", timeout)
            .await
            .unwrap();
    }

    /// Uploads `data` as `name` (written into `dir` first) through the file
    /// input, downloads `<user>/<name>` and checks the saved file is `data`.
    async fn round_trip(&self, dir: &Path, user: &str, name: &str, data: &[u8]) {
        self.choose(&[write(dir, name, data)]).await;
        self.wait_uploaded(name, WAIT).await;
        self.download(&format!("{user}/{name}"), WAIT)
            .await
            .unwrap();
        let saved = self.browser.wait_for_download(name, WAIT).await.unwrap();
        assert_eq!(std::fs::read(saved).unwrap(), data, "downloaded {name}");
    }

    /// Clicks Download on an object row and waits for the row's outcome.
    async fn download(&self, key: &str, timeout: Duration) -> Result<()> {
        let row = Self::object_row(key);
        self.wait_attr(&row, "data-key", key, WAIT).await?;
        self.click(&format!("{row} [data-testid=download]")).await;
        self.wait_attr(&row, "data-download", "done", timeout).await
    }
}

/// Writes a large file quickly: 1 MiB of test content, each MiB stamped with its
/// index so that no two MiB are alike.
fn write_large(dir: &Path, name: &str, mib: u64, seed: u64) -> PathBuf {
    use std::io::Write as _;
    let path = dir.join(name);
    let block = content(MIB, seed);
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..mib {
        let mut b = block.clone();
        b[..8].copy_from_slice(&i.to_le_bytes());
        file.write_all(&b).unwrap();
    }
    file.flush().unwrap();
    path
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

/// Checks that storage holds S3EC V3 ciphertext of `plaintext` under `key`.
async fn assert_ciphertext(bucket: &Bucket, key: &str, plaintext: &[u8]) {
    let head = bucket.head(key).await;
    let metadata = head.metadata().unwrap();
    assert_eq!(metadata["x-amz-c"], "115", "{key}: V3 metadata");
    assert!(
        ["x-amz-3", "x-amz-d", "x-amz-i", "x-amz-w"]
            .iter()
            .all(|k| metadata.contains_key(*k))
    );
    let stored = bucket.body(key).await;
    assert_eq!(
        stored.len(),
        plaintext.len() + 16,
        "{key}: ciphertext and tag"
    );
    if plaintext.len() >= 32 {
        assert!(
            !stored.windows(32).any(|w| w == &plaintext[..32]),
            "{key}: plaintext in storage"
        );
    }
}

/// The suite both deployments run.
async fn app_end_to_end(
    server: &Server,
    bucket: &Bucket,
    deployment: &str,
    peer: Option<(&Peer, &str)>,
) {
    let work = tempfile::tempdir().unwrap();
    let app = App::open(server, deployment).await;
    app.browser.client().goto(&app.url).await.unwrap();
    app.browser
        .wait_for("[data-testid=token-input]", WAIT)
        .await
        .unwrap();
    app.shot("1-sign-in").await;
    app.sign_in_with_link(&server.admin_token).await;
    // Record Content Security Policy violations from here on.
    app.js(
        "window.cspViolations = []; document.addEventListener('securitypolicyviolation', \
         e => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));",
        vec![],
    )
    .await;

    // Client-side encryption (the default): several files through the real input.
    let files: Vec<(String, Vec<u8>)> = [0, 17, MIB, 23 * MIB]
        .into_iter()
        .map(|size| (format!("cse-{size}.bin"), content(size, size as u64 + 1)))
        .collect();
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|(n, d)| write(work.path(), n, d))
        .collect();
    app.choose(&paths).await;
    for (name, _) in &files {
        app.wait_uploaded(name, WAIT).await;
    }
    app.shot("2-uploaded").await;
    for (name, data) in &files {
        let key = format!("admin/{name}");
        assert_ciphertext(bucket, &key, data).await;
        app.wait_attr(&App::object_row(&key), "data-mode", "cse-v3", WAIT)
            .await
            .unwrap();
        if let Some((peer, kms_key)) = peer {
            let theirs = peer
                .get(
                    &bucket.name,
                    &key,
                    kms_key,
                    &work.path().join(format!("peer-{name}")),
                )
                .unwrap();
            assert_eq!(
                &theirs, data,
                "the official S3EC decrypts the browser's {name}"
            );
        }
    }

    // Downloads decrypt in the browser into byte-identical files.
    for (name, data) in &files {
        app.download(&format!("admin/{name}"), WAIT).await.unwrap();
        let saved = app.browser.wait_for_download(name, WAIT).await.unwrap();
        assert_eq!(&std::fs::read(saved).unwrap(), data, "downloaded {name}");
    }

    // Server-side encryption: storage says aws:kms, the UI shows the header.
    app.click("[data-testid=mode-sse]").await;
    let report = content(300_000, 99);
    app.choose(&[write(work.path(), "report.pdf", &report)])
        .await;
    app.wait_uploaded("report.pdf", WAIT).await;
    let head = bucket.head("admin/report.pdf").await;
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("aws:kms")
    );
    app.wait_attr(
        &App::object_row("admin/report.pdf"),
        "data-mode",
        "sse-kms",
        WAIT,
    )
    .await
    .unwrap();
    app.download("admin/report.pdf", WAIT).await.unwrap();
    let saved = app
        .browser
        .wait_for_download("report.pdf", WAIT)
        .await
        .unwrap();
    assert_eq!(std::fs::read(saved).unwrap(), report);
    app.click(&format!(
        "{} [data-testid=details]",
        App::object_row("admin/report.pdf")
    ))
    .await;
    let header = app
        .browser
        .wait_for("[data-testid=sse-header]", WAIT)
        .await
        .unwrap();
    assert!(
        header.text().await.unwrap().contains("aws:kms"),
        "details show the SSE header"
    );
    app.shot("3-details-sse").await;
    app.click("[data-testid=close-details]").await;
    app.click(&format!(
        "{} [data-testid=details]",
        App::object_row("admin/cse-1048576.bin")
    ))
    .await;
    let context = app
        .browser
        .wait_for("[data-testid=encryption-context]", WAIT)
        .await
        .unwrap();
    assert!(
        context
            .text()
            .await
            .unwrap()
            .contains("admin/cse-1048576.bin")
    );
    app.shot("4-details-cse").await;
    app.click("[data-testid=close-details]").await;
    app.shot("5-list").await;

    // Tampering: one ciphertext byte, and separately the wrapped key (x-amz-3):
    // a clear integrity error and no file in the download folder.
    let before = app.browser.downloaded();
    bucket
        .tamper("admin/cse-1048576.bin", |_, body| body[12345] ^= 1)
        .await;
    bucket
        .tamper("admin/cse-17.bin", |metadata, _| {
            let value = metadata.get_mut("x-amz-3").unwrap();
            let flipped = if value.starts_with('A') { "B" } else { "A" };
            value.replace_range(0..1, flipped);
        })
        .await;
    for (key, name) in [
        ("admin/cse-1048576.bin", "ciphertext"),
        ("admin/cse-17.bin", "x-amz-3"),
    ] {
        let outcome = app.download(key, WAIT).await;
        assert!(outcome.is_err(), "tampered {name}: the download must fail");
        let error = app.text("[data-testid=error]").await;
        assert!(
            error.contains("Integrity check failed") || error.contains("integrity"),
            "tampered {name}: {error:?}"
        );
        if name == "ciphertext" {
            assert!(error.contains("nothing was saved"), "{error}");
            app.shot("6-integrity-error").await;
        }
        app.click("[data-testid=dismiss-error]").await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        app.browser.downloaded(),
        before,
        "a tampered object leaves no file, complete or partial"
    );

    // Cancel a multipart upload mid-way: no object and no pending upload remain.
    app.click("[data-testid=mode-cse]").await;
    let big = write_large(work.path(), "cancelled.bin", 512, 5);
    app.choose(&[big]).await;
    let row = App::upload_row("cancelled.bin");
    // Progress shows bytes, percentage, speed and time left (speed needs 300 ms of
    // samples); wait for all of them while the upload is still early enough to cancel.
    let meta = format!("{row} .upload-meta");
    let deadline = Instant::now() + WAIT;
    loop {
        let percent = app
            .js(
                "const p = document.querySelector(arguments[0] + ' progress'); return p ? p.value : 0;",
                vec![json!(row)],
            )
            .await
            .as_f64()
            .unwrap_or(0.0);
        let text = app.text(&meta).await;
        if percent >= 1.0 && text.contains("/s") && text.contains(" left") {
            assert!(text.contains(" of ") && text.contains('%'), "{text}");
            break;
        }
        assert!(
            percent < 50.0 && Instant::now() < deadline,
            "no speed and time left by {percent}%: {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The row is below the finished uploads: bring it into the picture.
    app.js(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});",
        vec![json!(row)],
    )
    .await;
    app.shot("7-upload-in-progress").await;
    app.click(&format!("{row} [data-testid=cancel]")).await;
    app.wait_attr(&row, "data-state", "failed", WAIT)
        .await
        .unwrap();
    assert_eq!(
        app.text(&format!("{row} [data-testid=upload-status]"))
            .await,
        "Cancelled"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while bucket.pending_uploads("admin/cancelled.bin").await > 0 {
        assert!(
            Instant::now() < deadline,
            "the multipart upload was not aborted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        !bucket.exists("admin/cancelled.bin").await,
        "a cancelled upload leaves no object"
    );

    // Pause and resume: the object is still byte-identical.
    let paused = content(200 * MIB, 6);
    app.choose(&[write(work.path(), "paused.bin", &paused)])
        .await;
    let row = App::upload_row("paused.bin");
    app.wait_attr(&row, "data-state", "working", WAIT)
        .await
        .unwrap();
    app.click(&format!("{row} [data-testid=pause]")).await;
    app.wait_attr(
        &format!("{row} [data-testid=resume]"),
        "data-testid",
        "resume",
        WAIT,
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.click(&format!("{row} [data-testid=resume]")).await;
    app.wait_uploaded("paused.bin", WAIT).await;
    app.download("admin/paused.bin", WAIT).await.unwrap();
    let saved = app
        .browser
        .wait_for_download("paused.bin", WAIT)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(saved).unwrap(),
        paused,
        "paused and resumed upload"
    );

    // An existing name: 409 in the row, with Overwrite.
    app.choose(&[write(work.path(), "cse-17.bin", b"replacement")])
        .await;
    let failed = format!("{}[data-state=\"failed\"]", App::upload_row("cse-17.bin"));
    app.browser.wait_for(&failed, WAIT).await.unwrap();
    assert!(
        app.text(&format!("{failed} [data-testid=upload-error]"))
            .await
            .contains("already exists")
    );
    app.click(&format!("{failed} [data-testid=overwrite]"))
        .await;
    // (The first upload's row of the same name is also "done": watch storage.)
    let deadline = Instant::now() + WAIT;
    while bucket.head("admin/cse-17.bin").await.content_length() != Some(11 + 16) {
        assert!(
            Instant::now() < deadline,
            "overwrite did not replace the object"
        );
        assert!(
            app.attr(&failed, "data-state").await.is_none(),
            "the overwrite failed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Delete, after confirmation.
    app.click(&format!(
        "{} [data-testid=delete]",
        App::object_row("admin/paused.bin")
    ))
    .await;
    app.click("[data-testid=confirm-delete]").await;
    let deadline = Instant::now() + WAIT;
    while bucket.exists("admin/paused.bin").await {
        assert!(Instant::now() < deadline, "the object was not deleted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let violations = app.js("return window.cspViolations;", vec![]).await;
    assert_eq!(violations, json!([]), "Content Security Policy violations");

    // Another user sees nothing of admin's, and cannot open it.
    let bob = server.add_user("bob").unwrap();
    app.click("[data-testid=sign-out]").await;
    app.sign_in_with_field(&bob).await;
    app.browser
        .wait_for("[data-testid=objects-empty]", WAIT)
        .await
        .unwrap();
    let rows = app
        .js(
            "return document.querySelectorAll('[data-testid=object-row]').length;",
            vec![],
        )
        .await;
    assert_eq!(rows, json!(0), "bob's list is empty");
    let open = reqwest::Client::new()
        .post(format!("{}/api/v1/objects/open", server.url))
        .bearer_auth(&bob)
        .json(&json!({"key": "admin/report.pdf"}))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), 403);
    app.shot("8-other-user").await;

    // A revoked session goes back to sign-in with a message.
    server.admin(&["user", "revoke", "bob"]).unwrap();
    app.click("[data-testid=refresh]").await;
    app.browser
        .wait_for("[data-testid=token-input]", WAIT)
        .await
        .unwrap();
    let message = app.text("[data-testid=error]").await;
    assert!(!message.is_empty(), "the sign-in page explains why");
    app.browser.close().await.unwrap();
}

#[tokio::test]
async fn web_app_on_the_embedded_default() {
    if skip() {
        return;
    }
    let server = Server::embedded(serving_the_app()).unwrap();
    let bucket = server.store_bucket().await.unwrap();
    app_end_to_end(&server, &bucket, "embedded", None).await;
}

/// Sharing in the browser, with two separate profiles: the owner (signed in)
/// makes a link limited to one download; someone with no session opens it,
/// gets identical bytes, and is then told the limit was reached.
#[tokio::test]
async fn a_share_link_reaches_a_browser_without_an_account() {
    if skip() {
        return;
    }
    let server = Server::embedded(serving_the_app()).unwrap();
    share_in_two_profiles(&server, &server, "admin", &server.admin_token, "sharing").await;
}

/// The same with two replicas on PostgreSQL and moto: the owner shares
/// through one, the recipient opens the link on the other.
#[tokio::test]
async fn a_share_link_works_across_replicas_on_postgres_and_moto() {
    if skip() {
        return;
    }
    let pg = sealdrop_tests::postgres::Postgres::start().unwrap();
    let moto = Moto::start().unwrap();
    let kms_key = moto.bucket_and_key("shared").await.unwrap();
    let replica = || {
        let mut options = serving_the_app();
        options.env = vec![("SEALDROP_DATABASE_URL".into(), pg.url())];
        options.no_first_login = true;
        Server::aws(&moto, "shared", &kms_key, options).unwrap()
    };
    let (a, b) = (replica(), replica());
    a.admin(&["cors", "set", "--origin", &a.url, "--origin", &b.url])
        .unwrap();
    let alice = a.add_user("alice").unwrap();
    share_in_two_profiles(&a, &b, "alice", &alice, "sharing-replicas").await;
}

/// Owner `user` (signed in with `token`) shares on `owner_side`; a second
/// profile opens the link on `recipient_side`.
async fn share_in_two_profiles(
    owner_side: &Server,
    recipient_side: &Server,
    user: &str,
    token: &str,
    deployment: &str,
) {
    let server = owner_side;
    let work = tempfile::tempdir().unwrap();
    let owner = App::open(server, deployment).await;
    owner.sign_in_with_link(token).await;
    let contract = content(2 * MIB + 11, 41);
    owner
        .choose(&[write(work.path(), "contract.pdf", &contract)])
        .await;
    owner.wait_uploaded("contract.pdf", WAIT).await;
    let row = App::object_row(&format!("{user}/contract.pdf"));
    owner
        .wait_attr(&row, "data-mode", "cse-v3", WAIT)
        .await
        .unwrap();
    // A second file, encrypted by storage (SSE-KMS): the recipient gets it
    // through a presigned GET.
    owner.click("[data-testid=mode-sse]").await;
    let annex = content(70_000, 42);
    owner
        .choose(&[write(work.path(), "annex.txt", &annex)])
        .await;
    owner.wait_uploaded("annex.txt", WAIT).await;
    let annex_row = App::object_row(&format!("{user}/annex.txt"));
    owner
        .wait_attr(&annex_row, "data-mode", "sse-kms", WAIT)
        .await
        .unwrap();

    // Both ticked, then "Share selected".
    owner.click(&format!("{row} [data-testid=select]")).await;
    owner
        .click(&format!("{annex_row} [data-testid=select]"))
        .await;
    owner.click("[data-testid=share-selected]").await;
    owner
        .browser
        .wait_for("[data-testid=share-dialog][open]", WAIT)
        .await
        .unwrap();
    let field = |css: &'static str| owner.browser.wait_for(css, WAIT);
    field("[data-testid=share-max-downloads]")
        .await
        .unwrap()
        .send_keys("1")
        .await
        .unwrap();
    field("[data-testid=share-note-input]")
        .await
        .unwrap()
        .send_keys("Signed copy, as agreed")
        .await
        .unwrap();
    owner.shot("1-share-options").await;
    owner.click("[data-testid=create-share]").await;
    owner
        .browser
        .wait_until(
            "!document.querySelector('[data-testid=share-result]').hidden",
            WAIT,
        )
        .await
        .unwrap();
    let link = owner
        .js(
            "return document.querySelector('[data-testid=share-link]').value;",
            vec![],
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert!(link.starts_with(&format!("{}/s/", server.url)), "{link}");
    let (_, secret) = link.split_once('#').unwrap();
    assert_eq!(secret.len(), 43);
    owner.shot("2-share-link").await;
    owner.click("[data-testid=close-share]").await;
    owner
        .wait_attr("[data-testid=share-row]", "data-status", "active", WAIT)
        .await
        .unwrap();

    // Another profile, no session, a phone-sized window.
    let recipient = App::open(recipient_side, deployment).await;
    recipient
        .browser
        .client()
        .set_window_size(390, 844)
        .await
        .unwrap();
    let link = link.replacen(&server.url, &recipient_side.url, 1);
    recipient.browser.client().goto(&link).await.unwrap();
    let shared = |name: &str, part: &str| {
        format!("[data-testid=shared-file][data-name=\"{name}\"] [data-testid={part}]")
    };
    recipient
        .browser
        .wait_for(&shared("annex.txt", "download-shared"), WAIT)
        .await
        .unwrap();
    let summary = recipient.text("[data-testid=share-summary]").await;
    assert!(
        summary.contains(&format!("{user} shared 2 files")),
        "{summary}"
    );
    assert_eq!(
        recipient.text("[data-testid=share-note]").await,
        "Signed copy, as agreed"
    );
    assert!(
        recipient
            .text(&shared("contract.pdf", "shared-status"))
            .await
            .contains("1 download left")
    );
    recipient.shot("3-recipient-page").await;
    recipient
        .click(&shared("contract.pdf", "download-shared"))
        .await;
    let saved = recipient
        .browser
        .wait_for_download("contract.pdf", WAIT)
        .await
        .unwrap();
    assert!(std::fs::read(saved).unwrap() == contract, "identical bytes");
    // The page asks again: that file is used up, the other is not.
    recipient
        .browser
        .wait_until(
            &format!(
                "(document.querySelector('{}') || {{}}).innerText === 'Download limit reached'",
                shared("contract.pdf", "shared-status").replace('\'', "\\'")
            ),
            WAIT,
        )
        .await
        .unwrap();
    recipient
        .click(&shared("annex.txt", "download-shared"))
        .await;
    let saved = recipient
        .browser
        .wait_for_download("annex.txt", WAIT)
        .await
        .unwrap();
    assert!(
        std::fs::read(saved).unwrap() == annex,
        "identical SSE bytes"
    );
    // The page asks again and learns the link is used up.
    recipient
        .browser
        .wait_until(
            "document.querySelector('[data-testid=share-ended]').innerText.includes('download limit')",
            WAIT,
        )
        .await
        .unwrap();
    recipient.shot("4-limit-reached").await;
    let no_secret_in_storage = recipient
        .js(
            "return JSON.stringify(Object.assign({}, localStorage, sessionStorage));",
            vec![],
        )
        .await;
    assert!(!no_secret_in_storage.to_string().contains(secret));
    for side in [owner_side, recipient_side] {
        assert!(!side.logs().contains(secret), "the secret is never logged");
    }
    recipient.browser.close().await.unwrap();
    owner.browser.close().await.unwrap();
}

/// File requests in the browser, with two profiles: the owner makes a
/// request link in "Request files"; someone with no session opens it on a
/// phone-sized window, sends two files (one multipart) with per-file progress
/// and gets a receipt with their SHA-256; the owner downloads both.
#[tokio::test]
async fn a_file_request_collects_files_from_a_browser_without_an_account() {
    if skip() {
        return;
    }
    let server = Server::embedded(serving_the_app()).unwrap();
    request_in_two_profiles(
        &server,
        &server,
        "admin",
        &server.admin_token,
        "file-requests",
    )
    .await;
}

/// The same with two replicas on PostgreSQL and moto: the owner asks through
/// one, the files are sent through the other.
#[tokio::test]
async fn a_file_request_works_across_replicas_on_postgres_and_moto() {
    if skip() {
        return;
    }
    let pg = sealdrop_tests::postgres::Postgres::start().unwrap();
    let moto = Moto::start().unwrap();
    let kms_key = moto.bucket_and_key("inbox").await.unwrap();
    let replica = || {
        let mut options = serving_the_app();
        options.env = vec![("SEALDROP_DATABASE_URL".into(), pg.url())];
        options.no_first_login = true;
        Server::aws(&moto, "inbox", &kms_key, options).unwrap()
    };
    let (a, b) = (replica(), replica());
    a.admin(&["cors", "set", "--origin", &a.url, "--origin", &b.url])
        .unwrap();
    let alice = a.add_user("alice").unwrap();
    request_in_two_profiles(&a, &b, "alice", &alice, "file-requests-replicas").await;
}

/// Owner `user` (signed in with `token`) asks for files on `owner_side`; a
/// second profile sends them through `sender_side`.
async fn request_in_two_profiles(
    owner_side: &Server,
    sender_side: &Server,
    user: &str,
    token: &str,
    deployment: &str,
) {
    let server = owner_side;
    let work = tempfile::tempdir().unwrap();
    let owner = App::open(server, deployment).await;
    owner.sign_in_with_link(token).await;
    owner
        .browser
        .wait_for("[data-testid=request-name]", WAIT)
        .await
        .unwrap()
        .send_keys("contracts")
        .await
        .unwrap();
    owner
        .browser
        .wait_for("[data-testid=request-note]", WAIT)
        .await
        .unwrap()
        .send_keys("The signed contract and the scans, please")
        .await
        .unwrap();
    owner.click("[data-testid=create-request]").await;
    owner
        .browser
        .wait_until(
            "!document.querySelector('[data-testid=request-result]').hidden",
            WAIT,
        )
        .await
        .unwrap();
    let link = owner
        .js(
            "return document.querySelector('[data-testid=request-link]').value;",
            vec![],
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert!(link.starts_with(&format!("{}/r/", server.url)), "{link}");
    let (_, secret) = link.split_once('#').unwrap();
    owner
        .wait_attr("[data-testid=request-row]", "data-status", "open", WAIT)
        .await
        .unwrap();
    owner
        .js(
            "document.querySelector('[data-testid=requests]').scrollIntoView();",
            vec![],
        )
        .await;
    owner.shot("1-request-link").await;

    let sender = App::open(sender_side, deployment).await;
    sender
        .browser
        .client()
        .set_window_size(390, 844)
        .await
        .unwrap();
    let link = link.replacen(&server.url, &sender_side.url, 1);
    sender.browser.client().goto(&link).await.unwrap();
    sender
        .browser
        .wait_for("[data-testid=file-input]", WAIT)
        .await
        .unwrap();
    let summary = sender.text("[data-testid=request-summary]").await;
    assert!(
        summary.contains(&format!("{user} asks you for files (contracts)")),
        "{summary}"
    );
    assert_eq!(
        sender.text("[data-testid=request-note]").await,
        "The signed contract and the scans, please"
    );
    sender.shot("2-uploader-page").await;
    let contract = content(40_000, 51);
    let scans = content(17 * MIB + 5, 52);
    sender
        .choose(&[
            write(work.path(), "contract.pdf", &contract),
            write(work.path(), "scans.zip", &scans),
        ])
        .await;
    sender.wait_uploaded("contract.pdf", WAIT).await;
    sender.wait_uploaded("scans.zip", WAIT).await;
    let digest = |bytes: &[u8]| {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(bytes))
    };
    for (name, bytes) in [("contract.pdf", &contract), ("scans.zip", &scans)] {
        let row = format!("[data-testid=receipt-row][data-name=\"{name}\"]");
        sender
            .wait_attr(&row, "data-sha256", &digest(bytes), WAIT)
            .await
            .unwrap();
    }
    sender
        .js(
            "document.querySelector('[data-testid=receipt]').scrollIntoView();",
            vec![],
        )
        .await;
    sender.shot("3-receipt").await;

    // The owner has both, client-side encrypted; the request counts them.
    owner.click("[data-testid=refresh]").await;
    for (name, bytes) in [("contract.pdf", &contract), ("scans.zip", &scans)] {
        let key = format!("{user}/inbox/contracts/{name}");
        owner
            .wait_attr(&App::object_row(&key), "data-mode", "cse-v3", WAIT)
            .await
            .unwrap();
        assert_eq!(
            owner
                .attr(&App::object_row(&key), "data-new")
                .await
                .as_deref(),
            Some("true"),
            "{name} is marked as new in the owner's list"
        );
        owner.download(&key, WAIT).await.unwrap();
        let saved = owner.browser.wait_for_download(name, WAIT).await.unwrap();
        assert!(std::fs::read(saved).unwrap() == *bytes, "{name}");
    }
    for side in [owner_side, sender_side] {
        assert!(!side.logs().contains(secret), "the secret is never logged");
    }
    sender.browser.close().await.unwrap();
    owner.browser.close().await.unwrap();
}

#[tokio::test]
async fn web_app_against_moto_with_the_official_client() {
    if skip() {
        return;
    }
    let moto = Moto::start().unwrap();
    let kms_key = moto.bucket_and_key("web").await.unwrap();
    let server = Server::aws(&moto, "web", &kms_key, serving_the_app()).unwrap();
    // The app and storage are on different origins: the bucket needs CORS.
    server
        .admin(&["cors", "set", "--origin", &server.url])
        .unwrap();
    let bucket = moto.bucket("web").await;
    let peer = Peer::new(&moto);
    app_end_to_end(&server, &bucket, "moto", Some((&peer, &kms_key))).await;
}

/// A 1 GiB upload and download complete with the browser's memory bounded; the
/// peak is printed and saved in `tests/artifacts/large-transfer.txt`
/// (BENCHMARKS.md has the 2 GiB measurement and the target).
#[tokio::test]
async fn one_gib_round_trip_with_bounded_memory() {
    if skip() {
        return;
    }
    let server = Server::embedded(serving_the_app()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let path = write_large(work.path(), "large.bin", 1024, 1);
    let app = App::open(&server, "large").await;
    app.sign_in_with_link(&server.admin_token).await;
    let probe = app.browser.memory_probe();
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut peak = BrowserMemory::default();
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(probe.memory());
                std::thread::sleep(Duration::from_millis(200));
            }
            peak
        })
    };
    let started = Instant::now();
    app.choose(std::slice::from_ref(&path)).await;
    app.wait_uploaded("large.bin", Duration::from_secs(600))
        .await;
    let upload = started.elapsed();
    let started = Instant::now();
    app.download("admin/large.bin", Duration::from_secs(600))
        .await
        .unwrap();
    let saved = app
        .browser
        .wait_for_download("large.bin", Duration::from_secs(120))
        .await
        .unwrap();
    let download = started.elapsed();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    assert_eq!(std::fs::metadata(&saved).unwrap().len(), 1024 * MIB as u64);
    let same = std::fs::read(&saved).unwrap() == std::fs::read(&path).unwrap();
    assert!(same, "the 1 GiB download equals the file");
    let report = format!(
        "1 GiB CSE in the browser: upload {upload:.1?}, download {download:.1?}; peak memory: \
         renderers {} MiB, all Chromium processes {} MiB\n",
        peak.renderers_mib, peak.total_mib
    );
    print!("{report}");
    // Kept with the screenshots; `cargo xtask test` prints it at the end.
    let artifacts = workspace().join("tests/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("large-transfer.txt"), &report).unwrap();
    assert!(peak.renderers_mib > 0, "memory was measured");
    assert!(
        peak.renderers_mib < 1024,
        "memory must not grow with the file: {} MiB for a 1 GiB file",
        peak.renderers_mib
    );
    app.browser.close().await.unwrap();
}

/// The static `dist/` hosted on another origin than the broker: `config.json`
/// names the broker, the broker allows the site's origin (CORS), and so does
/// the embedded store. Sign in with the token field, upload, download.
#[tokio::test]
async fn web_app_hosted_on_another_origin() {
    if skip() {
        return;
    }
    // The site: a copy of dist/ whose config.json points at the broker.
    let site = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(web_root()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), site.path().join(entry.file_name())).unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site_url = format!("http://{}", listener.local_addr().unwrap());
    let server = Server::embedded(ServerOptions {
        env: vec![("SEALDROP_CORS_ORIGINS".into(), site_url.clone())],
        ..ServerOptions::default()
    })
    .unwrap();
    std::fs::write(
        site.path().join("config.json"),
        json!({"api_base": server.url}).to_string(),
    )
    .unwrap();
    let root = site.path().to_path_buf();
    tokio::spawn(async move {
        let app = axum::Router::new().fallback_service(tower_http::services::ServeDir::new(root));
        axum::serve(listener, app).await.unwrap();
    });

    let work = tempfile::tempdir().unwrap();
    let app = App {
        browser: Browser::start().await.unwrap(),
        url: site_url.clone(),
        shots: workspace().join("tests/artifacts/screenshots/elsewhere"),
    };
    app.browser.client().goto(&site_url).await.unwrap();
    app.sign_in_with_field(&server.admin_token).await;
    app.round_trip(
        work.path(),
        "admin",
        "remote.bin",
        &content(3 * MIB + 1, 11),
    )
    .await;
    app.browser.close().await.unwrap();
}

impl App {
    /// The name the header shows for who is signed in.
    async fn signed_in_as(&self) -> String {
        self.browser
            .wait_for(".account:not([hidden]) [data-testid=sign-out]", WAIT)
            .await
            .unwrap();
        self.text(".account strong").await
    }

    /// Goes through the provider's own login and consent pages as `login`.
    async fn log_in_at_provider(&self, login: &str) {
        self.click("[data-testid=sso-sign-in]").await;
        let field = self
            .browser
            .wait_for("input[name=login]", WAIT)
            .await
            .unwrap();
        field.send_keys(login).await.unwrap();
        self.browser
            .wait_for("input[name=password]", WAIT)
            .await
            .unwrap()
            .send_keys("any password")
            .await
            .unwrap();
        self.click("button[type=submit]").await;
        // Consent (a first sign-in of this account to this client).
        self.browser
            .wait_for("input[name=prompt][value=consent]", WAIT)
            .await
            .unwrap();
        self.click("button[type=submit]").await;
    }
}

#[tokio::test]
async fn single_sign_on_with_a_certified_provider() {
    if skip() {
        return;
    }
    use sealdrop_tests::oidc_provider::Issuer;
    let issuer = Issuer::reserve();
    let server = Server::embedded(ServerOptions {
        env: issuer.broker_env(),
        no_first_login: true,
        ..serving_the_app()
    })
    .unwrap();
    let provider = issuer.start(&format!("{}/", server.url)).unwrap();

    // The page isolates itself from windows it opens, and may talk to the
    // provider (discovery, token endpoint) and nothing else new.
    let page = reqwest::get(&server.url).await.unwrap();
    let header = |name: &str| {
        page.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("cross-origin-opener-policy"), "same-origin");
    assert!(
        header("content-security-policy").contains(&provider.issuer),
        "{}",
        header("content-security-policy")
    );

    // An operator links alice's identity (subject "alice-at-idp") to alice.
    // She has no token: single sign-on is her only way in.
    let added = server
        .admin(&["user", "add", "alice", "--no-token"])
        .unwrap();
    assert_eq!(added, "", "no token is printed");
    server
        .admin(&["user", "link", "alice", "--subject", "alice-at-idp"])
        .unwrap();
    let bob = server.add_user("bob").unwrap();

    let work = tempfile::tempdir().unwrap();
    let app = App::open(&server, "sso").await;
    app.browser.client().goto(&app.url).await.unwrap();
    app.browser
        .wait_for(".signin-sso:not([hidden]) [data-testid=sso-sign-in]", WAIT)
        .await
        .unwrap();
    let button = app.text("[data-testid=sso-sign-in]").await;
    let host = provider.issuer.trim_start_matches("http://");
    assert_eq!(button, format!("Sign in with {host}"));
    app.shot("1-sign-in-offers-sso").await;
    app.log_in_at_provider("alice-at-idp").await;
    assert_eq!(app.signed_in_as().await, "alice");
    let url = app.browser.client().current_url().await.unwrap();
    assert!(
        !url.as_str().contains("code=") && !url.as_str().contains("state="),
        "the one-time code left the address bar: {url}"
    );
    let kept = app
        .js("return JSON.stringify(Object.keys(localStorage));", vec![])
        .await;
    assert_eq!(kept, json!("[]"), "nothing in persistent storage");
    app.shot("2-signed-in-with-sso").await;

    // An upload and download under the SSO session.
    app.round_trip(work.path(), "alice", "sso.bin", &content(2 * MIB + 5, 21))
        .await;

    // A login link while signed in asks first: declining keeps alice.
    let client = app.browser.client();
    client
        .goto(&format!("{}/#token={bob}", app.url))
        .await
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let question = loop {
        match client.get_alert_text().await {
            Ok(text) => break text,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("no prompt before switching accounts: {e}"),
        }
    };
    assert!(question.contains("login link"), "{question}");
    client.dismiss_alert().await.unwrap();
    assert_eq!(app.signed_in_as().await, "alice");

    // Signing out ends the provider's session too (its logout page asks).
    app.click("[data-testid=sign-out]").await;
    app.click("button[name=logout][value=yes], button[autofocus]")
        .await;
    app.browser
        .wait_for("[data-testid=sso-sign-in]", WAIT)
        .await
        .unwrap();

    // An identity nobody linked is refused, and the page says why.
    app.log_in_at_provider("mallory").await;
    app.browser
        .wait_for("[data-testid=sso-sign-in]", WAIT)
        .await
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let mut message = String::new();
    while message.is_empty() && Instant::now() < deadline {
        message = app.text("[data-testid=error]").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(message.contains("not linked"), "{message}");
    app.shot("3-unlinked-identity").await;
    app.browser.close().await.unwrap();
}
