//! Integration tests of the load generator against real local HTTP servers.

mod coordinated_omission;
mod failures;
mod http2;
mod max_rate;
mod open_model;
mod server;

use shadowgate_core::traffic::{Plan, Traffic};
use shadowgate_load::{LoadConfig, RunReport, Target, run_open_model};

/// A `[traffic]` section from TOML text.
pub fn traffic(text: &str) -> Traffic {
    let traffic: Traffic = toml::from_str(text).unwrap();
    let problems = shadowgate_core::traffic::validate(&traffic);
    assert!(problems.is_empty(), "{problems:?}");
    traffic
}

pub fn plan(traffic: &Traffic) -> Plan {
    Plan::new(traffic, traffic.seed).unwrap()
}

/// Runs `traffic` to the end against `targets`, without progress or cancellation.
pub async fn run(traffic: &Traffic, targets: &[Target]) -> RunReport {
    run_open_model(
        &plan(traffic),
        targets,
        &LoadConfig::from_traffic(traffic),
        |_| {},
        std::future::pending(),
    )
    .await
    .unwrap()
}
