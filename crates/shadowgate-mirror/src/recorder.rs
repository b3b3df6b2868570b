//! The recording writer: a task that redacts exchanges and appends them to a recording file,
//! and the reader that loads a recording for replay.
//!
//! Exchanges reach the writer through a bounded queue. When the disk cannot keep up the queue
//! fills and further exchanges are dropped and counted, so recording never slows the primary.
//! Redaction and encoding run in the writer task, off the proxy's request path.

use std::{
    io::{self, BufRead},
    path::{Path, PathBuf},
    sync::Arc,
};

use tokio::{io::AsyncWriteExt, sync::mpsc, task::JoinHandle};

use crate::{
    metrics::MirrorMetrics,
    recording::RecordedExchange,
    recording::{
        Recording, RecordingDecoder, RecordingError, RecordingHeader, encode_exchange,
        encode_header,
    },
    redaction::RedactionRules,
};

/// Exchanges that may wait for the writer before new ones are dropped.
const RECORD_QUEUE_CAPACITY: usize = 8192;

/// A running recording writer.
pub(crate) struct RecordWriter {
    sender: mpsc::Sender<RecordedExchange>,
    task: JoinHandle<io::Result<()>>,
}

/// Why a recording could not be started or finished.
#[derive(Debug, thiserror::Error)]
#[error("recording file {path}: {source}")]
pub struct RecordFileError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl RecordWriter {
    /// Creates (or truncates) the file, writes the header record and starts the writer task.
    pub(crate) async fn start(
        path: &Path,
        header: RecordingHeader,
        redaction: RedactionRules,
        metrics: Arc<MirrorMetrics>,
    ) -> Result<RecordWriter, RecordFileError> {
        let wrap = |source| RecordFileError { path: path.to_owned(), source };
        let file = tokio::fs::File::create(path).await.map_err(wrap)?;
        let mut writer = tokio::io::BufWriter::with_capacity(256 * 1024, file);
        let mut line = encode_header(&header);
        line.push('\n');
        writer.write_all(line.as_bytes()).await.map_err(wrap)?;
        writer.flush().await.map_err(wrap)?;
        let (sender, receiver) = mpsc::channel(RECORD_QUEUE_CAPACITY);
        let task = tokio::spawn(write_loop(receiver, writer, redaction, metrics));
        Ok(RecordWriter { sender, task })
    }

    /// A handle for submitting exchanges.
    pub(crate) fn sender(&self) -> mpsc::Sender<RecordedExchange> {
        self.sender.clone()
    }

    /// Waits until every submitted exchange is written and the file is synced. Exchanges still
    /// in flight in the proxy hold senders; the caller stops the proxy first.
    pub(crate) async fn finish(self, path: &Path) -> Result<(), RecordFileError> {
        drop(self.sender);
        let wrap = |source| RecordFileError { path: path.to_owned(), source };
        match self.task.await {
            Ok(result) => result.map_err(wrap),
            Err(join_error) => Err(wrap(io::Error::other(join_error))),
        }
    }
}

async fn write_loop(
    mut receiver: mpsc::Receiver<RecordedExchange>,
    mut writer: tokio::io::BufWriter<tokio::fs::File>,
    redaction: RedactionRules,
    metrics: Arc<MirrorMetrics>,
) -> io::Result<()> {
    let mut line = String::new();
    while let Some(mut exchange) = receiver.recv().await {
        redaction.redact_request(&mut exchange.request);
        if let Ok(response) = exchange.response.as_mut() {
            redaction.redact_response(response);
        }
        line.clear();
        line.push_str(&encode_exchange(&exchange));
        line.push('\n');
        match writer.write_all(line.as_bytes()).await {
            Ok(()) => metrics.recorded.increment(),
            Err(error) => {
                metrics.record_write_errors.increment();
                return Err(error);
            }
        }
        if receiver.is_empty() {
            writer.flush().await?;
        }
    }
    writer.flush().await?;
    writer.get_ref().sync_all().await
}

/// Why a recording could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordingLoadError {
    #[error("cannot read recording {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("recording {path}: {source}")]
    Format {
        path: PathBuf,
        #[source]
        source: RecordingError,
    },
}

/// Loads a whole recording from a file.
pub fn read_recording_file(path: &Path) -> Result<Recording, RecordingLoadError> {
    let io_error = |source| RecordingLoadError::Io { path: path.to_owned(), source };
    let format_error = |source| RecordingLoadError::Format { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(io_error)?;
    let mut decoder = RecordingDecoder::new();
    let mut exchanges = Vec::new();
    for line in io::BufReader::new(file).lines() {
        if let Some(exchange) = decoder.push_line(&line.map_err(io_error)?).map_err(format_error)? {
            exchanges.push(exchange);
        }
    }
    let header = decoder.header().cloned().ok_or(RecordingError::Empty).map_err(format_error)?;
    Ok(Recording { header, exchanges })
}
