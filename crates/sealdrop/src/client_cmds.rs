//! The client commands (`put`, `get`, `ls`, `rm`): the broker API and
//! presigned transfers through `sealdrop-client`, as the browser app uses them.

mod format;
mod request;
mod share;
mod terminal;

pub use request::{RequestArgs, request};
pub use share::{ShareArgs, share};

use std::future::Future;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sealdrop_client::api::{ListObjectsQuery, Mode};
use sealdrop_client::{Client, ErrorKind};

use terminal::Bar;

/// Shown after every client command's options.
const EXIT_CODES: &str = "\
Exit codes: 0 success, 1 other failure, 2 usage error, 3 authentication or permission
denied (401/403) or a share link or file request that expired, was used up, revoked
or closed (410), 4 not found (an unknown link too), 5 integrity failure (the object
was modified or corrupted), 6 broker or storage unreachable (connection failure,
502/503), 130 interrupted.";

/// The broker to talk to and the user to act as.
#[derive(clap::Args, Debug)]
pub struct BrokerArgs {
    /// Base URL of the sealdrop broker, e.g. https://files.example.com
    /// (required, except to fetch a share link).
    #[arg(long, env = "SEALDROP_URL", value_name = "URL")]
    url: Option<String>,
    /// API token of the user (prefer the environment variable: command-line
    /// arguments are visible to other local users).
    #[arg(
        long,
        env = "SEALDROP_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
}

/// A command line that lacks something (exit code 2, like clap's own).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(&'static str);

impl BrokerArgs {
    fn connect(&self) -> Result<Client> {
        let url = self.url.as_deref().ok_or(UsageError(
            "no broker: set SEALDROP_URL or pass --url https://<your sealdrop server>",
        ))?;
        let token = self.token.as_deref().ok_or(UsageError(
            "no API token: set SEALDROP_TOKEN (or pass --token)",
        ))?;
        Ok(Client::new(url, token)?)
    }
}

/// Upload files. Prints each object key on stdout.
///
/// With --to LINK the files go to a file request (https://<server>/r/<id>#<secret>)
/// instead: no URL or token needed; they land in the requester's inbox, never
/// replace a file already sent, and a receipt (name, size, SHA-256 of what was
/// sent) is printed for each.
///
/// By default the file is encrypted here, before it leaves the machine, in the
/// S3 Encryption Client V3 format with a fresh KMS data key; storage only sees
/// ciphertext. With --sse it is sent over TLS as is and storage encrypts it
/// with the KMS key (SSE-KMS). Large files go as a multipart upload; an
/// interrupted or failed upload is aborted and leaves no object.
#[derive(clap::Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct PutArgs {
    /// The files to upload.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// Object name under your prefix (may contain `/`); default: the file's
    /// name. Only with one file.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Send the files to this file request link instead of your own storage.
    #[arg(long, value_name = "LINK", conflicts_with = "overwrite")]
    to: Option<String>,
    /// Let storage encrypt (SSE-KMS) instead of encrypting on this machine.
    #[arg(long)]
    sse: bool,
    /// Replace an existing object of the same name.
    #[arg(long)]
    overwrite: bool,
    #[command(flatten)]
    broker: BrokerArgs,
}

/// Download an object, or the files of a share link.
///
/// A share link (https://<server>/s/<id>#<secret>) needs no URL or token; all
/// its files are saved (into the -o directory with several files), and each
/// counts as one download of the link. Client-side encrypted objects are decrypted on this machine into a
/// temporary file next to the output, which is renamed to the output name only
/// after the whole object authenticated: a modified or corrupted object fails
/// (exit code 5) and leaves no file. Reports the encryption mode, KMS key and
/// the server-side-encryption header storage answered with on stderr (on stdout
/// as JSON with --json). The file is created readable by you only.
#[derive(clap::Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct GetArgs {
    /// The object key, as `put` prints it and `ls` lists it (`<user>/<name>`),
    /// or a share link (quote it: the shell treats `#` specially after a space).
    #[arg(value_name = "KEY|LINK")]
    key: String,
    /// Output file, or a directory to write into; default: the last segment of
    /// the key (a shared file's name), in the current directory.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Replace the output file if it exists.
    #[arg(long)]
    force: bool,
    /// Print the download report as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    broker: BrokerArgs,
}

