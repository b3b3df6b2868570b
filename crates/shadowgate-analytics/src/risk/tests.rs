use shadowgate_core::conditions::{CONDITIONS_VERSION, PredictedConditions};

use super::*;

const T0: i64 = 1_700_000_000;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Hourly points over `days`, value `f(hours since the start)` plus a fixed ±2 % wobble.
fn hourly(days: i64, f: impl Fn(f64) -> f64) -> Vec<(i64, f64)> {
    (0..days * 24)
        .map(|h| {
            let wobble = [1.0, 1.02, 0.99, 0.98, 1.01][h as usize % 5];
            (T0 + h * HOUR, f(h as f64) * wobble)
        })
        .collect()
}

fn percentiles(p50: f64, p99: f64) -> Percentiles {
    Percentiles { p50, p90: p50, p99, max: p99, metric: "network_latency_seconds".into() }
}

#[test]
fn trend_finds_growth_and_its_value_at_the_last_point() {
    let points: Vec<(i64, f64)> = (0..100).map(|i| (i * 60, 100.0 + i as f64)).collect();
    let t = trend(&points).unwrap();
    assert!((t.slope - 1.0 / 60.0).abs() < 1e-9, "{t:?}");
    assert!(t.r2 > 0.99);
    assert!((t.last_fit - 199.0).abs() < 1e-6, "{t:?}");
    // Too few points, one instant, a constant, or a non-number: no line.
    assert_eq!(trend(&points[..9]), None);
    assert_eq!(trend(&[(5, 1.0); 20]), None);
    assert_eq!(trend(&(0..20).map(|i| (i, 3.0)).collect::<Vec<_>>()), None);
    let mut bad = points.clone();
    bad[3].1 = f64::NAN;
    assert_eq!(trend(&bad), None);
}

#[test]
fn memory_trending_up_needs_a_clear_trend_of_a_tenth_of_the_mean() {
    let growing = hourly(14, |h| 150e6 + 2e5 * h);
    let flag = memory_trending_up(&growing, 7 * DAY, "mem").unwrap();
    assert_eq!(flag.kind, RiskKind::MemoryTrendingUp);
    assert!(flag.message.starts_with("`mem` grows by 18% of its mean"), "{}", flag.message);
    assert_eq!(memory_trending_up(&hourly(14, |_| 150e6), 7 * DAY, "mem"), None);
    // 1 % a week is not a risk.
    assert_eq!(memory_trending_up(&hourly(14, |h| 150e6 + 1e4 * h), 7 * DAY, "mem"), None);
}

#[test]
fn a_latency_step_in_the_last_day_is_flagged_with_both_medians() {
    let step = hourly(14, |h| if h >= 13.0 * 24.0 { 6.0 } else { 2.0 });
    let flag = dependency_latency(&step, None, 7 * DAY, "network_latency_seconds").unwrap();
    assert_eq!(flag.kind, RiskKind::DependencyLatency);
    let m = &flag.message;
    assert!(m.starts_with("dependency latency `network_latency_seconds`: its median"), "{m}");
    assert!(m.contains("over the last day, 6.0 ms, is 3.0× the 2.0 ms median before it"), "{m}");
    assert!(m.contains("flagged from 1.5× and +1 ms"), "{m}");
}

