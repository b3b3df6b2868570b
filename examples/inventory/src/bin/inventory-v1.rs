//! `inventory-v1`: the baseline release of the example inventory service.

use std::process::ExitCode;

use shadowgate_example_inventory::{cli, release::v1::V1};

fn main() -> ExitCode {
    cli::main(V1)
}
