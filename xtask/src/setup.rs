//! Installing what a fresh Debian machine lacks, idempotently, outside the clone.
//!
//! Versions are pinned here and in `tests/interop/requirements.txt`; see
//! TOOLCHAIN notes in the README for why (Trunk 0.22 needs a newer rustc; the
//! wasm-bindgen CLI must equal the crate version in Cargo.lock exactly).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{run_cmd, step};

/// Trunk's last release that builds with rustc 1.95.
const TRUNK_VERSION: &str = "0.21.14";

/// Paths and tools every step uses.
pub struct Env {
    /// The workspace root (the clone).
    pub root: PathBuf,
    /// `$SEALDROP_CACHE`, default `~/.cache/sealdrop`.
    pub cache: PathBuf,
    /// Cargo's target directory, under the cache unless `CARGO_TARGET_DIR` is set.
    pub target_dir: PathBuf,
    /// Where `cargo install` puts Trunk and wasm-bindgen.
    pub tools_bin: PathBuf,
    /// The Python virtualenv with moto and the official S3 Encryption Client.
    pub venv: PathBuf,
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

impl Env {
    fn locate() -> Result<Env> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask lives inside the workspace")?
            .to_path_buf();
        let cache = match std::env::var_os("SEALDROP_CACHE") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?)
                .join(".cache/sealdrop"),
        };
        let target_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| cache.join("target"));
        std::fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
        Ok(Env {
            tools_bin: cache.join("tools/bin"),
            venv: cache.join("venv"),
            chromium: PathBuf::from("/usr/bin/chromium"),
            chromedriver: PathBuf::from("/usr/bin/chromedriver"),
            root,
            cache,
            target_dir,
        })
    }

    /// Everything the tests need.
    pub fn prepare() -> Result<Env> {
        let env = Self::locate()?;
        step("setup: Rust wasm target, Trunk, wasm-bindgen", || {
            env.web_toolchain()
        })?;
        step("setup: Chromium and ChromeDriver", || env.chromium())?;
        step("setup: PostgreSQL server binaries", postgresql)?;
        step("setup: OpenID provider (oidc-provider from npm)", || {
            oidc_provider(&env.root)
        })?;
        step(
            "setup: Python venv (moto, official S3 Encryption Client)",
            || env.python(),
        )?;
        Ok(env)
    }

    /// What running the app needs: the web toolchain only.
    pub fn prepare_for_run() -> Result<Env> {
        let env = Self::locate()?;
        step("setup: Rust wasm target, Trunk, wasm-bindgen", || {
            env.web_toolchain()
        })?;
        Ok(env)
    }

    /// A `cargo` command with the shared target directory, the installed tools
    /// first on PATH, and the locations the test harness reads.
    pub fn cargo(&self) -> Command {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(&self.root)
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .env("PATH", self.path_with_tools())
            .env("SEALDROP_VENV", &self.venv)
            .env("SEALDROP_CHROMIUM", &self.chromium)
            .env("CHROMEDRIVER", &self.chromedriver)
            .env("SEALDROP_WEB_DIST", self.root.join("dist"))
            .env("SEALDROP_BIN", self.target_dir.join("debug/sealdrop"));
        cmd
    }

    fn path_with_tools(&self) -> std::ffi::OsString {
        let mut paths = vec![self.tools_bin.clone()];
        if let Some(path) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&path));
        }
        std::env::join_paths(paths).unwrap_or_default()
    }

    /// Builds `web/` into `dist/` with Trunk (always optimized: the app's
    /// crypto runs in wasm and is measured).
    pub fn build_web(&self, _for_run: bool) -> Result<()> {
        run_cmd(
            Command::new(self.tools_bin.join("trunk"))
                .current_dir(&self.root)
                .args(["build", "--release"])
                .env("CARGO_TARGET_DIR", &self.target_dir)
                .env("PATH", self.path_with_tools()),
        )
    }

    /// The benchmark page (`web/bench.html`: the app with the `bench` feature)
    /// into `dist-bench/`.
    pub fn build_web_bench(&self) -> Result<()> {
        run_cmd(
            Command::new(self.tools_bin.join("trunk"))
                .current_dir(&self.root)
                .args([
                    "build",
                    "web/bench.html",
                    "--release",
                    "--dist",
                    "dist-bench",
                ])
                .env("CARGO_TARGET_DIR", &self.target_dir)
                .env("PATH", self.path_with_tools()),
        )
    }

    fn web_toolchain(&self) -> Result<()> {
        run_cmd(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
        let bindgen = wasm_bindgen_version(&self.root)?;
        self.cargo_install("trunk", TRUNK_VERSION, "trunk", &["--locked"])?;
        // `--locked` fails for this version (its lockfile wants a webpki-roots the
        // registry no longer has), so this one resolves fresh.
        self.cargo_install("wasm-bindgen-cli", &bindgen, "wasm-bindgen", &[])?;
        Ok(())
    }

    fn cargo_install(
        &self,
        package: &str,
        version: &str,
        binary: &str,
        extra: &[&str],
    ) -> Result<()> {
        let installed = Command::new(self.tools_bin.join(binary))
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if installed.split_whitespace().any(|word| word == version) {
            println!("{package} {version} already installed");
            return Ok(());
        }
        println!("installing {package} {version} (a few minutes on 2 cores)");
        let root = self.tools_bin.parent().context("tools dir")?;
        run_cmd(
            Command::new("cargo")
                .args(["install", package, "--version", version, "--root"])
                .arg(root)
                .args(extra)
                .env("CARGO_TARGET_DIR", self.cache.join("install-target")),
        )
    }

    fn chromium(&self) -> Result<()> {
        if self.chromium.exists() && self.chromedriver.exists() {
            println!("chromium and chromedriver present");
            return Ok(());
        }
        apt_install(&["chromium", "chromium-driver"])?;
        if !self.chromedriver.exists() {
            bail!("chromedriver is still missing after apt-get install");
        }
        Ok(())
    }

    fn python(&self) -> Result<()> {
        let requirements = self.root.join("tests/interop/requirements.txt");
        let wanted = std::fs::read_to_string(&requirements)
            .with_context(|| format!("reading {}", requirements.display()))?;
        let stamp = self.venv.join("sealdrop-requirements.txt");
        if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
            println!("venv up to date: {}", self.venv.display());
            return Ok(());
        }
        if !self.venv.join("bin/python").exists() {
            run_cmd(Command::new("python3").args(["-m", "venv"]).arg(&self.venv))?;
        }
        run_cmd(
            Command::new(self.venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(&requirements),
        )?;
        std::fs::write(&stamp, wanted)?;
        Ok(())
    }
}

