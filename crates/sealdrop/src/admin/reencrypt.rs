//! `admin encrypt-existing` and `admin rotate`: arguments and printing. The
//! work itself — conditional in-place copies, KMS re-wrapping, verification —
//! is [`sealdrop_server::ops`].

use std::io::IsTerminal;

use anyhow::{Context as _, Result, bail};
use sealdrop_broker::Config;
use sealdrop_broker::binding::BindingKey;
use sealdrop_server::ops::{
    self, COPY_LIMIT, CopyOptions, EncryptExisting, Events, MIN_PART, OpError, Report, Rotate,
};
use sealdrop_server::stack;

/// Encrypt plaintext objects in place with SSE-KMS.
#[derive(clap::Args, Debug)]
pub struct EncryptExistingArgs {
    /// Only keys starting with this.
    #[arg(long, value_name = "P", default_value = "")]
    prefix: String,
    /// Report what would change without changing anything.
    #[arg(long)]
    dry_run: bool,
    /// KMS key to encrypt with (default: the configured key).
    #[arg(long, value_name = "KEY")]
    kms_key: Option<String>,
    #[command(flatten)]
    copy: CopyArgs,
}

/// Rotate client-side encrypted objects to another KMS key.
#[derive(clap::Args, Debug)]
pub struct RotateArgs {
    /// The KMS key to move data keys to (id, ARN or alias/…).
    #[arg(long, value_name = "KEY")]
    to_key: String,
    /// Only keys starting with this.
    #[arg(long, value_name = "P", default_value = "")]
    prefix: String,
    /// Report what would change without changing anything.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    copy: CopyArgs,
}

/// How objects are copied in place.
#[derive(clap::Args, Debug, Clone, Copy)]
struct CopyArgs {
    /// Objects larger than this many bytes are copied in parts (UploadPartCopy)
    /// instead of one CopyObject. Some S3-compatible services copy less than
    /// S3's 5 GiB in one request.
    #[arg(long, value_name = "BYTES", default_value_t = COPY_LIMIT,
          value_parser = clap::value_parser!(u64).range(MIN_PART..=COPY_LIMIT))]
    copy_cutoff: u64,
}

impl From<CopyArgs> for CopyOptions {
    fn from(args: CopyArgs) -> CopyOptions {
        CopyOptions {
            cutoff: args.copy_cutoff,
        }
    }
}

/// `sealdrop admin encrypt-existing`
pub async fn encrypt_existing(config: &Config, args: EncryptExistingArgs) -> Result<()> {
    let stack = stack::connect(config).await?;
    let db = sealdrop_server::open_state(config)
        .await
        .context("opening the state database")?;
    let binding = BindingKey::load_or_create(&db, stack.keys.as_ref())
        .await
        .context("opening the object binding key")?;
    let options = EncryptExisting {
        prefix: args.prefix,
        dry_run: args.dry_run,
        kms_key: args.kms_key,
        copy: args.copy.into(),
    };
    let printer = Printer::new(if args.dry_run {
        "checking"
    } else {
        "encrypting"
    });
    let report = ops::encrypt_existing(&stack, &binding, &options, &printer).await;
    printer.finish(report)
}

/// `sealdrop admin rotate`
pub async fn rotate(config: &Config, args: RotateArgs) -> Result<()> {
    let stack = stack::connect(config).await?;
    let options = Rotate {
        to_key: args.to_key,
        prefix: args.prefix,
        dry_run: args.dry_run,
        copy: args.copy.into(),
    };
    let printer = Printer::new(if args.dry_run { "checking" } else { "rotating" });
    let report = ops::rotate(&stack, &options, &printer).await;
    printer.finish(report)
}

/// Progress on stderr (a spinner on a terminal), notes and failures as they
/// happen, counts on stdout at the end.
struct Printer {
    bar: indicatif::ProgressBar,
}

impl Printer {
    fn new(label: &'static str) -> Printer {
        if !std::io::stderr().is_terminal() {
            return Printer {
                bar: indicatif::ProgressBar::hidden(),
            };
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} objects ({per_sec})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_message(label);
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Printer { bar }
    }

    fn finish(&self, report: Result<Report, OpError>) -> Result<()> {
        self.bar.finish_and_clear();
        let report = report?;
        for (what, n) in &report.counts {
            println!("{n:>8}  {what}");
        }
        let failed = report.failed.len();
        if failed > 0 {
            println!("{failed:>8}  failed (see above; run again to retry)");
            bail!("{failed} object(s) failed");
        }
        Ok(())
    }
}

impl Events for Printer {
    fn object_done(&self) {
        self.bar.inc(1);
    }

    fn changed(&self, key: &str, again: bool) {
        self.bar.suspend(|| {
            eprintln!(
                "note: {key} was written while it was being copied; the copy was discarded and \
                 the newer version kept{}",
                if again { ", inspecting it again" } else { "" }
            );
        });
    }

    fn failed(&self, key: &str, error: &OpError) {
        self.bar.suspend(|| eprintln!("failed: {key}: {error}"));
    }
}
