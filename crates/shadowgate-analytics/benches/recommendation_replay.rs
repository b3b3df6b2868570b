//! Replays usage traces through VPA, the naive rule and the forecast-aware recommender, and
//! prints OOM events, throttled fraction and slack for each.
//!
//! Run: `cargo bench -p shadowgate-analytics --bench recommendation_replay`
//! (NAB files from `$SHADOWGATE_NAB_DIR`, default the shared subset).

#[path = "../tests/support/nab_files.rs"]
mod nab_files;
#[path = "../tests/support/traces.rs"]
mod traces;

use std::time::Instant;

use shadowgate_analytics::recommend::forecast_aware::{
    ForecastAwareConfig, ForecastAwareRecommender,
};
use shadowgate_analytics::recommend::naive::NaiveRecommender;
use shadowgate_analytics::recommend::replay::{self, ReplayConfig, ReplayReport};
use shadowgate_analytics::recommend::vpa::{VpaConfig, VpaRecommender};
use shadowgate_analytics::recommend::{Recommender, UsageSample};

fn main() {
    let nab_dir = nab_files::nab_dir();
    let corpus = nab_files::read_corpus(&nab_dir);
    let rows_of = |name: &str| -> Vec<(i64, f64)> {
        let file = corpus
            .iter()
            .find(|file| file.name == name)
            .unwrap_or_else(|| panic!("{name} is missing from {}", nab_dir.display()));
        file.timestamps.iter().copied().zip(file.values.iter().copied()).collect()
    };
    let traces = vec![
        traces::from_cpu_percent(
            "NAB cpu_utilization_asg_misconfiguration (CPU %)",
            &rows_of("realKnownCause/cpu_utilization_asg_misconfiguration.csv"),
        ),
        traces::from_cpu_percent(
            "NAB ec2_request_latency_system_failure (CPU %)",
            &rows_of("realKnownCause/ec2_request_latency_system_failure.csv"),
        ),
        traces::from_load("NAB nyc_taxi as load", &rows_of("realKnownCause/nyc_taxi.csv"), 7),
        traces::synthetic_diurnal(28, None, true, 1),
        traces::synthetic_diurnal(28, Some(14), true, 2),
        traces::synthetic_diurnal(28, Some(14), false, 3),
    ];
    let config = ReplayConfig::default();
    println!(
        "limits recomputed every {} s; the first {} s only train; limit = target (request = limit)\n",
        config.recompute_interval_seconds, config.warmup_seconds
    );
    println!(
        "{:<16} {:>8} {:>6} {:>10} {:>9} {:>9} {:>11} {:>12} {:>8}",
        "recommender",
        "samples",
        "OOMs",
        "throttled",
        "cpu slack",
        "mem slack",
        "mean cpu",
        "mean mem MiB",
        "time s"
    );
    for trace in &traces {
        println!("{} ({} samples{})", trace.name, trace.samples.len(), load_note(&trace.samples));
        let mut recommenders: Vec<Box<dyn Recommender>> = vec![
            Box::new(VpaRecommender::new(VpaConfig::default())),
            Box::new(NaiveRecommender::new(8 * 86_400, 1.2)),
            Box::new(ForecastAwareRecommender::new(ForecastAwareConfig {
                horizon_seconds: config.recompute_interval_seconds,
                ..ForecastAwareConfig::default()
            })),
        ];
        let mut reports: Vec<ReplayReport> = Vec::new();
        for recommender in recommenders.iter_mut() {
            let started = Instant::now();
            let report =
                replay::replay(&trace.samples, recommender.as_mut(), &config).expect("valid trace");
            print_report(&report, started.elapsed().as_secs_f64());
            reports.push(report);
        }
        let (vpa, ours) = (&reports[0], &reports[2]);
        println!(
            "  ours vs VPA: OOMs {} vs {}, cpu slack ×{:.2}, memory slack ×{:.2}, throttled {:.2} pp\n",
            ours.oom_events,
            vpa.oom_events,
            ours.cpu_slack / vpa.cpu_slack,
            ours.memory_slack / vpa.memory_slack,
            100.0 * (ours.throttled_fraction - vpa.throttled_fraction)
        );
    }
}

fn load_note(samples: &[UsageSample]) -> &'static str {
    if samples.iter().all(|sample| sample.load.is_some()) { ", with load" } else { "" }
}

fn print_report(report: &ReplayReport, seconds: f64) {
    println!(
        "  {:<14} {:>8} {:>6} {:>9.2}% {:>9.3} {:>9.3} {:>11.3} {:>12.0} {:>8.2}",
        report.recommender,
        report.scored_samples,
        report.oom_events,
        100.0 * report.throttled_fraction,
        report.cpu_slack,
        report.memory_slack,
        report.mean_limit.cpu_cores,
        report.mean_limit.memory_bytes / traces::MIB,
        seconds
    );
}
