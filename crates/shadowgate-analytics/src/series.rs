//! Regular time series: step detection and resampling of irregular input onto a fixed grid.
//!
//! Telemetry arrives with jitter, duplicates and gaps (a scrape missed, an agent restarted).
//! Seasonal models need one value per fixed step, so every analysis starts here: the step is
//! the median spacing of the input, samples are averaged into the grid point nearest to them,
//! and empty grid points are filled by linear interpolation between their neighbours.

/// The largest grid this crate builds, in points (about 19 years of minutely data). It keeps a
/// hostile or mistyped timestamp from asking for terabytes of memory.
pub const MAX_GRID_POINTS: usize = 10_000_000;

/// A series with one value per `step_seconds`, starting at `start`.
#[derive(Clone, Debug, PartialEq)]
pub struct RegularSeries {
    /// Timestamp of `values[0]`, in seconds since the Unix epoch.
    pub start: i64,
    /// Spacing between consecutive values, in seconds.
    pub step_seconds: i64,
    pub values: Vec<f64>,
    /// How many grid points had no sample and were interpolated.
    pub filled_points: usize,
}

impl RegularSeries {
    /// Timestamp of the value at `index`.
    pub fn timestamp_at(&self, index: usize) -> i64 {
        self.start + self.step_seconds * index as i64
    }
}

/// Why a series could not be used.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum SeriesError {
    #[error("the series is empty: pass at least {needed} (timestamp, value) points")]
    Empty { needed: usize },
    #[error(
        "point {index} has a non-finite value ({value}): drop it or replace it before analysis"
    )]
    NonFiniteValue { index: usize, value: f64 },
    #[error(
        "all {points} points share one timestamp, so no step can be detected: pass points at distinct times or set the step explicitly"
    )]
    NoStep { points: usize },
    #[error("step_seconds must be positive, got {step_seconds}")]
    NonPositiveStep { step_seconds: i64 },
    #[error(
        "the series spans {span_seconds} s, which at a step of {step_seconds} s needs {grid_points} grid points (more than {MAX_GRID_POINTS}): check the timestamps' unit (seconds expected) or use a coarser step"
    )]
    GridTooLarge { span_seconds: i64, step_seconds: i64, grid_points: u128 },
    #[error(
        "the series is too short: {what} needs at least {needed} points at the {step_seconds} s step, got {got}"
    )]
    TooShort { what: &'static str, needed: usize, got: usize, step_seconds: i64 },
}

/// Checks that every value is finite.
pub fn check_finite(points: &[(i64, f64)]) -> Result<(), SeriesError> {
    match points.iter().position(|(_, value)| !value.is_finite()) {
        Some(index) => Err(SeriesError::NonFiniteValue { index, value: points[index].1 }),
        None => Ok(()),
    }
}

/// The median spacing between consecutive distinct timestamps, in seconds.
///
/// The median ignores isolated gaps and jitter, which is what "the step" means for telemetry.
pub fn detect_step(points: &[(i64, f64)]) -> Result<i64, SeriesError> {
    if points.is_empty() {
        return Err(SeriesError::Empty { needed: 2 });
    }
    let mut timestamps: Vec<i64> = points.iter().map(|(t, _)| *t).collect();
    if !timestamps.is_sorted() {
        timestamps.sort_unstable();
    }
    let mut spacings: Vec<i64> =
        timestamps.windows(2).map(|pair| pair[1] - pair[0]).filter(|d| *d > 0).collect();
    if spacings.is_empty() {
        return Err(SeriesError::NoStep { points: points.len() });
    }
    let middle = spacings.len() / 2;
    let (_, median_spacing, _) = spacings.select_nth_unstable(middle);
    Ok(*median_spacing)
}

/// Puts `points` on a grid of `step_seconds`, starting at the earliest timestamp.
///
/// Each point goes to the nearest grid point; several points on one grid point are averaged;
/// grid points without any are linearly interpolated. Points need not be sorted.
pub fn resample(points: &[(i64, f64)], step_seconds: i64) -> Result<RegularSeries, SeriesError> {
    if step_seconds <= 0 {
        return Err(SeriesError::NonPositiveStep { step_seconds });
    }
    if points.is_empty() {
        return Err(SeriesError::Empty { needed: 1 });
    }
    check_finite(points)?;
    let (first, last) =
        points.iter().fold((i64::MAX, i64::MIN), |(lo, hi), (t, _)| (lo.min(*t), hi.max(*t)));
    let span_seconds = last.saturating_sub(first);
    let grid_points = (span_seconds as u128 + step_seconds as u128 / 2) / step_seconds as u128 + 1;
    if grid_points > MAX_GRID_POINTS as u128 {
        return Err(SeriesError::GridTooLarge { span_seconds, step_seconds, grid_points });
    }
    let grid_points = grid_points as usize;
    let mut sums = vec![0.0; grid_points];
    let mut counts = vec![0u32; grid_points];
    for (timestamp, value) in points {
        let offset = timestamp - first;
        let grid_idx = ((offset + step_seconds / 2) / step_seconds) as usize;
        let grid_idx = grid_idx.min(grid_points - 1);
        sums[grid_idx] += value;
        counts[grid_idx] += 1;
    }
    let mut values: Vec<f64> = sums
        .iter()
        .zip(&counts)
        .map(|(sum, count)| if *count > 0 { sum / f64::from(*count) } else { f64::NAN })
        .collect();
    let filled_points = interpolate_gaps(&mut values);
    Ok(RegularSeries { start: first, step_seconds, values, filled_points })
}

/// Detects the step and resamples onto it.
pub fn regularize(points: &[(i64, f64)]) -> Result<RegularSeries, SeriesError> {
    check_finite(points)?;
    let step_seconds = detect_step(points)?;
    resample(points, step_seconds)
}

/// Replaces `NaN` runs by linear interpolation between the neighbouring values (or by the
/// nearest value at either end). Returns how many values were filled.
fn interpolate_gaps(values: &mut [f64]) -> usize {
    let mut filled = 0;
    let mut previous_known: Option<usize> = None;
    let mut idx = 0;
    while idx < values.len() {
        if !values[idx].is_nan() {
            previous_known = Some(idx);
            idx += 1;
            continue;
        }
        let gap_start = idx;
        while idx < values.len() && values[idx].is_nan() {
            idx += 1;
        }
        let next_known = (idx < values.len()).then_some(idx);
        for gap_idx in gap_start..idx {
            values[gap_idx] = match (previous_known, next_known) {
                (Some(before), Some(after)) => {
                    let fraction = (gap_idx - before) as f64 / (after - before) as f64;
                    values[before] + (values[after] - values[before]) * fraction
                }
                (Some(before), None) => values[before],
                (None, Some(after)) => values[after],
                (None, None) => 0.0,
            };
            filled += 1;
        }
    }
    filled
}

#[cfg(test)]
mod tests;
