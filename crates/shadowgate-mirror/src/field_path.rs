//! Field paths inside a JSON document, and the patterns that redaction and diff rules use to
//! select them.
//!
//! A path is written the way people write JavaScript accessors: `user.email`,
//! `items[0].price`, `headers.x-request-id`, or `["key.with.dots"]` for a key that is not a
//! plain word. A pattern uses the same notation with two wildcards: `*` (or `[*]`) stands for
//! exactly one key or index, and `**` for any number of levels, including none. A leading `$.`
//! is accepted and ignored so that JSONPath habits do no harm.

use std::{fmt, str::FromStr};

/// One step into a JSON document: an object key or an array index.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// Renders a path in the notation that [`FieldPattern`] parses.
pub fn render_path(segments: &[PathSegment]) -> String {
    let mut res = String::new();
    for segment in segments {
        match segment {
            PathSegment::Key(key) if is_plain_key(key) => {
                if !res.is_empty() {
                    res.push('.');
                }
                res.push_str(key);
            }
            PathSegment::Key(key) => {
                res.push('[');
                // A JSON string literal is a faithful, parseable quoting of any key.
                res.push_str(&serde_json::Value::String(key.clone()).to_string());
                res.push(']');
            }
            PathSegment::Index(index) => {
                res.push('[');
                res.push_str(&index.to_string());
                res.push(']');
            }
        }
    }
    res
}

fn is_plain_key(key: &str) -> bool {
    !key.is_empty() && key.chars().all(is_plain_key_char)
}

fn is_plain_key_char(c: char) -> bool {
    !matches!(c, '.' | '[' | ']' | '"' | '*') && !c.is_whitespace()
}

/// A parsed path pattern, for example `items[*].card_number` or `**.password`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPattern {
    text: String,
    segments: Vec<PatternSegment>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum PatternSegment {
    Key(String),
    Index(usize),
    AnyOne,
    AnyDepth,
}

/// Why a field pattern could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "field pattern `{pattern}`: {problem}; write it like `user.email`, `items[*].price` or `**.password`"
)]
pub struct FieldPatternError {
    pub pattern: String,
    pub problem: String,
}

impl FieldPattern {
    /// Whether the pattern matches the whole of `path`.
    pub fn matches(&self, path: &[PathSegment]) -> bool {
        matches_from(&self.segments, path)
    }

    /// Whether some extension of `path` could still match, so a walker knows whether to descend.
    pub fn may_match_below(&self, path: &[PathSegment]) -> bool {
        prefix_may_match(&self.segments, path)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn segment_matches(pattern: &PatternSegment, segment: &PathSegment) -> bool {
    match (pattern, segment) {
        (PatternSegment::AnyOne, _) => true,
        (PatternSegment::Key(want), PathSegment::Key(have)) => want == have,
        (PatternSegment::Index(want), PathSegment::Index(have)) => want == have,
        _ => false,
    }
}

fn matches_from(pattern: &[PatternSegment], path: &[PathSegment]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((PatternSegment::AnyDepth, rest)) => {
            (0..=path.len()).any(|skip| matches_from(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((segment, path_rest)) => {
                segment_matches(first, segment) && matches_from(rest, path_rest)
            }
            None => false,
        },
    }
}

fn prefix_may_match(pattern: &[PatternSegment], path: &[PathSegment]) -> bool {
    match (pattern.split_first(), path.split_first()) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some((PatternSegment::AnyDepth, _)), Some(_)) => true,
        (Some((first, rest)), Some((segment, path_rest))) => {
            segment_matches(first, segment) && prefix_may_match(rest, path_rest)
        }
    }
}

impl fmt::Display for FieldPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for FieldPattern {
    type Err = FieldPatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |problem: &str| FieldPatternError {
            pattern: text.to_owned(),
            problem: problem.to_owned(),
        };
        let trimmed = text.trim();
        let body =
            trimmed.strip_prefix("$.").or_else(|| trimmed.strip_prefix('$')).unwrap_or(trimmed);
        if body.is_empty() {
            return Err(fail("the pattern is empty"));
        }
        let chars: Vec<char> = body.chars().collect();
        let mut segments = Vec::new();
        let mut idx = 0;
        let mut expect_segment = true;
        while idx < chars.len() {
            let c = chars[idx];
            if c == '[' {
                let close = find_bracket_end(&chars, idx)
                    .ok_or_else(|| fail("a `[` is not closed by `]`"))?;
                let inner: String = chars[idx + 1..close].iter().collect();
                segments.push(parse_bracket(&inner).map_err(|problem| fail(&problem))?);
                idx = close + 1;
                expect_segment = false;
                continue;
            }
            if c == '.' {
                if expect_segment {
                    return Err(fail(
                        "it has an empty segment (two dots in a row, or a leading dot)",
                    ));
                }
                idx += 1;
                expect_segment = true;
                if idx == chars.len() {
                    return Err(fail("it ends with a dot"));
                }
                continue;
            }
            if !expect_segment {
                return Err(fail(&format!("`{c}` must follow a `.` or be inside `[...]`")));
            }
            let start = idx;
            while idx < chars.len() && chars[idx] != '.' && chars[idx] != '[' {
                idx += 1;
            }
            let word: String = chars[start..idx].iter().collect();
            let segment = match word.as_str() {
                "*" => PatternSegment::AnyOne,
                "**" => PatternSegment::AnyDepth,
                _ if word.chars().all(is_plain_key_char) => PatternSegment::Key(word),
                _ => {
                    return Err(fail(&format!(
                        "`{word}` mixes `*`, `\"` or spaces into a key; quote such keys as [\"{word}\"]"
                    )));
                }
            };
            segments.push(segment);
            expect_segment = false;
        }
        Ok(FieldPattern { text: trimmed.to_owned(), segments })
    }
}

