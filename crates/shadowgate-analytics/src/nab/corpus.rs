//! NAB's corpus formats: data files, anomaly windows, and windows built from labels.

use std::collections::BTreeMap;

use super::timestamp::{TimestampError, parse_timestamp};

/// An anomaly window as inclusive row indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexWindow {
    pub first: usize,
    pub last: usize,
}

impl IndexWindow {
    pub fn width(&self) -> usize {
        self.last - self.first + 1
    }

    pub fn contains(&self, row: usize) -> bool {
        self.first <= row && row <= self.last
    }
}

/// One data file of a NAB-layout corpus with its anomaly windows.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelledSeries {
    /// The file's path relative to the data directory, e.g. `realKnownCause/nyc_taxi.csv`.
    pub name: String,
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
    /// Anomaly windows in row order, not overlapping.
    pub windows: Vec<IndexWindow>,
}

/// Why NAB data could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum CorpusError {
    #[error("line {line}: expected `timestamp,value`, got `{text}`")]
    MalformedRow { line: usize, text: String },
    #[error("line {line}: {source}")]
    BadTimestamp { line: usize, source: TimestampError },
    #[error("line {line}: the value `{text}` is not a finite number")]
    BadValue { line: usize, text: String },
    #[error("the data has no rows after the header")]
    NoRows,
    #[error("the {what} file is not valid JSON of the form {expected}: {reason}")]
    BadJson { what: &'static str, expected: &'static str, reason: String },
    #[error("window [{start}, {end}] of `{file}` {problem}")]
    BadWindow { file: String, start: String, end: String, problem: &'static str },
}

/// Parses a NAB data file: a `timestamp,value` header, then one row per line. Rows keep their
/// order even where timestamps repeat or step back (two NAB files have daylight-saving
/// artefacts), because NAB scores rows by position.
pub fn parse_data_csv(text: &str) -> Result<Vec<(i64, f64)>, CorpusError> {
    let mut rows = Vec::new();
    for (line_idx, line) in text.lines().enumerate().skip(1) {
        let line_number = line_idx + 1;
        if line.trim().is_empty() {
            continue;
        }
        let (timestamp_text, value_text) = line.split_once(',').ok_or_else(|| {
            CorpusError::MalformedRow { line: line_number, text: line.to_string() }
        })?;
        let timestamp = parse_timestamp(timestamp_text)
            .map_err(|source| CorpusError::BadTimestamp { line: line_number, source })?;
        let value: f64 =
            value_text.trim().parse().ok().filter(|value: &f64| value.is_finite()).ok_or_else(
                || CorpusError::BadValue { line: line_number, text: value_text.to_string() },
            )?;
        rows.push((timestamp, value));
    }
    if rows.is_empty() {
        return Err(CorpusError::NoRows);
    }
    Ok(rows)
}

/// Window limits per file as in `labels/combined_windows.json`: timestamps of the first and
/// last row of each window.
pub type WindowLimits = BTreeMap<String, Vec<(i64, i64)>>;

