//! The Prometheus text exposition format, version 0.0.4, parsed into samples.
//!
//! This module is pure: it turns text into [`ParsedSample`]s and never touches the network or
//! the clock. `shadowgate check` uses it to read an application's own `/metrics`, the scrape
//! loop uses it for production telemetry, and the fuzz target feeds it arbitrary bytes.
//!
//! The grammar follows the format's specification: `# HELP` and `# TYPE` lines, other `#`
//! lines as comments, and sample lines `name{label="value",...} value [timestamp]` with label
//! values escaped as `\\`, `\"` and `\n`, values in Go's float syntax (including `NaN`, `+Inf`
//! and `-Inf`) and timestamps as integer milliseconds. Histograms and summaries arrive as their
//! component series (`_bucket` with `le`, quantiles with `quantile`, `_sum`, `_count`), each
//! tagged with its family and type. Malformed input is rejected with the line, the column and
//! what was expected there.
//!
//! Samples borrow from the input text; only label values that contain escapes are copied.

use std::{borrow::Cow, collections::HashMap, fmt};

/// The type a `# TYPE` line gives a metric family (`untyped` when there is none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

impl MetricType {
    /// The keyword the text format uses for this type.
    pub fn name(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Untyped => "untyped",
        }
    }

    fn from_keyword(keyword: &str) -> Option<MetricType> {
        [
            MetricType::Counter,
            MetricType::Gauge,
            MetricType::Histogram,
            MetricType::Summary,
            MetricType::Untyped,
        ]
        .into_iter()
        .find(|metric_type| metric_type.name() == keyword)
    }
}

/// One sample line of an exposition.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedSample<'a> {
    /// The metric family the sample belongs to: `http_duration_seconds` for
    /// `http_duration_seconds_bucket`, or the sample's own name when it has no `# TYPE`.
    pub family: &'a str,
    pub metric_type: MetricType,
    /// The sample's own name, with any `_bucket`, `_sum` or `_count` suffix.
    pub name: &'a str,
    /// Labels in the order they were written; names are unique.
    pub labels: Vec<(&'a str, Cow<'a, str>)>,
    pub value: f64,
    /// Milliseconds since the Unix epoch, when the line carries a timestamp.
    pub timestamp_ms: Option<i64>,
}

/// Why an exposition was rejected, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// What was expected there and what was found instead.
    pub message: String,
}

/// Parses a whole exposition.
pub fn parse(text: &str) -> Result<Vec<ParsedSample<'_>>, ParseError> {
    let mut parser = Parser { families: HashMap::new(), last_resolved: None };
    let mut samples = Vec::new();
    for (line_idx, raw_line) in text.split('\n').enumerate() {
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        let mut cursor = Cursor { line, pos: 0, line_number: line_idx + 1 };
        cursor.skip_blanks();
        match cursor.peek() {
            None => {}
            Some(b'#') => parser.comment_line(&mut cursor)?,
            Some(_) => samples.push(parser.sample_line(&mut cursor)?),
        }
    }
    Ok(samples)
}

/// Parses an exposition given as bytes, reporting invalid UTF-8 with its line and column.
pub fn parse_bytes(bytes: &[u8]) -> Result<Vec<ParsedSample<'_>>, ParseError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text),
        Err(utf8_error) => {
            let valid = &bytes[..utf8_error.valid_up_to()];
            let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |idx| idx + 1);
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            // The prefix is valid UTF-8, so counting characters in it is well defined.
            let column = String::from_utf8_lossy(&valid[line_start..]).chars().count() + 1;
            Err(ParseError {
                line,
                column,
                message: "expected UTF-8 text, found an invalid byte sequence".to_string(),
            })
        }
    }
}

/// What the parser knows about a family so far.
struct FamilyState {
    metric_type: MetricType,
    has_type_line: bool,
    has_help_line: bool,
    has_samples: bool,
}

/// How a sample name resolved to its family.
#[derive(Clone, Copy)]
struct Resolved<'a> {
    name: &'a str,
    family: &'a str,
    metric_type: MetricType,
    role: SampleRole,
}

/// Which component of its family a sample is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SampleRole {
    Plain,
    HistogramBucket,
    SummaryQuantile,
    Sum,
    Count,
}

struct Parser<'a> {
    families: HashMap<&'a str, FamilyState>,
    /// The last sample name resolved: samples of one series arrive together, so this saves a lookup.
    last_resolved: Option<Resolved<'a>>,
}

