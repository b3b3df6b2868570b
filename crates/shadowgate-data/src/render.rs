//! Writing `[data]` tables back as manifest TOML (for `shadowgate data derive`).

use std::fmt::Write;

use crate::model::{ColumnConfig, Rows, TableConfig};

/// A `[[data.tables]]` entry and its columns, ready to paste into a manifest.
pub fn table_toml(t: &TableConfig) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "[[data.tables]]\nname = {}", string(&t.name));
    match t.rows {
        Rows::Count(n) => {
            let _ = writeln!(out, "rows = {n}");
        }
        Rows::Predicted => out.push_str("rows = \"predicted\"\n"),
    }
    for c in &t.columns {
        out.push('\n');
        column(&mut out, c);
    }
    out
}

fn column(out: &mut String, c: &ColumnConfig) {
    let _ = writeln!(out, "[[data.tables.columns]]\nname = {}", string(&c.name));
    if let Some(g) = c.generator {
        let _ = writeln!(out, "gen = \"{}\"", g.name());
    }
    let mut put = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            let _ = writeln!(out, "{key} = {v}");
        }
    };
    put("type", c.sql_type.as_deref().map(string));
    put("sensitive", c.sensitive.then(|| "true".to_string()));
    put("nulls", c.nulls.map(float));
    put("start", c.start.map(|v| v.to_string()));
    put("step", c.step.map(|v| v.to_string()));
    put("min", c.min.map(float));
    put("max", c.max.map(float));
    put("mean", c.mean.map(float));
    put("stddev", c.stddev.map(float));
    put("decimals", c.decimals.map(|v| v.to_string()));
    put("n", c.n.map(|v| v.to_string()));
    put("s", c.s.map(float));
    put("values", c.values.as_ref().map(|v| list(v.iter().map(|s| string(s)))));
    put("weights", c.weights.as_ref().map(|v| list(v.iter().map(|x| float(*x)))));
    put("words", c.words.as_ref().map(|v| list(v.iter().map(|s| string(s)))));
    put("min_words", c.min_words.map(|v| v.to_string()));
    put("max_words", c.max_words.map(|v| v.to_string()));
    put("from", c.from.as_deref().map(string));
    put("to", c.to.as_deref().map(string));
    put("increasing", c.increasing.map(|v| v.to_string()));
    put("references", c.references.as_deref().map(string));
    put("edges", c.edges.as_ref().map(|v| list(v.iter().map(|x| float(*x)))));
}

fn list(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(", "))
}

/// A TOML float that reads back as the same f64 (Rust's `Debug` is shortest round-trip and
/// always has a `.` or an exponent).
fn float(x: f64) -> String {
    format!("{x:?}")
}

/// A TOML basic string.
fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
