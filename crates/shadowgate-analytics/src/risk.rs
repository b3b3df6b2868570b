//! Risk rules: which risks of a release the telemetry supports, each with its evidence.
//!
//! Every rule is a pure function of series and returns a [`RiskFlag`] whose message states the
//! evidence with numbers, or `None` when the evidence is not there. Series are
//! `(timestamp, value)` pairs in seconds, in time order, as everywhere in this crate. A rule
//! judges a series as of its last point: "recent" means the last day *of the series*, so a
//! prediction made from old telemetry says what that telemetry showed, and no rule reads a
//! clock. The thresholds are the constants below, each with the reason for its value.
//!
//! | kind | evidence |
//! |---|---|
//! | [`RiskKind::MemoryTrendingUp`] | memory's linear trend adds ≥ 10 % of its mean over the horizon |
//! | [`RiskKind::ErrorChangepoint`] | the anomaly detector alarms on the error series in its last day |
//! | [`RiskKind::LoadAboveTested`] | the forecast peak's 80 % upper bound is above any checked rate |
//! | [`RiskKind::DependencyLatency`] | dependency latency stepped up, trends up, or has a slow tail |
//! | [`RiskKind::DiskFilling`] | disk use reaches 90 % of the disk's capacity by the end of the horizon |
//! | [`RiskKind::DataAboveTested`] | a table is forecast above the rows any check loaded |

use std::collections::BTreeMap;

use shadowgate_core::{
    conditions::{Estimate, Percentiles, RiskFlag, RiskKind, TableVolume},
    units::ByteSize,
};

use crate::anomaly::{self, DEFAULT_ALARM_SCORE, DetectorConfig, DetectorConfigError};

/// "Recent" is the last day of a series: a daily cycle is the shortest window whose median is
/// not biased by the time of day.
pub const RECENT_SECONDS: i64 = 86_400;

/// The least share of variance a line must explain before its slope counts as a trend. Below
/// one half, the noise around the line is larger than the line's own movement and projecting
/// the slope over the horizon says more about the noise than about the future.
pub const TREND_MIN_R2: f64 = 0.5;

/// Memory growth over the horizon, as a share of the mean, that flags memory: 10 % is more
/// than the headroom a recommendation from today's peak keeps once its margin is spent.
pub const MEMORY_GROWTH_SHARE: f64 = 0.1;

/// A dependency's latency that rose to this many times its former level flags `db-latency`.
/// Connection pools and timeouts are usually sized from the latency seen in production with a
/// margin of about half again; by Little's law (connections in use = rate × latency) a 1.5×
/// latency at the same rate uses up that margin, which is what a latency scenario rehearses.
pub const LATENCY_RISE_RATIO: f64 = 1.5;

/// ...and by at least this many milliseconds, so that sub-millisecond wobble on a local
/// network (0.2 ms to 0.4 ms is "2×") flags nothing.
pub const LATENCY_RISE_MIN_MS: f64 = 1.0;

/// A p99 of this many times the median flags a slow tail: one observed interval in a hundred
/// is this much slower than usual, and a request that calls the dependency several times meets
/// such an interval far more often than one in a hundred.
pub const LATENCY_TAIL_RATIO: f64 = 5.0;

/// ...when the tail is also at least this many milliseconds above the median: below that,
/// a slow interval costs less than a typical request's own processing time.
pub const LATENCY_TAIL_MIN_MS: f64 = 20.0;

/// The fewest points of the last day, and before it, for a level comparison: medians of fewer
/// points move with single samples.
pub const MIN_RECENT_POINTS: usize = 4;
pub const MIN_EARLIER_POINTS: usize = 8;

/// The share of a disk's capacity that flags it: 90 % is the common alerting level for file
/// systems (ext4 keeps 5 % for root, and databases need free space to vacuum, compact or
/// rebuild an index), so a disk forecast there runs out in production before it reads 100 %.
pub const DISK_FULL_FRACTION: f64 = 0.9;

/// A least-squares line through a series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trend {
    /// Change per second.
    pub slope: f64,
    /// The share of variance the line explains (0 to 1).
    pub r2: f64,
    /// The line's value at the last point of the series.
    pub last_fit: f64,
}

