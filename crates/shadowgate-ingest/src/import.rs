//! Importing CSV and JSON Lines files, streamed: a file of any size is read a line at a time.
//!
//! A reader thread parses lines ([`csv`], [`jsonl`], both pure) into chunks; the async side
//! processes chunks in file order and keeps a few commits in flight, so parsing, processing
//! and the store's fsyncs overlap. Import stops at the first malformed line: every line before
//! it has been stored (and the error says how many points that was), nothing after it has.
//! At the end the open rollups are written too.

pub mod csv;
pub mod jsonl;

use std::{
    fs::File,
    io::{self, BufRead, BufReader, Read},
    path::Path,
    sync::Arc,
};

use tokio::{sync::mpsc, task::JoinSet};

use crate::{
    batcher::WriteError,
    pipeline::{Pipeline, Receipt},
    processor::RawSample,
};

/// The longest line accepted; a longer one is an error rather than a memory hazard.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportFormat {
    Csv,
    JsonLines,
}

impl ImportFormat {
    /// The format a file name suggests: `.csv`, or `.jsonl` / `.ndjson`.
    pub fn from_path(path: &Path) -> Option<ImportFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(ImportFormat::Csv),
            "jsonl" | "ndjson" => Some(ImportFormat::JsonLines),
            _ => None,
        }
    }
}

/// What to import and how.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The application the points belong to.
    pub app: String,
    pub format: ImportFormat,
    /// The metric of lines that name none (`timestamp,value` CSV, JSONL without `metric`).
    pub default_metric: Option<String>,
    /// Points per chunk handed to the pipeline.
    pub chunk_points: usize,
    /// Chunks whose commit may be in flight at once.
    pub max_in_flight: usize,
}

impl ImportOptions {
    pub fn new(app: impl Into<String>, format: ImportFormat) -> ImportOptions {
        ImportOptions {
            app: app.into(),
            format,
            default_metric: None,
            chunk_points: 10_000,
            max_in_flight: 4,
        }
    }
}

/// What an import stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub lines: u64,
    /// Points committed.
    pub points: u64,
    /// Samples committed: points kept plus rollups.
    pub samples_written: u64,
    pub header_skipped: bool,
}

/// A problem in one line, at a 1-based column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub column: usize,
    pub message: String,
}

impl LineError {
    pub fn at(column: usize, message: String) -> LineError {
        LineError { column, message }
    }
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error("cannot open {path}: {source}")]
    Open { path: String, source: io::Error },
    #[error(
        "reading line {line} failed: {source} ({points_committed} points before it were imported)"
    )]
    Read { line: u64, source: io::Error, points_committed: u64 },
    #[error(
        "line {line}, column {column}: {message} (the {points_committed} points of the lines before it were imported; \
         fix the line and import the rest of the file)"
    )]
    Line { line: u64, column: usize, message: String, points_committed: u64 },
    #[error("{source} ({points_committed} points were imported before the failure)")]
    Write { source: WriteError, points_committed: u64 },
}

/// Whether `name` may be a metric name: letters, digits, `_` and `:`, not starting with a digit.
pub fn valid_metric_name(name: &str) -> Result<(), String> {
    let mut bytes = name.bytes();
    let valid = matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid metric name; use letters, digits, `_` and `:`, not starting with a digit"
        ))
    }
}

/// Imports a file.
pub async fn import_file(
    path: &Path,
    options: ImportOptions,
    pipeline: Arc<Pipeline>,
) -> Result<ImportReport, ImportError> {
    let file = File::open(path)
        .map_err(|source| ImportError::Open { path: path.display().to_string(), source })?;
    import_reader(BufReader::with_capacity(256 << 10, file), options, pipeline).await
}

/// What the reader thread hands over.
enum Parsed {
    Chunk(Vec<RawSample>),
    Done { lines: u64, header_skipped: bool },
    Failed(ImportError),
}

