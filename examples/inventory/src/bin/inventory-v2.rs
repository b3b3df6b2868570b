//! `inventory-v2`: the candidate release of the example inventory service, with regressions.

use std::process::ExitCode;

use shadowgate_example_inventory::{cli, release::v2::V2};

fn main() -> ExitCode {
    cli::main(V2)
}
