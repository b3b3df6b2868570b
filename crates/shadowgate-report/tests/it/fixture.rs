//! A fixed, realistic report: a one-minute check whose verdict comes from the real judge.
//!
//! The data are deterministic (quantiles of closed-form distributions, no random source), so
//! the golden files stay stable. The metrics cover every outcome the renderings distinguish:
//! a critical failure, passes, an ignored metric without data, a collection error, an
//! inconclusive metric and a failing dry run.

use shadowgate_judge::{
    JudgeConfig, MetricInput,
    config::{Direction, MetricConfig, NoDataPolicy},
    source::MetricSource,
};
use shadowgate_report::{
    Arm, CheckReport, EventArm, EventKind, ExitStatus, LatencyDistribution, LatencyPercentiles,
    LoadSummary, PerArm, ReleaseUnderTest, SchemaVersion, SeriesMetric, Setting, SettingSource,
    TestCommandResult, TimeSeries, TimeWindow, TimelineEvent,
};
use std::collections::BTreeMap;

/// How the candidate behaves relative to the baseline.
#[derive(Clone, Copy, Debug)]
pub struct CandidateBehaviour {
    /// Multiplies every latency of the candidate.
    pub latency_factor: f64,
    /// Failed requests of the candidate out of 3,000.
    pub errors: u64,
    /// Whether every custom metric could be collected in full; when not, one collection
    /// fails and another metric gets too few samples.
    pub complete_data: bool,
}

/// The candidate is 12 % slower and fails more requests: the check fails.
pub const SLOWER: CandidateBehaviour =
    CandidateBehaviour { latency_factor: 1.12, errors: 14, complete_data: false };
/// The candidate behaves like the baseline.
pub const SAME: CandidateBehaviour =
    CandidateBehaviour { latency_factor: 1.0, errors: 2, complete_data: true };

const REQUESTS: usize = 3000;
const RUN_MS: u64 = 60_000;
const WARMUP_MS: u64 = 10_000;

/// The fixed report the golden files are rendered from.
pub fn sample_report() -> CheckReport {
    report_with(SLOWER)
}

/// A report whose candidate behaves as described.
pub fn report_with(behaviour: CandidateBehaviour) -> CheckReport {
    let baseline_latencies = request_latencies_ms(1.0);
    let candidate_latencies = request_latencies_ms(behaviour.latency_factor);
    let verdict = shadowgate_judge::judge(&judge_config(), &judge_inputs(&behaviour));
    let exit_code = if verdict.passes_gate { 0 } else { 1 };
    CheckReport {
        schema: SchemaVersion,
        run_id: "run-20261123-0042".to_string(),
        app: "inventory".to_string(),
        started_at_unix_ms: 1_795_459_573_000,
        wall_duration_ms: 71_480,
        baseline: ReleaseUnderTest {
            release: "v1.4.2".to_string(),
            environment_id: "sg-env-7f3a-baseline".to_string(),
        },
        candidate: ReleaseUnderTest {
            release: "v1.5.0-rc.1".to_string(),
            environment_id: "sg-env-7f3a-candidate".to_string(),
        },
        exit: ExitStatus { code: exit_code, marginal_code: 1 },
        verdict,
        settings: settings(),
        load: PerArm {
            baseline: load_summary(&baseline_latencies, 2),
            candidate: load_summary(&candidate_latencies, behaviour.errors),
        },
        latency_distribution: PerArm {
            baseline: distribution(&baseline_latencies),
            candidate: distribution(&candidate_latencies),
        },
        warmup: Some(TimeWindow { start_ms: 0, end_ms: WARMUP_MS }),
        events: events(),
        time_series: time_series(behaviour),
        tests: vec![
            TestCommandResult {
                name: "smoke".to_string(),
                passed: true,
                duration_ms: 1_840,
                output_tail: "GET /items 200\nGET /items/42 200\n2 passed".to_string(),
                selected_because: "always run".to_string(),
            },
            TestCommandResult {
                name: "migrations".to_string(),
                passed: false,
                duration_ms: 12_305,
                output_tail: "\u{1b}[1mrunning 3 migrations\u{1b}[0m\n\u{1b}[31merror\u{1b}[0m: \
                              column \"sku\" already exists\nexit status 1"
                    .to_string(),
                selected_because: "the schema changed between v1.4.2 and v1.5.0-rc.1".to_string(),
            },
        ],
        warnings: vec![
            "the candidate's CPU samples start 2 s late; the first two intervals are left out"
                .to_string(),
        ],
        conditions: None,
        diff: None,
    }
}

/// The fixed report with series sampled every second for `seconds`, as a long run gives.
pub fn long_report(seconds: u64) -> CheckReport {
    let mut report = sample_report();
    for series in &mut report.time_series {
        let level = series.points.last().and_then(|point| point.1).unwrap_or(1.0);
        series.points = (1..=seconds)
            .map(|second| {
                let wobble = 1.0 + 0.05 * (second as f64 / 7.0).sin();
                (second * 1000, Some(level * wobble))
            })
            .collect();
    }
    report.wall_duration_ms = seconds * 1000 + 11_480;
    report
}