#[test]
fn a_latency_step_below_the_ratio_or_the_floor_is_not_flagged() {
    // 1.4×: within a pool's usual margin.
    let small = hourly(14, |h| if h >= 13.0 * 24.0 { 2.8 } else { 2.0 });
    assert_eq!(dependency_latency(&small, None, 7 * DAY, "l"), None);
    // 2.5× but only 0.3 ms: local-network wobble.
    let tiny = hourly(14, |h| if h >= 13.0 * 24.0 { 0.5 } else { 0.2 });
    assert_eq!(dependency_latency(&tiny, None, 7 * DAY, "l"), None);
    // A step down is no risk.
    let down = hourly(14, |h| if h >= 13.0 * 24.0 { 2.0 } else { 6.0 });
    assert_eq!(dependency_latency(&down, None, 7 * DAY, "l"), None);
    // Flat latency, no series, or too little history for a comparison.
    assert_eq!(dependency_latency(&hourly(14, |_| 2.0), None, 7 * DAY, "l"), None);
    assert_eq!(dependency_latency(&[], None, 7 * DAY, "l"), None);
    let short: Vec<(i64, f64)> =
        (0..6).map(|i| (T0 + i * 6 * HOUR, if i >= 4 { 9.0 } else { 2.0 })).collect();
    assert_eq!(dependency_latency(&short, None, 7 * DAY, "l"), None);
}

#[test]
fn a_latency_trend_is_flagged_when_the_horizon_takes_it_half_again_higher() {
    // 2 ms to 5 ms over two weeks: the last day's median is only 1.44× the rest's, but two
    // more weeks at that pace end at 8 ms, 1.6× today's.
    let rising = hourly(14, |h| 2.0 + 3.0 * h / (14.0 * 24.0));
    let flag = dependency_latency(&rising, None, 14 * DAY, "l").unwrap();
    let m = &flag.message;
    assert!(m.contains("it rises 0.21 ms a day"), "{m}");
    assert!(m.contains("from 5.0 ms now to 8.0 ms at the end of the horizon, 1.6×"), "{m}");
    assert!(!m.contains("median over the last day"), "the step rule stays quiet: {m}");
    // Over one week the same trend ends at 1.3×: not flagged.
    assert_eq!(dependency_latency(&rising, None, 7 * DAY, "l"), None);
}

#[test]
fn a_noisy_latency_without_a_clear_trend_is_not_flagged() {
    // A slight rise buried in noise twice its size: R² far below one half.
    let noisy = hourly(14, |h| {
        2.0 + 0.5 * h / (14.0 * 24.0) + if (h as i64 * 7919) % 3 == 0 { 1.5 } else { 0.0 }
    });
    assert!(trend(&noisy).unwrap().r2 < TREND_MIN_R2);
    assert_eq!(dependency_latency(&noisy, None, 30 * DAY, "l"), None);
}

#[test]
fn a_slow_latency_tail_is_flagged_from_the_observed_percentiles() {
    let flat = hourly(14, |_| 2.0);
    let flag = dependency_latency(&flat, Some(&percentiles(2.0, 45.0)), 7 * DAY, "l").unwrap();
    assert!(
        flag.message.contains("its p99, 45.0 ms, is 22.5× its 2.0 ms median"),
        "{}",
        flag.message
    );
    // 4.5× is not a tail; nor is 10× of a fraction of a millisecond.
    assert_eq!(dependency_latency(&flat, Some(&percentiles(2.0, 9.0)), 7 * DAY, "l"), None);
    assert_eq!(dependency_latency(&flat, Some(&percentiles(0.1, 1.0)), 7 * DAY, "l"), None);
    // The tail needs no series; a zero median is "far above".
    let flag = dependency_latency(&[], Some(&percentiles(0.0, 30.0)), 7 * DAY, "l").unwrap();
    assert!(flag.message.contains("is far above its 0.0 ms median"), "{}", flag.message);
    let nan = percentiles(f64::NAN, 30.0);
    assert_eq!(dependency_latency(&[], Some(&nan), 7 * DAY, "l"), None);
}

#[test]
fn every_latency_rule_that_holds_is_in_the_one_flag() {
    let step = hourly(14, |h| if h >= 13.0 * 24.0 { 6.0 } else { 2.0 });
    let flag = dependency_latency(&step, Some(&percentiles(2.0, 60.0)), 7 * DAY, "l").unwrap();
    assert!(flag.message.contains("median over the last day"), "{}", flag.message);
    assert!(flag.message.contains("its p99, 60.0 ms"), "{}", flag.message);
}

