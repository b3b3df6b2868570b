//! The `shadowgate` command.
//!
//! This crate is the imperative shell's entry point: it parses arguments, loads manifests,
//! opens the store and wires the library crates together. Exit codes are part of the interface:
//! 0 pass, 1 fail (an unsafe release is a verdict, not an error), 2 error.

mod check;
mod cli;
mod cmd;
mod context;
mod output;

use std::process::ExitCode;

use clap::Parser;

/// Exit codes.
pub const EXIT_PASS: u8 = 0;
pub const EXIT_FAIL: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let _ = args.next();
    // Internal modes run before argument parsing: they are re-executions of this binary.
    match args.next().as_deref().and_then(|a| a.to_str()) {
        Some("__supervise") => {
            let dir = args.next().unwrap_or_default();
            shadowgate_sandbox::supervisor::main(std::path::Path::new(&dir));
        }
        Some("__init") => {
            let spec = args.next().unwrap_or_default();
            shadowgate_sandbox::init::main(std::path::Path::new(&spec));
        }
        _ => {}
    }
    let cli = cli::Cli::parse();
    output::init(&cli.global);
    match cmd::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            output::error(&e);
            ExitCode::from(EXIT_ERROR)
        }
    }
}
