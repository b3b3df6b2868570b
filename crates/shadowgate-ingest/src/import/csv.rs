//! CSV lines: `timestamp,metric,value[,name=value;name=value]` or `timestamp,value`.
//!
//! Fields may be quoted with `"` (a quote inside is doubled), so a label value may hold a
//! comma. The two-field form needs the metric from the caller. A first line whose first field
//! is not a timestamp is taken as a header and skipped.

use crate::{config::is_label_name, processor::RawSample, timestamp};

use super::{LineError, valid_metric_name};

/// Parses one CSV line (without its line ending).
pub fn parse_line(line: &str, default_metric: Option<&str>) -> Result<RawSample, LineError> {
    let fields = split_fields(line)?;
    let (ts_field, metric_field, value_field, labels_field) = match fields.as_slice() {
        [ts, value] => (ts, None, value, None),
        [ts, metric, value] => (ts, Some(metric), value, None),
        [ts, metric, value, labels] => (ts, Some(metric), value, Some(labels)),
        _ => {
            return Err(LineError::at(
                1,
                format!(
                    "expected 2 to 4 fields (timestamp,value or timestamp,metric,value[,labels]), found {}",
                    fields.len()
                ),
            ));
        }
    };
    let ts_ms = timestamp::parse(&ts_field.text)
        .map_err(|message| LineError::at(ts_field.column, message))?;
    let metric = match metric_field {
        Some(field) => {
            valid_metric_name(&field.text).map_err(|message| LineError::at(field.column, message))?;
            field.text.clone()
        }
        None => default_metric
            .ok_or_else(|| {
                LineError::at(1, "a `timestamp,value` line needs the metric name from the caller (--metric NAME)".to_string())
            })?
            .to_string(),
    };
    let value = parse_value(&value_field.text)
        .map_err(|message| LineError::at(value_field.column, message))?;
    let labels = match labels_field {
        Some(field) => {
            parse_labels(&field.text).map_err(|message| LineError::at(field.column, message))?
        }
        None => Vec::new(),
    };
    Ok(RawSample { metric, labels, ts_ms, value })
}

/// Whether a first line is a header rather than data.
pub fn is_header(line: &str) -> bool {
    split_fields(line).ok().and_then(|fields| fields.into_iter().next()).is_some_and(|first| {
        timestamp::parse(&first.text).is_err() && first.text.chars().any(char::is_alphabetic)
    })
}

/// A sample value: a decimal number, `NaN`, `+Inf` or `-Inf`.
pub fn parse_value(text: &str) -> Result<f64, String> {
    let text = text.trim();
    text.parse::<f64>()
        .map_err(|_| format!("expected a number (or NaN, +Inf, -Inf) as the value, found `{text}`"))
}

fn parse_labels(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut labels: Vec<(String, String)> = Vec::new();
    for pair in text.split(';').map(str::trim).filter(|pair| !pair.is_empty()) {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("expected labels as name=value;name=value, found `{pair}`"))?;
        let name = name.trim();
        if !is_label_name(name) {
            return Err(format!(
                "`{name}` is not a label name; use letters, digits and `_`, not starting with a digit"
            ));
        }
        if labels.iter().any(|(existing, _)| existing == name) {
            return Err(format!("label `{name}` appears twice"));
        }
        labels.push((name.to_string(), value.to_string()));
    }
    Ok(labels)
}

struct Field {
    text: String,
    /// The 1-based column where the field starts.
    column: usize,
}

fn split_fields(line: &str) -> Result<Vec<Field>, LineError> {
    let mut fields = Vec::new();
    let mut chars = line.chars().enumerate().peekable();
    loop {
        let column = chars.peek().map_or(line.chars().count(), |(idx, _)| *idx) + 1;
        let mut text = String::new();
        if chars.peek().is_some_and(|(_, c)| *c == '"') {
            chars.next();
            loop {
                match chars.next() {
                    None => {
                        return Err(LineError::at(
                            column,
                            "expected `\"` to close the quoted field".to_string(),
                        ));
                    }
                    Some((_, '"')) if chars.peek().is_some_and(|(_, c)| *c == '"') => {
                        chars.next();
                        text.push('"');
                    }
                    Some((_, '"')) => break,
                    Some((_, c)) => text.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(Field { text, column });
                    return Ok(fields);
                }
                Some((_, ',')) => fields.push(Field { text, column }),
                Some((idx, c)) => {
                    return Err(LineError::at(
                        idx + 1,
                        format!("expected `,` after the quoted field, found `{c}`"),
                    ));
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(Field { text, column });
                        return Ok(fields);
                    }
                    Some((_, ',')) => break,
                    Some((_, c)) => text.push(c),
                }
            }
            fields.push(Field { text, column });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_shapes_parse() {
        let full =
            parse_line("1700000000,http_requests_total,12.5,method=GET;code=200", None).unwrap();
        assert_eq!(full.metric, "http_requests_total");
        assert_eq!(full.ts_ms, 1_700_000_000_000);
        assert_eq!(full.value, 12.5);
        assert_eq!(
            full.labels,
            [("method".to_string(), "GET".to_string()), ("code".to_string(), "200".to_string())]
        );

        let no_labels = parse_line("2023-11-14T22:13:20Z,cpu,0.5", None).unwrap();
        assert!(no_labels.labels.is_empty());

        let short = parse_line("2014-04-01 00:00:00,-Inf", Some("latency")).unwrap();
        assert_eq!((short.metric.as_str(), short.value), ("latency", f64::NEG_INFINITY));

        let quoted = parse_line("1,\"m\",\"2\",\"path=/a,b;user=x\"\"y\"", None).unwrap();
        assert_eq!(quoted.labels[0], ("path".to_string(), "/a,b".to_string()));
        assert_eq!(quoted.labels[1], ("user".to_string(), "x\"y".to_string()));
    }

    #[test]
    fn errors_give_the_column_and_the_expected_form() {
        let cases: &[(&str, usize, &str)] = &[
            ("1700000000,cpu,abc", 16, "expected a number"),
            ("17000x,cpu,1", 1, "is not a timestamp"),
            ("1,cpu usage,1", 3, "not a valid metric name"),
            ("1,cpu,1,9bad=x", 9, "not a label name"),
            ("1,cpu,1,a=1;a=2", 9, "appears twice"),
            ("1,cpu,1,novalue", 9, "name=value"),
            ("1,2", 1, "--metric"),
            ("1,a,2,b=c,extra", 1, "found 5"),
            ("1,\"cpu", 3, "close the quoted field"),
            ("1,\"cpu\"x,1", 8, "after the quoted field"),
        ];
        for &(line, column, words) in cases {
            let error = parse_line(line, None).expect_err(line);
            assert_eq!(error.column, column, "{line}: {}", error.message);
            assert!(error.message.contains(words), "{line}: {}", error.message);
        }
    }

    #[test]
    fn headers_are_recognised() {
        assert!(is_header("timestamp,metric,value"));
        assert!(is_header("\"time\",\"value\""));
        assert!(!is_header("1700000000,cpu,1"));
        assert!(!is_header("2014-04-01 00:00:00,5"));
    }
}
