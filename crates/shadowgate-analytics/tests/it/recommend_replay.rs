//! The forecast-aware recommender against VPA on replayed traces.

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

#[test]
fn on_a_diurnal_service_ours_has_no_more_ooms_than_vpa_and_less_slack() {
    for trace in [
        traces::synthetic_diurnal(21, None, true, 11),
        traces::synthetic_diurnal(21, Some(10), false, 12),
    ] {
        let (vpa, ours) = compare(&trace);
        assert!(ours.oom_events <= vpa.oom_events, "{}: {ours:?} vs {vpa:?}", trace.name);
        assert!(ours.memory_slack < 0.9 * vpa.memory_slack, "{}: {ours:?} vs {vpa:?}", trace.name);
        assert!(ours.cpu_slack < 0.9 * vpa.cpu_slack, "{}: {ours:?} vs {vpa:?}", trace.name);
    }
}

#[test]
fn on_nab_s_taxi_load_ours_has_no_more_ooms_than_vpa_and_less_slack() {
    let files = nab_files::read_data_files(&nab_files::nab_dir());
    let (_, text) =
        files.iter().find(|(name, _)| name == "realKnownCause/nyc_taxi.csv").expect("nyc_taxi");
    let trace = traces::from_load("nyc_taxi", &corpus::parse_data_csv(text).expect("valid"), 7);
    let (vpa, ours) = compare(&trace);
    assert!(ours.oom_events <= vpa.oom_events, "{ours:?} vs {vpa:?}");
    assert!(
        ours.memory_slack < vpa.memory_slack && ours.cpu_slack < vpa.cpu_slack,
        "{ours:?} vs {vpa:?}"
    );
}

#[test]
fn on_a_nab_cpu_series_ours_has_no_more_ooms_than_vpa() {
    let files = nab_files::read_data_files(&nab_files::nab_dir());
    let name = "realKnownCause/ec2_request_latency_system_failure.csv";
    let (_, text) = files.iter().find(|(file, _)| file == name).expect("the ec2 series");
    let trace = traces::from_cpu_percent(name, &corpus::parse_data_csv(text).expect("valid"));
    let (vpa, ours) = compare(&trace);
    assert!(ours.oom_events <= vpa.oom_events, "{ours:?} vs {vpa:?}");
    // This spiky series has no daily pattern to exploit, so the recommender falls back to an
    // envelope and matches VPA's memory rather than beating it.
    assert!(ours.memory_slack <= 1.05 * vpa.memory_slack, "{ours:?} vs {vpa:?}");
}
