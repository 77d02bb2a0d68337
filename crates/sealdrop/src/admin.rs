//! Operator commands. They run where the broker's configuration and credentials
//! are (same `--config`, `--data-dir` and `SEALDROP_*`/`AWS_*` environment as
//! `serve`), and talk to storage and KMS directly — never through a browser.

mod bucket;
mod reencrypt;
mod users;

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::ConfigArgs;

/// Operator commands: users, bucket default encryption, in-place encryption of
/// existing objects, KMS key rotation of client-side encrypted objects, CORS.
#[derive(Args, Debug)]
pub struct AdminArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Manage users and their bearer tokens.
    #[command(subcommand)]
    User(users::UserCommand),
    /// Manage API tokens by id.
    #[command(subcommand)]
    Token(users::TokenCommand),
    /// Bucket default encryption (SSE-KMS): PutBucketEncryption and friends.
    #[command(subcommand, name = "bucket-encryption")]
    BucketEncryption(bucket::EncryptionCommand),
    /// Encrypt objects that are neither SSE-KMS nor client-side encrypted, in
    /// place (CopyObject; UploadPartCopy beyond 5 GiB), keeping their metadata.
    #[command(name = "encrypt-existing")]
    EncryptExisting(reencrypt::EncryptExistingArgs),
    /// Move client-side encrypted objects to another KMS key: ReEncrypt each
    /// stored data key and rewrite only the metadata; no content is downloaded.
    Rotate(reencrypt::RotateArgs),
    /// Bucket CORS, for deployments where the web app and storage are on
    /// different origins.
    #[command(subcommand)]
    Cors(bucket::CorsCommand),
}

pub async fn run(args: AdminArgs) -> Result<()> {
    let config = args.config.load()?;
    match args.command {
        AdminCommand::User(command) => users::run_user(&config, command).await,
        AdminCommand::Token(command) => users::run_token(&config, command).await,
        AdminCommand::BucketEncryption(command) => bucket::encryption(&config, command).await,
        AdminCommand::EncryptExisting(args) => reencrypt::encrypt_existing(&config, args).await,
        AdminCommand::Rotate(args) => reencrypt::rotate(&config, args).await,
        AdminCommand::Cors(command) => bucket::cors(&config, command).await,
    }
}