/// Parses `combined_windows.json`.
pub fn parse_windows_json(text: &str) -> Result<WindowLimits, CorpusError> {
    let raw: BTreeMap<String, Vec<(String, String)>> =
        serde_json::from_str(text).map_err(|error| CorpusError::BadJson {
            what: "windows",
            expected: r#"{"group/file.csv": [["start", "end"], ...]}"#,
            reason: error.to_string(),
        })?;
    raw.into_iter()
        .map(|(file, windows)| {
            let limits = windows
                .into_iter()
                .map(|(start, end)| {
                    let bad = |problem| CorpusError::BadWindow {
                        file: file.clone(),
                        start: start.clone(),
                        end: end.clone(),
                        problem,
                    };
                    let start_ts =
                        parse_timestamp(&start).map_err(|_| bad("has a bad timestamp"))?;
                    let end_ts = parse_timestamp(&end).map_err(|_| bad("has a bad timestamp"))?;
                    if end_ts < start_ts {
                        return Err(bad("ends before it starts"));
                    }
                    Ok((start_ts, end_ts))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((file, limits))
        })
        .collect()
}

/// Parses `combined_labels.json`: the labelled anomaly timestamps per file.
pub fn parse_labels_json(text: &str) -> Result<BTreeMap<String, Vec<i64>>, CorpusError> {
    let raw: BTreeMap<String, Vec<String>> =
        serde_json::from_str(text).map_err(|error| CorpusError::BadJson {
            what: "labels",
            expected: r#"{"group/file.csv": ["timestamp", ...]}"#,
            reason: error.to_string(),
        })?;
    raw.into_iter()
        .map(|(file, labels)| {
            let timestamps = labels
                .iter()
                .map(|label| {
                    parse_timestamp(label).map_err(|_| CorpusError::BadWindow {
                        file: file.clone(),
                        start: label.clone(),
                        end: label.clone(),
                        problem: "has a bad timestamp",
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((file, timestamps))
        })
        .collect()
}

/// Converts window limits to row indices as NAB's sweep does: a window starts at the first row
/// at or after its start timestamp and ends at the first row stamped with its end timestamp
/// (or, if no row carries it, the last row before the end). A window holding no row is an
/// error, because NAB's limits are always timestamps of rows.
pub fn windows_to_indices(
    file: &str,
    timestamps: &[i64],
    limits: &[(i64, i64)],
) -> Result<Vec<IndexWindow>, CorpusError> {
    limits
        .iter()
        .map(|(start, end)| {
            let no_row = || CorpusError::BadWindow {
                file: file.to_string(),
                start: start.to_string(),
                end: end.to_string(),
                problem: "contains no row of the data file",
            };
            let first = timestamps.iter().position(|t| t >= start).ok_or_else(no_row)?;
            let last = match timestamps[first..].iter().position(|t| t == end) {
                Some(offset) => first + offset,
                None => {
                    first
                        + timestamps[first..]
                            .iter()
                            .take_while(|t| *t <= end)
                            .count()
                            .checked_sub(1)
                            .ok_or_else(no_row)?
                }
            };
            Ok(IndexWindow { first, last })
        })
        .collect()
}

/// NAB's share of each file in anomaly windows.
pub const WINDOW_FRACTION: f64 = 0.10;
/// NAB's share of each file (at most 750 rows) in the unscored probationary period.
pub const PROBATION_FRACTION: f64 = 0.15;

/// The probationary length of a file of `rows` rows, as NAB computes it (a row index `i` is
/// probationary when `i < probationary_length`).
pub fn probationary_length(rows: usize) -> f64 {
    (PROBATION_FRACTION * rows as f64).floor().min(PROBATION_FRACTION * 5_000.0)
}

/// Builds anomaly windows from labelled rows the way NAB's labeler does: each label gets a
/// window of `⌊0.1 · rows / labels⌋` rows centred on it (clipped to the file), a first window
/// that starts inside the probationary period is dropped, and overlapping windows are merged.
/// The merge reproduces NAB's single pass, which moves on after each merge. Labels past the
/// last row are ignored.
pub fn windows_from_labels(rows: usize, label_rows: &[usize]) -> Vec<IndexWindow> {
    if rows == 0 || label_rows.is_empty() {
        return Vec::new();
    }
    let window_length = (WINDOW_FRACTION * rows as f64 / label_rows.len() as f64) as usize;
    let half = window_length / 2;
    let mut windows: Vec<IndexWindow> = label_rows
        .iter()
        .filter(|label| **label < rows)
        .map(|label| IndexWindow {
            first: label.saturating_sub(half),
            last: (label + half).min(rows - 1),
        })
        .collect();
    let probation_row = probationary_length(rows) as usize;
    if windows.first().is_some_and(|window| window.first < probation_row) {
        windows.remove(0);
    }
    let mut idx = 0;
    while idx + 1 < windows.len() {
        if windows[idx + 1].first <= windows[idx].last {
            windows[idx].last = windows[idx + 1].last;
            windows.remove(idx + 1);
        }
        idx += 1;
    }
    windows
}

/// Assembles a corpus from data texts (name, CSV text) and window limits. Files without an
/// entry in `limits` are an error, as in NAB, because "no anomalies" is written as `[]`.
pub fn build_corpus(
    files: &[(String, String)],
    limits: &WindowLimits,
) -> Result<Vec<LabelledSeries>, CorpusError> {
    files
        .iter()
        .map(|(name, text)| {
            let rows = parse_data_csv(text)?;
            let timestamps: Vec<i64> = rows.iter().map(|(t, _)| *t).collect();
            let values: Vec<f64> = rows.iter().map(|(_, v)| *v).collect();
            let file_limits = limits.get(name).ok_or_else(|| CorpusError::BadWindow {
                file: name.clone(),
                start: String::new(),
                end: String::new(),
                problem: "has no entry in the windows file (write [] for a file without anomalies)",
            })?;
            let windows = windows_to_indices(name, &timestamps, file_limits)?;
            Ok(LabelledSeries { name: name.clone(), timestamps, values, windows })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_rows_keep_their_order_and_bad_rows_name_their_line() {
        let rows =
            parse_data_csv("timestamp,value\n2014-01-01 00:05:00,2\n2014-01-01 00:00:00,1.5\n")
                .expect("valid");
        assert_eq!(rows, vec![(1_388_534_700, 2.0), (1_388_534_400, 1.5)]);
        let error =
            parse_data_csv("timestamp,value\n2014-01-01 00:00:00,abc\n").expect_err("bad value");
        assert!(error.to_string().starts_with("line 2:"), "{error}");
        let error = parse_data_csv("timestamp,value\n2014-01-01 00:00:00\n").expect_err("no comma");
        assert!(matches!(error, CorpusError::MalformedRow { line: 2, .. }));
        assert_eq!(parse_data_csv("timestamp,value\n"), Err(CorpusError::NoRows));
    }

    #[test]
    fn windows_json_is_validated() {
        let limits = parse_windows_json(
            r#"{"a.csv": [["2014-01-01 00:00:00.000000", "2014-01-01 01:00:00.000000"]], "b.csv": []}"#,
        )
        .expect("valid");
        assert_eq!(limits["a.csv"], vec![(1_388_534_400, 1_388_538_000)]);
        assert!(limits["b.csv"].is_empty());
        let backwards =
            parse_windows_json(r#"{"a.csv": [["2014-01-02 00:00:00", "2014-01-01 00:00:00"]]}"#);
        assert!(backwards.expect_err("ends first").to_string().contains("ends before it starts"));
        let malformed = parse_windows_json("[1, 2]").expect_err("not an object");
        assert!(malformed.to_string().contains("windows file is not valid JSON"), "{malformed}");
    }

    #[test]
    fn labeler_windows_are_centred_clipped_and_merged() {
        // 1000 rows, two labels: each window is ⌊0.1 · 1000 / 2⌋ = 50 rows, ±25 around the label.
        let windows = windows_from_labels(1_000, &[300, 990]);
        assert_eq!(
            windows,
            vec![IndexWindow { first: 275, last: 325 }, IndexWindow { first: 965, last: 999 }]
        );
        // Overlapping windows merge; a window starting in the probation (150 rows) is dropped.
        let merged = windows_from_labels(1_000, &[100, 500, 520]);
        assert_eq!(merged, vec![IndexWindow { first: 484, last: 536 }]);
        assert_eq!(windows_from_labels(10, &[5_000]), Vec::new());
    }
}
