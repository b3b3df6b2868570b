//! The JSON rendering, which is also the stored form reports are rebuilt from.

use crate::document::CheckReport;
use serde::Serialize;
use serde_json::ser::Formatter;
use std::io;

/// Renders the report as indented JSON with fields in declaration order (see `SCHEMA.md`),
/// ending with a newline. An array inside an array, such as a time series point
/// `[1000, 12.5]`, stays on one line, so a long series reads one point per line. Non-finite
/// numbers are written as `null`; in a time series that reads back as a gap.
pub fn to_json(report: &CheckReport) -> String {
    let mut bytes = Vec::with_capacity(64 * 1024);
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut bytes, ReportLayout::default());
    // Serializing these types cannot fail: every map key is a string or an integer, no type
    // has a fallible `Serialize`, and writing to a vector cannot fail. An error here is a bug
    // in this crate, not bad input.
    report
        .serialize(&mut serializer)
        .unwrap_or_else(|error| panic!("a check report always serializes: {error}"));
    // serde_json writes UTF-8 only; the lossy branch is never taken.
    let mut text = String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned());
    text.push('\n');
    text
}

/// Two-space indentation, except inside an array that is itself in an array.
#[derive(Default)]
struct ReportLayout {
    depth: usize,
    /// The open containers, innermost last.
    open: Vec<Container>,
}

#[derive(Clone, Copy)]
struct Container {
    is_array: bool,
    /// Written on one line.
    inline: bool,
    has_items: bool,
}

impl ReportLayout {
    fn open<W: ?Sized + io::Write>(&mut self, writer: &mut W, is_array: bool) -> io::Result<()> {
        let parent = self.open.last().copied();
        let inline = parent.is_some_and(|it| it.inline || (it.is_array && is_array));
        self.open.push(Container { is_array, inline, has_items: false });
        if !inline {
            self.depth += 1;
        }
        writer.write_all(if is_array { b"[" } else { b"{" })
    }

    fn close<W: ?Sized + io::Write>(&mut self, writer: &mut W, is_array: bool) -> io::Result<()> {
        let closing = self.open.pop();
        if let Some(container) = closing.filter(|it| !it.inline) {
            self.depth -= 1;
            if container.has_items {
                self.new_line(writer)?;
            }
        }
        writer.write_all(if is_array { b"]" } else { b"}" })
    }

    /// Starts an item (an array value or an object key) after a separator.
    fn item<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        let inline = self.open.last().is_some_and(|it| it.inline);
        if !first {
            writer.write_all(b",")?;
        }
        match (inline, first) {
            (true, true) => Ok(()),
            (true, false) => writer.write_all(b" "),
            (false, _) => self.new_line(writer),
        }
    }

    fn item_done(&mut self) {
        if let Some(container) = self.open.last_mut() {
            container.has_items = true;
        }
    }

    fn new_line<W: ?Sized + io::Write>(&self, writer: &mut W) -> io::Result<()> {
        const SPACES: &[u8] = b"\n                                ";
        let width = 1 + 2 * self.depth;
        if width <= SPACES.len() {
            return writer.write_all(&SPACES[..width]);
        }
        writer.write_all(b"\n")?;
        (0..self.depth).try_for_each(|_| writer.write_all(b"  "))
    }
}

impl Formatter for ReportLayout {
    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, true)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, true)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.item(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.item_done();
        Ok(())
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, false)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, false)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.item(writer, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.item_done();
        Ok(())
    }
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
