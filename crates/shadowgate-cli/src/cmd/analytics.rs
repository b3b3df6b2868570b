//! `shadowgate forecast`, `detect`, `eval`, `recommend` and `predict`: learning production's
//! conditions from telemetry.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

use crate::cli::Global;

#[derive(Debug, Args)]
pub struct ForecastArgs {}

#[derive(Debug, Args)]
pub struct DetectArgs {}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Not wired yet.
    Nab,
}

#[derive(Debug, Args)]
pub struct RecommendArgs {}

#[derive(Debug, Args)]
pub struct PredictArgs {}

pub fn forecast(_global: &Global, _args: &ForecastArgs) -> Result<u8> {
    bail!("`shadowgate forecast` is not wired yet")
}

pub fn detect(_global: &Global, _args: &DetectArgs) -> Result<u8> {
    bail!("`shadowgate detect` is not wired yet")
}

pub fn eval(_global: &Global, _cmd: &EvalCommand) -> Result<u8> {
    bail!("`shadowgate eval` is not wired yet")
}

pub fn recommend(_global: &Global, _args: &RecommendArgs) -> Result<u8> {
    bail!("`shadowgate recommend` is not wired yet")
}

pub fn predict(_global: &Global, _args: &PredictArgs) -> Result<u8> {
    bail!("`shadowgate predict` is not wired yet")
}
