//! The report document of a check, built from what it observed.

use std::time::Duration;

use shadowgate_core::traffic::Phase;
use shadowgate_judge::config::MarginalPolicy;
use shadowgate_load::{ErrorKind, RequestRecord};
use shadowgate_report::{
    Arm, CheckReport, EventArm, EventKind, ExitStatus, LatencyDistribution, LatencyPercentiles,
    LoadSummary, PerArm, ReleaseUnderTest, SchemaVersion, SeriesMetric, Setting, SettingSource,
    TimeSeries, TimeWindow, TimelineEvent,
};

use super::{ArmData, INTERVAL, Outcome, collect};

pub fn build(o: &Outcome) -> CheckReport {
    let arms = [Arm::Baseline, Arm::Candidate];
    let mut time_series = Vec::new();
    for (arm, data) in arms.into_iter().zip(&o.arms) {
        time_series.extend(series_of(arm, data));
    }
    let mut events = Vec::new();
    for (arm, data) in [EventArm::Baseline, EventArm::Candidate].into_iter().zip(&o.arms) {
        for t in &data.oom_kills {
            events.push(TimelineEvent {
                start_ms: (*t).max(0) as u64,
                end_ms: None,
                arm,
                kind: EventKind::OomKill,
                message: "the kernel OOM-killed a process at the memory limit".into(),
            });
        }
        for t in &data.restarts {
            events.push(TimelineEvent {
                start_ms: (*t).max(0) as u64,
                end_ms: None,
                arm,
                kind: EventKind::Restart,
                message: "the application restarted".into(),
            });
        }
    }
    events.extend(o.faults.iter().cloned());
    events.sort_by_key(|e| e.start_ms);
    let marginal_code = match o.verdict.on_marginal {
        MarginalPolicy::Pass => 0,
        MarginalPolicy::Fail => 1,
    };
    let mut warnings = o.warnings.clone();
    for (name, data) in ["baseline", "candidate"].iter().zip(&o.arms) {
        let measured = data.records.iter().filter(|r| r.phase == Phase::Measured).count();
        if measured < 50 {
            warnings.push(format!(
                "the {name} answered only {measured} judged requests; verdicts on fewer than 50 are weak"
            ));
        }
    }
    CheckReport {
        schema: SchemaVersion,
        run_id: o.run_id.clone(),
        app: o.app.clone(),
        started_at_unix_ms: o.started_ms.max(0) as u64,
        wall_duration_ms: o.wall.as_millis() as u64,
        baseline: ReleaseUnderTest {
            release: o.baseline.0.clone(),
            environment_id: o.baseline.1.clone(),
        },
        candidate: ReleaseUnderTest {
            release: o.candidate.0.clone(),
            environment_id: o.candidate.1.clone(),
        },
        exit: ExitStatus { code: i32::from(o.exit_code), marginal_code },
        verdict: o.verdict.clone(),
        settings: o
            .settings
            .iter()
            .map(|s| Setting {
                name: s.name.to_string(),
                value: s.value.clone(),
                source: match s.source {
                    "flag" => SettingSource::Flag,
                    "manifest" => SettingSource::Manifest,
                    "predicted" => SettingSource::Predicted,
                    "conditions" => SettingSource::Conditions,
                    _ => SettingSource::Default,
                },
            })
            .collect(),
        load: PerArm {
            baseline: load_summary(&o.arms[0].records, o.offered_rate),
            candidate: load_summary(&o.arms[1].records, o.offered_rate),
        },
        latency_distribution: PerArm {
            baseline: distribution(&o.arms[0].records),
            candidate: distribution(&o.arms[1].records),
        },
        warmup: (!o.warmup.is_zero())
            .then_some(TimeWindow { start_ms: 0, end_ms: o.warmup.as_millis() as u64 }),
        events,
        time_series,
        tests: o.tests.clone(),
        warnings,
        conditions: None,
        diff: o.diff.clone(),
    }
}