fn judge_config() -> JudgeConfig {
    let mut metrics = shadowgate_judge::default_metrics();
    metrics.push(MetricConfig {
        group: Some("latency".into()),
        allowed_increase_percent: 15.0,
        ..MetricConfig::new("p99_latency", MetricSource::IntervalLatency { percentile: 99.0 })
    });
    metrics.push(MetricConfig {
        group: Some("custom".into()),
        no_data: NoDataPolicy::Ignore,
        ..MetricConfig::new("queue_depth", MetricSource::Prometheus { name: "queue_depth".into() })
    });
    metrics.push(MetricConfig {
        group: Some("custom".into()),
        direction: Direction::Decrease,
        ..MetricConfig::new(
            "cache_hit_ratio",
            MetricSource::Prometheus { name: "cache_hit_ratio".into() },
        )
    });
    metrics.push(MetricConfig {
        group: Some("custom".into()),
        no_data: NoDataPolicy::Inconclusive,
        ..MetricConfig::new(
            "gc_pause",
            MetricSource::Prometheus { name: "gc_pause_seconds".into() },
        )
    });
    metrics.push(MetricConfig {
        group: Some("errors".into()),
        dry_run: true,
        allowed_increase_percent: 0.0,
        ..MetricConfig::new("timeouts", MetricSource::RequestTimeouts)
    });
    JudgeConfig { metrics, ..JudgeConfig::default() }
}

fn judge_inputs(behaviour: &CandidateBehaviour) -> Vec<MetricInput> {
    let seconds = |values: Vec<f64>| values.into_iter().map(|ms| ms / 1000.0).collect();
    let interval_p99 = |factor: f64| -> Vec<f64> {
        (0..50).map(|idx| (40.0 + 3.0 * (idx as f64 * 0.7).sin()) * factor / 1000.0).collect()
    };
    let resource = |level: f64, wobble: f64| -> Vec<f64> {
        (0..50).map(|idx| level + wobble * (idx as f64 * 1.3).sin()).collect()
    };
    vec![
        MetricInput::continuous(
            "request_latency",
            seconds(request_latencies_ms(1.0)),
            seconds(request_latencies_ms(behaviour.latency_factor)),
        ),
        MetricInput::count("error_rate", (2, 3000.0), (behaviour.errors, 3000.0)),
        MetricInput::continuous("cpu", resource(0.42, 0.03), resource(0.44, 0.03)),
        MetricInput::continuous(
            "memory",
            resource(182.0 * 1048576.0, 2.0 * 1048576.0),
            resource(191.0 * 1048576.0, 2.0 * 1048576.0),
        ),
        MetricInput::count("oom_kills", (0, 50.0), (0, 50.0)),
        MetricInput::continuous(
            "p99_latency",
            interval_p99(1.0),
            interval_p99(behaviour.latency_factor),
        ),
        MetricInput::continuous("queue_depth", Vec::new(), Vec::new()),
        if behaviour.complete_data {
            MetricInput::continuous("cache_hit_ratio", resource(0.9, 0.01), resource(0.9, 0.01))
        } else {
            MetricInput::failed("cache_hit_ratio", "Prometheus answered 503 Service Unavailable")
        },
        if behaviour.complete_data {
            MetricInput::continuous("gc_pause", resource(0.002, 0.0001), resource(0.002, 0.0001))
        } else {
            MetricInput::continuous("gc_pause", vec![0.002; 3], vec![0.002; 4])
        },
        MetricInput::count("timeouts", (0, 3000.0), (behaviour.errors, 3000.0)),
    ]
}

/// Request latencies: a floor plus an exponential tail, at evenly spaced quantiles.
fn request_latencies_ms(factor: f64) -> Vec<f64> {
    (0..REQUESTS)
        .map(|idx| {
            let p = (idx as f64 + 0.5) / REQUESTS as f64;
            (8.0 + 6.0 * -(1.0 - p).ln()) * factor
        })
        .collect()
}

fn distribution(latencies_ms: &[f64]) -> LatencyDistribution {
    LatencyDistribution::from_latencies_ms(
        latencies_ms.iter().map(|ms| (*ms, 1)),
        shadowgate_report::DEFAULT_BUCKETS_PER_DECADE,
    )
}

