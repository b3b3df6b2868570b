//! From what a check observed to what the judge and the report need.
//!
//! Pure functions over the load generator's per-request records, the resource samples the
//! supervisors stored and the events they recorded. Both arms go through exactly the same code.

use std::time::Duration;

use shadowgate_core::traffic::Phase;
use shadowgate_judge::{MetricInput, config::MetricConfig, source::MetricSource};
use shadowgate_load::{ErrorKind, RequestRecord};

/// Everything observed of one arm, with times in milliseconds since the load started.
#[derive(Clone, Debug, Default)]
pub struct ArmData {
    pub records: Vec<RequestRecord>,
    /// (ms since start, value) of `resource.cpu` (cores).
    pub cpu: Vec<(i64, f64)>,
    /// (ms since start, value) of `resource.memory` (bytes).
    pub memory: Vec<(i64, f64)>,
    /// Times (ms since start) of OOM kills.
    pub oom_kills: Vec<i64>,
    /// Times of restarts of the application.
    pub restarts: Vec<i64>,
    /// `prom:` metrics scraped from the application: name → (ms since start, value).
    pub prometheus: std::collections::BTreeMap<String, Vec<(i64, f64)>>,
    /// Why Prometheus metrics could not be collected, if they could not.
    pub prometheus_error: Option<String>,
}

/// The judged window, in milliseconds since the load started.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Window {
    pub fn contains(&self, t_ms: i64) -> bool {
        t_ms >= self.start_ms && t_ms < self.end_ms
    }
}

/// A request counts as failed when it got no complete response, or a 5xx one.
pub fn failed(r: &RequestRecord) -> bool {
    r.error.is_some() || r.status.is_some_and(|s| s >= 500)
}

fn measured(records: &[RequestRecord]) -> impl Iterator<Item = &RequestRecord> {
    records.iter().filter(|r| r.phase == Phase::Measured)
}

/// Per-interval percentile of request latency (seconds), over the measured requests, by the
/// interval of their intended send instant. Intervals with no request are skipped.
pub fn interval_percentile(
    records: &[RequestRecord],
    interval: Duration,
    percentile: f64,
) -> Vec<(i64, f64)> {
    let width = interval.as_micros().max(1) as u64;
    let mut buckets: std::collections::BTreeMap<u64, Vec<f64>> = std::collections::BTreeMap::new();
    for r in measured(records) {
        buckets
            .entry(r.intended.as_micros() as u64 / width)
            .or_default()
            .push(r.latency.as_secs_f64());
    }
    buckets
        .into_iter()
        .map(|(idx, mut values)| {
            values.sort_by(f64::total_cmp);
            let rank = ((percentile / 100.0) * values.len() as f64).ceil().max(1.0) as usize;
            ((idx * width / 1000) as i64, values[rank.min(values.len()) - 1])
        })
        .collect()
}

/// Requests and failures per interval of intended send time (all phases), for plots.
pub fn interval_counts(records: &[RequestRecord], interval: Duration) -> Vec<(i64, f64, f64)> {
    let width = interval.as_micros().max(1) as u64;
    let mut buckets: std::collections::BTreeMap<u64, (f64, f64)> =
        std::collections::BTreeMap::new();
    for r in records {
        let b = buckets.entry(r.intended.as_micros() as u64 / width).or_default();
        b.0 += 1.0;
        if failed(r) {
            b.1 += 1.0;
        }
    }
    let per_second = 1_000_000.0 / width as f64;
    buckets
        .into_iter()
        .map(|(idx, (n, e))| ((idx * width / 1000) as i64, n * per_second, e * per_second))
        .collect()
}

/// Builds the judge's input for every configured metric. `requests` names the request kinds
/// (indexed by [`RequestRecord::kind`]), for the per-request sources.
pub fn metric_inputs(
    metrics: &[MetricConfig],
    baseline: &ArmData,
    candidate: &ArmData,
    window: Window,
    interval: Duration,
    requests: &[&str],
) -> Vec<MetricInput> {
    metrics.iter().map(|m| input_for(m, baseline, candidate, window, interval, requests)).collect()
}