impl<'a> Parser<'a> {
    fn comment_line(&mut self, cursor: &mut Cursor<'a>) -> Result<(), ParseError> {
        cursor.pos += 1;
        cursor.skip_blanks();
        let keyword = cursor.take_until_blank();
        if keyword != "HELP" && keyword != "TYPE" {
            return Ok(());
        }
        cursor.skip_blanks();
        if cursor.at_end() {
            // `# HELP` with nothing after it is an ordinary comment.
            return Ok(());
        }
        let name_start = cursor.pos;
        let name = cursor.metric_name()?;
        if keyword == "HELP" {
            if !cursor.at_end() {
                cursor.expect_blank("a space before the help text")?;
            }
            cursor.help_text()?;
            let state = self.families.entry(name).or_insert_with(FamilyState::unseen);
            if state.has_help_line {
                return Err(cursor.error_at(name_start, format!("a second HELP line for `{name}`")));
            }
            state.has_help_line = true;
            return Ok(());
        }
        cursor.expect_blank("a space and a metric type after the metric name")?;
        cursor.skip_blanks();
        let type_start = cursor.pos;
        let type_keyword = cursor.take_until_blank();
        let metric_type = MetricType::from_keyword(type_keyword).ok_or_else(|| {
            cursor.error_at(
                type_start,
                format!(
                    "expected a metric type (counter, gauge, histogram, summary or untyped), found {}",
                    describe_token(type_keyword)
                ),
            )
        })?;
        cursor.skip_blanks();
        cursor.expect_end("end of line after the metric type")?;
        let state = self.families.entry(name).or_insert_with(FamilyState::unseen);
        if state.has_type_line {
            return Err(cursor.error_at(name_start, format!("a second TYPE line for `{name}`")));
        }
        if state.has_samples {
            return Err(cursor.error_at(
                name_start,
                format!("the TYPE line for `{name}` comes after its samples; move it before them"),
            ));
        }
        state.has_type_line = true;
        state.metric_type = metric_type;
        self.last_resolved = None;
        Ok(())
    }

