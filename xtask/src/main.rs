//! `cargo xtask`: the project's two commands, and the setup they share.
//!
//! - `cargo xtask run [-- ARGS]`  builds the web app and runs `sealdrop serve`.
//! - `cargo xtask test`           installs what is missing, then runs every check.
//! - `cargo xtask setup`          only installs what is missing.
//! - `cargo xtask bench [WHAT]`   runs the benchmarks of BENCHMARKS.md.
//!
//! Everything installed or built lives outside the clone, under
//! `$SEALDROP_CACHE` (default `~/.cache/sealdrop`), so repeated runs are fast and
//! a fresh clone starts from the same caches. Each step is idempotent.

mod bench;
mod setup;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use setup::Env;

fn main() {
    if let Err(err) = run() {
        eprintln!("xtask: error: {err:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = args
        .split_first()
        .map(|(c, r)| (c.as_str(), r))
        .unwrap_or(("help", &[]));
    match command {
        "setup" => Env::prepare().map(|_| ()),
        "test" => test(rest),
        "run" => run_app(rest),
        "bench" => {
            let env = Env::prepare()?;
            step("setup: wrk and node (benchmarks)", setup::bench_tools)?;
            bench::run(&env, rest)
        }
        "help" | "-h" | "--help" => {
            println!("{}", HELP.trim());
            Ok(())
        }
        other => bail!("unknown command {other:?}\n\n{}", HELP.trim()),
    }
}

const HELP: &str = r#"
cargo xtask <command>

  run [-- ARGS]   build the web app (dist/) and start `sealdrop serve ARGS`
  test [--quick]  install what is missing, then run every check: rustfmt, clippy,
                  unit/property/integration tests, the envelope's tests in headless
                  Chromium, a short fuzzing run, and the end-to-end tests
                  (--quick skips the wasm, fuzz and browser end-to-end steps)
  setup           only install what is missing (wasm target, Trunk, wasm-bindgen,
                  Chromium, the Python test peers)
  bench [WHAT]    run benchmarks (see BENCHMARKS.md)

Caches live in $SEALDROP_CACHE (default ~/.cache/sealdrop).
"#;

/// Runs a command, failing with its name if it fails.
pub(crate) fn run_cmd(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("could not start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

/// Prints a step banner and times it.
pub(crate) fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    println!("\n==> {name}");
    let started = Instant::now();
    let out = f().with_context(|| format!("step failed: {name}"))?;
    println!("<== {name} ({:.0?})", started.elapsed());
    Ok(out)
}

fn test(args: &[String]) -> Result<()> {
    let quick = args.iter().any(|a| a == "--quick");
    let env = Env::prepare()?;
    let root = env.root.clone();

    step("rustfmt", || {
        run_cmd(env.cargo().args(["fmt", "--all", "--", "--check"]))
    })?;
    step("clippy (native, all targets)", || {
        run_cmd(env.cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    step("clippy (wasm32: envelope and web app)", || {
        run_cmd(env.cargo().args([
            "clippy",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            "sealdrop-envelope",
            "-p",
            "sealdrop-transfer",
            "-p",
            "sealdrop-web",
            // Benchmarks are native-only (criterion).
            "--lib",
            "--tests",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    step(
        "clippy (wasm32: the benchmark build of the web app)",
        || {
            run_cmd(env.cargo().args([
                "clippy",
                "--target",
                "wasm32-unknown-unknown",
                "-p",
                "sealdrop-web",
                "--features",
                "bench",
                "--lib",
                "--",
                "-D",
                "warnings",
            ]))
        },
    )?;
    if !quick {
        step("web app build (Trunk)", || env.build_web(false))?;
        step("the product's web app carries no benchmark code", || {
            // The benchmark build has the markers, so this check can fail.
            env.build_web_bench()?;
            let bench = bench_markers(&root.join("dist-bench"))?;
            if bench.is_empty() {
                bail!("the benchmark build lacks its markers: the check below proves nothing");
            }
            let product = bench_markers(&root.join("dist"))?;
            if !product.is_empty() {
                bail!("dist/ contains benchmark code: {}", product.join(", "));
            }
            println!(
                "dist/: none of {BENCH_MARKERS:?}; dist-bench/: {}",
                bench.join(", ")
            );
            Ok(())
        })?;
    }
    step("build sealdrop", || {
        run_cmd(env.cargo().args(["build", "-p", "sealdrop"]))
    })?;
    // Written by the browser's 1 GiB test; a stale one must not be reported.
    let large = root.join("tests/artifacts/large-transfer.txt");
    let _ = std::fs::remove_file(&large);
    let mut tests = env.cargo();
    // Every failure in one run, not only the first test binary's.
    tests.args(["test", "--workspace", "--no-fail-fast"]);
    if quick {
        tests.env("SEALDROP_SKIP_BROWSER_TESTS", "1");
    }
    step(
        "tests (native: unit, property, integration, end-to-end)",
        || run_cmd(&mut tests),
    )?;
    if quick {
        return Ok(());
    }
    if let Ok(report) = std::fs::read_to_string(&large) {
        print!("{report}");
    }
    step(
        "envelope and web app tests in headless Chromium (wasm-bindgen-test)",
        || {
            // ChromeDriver leaves Chromium's scratch directories behind in TMPDIR;
            // give it one that goes away with this step.
            let scratch = TempDir::new("wasm-tests")?;
            run_cmd(
                env.cargo()
                    .args([
                        "test",
                        "--target",
                        "wasm32-unknown-unknown",
                        "-p",
                        "sealdrop-envelope",
                        "-p",
                        "sealdrop-web",
                    ])
                    .env("CHROMEDRIVER", &env.chromedriver)
                    .env("TMPDIR", &scratch.0),
            )
        },
    )?;
    step("fuzz the metadata parser (libFuzzer, 30 s)", || {
        fuzz(&env, &root, 30)
    })?;
    Ok(())
}

/// Strings only the benchmark page's code contains (its result global, its
/// scratch store's path, a measurement name).
const BENCH_MARKERS: [&str; 3] = ["sealdropBench", "bench-store/", "memory-upload-start"];

/// `file: marker` for every benchmark marker found in the files of `dir`.
fn bench_markers(dir: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path)?;
        for marker in BENCH_MARKERS {
            if bytes.windows(marker.len()).any(|w| w == marker.as_bytes()) {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                found.push(format!("{name}: {marker}"));
            }
        }
    }
    Ok(found)
}

/// Builds the libFuzzer target with the stable compiler's coverage flags (what
/// `cargo fuzz` passes) and runs it for `seconds` on the committed corpus.
fn fuzz(env: &Env, root: &Path, seconds: u32) -> Result<()> {
    let fuzz_dir = root.join("crates/envelope/fuzz");
    let target_dir = env.cache.join("fuzz-target");
    let flags = [
        "-Cpasses=sancov-module",
        "-Cllvm-args=-sanitizer-coverage-level=4",
        "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
        "-Cllvm-args=-sanitizer-coverage-pc-table",
        "-Cllvm-args=-sanitizer-coverage-trace-compares",
        "-Cdebug-assertions",
        "-Coverflow-checks",
        "--cfg=fuzzing",
    ]
    .join(" ");
    // An explicit --target keeps RUSTFLAGS (and so the instrumentation) away from
    // build scripts, which are not linked against libFuzzer.
    let host = host_triple()?;
    run_cmd(
        env.cargo()
            .current_dir(&fuzz_dir)
            .args(["build", "--release", "--bin", "metadata", "--target", &host])
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("RUSTFLAGS", flags),
    )?;
    let corpus_seed = fuzz_dir.join("corpus/metadata");
    let corpus = env.cache.join("fuzz-corpus/metadata");
    std::fs::create_dir_all(&corpus)?;
    let binary: PathBuf = target_dir.join(&host).join("release/metadata");
    run_cmd(
        Command::new(binary)
            .arg(&corpus)
            .arg(&corpus_seed)
            .arg(format!("-max_total_time={seconds}"))
            .arg("-max_len=4096")
            .arg("-print_final_stats=1"),
    )
}

fn host_triple() -> Result<String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV printed no host triple")
}

fn run_app(args: &[String]) -> Result<()> {
    let env = Env::prepare_for_run()?;
    step("web app build (Trunk, release)", || env.build_web(true))?;
    step("build sealdrop (release)", || {
        run_cmd(env.cargo().args(["build", "--release", "-p", "sealdrop"]))
    })?;
    let args: Vec<&String> = args.iter().skip_while(|a| *a == "--").collect();
    let binary = env.target_dir.join("release/sealdrop");
    println!(
        "\n==> sealdrop serve {}",
        args.iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let status = Command::new(&binary)
        .arg("serve")
        .arg("--web-root")
        .arg(env.root.join("dist"))
        .args(args)
        .status()
        .with_context(|| format!("could not start {}", binary.display()))?;
    if !status.success() {
        bail!("sealdrop exited with {status}");
    }
    Ok(())
}

/// A temporary directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("sealdrop-{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
