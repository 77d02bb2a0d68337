//! `sealdrop-store-server`: a debugging/test server for the embedded store.
//!
//! Not the production entry point (the `sealdrop` binary embeds the store with the local
//! keyring). Configured by environment variables:
//!
//! * `SEALDROP_STORE_ROOT` (required): data directory.
//! * `SEALDROP_STORE_ADDR` (default `127.0.0.1:0`): listen address. The bound address is
//!   printed on stdout as `listening on ADDR`.
//! * `SEALDROP_STORE_ACCESS_KEY` / `SEALDROP_STORE_SECRET_KEY` (required): one credential pair.
//! * `SEALDROP_STORE_REGION` (default `us-east-1`).
//! * `SEALDROP_STORE_BUCKETS`: comma-separated buckets to create if missing.
//! * `SEALDROP_STORE_KEK` (required): 64 hex characters, the AES-256 key wrapping SSE data keys
//!   (key id `local`). A development stand-in for the local keyring.

use std::io::Write as _;
use std::sync::Arc;

use sealdrop_store::{StaticKeys, Store, StoreConfig};
use zeroize::Zeroizing;

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is required"))
}

async fn run() -> Result<(), String> {
    let root = env("SEALDROP_STORE_ROOT")?;
    let addr = std::env::var("SEALDROP_STORE_ADDR").unwrap_or_else(|_| "127.0.0.1:0".to_owned());
    let kek_hex = Zeroizing::new(env("SEALDROP_STORE_KEK")?);
    let kek_bytes = Zeroizing::new(
        hex::decode(kek_hex.as_str()).map_err(|_| "SEALDROP_STORE_KEK must be hex".to_owned())?,
    );
    let kek: [u8; 32] = kek_bytes
        .as_slice()
        .try_into()
        .map_err(|_| "SEALDROP_STORE_KEK must be 32 bytes".to_owned())?;
    let provider = StaticKeys::new(vec![("local".to_owned(), Zeroizing::new(kek))])
        .ok_or("no key-encryption key")?;
    let provider = Arc::new(provider);
    let mut config = StoreConfig::new(root, provider);
    config.credentials = vec![(
        env("SEALDROP_STORE_ACCESS_KEY")?,
        env("SEALDROP_STORE_SECRET_KEY")?,
    )];
    if let Ok(region) = std::env::var("SEALDROP_STORE_REGION") {
        config.region = region;
    }
    let store = Store::open(config).map_err(|e| e.to_string())?;
    if let Ok(buckets) = std::env::var("SEALDROP_STORE_BUCKETS") {
        for b in buckets.split(',').filter(|b| !b.is_empty()) {
            store
                .create_bucket_if_missing(b)
                .map_err(|e| e.to_string())?;
        }
    }
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| e.to_string())?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {local}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    store.serve(listener).await.map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    if let Err(e) = run().await {
        eprintln!("sealdrop-store-server: {e}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
