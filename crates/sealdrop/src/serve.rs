//! `sealdrop serve`: the broker (API + web app), and with no AWS configuration
//! the embedded local keyring and S3-compatible store, in one process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sealdrop_server::Deployment;

use crate::ConfigArgs;

/// Run sealdrop: the web app and key broker, plus the embedded keyring and
/// store when no bucket/KMS key is configured.
///
/// On first start with an empty data directory it creates the local keyring,
/// the bucket and an `admin` user, and prints a login URL once (in AWS mode,
/// with PostgreSQL or OIDC only with --bootstrap-admin).
#[derive(clap::Args, Debug)]
#[command(after_help = SERVE_HELP)]
pub struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Address for the API and web app.
    #[arg(long, env = "SEALDROP_LISTEN", value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Address for the embedded S3-compatible store.
    #[arg(long, env = "SEALDROP_STORE_LISTEN", value_name = "ADDR")]
    store_listen: Option<SocketAddr>,
    /// The built web app to serve (default: ./dist if it exists).
    #[arg(long, env = "SEALDROP_WEB_ROOT", value_name = "DIR")]
    web_root: Option<PathBuf>,
    /// The URL users open, when it differs from http://<listen> (reverse proxy, TLS).
    #[arg(long, env = "SEALDROP_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// When there are no users, create `admin` and print its login link, also
    /// outside the embedded default (AWS mode, PostgreSQL, OIDC).
    #[arg(long)]
    bootstrap_admin: bool,
}

const SERVE_HELP: &str = "\
AWS mode: set SEALDROP_BUCKET and SEALDROP_KMS_KEY_ID (id, ARN or alias/...); credentials,
region and endpoints come from the standard AWS chain (AWS_PROFILE, AWS_REGION,
AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_KMS, ...). Without them, serve runs the embedded
default in the data directory. All settings: docs/configuration.md.

Logging: SEALDROP_LOG (e.g. info, debug, sealdrop=debug). Audit log: <data-dir>/audit.log.";

pub async fn run(args: ServeArgs) -> Result<()> {
    init_logging();
    let mut config = args.config.load()?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(listen) = args.store_listen {
        config.store.listen = listen;
    }
    if let Some(root) = args.web_root {
        config.web_root = Some(root);
    }
    if let Some(url) = args.public_url {
        config.public_url = Some(url);
    }
    config.bootstrap_admin |= args.bootstrap_admin;
    if config.web_root.is_none() && Path::new("dist/index.html").exists() {
        config.web_root = Some(PathBuf::from("dist"));
    }
    let web_root = config.web_root.clone();

    let mut deployment = Deployment::start(config).await?;
    let public_url = deployment.public_url();
    eprintln!(
        "sealdrop {} serving {public_url}",
        env!("CARGO_PKG_VERSION")
    );
    eprintln!("  storage and keys: {}", deployment.description());
    eprintln!("  users and tokens: {}", deployment.state().db.location());
    match &web_root {
        Some(root) => eprintln!("  web app: {}", root.display()),
        None => eprintln!("  web app: not built (run `cargo xtask run`, or pass --web-root)"),
    }
    if let Some(path) = deployment.new_keyring() {
        eprintln!(
            "  created a new local keyring at {} — back it up: without it, encrypted objects \
             cannot be decrypted",
            path.display()
        );
    }
    if let Some(token) = deployment.take_first_login() {
        eprintln!("\nOpen this link to sign in as admin (shown once):\n");
        // The login URL on stdout alone, so scripts can capture it.
        println!("{public_url}/#token={}", token.as_str());
        eprintln!("\nAdd users with `sealdrop admin user add NAME`.");
    }

    deployment
        .serve(web_root.as_deref(), shutdown())
        .await
        .context("serving")
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SEALDROP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,s3s=off,aws_config=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .try_init();
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    eprintln!("sealdrop: shutting down");
}