/// Imports from any buffered reader.
pub async fn import_reader<R: BufRead + Send + 'static>(
    reader: R,
    options: ImportOptions,
    pipeline: Arc<Pipeline>,
) -> Result<ImportReport, ImportError> {
    let (sender, mut receiver) = mpsc::channel(options.max_in_flight.max(1));
    let reader_options = options.clone();
    let reader_thread =
        tokio::task::spawn_blocking(move || read_lines(reader, &reader_options, &sender));
    let mut commits: JoinSet<Result<Receipt, WriteError>> = JoinSet::new();
    let mut report = ImportReport::default();
    let mut first_write_error = None;
    let mut stopped_by = None;
    while let Some(parsed) = receiver.recv().await {
        match parsed {
            Parsed::Chunk(points) => {
                while commits.len() >= options.max_in_flight.max(1) {
                    settle(commits.join_next().await, &mut report, &mut first_write_error);
                }
                let prepared = pipeline.prepare(&options.app, points);
                let pipeline = Arc::clone(&pipeline);
                commits.spawn(async move { pipeline.commit(prepared).await });
            }
            Parsed::Done { lines, header_skipped } => {
                report.lines = lines;
                report.header_skipped = header_skipped;
            }
            Parsed::Failed(error) => stopped_by = Some(error),
        }
    }
    // The reader has finished (its channel closed); a panic there would be a bug, not bad input.
    let _ = reader_thread.await;
    while let Some(joined) = commits.join_next().await {
        settle(Some(joined), &mut report, &mut first_write_error);
    }
    if first_write_error.is_none() && stopped_by.is_none() {
        match pipeline.finish().await {
            Ok(written) => report.samples_written += written as u64,
            Err(error) => first_write_error = Some(error),
        }
    }
    if let Some(source) = first_write_error {
        return Err(ImportError::Write { source, points_committed: report.points });
    }
    match stopped_by {
        Some(ImportError::Line { line, column, message, .. }) => {
            Err(ImportError::Line { line, column, message, points_committed: report.points })
        }
        Some(ImportError::Read { line, source, .. }) => {
            Err(ImportError::Read { line, source, points_committed: report.points })
        }
        Some(other) => Err(other),
        None => Ok(report),
    }
}

fn settle(
    joined: Option<Result<Result<Receipt, WriteError>, tokio::task::JoinError>>,
    report: &mut ImportReport,
    first_write_error: &mut Option<WriteError>,
) {
    let outcome = match joined {
        None => return,
        Some(Ok(outcome)) => outcome,
        Some(Err(join_error)) => Err(WriteError(format!("a commit task failed: {join_error}"))),
    };
    match outcome {
        Ok(receipt) => {
            report.points += receipt.points as u64;
            report.samples_written += receipt.samples_written as u64;
        }
        Err(error) => {
            first_write_error.get_or_insert(error);
        }
    }
}

/// Reads and parses lines on a blocking thread, handing chunks over in file order.
fn read_lines<R: BufRead>(mut reader: R, options: &ImportOptions, sender: &mpsc::Sender<Parsed>) {
    let mut buffer = Vec::with_capacity(256);
    let mut chunk = Vec::with_capacity(options.chunk_points);
    let mut line_number = 0u64;
    let mut header_skipped = false;
    let mut seen_data = false;
    let default_metric = options.default_metric.as_deref();
    loop {
        buffer.clear();
        let read = (&mut reader).take(MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut buffer);
        line_number += 1;
        let fail = |error: ImportError| {
            // The receiver is gone only if the import was abandoned; then nobody needs the error.
            let _ = sender.blocking_send(Parsed::Failed(error));
        };
        match read {
            Ok(0) => break,
            Ok(_) => {}
            Err(source) => {
                fail(ImportError::Read { line: line_number, source, points_committed: 0 });
                return;
            }
        }
        if buffer.len() > MAX_LINE_BYTES && buffer.last() != Some(&b'\n') {
            fail(line_error(
                line_number,
                1,
                format!("the line is longer than {MAX_LINE_BYTES} bytes"),
            ));
            return;
        }
        let Ok(text) = std::str::from_utf8(&buffer) else {
            fail(line_error(line_number, 1, "the line is not valid UTF-8".to_string()));
            return;
        };
        let line = text.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        if !seen_data && options.format == ImportFormat::Csv && csv::is_header(line) {
            seen_data = true;
            header_skipped = true;
            continue;
        }
        seen_data = true;
        let parsed = match options.format {
            ImportFormat::Csv => csv::parse_line(line, default_metric),
            ImportFormat::JsonLines => jsonl::parse_line(line, default_metric),
        };
        match parsed {
            Ok(point) => chunk.push(point),
            Err(error) => {
                if !chunk.is_empty()
                    && sender.blocking_send(Parsed::Chunk(std::mem::take(&mut chunk))).is_err()
                {
                    return;
                }
                fail(line_error(line_number, error.column, error.message));
                return;
            }
        }
        if chunk.len() >= options.chunk_points.max(1) {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(options.chunk_points));
            if sender.blocking_send(Parsed::Chunk(full)).is_err() {
                return;
            }
        }
    }
    if !chunk.is_empty() && sender.blocking_send(Parsed::Chunk(chunk)).is_err() {
        return;
    }
    let _ = sender.blocking_send(Parsed::Done { lines: line_number - 1, header_skipped });
}

fn line_error(line: u64, column: usize, message: String) -> ImportError {
    ImportError::Line { line, column, message, points_committed: 0 }
}
