//! Small numerical helpers shared by the forecasting, detection and recommendation code.
//!
//! They are written here rather than taken from a statistics crate because each is a few lines
//! and the crate's build cost matters on the 2-core machines shadowgate is built on.

/// Arithmetic mean; `NaN` for an empty slice.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// The `q` quantile (0 ≤ q ≤ 1) with linear interpolation between order statistics (type 7,
/// the default of R and NumPy). Sorts `values` in place. `NaN` for an empty slice.
pub fn quantile_in_place(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_unstable_by(f64::total_cmp);
    quantile_of_sorted(values, q)
}

/// The `q` quantile of already sorted values, as [`quantile_in_place`].
pub fn quantile_of_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lower_idx = position.floor() as usize;
    let upper_idx = position.ceil() as usize;
    let fraction = position - lower_idx as f64;
    sorted[lower_idx] + (sorted[upper_idx] - sorted[lower_idx]) * fraction
}

/// Median of a copy of `values`; `NaN` for an empty slice.
pub fn median(values: &[f64]) -> f64 {
    let mut copy = values.to_vec();
    quantile_in_place(&mut copy, 0.5)
}

/// Complementary error function, with fractional error below 1.2e-7 everywhere (the Chebyshev
/// fit from Numerical Recipes, §6.2).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let polynomial = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let result = t * polynomial.exp();
    if x >= 0.0 { result } else { 2.0 - result }
}

/// Upper tail probability of the standard normal distribution, P(Z > z).
pub fn normal_upper_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Sample autocorrelation of `values` at `lag`, using the overall mean and variance.
/// Zero when the series is constant or shorter than `lag + 2`.
pub fn autocorrelation(values: &[f64], lag: usize) -> f64 {
    if lag == 0 || values.len() < lag + 2 {
        return 0.0;
    }
    let mean_value = mean(values);
    let denominator: f64 = values.iter().map(|v| (v - mean_value).powi(2)).sum();
    if denominator <= f64::MIN_POSITIVE {
        return 0.0;
    }
    let numerator: f64 =
        values.iter().zip(&values[lag..]).map(|(a, b)| (a - mean_value) * (b - mean_value)).sum();
    numerator / denominator
}

#[cfg(test)]
mod tests;
