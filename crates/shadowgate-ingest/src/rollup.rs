//! One-minute rollups of every series, so history outlives the raw points.
//!
//! Forecasts and resource recommendations look at weeks of data at minute resolution; raw
//! points at scrape resolution are needed only for recent windows. For each series and each
//! minute `[t, t + 60 s)` the rollup stores six series with the same labels and a timestamp of
//! `t`:
//!
//! | series | value |
//! |---|---|
//! | `<metric>:1m_count` | number of finite points in the minute |
//! | `<metric>:1m_sum` | their sum |
//! | `<metric>:1m_min`, `<metric>:1m_max` | their extremes |
//! | `<metric>:1m_p50`, `<metric>:1m_p99` | quantiles from a [`QuantileSketch`] (1 % relative error) |
//!
//! A minute is complete when its series has seen a point at least `lateness` past the minute's
//! end, or when the series has been idle (no points processed) for `lateness` of wall time, or
//! on [`Rollups::finish`]. Points older than a minute already written are counted as late and
//! left out of the rollup (they are still stored raw). Minutes still open when the process dies
//! are lost; their raw points are not.

use std::collections::{BTreeMap, HashMap};

use shadowgate_store::{Sample, SeriesKey};

use crate::sketch::QuantileSketch;

/// The length of a rollup bucket.
pub const MINUTE_MS: i64 = 60_000;

/// What rollup series names carry after the metric name, in emission order.
pub const ROLLUP_SUFFIXES: [&str; 6] =
    [":1m_count", ":1m_sum", ":1m_min", ":1m_max", ":1m_p50", ":1m_p99"];

/// Whether a metric is itself a rollup series (rollups are not rolled up again).
pub fn is_rollup_metric(metric: &str) -> bool {
    metric.contains(":1m_")
}

/// The start of the minute that holds `ts_ms`.
pub fn minute_of(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(MINUTE_MS) * MINUTE_MS
}

struct Bucket {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    sketch: QuantileSketch,
}

impl Bucket {
    fn new() -> Bucket {
        Bucket {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sketch: QuantileSketch::new(),
        }
    }

    fn add(&mut self, value: f64) {
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.sketch.add(value);
    }
}

struct SeriesState {
    /// Open minutes by their start.
    open: BTreeMap<i64, Bucket>,
    /// Minutes before this start have been written.
    written_before: i64,
    /// The latest point time seen.
    latest_ts: i64,
    /// When (wall time) the series last received a point.
    last_touched_ms: i64,
}

/// Open rollup buckets of all series.
pub struct Rollups {
    lateness_ms: i64,
    series: HashMap<SeriesKey, SeriesState>,
    late_points: u64,
    points_written: u64,
}

impl Rollups {
    pub fn new(lateness_ms: i64) -> Rollups {
        Rollups {
            lateness_ms: lateness_ms.max(0),
            series: HashMap::new(),
            late_points: 0,
            points_written: 0,
        }
    }

    /// Points left out of rollups because their minute had already been written.
    pub fn late_points(&self) -> u64 {
        self.late_points
    }

    /// Rollup points emitted so far.
    pub fn points_written(&self) -> u64 {
        self.points_written
    }

    /// Adds a point; emits into `out` the minutes of this series that it completes.
    pub fn add(
        &mut self,
        key: &SeriesKey,
        ts_ms: i64,
        value: f64,
        now_ms: i64,
        out: &mut Vec<Sample>,
    ) {
        if !value.is_finite() {
            return;
        }
        let state = match self.series.get_mut(key) {
            Some(state) => state,
            None => self.series.entry(key.clone()).or_insert_with(|| SeriesState {
                open: BTreeMap::new(),
                written_before: i64::MIN,
                latest_ts: i64::MIN,
                last_touched_ms: now_ms,
            }),
        };
        state.last_touched_ms = now_ms;
        let minute = minute_of(ts_ms);
        if minute < state.written_before {
            self.late_points += 1;
            return;
        }
        state.open.entry(minute).or_insert_with(Bucket::new).add(value);
        state.latest_ts = state.latest_ts.max(ts_ms);
        let complete_before =
            minute_of(state.latest_ts.saturating_sub(self.lateness_ms + MINUTE_MS) + MINUTE_MS);
        self.points_written += emit_before(key, state, complete_before, out);
    }

    /// Emits every open minute of series that have been idle for `lateness` of wall time, and
    /// forgets series with nothing open.
    pub fn flush_idle(&mut self, now_ms: i64, out: &mut Vec<Sample>) {
        let idle_since = now_ms.saturating_sub(self.lateness_ms);
        let mut emitted = 0;
        self.series.retain(|key, state| {
            if state.last_touched_ms > idle_since {
                return true;
            }
            emitted += emit_before(key, state, i64::MAX, out);
            false
        });
        self.points_written += emitted;
    }

    /// Emits every open minute (at shutdown or at the end of an import).
    pub fn finish(&mut self, out: &mut Vec<Sample>) {
        let mut emitted = 0;
        for (key, state) in &mut self.series {
            emitted += emit_before(key, state, i64::MAX, out);
        }
        self.series.clear();
        self.points_written += emitted;
    }
}