fn input_for(
    m: &MetricConfig,
    b: &ArmData,
    c: &ArmData,
    window: Window,
    interval: Duration,
    kinds: &[&str],
) -> MetricInput {
    let name = m.name.as_str();
    let in_window = |series: &[(i64, f64)]| -> Vec<f64> {
        series.iter().filter(|(t, _)| window.contains(*t)).map(|(_, v)| *v).collect()
    };
    let requests = |a: &ArmData| measured(&a.records).count() as f64;
    match &m.source {
        MetricSource::RequestLatency => {
            let lat = |a: &ArmData| measured(&a.records).map(|r| r.latency.as_secs_f64()).collect();
            MetricInput::continuous(name, lat(b), lat(c))
        }
        MetricSource::RequestLatencyOf { request } | MetricSource::RequestErrorsOf { request } => {
            let Some(kind) = kinds.iter().position(|n| n == request) else {
                return MetricInput::failed(
                    name,
                    &format!(
                        "no request of this run is named `{request}` (its requests: {})",
                        kinds.join(", ")
                    ),
                );
            };
            let (bk, ck): (Vec<&RequestRecord>, Vec<&RequestRecord>) = (
                measured(&b.records).filter(|r| r.kind == kind).collect(),
                measured(&c.records).filter(|r| r.kind == kind).collect(),
            );
            if matches!(m.source, MetricSource::RequestLatencyOf { .. }) {
                let lat =
                    |rs: &[&RequestRecord]| rs.iter().map(|r| r.latency.as_secs_f64()).collect();
                MetricInput::continuous(name, lat(&bk), lat(&ck))
            } else {
                let errors = |rs: &[&RequestRecord]| rs.iter().filter(|r| failed(r)).count() as u64;
                MetricInput::count(
                    name,
                    (errors(&bk), bk.len() as f64),
                    (errors(&ck), ck.len() as f64),
                )
            }
        }
        MetricSource::RequestErrors => {
            let errors = |a: &ArmData| measured(&a.records).filter(|r| failed(r)).count() as u64;
            MetricInput::count(name, (errors(b), requests(b)), (errors(c), requests(c)))
        }
        MetricSource::RequestTimeouts => {
            let t = |a: &ArmData| {
                measured(&a.records).filter(|r| r.error == Some(ErrorKind::Timeout)).count() as u64
            };
            MetricInput::count(name, (t(b), requests(b)), (t(c), requests(c)))
        }
        MetricSource::IntervalLatency { percentile } => {
            let p = |a: &ArmData| {
                interval_percentile(&a.records, interval, *percentile)
                    .into_iter()
                    .map(|(_, v)| v)
                    .collect()
            };
            MetricInput::continuous(name, p(b), p(c))
        }
        MetricSource::ResourceCpu => {
            MetricInput::continuous(name, in_window(&b.cpu), in_window(&c.cpu))
        }
        MetricSource::ResourceMemory => {
            MetricInput::continuous(name, in_window(&b.memory), in_window(&c.memory))
        }
        MetricSource::EventOomKill => {
            let n = |a: &ArmData| a.oom_kills.iter().filter(|t| **t >= 0).count() as u64;
            MetricInput::count(
                name,
                (n(b), window.end_ms as f64 / 1000.0),
                (n(c), window.end_ms as f64 / 1000.0),
            )
        }
        MetricSource::EventRestart => {
            let n = |a: &ArmData| a.restarts.iter().filter(|t| **t >= 0).count() as u64;
            MetricInput::count(
                name,
                (n(b), window.end_ms as f64 / 1000.0),
                (n(c), window.end_ms as f64 / 1000.0),
            )
        }
        MetricSource::Prometheus { name: metric } => {
            if let Some(e) = b.prometheus_error.as_ref().or(c.prometheus_error.as_ref()) {
                return MetricInput::failed(name, e);
            }
            let values =
                |a: &ArmData| a.prometheus.get(metric).map(|s| in_window(s)).unwrap_or_default();
            MetricInput::continuous(name, values(b), values(c))
        }
        other => {
            MetricInput::failed(name, &format!("shadowgate check cannot collect `{other}` yet"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shadowgate_judge::MetricData;

    fn rec(
        ms: u64,
        latency_ms: u64,
        status: Option<u16>,
        error: Option<ErrorKind>,
        phase: Phase,
    ) -> RequestRecord {
        RequestRecord {
            target: 0,
            sequence: ms,
            kind: 0,
            phase,
            intended: Duration::from_millis(ms),
            sent: Some(Duration::from_millis(ms)),
            latency: Duration::from_millis(latency_ms),
            status,
            bytes: 10,
            error,
        }
    }

    #[test]
    fn interval_percentiles_use_nearest_rank_per_bucket() {
        let mut records: Vec<_> =
            (0..10).map(|i| rec(i * 10, i + 1, Some(200), None, Phase::Measured)).collect();
        records.push(rec(1500, 50, Some(200), None, Phase::Measured));
        records.push(rec(1600, 70, Some(200), None, Phase::Warmup));
        let p90 = interval_percentile(&records, Duration::from_secs(1), 90.0);
        assert_eq!(p90, vec![(0, 0.009), (1000, 0.05)]);
    }

    #[test]
    fn errors_count_5xx_and_transport_failures_in_the_measured_window_only() {
        let arm = |errors: usize| ArmData {
            records: (0..100)
                .map(|i| {
                    let bad = i < errors;
                    rec(
                        i as u64 * 10,
                        5,
                        if bad { Some(503) } else { Some(200) },
                        None,
                        Phase::Measured,
                    )
                })
                .chain([rec(0, 5, None, Some(ErrorKind::Reset), Phase::Warmup)])
                .collect(),
            ..ArmData::default()
        };
        let metrics = shadowgate_judge::default_metrics();
        let window = Window { start_ms: 0, end_ms: 1000 };
        let inputs = metric_inputs(&metrics, &arm(0), &arm(3), window, Duration::from_secs(1), &[]);
        let errors = inputs.iter().find(|i| i.name == "error_rate").unwrap();
        match &errors.data {
            Ok(MetricData::Count { baseline, candidate }) => {
                assert_eq!((baseline.events, baseline.exposure), (0, 100.0));
                assert_eq!((candidate.events, candidate.exposure), (3, 100.0));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn per_request_sources_take_only_that_requests_records() {
        let arm = |slow_ms: u64, failures: u64| ArmData {
            records: (0..40)
                .map(|i| {
                    let mut r = rec(
                        i * 10,
                        if i % 2 == 1 { slow_ms } else { 5 },
                        Some(200),
                        None,
                        Phase::Measured,
                    );
                    r.kind = (i % 2) as usize;
                    if r.kind == 1 && i / 2 < failures {
                        r.status = Some(503);
                    }
                    r
                })
                .collect(),
            ..ArmData::default()
        };
        let metrics: Vec<MetricConfig> =
            ["request.latency.page", "request.errors.page", "request.latency.nope"]
                .iter()
                .map(|s| MetricConfig::new(s, s.parse().unwrap()))
                .collect();
        let window = Window { start_ms: 0, end_ms: 1000 };
        let inputs = metric_inputs(
            &metrics,
            &arm(20, 0),
            &arm(90, 4),
            window,
            Duration::from_secs(1),
            &["item", "page"],
        );
        match &inputs[0].data {
            Ok(MetricData::Continuous { baseline, candidate }) => {
                assert_eq!(baseline.len(), 20);
                assert!(baseline.iter().all(|v| (*v - 0.020).abs() < 1e-9), "{baseline:?}");
                assert!(candidate.iter().all(|v| (*v - 0.090).abs() < 1e-9), "{candidate:?}");
            }
            other => panic!("{other:?}"),
        }
        match &inputs[1].data {
            Ok(MetricData::Count { baseline, candidate }) => {
                assert_eq!((baseline.events, baseline.exposure), (0, 20.0));
                assert_eq!((candidate.events, candidate.exposure), (4, 20.0));
            }
            other => panic!("{other:?}"),
        }
        let missing = inputs[2].data.as_ref().unwrap_err();
        assert!(missing.contains("no request of this run is named `nope`"), "{missing}");
    }

    #[test]
    fn resource_samples_outside_the_window_are_left_out() {
        let b = ArmData {
            cpu: vec![(-500, 9.0), (100, 0.5), (900, 0.6), (1500, 9.0)],
            ..ArmData::default()
        };
        let c = b.clone();
        let metrics = shadowgate_judge::default_metrics();
        let inputs = metric_inputs(
            &metrics,
            &b,
            &c,
            Window { start_ms: 0, end_ms: 1000 },
            Duration::from_secs(1),
            &[],
        );
        let cpu = inputs.iter().find(|i| i.name == "cpu").unwrap();
        assert_eq!(
            cpu.data,
            Ok(MetricData::Continuous { baseline: vec![0.5, 0.6], candidate: vec![0.5, 0.6] })
        );
    }
}
