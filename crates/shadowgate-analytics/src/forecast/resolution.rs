//! The working resolution: a recent window of the series, averaged into coarser buckets.
//!
//! MSTL with an AutoETS trend takes about 14 s on a year of minutely data on a 2-core machine,
//! and the backtest fits each model several times. Two reductions keep a forecast interactive:
//! only the most recent history is modelled (eight weeks by default, enough for eight weekly
//! cycles), and that window is averaged into buckets of `factor` steps so that the models see
//! at most about two thousand points. The factor divides every detected period whenever possible,
//! so seasonal phases stay aligned. Models forecast bucket means; predictions are mapped back
//! to the original step by linear interpolation between bucket centres, and the intervals are
//! widened by the spread of the original values around that interpolation, so they describe
//! single observations rather than bucket means. The backtest scores the mapped predictions
//! against the original observations, so the reported accuracy includes every approximation.

use crate::stats;

/// Bounds of the prediction intervals, each as wide as the level says.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Prediction {
    pub point: Vec<f64>,
    pub lower80: Vec<f64>,
    pub upper80: Vec<f64>,
    pub lower95: Vec<f64>,
    pub upper95: Vec<f64>,
}

impl Prediction {
    pub fn with_capacity(capacity: usize) -> Prediction {
        Prediction {
            point: Vec::with_capacity(capacity),
            lower80: Vec::with_capacity(capacity),
            upper80: Vec::with_capacity(capacity),
            lower95: Vec::with_capacity(capacity),
            upper95: Vec::with_capacity(capacity),
        }
    }

    /// Appends a point with symmetric normal intervals of standard deviation `sigma`.
    pub fn push_normal(&mut self, point: f64, sigma: f64) {
        self.point.push(point);
        self.lower80.push(point - Z80 * sigma);
        self.upper80.push(point + Z80 * sigma);
        self.lower95.push(point - Z95 * sigma);
        self.upper95.push(point + Z95 * sigma);
    }
}

/// Standard normal quantiles for central 80 % and 95 % intervals.
pub(crate) const Z80: f64 = 1.281_551_565_544_600_5;
pub(crate) const Z95: f64 = 1.959_963_984_540_054;

/// A bucket-level forecast: point and interval bounds per bucket.
#[derive(Clone, Debug, Default)]
pub(crate) struct BucketForecast {
    pub point: Vec<f64>,
    pub sigma80: Vec<f64>,
    pub sigma95: Vec<f64>,
}

/// The modelled window at the original step (`fine`) and averaged (`coarse`).
#[derive(Clone, Debug)]
pub(crate) struct WorkingSeries {
    pub fine: Vec<f64>,
    pub coarse: Vec<f64>,
    pub factor: usize,
    /// Standard deviation of the original values around the interpolated bucket means.
    pub within_bucket_sigma: f64,
}

impl WorkingSeries {
    /// Builds the working series from the modelled window. The first `fine.len() % factor`
    /// values are dropped so that the last bucket ends at the last observation.
    pub fn new(window: &[f64], factor: usize) -> WorkingSeries {
        let factor = factor.max(1);
        let fine = window[window.len() % factor..].to_vec();
        let coarse: Vec<f64> = fine.chunks_exact(factor).map(stats::mean).collect();
        let mut working = WorkingSeries { fine, coarse, factor, within_bucket_sigma: 0.0 };
        if factor > 1 {
            let interpolated = working.interpolate_buckets(&working.coarse, 0, working.fine.len());
            let deviations: Vec<f64> = working
                .fine
                .iter()
                .zip(&interpolated)
                .map(|(value, smooth)| value - smooth)
                .collect();
            working.within_bucket_sigma = (deviations.iter().map(|d| d * d).sum::<f64>()
                / deviations.len().max(1) as f64)
                .sqrt();
        }
        working
    }

    /// The fine position of the centre of bucket `bucket_idx`.
    fn bucket_centre(&self, bucket_idx: f64) -> f64 {
        bucket_idx * self.factor as f64 + (self.factor as f64 - 1.0) / 2.0
    }

