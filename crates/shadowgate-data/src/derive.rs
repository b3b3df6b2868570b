//! Column distributions derived from production samples with differential privacy.
//!
//! Numeric columns become a noisy histogram ([`GenKind::Histogram`]); categorical columns
//! become noisy frequencies ([`GenKind::Categorical`]). Both use the Laplace mechanism.
//!
//! **Sensitivity.** Neighbouring samples differ by one record (added or removed). One record
//! falls into exactly one histogram bin or one category, so it changes the count vector by 1
//! in one entry: the L1 sensitivity is Δ = 1, and adding independent Laplace(Δ/ε) noise to every
//! count makes the released counts ε-differentially private. Generated rows are drawn from the
//! noisy counts only, so they inherit the guarantee (post-processing).
//!
//! What the guarantee needs:
//! - Numeric bounds and the number of bins are public: they are given, never taken from the
//!   sample (a sample's minimum is a raw value). Values outside the bounds are clamped into
//!   the edge bins, which keeps the sensitivity at 1.
//! - For categories, a public domain (`domain`) gives pure ε-DP. Without one, the categories
//!   seen in the sample are used, and a category is released only if its noisy count reaches a
//!   threshold τ = 1 + ln(1 / (2δ)) / ε: a category held by a single record survives with
//!   probability ½·exp(−ε(τ − 1)) = δ, which makes the release (ε, δ)-DP.
//! - ε is per column; deriving k columns from the same records spends k·ε in total
//!   (sequential composition).
//! - The noise is a function of the seed given here. Use a secret seed (from the operating
//!   system's random source, in the shell), not the published data seed: whoever knows the seed
//!   can recompute and subtract the noise.
//!
//! **Sensitive columns** (`sensitive = true`) never carry a raw value into generated data:
//! categorical values are replaced by pseudonyms (`<column>_<k>`, k by decreasing noisy
//! frequency), and numeric values are drawn uniformly inside noisy bins between public bounds.

use crate::model::{ColumnConfig, GenKind};
use crate::plan::{Stream, fnv, mix};

/// Why a distribution cannot be derived.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DeriveError {
    #[error(
        "column `{column}`: epsilon = {epsilon} is not usable; give a privacy budget above 0 (e.g. 1.0; smaller is more private and noisier)"
    )]
    Epsilon { column: String, epsilon: f64 },
    #[error(
        "column `{column}`: delta = {delta} is not usable; give a probability between 0 and 1 (e.g. 1e-6)"
    )]
    Delta { column: String, delta: f64 },
    #[error(
        "column `{column}`: bounds [{lo}, {hi}] are not two finite numbers in increasing order; give the public range of the column"
    )]
    Bounds { column: String, lo: f64, hi: f64 },
    #[error("column `{column}`: bins = {bins}; give between 1 and 10000 bins")]
    Bins { column: String, bins: usize },
    #[error(
        "column `{column}`: sample value #{index} is not a finite number; drop or fix it before deriving"
    )]
    NotFinite { column: String, index: usize },
}

/// Privacy parameters.
#[derive(Clone, Copy, Debug)]
pub struct Privacy {
    /// The privacy budget of one column.
    pub epsilon: f64,
    /// Only for categorical columns without a public domain (see the module documentation).
    pub delta: f64,
    /// The seed of the noise; keep it secret.
    pub noise_seed: u64,
}

impl Default for Privacy {
    fn default() -> Self {
        Privacy { epsilon: 1.0, delta: 1e-6, noise_seed: 0 }
    }
}

fn check(column: &str, p: &Privacy) -> Result<(), DeriveError> {
    if !(p.epsilon.is_finite() && p.epsilon > 0.0) {
        return Err(DeriveError::Epsilon { column: column.into(), epsilon: p.epsilon });
    }
    if !(p.delta > 0.0 && p.delta < 1.0) {
        return Err(DeriveError::Delta { column: column.into(), delta: p.delta });
    }
    Ok(())
}

/// Laplace(0, scale) noise, one independent draw per index.
pub fn laplace(stream_key: u64, index: u64, scale: f64) -> f64 {
    let u = Stream(stream_key).f64(index, 0) - 0.5; // [-0.5, 0.5)
    let tail = (1.0 - 2.0 * u.abs()).max(f64::MIN_POSITIVE);
    -scale * u.signum() * tail.ln()
}

