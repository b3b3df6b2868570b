//! Seeded Monte-Carlo runs of the whole judge at its default settings.
//!
//! The thresholds are the product's promises: at most 1 % false alarms over A/A comparisons
//! and at least 95 % detection of a 10 % latency regression at the default sample size.

use crate::simulate::{Rng, default_check};
use shadowgate_judge::{JudgeConfig, judge, verdict::Decision};

const RUNS: usize = 500;

#[test]
fn identical_releases_pass_at_least_99_percent_of_the_time() {
    let config = JudgeConfig::default();
    let mut rng = Rng::new(0x5EED_A11A);
    let mut not_passed = Vec::new();
    for run in 0..RUNS {
        let verdict = judge(&config, &default_check(&mut rng, 1.0));
        if verdict.decision != Decision::Pass {
            not_passed.push(format!("run {run}: {}", verdict.summary));
        }
    }
    let rate = not_passed.len() as f64 / RUNS as f64;
    assert!(
        rate <= 0.01,
        "false-positive rate {rate} over {RUNS} A/A checks:\n{}",
        not_passed.join("\n")
    );
}

#[test]
fn a_ten_percent_latency_regression_fails_at_least_95_percent_of_the_time() {
    let config = JudgeConfig::default();
    let mut rng = Rng::new(0x5EED_B00B);
    let mut missed = Vec::new();
    for run in 0..RUNS {
        let verdict = judge(&config, &default_check(&mut rng, 1.1));
        if verdict.decision != Decision::Fail {
            missed.push(format!("run {run}: {}", verdict.summary));
        }
    }
    let power = 1.0 - missed.len() as f64 / RUNS as f64;
    assert!(
        power >= 0.95,
        "power {power} over {RUNS} checks with +10% latency:\n{}",
        missed.join("\n")
    );
}