/// The `wasm-bindgen` version in Cargo.lock: the CLI must match it exactly.
fn wasm_bindgen_version(root: &Path) -> Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\""
            && let Some(version) = lines
                .next()
                .and_then(|l| l.strip_prefix("version = \""))
                .and_then(|l| l.strip_suffix('"'))
        {
            return Ok(version.to_owned());
        }
    }
    bail!("wasm-bindgen is not in Cargo.lock")
}

/// The Debian packages a benchmark needs that a test run does not.
pub fn bench_tools() -> Result<()> {
    if which("wrk") && which("node") {
        println!("wrk and node present");
        return Ok(());
    }
    apt_install(&["wrk", "nodejs"])
}

/// Debian's PostgreSQL server binaries: the state tests start a private
/// cluster with them (`tests/src/postgres.rs`).
fn postgresql() -> Result<()> {
    let has_initdb = || {
        std::fs::read_dir("/usr/lib/postgresql")
            .map(|versions| {
                versions
                    .flatten()
                    .any(|v| v.path().join("bin/initdb").exists())
            })
            .unwrap_or(false)
    };
    if has_initdb() {
        println!("postgresql server binaries present");
        return Ok(());
    }
    apt_install(&["postgresql"])?;
    if !has_initdb() {
        bail!("initdb is still missing after apt-get install postgresql");
    }
    Ok(())
}

/// The sign-in tests' OpenID provider: `npm ci` of `tests/oidc-provider`
/// (versions pinned by its lock file), when its lock file is newer than what
/// is installed.
fn oidc_provider(root: &Path) -> Result<()> {
    if !which("node") || !which("npm") {
        apt_install(&["nodejs", "npm"])?;
    }
    let dir = root.join("tests/oidc-provider");
    let modified = |path: PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let installed = modified(dir.join("node_modules/.package-lock.json"));
    if installed.is_some() && installed >= modified(dir.join("package-lock.json")) {
        println!("oidc-provider installed");
        return Ok(());
    }
    run_cmd(
        Command::new("npm")
            .current_dir(&dir)
            .args(["ci", "--no-audit", "--no-fund"]),
    )
}

/// `apt-get install`, refreshing the package lists once if the first attempt fails
/// (a fresh machine often has none).
fn apt_install(packages: &[&str]) -> Result<()> {
    let install = || {
        run_cmd(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends"])
                .args(packages)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    if install().is_err() {
        run_cmd(Command::new("apt-get").arg("update"))?;
        install()?;
    }
    Ok(())
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}
