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

/// Population standard deviation; `NaN` for an empty slice.
pub fn standard_deviation(values: &[f64]) -> f64 {
    let mean_value = mean(values);
    let variance =
        values.iter().map(|v| (v - mean_value).powi(2)).sum::<f64>() / values.len() as f64;
    variance.sqrt()
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

/// Median absolute deviation scaled by 1.4826, a robust estimate of the standard deviation
/// under normality.
pub fn scaled_median_absolute_deviation(values: &[f64]) -> f64 {
    let center = median(values);
    let deviations: Vec<f64> = values.iter().map(|v| (v - center).abs()).collect();
    1.4826 * median(&deviations)
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

/// Quantile function of the standard normal distribution (Acklam's rational approximation,
/// relative error below 1.2e-9). Returns ±∞ at 0 and 1.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let low = 0.024_25;
    if p < low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
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
