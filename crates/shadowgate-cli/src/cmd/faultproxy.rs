//! `shadowgate faultproxy`: the Toxiproxy-compatible fault proxy as a server.

use anyhow::{Result, bail};
use clap::Args;

use crate::cli::Global;

#[derive(Debug, Args)]
pub struct FaultproxyArgs {}

pub fn run(_global: &Global, _args: &FaultproxyArgs) -> Result<u8> {
    bail!("`shadowgate faultproxy` is not wired yet")
}