/// The least-squares line through at least 10 points, or `None` when there are fewer, all
/// points share one time, or the values are constant.
pub fn trend(points: &[(i64, f64)]) -> Option<Trend> {
    if points.len() < 10 || points.iter().any(|p| !p.1.is_finite()) {
        return None;
    }
    let n = points.len() as f64;
    let t0 = points[0].0 as f64;
    let mx = points.iter().map(|p| p.0 as f64 - t0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for p in points {
        let (dx, dy) = (p.0 as f64 - t0 - mx, p.1 - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let last = points[points.len() - 1].0 as f64 - t0;
    Some(Trend { slope, r2: sxy * sxy / (sxx * syy), last_fit: my + slope * (last - mx) })
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n.is_multiple_of(2) {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    } else {
        values[n / 2]
    })
}

/// Memory grows: a trend (R² ≥ [`TREND_MIN_R2`]) that adds at least [`MEMORY_GROWTH_SHARE`] of
/// the mean over the horizon.
pub fn memory_trending_up(memory: &[(i64, f64)], horizon: i64, metric: &str) -> Option<RiskFlag> {
    let t = trend(memory)?;
    let mean = memory.iter().map(|p| p.1).sum::<f64>() / memory.len() as f64;
    let growth = t.slope * horizon as f64;
    (t.slope > 0.0 && t.r2 >= TREND_MIN_R2 && mean > 0.0 && growth / mean >= MEMORY_GROWTH_SHARE)
        .then(|| RiskFlag {
            kind: RiskKind::MemoryTrendingUp,
            message: format!(
                "`{metric}` grows by {:.0}% of its mean over the horizon at the current trend (R² {:.2})",
                growth / mean * 100.0,
                t.r2
            ),
        })
}

/// The error series changed abruptly: the streaming detector alarms on a point of its last day.
/// Needs more than 16 points (half of them warm the detector up).
pub fn error_changepoint(
    errors: &[(i64, f64)],
    metric: &str,
) -> Result<Option<RiskFlag>, DetectorConfigError> {
    if errors.len() <= 16 {
        return Ok(None);
    }
    let mut config = DetectorConfig::default();
    config.warmup_rows = config.warmup_rows.min(errors.len() / 2).max(8);
    config.max_history_rows = config.max_history_rows.max(config.warmup_rows);
    let scores = anomaly::score_series(errors, &config)?;
    let recent_from = errors[errors.len() - 1].0 - RECENT_SECONDS;
    Ok(errors
        .iter()
        .zip(&scores)
        .filter(|((t, _), s)| *t >= recent_from && **s >= DEFAULT_ALARM_SCORE)
        .map(|(p, _)| p.0)
        .next_back()
        .map(|ts| RiskFlag {
            kind: RiskKind::ErrorChangepoint,
            message: format!("`{metric}` changed abruptly in the last day (at Unix time {ts})"),
        }))
}

/// The forecast peak rate's 80 % upper bound is above the highest rate any check used.
pub fn load_above_tested(peak: &Estimate, tested: Option<f64>) -> Option<RiskFlag> {
    let tested = tested?;
    (peak.upper80 > tested).then(|| RiskFlag {
        kind: RiskKind::LoadAboveTested,
        message: format!(
            "the forecast peak ({:.1}/s, 80% up to {:.1}/s) is above the highest rate any check used ({tested}/s)",
            peak.expected, peak.upper80
        ),
    })
}

/// Dependency latency, in milliseconds, is a risk when any of these holds:
///
/// - **step**: the median of the last day is at least [`LATENCY_RISE_RATIO`] times the median
///   before it and [`LATENCY_RISE_MIN_MS`] above it (medians, so that a few spikes do not
///   count as a shift; at least [`MIN_RECENT_POINTS`] and [`MIN_EARLIER_POINTS`] points);
/// - **trend**: the least-squares line (R² ≥ [`TREND_MIN_R2`]) projected to the end of the
///   horizon is at least [`LATENCY_RISE_RATIO`] times, and [`LATENCY_RISE_MIN_MS`] above, its
///   value at the last point;
/// - **tail**: the observed p99 is at least [`LATENCY_TAIL_RATIO`] times the median and
///   [`LATENCY_TAIL_MIN_MS`] above it.
///
/// `observed` are the percentiles of the same series (the document's `network.latency_ms`).
/// One flag carries the evidence of every rule that holds.
pub fn dependency_latency(
    latency_ms: &[(i64, f64)],
    observed: Option<&Percentiles>,
    horizon: i64,
    metric: &str,
) -> Option<RiskFlag> {
    let mut evidence = Vec::new();
    if let Some(last) = latency_ms.last() {
        let recent_from = last.0 - RECENT_SECONDS;
        let (mut recent, mut earlier): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
        for p in latency_ms.iter().filter(|p| p.1.is_finite()) {
            if p.0 > recent_from { recent.push(p.1) } else { earlier.push(p.1) }
        }
        if recent.len() >= MIN_RECENT_POINTS
            && earlier.len() >= MIN_EARLIER_POINTS
            && let (Some(now), Some(before)) = (median(&mut recent), median(&mut earlier))
            && rose(before, now)
        {
            evidence.push(format!(
                "its median over the last day, {now:.1} ms, is {} the {before:.1} ms median before it",
                times(now, before)
            ));
        }
    }
    if let Some(t) = trend(latency_ms) {
        let end = t.last_fit + t.slope * horizon as f64;
        if t.slope > 0.0 && t.r2 >= TREND_MIN_R2 && rose(t.last_fit, end) {
            evidence.push(format!(
                "it rises {:.2} ms a day (R² {:.2}), from {:.1} ms now to {end:.1} ms at the end of the horizon, {}",
                t.slope * 86_400.0,
                t.r2,
                t.last_fit,
                times(end, t.last_fit)
            ));
        }
    }
    if let Some(p) = observed
        && p.p99.is_finite()
        && p.p50.is_finite()
        && p.p99 >= LATENCY_TAIL_RATIO * p.p50
        && p.p99 - p.p50 >= LATENCY_TAIL_MIN_MS
    {
        evidence.push(format!(
            "its p99, {:.1} ms, is {} its {:.1} ms median: one observed interval in a hundred is that slow",
            p.p99,
            times(p.p99, p.p50),
            p.p50
        ));
    }
    (!evidence.is_empty()).then(|| RiskFlag {
        kind: RiskKind::DependencyLatency,
        message: format!(
            "dependency latency `{metric}`: {} (flagged from {LATENCY_RISE_RATIO}× and +{LATENCY_RISE_MIN_MS} ms for a rise, {LATENCY_TAIL_RATIO}× and +{LATENCY_TAIL_MIN_MS} ms for the tail)",
            evidence.join("; ")
        ),
    })
}

/// Whether a latency went from `before` to `after` by the ratio and the absolute floor.
fn rose(before: f64, after: f64) -> bool {
    before >= 0.0 && after >= LATENCY_RISE_RATIO * before && after - before >= LATENCY_RISE_MIN_MS
}

fn times(a: f64, b: f64) -> String {
    if b > 0.0 { format!("{:.1}×", a / b) } else { "far above".into() }
}

/// Disk use, in bytes, is a risk when its level at the end of the horizon reaches
/// [`DISK_FULL_FRACTION`] of the disk's capacity in production (the latest value of its size
/// metric). The level is the trend's projection when the series trends up
/// (R² ≥ [`TREND_MIN_R2`]), else the last observed value: a disk already nearly full is a risk
/// whether or not it grows. Without a capacity nothing is judged: the disk a check gives an
/// environment is the application's writable layer, not the volume production measures, so
/// it is no yardstick for production's use.
pub fn disk_filling(
    used: &[(i64, f64)],
    capacity_bytes: Option<f64>,
    horizon: i64,
    metric: &str,
) -> Option<RiskFlag> {
    let cap = capacity_bytes.filter(|c| c.is_finite() && *c > 0.0)?;
    let last = used.last().filter(|p| p.1.is_finite())?.1;
    let (level, how) = match trend(used) {
        Some(t) if t.slope > 0.0 && t.r2 >= TREND_MIN_R2 => {
            let end = (t.last_fit + t.slope * horizon as f64).max(last);
            (
                end,
                format!(
                    "is forecast at {} at the end of the horizon (now {}, growing {} a day, R² {:.2})",
                    bytes(end),
                    bytes(last),
                    bytes(t.slope * 86_400.0),
                    t.r2
                ),
            )
        }
        _ => (last, format!("is at {} and not trending up", bytes(last))),
    };
    (level >= DISK_FULL_FRACTION * cap).then(|| RiskFlag {
        kind: RiskKind::DiskFilling,
        message: format!(
            "disk use `{metric}` {how}: {:.0}% of the {} capacity (flagged from {:.0}%)",
            level / cap * 100.0,
            bytes(cap),
            DISK_FULL_FRACTION * 100.0
        ),
    })
}

fn bytes(v: f64) -> ByteSize {
    ByteSize(v.max(0.0).round() as u64)
}

/// The most rows of a table that a check loaded, and where that number comes from (e.g. "the
/// manifest's [data]").
pub type TestedRows = BTreeMap<String, (f64, String)>;

/// Tables forecast to hold more rows at the end of the horizon than any check loaded: queries,
/// indexes and the database's files meet a size never rehearsed. Tables without a tested count
/// are not judged.
pub fn data_above_tested(volumes: &[TableVolume], tested: &TestedRows) -> Option<RiskFlag> {
    let above: Vec<String> = volumes
        .iter()
        .filter_map(|v| {
            let (rows, source) = tested.get(&v.table)?;
            (v.rows.is_finite() && v.rows > *rows).then(|| {
                format!(
                    "table `{}` is forecast at {:.0} rows ({} the {:.0} rows {source} loads)",
                    v.table,
                    v.rows,
                    times(v.rows, *rows),
                    rows
                )
            })
        })
        .collect();
    let metric = volumes.first().map(|v| v.metric.as_str()).unwrap_or_default();
    (!above.is_empty()).then(|| RiskFlag {
        kind: RiskKind::DataAboveTested,
        message: format!(
            "more data than any check loaded, from `{metric}` at the end of the horizon: {}",
            above.join("; ")
        ),
    })
}

#[cfg(test)]
mod tests;