/// Emits the open minutes that start before `before`; returns how many points it wrote.
fn emit_before(
    key: &SeriesKey,
    state: &mut SeriesState,
    before: i64,
    out: &mut Vec<Sample>,
) -> u64 {
    let mut written = 0;
    while let Some(entry) = state.open.first_entry() {
        let minute = *entry.key();
        if minute >= before {
            break;
        }
        let bucket = entry.remove();
        let p50 = bucket.sketch.quantile(0.5).unwrap_or(f64::NAN);
        let p99 = bucket.sketch.quantile(0.99).unwrap_or(f64::NAN);
        let values = [bucket.count as f64, bucket.sum, bucket.min, bucket.max, p50, p99];
        for (suffix, value) in ROLLUP_SUFFIXES.iter().zip(values) {
            let mut metric = String::with_capacity(key.metric.len() + suffix.len());
            metric.push_str(&key.metric);
            metric.push_str(suffix);
            out.push(Sample {
                series: SeriesKey {
                    app: key.app.clone(),
                    env_id: key.env_id.clone(),
                    metric,
                    labels: key.labels.clone(),
                },
                ts_ms: minute,
                value,
            });
            written += 1;
        }
        state.written_before = state.written_before.max(minute + MINUTE_MS);
    }
    written
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn key() -> SeriesKey {
        SeriesKey {
            app: "shop".into(),
            env_id: String::new(),
            metric: "latency".into(),
            labels: BTreeMap::from([("route".to_string(), "/cart".to_string())]),
        }
    }

    fn values_of(out: &[Sample], suffix: &str) -> Vec<(i64, f64)> {
        out.iter()
            .filter(|s| s.series.metric == format!("latency{suffix}"))
            .map(|s| (s.ts_ms, s.value))
            .collect()
    }

    #[test]
    fn a_minute_is_written_once_a_point_passes_its_lateness() {
        let mut rollups = Rollups::new(30_000);
        let mut out = Vec::new();
        for (ts, value) in [(0, 4.0), (15_000, 1.0), (45_000, 3.0), (59_999, 2.0)] {
            rollups.add(&key(), ts, value, 0, &mut out);
        }
        rollups.add(&key(), 89_999, 10.0, 0, &mut out);
        assert!(out.is_empty(), "the first minute may still get late points");
        rollups.add(&key(), 90_000, 11.0, 0, &mut out);
        assert_eq!(out.len(), 6);
        assert_eq!(values_of(&out, ":1m_count"), [(0, 4.0)]);
        assert_eq!(values_of(&out, ":1m_sum"), [(0, 10.0)]);
        assert_eq!(values_of(&out, ":1m_min"), [(0, 1.0)]);
        assert_eq!(values_of(&out, ":1m_max"), [(0, 4.0)]);
        let p50 = values_of(&out, ":1m_p50")[0].1;
        assert!((p50 - 2.0).abs() <= 0.02, "p50 of 1,2,3,4 by the lower-rank rule is 2: {p50}");
        let p99 = values_of(&out, ":1m_p99")[0].1;
        assert!(
            (p99 - 3.0).abs() <= 0.03,
            "p99 of four points is the third by the lower-rank rule: {p99}"
        );
        assert!(out.iter().all(|s| s.series.labels == key().labels && s.series.app == "shop"));
    }

    #[test]
    fn late_points_are_counted_and_kept_out() {
        let mut rollups = Rollups::new(0);
        let mut out = Vec::new();
        rollups.add(&key(), 10_000, 1.0, 0, &mut out);
        rollups.add(&key(), 130_000, 1.0, 0, &mut out);
        assert_eq!(values_of(&out, ":1m_count"), [(0, 1.0)]);
        rollups.add(&key(), 20_000, 5.0, 0, &mut out);
        assert_eq!(rollups.late_points(), 1);
        assert_eq!(values_of(&out, ":1m_count"), [(0, 1.0)], "not written twice");
    }

    #[test]
    fn idle_series_are_flushed_by_wall_time_and_active_ones_are_not() {
        let mut rollups = Rollups::new(60_000);
        let mut out = Vec::new();
        let mut other = key();
        other.metric = "busy".into();
        rollups.add(&key(), 1_000, 2.0, 1_000_000, &mut out);
        rollups.add(&other, 1_000, 2.0, 1_000_000, &mut out);
        rollups.add(&other, 2_000, 2.0, 1_050_000, &mut out);
        rollups.flush_idle(1_059_999, &mut out);
        assert!(out.is_empty());
        rollups.flush_idle(1_060_000, &mut out);
        assert_eq!(out.len(), 6, "only the idle series");
        assert_eq!(values_of(&out, ":1m_count"), [(0, 1.0)]);
        rollups.finish(&mut out);
        assert_eq!(out.len(), 12);
        assert_eq!(rollups.points_written(), 12);
    }

    #[test]
    fn non_finite_values_are_left_out_and_negative_times_bucket_correctly() {
        let mut rollups = Rollups::new(0);
        let mut out = Vec::new();
        rollups.add(&key(), -1, f64::INFINITY, 0, &mut out);
        rollups.add(&key(), -1, 7.0, 0, &mut out);
        rollups.finish(&mut out);
        assert_eq!(values_of(&out, ":1m_count"), [(-60_000, 1.0)]);
        assert!(is_rollup_metric(&out[0].series.metric));
        assert!(!is_rollup_metric("http_requests_total"));
    }
}
