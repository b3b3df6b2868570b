//! A validated `[data]` section compiled into generators: tables in load order, row counts
//! resolved, each column a pure function of (seed, table, column, row number).
//!
//! The random source is counter-based: every draw is a hash of the column's stream key, the row
//! number and the draw number. A row can therefore be generated without generating the rows
//! before it, chunks can be produced in any order or in parallel with identical output, and
//! adding a column does not change the values of the others. (The core's sequential
//! `shadowgate_core::rng::Rng` does not fit: the core's manifest depends on this crate, and a
//! sequential stream would tie each value to the order of generation.)

use crate::model::{
    ColumnConfig, DataConfig, GenKind, Problem, RowOverrides, Rows, resolve_reference, validate,
};

/// Why a `[data]` section cannot be turned into a plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("invalid [data] section:\n{}", render(.0))]
    Invalid(Vec<Problem>),
    #[error(
        "table `{table}` has rows = \"predicted\" but no predicted row count was given for it; \
         run `shadowgate predict` to produce predicted conditions, or give rows a number"
    )]
    MissingPrediction { table: String },
    #[error("foreign keys form a cycle through tables {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    #[error(
        "table `{child}` references `{parent}`, which has {parents} rows, with a Zipf skew; \
         at most {max} parent rows can be skewed (drop `s` for a uniform choice)"
    )]
    SkewTooLarge { child: String, parent: String, parents: u64, max: u64 },
}

fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  data.{}: {} ({})", p.path, p.message, p.help))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The indices of `cfg.tables` in an order where every table comes after the tables its
/// foreign keys point to; independent tables keep their declared order. References that do
/// not resolve are left to [`validate`].
pub fn load_order(cfg: &DataConfig) -> Result<Vec<usize>, PlanError> {
    let n = cfg.tables.len();
    let index = |name: &str| cfg.tables.iter().position(|t| t.name == name);
    let mut parents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, t) in cfg.tables.iter().enumerate() {
        for c in &t.columns {
            if c.generator == Some(GenKind::ForeignKey)
                && let Some((pt, _)) = c.references.as_deref().and_then(|r| r.split_once('.'))
                && let Some(p) = index(pt)
                && !parents[i].contains(&p)
            {
                parents[i].push(p);
            }
        }
    }
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let next = (0..n).find(|&i| !done[i] && parents[i].iter().all(|&p| done[p]));
        match next {
            Some(i) => {
                done[i] = true;
                order.push(i);
            }
            None => {
                // Walk parent links from any remaining table until one repeats: that is a cycle.
                let mut path = vec![(0..n).find(|&i| !done[i]).unwrap_or(0)];
                loop {
                    let last = *path.last().unwrap_or(&0);
                    let Some(&p) = parents[last].iter().find(|&&p| !done[p]) else { break };
                    if let Some(pos) = path.iter().position(|&x| x == p) {
                        let mut cycle: Vec<String> =
                            path[pos..].iter().map(|&i| cfg.tables[i].name.clone()).collect();
                        cycle.push(cfg.tables[p].name.clone());
                        return Err(PlanError::Cycle(cycle));
                    }
                    path.push(p);
                }
                return Err(PlanError::Cycle(vec![cfg.tables[path[0]].name.clone()]));
            }
        }
    }
    Ok(order)
}

/// The whole data set: tables in load order.
#[derive(Clone, Debug)]
pub struct Plan {
    pub seed: u64,
    pub tables: Vec<TablePlan>,
}

#[derive(Clone, Debug)]
pub struct TablePlan {
    pub name: String,
    pub rows: u64,
    pub columns: Vec<ColumnPlan>,
}

#[derive(Clone, Debug)]
pub struct ColumnPlan {
    pub name: String,
    /// The SQL type used to create the table.
    pub sql_type: String,
    /// Whether `sql_type` is the generator's default (binary COPY needs that).
    pub default_type: bool,
    pub sensitive: bool,
    nulls: f64,
    stream: Stream,
    generator: Gen,
}

