//! The forecast-aware recommender against VPA on replayed traces: no more OOM events than VPA
//! and no more slack, on NAB's CPU series under several memory mappings and on synthetic traces
//! whose truth is known.

use shadowgate_analytics::nab::corpus;
use shadowgate_analytics::recommend::forecast_aware::{
    ForecastAwareConfig, ForecastAwareRecommender,
};
use shadowgate_analytics::recommend::replay::{self, ReplayConfig, ReplayReport};
use shadowgate_analytics::recommend::vpa::{VpaConfig, VpaRecommender};

use crate::{nab_files, traces};

fn compare(trace: &traces::Trace) -> (ReplayReport, ReplayReport) {
    let config = ReplayConfig::default();
    let vpa =
        replay::replay(&trace.samples, &mut VpaRecommender::new(VpaConfig::default()), &config)
            .expect("valid trace");
    let ours = replay::replay(
        &trace.samples,
        &mut ForecastAwareRecommender::new(ForecastAwareConfig::default()),
        &config,
    )
    .expect("valid trace");
    (vpa, ours)
}

/// Replays every trace, two at a time, and returns (name, VPA, ours) in order.
fn compare_all(traces: &[traces::Trace]) -> Vec<(String, ReplayReport, ReplayReport)> {
    let (left, right) = traces.split_at(traces.len() / 2);
    let run = |part: &[traces::Trace]| -> Vec<(String, ReplayReport, ReplayReport)> {
        part.iter()
            .map(|trace| {
                let (vpa, ours) = compare(trace);
                (trace.name.clone(), vpa, ours)
            })
            .collect()
    };
    std::thread::scope(|scope| {
        let first = scope.spawn(|| run(left));
        let mut out = run(right);
        let mut all = first.join().expect("no panic");
        all.append(&mut out);
        all
    })
}

fn assert_no_worse(name: &str, vpa: &ReplayReport, ours: &ReplayReport) {
    assert!(ours.oom_events <= vpa.oom_events, "{name}: OOM events {ours:?} vs {vpa:?}");
    assert!(ours.memory_slack <= vpa.memory_slack, "{name}: memory slack {ours:?} vs {vpa:?}");
    assert!(ours.cpu_slack <= vpa.cpu_slack, "{name}: CPU slack {ours:?} vs {vpa:?}");
}

fn vendored_rows(name: &str) -> Vec<(i64, f64)> {
    let path = nab_files::vendored_nab_dir().join("data").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    corpus::parse_data_csv(&text).expect("valid NAB file")
}

#[test]
fn on_nab_s_cpu_series_under_every_memory_mapping_ours_is_no_worse_than_vpa() {
    let mut cases = Vec::new();
    for name in traces::NAB_CPU_SERIES {
        let shape = traces::shape(&vendored_rows(name), true);
        for mapping in traces::mappings() {
            cases.push(traces::from_shape(name, &shape, &mapping));
        }
    }
    assert_eq!(cases.len(), 12);
    for (name, vpa, ours) in compare_all(&cases) {
        assert_no_worse(&name, &vpa, &ours);
        // CPU: the forecast follows the series below VPA's target.
        assert!(ours.cpu_slack < 0.9 * vpa.cpu_slack, "{name}: {ours:?} vs {vpa:?}");
        if name.contains("cpu_utilization_asg_misconfiguration") {
            // The series once showed ours with 5 OOM events against VPA's 2 (2 GiB × shape):
            // a quiet day made the forecast forget the peaks before it.
            assert!(ours.oom_events <= 2, "{name}: {ours:?}");
        }
    }
}

#[test]
fn on_synthetic_traces_with_known_truth_ours_is_no_worse_than_vpa_and_has_less_slack() {
    let mut cases = vec![
        traces::synthetic_diurnal(21, None, true, 11),
        traces::synthetic_diurnal(21, Some(10), true, 12),
        traces::synthetic_diurnal(21, Some(10), false, 13),
    ];
    cases.extend(traces::synthetic_known_truth());
    for (name, vpa, ours) in compare_all(&cases) {
        assert_no_worse(&name, &vpa, &ours);
        assert!(ours.memory_slack < 0.95 * vpa.memory_slack, "{name}: {ours:?} vs {vpa:?}");
        assert!(ours.cpu_slack < 0.9 * vpa.cpu_slack, "{name}: {ours:?} vs {vpa:?}");
        if name.starts_with("synthetic diurnal") {
            // A smooth daily pattern is where the forecast pays most.
            assert!(ours.memory_slack < 0.85 * vpa.memory_slack, "{name}: {ours:?} vs {vpa:?}");
        }
    }
}

#[test]
fn on_nab_s_taxi_load_ours_has_no_more_ooms_than_vpa_and_less_slack() {
    let path = nab_files::nab_dir().join("data/realKnownCause/nyc_taxi.csv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let trace = traces::from_load("nyc_taxi", &corpus::parse_data_csv(&text).expect("valid"), 7);
    let (vpa, ours) = compare(&trace);
    assert_no_worse("nyc_taxi as load", &vpa, &ours);
    assert!(
        ours.memory_slack < vpa.memory_slack && ours.cpu_slack < vpa.cpu_slack,
        "{ours:?} vs {vpa:?}"
    );
}
