//! The path every source shares: process, then write durably, then acknowledge.
//!
//! A [`Pipeline`] owns the one [`Processor`] of a process (behind a lock held only while points
//! are processed, never across a write) and the [`BatchWriter`]. Sources call
//! [`Pipeline::ingest`], which returns only after the processed points have been committed;
//! the acknowledged count grows only then.

use std::{
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use shadowgate_store::{Sample, Store};

use crate::{
    anonymize::HashKey,
    batcher::{BatchSettings, BatchStats, BatchWriter, WriteError},
    config::IngestConfig,
    processor::{Processor, ProcessorStats, RawSample},
};

/// What one `ingest` call stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Receipt {
    /// Points received.
    pub points: usize,
    /// Samples committed: the raw points kept and the rollup points they completed.
    pub samples_written: usize,
}

/// Points processed and ready to be committed.
#[derive(Debug)]
pub struct Prepared {
    points: usize,
    samples: Vec<Sample>,
}

/// Counters of the whole pipeline.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PipelineStats {
    pub processor: ProcessorStats,
    pub batches: BatchStats,
    /// Points whose `ingest` call returned `Ok`.
    pub points_acknowledged: u64,
}

/// The processor and the durable writer, shared by every source of a process.
pub struct Pipeline {
    processor: Mutex<Processor>,
    writer: BatchWriter,
    points_acknowledged: AtomicU64,
}

impl Pipeline {
    /// Starts a pipeline writing to `store` (the writer task runs on the current Tokio runtime).
    pub fn start(config: &IngestConfig, key: &HashKey, store: Arc<dyn Store>) -> Pipeline {
        let settings = BatchSettings {
            max_samples: config.batch_max_samples,
            max_delay: config.batch_max_delay.as_duration(),
            ..BatchSettings::default()
        };
        Pipeline::new(Processor::new(config, key), BatchWriter::start(store, settings))
    }

    pub fn new(processor: Processor, writer: BatchWriter) -> Pipeline {
        Pipeline {
            processor: Mutex::new(processor),
            writer,
            points_acknowledged: AtomicU64::new(0),
        }
    }

    /// Processes and stores points of one application; returns once they are committed.
    pub async fn ingest(&self, app: &str, points: Vec<RawSample>) -> Result<Receipt, WriteError> {
        let prepared = self.prepare(app, points);
        self.commit(prepared).await
    }

    /// Processes points without writing them, so that a caller can keep processing in order
    /// while several commits are in flight.
    pub fn prepare(&self, app: &str, points: Vec<RawSample>) -> Prepared {
        let count = points.len();
        let mut samples = Vec::with_capacity(count + count / 4);
        self.lock().process(app, points, unix_now_ms(), &mut samples);
        Prepared { points: count, samples }
    }

    /// Writes processed points; returns once they are committed.
    pub async fn commit(&self, prepared: Prepared) -> Result<Receipt, WriteError> {
        let samples_written = self.writer.write(prepared.samples).await?;
        self.points_acknowledged.fetch_add(prepared.points as u64, Ordering::Relaxed);
        Ok(Receipt { points: prepared.points, samples_written })
    }

    /// Stores the rollups of series that have gone idle; returns how many samples that wrote.
    pub async fn flush_idle_rollups(&self) -> Result<usize, WriteError> {
        let mut out = Vec::new();
        self.lock().flush_idle(unix_now_ms(), &mut out);
        self.writer.write(out).await
    }

    /// Stores every open rollup (at shutdown or at the end of an import).
    pub async fn finish(&self) -> Result<usize, WriteError> {
        let mut out: Vec<Sample> = Vec::new();
        self.lock().finish(&mut out);
        self.writer.write(out).await
    }

    pub fn stats(&self) -> PipelineStats {
        PipelineStats {
            processor: self.lock().stats(),
            batches: self.writer.stats(),
            points_acknowledged: self.points_acknowledged.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Processor> {
        // Processing cannot leave the processor half-updated in a way that matters (counters
        // and rollup buckets only), so a lock poisoned by a panic elsewhere is still usable.
        self.processor.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The wall clock, in milliseconds since the Unix epoch.
pub fn unix_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}
