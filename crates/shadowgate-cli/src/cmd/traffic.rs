//! `shadowgate mirror`, `record` and `replay`: production traffic into shadow environments.

use anyhow::{Result, bail};
use clap::Args;

use crate::cli::Global;

#[derive(Debug, Args)]
pub struct MirrorArgs {}

#[derive(Debug, Args)]
pub struct RecordArgs {}

#[derive(Debug, Args)]
pub struct ReplayArgs {}

pub fn mirror(_global: &Global, _args: &MirrorArgs) -> Result<u8> {
    bail!("`shadowgate mirror` is not wired yet")
}

pub fn record(_global: &Global, _args: &RecordArgs) -> Result<u8> {
    bail!("`shadowgate record` is not wired yet")
}

pub fn replay(_global: &Global, _args: &ReplayArgs) -> Result<u8> {
    bail!("`shadowgate replay` is not wired yet")
}
