//! `shadowgate.toml`: parsing, validation and the errors a user sees.
//!
//! Parsing is strict. Every problem is reported with the file, line and column, the key it is
//! about, what was expected and, on a typo, the nearest valid key. Syntax and type errors stop
//! at the first one (the TOML reader cannot go on); semantic problems are all collected.

pub mod conditions;
pub mod dependencies;
mod model;
mod validate;

use std::fmt;

use toml::de::{DeTable, DeValue};

pub use dependencies::{Dependency, DependencyKind};
pub use model::{App, Health, InstallStep, Manifest, Probe, Release, Reserved, Resources, Run};
pub use validate::{INSTALL_PLACEHOLDERS, RUN_PLACEHOLDERS};

/// One problem in a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The dotted key the problem is about, e.g. `run.health.timeout` or `install[1].command`.
    pub key: String,
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        write!(f, "{}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// All problems found in one manifest (at least one).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ManifestErrors(pub Vec<ManifestError>);

impl fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (idx, err) in self.0.iter().enumerate() {
            if idx > 0 {
                writeln!(f)?;
            }
            write!(f, "{err}")?;
        }
        Ok(())
    }
}

/// A path to a key inside the document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPath(Vec<Segment>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl KeyPath {
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }
    pub fn key(mut self, key: &str) -> Self {
        self.0.push(Segment::Key(key.to_string()));
        self
    }
    pub fn index(mut self, idx: usize) -> Self {
        self.0.push(Segment::Index(idx));
        self
    }

    /// Appends a relative path written as `a.b[2].c` (as section validators report them).
    pub fn parse_under(mut self, relative: &str) -> Self {
        for part in relative.split('.').filter(|p| !p.is_empty()) {
            let (key, rest) = part.split_once('[').unwrap_or((part, ""));
            if !key.is_empty() {
                self.0.push(Segment::Key(key.trim_matches('"').to_string()));
            }
            for idx in rest.split('[') {
                if let Ok(i) = idx.trim_end_matches(']').parse() {
                    self.0.push(Segment::Index(i));
                }
            }
        }
        self
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (idx, seg) in self.0.iter().enumerate() {
            match seg {
                Segment::Key(k) => {
                    if idx > 0 {
                        f.write_str(".")?;
                    }
                    if !k.is_empty()
                        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    {
                        f.write_str(k)?;
                    } else {
                        write!(f, "\"{}\"", k.replace('"', "\\\""))?;
                    }
                }
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// A semantic problem found after the document was read, located by key path.
#[derive(Clone, Debug)]
pub(crate) struct Problem {
    pub path: KeyPath,
    pub message: String,
    pub help: Option<String>,
}

/// Parses and validates a manifest. `file` is only used in messages.
pub fn parse(text: &str, file: &str) -> Result<Manifest, ManifestErrors> {
    let doc = DeTable::parse(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        ManifestErrors(vec![ManifestError {
            file: file.to_string(),
            line,
            column,
            key: String::new(),
            message: format!("invalid TOML: {}", e.message().trim()),
            help: None,
        }])
    })?;

    let de = toml::Deserializer::parse(text).map_err(|e| single(file, text, &e, ""))?;
    let mut manifest: Manifest = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = render_path(e.path());
        ManifestErrors(vec![serde_error(file, text, &doc, e.inner(), &path)])
    })?;
    if let Some(traffic) = &mut manifest.traffic {
        traffic.rate_given = lookup(doc.get_ref(), "traffic").is_some_and(
            |t| matches!(t.get_ref(), DeValue::Table(t) if lookup(t, "rate").is_some()),
        );
    }

    let problems = validate::validate(&manifest);
    if problems.is_empty() {
        return Ok(manifest);
    }
    let mut errors: Vec<ManifestError> = problems
        .into_iter()
        .map(|p| {
            let (line, column) =
                span_of(&doc, &p.path).map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            ManifestError {
                file: file.to_string(),
                line,
                column,
                key: p.path.to_string(),
                message: p.message,
                help: p.help,
            }
        })
        .collect();
    errors.sort_by_key(|e| (e.line, e.column));
    Err(ManifestErrors(errors))
}

