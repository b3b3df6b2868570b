//! The JSON rendering, which is also the stored form reports are rebuilt from.

use crate::document::CheckReport;

/// Renders the report as pretty-printed JSON with fields in declaration order (see
/// `SCHEMA.md`), ending with a newline. Non-finite numbers are written as `null`; in a time
/// series that reads back as a gap.
pub fn to_json(report: &CheckReport) -> String {
    // Serializing these types cannot fail: every map key is a string or an integer, and no
    // type has a fallible `Serialize`. An error here is a bug in this crate, not bad input.
    let mut text = serde_json::to_string_pretty(report)
        .unwrap_or_else(|error| panic!("a check report always serializes: {error}"));
    text.push('\n');
    text
}

/// Reads a report written by [`to_json`].
///
/// # Errors
///
/// Fails with the path of the offending field when the text is not JSON, is a report of
/// another schema version, or lacks or mistypes a field.
pub fn from_json(text: &str) -> Result<CheckReport, ReportReadError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let report = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = error.path().to_string();
        ReportReadError { field, message: error.into_inner().to_string() }
    })?;
    deserializer.end().map_err(|error| ReportReadError {
        field: ".".to_string(),
        message: format!("unexpected text after the report: {error}"),
    })?;
    Ok(report)
}

/// A stored report that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the stored check report is unreadable at field `{field}`: {message}")]
pub struct ReportReadError {
    /// The path of the field, such as `verdict.metrics[2].outcome`; `.` for the whole text.
    pub field: String,
    pub message: String,
}