    /// Linear interpolation of bucket values (bucket `first_bucket` onwards) at fine indices
    /// `first_bucket * factor ..` for `count` points; held flat beyond the last centre.
    fn interpolate_buckets(&self, buckets: &[f64], first_bucket: usize, count: usize) -> Vec<f64> {
        let start_fine = first_bucket * self.factor;
        (start_fine..start_fine + count)
            .map(|fine_idx| {
                let position = (fine_idx as f64 - (self.factor as f64 - 1.0) / 2.0)
                    / self.factor as f64
                    - first_bucket as f64;
                interpolate_at(buckets, position)
            })
            .collect()
    }

    /// Maps a bucket forecast that starts right after the first `cut_buckets` buckets to
    /// `horizon` values at the original step. The last training bucket anchors the
    /// interpolation before the first forecast bucket's centre.
    pub fn to_fine(
        &self,
        cut_buckets: usize,
        forecast: &BucketForecast,
        horizon: usize,
    ) -> Prediction {
        let anchor_idx = cut_buckets.saturating_sub(1);
        let anchor_point = self.coarse.get(anchor_idx).copied().unwrap_or(0.0);
        let anchor_sigma80 = forecast.sigma80.first().copied().unwrap_or(0.0);
        let anchor_sigma95 = forecast.sigma95.first().copied().unwrap_or(0.0);
        let with_anchor = |anchor: f64, values: &[f64]| -> Vec<f64> {
            std::iter::once(anchor).chain(values.iter().copied()).collect()
        };
        let points = with_anchor(anchor_point, &forecast.point);
        let sigmas80 = with_anchor(anchor_sigma80, &forecast.sigma80);
        let sigmas95 = with_anchor(anchor_sigma95, &forecast.sigma95);
        let first_fine = cut_buckets * self.factor;
        let anchor_centre = self.bucket_centre(anchor_idx as f64);
        let within_variance = self.within_bucket_sigma.powi(2);
        let mut prediction = Prediction::with_capacity(horizon);
        for fine_idx in first_fine..first_fine + horizon {
            let position = (fine_idx as f64 - anchor_centre) / self.factor as f64;
            let point = interpolate_at(&points, position);
            let sigma80 = (interpolate_at(&sigmas80, position).powi(2) + within_variance).sqrt();
            let sigma95 = (interpolate_at(&sigmas95, position).powi(2) + within_variance).sqrt();
            prediction.point.push(point);
            prediction.lower80.push(point - Z80 * sigma80);
            prediction.upper80.push(point + Z80 * sigma80);
            prediction.lower95.push(point - Z95 * sigma95);
            prediction.upper95.push(point + Z95 * sigma95);
        }
        prediction
    }
}

/// Linear interpolation of `values` at a fractional index, clamped to the ends.
fn interpolate_at(values: &[f64], position: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let last = values.len() - 1;
    if position <= 0.0 {
        return values[0];
    }
    if position >= last as f64 {
        return values[last];
    }
    let lower_idx = position.floor() as usize;
    let fraction = position - lower_idx as f64;
    values[lower_idx] + (values[lower_idx + 1] - values[lower_idx]) * fraction
}

/// The bucket factor: the smallest of at least `needed` (and at most four times it) that
/// divides every period; failing that, the largest divisor of every period down to half of
/// `needed` (the models then see up to twice the points asked for, rather than misaligned
/// cycles); failing that, `needed`.
pub(crate) fn choose_factor(needed: usize, periods: &[usize]) -> usize {
    let needed = needed.max(1);
    let divides_all =
        |factor: &usize| periods.iter().all(|period| period % factor == 0 && period / factor >= 2);
    (needed..=needed * 4)
        .find(divides_all)
        .or_else(|| (needed.div_ceil(2)..needed).rev().find(divides_all))
        .unwrap_or(needed)
}
