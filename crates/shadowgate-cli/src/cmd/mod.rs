//! One module per subcommand.

mod demo;
mod doctor;
pub(crate) mod env;
mod load;
mod runs;
mod validate;

use anyhow::Result;

use crate::cli::{Cli, Command};

/// Runs a parsed command line and returns the exit code.
pub fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Check(args) => crate::check::run(&cli.global, &args),
        Command::Demo(args) => demo::run(&cli.global, &args),
        Command::Load(args) => load::run(&args),
        Command::Runs(cmd) => runs::run(&cli.global, cmd),
        Command::Report(args) => runs::report(&cli.global, &args),
        Command::Validate(args) => validate::run(&args),
        Command::Doctor(args) => doctor::run(&args),
        Command::Env(cmd) => env::run(&cli.global, cmd),
    }
}
