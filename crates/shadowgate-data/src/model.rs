//! The `[data]` section of a manifest: tables, their columns and how each column is generated.
//!
//! ```toml
//! [data]
//! seed = 42
//!
//! [[data.tables]]
//! name = "customers"
//! rows = 10000
//!
//! [[data.tables.columns]]
//! name = "id"
//! kind = "sequence"
//!
//! [[data.tables.columns]]
//! name = "country"
//! kind = "categorical"
//! values = ["DE", "FR", "US"]
//! weights = [3, 1, 6]
//!
//! [[data.tables]]
//! name = "orders"
//! rows = "predicted"
//!
//! [[data.tables.columns]]
//! name = "customer_id"
//! kind = "foreign_key"
//! references = "customers.id"
//! ```
//!
//! Every struct denies unknown keys. A column is one flat table whose `gen` decides which of
//! the other keys apply; [`validate`] reports a key that does not apply to the chosen `gen`.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `[data]`
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// The seed used when none is given on the command line.
    #[serde(default)]
    pub seed: Option<u64>,
    /// `[[data.tables]]`, in any order: foreign keys decide the load order.
    #[serde(default)]
    pub tables: Vec<TableConfig>,
}

/// `[[data.tables]]`
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    pub name: String,
    /// A number, or `"predicted"` to take it from the predicted conditions.
    pub rows: Rows,
    /// `[[data.tables.columns]]`, in the order the table's columns are loaded.
    pub columns: Vec<ColumnConfig>,
}

/// How many rows a table gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rows {
    Count(u64),
    /// From the predicted-conditions document (or an override given to [`crate::Plan::new`]).
    Predicted,
}

impl Serialize for Rows {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Rows::Count(n) => s.serialize_u64(*n),
            Rows::Predicted => s.serialize_str("predicted"),
        }
    }
}

