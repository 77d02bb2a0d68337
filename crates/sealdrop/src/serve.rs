//! `sealdrop serve`: placeholder, being written.

use anyhow::Result;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {}

pub async fn run(_: ServeArgs) -> Result<()> {
    anyhow::bail!("not yet implemented")
}
