//! shadowgate's statistical judge: is the candidate release worse than the baseline?
//!
//! `shadowgate check` runs the baseline and the candidate side by side under the same load and
//! hands this crate, per metric, what it measured on each arm. The judge answers with a
//! [`Verdict`]: pass, marginal or fail, a score, and for every metric the numbers and a plain
//! sentence that explain its classification.
//!
//! Why it is built this way:
//!
//! - **A real two-sample comparison.** Fixed thresholds ("p99 below 300 ms") are blind to what
//!   the baseline does under the same conditions. Continuous metrics are compared with the
//!   Wilcoxon–Mann–Whitney rank-sum test and the Hodges–Lehmann shift estimate, which make no
//!   assumption about the shape of latency distributions and are not thrown by their tails;
//!   the numbers agree with R's `wilcox.test` (the reference Kayenta also ties out against).
//! - **Statistical significance is not enough.** With thousands of requests per arm, a 1 %
//!   change is "significant". A metric fails only when the change is significant *and* larger
//!   than the allowance configured for it, in the direction that hurts.
//! - **Counts need their own test.** Errors, timeouts and OOM kills are rare events; averaging
//!   per-interval counts hides them (Kayenta passes a canary whose baseline had no errors).
//!   Counts are compared as rates per unit of exposure with an exact conditional binomial
//!   test, which catches 0 vs 9 errors in 3,000 requests and does not over-read 0 vs 2 in 10.
//! - **No data is a decision, not an accident.** Every metric says what missing data means
//!   (`fail`, `ignore` or `inconclusive`), and a metric whose collection failed is reported and
//!   counted against the candidate, never silently dropped.
//! - **Pure.** The crate does no I/O and reads neither the clock nor a random source, so a
//!   verdict is a function of its inputs and can be recomputed from a stored report.
//!
//! The caller's side of the contract is small: deserialize a [`JudgeConfig`] from `[judge]`
//! and [`validate`] it; resolve each metric's [`source::MetricSource`] into a
//! [`MetricInput`]; call [`judge`]; report the [`Verdict`] (it serializes to the JSON report)
//! and exit with 0 exactly when [`Verdict::passes_gate`].
//!
//! At the default settings ([`default_metrics`], confidence 0.99, pass ≥ 90, marginal ≥ 70)
//! the Monte-Carlo tests simulate `check`'s default run (3,000 heavy-tailed latencies, rare
//! errors, and 30 autocorrelated CPU and memory samples per arm): identical releases pass in
//! 99.9 % of 20,000 simulated checks, and a 10 % latency regression fails in 99.9 % of 5,000.

mod classify;
mod explain;
mod judge;
mod score;

pub mod binomial;
pub mod config;
pub mod input;
pub mod normal;
pub mod rank_test;
pub mod rate_test;
pub mod sample;
pub mod source;
pub mod verdict;

#[cfg(test)]
mod test_reference;

pub use config::{JudgeConfig, default_metrics, validate};
pub use input::{MetricData, MetricInput};
pub use judge::judge;
pub use verdict::Verdict;
