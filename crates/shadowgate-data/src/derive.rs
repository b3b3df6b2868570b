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
    categorical_counted(column, sample, domain, sensitive, privacy).map(|(c, _)| c)
}

/// The noisy count a category needs to be released when there is no public domain.
pub fn release_threshold(privacy: &Privacy) -> f64 {
    1.0 + (1.0 / (2.0 * privacy.delta)).ln() / privacy.epsilon
}

/// [`categorical`], and how many categories were released.
fn categorical_counted<S: AsRef<str>>(
    column: &str,
    sample: &[S],
    domain: Option<&[String]>,
    sensitive: bool,
    privacy: &Privacy,
) -> Result<(ColumnConfig, usize), DeriveError> {
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
        None => release_threshold(privacy),
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
    let column = ColumnConfig {
        name: column.into(),
        generator: Some(GenKind::Categorical),
        sensitive,
        values: Some(values),
        weights: Some(weights),
        ..ColumnConfig::default()
    };
    Ok((column, noisy.len()))
}

/// How to derive one table from a sample of its rows.
#[derive(Clone, Debug)]
pub struct TableSpec {
    pub table: String,
    pub rows: crate::model::Rows,
    /// Numeric columns with their public bounds and number of bins; all others are categorical.
    pub numeric: std::collections::HashMap<String, (f64, f64, usize)>,
    pub sensitive: std::collections::HashSet<String>,
    pub privacy: Privacy,
}

/// Why a table cannot be derived from a CSV sample.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SampleError {
    #[error("the sample has no header row; the first line must name the columns")]
    NoHeader,
    #[error("sample line {line}: {problem}")]
    Csv { line: usize, problem: String },
    #[error(
        "sample line {line}, column `{column}`: `{value}` is not a number; drop it from --numeric or fix the value"
    )]
    NotNumber { line: usize, column: String, value: String },
    #[error("`{0}` is given as numeric or sensitive but is not a column of the sample")]
    UnknownColumn(String),
    #[error(transparent)]
    Derive(#[from] DeriveError),
}

/// A derived table and notes for the user (columns where the noise left nothing).
#[derive(Clone, Debug)]
pub struct Derived {
    pub table: crate::model::TableConfig,
    pub notes: Vec<String>,
}

/// Derives a `[[data.tables]]` entry from a CSV sample (a header row, then one row per
/// record; RFC 4180 quoting). Each column spends `spec.privacy.epsilon`.
pub fn table_from_csv(text: &str, spec: &TableSpec) -> Result<Derived, SampleError> {
    let records = parse_csv(text)?;
    let Some((header, rows)) = records.split_first() else { return Err(SampleError::NoHeader) };
    let header = &header.1;
    for name in spec.numeric.keys().chain(spec.sensitive.iter()) {
        if !header.contains(name) {
            return Err(SampleError::UnknownColumn(name.clone()));
        }
    }
    let mut columns = Vec::with_capacity(header.len());
    let mut notes = Vec::new();
    for (i, name) in header.iter().enumerate() {
        let sensitive = spec.sensitive.contains(name);
        let cells =
            rows.iter().map(|(line, r)| (*line, r.get(i).map(String::as_str).unwrap_or("")));
        let column = match spec.numeric.get(name) {
            Some(&(lo, hi, bins)) => {
                let mut values = Vec::with_capacity(rows.len());
                for (line, v) in cells.filter(|(_, v)| !v.trim().is_empty()) {
                    let x = v.trim().parse::<f64>().map_err(|_| SampleError::NotNumber {
                        line,
                        column: name.clone(),
                        value: if sensitive { "(sensitive value)".into() } else { v.to_string() },
                    })?;
                    values.push(x);
                }
                numeric(name, &values, (lo, hi), bins, sensitive, &spec.privacy)?
            }
            None => {
                let values: Vec<&str> = cells.map(|(_, v)| v).collect();
                let (column, released) =
                    categorical_counted(name, &values, None, sensitive, &spec.privacy)?;
                if released == 0 {
                    notes.push(format!(
                        "column `{name}`: no category reached the release threshold of {:.1} records, \
                         so it holds one placeholder value; use a larger sample or a larger epsilon",
                        release_threshold(&spec.privacy)
                    ));
                }
                column
            }
        };
        columns.push(column);
    }
    let table = crate::model::TableConfig { name: spec.table.clone(), rows: spec.rows, columns };
    Ok(Derived { table, notes })
}

/// Records with the line each starts on. Quoted fields may hold commas, quotes (`""`) and
/// newlines; a trailing empty line is ignored.
fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, SampleError> {
    let mut out = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let (mut line, mut start) = (1, 1);
    let mut quoted = false;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            '"' => {
                return Err(SampleError::Csv {
                    line,
                    problem: "a quote inside an unquoted field; quote the whole field".into(),
                });
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                out.push((start, std::mem::take(&mut record)));
                line += 1;
                start = line;
                at_field_start = true;
            }
            _ => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if quoted {
        return Err(SampleError::Csv {
            line: start,
            problem: "a quoted field is not closed".into(),
        });
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        out.push((start, record));
    }
    if let Some((_, header)) = out.first() {
        let width = header.len();
        if let Some((line, r)) = out.iter().find(|(_, r)| r.len() != width) {
            return Err(SampleError::Csv {
                line: *line,
                problem: format!("{} fields, but the header has {width}", r.len()),
            });
        }
    }
    Ok(out)
}
