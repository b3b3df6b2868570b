//! Command templates: shell command lines with `{placeholder}` holes.
//!
//! A template is parsed once (so that an unknown or misspelt placeholder is a manifest error,
//! not a surprise at run time) and expanded later with the values of one environment. Values are
//! shell-quoted when they need it, because the expanded line is run by `/bin/sh -c`.
//! `{{` and `}}` stand for literal braces.

use std::collections::BTreeMap;

/// A parsed command template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Hole(String),
}

/// Why a template could not be parsed or expanded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `{{` at byte {offset}; write `{{{{` for a literal brace")]
    Unclosed { offset: usize },
    #[error("stray `}}` at byte {offset}; write `}}}}` for a literal brace")]
    Stray { offset: usize },
    #[error("empty placeholder `{{}}` at byte {offset}")]
    Empty { offset: usize },
    #[error("unknown placeholder `{{{name}}}`")]
    Unknown { name: String, suggestion: Option<String>, known: Vec<String> },
    #[error("placeholder `{{{name}}}` has no value here")]
    Unbound { name: String },
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let bytes: Vec<char> = source.chars().collect();
        let mut offsets = source.char_indices().map(|(o, _)| o).collect::<Vec<_>>();
        offsets.push(source.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                '{' if bytes.get(i + 1) == Some(&'{') => {
                    text.push('{');
                    i += 2;
                }
                '}' if bytes.get(i + 1) == Some(&'}') => {
                    text.push('}');
                    i += 2;
                }
                '{' => {
                    let start = i;
                    let close = bytes[i + 1..]
                        .iter()
                        .position(|&c| c == '}')
                        .ok_or(TemplateError::Unclosed { offset: offsets[start] })?;
                    let name: String = bytes[i + 1..i + 1 + close].iter().collect();
                    let name = name.trim().to_string();
                    if name.is_empty() {
                        return Err(TemplateError::Empty { offset: offsets[start] });
                    }
                    if name.contains('{') {
                        return Err(TemplateError::Unclosed { offset: offsets[start] });
                    }
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Hole(name));
                    i += close + 2;
                }
                '}' => return Err(TemplateError::Stray { offset: offsets[i] }),
                c => {
                    text.push(c);
                    i += 1;
                }
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template { source: source.to_string(), parts })
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The placeholder names in order of appearance (with repeats).
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Hole(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    pub fn mentions(&self, name: &str) -> bool {
        self.placeholders().any(|p| p == name)
    }

    /// Checks every placeholder against the names allowed in this context. `dep.NAME.FIELD`
    /// placeholders are checked against `deps` (the declared dependency names).
    pub fn check(&self, known: &[&str], deps: &[&str]) -> Result<(), TemplateError> {
        for name in self.placeholders() {
            if known.contains(&name) {
                continue;
            }
            if let Some(rest) = name.strip_prefix("dep.") {
                let mut it = rest.splitn(2, '.');
                let dep = it.next().unwrap_or_default();
                let field = it.next().unwrap_or_default();
                if deps.contains(&dep) && DEP_FIELDS.contains(&field) {
                    continue;
                }
            }
            let mut all: Vec<String> = known.iter().map(|s| s.to_string()).collect();
            for dep in deps {
                for field in DEP_FIELDS {
                    all.push(format!("dep.{dep}.{field}"));
                }
            }
            let suggestion = nearest(name, all.iter().map(String::as_str)).map(str::to_string);
            return Err(TemplateError::Unknown { name: name.to_string(), suggestion, known: all });
        }
        Ok(())
    }

    /// Expands the template, shell-quoting each value.
    pub fn expand(&self, values: &BTreeMap<String, String>) -> Result<String, TemplateError> {
        self.expand_with(values, true)
    }

    /// Expands the template without quoting (for values that are not shell commands, e.g. paths).
    pub fn expand_raw(&self, values: &BTreeMap<String, String>) -> Result<String, TemplateError> {
        self.expand_with(values, false)
    }

    fn expand_with(
        &self,
        values: &BTreeMap<String, String>,
        quote: bool,
    ) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(self.source.len() + 64);
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Hole(name) => {
                    let value = values
                        .get(name)
                        .ok_or_else(|| TemplateError::Unbound { name: name.clone() })?;
                    if quote {
                        out.push_str(&shell_quote(value));
                    } else {
                        out.push_str(value);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The fields a `{dep.NAME.FIELD}` placeholder may name.
pub const DEP_FIELDS: &[&str] = &["url", "host", "port"];

/// Quotes `value` for `/bin/sh` when it contains anything but safe characters.
pub fn shell_quote(value: &str) -> String {
    let safe = !value.is_empty()
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c));
    if safe { value.to_string() } else { format!("'{}'", value.replace('\'', "'\\''")) }
}

/// The candidate closest to `word` by edit distance, when it is close enough to be a likely typo.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1) + 1;
    candidates
        .into_iter()
        .map(|c| (levenshtein(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn expands_and_quotes() {
        let t = Template::parse("{release_dir}/app --port {port} --json '{{}}'").unwrap();
        let out = t.expand(&values(&[("release_dir", "/srv/my app"), ("port", "8080")])).unwrap();
        assert_eq!(out, "'/srv/my app'/app --port 8080 --json '{}'");
        assert!(t.mentions("port"));
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(Template::parse("a {port").unwrap_err(), TemplateError::Unclosed { offset: 2 });
        assert_eq!(Template::parse("a }").unwrap_err(), TemplateError::Stray { offset: 2 });
        assert_eq!(Template::parse("{ }").unwrap_err(), TemplateError::Empty { offset: 0 });
    }

    #[test]
    fn unknown_placeholder_suggests() {
        let t = Template::parse("run --port {prot}").unwrap();
        match t.check(&["port", "data_dir"], &[]).unwrap_err() {
            TemplateError::Unknown { suggestion, .. } => {
                assert_eq!(suggestion.as_deref(), Some("port"))
            }
            other => panic!("unexpected {other:?}"),
        }
        let t = Template::parse("{dep.db.url}").unwrap();
        assert!(t.check(&[], &["db"]).is_ok());
        assert!(t.check(&[], &["cache"]).is_err());
    }

    #[test]
    fn nearest_is_bounded() {
        assert_eq!(nearest("comand", ["command", "env"]), Some("command"));
        assert_eq!(nearest("zzzzzz", ["command", "env"]), None);
    }
}
