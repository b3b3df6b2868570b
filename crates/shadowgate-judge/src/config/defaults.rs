//! The metrics judged when `[judge]` lists none, and why their settings are what they are.
//!
//! They are tuned for `check`'s default run (about 3,000 requests, 30 one-second intervals
//! and 30 resource samples per arm after warm-up) and measured by the Monte-Carlo tests: at
//! these settings an A/A comparison (two identical releases) passes at least 99 % of the time
//! (99.9 % over 20,000 simulated checks), and a 10 % latency regression fails at least 95 % of
//! the time (99.9 % over 5,000).

use super::{Direction, MetricConfig, NoDataPolicy};
use crate::source::MetricSource;

/// Latency, error rate, CPU, memory and OOM kills, in four groups of equal weight:
///
/// - `request_latency` (group `latency`, critical): fails when the candidate's latency is
///   significantly higher by more than 5 % of the baseline median. At 3,000 requests per arm
///   the relative Hodges–Lehmann shift of a heavy-tailed latency distribution has a standard
///   error of about 1.3 %, so a 5 % allowance keeps A/A noise out while a 10 % regression is
///   caught almost always. No latency data means the application served nothing: fail.
/// - `error_rate` (group `errors`, critical): fails when the failed-request rate is
///   significantly higher by more than 10 %; an exact test, so 0 errors in the baseline and 9
///   of 3,000 in the candidate fails. No requests at all: fail.
/// - `cpu` and `memory` (group `resources`): fail when significantly higher by more than
///   25 %. Resource samples are few and autocorrelated, so a tighter allowance would turn
///   ordinary jitter into failures; a failure here makes the verdict marginal, not failed.
/// - `oom_kills` (group `stability`, critical): any OOM kill of the candidate fails, whatever
///   the baseline did: one kill in a 30-second rehearsal is never noise worth shipping.
pub fn default_metrics() -> Vec<MetricConfig> {
    let latency = MetricConfig {
        group: Some("latency".into()),
        direction: Direction::Increase,
        allowed_increase_percent: 5.0,
        critical: true,
        no_data: NoDataPolicy::Fail,
        ..MetricConfig::new("request_latency", MetricSource::RequestLatency)
    };
    let errors = MetricConfig {
        group: Some("errors".into()),
        direction: Direction::Increase,
        allowed_increase_percent: 10.0,
        critical: true,
        no_data: NoDataPolicy::Fail,
        ..MetricConfig::new("error_rate", MetricSource::RequestErrors)
    };
    let resource = |name: &str, source: MetricSource| MetricConfig {
        group: Some("resources".into()),
        direction: Direction::Increase,
        allowed_increase_percent: 25.0,
        no_data: NoDataPolicy::Inconclusive,
        ..MetricConfig::new(name, source)
    };
    let oom_kills = MetricConfig {
        group: Some("stability".into()),
        direction: Direction::Increase,
        critical: true,
        max_candidate_events: Some(0),
        no_data: NoDataPolicy::Inconclusive,
        ..MetricConfig::new("oom_kills", MetricSource::EventOomKill)
    };
    vec![
        latency,
        errors,
        resource("cpu", MetricSource::ResourceCpu),
        resource("memory", MetricSource::ResourceMemory),
        oom_kills,
    ]
}
