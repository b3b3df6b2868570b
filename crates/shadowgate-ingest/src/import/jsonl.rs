//! JSON Lines: one object per line, `{"ts": …, "metric": …, "value": …, "labels": {…}}`.
//!
//! `ts` is a Unix number (any unit, see [`timestamp`]) or an RFC 3339 string; `value` is a
//! number or one of the strings `NaN`, `+Inf`, `-Inf`; `metric` may be left out when the caller
//! names it; `labels` maps names to strings. Unknown keys are refused, so a misspelt key is
//! not silently ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{LineError, valid_metric_name};
use crate::{config::is_label_name, processor::RawSample, timestamp};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    ts: serde_json::Value,
    #[serde(default)]
    metric: Option<String>,
    value: serde_json::Value,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Parses one JSONL line (without its line ending).
pub fn parse_line(line: &str, default_metric: Option<&str>) -> Result<RawSample, LineError> {
    let parsed: Line = serde_json::from_str(line).map_err(|error| {
        let message = error.to_string();
        // serde_json appends " at line L column C"; the column is reported separately.
        let message = message.split(" at line ").next().unwrap_or(&message).to_string();
        LineError::at(
            error.column().max(1),
            format!(
                "{message}; expected {{\"ts\": …, \"metric\": …, \"value\": …, \"labels\": {{…}}}}"
            ),
        )
    })?;
    let ts_ms = match &parsed.ts {
        serde_json::Value::Number(number) => number
            .as_f64()
            .ok_or_else(|| "`ts` is out of range".to_string())
            .and_then(timestamp::from_unix_number),
        serde_json::Value::String(text) => timestamp::parse(text),
        other => Err(format!("`ts` must be a number or an RFC 3339 string, found {other}")),
    }
    .map_err(|message| LineError::at(1, format!("ts: {message}")))?;
    let value = match &parsed.value {
        serde_json::Value::Number(number) => {
            number.as_f64().ok_or_else(|| "`value` is out of range".to_string())
        }
        serde_json::Value::String(text) => match text.as_str() {
            "NaN" => Ok(f64::NAN),
            "+Inf" | "Inf" | "Infinity" => Ok(f64::INFINITY),
            "-Inf" | "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other
                .parse::<f64>()
                .map_err(|_| format!("`value` must be a number, found \"{other}\"")),
        },
        other => Err(format!("`value` must be a number, found {other}")),
    }
    .map_err(|message| LineError::at(1, message))?;
    let metric = match (parsed.metric, default_metric) {
        (Some(metric), _) => {
            valid_metric_name(&metric)
                .map_err(|message| LineError::at(1, format!("metric: {message}")))?;
            metric
        }
        (None, Some(metric)) => metric.to_string(),
        (None, None) => {
            return Err(LineError::at(
                1,
                "the line has no `metric` and the caller named none (--metric NAME)".to_string(),
            ));
        }
    };
    if let Some(bad) = parsed.labels.keys().find(|name| !is_label_name(name)) {
        return Err(LineError::at(
            1,
            format!(
                "labels: `{bad}` is not a label name; use letters, digits and `_`, not starting with a digit"
            ),
        ));
    }
    Ok(RawSample { metric, labels: parsed.labels.into_iter().collect(), ts_ms, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_with_every_timestamp_form() {
        let point = parse_line(
            r#"{"ts": 1700000000, "metric": "cpu", "value": 0.5, "labels": {"host": "a"}}"#,
            None,
        )
        .unwrap();
        assert_eq!(
            (point.metric.as_str(), point.ts_ms, point.value),
            ("cpu", 1_700_000_000_000, 0.5)
        );
        assert_eq!(point.labels, [("host".to_string(), "a".to_string())]);
        let text_ts =
            parse_line(r#"{"ts": "2023-11-14T22:13:20.5Z", "value": "+Inf"}"#, Some("m")).unwrap();
        assert_eq!(
            (text_ts.ts_ms, text_ts.value, text_ts.metric.as_str()),
            (1_700_000_000_500, f64::INFINITY, "m")
        );
        let ms = parse_line(r#"{"ts": 1700000000123, "metric": "m", "value": -2}"#, None).unwrap();
        assert_eq!(ms.ts_ms, 1_700_000_000_123);
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        let cases: &[(&str, usize, &str)] = &[
            (
                r#"{"ts": 1, "metric": "m", "value": 1, "timestamp": 2}"#,
                48,
                "unknown field `timestamp`",
            ),
            (r#"{"ts": 1, "metric": "m"}"#, 24, "missing field `value`"),
            (r#"{"ts": 1, "metric": "m", "value": 1"#, 35, "EOF while parsing"),
            (r#"{"ts": true, "metric": "m", "value": 1}"#, 1, "`ts` must be a number"),
            (r#"{"ts": "soon", "metric": "m", "value": 1}"#, 1, "is not a timestamp"),
            (r#"{"ts": 1, "metric": "m", "value": "high"}"#, 1, "`value` must be a number"),
            (r#"{"ts": 1, "value": 1}"#, 1, "--metric"),
            (r#"{"ts": 1, "metric": "bad name", "value": 1}"#, 1, "not a valid metric name"),
            (
                r#"{"ts": 1, "metric": "m", "value": 1, "labels": {"a-b": "x"}}"#,
                1,
                "`a-b` is not a label name",
            ),
            (
                r#"{"ts": 1, "metric": "m", "value": 1, "labels": {"a": 5}}"#,
                54,
                "expected a string",
            ),
        ];
        let mut mismatches = Vec::new();
        for &(line, column, words) in cases {
            match parse_line(line, None) {
                Ok(point) => mismatches.push(format!("{line}: accepted as {point:?}")),
                Err(error) if !error.message.contains(words) || error.column != column => {
                    mismatches.push(format!("{line}: column {} `{}`", error.column, error.message));
                }
                Err(_) => {}
            }
        }
        assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    }
}
