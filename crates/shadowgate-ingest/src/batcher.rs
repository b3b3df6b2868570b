//! Durable, batched writes: many small writes share one store transaction.
//!
//! A SQLite commit with `synchronous=FULL` costs an fsync, so committing every scrape or OTLP
//! request alone would cap ingestion at a few hundred writes a second. The [`BatchWriter`]
//! runs one writer task: it takes the first waiting write, gathers whatever else is queued (and
//! waits up to `max_delay` for more while the batch is below `max_samples`), commits them all
//! in one `append_samples` transaction, and only then answers every write in the batch. A
//! write's `Ok` therefore means its samples are on disk; a failed commit fails every write it
//! held, and none of their samples is stored.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use shadowgate_store::{Sample, Store};
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
    time::Instant,
};

/// How writes are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSettings {
    /// A batch stops gathering once it holds this many samples. One write larger than this is
    /// committed alone, in one transaction.
    pub max_samples: usize,
    /// How long the first write of a batch may wait for others.
    pub max_delay: Duration,
    /// How many writes may wait for the writer before `write` itself waits (back-pressure).
    pub queue_depth: usize,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            max_samples: 50_000,
            max_delay: Duration::from_millis(5),
            queue_depth: 1024,
        }
    }
}

/// A write that was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("samples were not stored: {0}")]
pub struct WriteError(pub String);

/// Counters of the writer, readable while it runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchStats {
    pub transactions: u64,
    pub samples_committed: u64,
    pub writes_committed: u64,
    pub failed_transactions: u64,
}

#[derive(Default)]
struct Counters {
    transactions: AtomicU64,
    samples_committed: AtomicU64,
    writes_committed: AtomicU64,
    failed_transactions: AtomicU64,
}

struct WriteJob {
    samples: Vec<Sample>,
    done: oneshot::Sender<Result<usize, WriteError>>,
}

/// Groups writes into durable transactions.
pub struct BatchWriter {
    queue: mpsc::Sender<WriteJob>,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl BatchWriter {
    /// Starts the writer task on the current Tokio runtime.
    pub fn start(store: Arc<dyn Store>, settings: BatchSettings) -> BatchWriter {
        let (queue, receiver) = mpsc::channel(settings.queue_depth.max(1));
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(run_writer(store, settings, receiver, Arc::clone(&counters)));
        BatchWriter { queue, counters, task }
    }

    /// Stores `samples`; returns once they are committed, with how many were written.
    pub async fn write(&self, samples: Vec<Sample>) -> Result<usize, WriteError> {
        if samples.is_empty() {
            return Ok(0);
        }
        let (done, answer) = oneshot::channel();
        self.queue
            .send(WriteJob { samples, done })
            .await
            .map_err(|_| WriteError("the store writer has stopped".into()))?;
        answer.await.map_err(|_| WriteError("the store writer stopped before committing".into()))?
    }

    pub fn stats(&self) -> BatchStats {
        self.counters.read()
    }

    /// Stops accepting writes, waits for queued ones to be committed, and returns the totals.
    pub async fn close(self) -> BatchStats {
        let BatchWriter { queue, counters, task } = self;
        drop(queue);
        // The task ends once the queue is drained; a panic in it has already failed its writes.
        let _ = task.await;
        counters.read()
    }
}

impl Counters {
    fn read(&self) -> BatchStats {
        BatchStats {
            transactions: self.transactions.load(Ordering::Relaxed),
            samples_committed: self.samples_committed.load(Ordering::Relaxed),
            writes_committed: self.writes_committed.load(Ordering::Relaxed),
            failed_transactions: self.failed_transactions.load(Ordering::Relaxed),
        }
    }
}

async fn run_writer(
    store: Arc<dyn Store>,
    settings: BatchSettings,
    mut receiver: mpsc::Receiver<WriteJob>,
    counters: Arc<Counters>,
) {
    while let Some(first) = receiver.recv().await {
        let mut total = first.samples.len();
        let mut jobs = vec![first];
        let deadline = Instant::now() + settings.max_delay;
        while total < settings.max_samples {
            let next = match receiver.try_recv() {
                Ok(job) => Some(job),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
                Err(mpsc::error::TryRecvError::Empty) => {
                    tokio::time::timeout_at(deadline, receiver.recv()).await.ok().flatten()
                }
            };
            let Some(job) = next else { break };
            total += job.samples.len();
            jobs.push(job);
        }
        commit(&store, jobs, total, &counters).await;
    }
}

async fn commit(store: &Arc<dyn Store>, jobs: Vec<WriteJob>, total: usize, counters: &Counters) {
    let mut samples = Vec::with_capacity(total);
    let mut answers = Vec::with_capacity(jobs.len());
    for job in jobs {
        answers.push((job.samples.len(), job.done));
        samples.extend(job.samples);
    }
    let store = Arc::clone(store);
    let committed = tokio::task::spawn_blocking(move || {
        let result = store.append_samples(&samples);
        (result, samples)
    })
    .await;
    let outcome = match committed {
        Ok((result, samples)) => {
            // Freeing a batch (several allocations per sample) takes as long as a good part of
            // its commit; do it beside the next commit instead of before it.
            tokio::task::spawn_blocking(move || drop(samples));
            result.map_err(|store_error| WriteError(store_error.to_string()))
        }
        Err(join_error) => Err(WriteError(format!("the store write panicked: {join_error}"))),
    };
    match outcome {
        Ok(written) => {
            counters.transactions.fetch_add(1, Ordering::Relaxed);
            counters.samples_committed.fetch_add(written as u64, Ordering::Relaxed);
            counters.writes_committed.fetch_add(answers.len() as u64, Ordering::Relaxed);
            for (count, done) in answers {
                // A writer that gave up waiting needs no answer.
                let _ = done.send(Ok(count));
            }
        }
        Err(error) => {
            counters.failed_transactions.fetch_add(1, Ordering::Relaxed);
            for (_, done) in answers {
                let _ = done.send(Err(error.clone()));
            }
        }
    }
}