/// List your objects: size, date, encryption mode (CSE V3, CSE V2, SSE-KMS,
/// none, invalid) and key.
#[derive(clap::Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct LsArgs {
    /// Only names starting with this, relative to your prefix (e.g. `reports/`).
    #[arg(value_name = "PREFIX")]
    prefix: Option<String>,
    /// Print the objects as a JSON array (with all details) on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    broker: BrokerArgs,
}

/// Delete an object.
#[derive(clap::Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct RmArgs {
    /// The object key (`<user>/<name>`).
    #[arg(value_name = "KEY")]
    key: String,
    #[command(flatten)]
    broker: BrokerArgs,
}

/// The user pressed Ctrl-C; the transfer was stopped and cleaned up.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
struct Interrupted;

pub async fn put(args: PutArgs) -> Result<()> {
    init_logging();
    if args.name.is_some() && args.files.len() > 1 {
        return Err(UsageError("--name names one file; upload several without it").into());
    }
    let client = match &args.to {
        Some(link) => request::connect(link).await?,
        None => args.broker.connect()?,
    };
    let mode = if args.sse { Mode::Sse } else { Mode::Cse };
    for file in &args.files {
        let name = match &args.name {
            Some(name) => name.clone(),
            None => file
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_owned)
                .with_context(|| {
                    format!(
                        "{} has no usable file name; give one with --name",
                        file.display()
                    )
                })?,
        };
        let bar = Bar::new(&name);
        let upload = client.upload_file(file, &name, mode, args.overwrite, bar.clone());
        let result = until_interrupted(upload).await;
        bar.clear();
        if result.is_err() {
            // A multipart upload dropped by Ctrl-C scheduled its abort: let it run.
            client.finish_pending_aborts().await;
        }
        let key = result??;
        println!("{key}");
        if args.to.is_some() {
            eprintln!("{}", request::receipt(file, &key).await?);
        }
    }
    Ok(())
}

pub async fn get(args: GetArgs) -> Result<()> {
    init_logging();
    if share::looks_like_link(&args.key) {
        return share::get_shared(args).await;
    }
    let client = args.broker.connect()?;
    let output = output_path(&args.key, args.output.as_deref())?;
    let bar = Bar::new(&args.key);
    let download = async {
        if args.force {
            client.download_to(&args.key, &output, bar.clone()).await
        } else {
            client
                .download_to_new_file(&args.key, &output, bar.clone())
                .await
        }
    };
    let result = until_interrupted(download).await;
    bar.clear();
    let report = result?.map_err(|err| match err {
        sealdrop_client::Error::DestinationExists(path) => {
            anyhow::anyhow!("{} exists; use --force to replace it", path.display())
        }
        err => err.into(),
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        eprintln!("{}", format::download_summary(&report));
    }
    Ok(())
}

pub async fn ls(args: LsArgs) -> Result<()> {
    init_logging();
    let client = args.broker.connect()?;
    if args.json {
        let objects = client.list_all(args.prefix.as_deref()).await?;
        println!("{}", serde_json::to_string_pretty(&objects)?);
        return Ok(());
    }
    // Page by page, so a long listing starts printing at once.
    let mut query = ListObjectsQuery {
        prefix: args.prefix,
        ..ListObjectsQuery::default()
    };
    let mut header = Some(format::LISTING_HEADER);
    loop {
        let page = client.list_objects(&query).await?;
        if let Some(header) = header.take() {
            println!("{header}");
        }
        for object in &page.objects {
            println!("{}", format::listing_row(object));
        }
        match page.next_cursor {
            Some(cursor) if query.cursor.as_ref() != Some(&cursor) => query.cursor = Some(cursor),
            Some(_) => bail!("the broker repeated a listing cursor"),
            None => return Ok(()),
        }
    }
}

pub async fn rm(args: RmArgs) -> Result<()> {
    init_logging();
    let client = args.broker.connect()?;
    client.delete_object(&args.key).await?;
    Ok(())
}

/// The process exit code for an error (see [`EXIT_CODES`]).
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.downcast_ref::<Interrupted>().is_some() {
        return 130;
    }
    if err.downcast_ref::<UsageError>().is_some() {
        return 2;
    }
    let kind = err
        .chain()
        .find_map(|cause| cause.downcast_ref::<sealdrop_client::Error>())
        .map(sealdrop_client::Error::kind);
    match kind {
        Some(ErrorKind::Unauthenticated | ErrorKind::Forbidden | ErrorKind::Ended) => 3,
        Some(ErrorKind::NotFound) => 4,
        Some(ErrorKind::Integrity) => 5,
        Some(ErrorKind::Unreachable | ErrorKind::Unavailable) => 6,
        Some(_) | None => 1,
    }
}