impl<'de> Deserialize<'de> for Rows {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Rows;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number of rows or the string \"predicted\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Rows, E> {
                u64::try_from(v).map(Rows::Count).map_err(|_| {
                    E::custom(format!(
                        "rows = {v} is negative; give a whole number of rows or \"predicted\""
                    ))
                })
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Rows, E> {
                Ok(Rows::Count(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Rows, E> {
                if v == "predicted" {
                    Ok(Rows::Predicted)
                } else {
                    Err(E::custom(format!(
                        "rows = \"{v}\" is not understood; give a whole number of rows or \"predicted\""
                    )))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// The generator of a column.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GenKind {
    /// `start`, `start + step`, ... (default 1, 1).
    Sequence,
    /// Integers uniform in `[min, max]`.
    UniformInt,
    /// Floats uniform in `[min, max)`.
    UniformFloat,
    /// Normal with `mean` and `stddev`, optionally clamped to `[min, max]`.
    Normal,
    /// Ranks 1..=`n` with probability proportional to `1 / rank^s`, or `values[rank - 1]`.
    Zipf,
    /// One of `values`, with optional `weights`.
    Categorical,
    /// `min_words..=max_words` words drawn from `words` (or a built-in list), joined by spaces.
    Text,
    /// Timestamps in `[from, to)`, optionally non-decreasing with the row number.
    Timestamp,
    /// A key of another table's `sequence` column (`references = "table.column"`), uniform
    /// over the parent rows or Zipf-skewed with `s`.
    ForeignKey,
    /// A piecewise-uniform distribution: bin `edges` (n + 1, increasing) and `weights` (n).
    /// This is what [`crate::derive::numeric`] produces from a production sample.
    Histogram,
}

impl GenKind {
    pub fn name(self) -> &'static str {
        match self {
            GenKind::Sequence => "sequence",
            GenKind::UniformInt => "uniform_int",
            GenKind::UniformFloat => "uniform_float",
            GenKind::Normal => "normal",
            GenKind::Zipf => "zipf",
            GenKind::Categorical => "categorical",
            GenKind::Text => "text",
            GenKind::Timestamp => "timestamp",
            GenKind::ForeignKey => "foreign_key",
            GenKind::Histogram => "histogram",
        }
    }

    /// Keys a column with this generator may set besides `name`, `gen`, `type`, `sensitive`
    /// and `nulls`; the first list is required, the second optional.
    fn keys(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            GenKind::Sequence => (&[], &["start", "step"]),
            GenKind::UniformInt => (&["min", "max"], &[]),
            GenKind::UniformFloat => (&["min", "max"], &["decimals"]),
            GenKind::Normal => (&["mean", "stddev"], &["min", "max", "decimals"]),
            GenKind::Zipf => (&[], &["n", "s", "values"]),
            GenKind::Categorical => (&["values"], &["weights"]),
            GenKind::Text => (&[], &["words", "min_words", "max_words"]),
            GenKind::Timestamp => (&["from", "to"], &["increasing"]),
            GenKind::ForeignKey => (&["references"], &["s"]),
            GenKind::Histogram => (&["edges", "weights"], &["decimals"]),
        }
    }
}

/// `[[data.tables.columns]]`: one flat table; `gen` decides which keys apply.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnConfig {
    pub name: String,
    #[serde(rename = "gen")]
    pub generator: Option<GenKind>,
    /// The SQL type used when shadowgate creates the table (default: from `gen`).
    #[serde(default, rename = "type")]
    pub sql_type: Option<String>,
    /// A sensitive column never has a raw production value copied into generated data.
    #[serde(default)]
    pub sensitive: bool,
    /// Fraction of rows that are NULL, in [0, 1].
    #[serde(default)]
    pub nulls: Option<f64>,

    pub start: Option<i64>,
    pub step: Option<i64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    pub stddev: Option<f64>,
    pub decimals: Option<u32>,
    pub n: Option<u64>,
    pub s: Option<f64>,
    pub values: Option<Vec<String>>,
    pub weights: Option<Vec<f64>>,
    pub words: Option<Vec<String>>,
    pub min_words: Option<u32>,
    pub max_words: Option<u32>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub increasing: Option<bool>,
    pub references: Option<String>,
    pub edges: Option<Vec<f64>>,
}

impl ColumnConfig {
    /// The generator-specific keys this column sets.
    fn set_keys(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut add = |set: bool, key| {
            if set {
                out.push(key)
            }
        };
        add(self.start.is_some(), "start");
        add(self.step.is_some(), "step");
        add(self.min.is_some(), "min");
        add(self.max.is_some(), "max");
        add(self.mean.is_some(), "mean");
        add(self.stddev.is_some(), "stddev");
        add(self.decimals.is_some(), "decimals");
        add(self.n.is_some(), "n");
        add(self.s.is_some(), "s");
        add(self.values.is_some(), "values");
        add(self.weights.is_some(), "weights");
        add(self.words.is_some(), "words");
        add(self.min_words.is_some(), "min_words");
        add(self.max_words.is_some(), "max_words");
        add(self.from.is_some(), "from");
        add(self.to.is_some(), "to");
        add(self.increasing.is_some(), "increasing");
        add(self.references.is_some(), "references");
        add(self.edges.is_some(), "edges");
        out
    }
}

/// A problem in a `[data]` section, located by a path relative to `[data]`
/// (e.g. `tables[1].columns[0].references`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
    pub help: String,
}

/// Largest `n` of a Zipf column (its cumulative table is held in memory).
pub const MAX_ZIPF_N: u64 = 10_000_000;

/// Checks everything serde cannot: which keys apply to each generator, value ranges, names,
/// foreign-key targets and cycles. Returns every problem found.
pub fn validate(cfg: &DataConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut problem = |path: String, message: String, help: &str| {
        out.push(Problem { path, message, help: help.to_string() })
    };
    if cfg.tables.is_empty() {
        problem(
            "tables".into(),
            "[data] has no tables".into(),
            "add at least one [[data.tables]] with a name, rows and columns, or remove [data]",
        );
    }
    let mut table_names = HashSet::new();
    for (ti, t) in cfg.tables.iter().enumerate() {
        let tp = format!("tables[{ti}]");
        if !is_identifier(&t.name) {
            problem(
                format!("{tp}.name"),
                format!("table name `{}` is not a plain SQL identifier", t.name),
                "use letters, digits and underscores, starting with a letter or underscore",
            );
        }
        if !table_names.insert(t.name.as_str()) {
            problem(
                format!("{tp}.name"),
                format!("table `{}` is declared twice", t.name),
                "give each [[data.tables]] a different name",
            );
        }
        if t.columns.is_empty() {
            problem(
                format!("{tp}.columns"),
                format!("table `{}` has no columns", t.name),
                "add [[data.tables.columns]] entries with a name and a gen",
            );
        }
        let mut column_names = HashSet::new();
        for (ci, c) in t.columns.iter().enumerate() {
            let cp = format!("{tp}.columns[{ci}]");
            if !is_identifier(&c.name) {
                problem(
                    format!("{cp}.name"),
                    format!("column name `{}` is not a plain SQL identifier", c.name),
                    "use letters, digits and underscores, starting with a letter or underscore",
                );
            }
            if !column_names.insert(c.name.as_str()) {
                problem(
                    format!("{cp}.name"),
                    format!("column `{}` appears twice in table `{}`", c.name, t.name),
                    "give each column of a table a different name",
                );
            }
            validate_column(cfg, c, &cp, &mut problem);
        }
    }
    if let Err(e) = crate::plan::load_order(cfg) {
        problem(
            "tables".into(),
            e.to_string(),
            "a foreign key may only point to a table that does not (directly or through others) point back; break the cycle",
        );
    }
    out
}

fn validate_column(
    cfg: &DataConfig,
    c: &ColumnConfig,
    cp: &str,
    problem: &mut impl FnMut(String, String, &str),
) {
    let Some(kind) = c.generator else {
        problem(
            format!("{cp}.gen"),
            format!("column `{}` has no `gen`", c.name),
            "add gen = \"sequence\" | \"uniform_int\" | \"uniform_float\" | \"normal\" | \"zipf\" | \"categorical\" | \"text\" | \"timestamp\" | \"foreign_key\" | \"histogram\"",
        );
        return;
    };
    let (required, optional) = kind.keys();
    let set = c.set_keys();
    let all: Vec<&str> = required.iter().chain(optional).copied().collect();
    let list = if all.is_empty() { "none".to_string() } else { all.join(", ") };
    for key in &set {
        if !all.contains(key) {
            problem(
                format!("{cp}.{key}"),
                format!("`{key}` does not apply to gen = \"{}\"", kind.name()),
                &format!("remove it; keys for gen = \"{}\": {list}", kind.name()),
            );
        }
    }
    for key in required {
        if !set.contains(key) {
            problem(
                format!("{cp}.{key}"),
                format!("gen = \"{}\" needs `{key}`", kind.name()),
                &format!("add `{key} = ...`; keys for gen = \"{}\": {list}", kind.name()),
            );
        }
    }
    if let Some(nulls) = c.nulls
        && !(0.0..=1.0).contains(&nulls)
    {
        problem(
            format!("{cp}.nulls"),
            format!("nulls = {nulls} is not a fraction"),
            "give the fraction of NULL rows between 0 and 1",
        );
    }
    let finite = |v: Option<f64>| v.is_none_or(f64::is_finite);
    for (key, v) in [("min", c.min), ("max", c.max), ("mean", c.mean), ("stddev", c.stddev)] {
        if !finite(v) {
            problem(
                format!("{cp}.{key}"),
                format!("`{key}` is not a finite number"),
                "give a finite number",
            );
        }
    }
    match kind {
        GenKind::Sequence => {
            if c.step == Some(0) {
                problem(
                    format!("{cp}.step"),
                    "step = 0 repeats the same key".into(),
                    "use a step other than 0 (default 1)",
                );
            }
        }
        GenKind::UniformInt | GenKind::UniformFloat => {
            if let (Some(lo), Some(hi)) = (c.min, c.max)
                && lo > hi
            {
                problem(
                    format!("{cp}.max"),
                    format!("max ({hi}) is below min ({lo})"),
                    "swap min and max",
                );
            }
            if kind == GenKind::UniformInt {
                for (key, v) in [("min", c.min), ("max", c.max)] {
                    if let Some(v) = v
                        && (v.fract() != 0.0 || v.abs() > 9.0e15)
                    {
                        problem(
                            format!("{cp}.{key}"),
                            format!("{key} = {v} is not a whole number"),
                            "gen = \"uniform_int\" needs whole-number bounds (or use \"uniform_float\")",
                        );
                    }
                }
            }
        }
        GenKind::Normal => {
            if let Some(sd) = c.stddev
                && sd < 0.0
            {
                problem(
                    format!("{cp}.stddev"),
                    format!("stddev = {sd} is negative"),
                    "give a standard deviation of 0 or more",
                );
            }
            if let (Some(lo), Some(hi)) = (c.min, c.max)
                && lo > hi
            {
                problem(
                    format!("{cp}.max"),
                    format!("max ({hi}) is below min ({lo})"),
                    "swap min and max",
                );
            }
        }
        GenKind::Zipf => {
            match (c.n, &c.values) {
                (None, None) => problem(
                    format!("{cp}.n"),
                    "gen = \"zipf\" needs `n` or `values`".into(),
                    "add n = <number of distinct ranks> or values = [...] (most frequent first)",
                ),
                (Some(n), Some(v)) if n != v.len() as u64 => problem(
                    format!("{cp}.n"),
                    format!("n = {n} but `values` has {} entries", v.len()),
                    "drop `n`; it is the length of `values`",
                ),
                (Some(0), _) => problem(
                    format!("{cp}.n"),
                    "n = 0 leaves nothing to draw".into(),
                    "give n of at least 1",
                ),
                (Some(n), _) if n > MAX_ZIPF_N => problem(
                    format!("{cp}.n"),
                    format!("n = {n} is above the limit of {MAX_ZIPF_N}"),
                    "use fewer ranks",
                ),
                (None, Some(v)) if v.is_empty() => problem(
                    format!("{cp}.values"),
                    "`values` is empty".into(),
                    "list at least one value",
                ),
                _ => {}
            }
            check_skew(c.s, cp, problem);
        }
        GenKind::Categorical => {
            if let Some(values) = &c.values {
                if values.is_empty() {
                    problem(
                        format!("{cp}.values"),
                        "`values` is empty".into(),
                        "list at least one value",
                    );
                }
                if let Some(w) = &c.weights {
                    check_weights(w, values.len(), "values", cp, problem);
                }
            }
        }
        GenKind::Text => {
            let lo = c.min_words.unwrap_or(1);
            let hi = c.max_words.unwrap_or(lo.max(8));
            if lo > hi {
                problem(
                    format!("{cp}.max_words"),
                    format!("max_words ({hi}) is below min_words ({lo})"),
                    "make max_words at least min_words",
                );
            }
            if let Some(words) = &c.words
                && (words.is_empty() || words.iter().any(String::is_empty))
            {
                problem(
                    format!("{cp}.words"),
                    "`words` is empty or has an empty word".into(),
                    "list non-empty words, or drop `words` for the built-in list",
                );
            }
        }
        GenKind::Timestamp => {
            let mut bounds = [None, None];
            for (i, (key, v)) in [("from", &c.from), ("to", &c.to)].into_iter().enumerate() {
                if let Some(v) = v {
                    match crate::time::parse(v) {
                        Ok(t) => bounds[i] = Some(t),
                        Err(e) => problem(
                            format!("{cp}.{key}"),
                            format!("{key} = \"{v}\": {e}"),
                            "write an RFC 3339 time such as \"2026-01-31T12:00:00Z\" or a date \"2026-01-31\"",
                        ),
                    }
                }
            }
            if let [Some(a), Some(b)] = bounds
                && a >= b
            {
                problem(
                    format!("{cp}.to"),
                    "`to` is not after `from`".into(),
                    "make `to` later than `from`",
                );
            }
        }
        GenKind::ForeignKey => {
            check_skew(c.s, cp, problem);
            if let Some(r) = &c.references
                && let Err((message, help)) = resolve_reference(cfg, r)
            {
                problem(format!("{cp}.references"), message, &help);
            }
        }
        GenKind::Histogram => {
            if let (Some(edges), Some(weights)) = (&c.edges, &c.weights) {
                if edges.len() < 2
                    || edges.windows(2).any(|w| w[0] >= w[1])
                    || edges.iter().any(|e| !e.is_finite())
                {
                    problem(
                        format!("{cp}.edges"),
                        "`edges` must be at least two finite, strictly increasing numbers".into(),
                        "list the bin boundaries in increasing order",
                    );
                } else {
                    check_weights(weights, edges.len() - 1, "bins (edges - 1)", cp, problem);
                }
            }
        }
    }
}

fn check_skew(s: Option<f64>, cp: &str, problem: &mut impl FnMut(String, String, &str)) {
    if let Some(s) = s
        && !(s.is_finite() && s > 0.0 && s <= 10.0)
    {
        problem(
            format!("{cp}.s"),
            format!("s = {s} is not a usable Zipf exponent"),
            "give an exponent above 0 and at most 10 (1.0 is classic Zipf)",
        );
    }
}

fn check_weights(
    w: &[f64],
    expected: usize,
    what: &str,
    cp: &str,
    problem: &mut impl FnMut(String, String, &str),
) {
    if w.len() != expected {
        problem(
            format!("{cp}.weights"),
            format!("`weights` has {} entries but there are {expected} {what}", w.len()),
            "give one weight per entry",
        );
    } else if w.iter().any(|x| !x.is_finite() || *x < 0.0) || w.iter().sum::<f64>() <= 0.0 {
        problem(
            format!("{cp}.weights"),
            "weights must be finite, non-negative and not all zero".into(),
            "fix the weights",
        );
    }
}

/// Resolves `table.column` to the referenced column, which must be a `sequence`.
pub(crate) fn resolve_reference<'a>(
    cfg: &'a DataConfig,
    r: &str,
) -> Result<(&'a TableConfig, &'a ColumnConfig), (String, String)> {
    let Some((table, column)) = r.split_once('.') else {
        return Err((
            format!("references = \"{r}\" is not of the form \"table.column\""),
            "write the referenced table and its key column, e.g. references = \"customers.id\""
                .into(),
        ));
    };
    let Some(t) = cfg.tables.iter().find(|t| t.name == table) else {
        let names: Vec<&str> = cfg.tables.iter().map(|t| t.name.as_str()).collect();
        return Err((
            format!("references = \"{r}\": there is no table `{table}`"),
            format!("tables in [data]: {}", names.join(", ")),
        ));
    };
    let Some(c) = t.columns.iter().find(|c| c.name == column) else {
        let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        return Err((
            format!("references = \"{r}\": table `{table}` has no column `{column}`"),
            format!("columns of `{table}`: {}", names.join(", ")),
        ));
    };
    if c.generator != Some(GenKind::Sequence) || c.nulls.is_some_and(|n| n > 0.0) {
        return Err((
            format!(
                "references = \"{r}\": `{table}.{column}` is not a key (a gen = \"sequence\" column without NULLs)"
            ),
            "point the foreign key at the parent table's sequence column".into(),
        ));
    }
    Ok((t, c))
}

/// Letters, digits and underscores, not starting with a digit, at most 63 bytes (PostgreSQL's
/// identifier limit).
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 63
}

/// Row counts given outside the manifest, by table name (from predicted conditions).
pub type RowOverrides = HashMap<String, u64>;
