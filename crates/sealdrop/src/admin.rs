//! Operator commands: placeholder, being written.

use anyhow::Result;

#[derive(clap::Args, Debug)]
pub struct AdminArgs {}

pub async fn run(_: AdminArgs) -> Result<()> {
    anyhow::bail!("not yet implemented")
}