#[test]
fn a_disk_forecast_near_its_capacity_is_flagged_with_the_share() {
    // 50 GiB to 80 GiB in two weeks: about 95 GiB a week later, on a 100 GiB disk.
    let used = hourly(14, |h| (50.0 + 30.0 * h / (14.0 * 24.0)) * GIB);
    let flag = disk_filling(&used, Some(100.0 * GIB), 7 * DAY, "disk_used_bytes").unwrap();
    assert_eq!(flag.kind, RiskKind::DiskFilling);
    let m = &flag.message;
    assert!(m.starts_with("disk use `disk_used_bytes` is forecast at 94.9GiB at the end"), "{m}");
    assert!(m.contains("growing 2.1GiB a day"), "{m}");
    assert!(m.ends_with(": 95% of the 100GiB capacity (flagged from 90%)"), "{m}");
    // Three days ahead it is still below 90 %.
    assert_eq!(disk_filling(&used, Some(100.0 * GIB), 3 * DAY, "d"), None);
    // The same growth on a 200 GiB disk, or with no capacity to compare against: no risk.
    assert_eq!(disk_filling(&used, Some(200.0 * GIB), 7 * DAY, "d"), None);
    assert_eq!(disk_filling(&used, None, 7 * DAY, "d"), None);
    // A capacity that is no number is ignored, not divided by.
    assert_eq!(disk_filling(&used, Some(0.0), 7 * DAY, "d"), None);
    assert_eq!(disk_filling(&used, Some(f64::NAN), 7 * DAY, "d"), None);
    assert_eq!(disk_filling(&[], Some(100.0 * GIB), 7 * DAY, "d"), None);
}

#[test]
fn a_full_disk_that_does_not_grow_is_still_flagged() {
    let full = hourly(14, |_| 93.0 * GIB);
    let flag = disk_filling(&full, Some(100.0 * GIB), 7 * DAY, "d").unwrap();
    assert!(
        flag.message.contains("is at 93GiB and not trending up: 93% of the 100GiB"),
        "{}",
        flag.message
    );
    let half = hourly(14, |_| 50.0 * GIB);
    assert_eq!(disk_filling(&half, Some(100.0 * GIB), 7 * DAY, "d"), None);
}

#[test]
fn tables_forecast_above_the_tested_rows_are_flagged_by_name() {
    let volume = |table: &str, rows: f64| TableVolume {
        table: table.into(),
        rows,
        metric: "table_rows".into(),
    };
    let volumes = [volume("orders", 9_000.0), volume("users", 400.0), volume("audit", 1e6)];
    let mut tested = TestedRows::new();
    tested.insert("orders".into(), (3_000.0, "the manifest's [data]".into()));
    tested.insert("users".into(), (400.0, "a past check".into()));
    let flag = data_above_tested(&volumes, &tested).unwrap();
    assert_eq!(flag.kind, RiskKind::DataAboveTested);
    assert_eq!(
        flag.message,
        "more data than any check loaded, from `table_rows` at the end of the horizon: \
         table `orders` is forecast at 9000 rows (3.0× the 3000 rows the manifest's [data] loads)"
    );
    // Equal is tested; a table never loaded is not judged; nothing tested, nothing flagged.
    tested.insert("orders".into(), (9_000.0, "x".into()));
    assert_eq!(data_above_tested(&volumes, &tested), None);
    assert_eq!(data_above_tested(&volumes, &TestedRows::new()), None);
    tested.insert("users".into(), (0.0, "a past check".into()));
    let flag = data_above_tested(&volumes, &tested).unwrap();
    assert!(flag.message.contains("(far above the 0 rows a past check loads)"), "{}", flag.message);
}