fn load_summary(latencies_ms: &[f64], errors: u64) -> LoadSummary {
    let quantile = |q: f64| latencies_ms[((latencies_ms.len() - 1) as f64 * q).round() as usize];
    let responses = latencies_ms.len() as u64 - errors;
    LoadSummary {
        requests: latencies_ms.len() as u64,
        responses,
        errors,
        errors_by_kind: BTreeMap::from([
            ("connect".to_string(), 0),
            ("reset".to_string(), errors / 2),
            ("timeout".to_string(), errors - errors / 2),
        ]),
        statuses: BTreeMap::from([(200, responses - 3), (404, 3)]),
        offered_rate_per_s: 60.0,
        achieved_rate_per_s: responses as f64 / 50.0,
        latency_ms: Some(LatencyPercentiles {
            min: latencies_ms[0],
            mean: latencies_ms.iter().sum::<f64>() / latencies_ms.len() as f64,
            p50: quantile(0.5),
            p90: quantile(0.9),
            p95: quantile(0.95),
            p99: quantile(0.99),
            p999: quantile(0.999),
            max: latencies_ms[latencies_ms.len() - 1],
        }),
    }
}

fn settings() -> Vec<Setting> {
    let setting = |name: &str, value: &str, source| Setting {
        name: name.to_string(),
        value: value.to_string(),
        source,
    };
    vec![
        setting("load.rate", "60/s", SettingSource::Predicted),
        setting("load.arrival", "poisson", SettingSource::Manifest),
        setting("load.duration", "60 s", SettingSource::Flag),
        setting("load.warmup", "10 s", SettingSource::Default),
        setting("load.seed", "42", SettingSource::Default),
        setting("load.connections", "32", SettingSource::Manifest),
        setting("metrics.sample_interval", "1 s", SettingSource::Default),
        setting("resources.cpu", "1.5 cores", SettingSource::Predicted),
        setting("resources.memory", "512 MiB", SettingSource::Manifest),
    ]
}

fn events() -> Vec<TimelineEvent> {
    vec![
        TimelineEvent {
            start_ms: 30_000,
            end_ms: Some(38_000),
            arm: EventArm::Both,
            kind: EventKind::Fault,
            message: "latency +40 ms on inventory → postgres".to_string(),
        },
        TimelineEvent {
            start_ms: 44_500,
            end_ms: None,
            arm: EventArm::Candidate,
            kind: EventKind::OomKill,
            message: "worker 3 killed at 512 MiB".to_string(),
        },
        TimelineEvent {
            start_ms: 45_200,
            end_ms: None,
            arm: EventArm::Candidate,
            kind: EventKind::Restart,
            message: "worker 3 restarted".to_string(),
        },
    ]
}

fn time_series(behaviour: CandidateBehaviour) -> Vec<TimeSeries> {
    let factor = |arm: Arm| if arm == Arm::Candidate { behaviour.latency_factor } else { 1.0 };
    let during_fault = |t_ms: u64| (30_000..38_000).contains(&t_ms);
    let mut res = Vec::new();
    for arm in Arm::BOTH {
        let wave = |t_ms: u64, period: f64| (t_ms as f64 / 1000.0 / period).sin();
        let series = |metric: SeriesMetric, value: &dyn Fn(u64) -> Option<f64>| {
            let points =
                (1..=RUN_MS / 1000).map(|second| second * 1000).map(|t| (t, value(t))).collect();
            TimeSeries::new(metric, arm, points)
        };
        let warm = |t_ms: u64| {
            if t_ms <= WARMUP_MS { 1.0 + (WARMUP_MS - t_ms) as f64 / 4000.0 } else { 1.0 }
        };
        let fault_delay = |t_ms: u64| if during_fault(t_ms) { 40.0 } else { 0.0 };
        res.push(series(SeriesMetric::LatencyP50, &|t| {
            Some((12.0 + 0.6 * wave(t, 3.0)) * factor(arm) * warm(t) + fault_delay(t))
        }));
        res.push(series(SeriesMetric::LatencyP99, &|t| {
            // The candidate served nothing in one interval of the fault: a gap.
            if arm == Arm::Candidate && t == 35_000 {
                return None;
            }
            Some((36.0 + 3.0 * wave(t, 2.0)) * factor(arm) * warm(t) + fault_delay(t) * 1.5)
        }));
        res.push(series(SeriesMetric::RequestsPerSecond, &|t| {
            Some(if during_fault(t) { 41.0 } else { 60.0 + 2.0 * wave(t, 1.7) })
        }));
        res.push(series(SeriesMetric::Errors, &|t| {
            let faulty = arm == Arm::Candidate && behaviour.errors > 2 && during_fault(t);
            Some(if faulty { 1.5 } else { 0.0 })
        }));
        res.push(series(SeriesMetric::CpuCores, &|t| {
            let level = if arm == Arm::Candidate { 0.44 } else { 0.42 };
            Some(level * warm(t) + 0.03 * wave(t, 2.3))
        }));
        res.push(series(SeriesMetric::MemoryBytes, &|t| {
            let level = if arm == Arm::Candidate { 191.0 } else { 182.0 };
            let growth =
                if arm == Arm::Candidate && t > 45_200 { -20.0 } else { t as f64 / 6000.0 };
            Some((level + growth + 2.0 * wave(t, 4.0)) * 1048576.0)
        }));
    }
    res
}