/// What the generator of a column produces, for loaders that need typed values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    Int,
    Float,
    Text,
    Timestamp,
}

#[derive(Clone, Debug)]
enum Gen {
    Sequence { start: i64, step: i64 },
    UniformInt { lo: i64, span: u128 },
    UniformFloat { lo: f64, width: f64, scale: Option<f64> },
    Normal { mean: f64, sd: f64, lo: f64, hi: f64, scale: Option<f64> },
    Zipf { cdf: Vec<f64>, values: Option<Vec<String>> },
    Categorical { cdf: Vec<f64>, values: Vec<String> },
    Text { words: Vec<String>, lo: u32, hi: u32 },
    Timestamp { from: i64, span: i64, increasing: bool, rows: u64 },
    ForeignKey { start: i64, step: i64, parents: u64, cdf: Option<Vec<f64>> },
    Histogram { edges: Vec<f64>, cdf: Vec<f64>, scale: Option<f64> },
}

/// Receives the cells of generated rows, column by column.
pub trait Sink {
    fn begin_row(&mut self, columns: usize);
    fn null(&mut self);
    fn int(&mut self, v: i64);
    fn float(&mut self, v: f64);
    fn text(&mut self, v: &str);
    /// Seconds since the Unix epoch, UTC.
    fn timestamp(&mut self, secs: i64);
    fn end_row(&mut self);
}

impl Plan {
    /// Compiles a `[data]` section. Row counts of tables with `rows = "predicted"` come from
    /// `overrides`, which also replace numeric counts (conditions scale the data volume).
    pub fn new(cfg: &DataConfig, seed: u64, overrides: &RowOverrides) -> Result<Plan, PlanError> {
        let problems = validate(cfg);
        if !problems.is_empty() {
            return Err(PlanError::Invalid(problems));
        }
        let order = load_order(cfg)?;
        let rows_of = |name: &str| -> Result<u64, PlanError> {
            let t = cfg
                .tables
                .iter()
                .find(|t| t.name == name)
                .ok_or_else(|| PlanError::MissingPrediction { table: name.to_string() })?;
            match (overrides.get(name), t.rows) {
                (Some(&n), _) => Ok(n),
                (None, Rows::Count(n)) => Ok(n),
                (None, Rows::Predicted) => {
                    Err(PlanError::MissingPrediction { table: name.to_string() })
                }
            }
        };
        let mut tables = Vec::with_capacity(order.len());
        for i in order {
            let t = &cfg.tables[i];
            let rows = rows_of(&t.name)?;
            let table_key = mix(seed ^ fnv(&t.name));
            let mut columns = Vec::with_capacity(t.columns.len());
            for c in &t.columns {
                let kind = compile(cfg, &t.name, c, rows, &rows_of)?;
                let default = default_type(&kind);
                columns.push(ColumnPlan {
                    name: c.name.clone(),
                    sql_type: c.sql_type.clone().unwrap_or_else(|| default.to_string()),
                    default_type: c
                        .sql_type
                        .as_deref()
                        .is_none_or(|s| s.eq_ignore_ascii_case(default)),
                    sensitive: c.sensitive,
                    nulls: c.nulls.unwrap_or(0.0),
                    stream: Stream(mix(table_key ^ fnv(&c.name).rotate_left(17))),
                    generator: kind,
                });
            }
            tables.push(TablePlan { name: t.name.clone(), rows, columns });
        }
        Ok(Plan { seed, tables })
    }

    pub fn table(&self, name: &str) -> Option<&TablePlan> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

impl TablePlan {
    /// Generates rows `range` into `sink`.
    pub fn write_rows(&self, range: std::ops::Range<u64>, sink: &mut impl Sink) {
        let mut scratch = String::new();
        for row in range {
            sink.begin_row(self.columns.len());
            for c in &self.columns {
                c.emit(row, &mut scratch, sink);
            }
            sink.end_row();
        }
    }