    fn sample_line(&mut self, cursor: &mut Cursor<'a>) -> Result<ParsedSample<'a>, ParseError> {
        let name_start = cursor.pos;
        let name = cursor.metric_name()?;
        let resolved = self.resolve(name);
        cursor.skip_blanks();
        let mut labels = Vec::new();
        if cursor.peek() == Some(b'{') {
            cursor.pos += 1;
            cursor.labels(&mut labels)?;
            cursor.skip_blanks();
        } else if cursor.pos == name_start + name.len() && !cursor.at_end() {
            return Err(cursor.error_here("expected `{`, a space or a tab after the metric name"));
        }
        let value_start = cursor.pos;
        let value_token = cursor.take_until_blank();
        if value_token.is_empty() {
            return Err(cursor.error_here("expected a sample value"));
        }
        let value = parse_go_float(value_token).ok_or_else(|| {
            cursor.error_at(
                value_start,
                format!(
                    "expected a sample value (a number, NaN, +Inf or -Inf), found {}",
                    describe_token(value_token)
                ),
            )
        })?;
        cursor.skip_blanks();
        let timestamp_ms = if cursor.at_end() {
            None
        } else {
            let timestamp_start = cursor.pos;
            let token = cursor.take_until_blank();
            let timestamp = token.parse::<i64>().map_err(|_| {
                cursor.error_at(
                    timestamp_start,
                    format!(
                        "expected a timestamp in integer milliseconds, found {}",
                        describe_token(token)
                    ),
                )
            })?;
            cursor.skip_blanks();
            cursor.expect_end("end of line after the timestamp")?;
            Some(timestamp)
        };
        check_component_labels(&resolved, &labels)
            .map_err(|message| cursor.error_at(name_start, message))?;
        Ok(ParsedSample {
            family: resolved.family,
            metric_type: resolved.metric_type,
            name,
            labels,
            value,
            timestamp_ms,
        })
    }

    /// Finds the family of a sample name, recording that the family has samples.
    fn resolve(&mut self, name: &'a str) -> Resolved<'a> {
        if let Some(last) = self.last_resolved
            && last.name == name
        {
            return last;
        }
        let resolved = self.lookup(name);
        if let Some(state) = self.families.get_mut(resolved.family) {
            state.has_samples = true;
        } else {
            self.families.insert(
                resolved.family,
                FamilyState { has_samples: true, ..FamilyState::unseen() },
            );
        }
        self.last_resolved = Some(resolved);
        resolved
    }

    fn lookup(&self, name: &'a str) -> Resolved<'a> {
        if let Some(state) = self.families.get(name)
            && state.has_type_line
        {
            let role = match state.metric_type {
                MetricType::Histogram => SampleRole::HistogramBucket,
                MetricType::Summary => SampleRole::SummaryQuantile,
                _ => SampleRole::Plain,
            };
            return Resolved { name, family: name, metric_type: state.metric_type, role };
        }
        for (suffix, role) in [
            ("_bucket", SampleRole::HistogramBucket),
            ("_sum", SampleRole::Sum),
            ("_count", SampleRole::Count),
        ] {
            let Some(base) = name.strip_suffix(suffix) else { continue };
            let Some(state) = self.families.get(base) else { continue };
            let fits = match state.metric_type {
                MetricType::Histogram => true,
                MetricType::Summary => role != SampleRole::HistogramBucket,
                _ => false,
            };
            if fits && state.has_type_line {
                return Resolved { name, family: base, metric_type: state.metric_type, role };
            }
        }
        Resolved { name, family: name, metric_type: MetricType::Untyped, role: SampleRole::Plain }
    }
}

impl FamilyState {
    fn unseen() -> FamilyState {
        FamilyState {
            metric_type: MetricType::Untyped,
            has_type_line: false,
            has_help_line: false,
            has_samples: false,
        }
    }
}

/// Checks the labels that make a histogram bucket or a summary quantile meaningful.
fn check_component_labels(
    resolved: &Resolved<'_>,
    labels: &[(&str, Cow<'_, str>)],
) -> Result<(), String> {
    let (label, what) = match (resolved.role, resolved.family == resolved.name) {
        (SampleRole::HistogramBucket, true) => {
            return Err(format!(
                "`{}` is a histogram; its samples must be named `{0}_bucket`, `{0}_sum` or `{0}_count`",
                resolved.family
            ));
        }
        (SampleRole::HistogramBucket, false) => ("le", "histogram bucket"),
        (SampleRole::SummaryQuantile, _) => ("quantile", "summary quantile"),
        _ => return Ok(()),
    };
    let Some((_, value)) = labels.iter().find(|(name, _)| *name == label) else {
        return Err(format!("the {what} `{}` needs an `{label}` label", resolved.name));
    };
    if parse_go_float(value).is_none() {
        return Err(format!(
            "the `{label}` label of `{}` must be a number, found `{value}`",
            resolved.name
        ));
    }
    Ok(())
}

/// Parses a float the way Go's `strconv.ParseFloat` does for the values this format carries.
fn parse_go_float(token: &str) -> Option<f64> {
    // Rust's parser accepts the same decimal forms and the same case-insensitive `inf`,
    // `infinity` and `nan` spellings; Go's hexadecimal floats are not used by exporters.
    token.parse::<f64>().ok()
}

fn describe_token(token: &str) -> String {
    if token.is_empty() { "nothing".to_string() } else { format!("`{token}`") }
}

/// Bytes allowed in a metric name after the first: letters, digits, `_` and `:`.
const fn name_byte_table(allow_colon: bool, allow_digit: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphabetic()
            || b == b'_'
            || (allow_colon && b == b':')
            || (allow_digit && b.is_ascii_digit());
        byte += 1;
    }
    table
}

const METRIC_NAME_START: [bool; 256] = name_byte_table(true, false);
const METRIC_NAME_REST: [bool; 256] = name_byte_table(true, true);
const LABEL_NAME_START: [bool; 256] = name_byte_table(false, false);
const LABEL_NAME_REST: [bool; 256] = name_byte_table(false, true);

/// A position within one line.
struct Cursor<'a> {
    line: &'a str,
    pos: usize,
    line_number: usize,
}

impl<'a> Cursor<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.line.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.line.len()
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn take_until_blank(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b == b' ' || b == b'\t' {
                break;
            }
            self.pos += 1;
        }
        // Blanks are ASCII, so both ends fall on character boundaries.
        self.line.get(start..self.pos).unwrap_or("")
    }

    fn expect_blank(&mut self, expected: &str) -> Result<(), ParseError> {
        match self.peek() {
            Some(b' ' | b'\t') => Ok(()),
            _ => Err(self.error_here(&format!("expected {expected}"))),
        }
    }

    fn expect_end(&self, expected: &str) -> Result<(), ParseError> {
        if self.at_end() { Ok(()) } else { Err(self.error_here(&format!("expected {expected}"))) }
    }

    fn name_with(
        &mut self,
        start_table: &[bool; 256],
        rest_table: &[bool; 256],
        what: &str,
    ) -> Result<&'a str, ParseError> {
        let start = self.pos;
        match self.peek() {
            Some(b) if start_table[usize::from(b)] => self.pos += 1,
            _ => return Err(self.error_here(&format!("expected {what}"))),
        }
        while let Some(b) = self.peek() {
            if !rest_table[usize::from(b)] {
                break;
            }
            self.pos += 1;
        }
        Ok(self.line.get(start..self.pos).unwrap_or(""))
    }

