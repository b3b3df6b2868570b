//! Measures the judge's false-positive rate and power at its default settings.
//!
//! `cargo run --release -p shadowgate-judge --example monte_carlo -- 20000 5000` simulates
//! 20,000 checks of two identical releases and 5,000 checks of a candidate whose latency is
//! 10 % higher, with the generators of the Monte-Carlo tests, and prints how often each
//! decision came out and which metrics did not pass.

#[path = "../tests/it/simulate.rs"]
mod simulate;

use shadowgate_judge::{
    JudgeConfig, judge,
    verdict::{Decision, Outcome},
};
use simulate::{Rng, default_check};
use std::collections::BTreeMap;

/// Runs `runs` simulated checks with the candidate's latency scaled by `latency_scale`.
fn simulate(runs: usize, latency_scale: f64, seed: u64) {
    let config = JudgeConfig::default();
    let mut rng = Rng::new(seed);
    let mut decisions: BTreeMap<&str, usize> = BTreeMap::new();
    let mut not_passed: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..runs {
        let verdict = judge(&config, &default_check(&mut rng, latency_scale));
        let decision = match verdict.decision {
            Decision::Pass => "pass",
            Decision::Marginal => "marginal",
            Decision::Fail => "fail",
        };
        *decisions.entry(decision).or_default() += 1;
        for metric in verdict.metrics.iter().filter(|metric| metric.outcome != Outcome::Pass) {
            *not_passed.entry(format!("{} {:?}", metric.name, metric.outcome)).or_default() += 1;
        }
    }
    let share = |count: usize| 100.0 * count as f64 / runs as f64;
    println!("{runs} checks, candidate latency x{latency_scale}:");
    for (decision, count) in &decisions {
        println!("  {decision:<9} {count:>6}  ({:.2} %)", share(*count));
    }
    for (metric, count) in &not_passed {
        println!("  metric {metric:<24} {count:>6}  ({:.2} %)", share(*count));
    }
}

fn main() {
    let mut args = std::env::args().skip(1).map(|arg| arg.parse::<usize>());
    let identical = args.next().and_then(Result::ok).unwrap_or(2000);
    let regressed = args.next().and_then(Result::ok).unwrap_or(1000);
    simulate(identical, 1.0, 1);
    simulate(regressed, 1.1, 2);
}
