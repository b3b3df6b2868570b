//! `shadowgate ingest`: telemetry into the store.

use anyhow::{Result, bail};
use clap::Subcommand;

use crate::cli::Global;

#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// Not wired yet.
    Scrape,
}

pub fn run(_global: &Global, _cmd: &IngestCommand) -> Result<u8> {
    bail!("`shadowgate ingest` is not wired yet")
}
