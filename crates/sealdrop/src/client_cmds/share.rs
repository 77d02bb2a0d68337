//! `sealdrop share` (make, list and revoke share links) and `sealdrop get
//! LINK` (fetch a share link's files with no account).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use indicatif::HumanBytes;
use sealdrop_client::api::{CreateShareRequest, RevokeShareRequest, ShareSummary};
use sealdrop_client::{Client, ShareLink};
use sealdrop_state::parse_lifetime;

use super::terminal::Bar;
use super::{BrokerArgs, EXIT_CODES, GetArgs, format, init_logging, until_interrupted};

/// Share objects through a link that needs no account, or list and revoke
/// your links.
///
/// Prints the link on stdout: https://<server>/s/<id>#<secret>. Whoever holds
/// it can download the files until it expires, its download limit is reached
/// or you revoke it; the part after # is the secret, which sealdrop shows only
/// now (the server keeps a hash). A file replaced or deleted after it was
/// shared is no longer served: share it again.
#[derive(clap::Args, Debug)]
#[command(
    after_help = EXIT_CODES,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct ShareArgs {
    #[command(subcommand)]
    action: Option<ShareAction>,
    /// The objects to share (`<user>/<name>`, as `ls` lists them).
    #[arg(value_name = "KEY", required = true)]
    keys: Vec<String>,
    /// How long the link works, e.g. 12h, 7d, 2w (default 7d; the server
    /// sets a maximum).
    #[arg(long, value_name = "DURATION", value_parser = parse_lifetime)]
    expires: Option<Duration>,
    /// How many times each file may be downloaded (default: no limit).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_downloads: Option<u32>,
    /// A note shown to the recipient.
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
    #[command(flatten)]
    broker: BrokerArgs,
}

#[derive(clap::Subcommand, Debug)]
enum ShareAction {
    /// List your share links: status, expiry, downloads per file.
    Ls {
        /// Print the links (without secrets) as JSON on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        broker: BrokerArgs,
    },
    /// Revoke a share link: it stops working at once.
    Rm {
        /// The link's id (the part after /s/, as `share ls` lists it).
        #[arg(value_name = "ID")]
        id: String,
        #[command(flatten)]
        broker: BrokerArgs,
    },
}

pub async fn share(args: ShareArgs) -> Result<()> {
    init_logging();
    match args.action {
        Some(ShareAction::Ls { json, broker }) => list(&broker.connect()?, json).await,
        Some(ShareAction::Rm { id, broker }) => {
            broker
                .connect()?
                .revoke_share(&RevokeShareRequest { id: id.clone() })
                .await?;
            eprintln!("revoked share {id}");
            Ok(())
        }
        None => {
            let client = args.broker.connect()?;
            let request = CreateShareRequest {
                keys: args.keys,
                expires_in_secs: args.expires.map(|d| d.as_secs()),
                max_downloads: args.max_downloads,
                note: args.note,
            };
            let created = client.create_share(&request).await?;
            let base = args.broker.url.as_deref().unwrap_or_default();
            let link = ShareLink::new(base, &created.share.id, &created.secret);
            println!("{}", *link.to_url());
            eprintln!("{}", describe(&created.share));
            Ok(())
        }
    }
}

async fn list(client: &Client, json: bool) -> Result<()> {
    let shares = client.list_shares().await?.shares;
    if json {
        println!("{}", serde_json::to_string_pretty(&shares)?);
        return Ok(());
    }
    println!(
        "{:<22}  {:<9}  {:<20}  FILES (DOWNLOADS)",
        "ID", "STATUS", "EXPIRES"
    );
    for share in &shares {
        let limit = share
            .max_downloads
            .map_or_else(String::new, |max| format!("/{max}"));
        let files: Vec<String> = share
            .objects
            .iter()
            .map(|o| {
                let gone = if o.available { "" } else { ", gone" };
                format!("{} ({}{limit}{gone})", o.key, o.downloads)
            })
            .collect();
        println!(
            "{:<22}  {:<9}  {:<20}  {}",
            share.id,
            status_label(share),
            share.expires_at,
            files.join(", ")
        );
    }
    Ok(())
}

fn status_label(share: &ShareSummary) -> String {
    serde_json::to_value(share.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// What `share` tells on stderr after printing the link.
fn describe(share: &ShareSummary) -> String {
    let files = share.objects.len();
    let limit = share.max_downloads.map_or_else(
        || "no download limit".to_owned(),
        |max| format!("{max} download(s) per file"),
    );
    format!(
        "shared {files} file(s) until {}, {limit}; revoke with: sealdrop share rm {}",
        share.expires_at, share.id
    )
}

/// Whether `get`'s argument is a share link rather than an object key (keys
/// start with a user name, never with a URL scheme).
pub fn looks_like_link(target: &str) -> bool {
    let target = target.trim_start();
    target.starts_with("https://") || target.starts_with("http://")
}

/// `sealdrop get LINK`: every available file of the share, each verified
/// before it is published, each one download of the link.
pub async fn get_shared(args: GetArgs) -> Result<()> {
    let link = ShareLink::parse(&args.key)?;
    let client = Client::anonymous(link.base())?;
    let share = client.describe_share(&link).await?;
    let available: Vec<_> = share
        .files
        .iter()
        .filter(|file| file.downloads_left != Some(0))
        .collect();
    if available.is_empty() {
        bail!("every file of this link has reached its download limit");
    }
    if let Some(note) = &share.note {
        eprintln!("note from {}: {note}", share.sender);
    }
    let into_dir = available.len() > 1 || args.output.as_deref().is_some_and(Path::is_dir);
    let mut reports = Vec::new();
    for file in available {
        let path = match (&args.output, into_dir) {
            (Some(dir), true) => dir.join(safe_name(&file.name)?),
            (Some(path), false) => path.clone(),
            (None, _) => PathBuf::from(safe_name(&file.name)?),
        };
        let bar = Bar::new(&file.name);
        let download = client.download_shared(&link, file.index, &path, args.force, bar.clone());
        let result = until_interrupted(download).await;
        bar.clear();
        let report = result?.map_err(|err| match err {
            sealdrop_client::Error::DestinationExists(path) => {
                anyhow::anyhow!("{} exists; use --force to replace it", path.display())
            }
            err => anyhow::Error::from(err).context(format!("downloading {}", file.name)),
        })?;
        if !args.json {
            eprintln!(
                "{} ({}) from {}\n{}",
                file.name,
                HumanBytes(file.size),
                share.sender,
                format::download_summary(&report)
            );
        }
        reports.push(report);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    Ok(())
}

/// A shared file's name as a local file name: the sender chose it, so it
/// must not climb out of the directory or be empty.
fn safe_name(name: &str) -> Result<&str> {
    Some(name)
        .filter(|n| !n.is_empty() && *n != "." && *n != ".." && !n.contains(['/', '\\', '\0']))
        .with_context(|| {
            format!("the shared file name {name:?} is not usable here; give one with -o")
        })
}