fn series_of(arm: Arm, data: &ArmData) -> Vec<TimeSeries> {
    // Interval-end timestamps: a bucket starting at t covers [t, t + 1 s).
    let end = |t: i64| (t + INTERVAL.as_millis() as i64).max(0) as u64;
    let all_phases = |percentile: f64| -> Vec<(u64, Option<f64>)> {
        let mut records = data.records.clone();
        for r in &mut records {
            r.phase = Phase::Measured;
        }
        collect::interval_percentile(&records, INTERVAL, percentile)
            .into_iter()
            .map(|(t, v)| (end(t), Some(v * 1000.0)))
            .collect()
    };
    let counts = collect::interval_counts(&data.records, INTERVAL);
    let resource = |s: &[(i64, f64)]| {
        s.iter().filter(|(t, _)| *t >= 0).map(|(t, v)| (*t as u64, Some(*v))).collect()
    };
    vec![
        TimeSeries::new(SeriesMetric::LatencyP50, arm, all_phases(50.0)),
        TimeSeries::new(SeriesMetric::LatencyP99, arm, all_phases(99.0)),
        TimeSeries::new(
            SeriesMetric::RequestsPerSecond,
            arm,
            counts.iter().map(|(t, n, _)| (end(*t), Some(*n))).collect(),
        ),
        TimeSeries::new(
            SeriesMetric::Errors,
            arm,
            counts.iter().map(|(t, _, e)| (end(*t), Some(*e))).collect(),
        ),
        TimeSeries::new(SeriesMetric::CpuCores, arm, resource(&data.cpu)),
        TimeSeries::new(SeriesMetric::MemoryBytes, arm, resource(&data.memory)),
    ]
}

fn load_summary(records: &[RequestRecord], offered_rate: f64) -> LoadSummary {
    let measured: Vec<&RequestRecord> =
        records.iter().filter(|r| r.phase == Phase::Measured).collect();
    let mut summary = LoadSummary { offered_rate_per_s: offered_rate, ..LoadSummary::default() };
    summary.requests = measured.len() as u64;
    let mut latencies = Vec::new();
    for r in &measured {
        match r.error {
            Some(kind) => {
                summary.errors += 1;
                *summary.errors_by_kind.entry(error_name(kind).to_string()).or_default() += 1;
            }
            None => {
                summary.responses += 1;
                latencies.push(r.latency.as_secs_f64() * 1000.0);
            }
        }
        if let Some(status) = r.status {
            *summary.statuses.entry(status).or_default() += 1;
        }
    }
    let span = measured
        .iter()
        .map(|r| r.intended)
        .fold((Duration::MAX, Duration::ZERO), |(lo, hi), t| (lo.min(t), hi.max(t)));
    let seconds = span.1.saturating_sub(span.0).as_secs_f64();
    if seconds > 0.0 {
        summary.achieved_rate_per_s = summary.responses as f64 / seconds;
    }
    if !latencies.is_empty() {
        latencies.sort_by(f64::total_cmp);
        let q = |p: f64| {
            latencies[(((p / 100.0) * latencies.len() as f64).ceil() as usize)
                .clamp(1, latencies.len())
                - 1]
        };
        summary.latency_ms = Some(LatencyPercentiles {
            min: latencies[0],
            mean: latencies.iter().sum::<f64>() / latencies.len() as f64,
            p50: q(50.0),
            p90: q(90.0),
            p95: q(95.0),
            p99: q(99.0),
            p999: q(99.9),
            max: latencies[latencies.len() - 1],
        });
    }
    summary
}

fn error_name(kind: ErrorKind) -> &'static str {
    kind.as_str()
}

fn distribution(records: &[RequestRecord]) -> LatencyDistribution {
    LatencyDistribution::from_latencies_ms(
        records
            .iter()
            .filter(|r| r.phase == Phase::Measured && r.error.is_none())
            .map(|r| (r.latency.as_secs_f64() * 1000.0, 1)),
        shadowgate_report::DEFAULT_BUCKETS_PER_DECADE,
    )
}