    fn metric_name(&mut self) -> Result<&'a str, ParseError> {
        self.name_with(
            &METRIC_NAME_START,
            &METRIC_NAME_REST,
            "a metric name (a letter, `_` or `:` first)",
        )
    }

    fn label_name(&mut self) -> Result<&'a str, ParseError> {
        self.name_with(
            &LABEL_NAME_START,
            &LABEL_NAME_REST,
            "a label name (a letter or `_` first) or `}`",
        )
    }

    /// Parses labels after the opening `{`, through the closing `}`.
    fn labels(&mut self, labels: &mut Vec<(&'a str, Cow<'a, str>)>) -> Result<(), ParseError> {
        loop {
            self.skip_blanks();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(());
            }
            let name_start = self.pos;
            let name = self.label_name()?;
            if labels.iter().any(|(existing, _)| *existing == name) {
                return Err(self.error_at(name_start, format!("label `{name}` appears twice")));
            }
            self.skip_blanks();
            if self.peek() != Some(b'=') {
                return Err(self.error_here("expected `=` after the label name"));
            }
            self.pos += 1;
            self.skip_blanks();
            if self.peek() != Some(b'"') {
                return Err(self.error_here("expected `\"` to open the label value"));
            }
            self.pos += 1;
            let value = self.label_value()?;
            labels.push((name, value));
            self.skip_blanks();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.error_here("expected `,` or `}` after the label value")),
            }
        }
    }

    /// Parses a label value after its opening quote, through the closing quote.
    fn label_value(&mut self) -> Result<Cow<'a, str>, ParseError> {
        let start = self.pos;
        let bytes = self.bytes();
        let mut owned: Option<String> = None;
        let mut chunk_start = start;
        loop {
            let Some(&b) = bytes.get(self.pos) else {
                return Err(self.error_here("expected `\"` to close the label value"));
            };
            match b {
                b'"' => {
                    let tail = self.line.get(chunk_start..self.pos).unwrap_or("");
                    self.pos += 1;
                    return Ok(match owned {
                        Some(mut text) => {
                            text.push_str(tail);
                            Cow::Owned(text)
                        }
                        None => Cow::Borrowed(tail),
                    });
                }
                b'\\' => {
                    let text = owned.get_or_insert_with(String::new);
                    text.push_str(self.line.get(chunk_start..self.pos).unwrap_or(""));
                    let escaped = match bytes.get(self.pos + 1) {
                        Some(b'\\') => '\\',
                        Some(b'"') => '"',
                        Some(b'n') => '\n',
                        _ => {
                            return Err(self.error_at(
                                self.pos + 1,
                                "expected `\\`, `\"` or `n` after a backslash in a label value"
                                    .to_string(),
                            ));
                        }
                    };
                    text.push(escaped);
                    self.pos += 2;
                    chunk_start = self.pos;
                }
                _ => self.pos += 1,
            }
        }
    }

    /// Checks the escapes of a HELP line's text, through the end of the line.
    fn help_text(&mut self) -> Result<(), ParseError> {
        let bytes = self.bytes();
        while let Some(&b) = bytes.get(self.pos) {
            if b == b'\\' {
                if !matches!(bytes.get(self.pos + 1), Some(b'\\' | b'n')) {
                    return Err(self.error_at(
                        self.pos + 1,
                        "expected `\\` or `n` after a backslash in help text".to_string(),
                    ));
                }
                self.pos += 2;
            } else {
                self.pos += 1;
            }
        }
        Ok(())
    }

    fn error_here(&self, expected: &str) -> ParseError {
        let found = match self.line.get(self.pos..).and_then(|rest| rest.chars().next()) {
            Some(c) => format!("`{}`", c.escape_debug()),
            None => "end of line".to_string(),
        };
        self.error_at(self.pos, format!("{expected}, found {found}"))
    }

    fn error_at(&self, pos: usize, message: String) -> ParseError {
        // Positions may sit inside a multi-byte character only after a backslash; count the
        // characters that start before the position.
        let column = self.line.char_indices().take_while(|(idx, _)| *idx < pos).count() + 1;
        ParseError { line: self.line_number, column, message }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests;
