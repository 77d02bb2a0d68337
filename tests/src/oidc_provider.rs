//! A real OpenID provider per test: panva's certified `oidc-provider` from the
//! npm registry (`tests/oidc-provider/`, pinned by its lock file, installed by
//! `cargo xtask setup`), run by the machine's Node.js on a free port of
//! 127.0.0.1 and stopped when dropped. Its development login page takes any
//! login (the subject) and any password.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::{Reaper, free_port, workspace};

/// The client id the web app is registered under.
pub const CLIENT_ID: &str = "sealdrop-web";

/// A provider's address, chosen before it starts: the broker must name the
/// issuer at its own start, and the provider must know the broker's URL (the
/// redirect URI) at its start.
pub struct Issuer {
    port: u16,
}

impl Issuer {
    /// A free port for the provider.
    pub fn reserve() -> Issuer {
        Issuer { port: free_port() }
    }

    /// The issuer URL (`iss`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The broker settings that trust this provider (JWKS by discovery).
    pub fn broker_env(&self) -> Vec<(String, String)> {
        vec![
            ("SEALDROP_OIDC_ISSUER".into(), self.url()),
            ("SEALDROP_OIDC_AUDIENCE".into(), CLIENT_ID.into()),
        ]
    }

    /// Starts the provider with one public client whose redirect (and
    /// post-logout redirect) URI is `redirect_uri`.
    pub fn start(self, redirect_uri: &str) -> Result<OidcProvider> {
        let dir = workspace().join("tests/oidc-provider");
        if !dir.join("node_modules/oidc-provider").exists() {
            bail!(
                "oidc-provider is not installed in {} (cargo xtask setup runs npm ci there)",
                dir.display()
            );
        }
        let mut child = Command::new("node")
            .current_dir(&dir)
            .args([
                "provider.mjs",
                &self.port.to_string(),
                CLIENT_ID,
                redirect_uri,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting node (Node.js is needed for the OpenID provider)")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let reaper = Reaper(child);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("ready ") {
                    let _ = tx.send(());
                }
                eprintln!("[oidc-provider] {line}");
            }
        });
        rx.recv_timeout(Duration::from_secs(30))
            .context("oidc-provider did not start within 30 s")?;
        Ok(OidcProvider {
            issuer: self.url(),
            _child: reaper,
        })
    }
}

/// A running provider.
pub struct OidcProvider {
    /// Its issuer URL.
    pub issuer: String,
    _child: Reaper,
}