fn single(file: &str, text: &str, err: &toml::de::Error, key: &str) -> ManifestErrors {
    let (line, column) = err.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
    ManifestErrors(vec![ManifestError {
        file: file.to_string(),
        line,
        column,
        key: key.to_string(),
        message: err.message().trim().to_string(),
        help: None,
    }])
}

fn render_path(path: &serde_path_to_error::Path) -> KeyPath {
    use serde_path_to_error::Segment as S;
    let mut out = KeyPath::root();
    for seg in path.iter() {
        out = match seg {
            S::Seq { index } => out.index(*index),
            S::Map { key } => out.key(key),
            S::Enum { variant } => out.key(variant),
            S::Unknown => out,
        };
    }
    out
}

/// Turns a serde error into a user-facing one: unknown keys get the list of valid keys and the
/// nearest one, type errors name the expected type in plain words.
fn serde_error(
    file: &str,
    text: &str,
    doc: &toml::Spanned<DeTable<'_>>,
    err: &toml::de::Error,
    path: &KeyPath,
) -> ManifestError {
    let raw = err.message().trim().to_string();
    let span = err.span().or_else(|| span_of(doc, path));
    let (line, column) = span.map(|s| line_col(text, s.start)).unwrap_or((1, 1));
    let mut key = path.to_string();
    let (message, help) = if let Some(rest) = raw.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default().to_string();
        let expected = backticked(rest.split_once("expected").map(|(_, e)| e).unwrap_or_default());
        // The path may or may not already end with the unknown key, depending on where the
        // deserializer noticed it.
        let mut parent = path.clone();
        if parent.0.last() == Some(&Segment::Key(name.clone())) {
            parent.0.pop();
        }
        key = parent.clone().key(&name).to_string();
        let section = if parent.0.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in [{parent}]")
        };
        let suggestion = crate::template::nearest(&name, expected.iter().map(String::as_str));
        let help = match (suggestion, expected.is_empty()) {
            (Some(s), _) => {
                format!("did you mean `{s}`? valid keys {section}: {}", expected.join(", "))
            }
            (None, false) => format!("valid keys {section}: {}", expected.join(", ")),
            (None, true) => format!("no keys are allowed {section}"),
        };
        (format!("unknown key `{name}`"), Some(help))
    } else if let Some(rest) = raw.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default().to_string();
        key = path.clone().key(&name).to_string();
        let section =
            if path.0.is_empty() { "the top level".to_string() } else { format!("[{path}]") };
        (
            "required key is missing".to_string(),
            Some(format!(
                "add `{name} = ...` to {section} (see the manifest reference in README.md)"
            )),
        )
    } else if let Some(rest) = raw.strip_prefix("invalid type: ") {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, "?"));
        (format!("wrong type: found {found}, expected {}", plain_type(expected)), None)
    } else {
        (raw.clone(), None)
    };
    ManifestError { file: file.to_string(), line, column, key, message, help }
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

fn plain_type(expected: &str) -> String {
    match expected {
        "f64" | "f32" => "a number".to_string(),
        "u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64" => {
            format!("a whole number ({expected})")
        }
        "a boolean" | "bool" => "true or false".to_string(),
        "a string" => "a string (in quotes)".to_string(),
        other => other.to_string(),
    }
}

/// Finds the span of the value at `path`, or of its nearest existing ancestor.
fn span_of(doc: &toml::Spanned<DeTable<'_>>, path: &KeyPath) -> Option<std::ops::Range<usize>> {
    let mut cur: Option<&toml::Spanned<DeValue<'_>>> = None;
    let mut best = None;
    for seg in &path.0 {
        let next = match (seg, cur.map(|c| c.get_ref())) {
            (Segment::Key(k), None) => lookup(doc.get_ref(), k),
            (Segment::Key(k), Some(DeValue::Table(t))) => lookup(t, k),
            (Segment::Index(i), Some(DeValue::Array(a))) => a.get(*i),
            _ => None,
        };
        match next {
            Some(v) => {
                cur = Some(v);
                best = Some(v.span());
            }
            None => break,
        }
    }
    best.filter(|s| s.start < s.end || s.start > 0)
}

fn lookup<'a, 'i>(t: &'a DeTable<'i>, key: &str) -> Option<&'a toml::Spanned<DeValue<'i>>> {
    t.iter().find(|(k, _)| k.get_ref().as_ref() == key).map(|(_, v)| v)
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
