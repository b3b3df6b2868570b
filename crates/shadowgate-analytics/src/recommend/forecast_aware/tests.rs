//! Tests of the forecast-aware recommender on traces whose truth is known.

use super::*;

const STEP: i64 = 300;
const DAY: i64 = 86_400;
const MIB: f64 = 1024.0 * 1024.0;

/// Load 100 ± 80 over the day; CPU = 0.1 + 0.01 × load, memory = 300 MiB + 4 MiB × load.
fn diurnal_sample(timestamp: i64, with_load: bool) -> UsageSample {
    let phase = std::f64::consts::TAU * (timestamp % DAY) as f64 / DAY as f64;
    let load = 100.0 - 80.0 * phase.cos();
    UsageSample {
        timestamp,
        cpu_cores: 0.1 + 0.01 * load,
        memory_bytes: 300.0 * MIB + 4.0 * MIB * load,
        load: with_load.then_some(load),
    }
}

fn trained(days: i64, with_load: bool) -> ForecastAwareRecommender {
    let mut recommender = ForecastAwareRecommender::new(ForecastAwareConfig::default());
    for i in 0..days * DAY / STEP {
        recommender.observe(&diurnal_sample(i * STEP, with_load));
    }
    recommender
}

#[test]
fn the_limit_follows_the_day_and_covers_the_next_hour() {
    let recommender = trained(10, true);
    assert_eq!(recommender.period(), (DAY / STEP) as usize);
    let now = 10 * DAY;
    let night = recommender.recommend(now).expect("trained");
    let noon = {
        let mut later = recommender.clone();
        for i in 0..(12 * 3_600 / STEP) {
            later.observe(&diurnal_sample(now + i * STEP, true));
        }
        later.recommend(now + 12 * 3_600).expect("trained")
    };
    assert!(noon.target.cpu_cores > 1.5 * night.target.cpu_cores, "{noon:?} vs {night:?}");
    // Every recommendation covers the usage of the hour it is for.
    let next_hour_peak = (0..12)
        .map(|i| diurnal_sample(now + i * STEP, true))
        .fold(0.0, |peak: f64, s| peak.max(s.memory_bytes));
    assert!(night.target.memory_bytes >= next_hour_peak);
}

#[test]
fn the_usage_per_load_relation_turns_planned_load_into_usage() {
    let now = 10 * DAY;
    let planned = vec![PlannedLoad { start: now, end: now + 1_800, peak_load: 500.0 }];
    let recommender = trained(10, true).with_planned_load(planned);
    let recommendation = recommender.recommend(now).expect("trained");
    // 500 load units need 0.1 + 5 = 5.1 cores and 300 + 2000 MiB by the learned relation.
    assert!(recommendation.target.cpu_cores >= 5.1 * 0.999, "{recommendation:?}");
    assert!(recommendation.target.memory_bytes >= 2_300.0 * MIB * 0.999);
}

#[test]
fn the_naive_rule_is_a_floor_and_vpa_s_target_a_ceiling() {
    for days in [3, 10] {
        let recommender = trained(days, false);
        let floor = recommender.naive.average_times_margin().expect("trained");
        let now = days * DAY;
        let cap = recommender.reference.recommend(now).expect("trained").target;
        let target = recommender.recommend(now).expect("trained").target;
        assert!(target.cpu_cores >= floor.cpu_cores.min(cap.cpu_cores), "{target:?}");
        assert!(target.memory_bytes >= floor.memory_bytes.min(cap.memory_bytes), "{target:?}");
        assert!(target.cpu_cores <= cap.cpu_cores && target.memory_bytes <= cap.memory_bytes);
    }
}

#[test]
fn before_a_week_of_track_record_memory_is_vpa_s_target() {
    let recommender = trained(5, false);
    let now = 5 * DAY;
    let vpa = recommender.reference.recommend(now).expect("trained").target;
    let ours = recommender.recommend(now).expect("trained").target;
    assert_eq!(ours.memory_bytes, vpa.memory_bytes);
    // CPU needs no week: it follows the day already.
    assert!(ours.cpu_cores < vpa.cpu_cores, "{ours:?} vs {vpa:?}");
}

#[test]
fn an_oom_kill_under_the_forecast_returns_memory_to_vpa_s_target_for_a_week() {
    let mut recommender = trained(10, false);
    let now = 10 * DAY;
    let forecast = recommender.recommend(now).expect("trained").target.memory_bytes;
    let vpa = recommender.reference.recommend(now).expect("trained").target.memory_bytes;
    assert!(forecast < vpa, "at night the forecast is below VPA: {forecast} vs {vpa}");
    // Memory runs over the forecast but stays under VPA's target: VPA learns nothing.
    recommender.record_oom(now, forecast);
    recommender.observe(&UsageSample {
        memory_bytes: (forecast + vpa) / 2.0,
        ..diurnal_sample(now, false)
    });
    let after = recommender.recommend(now + STEP).expect("trained").target.memory_bytes;
    let vpa_after = recommender.reference.recommend(now + STEP).expect("trained");
    assert_eq!(after, vpa_after.target.memory_bytes);
    assert!((vpa_after.target.memory_bytes / vpa - 1.0).abs() < 0.05, "no OOM bump in VPA");
    let mut later = recommender.clone();
    for i in 1..(8 * DAY / STEP) {
        later.observe(&diurnal_sample(now + i * STEP, false));
    }
    let back = later.recommend(now + 8 * DAY).expect("trained").target.memory_bytes;
    let vpa_back = later.reference.recommend(now + 8 * DAY).expect("trained").target.memory_bytes;
    assert!(back < vpa_back, "a week later the forecast is trusted again: {back} vs {vpa_back}");
}

#[test]
fn an_oom_kill_over_vpa_s_target_bumps_the_reference_as_vpa_does() {
    let mut recommender = trained(10, false);
    let now = 10 * DAY;
    recommender.recommend(now).expect("trained");
    let vpa = recommender.reference.recommend(now).expect("trained").target.memory_bytes;
    recommender.record_oom(now, vpa);
    recommender.observe(&UsageSample { memory_bytes: 1.01 * vpa, ..diurnal_sample(now, false) });
    // VPA's bump: the limit × 1.2 becomes a memory peak, and the target is 1.15 × that.
    let bumped = recommender.recommend(now + STEP).expect("trained").target.memory_bytes;
    assert!(bumped > 1.3 * vpa, "{bumped} vs {vpa}");
}

#[test]
fn selection_quantiles_equal_sorted_quantiles() {
    let values: Vec<f64> = (0..97).map(|i| ((i * 37) % 101) as f64 * 0.5).collect();
    for q in [0.0, 0.1, 0.5, 0.9, 0.95, 1.0] {
        let mut sorted = values.clone();
        let mut selected = values.clone();
        assert_eq!(select_quantile(&mut selected, q), stats::quantile_in_place(&mut sorted, q));
    }
}

#[test]
fn nothing_is_recommended_without_history() {
    let recommender = ForecastAwareRecommender::new(ForecastAwareConfig::default());
    assert_eq!(recommender.recommend(0), None);
}

#[test]
fn range_maxima_equal_a_scan() {
    let values: Vec<f64> = (0..200).map(|i| ((i * 53) % 97) as f64 - 40.0).collect();
    let table = RangeMax::new(&values);
    for from in (0..200).step_by(7) {
        for to in from..=200 {
            let scan = values[from..to].iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(table.max(from, to), scan, "{from}..{to}");
        }
    }
}