fn noise_key(column: &str, p: &Privacy) -> u64 {
    mix(p.noise_seed ^ fnv(column).rotate_left(29) ^ 0x004C_4150_4C41_4345)
}

/// A numeric column as a noisy histogram of `bins` equal-width bins over the public range
/// `[lo, hi]`.
pub fn numeric(
    column: &str,
    sample: &[f64],
    (lo, hi): (f64, f64),
    bins: usize,
    sensitive: bool,
    privacy: &Privacy,
) -> Result<ColumnConfig, DeriveError> {
    check(column, privacy)?;
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(DeriveError::Bounds { column: column.into(), lo, hi });
    }
    if !(1..=10_000).contains(&bins) {
        return Err(DeriveError::Bins { column: column.into(), bins });
    }
    let mut counts = vec![0.0f64; bins];
    let width = (hi - lo) / bins as f64;
    for (index, &v) in sample.iter().enumerate() {
        if !v.is_finite() {
            return Err(DeriveError::NotFinite { column: column.into(), index });
        }
        let b = ((v - lo) / width).floor().clamp(0.0, (bins - 1) as f64) as usize;
        counts[b] += 1.0;
    }
    let key = noise_key(column, privacy);
    let scale = 1.0 / privacy.epsilon;
    let mut weights: Vec<f64> = counts
        .iter()
        .enumerate()
        .map(|(i, c)| (c + laplace(key, i as u64, scale)).max(0.0))
        .collect();
    if weights.iter().all(|w| *w <= 0.0) {
        weights = vec![1.0; bins];
    }
    let edges: Vec<f64> =
        (0..=bins).map(|i| if i == bins { hi } else { lo + width * i as f64 }).collect();
    Ok(ColumnConfig {
        name: column.into(),
        generator: Some(GenKind::Histogram),
        sensitive,
        edges: Some(edges),
        weights: Some(weights),
        ..ColumnConfig::default()
    })
}

/// A categorical column as noisy frequencies, over a public `domain` if given, else over the
/// categories seen (thresholded, see the module documentation).
pub fn categorical<S: AsRef<str>>(
    column: &str,
    sample: &[S],
    domain: Option<&[String]>,
    sensitive: bool,
    privacy: &Privacy,
) -> Result<ColumnConfig, DeriveError> {
    check(column, privacy)?;
    let mut counts: std::collections::BTreeMap<&str, f64> = std::collections::BTreeMap::new();
    if let Some(domain) = domain {
        for v in domain {
            counts.insert(v.as_str(), 0.0);
        }
    }
    for v in sample {
        match counts.get_mut(v.as_ref()) {
            Some(c) => *c += 1.0,
            None if domain.is_none() => {
                counts.insert(v.as_ref(), 1.0);
            }
            None => {} // outside the public domain: dropped
        }
    }
    let key = noise_key(column, privacy);
    let scale = 1.0 / privacy.epsilon;
    let threshold = match domain {
        Some(_) => 0.0,
        None => 1.0 + (1.0 / (2.0 * privacy.delta)).ln() / privacy.epsilon,
    };
    // Noise is keyed by the category's hash, so it does not depend on which other
    // categories happen to be present.
    let mut noisy: Vec<(&str, f64)> = counts
        .into_iter()
        .map(|(v, c)| (v, c + laplace(key, fnv(v), scale)))
        .filter(|(_, c)| *c > 0.0 && *c >= threshold)
        .collect();
    noisy.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    let (values, weights): (Vec<String>, Vec<f64>) = if noisy.is_empty() {
        // Nothing survives the noise: one placeholder category.
        (vec![format!("{column}_0")], vec![1.0])
    } else {
        noisy
            .iter()
            .enumerate()
            .map(|(k, (v, c))| {
                (if sensitive { format!("{column}_{k}") } else { v.to_string() }, *c)
            })
            .unzip()
    };
    Ok(ColumnConfig {
        name: column.into(),
        generator: Some(GenKind::Categorical),
        sensitive,
        values: Some(values),
        weights: Some(weights),
        ..ColumnConfig::default()
    })
}
