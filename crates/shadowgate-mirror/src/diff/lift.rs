//! Lifting a response into a flat map from field paths to leaf values.

use std::collections::BTreeMap;

use http::header;

use super::DiffConfig;
use crate::{
    field_path::{PathSegment, render_path},
    hop_by_hop::is_hop_by_hop,
    http_message::ResponseOutcome,
};

/// A terminal value of a lifted response.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Leaf {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Text(String),
    EmptyObject,
    EmptyArray,
    /// A body that is neither JSON nor UTF-8, summarized by its length and a hash.
    Bytes {
        len: usize,
        hash: u64,
    },
    /// No response: the upstream failed in the named way.
    Failure(&'static str),
}

impl Leaf {
    /// A short rendering for reports.
    pub(crate) fn display(&self) -> String {
        match self {
            Leaf::Null => "null".into(),
            Leaf::Bool(value) => value.to_string(),
            Leaf::Number(value) => value.to_string(),
            Leaf::Text(value) => serde_json::Value::String(excerpt(value, 200)).to_string(),
            Leaf::EmptyObject => "{}".into(),
            Leaf::EmptyArray => "[]".into(),
            Leaf::Bytes { len, hash } => format!("<{len} bytes, hash {hash:016x}>"),
            Leaf::Failure(kind) => format!("<no response: {kind}>"),
        }
    }

    /// The text that value regexes are matched against, if the leaf has one.
    pub(crate) fn text_for_matching(&self) -> Option<String> {
        match self {
            Leaf::Text(value) => Some(value.clone()),
            Leaf::Number(value) => Some(value.to_string()),
            _ => None,
        }
    }
}

pub(crate) fn excerpt(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut res: String = text.chars().take(max_chars).collect();
    res.push('…');
    res
}

/// The field the lifted map uses for a failed exchange.
pub(crate) const FAILURE_FIELD: &str = "failure";

/// Lifts a response into `field path -> leaf`, leaving out ignored fields.
pub(crate) fn lift(outcome: &ResponseOutcome, config: &DiffConfig) -> BTreeMap<String, Leaf> {
    let mut res = BTreeMap::new();
    let response = match outcome {
        Ok(response) => response,
        Err(failure) => {
            res.insert(FAILURE_FIELD.to_owned(), Leaf::Failure(failure.as_str()));
            return res;
        }
    };
    let mut lifter = Lifter { config, fields: &mut res };
    let mut path = vec![PathSegment::Key("status".into())];
    lifter.leaf(&path, Leaf::Number(response.status.as_u16().into()));
    if config.compare_headers {
        for name in response.headers.keys() {
            if is_hop_by_hop(name) || config.ignore_headers.contains(name) {
                continue;
            }
            let joined = response
                .headers
                .get_all(name)
                .iter()
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
                .collect::<Vec<_>>()
                .join(", ");
            path = vec![
                PathSegment::Key("headers".into()),
                PathSegment::Key(name.as_str().to_owned()),
            ];
            lifter.leaf(&path, Leaf::Text(joined));
        }
    }
    path = vec![PathSegment::Key("body".into())];
    if lifter.ignored(&path) {
        return res;
    }
    let declared_json = response
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("json"));
    let starts_like_json = response
        .body
        .iter()
        .find(|byte| !byte.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{' || *b == b'[');
    if (declared_json || starts_like_json)
        && let Ok(document) = serde_json::from_slice::<serde_json::Value>(&response.body)
    {
        lifter.value(&mut path, &document);
        return res;
    }
    let leaf = match std::str::from_utf8(&response.body) {
        Ok(text) => Leaf::Text(text.to_owned()),
        Err(_) => Leaf::Bytes {
            len: response.body.len(),
            hash: crate::sampling::hash_key(0, &response.body),
        },
    };
    lifter.leaf(&path, leaf);
    res
}

struct Lifter<'a> {
    config: &'a DiffConfig,
    fields: &'a mut BTreeMap<String, Leaf>,
}

impl Lifter<'_> {
    fn ignored(&self, path: &[PathSegment]) -> bool {
        self.config.ignore_fields.iter().any(|pattern| pattern.matches(path))
    }

    fn leaf(&mut self, path: &[PathSegment], leaf: Leaf) {
        if self.ignored(path) {
            return;
        }
        let rendered = render_path(path);
        if self.config.ignore_field_regexes.iter().any(|regex| regex.is_match(&rendered)) {
            return;
        }
        self.fields.insert(rendered, leaf);
    }

    fn value(&mut self, path: &mut Vec<PathSegment>, value: &serde_json::Value) {
        match value {
            serde_json::Value::Object(map) if !map.is_empty() => {
                for (key, child) in map {
                    path.push(PathSegment::Key(key.clone()));
                    if !self.ignored(path) {
                        self.value(path, child);
                    }
                    path.pop();
                }
            }
            serde_json::Value::Array(items) if !items.is_empty() => {
                for (idx, child) in items.iter().enumerate() {
                    path.push(PathSegment::Index(idx));
                    if !self.ignored(path) {
                        self.value(path, child);
                    }
                    path.pop();
                }
            }
            serde_json::Value::Object(_) => self.leaf(path, Leaf::EmptyObject),
            serde_json::Value::Array(_) => self.leaf(path, Leaf::EmptyArray),
            serde_json::Value::Null => self.leaf(path, Leaf::Null),
            serde_json::Value::Bool(flag) => self.leaf(path, Leaf::Bool(*flag)),
            serde_json::Value::Number(number) => self.leaf(path, Leaf::Number(number.clone())),
            serde_json::Value::String(text) => self.leaf(path, Leaf::Text(text.clone())),
        }
    }
}
