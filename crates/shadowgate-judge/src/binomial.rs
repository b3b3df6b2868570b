//! Exact binomial tail probabilities and Clopper–Pearson intervals.
//!
//! The rate test for count metrics conditions on the total number of events, which turns the
//! comparison of two Poisson rates into a binomial question. Its tails are regularized
//! incomplete beta functions, computed here with Lentz's continued fraction and a Lanczos
//! log-gamma; the tests check them against SciPy.

/// Lanczos approximation, g = 7 with nine coefficients (about 15 correct digits).
const LANCZOS_G: f64 = 7.0;
const LANCZOS_COEFFICIENTS: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];

/// ln Γ(x) for x > 0.
pub fn ln_gamma(x: f64) -> f64 {
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let shifted = x - 1.0;
    let mut series = LANCZOS_COEFFICIENTS[0];
    for (idx, coefficient) in LANCZOS_COEFFICIENTS.iter().enumerate().skip(1) {
        series += coefficient / (shifted + idx as f64);
    }
    let base = shifted + LANCZOS_G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (shifted + 0.5) * base.ln() - base + series.ln()
}

/// The regularized incomplete beta function I_x(a, b) for a, b > 0 and x in [0, 1].
pub fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (-x).ln_1p();
    // The continued fraction converges quickly only on this side of the mean; the other side
    // follows from I_x(a, b) = 1 − I_{1−x}(b, a).
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_continued_fraction(x, a, b) / a
    } else {
        1.0 - ln_front.exp() * beta_continued_fraction(1.0 - x, b, a) / b
    }
}

/// The continued fraction of the incomplete beta function, by the modified Lentz method.
fn beta_continued_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let max_iterations = 1_000 + (10.0 * (a + b).sqrt()) as usize;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut result = d;
    for m in 1..=max_iterations {
        let m = m as f64;
        let two_m = 2.0 * m;
        // Even step.
        let even = m * (b - m) * x / ((a + two_m - 1.0) * (a + two_m));
        d = 1.0 + even * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + even / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        result *= d * c;
        // Odd step.
        let odd = -(a + m) * (a + b + m) * x / ((a + two_m) * (a + two_m + 1.0));
        d = 1.0 + odd * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + odd / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        result *= delta;
        if (delta - 1.0).abs() < 1e-15 {
            break;
        }
    }
    result
}

/// P(X ≥ k) for X ~ Binomial(n, p).
pub fn upper_tail(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    regularized_incomplete_beta(p, k as f64, (n - k + 1) as f64)
}

/// P(X ≤ k) for X ~ Binomial(n, p).
pub fn lower_tail(k: u64, n: u64, p: f64) -> f64 {
    if k >= n {
        return 1.0;
    }
    regularized_incomplete_beta(1.0 - p, (n - k) as f64, (k + 1) as f64)
}

/// The Clopper–Pearson ("exact") interval for a binomial proportion after `k` successes in
/// `n` trials: each bound is the proportion at which one tail equals `(1 − confidence) / 2`.
pub fn clopper_pearson(k: u64, n: u64, confidence: f64) -> (f64, f64) {
    let half_alpha = (1.0 - confidence) / 2.0;
    let lower = if k == 0 {
        0.0
    } else {
        solve_decreasing(|p| 1.0 - upper_tail(k, n, p), 1.0 - half_alpha)
    };
    let upper = if k >= n { 1.0 } else { solve_decreasing(|p| lower_tail(k, n, p), half_alpha) };
    (lower, upper)
}

/// Bisection for the `p` in (0, 1) where a decreasing function of `p` equals `target`.
fn solve_decreasing(function: impl Fn(f64) -> f64, target: f64) -> f64 {
    let mut low = 0.0_f64;
    let mut high = 1.0_f64;
    for _ in 0..200 {
        let middle = 0.5 * (low + high);
        if middle <= low || middle >= high {
            break;
        }
        if function(middle) > target {
            low = middle;
        } else {
            high = middle;
        }
        if high - low <= 1e-15 * high {
            break;
        }
    }
    0.5 * (low + high)
}

#[cfg(test)]
mod tests;