/// Runs a transfer until it ends or the user presses Ctrl-C. On Ctrl-C the
/// transfer's future is dropped, which deletes a partial download and
/// schedules the abort of a multipart upload.
async fn until_interrupted<T>(transfer: impl Future<Output = T>) -> Result<T> {
    tokio::select! {
        done = transfer => Ok(done),
        _ = tokio::signal::ctrl_c() => Err(Interrupted.into()),
    }
}

/// Where `get` writes: `-o FILE`, `-o DIR/<last segment>`, or `./<last segment>`.
fn output_path(key: &str, output: Option<&Path>) -> Result<PathBuf> {
    let default_name = || {
        key.rsplit('/')
            .next()
            .filter(|name| !name.is_empty() && *name != "." && *name != "..")
            .with_context(|| format!("{key:?} does not end in a file name; give one with -o"))
    };
    Ok(match output {
        Some(dir) if dir.is_dir() => dir.join(default_name()?),
        Some(file) => file.to_owned(),
        None => PathBuf::from(default_name()?),
    })
}

/// Warnings (retries, failed cleanups) on stderr; `SEALDROP_LOG` (e.g.
/// `debug`) shows more.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SEALDROP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Fails only if a subscriber is already set, which is then used instead.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_defaults_to_the_last_key_segment() {
        assert_eq!(
            output_path("alice/reports/q3.pdf", None).unwrap(),
            PathBuf::from("q3.pdf")
        );
        assert_eq!(
            output_path("alice/a", Some(Path::new("out.bin"))).unwrap(),
            PathBuf::from("out.bin")
        );
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            output_path("alice/a.txt", Some(dir.path())).unwrap(),
            dir.path().join("a.txt")
        );
        assert!(output_path("alice/dir/", None).is_err());
        assert!(output_path("alice/..", None).is_err());
    }

    #[test]
    fn exit_codes_follow_the_error_kind() {
        let api = |status, code: ErrorCode| {
            let body = serde_json::json!({"error": {"code": code, "message": "m"}});
            sealdrop_client::Error::Remote(sealdrop_transfer::Failure::broker(
                status,
                body.to_string().as_bytes(),
                None,
            ))
        };
        use sealdrop_client::api::ErrorCode;
        let code = |err: sealdrop_client::Error| exit_code(&anyhow::Error::from(err));
        assert_eq!(code(api(401, ErrorCode::Unauthenticated)), 3);
        assert_eq!(code(api(403, ErrorCode::Forbidden)), 3);
        assert_eq!(code(api(404, ErrorCode::NotFound)), 4);
        assert_eq!(code(api(422, ErrorCode::IntegrityError)), 5);
        assert_eq!(code(api(503, ErrorCode::Unavailable)), 6);
        assert_eq!(code(api(502, ErrorCode::UpstreamError)), 6);
        assert_eq!(code(api(409, ErrorCode::Conflict)), 1);
        assert_eq!(
            code(sealdrop_client::Error::Decrypt(
                sealdrop_envelope::DecryptError::Authentication
            )),
            5
        );
        // Context added on the way keeps the code.
        let wrapped = anyhow::Error::from(api(404, ErrorCode::NotFound)).context("getting x");
        assert_eq!(exit_code(&wrapped), 4);
        assert_eq!(exit_code(&Interrupted.into()), 130);
        assert_eq!(exit_code(&anyhow::anyhow!("other")), 1);
    }
}
