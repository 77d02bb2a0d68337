//! `sealdrop request` (make, list and close file requests) and what `put --to
//! LINK` needs: a client of the request, and the receipt of what was sent.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::HumanBytes;
use sealdrop_client::api::{CloseFileRequest, CreateFileRequest, FileRequestSummary};
use sealdrop_client::{Client, RequestLink};
use sealdrop_state::parse_lifetime;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt as _;

use super::{BrokerArgs, EXIT_CODES, init_logging};

/// Ask people without an account for files, or list and close your requests.
///
/// `request create NAME` prints a link (https://<server>/r/<id>#<secret>).
/// Whoever has it can upload — client-side encrypted by default — into your
/// `inbox/NAME/`, up to the file and byte limits and until it expires or you
/// close it, without seeing, listing or reading anything. The part after # is
/// the secret, shown only now.
#[derive(clap::Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct RequestArgs {
    #[command(subcommand)]
    action: RequestAction,
}

#[derive(clap::Subcommand, Debug)]
enum RequestAction {
    /// Make a file request link; files arrive in inbox/NAME/.
    Create {
        /// The request's name (one folder name).
        #[arg(value_name = "NAME")]
        name: String,
        /// How long the link takes files, e.g. 2d, 1w (default 7d; the server
        /// sets a maximum).
        #[arg(long, value_name = "DURATION", value_parser = parse_lifetime)]
        expires: Option<Duration>,
        /// Most files the link takes (default 10).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
        max_files: Option<u32>,
        /// Most bytes it takes in all, e.g. 500M or 2G (default 1G).
        #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
        max_bytes: Option<u64>,
        /// A note shown to whoever uploads.
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        #[command(flatten)]
        broker: BrokerArgs,
    },
    /// List your file requests: status, files and bytes received.
    Ls {
        /// Print the requests (without secrets) as JSON on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        broker: BrokerArgs,
    },
    /// Close a file request: it takes no more files (those sent stay).
    Close {
        /// The request's id (the part after /r/, as `request ls` lists it).
        #[arg(value_name = "ID")]
        id: String,
        #[command(flatten)]
        broker: BrokerArgs,
    },
}

/// `500`, `500K`, `20M`, `2G`, `1T` (powers of 1024).
fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let shift = match unit
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => {
            return Err(format!(
                "{text:?}: expected a number of bytes, e.g. 500M or 2G"
            ));
        }
    };
    number
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| n.checked_mul(1u64 << shift))
        .ok_or_else(|| format!("{text:?}: expected a positive number of bytes, e.g. 500M"))
}

pub async fn request(args: RequestArgs) -> Result<()> {
    init_logging();
    match args.action {
        RequestAction::Create {
            name,
            expires,
            max_files,
            max_bytes,
            note,
            broker,
        } => {
            let client = broker.connect()?;
            let created = client
                .create_file_request(&CreateFileRequest {
                    name,
                    expires_in_secs: expires.map(|d| d.as_secs()),
                    max_files,
                    max_bytes,
                    note,
                })
                .await?;
            let base = broker.url.as_deref().unwrap_or_default();
            let link = RequestLink::new(base, &created.request.id, &created.secret);
            println!("{}", *link.to_url());
            let request = &created.request;
            eprintln!(
                "files arrive in {} until {}: up to {} file(s), {} in all; close with: sealdrop request close {}",
                request.prefix,
                request.expires_at,
                request.max_files,
                HumanBytes(request.max_bytes),
                request.id
            );
            Ok(())
        }
        RequestAction::Ls { json, broker } => {
            let requests = broker.connect()?.list_file_requests().await?.requests;
            if json {
                println!("{}", serde_json::to_string_pretty(&requests)?);
            } else {
                print_requests(&requests);
            }
            Ok(())
        }
        RequestAction::Close { id, broker } => {
            broker
                .connect()?
                .close_file_request(&CloseFileRequest { id: id.clone() })
                .await?;
            eprintln!("closed file request {id}");
            Ok(())
        }
    }
}

fn print_requests(requests: &[FileRequestSummary]) {
    println!(
        "{:<22}  {:<7}  {:<20}  {:>9}  {:>19}  FOLDER",
        "ID", "STATUS", "EXPIRES", "FILES", "BYTES"
    );
    for request in requests {
        let status = serde_json::to_value(request.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        println!(
            "{:<22}  {:<7}  {:<20}  {:>9}  {:>19}  {}",
            request.id,
            status,
            request.expires_at,
            format!("{}/{}", request.files, request.max_files),
            format!(
                "{}/{}",
                HumanBytes(request.bytes),
                HumanBytes(request.max_bytes)
            ),
            request.prefix
        );
    }
}

/// A client that uploads through the file request `link`, after checking the
/// link still takes files (so a dead link fails before any file is read).
pub async fn connect(link: &str) -> Result<Client> {
    let link = RequestLink::parse(link)?;
    let client = Client::for_file_request(&link)?;
    let request = client.describe_file_request(&link).await?;
    if let Some(note) = &request.note {
        eprintln!("note from {}: {note}", request.recipient);
    }
    eprintln!(
        "sending to {}'s request \"{}\" (takes {} more file(s), {}, until {})",
        request.recipient,
        request.name,
        request.files_left,
        HumanBytes(request.bytes_left),
        request.expires_at
    );
    Ok(client)
}

/// What `put --to` prints for each file: where it went, its size and the
/// SHA-256 of the plaintext sent, for the sender's records.
pub async fn receipt(file: &Path, key: &str) -> Result<String> {
    let mut reader = tokio::fs::File::open(file)
        .await
        .with_context(|| format!("cannot reopen {} for its receipt", file.display()))?;
    let mut hash = Sha256::new();
    let mut size = 0u64;
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = reader
            .read(&mut buffer)
            .await
            .with_context(|| format!("cannot read {} for its receipt", file.display()))?;
        if n == 0 {
            break;
        }
        hash.update(&buffer[..n]);
        size += n as u64;
    }
    let name = key.rsplit('/').next().unwrap_or(key);
    Ok(format!(
        "sent {name} ({size} bytes) sha256 {}",
        hex::encode(hash.finalize())
    ))
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn byte_limits_read_as_people_write_them() {
        assert_eq!(parse_bytes("500"), Ok(500));
        assert_eq!(parse_bytes("2G"), Ok(2 << 30));
        assert_eq!(parse_bytes("20MiB"), Ok(20 << 20));
        assert_eq!(parse_bytes("1kb"), Ok(1024));
        for bad in ["", "0", "M", "-5", "5X", "99999999999T"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