fn find_bracket_end(chars: &[char], open: usize) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    for (offset, &c) in chars[open + 1..].iter().enumerate() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ']' {
            return Some(open + 1 + offset);
        }
    }
    None
}

fn parse_bracket(inner: &str) -> Result<PatternSegment, String> {
    let inner = inner.trim();
    if inner == "*" {
        return Ok(PatternSegment::AnyOne);
    }
    if inner.starts_with('"') {
        return serde_json::from_str::<String>(inner)
            .map(PatternSegment::Key)
            .map_err(|_| format!("`[{inner}]` is not a valid quoted key"));
    }
    inner
        .parse::<usize>()
        .map(PatternSegment::Index)
        .map_err(|_| format!("`[{inner}]` must hold an index, `*` or a quoted key"))
}

impl<'de> serde::Deserialize<'de> for FieldPattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for FieldPattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &[&str]) -> Vec<PathSegment> {
        text.iter()
            .map(|s| match s.parse::<usize>() {
                Ok(index) => PathSegment::Index(index),
                Err(_) => PathSegment::Key((*s).to_owned()),
            })
            .collect()
    }

    fn pattern(text: &str) -> FieldPattern {
        text.parse().unwrap()
    }

    #[test]
    fn literal_and_wildcard_patterns_match_whole_paths() {
        assert!(pattern("user.email").matches(&path(&["user", "email"])));
        assert!(!pattern("user.email").matches(&path(&["user", "email", "domain"])));
        assert!(!pattern("user.email").matches(&path(&["user"])));
        assert!(pattern("$.items[*].price").matches(&path(&["items", "3", "price"])));
        assert!(pattern("items[2].price").matches(&path(&["items", "2", "price"])));
        assert!(!pattern("items[2].price").matches(&path(&["items", "1", "price"])));
        assert!(pattern("*.id").matches(&path(&["order", "id"])));
        assert!(pattern("**.password").matches(&path(&["password"])));
        assert!(pattern("**.password").matches(&path(&["a", "0", "b", "password"])));
        assert!(!pattern("**.password").matches(&path(&["a", "password", "hint"])));
        assert!(pattern("body.**").matches(&path(&["body", "x", "y"])));
        assert!(pattern(r#"["a.b"].c"#).matches(&path(&["a.b", "c"])));
    }

    #[test]
    fn prefix_check_allows_descending_only_where_a_match_is_possible() {
        assert!(pattern("user.email").may_match_below(&path(&["user"])));
        assert!(!pattern("user.email").may_match_below(&path(&["account"])));
        assert!(pattern("**.password").may_match_below(&path(&["deep", "er"])));
    }

    #[test]
    fn rendering_round_trips_through_the_parser() {
        let segments = vec![
            PathSegment::Key("items".into()),
            PathSegment::Index(0),
            PathSegment::Key("unit price".into()),
            PathSegment::Key("x-id".into()),
        ];
        let text = render_path(&segments);
        assert_eq!(text, r#"items[0]["unit price"].x-id"#);
        assert!(pattern(&text).matches(&segments));
    }

    #[test]
    fn malformed_patterns_are_rejected_with_the_reason() {
        for (text, reason) in [
            ("", "empty"),
            ("a..b", "empty segment"),
            ("a.", "ends with a dot"),
            ("items[0", "not closed"),
            ("items[x]", "index"),
            ("a*b", "quote such keys"),
            ("items[0]x", "must follow"),
        ] {
            let error = text.parse::<FieldPattern>().unwrap_err();
            assert!(error.to_string().contains(reason), "{text}: {error}");
        }
    }
}
