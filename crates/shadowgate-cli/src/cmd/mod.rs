//! One module per subcommand.

pub(crate) mod analytics;
pub(crate) mod data;
mod demo;
mod doctor;
pub(crate) mod env;
pub(crate) mod faultproxy;
pub(crate) mod ingest;
mod load;
mod runs;
pub(crate) mod traffic;
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
        Command::Faultproxy(args) => faultproxy::run(&cli.global, &args),
        Command::Mirror(args) => traffic::mirror(&cli.global, &args),
        Command::Record(args) => traffic::record(&cli.global, &args),
        Command::Replay(args) => traffic::replay(&cli.global, &args),
        Command::Ingest(cmd) => ingest::run(&cli.global, &cmd),
        Command::Forecast(args) => analytics::forecast(&cli.global, &args),
        Command::Detect(args) => analytics::detect(&cli.global, &args),
        Command::Eval(cmd) => analytics::eval(&cli.global, &cmd),
        Command::Recommend(args) => analytics::recommend(&cli.global, &args),
        Command::Predict(args) => analytics::predict(&cli.global, &args),
        Command::Data(cmd) => data::run(&cmd),
    }
}
