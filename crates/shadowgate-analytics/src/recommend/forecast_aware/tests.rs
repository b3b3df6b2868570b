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
fn the_naive_rule_is_a_floor() {
    let recommender = trained(3, false);
    let floor = recommender.naive.average_times_margin().expect("trained");
    let recommendation = recommender.recommend(3 * DAY).expect("trained");
    assert!(recommendation.target.cpu_cores >= floor.cpu_cores);
    assert!(recommendation.target.memory_bytes >= floor.memory_bytes);
}

#[test]
fn an_oom_kill_raises_memory_and_the_raise_decays() {
    let mut recommender = trained(5, false);
    let now = 5 * DAY;
    let before = recommender.recommend(now).expect("trained").target.memory_bytes;
    recommender.record_oom(now, before);
    let after = recommender.recommend(now).expect("trained").target.memory_bytes;
    assert!((after / before - 1.2).abs() < 1e-9, "{after} vs {before}");
    assert!((recommender.oom_factor(now + DAY) - 1.1).abs() < 1e-9);
}

#[test]
fn nothing_is_recommended_without_history() {
    let recommender = ForecastAwareRecommender::new(ForecastAwareConfig::default());
    assert_eq!(recommender.recommend(0), None);
}
