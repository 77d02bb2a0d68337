//! `sealdrop admin user …`: tokens are printed once, on stdout alone, and stored
//! only as hashes.

use anyhow::Result;
use clap::Subcommand;
use sealdrop_broker::Config;
use sealdrop_broker::auth::tokens::UserStore;

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; prints their bearer token (only the token, on stdout).
    Add {
        /// User name (lower-case letters, digits, '.', '_', '-'); also their key prefix.
        name: String,
    },
    /// Issue another token for a user (e.g. a lost login link); prints it.
    Token {
        /// User name.
        name: String,
    },
    /// List users and their tokens (ids and dates, never the tokens).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
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

pub fn run(config: &Config, command: UserCommand) -> Result<()> {
    let users = UserStore::new(config.users_path());
    match command {
        UserCommand::Add { name } => {
            let token = users.add_user(&name)?;
            println!("{}", token.as_str());
        }
        UserCommand::Token { name } => {
            let token = users.add_token(&name)?;
            println!("{}", token.as_str());
        }
        UserCommand::List { json } => {
            let list = users.list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("no users");
            } else {
                println!("{:<24} {:<10} {:<26} STATUS", "USER", "TOKEN", "ISSUED");
                for user in &list {
                    if user.tokens.is_empty() {
                        println!("{:<24} {:<10}", user.name, "-");
                    }
                    for token in &user.tokens {
                        let status = match &token.revoked_at {
                            Some(at) => format!("revoked {at}"),
                            None => "active".into(),
                        };
                        println!(
                            "{:<24} {:<10} {:<26} {status}",
                            user.name, token.id, token.created_at
                        );
                    }
                }
            }
        }
        UserCommand::Revoke { name, token } => {
            let count = users.revoke(&name, token.as_deref())?;
            println!("revoked {count} token(s) of {name}");
        }
    }
    Ok(())
}
