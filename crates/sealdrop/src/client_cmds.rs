//! Client commands (`put`, `get`, `ls`, `rm`): placeholder, being written.

use anyhow::{Result, bail};

#[derive(clap::Args, Debug)]
pub struct PutArgs {}
#[derive(clap::Args, Debug)]
pub struct GetArgs {}
#[derive(clap::Args, Debug)]
pub struct LsArgs {}
#[derive(clap::Args, Debug)]
pub struct RmArgs {}

pub async fn put(_: PutArgs) -> Result<()> {
    bail!("not yet implemented")
}
pub async fn get(_: GetArgs) -> Result<()> {
    bail!("not yet implemented")
}
pub async fn ls(_: LsArgs) -> Result<()> {
    bail!("not yet implemented")
}
pub async fn rm(_: RmArgs) -> Result<()> {
    bail!("not yet implemented")
}

/// The process exit code for an error (1 unless a more specific one applies).
pub fn exit_code(_err: &anyhow::Error) -> u8 {
    1
}