    /// `CREATE TABLE IF NOT EXISTS` with the columns' SQL types.
    pub fn create_sql(&self) -> String {
        let cols: Vec<String> =
            self.columns.iter().map(|c| format!("\"{}\" {}", c.name, c.sql_type)).collect();
        format!("CREATE TABLE IF NOT EXISTS \"{}\" ({})", self.name, cols.join(", "))
    }

    /// The quoted column list, e.g. `"id", "name"`.
    pub fn column_list(&self) -> String {
        self.columns.iter().map(|c| format!("\"{}\"", c.name)).collect::<Vec<_>>().join(", ")
    }
}

impl ColumnPlan {
    pub fn kind(&self) -> ValueKind {
        match &self.generator {
            Gen::Sequence { .. } | Gen::UniformInt { .. } | Gen::ForeignKey { .. } => {
                ValueKind::Int
            }
            Gen::Zipf { values: None, .. } => ValueKind::Int,
            Gen::UniformFloat { .. } | Gen::Normal { .. } | Gen::Histogram { .. } => {
                ValueKind::Float
            }
            Gen::Zipf { values: Some(_), .. } | Gen::Categorical { .. } | Gen::Text { .. } => {
                ValueKind::Text
            }
            Gen::Timestamp { .. } => ValueKind::Timestamp,
        }
    }

    fn emit(&self, row: u64, scratch: &mut String, sink: &mut impl Sink) {
        let s = self.stream;
        if self.nulls > 0.0 && s.f64(row, 0) < self.nulls {
            sink.null();
            return;
        }
        match &self.generator {
            Gen::Sequence { start, step } => {
                sink.int(start.wrapping_add((row as i64).wrapping_mul(*step)))
            }
            Gen::UniformInt { lo, span } => {
                let x = (u128::from(s.u64(row, 1)) * span) >> 64;
                sink.int((i128::from(*lo) + x as i128) as i64)
            }
            Gen::UniformFloat { lo, width, scale } => {
                sink.float(round(lo + width * s.f64(row, 1), *scale))
            }
            Gen::Normal { mean, sd, lo, hi, scale } => {
                let u1 = 1.0 - s.f64(row, 1);
                let u2 = s.f64(row, 2);
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                sink.float(round((mean + sd * z).clamp(*lo, *hi), *scale))
            }
            Gen::Zipf { cdf, values } => {
                let rank = pick(cdf, s.f64(row, 1));
                match values {
                    Some(v) => sink.text(&v[rank]),
                    None => sink.int(rank as i64 + 1),
                }
            }
            Gen::Categorical { cdf, values } => sink.text(&values[pick(cdf, s.f64(row, 1))]),
            Gen::Text { words, lo, hi } => {
                let span = u64::from(hi - lo) + 1;
                let n = lo + ((u128::from(s.u64(row, 1)) * u128::from(span)) >> 64) as u32;
                scratch.clear();
                for i in 0..n {
                    if i > 0 {
                        scratch.push(' ');
                    }
                    let w = (u128::from(s.u64(row, 2 + u64::from(i))) * words.len() as u128) >> 64;
                    scratch.push_str(&words[w as usize]);
                }
                sink.text(scratch)
            }
            Gen::Timestamp { from, span, increasing, rows } => {
                let u = s.f64(row, 1);
                let offset = if *increasing {
                    // Row r falls in the r-th of `rows` equal slices: non-decreasing in r.
                    ((row as f64 + u) / (*rows).max(1) as f64 * *span as f64) as i64
                } else {
                    (u * *span as f64) as i64
                };
                sink.timestamp(from + offset.min(span - 1))
            }
            Gen::ForeignKey { start, step, parents, cdf } => {
                let idx = match cdf {
                    Some(cdf) => pick(cdf, s.f64(row, 1)) as u64,
                    None => ((u128::from(s.u64(row, 1)) * u128::from(*parents)) >> 64) as u64,
                };
                sink.int(start.wrapping_add((idx as i64).wrapping_mul(*step)))
            }
            Gen::Histogram { edges, cdf, scale } => {
                let bin = pick(cdf, s.f64(row, 1));
                let (a, b) = (edges[bin], edges[bin + 1]);
                sink.float(round(a + (b - a) * s.f64(row, 2), *scale))
            }
        }
    }
}

fn default_type(kind: &Gen) -> &'static str {
    match kind {
        Gen::Sequence { .. } | Gen::UniformInt { .. } | Gen::ForeignKey { .. } => "bigint",
        Gen::Zipf { values: None, .. } => "bigint",
        Gen::UniformFloat { .. } | Gen::Normal { .. } | Gen::Histogram { .. } => "double precision",
        Gen::Zipf { values: Some(_), .. } | Gen::Categorical { .. } | Gen::Text { .. } => "text",
        Gen::Timestamp { .. } => "timestamptz",
    }
}

