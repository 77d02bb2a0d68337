//! `sealdrop admin user …` and `admin token …`: against the state database the
//! configuration names (`--database-url`, else SQLite in the data directory),
//! so they work the same for one process and for replicas. A token is printed
//! once, alone on stdout (the operator's terminal or a pipe they chose), and
//! stored only as a hash.

use anyhow::{Context, Result};
use clap::Subcommand;
use sealdrop_broker::Config;
use sealdrop_state::{Database, IssuedToken, UserSummary, parse_lifetime};

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; prints their first bearer token (only the token, on stdout).
    Add {
        /// User name (lower-case letters, digits, '.', '_', '-'); also their key prefix.
        name: String,
        /// The token stops working after this long (e.g. 90d, 12h, 1w).
        #[arg(long, value_name = "DURATION", value_parser = parse_lifetime)]
        expires: Option<std::time::Duration>,
        /// Issue no token: the user signs in only with single sign-on (`link`).
        #[arg(long, conflicts_with = "expires")]
        no_token: bool,
    },
    /// Issue another token for a user (e.g. a lost login link); prints it.
    /// Tokens already issued keep working until revoked.
    Token {
        /// User name.
        name: String,
        /// The token stops working after this long (e.g. 90d, 12h, 1w).
        #[arg(long, value_name = "DURATION", value_parser = parse_lifetime)]
        expires: Option<std::time::Duration>,
        /// A name for the token, shown by `list` (e.g. "laptop", "backup job").
        #[arg(long = "name", value_name = "LABEL")]
        label: Option<String>,
    },
    /// List users and their tokens (ids, status and dates; never the tokens).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: their tokens and OIDC sessions are refused from the next
    /// request on, on every replica; their objects stay.
    Disable {
        /// User name.
        name: String,
    },
    /// Enable a disabled user again (their unrevoked, unexpired tokens work again).
    Enable {
        /// User name.
        name: String,
    },
    /// Let a single sign-on identity sign in as this user. An identity is its
    /// issuer and subject (`sub`), never a name the provider lets people choose.
    Link {
        /// User name (must exist).
        name: String,
        /// The identity's `sub` at the issuer.
        #[arg(long, value_name = "SUB")]
        subject: String,
        /// The issuer; default: the configured `oidc.issuer`.
        #[arg(long, value_name = "URL")]
        issuer: Option<String>,
    },
    /// Remove a link made by `link` (or by auto-provisioning).
    Unlink {
        /// The identity's `sub` at the issuer.
        #[arg(long, value_name = "SUB")]
        subject: String,
        /// The issuer; default: the configured `oidc.issuer`.
        #[arg(long, value_name = "URL")]
        issuer: Option<String>,
    },
    /// Revoke a user's tokens (all, or one by id).
    Revoke {
        /// User name.
        name: String,
        /// Only this token id (from `list`).
        #[arg(long, value_name = "ID")]
        token: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Revoke one token by its id (from `admin user list`).
    Revoke {
        /// Token id.
        id: String,
    },
}

async fn open(config: &Config) -> Result<Database> {
    sealdrop_server::open_state(config)
        .await
        .context("opening the users database")
}

/// Prints a new token alone on stdout; what it is for goes to stderr.
fn print_issued(name: &str, issued: &IssuedToken) {
    match &issued.expires_at {
        Some(at) => eprintln!("token {} for {name}, expires {at}:", issued.id),
        None => eprintln!("token {} for {name} (no expiry):", issued.id),
    }
    println!("{}", issued.token.as_str());
}

/// The issuer named, else the configured one.
fn issuer_or_configured(config: &Config, issuer: Option<String>) -> Result<String> {
    issuer
        .or_else(|| config.oidc.as_ref().map(|oidc| oidc.issuer.clone()))
        .context("no --issuer given and no oidc.issuer configured (SEALDROP_OIDC_ISSUER)")
}

pub async fn run_user(config: &Config, command: UserCommand) -> Result<()> {
    let db = open(config).await?;
    match command {
        UserCommand::Add {
            name,
            no_token: true,
            ..
        } => {
            db.add_user_without_token(&name).await?;
            eprintln!(
                "added {name} (no token; link a single sign-on identity with `admin user link`)"
            );
        }
        UserCommand::Add { name, expires, .. } => {
            let issued = db.add_user(&name, expires).await?;
            print_issued(&name, &issued);
        }
        UserCommand::Token {
            name,
            expires,
            label,
        } => {
            let issued = db.issue_token(&name, label.as_deref(), expires).await?;
            print_issued(&name, &issued);
        }
        UserCommand::List { json } => {
            let list = db.list_users().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print_table(&list);
            }
        }
        UserCommand::Disable { name } => {
            db.set_disabled(&name, true).await?;
            eprintln!("disabled {name}");
        }
        UserCommand::Enable { name } => {
            db.set_disabled(&name, false).await?;
            eprintln!("enabled {name}");
        }
        UserCommand::Link {
            name,
            subject,
            issuer,
        } => {
            let issuer = issuer_or_configured(config, issuer)?;
            db.link_identity(&name, &issuer, &subject).await?;
            eprintln!("{subject:?} at {issuer} now signs in as {name}");
        }
        UserCommand::Unlink { subject, issuer } => {
            let issuer = issuer_or_configured(config, issuer)?;
            db.unlink_identity(&issuer, &subject).await?;
            eprintln!("unlinked {subject:?} at {issuer}");
        }
        UserCommand::Revoke { name, token } => {
            let count = db.revoke_user_tokens(&name, token.as_deref()).await?;
            eprintln!("revoked {count} token(s) of {name}");
        }
    }
    db.close().await;
    Ok(())
}

pub async fn run_token(config: &Config, command: TokenCommand) -> Result<()> {
    let db = open(config).await?;
    match command {
        TokenCommand::Revoke { id } => {
            db.revoke_token(&id).await?;
            eprintln!("revoked token {id}");
        }
    }
    db.close().await;
    Ok(())
}

fn print_table(list: &[UserSummary]) {
    if list.is_empty() {
        println!("no users");
        return;
    }
    println!(
        "{:<20} {:<9} {:<21} {:<12} {:<8} {:<16} {:<21} {:<21} LAST USED",
        "USER", "ACCOUNT", "LAST SEEN", "TOKEN", "STATUS", "NAME", "ISSUED", "EXPIRES"
    );
    let or_dash = |value: Option<&str>| value.unwrap_or("-").to_owned();
    for user in list {
        let account = if user.disabled_at.is_some() {
            "disabled"
        } else {
            "enabled"
        };
        let last_seen = or_dash(user.last_seen_at.as_deref());
        for identity in &user.identities {
            println!(
                "{:<20} {account:<9} {last_seen:<21} sign-in  {:?} at {}{}",
                user.name,
                identity.subject,
                identity.issuer,
                identity
                    .display_name
                    .as_deref()
                    .map(|name| format!(" ({name})"))
                    .unwrap_or_default(),
            );
        }
        if user.tokens.is_empty() && user.identities.is_empty() {
            println!("{:<20} {account:<9} {last_seen:<21} -", user.name);
        }
        for token in &user.tokens {
            println!(
                "{:<20} {account:<9} {last_seen:<21} {:<12} {:<8} {:<16} {:<21} {:<21} {}",
                user.name,
                token.id,
                token.status(),
                or_dash(token.label.as_deref()),
                token.created_at,
                or_dash(token.expires_at.as_deref()),
                or_dash(token.last_used_at.as_deref()),
            );
        }
    }
}