#[test]
fn load_above_tested_compares_the_upper_bound() {
    let peak = Estimate {
        expected: 40.0,
        lower80: 35.0,
        upper80: 48.0,
        lower95: 30.0,
        upper95: 55.0,
        metric: "http_requests_total".into(),
        model: None,
    };
    let flag = load_above_tested(&peak, Some(45.0)).unwrap();
    assert!(flag.message.contains("80% up to 48.0/s"), "{}", flag.message);
    assert_eq!(load_above_tested(&peak, Some(48.0)), None);
    assert_eq!(load_above_tested(&peak, None), None);
}

/// An error rate at 15-minute steps for two weeks: 0.2/s with noise, 2/s where `high` says.
fn error_rate(high: impl Fn(usize) -> bool) -> Vec<(i64, f64)> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..14 * 96)
        .map(|i| {
            // The sum of four uniforms, centred: noise with a standard deviation of about 0.58.
            let noise = (0..4)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 11) as f64 / (1u64 << 53) as f64
                })
                .sum::<f64>()
                - 2.0;
            let level = if high(i) { 2.0 } else { 0.2 };
            (T0 + i as i64 * 900, (level + 0.02 * noise).max(0.0))
        })
        .collect()
}

#[test]
fn an_error_jump_in_the_last_day_is_a_changepoint() {
    let jump = error_rate(|i| i >= 14 * 96 - 24);
    let flag = error_changepoint(&jump, "errors").unwrap().unwrap();
    assert_eq!(flag.kind, RiskKind::ErrorChangepoint);
    assert!(flag.message.starts_with("`errors` changed abruptly in the last day"));
    // Too short to judge; a jump long ago is not recent.
    assert_eq!(error_changepoint(&jump[..16], "errors").unwrap(), None);
    let old = error_rate(|i| (3 * 96..3 * 96 + 24).contains(&i));
    assert_eq!(error_changepoint(&old, "errors").unwrap(), None);
}

#[test]
fn kinds_are_written_in_snake_case_and_read_back() {
    for kind in RiskKind::ALL {
        let text = serde_json::to_string(&kind).unwrap();
        assert_eq!(text, format!("\"{}\"", kind.as_str()));
        assert_eq!(serde_json::from_str::<RiskKind>(&text).unwrap(), kind);
    }
    let step = hourly(14, |h| if h >= 13.0 * 24.0 { 6.0 } else { 2.0 });
    let d = PredictedConditions {
        version: CONDITIONS_VERSION,
        app: "shop".into(),
        generated_at_unix_ms: 1,
        horizon_seconds: 7 * DAY,
        peak_request_rate: None,
        peak_concurrency: None,
        data_volume: Vec::new(),
        resources: None,
        network: Default::default(),
        risks: vec![dependency_latency(&step, None, 7 * DAY, "l").unwrap()],
    };
    let text = serde_json::to_string(&d).unwrap();
    assert!(text.contains(r#""kind":"dependency_latency""#), "{text}");
    let back: PredictedConditions = serde_json::from_str(&text).unwrap();
    assert_eq!(back, d);
    assert_eq!(back.validate(), Ok(()));
}

#[test]
fn a_document_written_before_the_latency_and_disk_kinds_still_reads() {
    let old = r#"{"version":1,"app":"shop","generated_at_unix_ms":1700000000000,
        "horizon_seconds":604800,
        "network":{"latency_ms":{"p50":2.0,"p90":2.4,"p99":2.5,"max":2.6,"metric":"network_latency_seconds"}},
        "risks":[{"kind":"memory_trending_up","message":"m"},{"kind":"error_changepoint","message":"e"},
                 {"kind":"load_above_tested","message":"l"}]}"#;
    let d: PredictedConditions = serde_json::from_str(old).unwrap();
    assert_eq!(d.validate(), Ok(()));
    let kinds: Vec<RiskKind> = d.risks.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, RiskKind::ALL[..3]);
    let unknown = old.replace("load_above_tested", "cosmic_rays");
    let e = serde_json::from_str::<PredictedConditions>(&unknown).unwrap_err();
    assert!(e.to_string().contains("unknown variant `cosmic_rays`"), "{e}");
}