/// Words of the built-in text generator.
const WORDS: &[&str] = &[
    "amber", "basket", "copper", "delta", "ember", "fable", "garnet", "harbor", "island", "jasper",
    "kernel", "lantern", "meadow", "nectar", "orchid", "pepper", "quartz", "river", "saddle",
    "timber", "umber", "velvet", "willow", "xenon", "yonder", "zephyr", "anchor", "bramble",
    "cinder", "dune", "echo", "falcon", "glacier", "hollow", "ivory", "juniper", "kettle", "lilac",
    "marble", "north", "oak", "pebble", "quill", "rustle", "spruce", "thistle", "upland", "violet",
    "wander", "yarrow", "zinc", "blue", "green", "small", "large", "quick", "quiet", "bright",
    "order", "parcel", "ship", "stock", "crate", "label",
];

fn compile(
    cfg: &DataConfig,
    table: &str,
    c: &ColumnConfig,
    rows: u64,
    rows_of: &dyn Fn(&str) -> Result<u64, PlanError>,
) -> Result<Gen, PlanError> {
    let scale = |d: Option<u32>| d.map(|d| 10f64.powi(d.min(15) as i32));
    // `validate` has run: required keys are present and values are in range.
    let kind = c.generator.unwrap_or(GenKind::Sequence);
    Ok(match kind {
        GenKind::Sequence => {
            Gen::Sequence { start: c.start.unwrap_or(1), step: c.step.unwrap_or(1) }
        }
        GenKind::UniformInt => {
            let (lo, hi) = (c.min.unwrap_or(0.0) as i64, c.max.unwrap_or(0.0) as i64);
            Gen::UniformInt { lo, span: (i128::from(hi) - i128::from(lo) + 1) as u128 }
        }
        GenKind::UniformFloat => {
            let lo = c.min.unwrap_or(0.0);
            Gen::UniformFloat { lo, width: c.max.unwrap_or(1.0) - lo, scale: scale(c.decimals) }
        }
        GenKind::Normal => Gen::Normal {
            mean: c.mean.unwrap_or(0.0),
            sd: c.stddev.unwrap_or(1.0),
            lo: c.min.unwrap_or(f64::NEG_INFINITY),
            hi: c.max.unwrap_or(f64::INFINITY),
            scale: scale(c.decimals),
        },
        GenKind::Zipf => {
            let n = c.values.as_ref().map_or(c.n.unwrap_or(1), |v| v.len() as u64);
            Gen::Zipf { cdf: zipf_cdf(n, c.s.unwrap_or(1.0)), values: c.values.clone() }
        }
        GenKind::Categorical => {
            let values = c.values.clone().unwrap_or_default();
            let weights = c.weights.clone().unwrap_or_else(|| vec![1.0; values.len()]);
            Gen::Categorical { cdf: cdf(&weights), values }
        }
        GenKind::Text => {
            let lo = c.min_words.unwrap_or(1);
            let hi = c.max_words.unwrap_or(lo.max(8));
            let words =
                c.words.clone().unwrap_or_else(|| WORDS.iter().map(|w| w.to_string()).collect());
            Gen::Text { words, lo, hi }
        }
        GenKind::Timestamp => {
            let from = c.from.as_deref().map_or(Ok(0), crate::time::parse).unwrap_or(0);
            let to = c.to.as_deref().map_or(Ok(from + 1), crate::time::parse).unwrap_or(from + 1);
            Gen::Timestamp {
                from,
                span: to - from,
                increasing: c.increasing.unwrap_or(false),
                rows,
            }
        }
        GenKind::ForeignKey => {
            let r = c.references.as_deref().unwrap_or_default();
            let (pt, pc) = resolve_reference(cfg, r).map_err(|(message, help)| {
                PlanError::Invalid(vec![Problem { path: format!("tables.{table}"), message, help }])
            })?;
            let parents = rows_of(&pt.name)?;
            if parents == 0 && rows > 0 {
                return Err(PlanError::Invalid(vec![Problem {
                    path: format!("tables.{table}.columns.{}", c.name),
                    message: format!(
                        "`{table}.{}` references `{r}`, but `{}` has 0 rows",
                        c.name, pt.name
                    ),
                    help: format!("give `{}` at least one row, or `{table}` none", pt.name),
                }]));
            }
            let cdf = match c.s {
                Some(_) if parents > crate::model::MAX_ZIPF_N => {
                    return Err(PlanError::SkewTooLarge {
                        child: table.to_string(),
                        parent: pt.name.clone(),
                        parents,
                        max: crate::model::MAX_ZIPF_N,
                    });
                }
                Some(s) => Some(zipf_cdf(parents, s)),
                None => None,
            };
            Gen::ForeignKey {
                start: pc.start.unwrap_or(1),
                step: pc.step.unwrap_or(1),
                parents,
                cdf,
            }
        }
        GenKind::Histogram => {
            let edges = c.edges.clone().unwrap_or_default();
            Gen::Histogram {
                cdf: cdf(c.weights.as_deref().unwrap_or(&[])),
                edges,
                scale: scale(c.decimals),
            }
        }
    })
}

