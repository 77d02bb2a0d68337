//! `cargo xtask bench [WHAT]`: the benchmarks whose results live in BENCHMARKS.md.
//!
//! - `envelope`: criterion, streaming envelope vs one-shot `aes-gcm` (native).
//! - `broker`: wrk against a release `sealdrop serve` (embedded default, local
//!   keyring): create-upload requests per second and latency percentiles.
//! - `browser`: the web app's benchmark page in headless Chromium (see web/bench).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::setup::Env;
use crate::{TempDir, run_cmd, step};

pub fn run(env: &Env, args: &[String]) -> Result<()> {
    let what = args.first().map(String::as_str).unwrap_or("all");
    let rest = args.get(1..).unwrap_or_default();
    match what {
        "envelope" => envelope(env),
        "broker" => broker(env, rest),
        "browser" => browser(env, rest),
        "all" => {
            envelope(env)?;
            broker(env, rest)?;
            browser(env, rest)
        }
        other => bail!("unknown benchmark {other:?} (envelope, broker, browser, all)"),
    }
}

fn envelope(env: &Env) -> Result<()> {
    step("bench: native envelope vs one-shot aes-gcm", || {
        run_cmd(
            env.cargo()
                .args(["bench", "-p", "sealdrop-envelope", "--bench", "stream"]),
        )
    })
}

/// A release `sealdrop serve` on free ports, killed on drop.
struct Serve {
    child: std::process::Child,
    url: String,
    token: String,
    _data: TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_release_serve(env: &Env, extra: &[(&str, &str)]) -> Result<Serve> {
    run_cmd(env.cargo().args(["build", "--release", "-p", "sealdrop"]))?;
    let data = TempDir::new("bench")?;
    let mut child = Command::new(env.target_dir.join("release/sealdrop"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&data.0)
        .env("SEALDROP_LOG", "warn")
        .envs(extra.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting sealdrop serve")?;
    // Read both streams on threads until the URL (stderr) and the login token
    // (stdout) have appeared; keep draining them so the server never blocks.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    for stream in [
        Box::new(child.stderr.take().context("stderr")?) as Box<dyn std::io::Read + Send>,
        Box::new(child.stdout.take().context("stdout")?),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut url, mut token) = (None, None);
    while url.is_none() || token.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            bail!("sealdrop serve printed no URL and login token within 60 s");
        };
        if let Some(u) = line.split(" serving ").nth(1) {
            url = Some(u.trim().to_owned());
        }
        if let Some(t) = line.split("#token=").nth(1) {
            token = Some(t.trim().to_owned());
        }
    }
    Ok(Serve {
        child,
        url: url.context("no serving URL printed")?,
        token: token.context("no login token printed")?,
        _data: data,
    })
}

fn broker(env: &Env, args: &[String]) -> Result<()> {
    let seconds: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(15);
    step("bench: broker create-upload throughput (wrk)", || {
        let serve = start_release_serve(
            env,
            &[
                ("SEALDROP_RATE_LIMIT_PER_MINUTE", "100000000"),
                ("SEALDROP_RATE_LIMIT_BURST", "100000000"),
                ("SEALDROP_API_RATE_LIMIT_PER_MINUTE", "100000000"),
                ("SEALDROP_API_RATE_LIMIT_BURST", "100000000"),
            ],
        )?;
        std::thread::sleep(Duration::from_millis(300));
        let script = env.root.join("xtask/bench/create-upload.lua");
        // Warm-up, then the measured run; wrk gets one thread, the broker the rest.
        for (label, secs) in [("warm-up", 3), ("measured", seconds)] {
            println!("wrk {label}: {secs} s, 1 thread, 32 connections");
            let output = Command::new("wrk")
                .args(["-t1", "-c32", &format!("-d{secs}s"), "--latency", "-s"])
                .arg(&script)
                .arg(format!("{}/api/v1/uploads", serve.url))
                .env("SEALDROP_TOKEN", &serve.token)
                .output()
                .context("running wrk (apt-get install wrk)")?;
            if !output.status.success() {
                bail!("wrk failed: {}", String::from_utf8_lossy(&output.stderr));
            }
            if label == "measured" {
                let text = String::from_utf8_lossy(&output.stdout);
                print!("{text}");
            }
        }
        Ok(())
    })
}

fn browser(env: &Env, args: &[String]) -> Result<()> {
    step("bench: browser crypto (headless Chromium)", || {
        let script = env.root.join("web/bench/run.sh");
        if !script.exists() {
            bail!("{} is missing", script.display());
        }
        run_cmd(
            Command::new("bash")
                .arg(script)
                .args(args)
                .env("CARGO_TARGET_DIR", &env.target_dir)
                .current_dir(&env.root),
        )
    })
}
