//! The `sealdrop` command: `serve`, the client commands that talk to a broker
//! like the browser does, and the operator commands that need the broker's
//! configuration and credentials.

mod admin;
mod client_cmds;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Encrypt files with KMS data keys and keep them in S3-compatible storage.
///
/// Run `sealdrop serve` for the web app and key broker; use `put`, `get`, `ls`
/// and `rm` against a running broker; `admin` commands run where the broker's
/// configuration and credentials are.
#[derive(Parser, Debug)]
#[command(
    name = "sealdrop",
    version,
    propagate_version = true,
    after_help = "Client commands (put, get, ls, rm) read SEALDROP_URL and SEALDROP_TOKEN.\n\
                  Exit codes: 0 success, 1 other failure, 2 usage error, 3 authentication or \
                  permission denied, 4 not found, 5 integrity failure, 6 broker or storage \
                  unreachable, 130 interrupted."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the key broker, the web app and (with no AWS configuration) the
    /// embedded keyring and S3-compatible store.
    Serve(serve::ServeArgs),
    /// Upload files: client-side encrypted (S3EC V3) by default, or for
    /// SSE-KMS; or send them to a file request link.
    Put(client_cmds::PutArgs),
    /// Download an object; client-side encrypted objects are decrypted and
    /// written only after they authenticate.
    Get(client_cmds::GetArgs),
    /// List your objects with their encryption mode.
    Ls(client_cmds::LsArgs),
    /// Delete an object.
    Rm(client_cmds::RmArgs),
    /// Share objects through a link that needs no account; list and revoke links.
    Share(client_cmds::ShareArgs),
    /// Ask outsiders for files: a link that uploads into your inbox; list and close them.
    Request(client_cmds::RequestArgs),
    /// Operator commands (users, bucket encryption, in-place encryption, key rotation, CORS).
    Admin(admin::AdminArgs),
}

/// Options shared by the commands that read the broker's configuration.
#[derive(clap::Args, Debug, Clone)]
pub struct ConfigArgs {
    /// Configuration file (TOML). Environment variables `SEALDROP_*` override it.
    #[arg(
        long,
        short = 'c',
        env = "SEALDROP_CONFIG",
        value_name = "FILE",
        global = true
    )]
    pub config: Option<PathBuf>,
    /// Data directory (users, local keyring, embedded store, audit log).
    #[arg(long, env = "SEALDROP_DATA_DIR", value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL for users and tokens, shared by replicas (default: SQLite in
    /// the data directory). Prefer SEALDROP_DATABASE_URL: a flag's value, password
    /// included, is visible to every user of the machine in the process list.
    #[arg(long, value_name = "URL", global = true)]
    pub database_url: Option<String>,
}

impl ConfigArgs {
    /// Loads the configuration: defaults, file, environment, then these flags.
    pub fn load(&self) -> anyhow::Result<sealdrop_broker::Config> {
        let mut config = sealdrop_broker::Config::load(self.config.as_deref())?;
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(url) = &self.database_url {
            // The error never repeats the URL: it may hold a password.
            let url = sealdrop_state::DatabaseUrl::parse(url)
                .map_err(|why| anyhow::anyhow!("--database-url: {why}"))?;
            config.database_url = Some(url);
        }
        Ok(config)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sealdrop: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Put(args) => client_cmds::put(args).await,
            Command::Get(args) => client_cmds::get(args).await,
            Command::Ls(args) => client_cmds::ls(args).await,
            Command::Rm(args) => client_cmds::rm(args).await,
            Command::Share(args) => client_cmds::share(args).await,
            Command::Request(args) => client_cmds::request(args).await,
            Command::Admin(args) => admin::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line, the cause chain joined: readable, never a panic trace.
            eprintln!("sealdrop: {err:#}");
            ExitCode::from(client_cmds::exit_code(&err))
        }
    }
}