fn round(x: f64, scale: Option<f64>) -> f64 {
    match scale {
        Some(k) => (x * k).round() / k,
        None => x,
    }
}

/// Normalised cumulative weights; the last entry is exactly 1.
fn cdf(weights: &[f64]) -> Vec<f64> {
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    let mut out: Vec<f64> = weights
        .iter()
        .map(|w| {
            acc += w;
            acc / total
        })
        .collect();
    if let Some(last) = out.last_mut() {
        *last = 1.0;
    }
    out
}

fn zipf_cdf(n: u64, s: f64) -> Vec<f64> {
    let weights: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
    cdf(&weights)
}

/// The first index whose cumulative weight exceeds `u` (u in [0, 1)); zero-weight entries are
/// never chosen.
fn pick(cdf: &[f64], u: f64) -> usize {
    cdf.partition_point(|&c| c <= u).min(cdf.len() - 1)
}

/// A column's random stream: draw `d` of row `r` is a hash of (key, r, d).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stream(pub(crate) u64);

impl Stream {
    pub(crate) fn u64(self, row: u64, draw: u64) -> u64 {
        mix(mix(self.0 ^ row.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_add(draw.wrapping_add(1).wrapping_mul(0xD6E8_FEB8_6659_FD93)))
    }

    /// Uniform in [0, 1).
    pub(crate) fn f64(self, row: u64, draw: u64) -> f64 {
        (self.u64(row, draw) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// SplitMix64's finaliser: a bijective 64-bit mixer.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a, for turning names into stream keys.
pub(crate) fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3))
}
