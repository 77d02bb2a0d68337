//! Headless Debian Chromium driven through ChromeDriver (W3C WebDriver, via
//! `fantoccini`): a fresh profile per browser, downloads into a directory the
//! test owns, screenshots, and the memory of every Chromium process it started.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use serde_json::json;

use crate::{Reaper, free_port, wait_for_port};

fn chromedriver() -> PathBuf {
    std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"))
}

fn chromium() -> PathBuf {
    std::env::var_os("SEALDROP_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Memory of a browser, in MiB of proportional set size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BrowserMemory {
    /// Every process of the browser (browser, GPU, utility, renderers).
    pub total_mib: u64,
    /// Renderer processes only (pages and their dedicated workers).
    pub renderers_mib: u64,
}

impl BrowserMemory {
    /// The larger of each field.
    pub fn max(self, other: BrowserMemory) -> BrowserMemory {
        BrowserMemory {
            total_mib: self.total_mib.max(other.total_mib),
            renderers_mib: self.renderers_mib.max(other.renderers_mib),
        }
    }
}

/// Measures the memory of one browser's processes.
#[derive(Clone, Debug)]
pub struct MemoryProbe {
    marker: String,
}

impl MemoryProbe {
    /// Memory of this browser's processes (the one whose command line names
    /// this session's profile directory, and all its descendants), as
    /// proportional set size so pages shared between processes count once.
    pub fn memory(&self) -> BrowserMemory {
        let marker = &self.marker;
        // (pid, parent, PSS KiB, names the profile, is a renderer)
        let mut processes = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let read =
                |file: &str| std::fs::read_to_string(entry.path().join(file)).unwrap_or_default();
            let field = |text: &str, name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            let cmdline = read("cmdline");
            processes.push((
                pid,
                field(&read("status"), "PPid:") as u32,
                field(&read("smaps_rollup"), "Pss:"),
                cmdline.contains(marker.as_str()),
                cmdline.contains("--type=renderer"),
            ));
        }
        let mut members: Vec<u32> = processes.iter().filter(|p| p.3).map(|p| p.0).collect();
        loop {
            let before = members.len();
            for p in &processes {
                if members.contains(&p.1) && !members.contains(&p.0) {
                    members.push(p.0);
                }
            }
            if members.len() == before {
                break;
            }
        }
        let ours = || processes.iter().filter(|p| members.contains(&p.0));
        BrowserMemory {
            total_mib: ours().map(|p| p.2).sum::<u64>() / 1024,
            renderers_mib: ours().filter(|p| p.4).map(|p| p.2).sum::<u64>() / 1024,
        }
    }
}

/// A headless Chromium session.
pub struct Browser {
    client: Client,
    profile: tempfile::TempDir,
    downloads: tempfile::TempDir,
    _driver: Reaper,
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium with a fresh profile. The
    /// flags are what Chromium needs as root on this machine, plus no network
    /// chatter (the app must make no third-party requests anyway).
    pub async fn start() -> Result<Browser> {
        let port = free_port();
        let driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", chromedriver().display()))?;
        let driver = Reaper(driver);
        wait_for_port(port, "chromedriver")?;
        let profile = tempfile::tempdir()?;
        let downloads = tempfile::tempdir()?;
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.path(),
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                    "safebrowsing.enabled": false,
                },
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            bail!("capabilities must be an object");
        };
        // ChromeDriver is plain HTTP on loopback: no TLS stack needed.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .context("creating a ChromeDriver session")?;
        Ok(Browser {
            client,
            profile,
            downloads,
            _driver: driver,
        })
    }

    /// The WebDriver client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Where downloads land.
    pub fn downloads(&self) -> &Path {
        self.downloads.path()
    }

    /// Files in the download directory, including partial ones (`.crdownload`).
    pub fn downloaded(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.downloads.path())
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files
    }

    /// Waits until a finished download named `name` is present (no partial file).
    pub async fn wait_for_download(&self, name: &str, timeout: Duration) -> Result<PathBuf> {
        let deadline = Instant::now() + timeout;
        let path = self.downloads.path().join(name);
        while Instant::now() < deadline {
            let partial = self
                .downloaded()
                .iter()
                .any(|p| p.extension().is_some_and(|e| e == "crdownload"));
            if path.exists() && !partial {
                return Ok(path);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "no download {name} after {timeout:?}; present: {:?}",
            self.downloaded()
        )
    }

    /// Waits for an element matching `css`.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element> {
        self.client
            .wait()
            .at_most(timeout)
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("waiting for {css}"))
    }

    /// Waits until `condition` (a JavaScript expression) is true.
    pub async fn wait_until(&self, condition: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let script = format!("return Boolean({condition});");
        loop {
            let value = self.client.execute(&script, vec![]).await?;
            if value.as_bool() == Some(true) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("timed out after {timeout:?} waiting for {condition}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG screenshot.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.client.screenshot().await?)?;
        Ok(())
    }

    /// A handle that measures this browser's memory from any thread.
    pub fn memory_probe(&self) -> MemoryProbe {
        MemoryProbe {
            marker: self.profile.path().to_string_lossy().into_owned(),
        }
    }

    /// Ends the session.
    pub async fn close(self) -> Result<()> {
        self.client.close().await?;
        Ok(())
    }
}
