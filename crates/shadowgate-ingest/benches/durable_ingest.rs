//! Durable ingest rate into a SQLite store file, through the batch writer and the whole
//! pipeline, beside the store's own `append_samples` and a bare rusqlite insert loop.
//!
//! Run: `cargo bench -p shadowgate-ingest --bench durable_ingest`
//!
//! Every figure counts samples committed with `synchronous=FULL` in WAL mode, in a fresh file
//! in the system's temporary directory. The workload is 10,000 series (three labels each) with
//! 60 points each: 600,000 samples, written in chunks of 5,000 as a scrape or an OTLP request
//! would deliver them.
//!
//! - `bare rusqlite`: one prepared INSERT per sample into the store's schema, series ids known,
//!   transactions of 50,000, the store's pragmas: what SQLite itself allows on this disk (the
//!   ceiling).
//! - `append_samples`: the store's method, one call (one transaction) per chunk, sequential.
//! - `batcher`: eight concurrent writers through [`BatchWriter`], acknowledged after commit.
//! - `pipeline`: the whole path (privacy rules, hashing, rollups, batcher) from raw points.

use std::{
    collections::BTreeMap,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use shadowgate_ingest::{
    anonymize::HashKey,
    batcher::{BatchSettings, BatchWriter},
    config::IngestConfig,
    pipeline::Pipeline,
    processor::RawSample,
};
use shadowgate_store::{Sample, SeriesKey, SqliteStore, Store};

const SERIES: usize = 10_000;
const POINTS_PER_SERIES: usize = 60;
const CHUNK: usize = 5_000;
const WRITERS: usize = 8;

fn key(idx: usize) -> SeriesKey {
    SeriesKey {
        app: "bench".into(),
        env_id: String::new(),
        metric: format!("metric_{}", idx % 100),
        labels: BTreeMap::from([
            ("method".to_string(), ["GET", "POST"][idx % 2].to_string()),
            ("route".to_string(), format!("/r/{}", idx / 100)),
            ("code".to_string(), "200".to_string()),
        ]),
    }
}

/// Chunks as they arrive: each holds one point of 5,000 series.
fn chunks() -> Vec<Vec<Sample>> {
    let keys: Vec<SeriesKey> = (0..SERIES).map(key).collect();
    let mut chunks = Vec::new();
    for round in 0..POINTS_PER_SERIES {
        for part in keys.chunks(CHUNK) {
            chunks.push(
                part.iter()
                    .map(|series| Sample {
                        series: series.clone(),
                        ts_ms: round as i64 * 15_000,
                        value: round as f64,
                    })
                    .collect(),
            );
        }
    }
    chunks
}

fn total(chunks: &[Vec<Sample>]) -> usize {
    chunks.iter().map(Vec::len).sum()
}

fn fresh_store(dir: &Path, name: &str) -> Arc<SqliteStore> {
    let path = dir.join(name);
    Arc::new(SqliteStore::open(&path).expect("a store in the temporary directory"))
}

fn report(label: &str, samples: usize, elapsed: Duration, ceiling: Option<f64>) -> f64 {
    let rate = samples as f64 / elapsed.as_secs_f64();
    let ratio = ceiling.map(|c| format!("  {:.2}x of bare rusqlite", rate / c)).unwrap_or_default();
    println!(
        "{label:<28} {samples:>8} samples in {:>7.3} s = {rate:>10.0} samples/s{ratio}",
        elapsed.as_secs_f64()
    );
    rate
}

fn bare_rusqlite(dir: &Path) -> f64 {
    // The store creates the schema; then a plain connection writes into it.
    let store = fresh_store(dir, "bare.db");
    store
        .append_samples(
            &(0..SERIES)
                .map(|idx| Sample { series: key(idx), ts_ms: -1, value: 0.0 })
                .collect::<Vec<_>>(),
        )
        .unwrap();
    drop(store);
    let mut connection = rusqlite::Connection::open(dir.join("bare.db")).unwrap();
    connection.pragma_update(None, "journal_mode", "WAL").unwrap();
    connection.pragma_update(None, "synchronous", "FULL").unwrap();
    connection.pragma_update(None, "cache_size", -65_536).unwrap();
    let ids: Vec<i64> = connection
        .prepare("SELECT id FROM series ORDER BY id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let samples = SERIES * POINTS_PER_SERIES;
    let started = Instant::now();
    let mut written = 0;
    while written < samples {
        let tx = connection.transaction().unwrap();
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO samples (series_id, ts_ms, value) VALUES (?1, ?2, ?3)")
                .unwrap();
            for idx in written..(written + 50_000).min(samples) {
                insert
                    .execute(rusqlite::params![
                        ids[idx % SERIES],
                        (idx / SERIES) as i64 * 15_000,
                        idx as f64
                    ])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
        written = (written + 50_000).min(samples);
    }
    report("bare rusqlite (ceiling)", samples, started.elapsed(), None)
}

fn append_samples(dir: &Path, ceiling: f64) {
    let store = fresh_store(dir, "append.db");
    let chunks = chunks();
    let samples = total(&chunks);
    let started = Instant::now();
    for chunk in &chunks {
        store.append_samples(chunk).unwrap();
    }
    report("store append_samples", samples, started.elapsed(), Some(ceiling));
}

fn batcher(runtime: &tokio::runtime::Runtime, dir: &Path, ceiling: f64) -> f64 {
    let store: Arc<dyn Store> = fresh_store(dir, "batcher.db");
    let chunks = chunks();
    let samples = total(&chunks);
    runtime.block_on(async {
        let writer = Arc::new(BatchWriter::start(store, BatchSettings::default()));
        let mut queues: Vec<Vec<Vec<Sample>>> = (0..WRITERS).map(|_| Vec::new()).collect();
        for (idx, chunk) in chunks.into_iter().enumerate() {
            queues[idx % WRITERS].push(chunk);
        }
        let started = Instant::now();
        let tasks: Vec<_> = queues
            .into_iter()
            .map(|queue| {
                let writer = Arc::clone(&writer);
                tokio::spawn(async move {
                    for chunk in queue {
                        writer.write(chunk).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let rate = report(
            &format!("batcher ({WRITERS} writers)"),
            samples,
            started.elapsed(),
            Some(ceiling),
        );
        println!("  transactions: {}", writer.stats().transactions);
        rate
    })
}

fn pipeline(runtime: &tokio::runtime::Runtime, dir: &Path, ceiling: f64) {
    let store: Arc<dyn Store> = fresh_store(dir, "pipeline.db");
    let key = HashKey::new(*b"benchmark-key-0123456789abcdef").unwrap();
    let raw: Vec<Vec<RawSample>> = chunks()
        .into_iter()
        .map(|chunk| {
            chunk
                .into_iter()
                .map(|s| RawSample {
                    metric: s.series.metric,
                    labels: s.series.labels.into_iter().collect(),
                    ts_ms: s.ts_ms,
                    value: s.value,
                })
                .collect()
        })
        .collect();
    let points: usize = raw.iter().map(Vec::len).sum();
    runtime.block_on(async {
        let pipeline = Arc::new(Pipeline::start(&IngestConfig::default(), &key, store));
        let mut queues: Vec<Vec<Vec<RawSample>>> = (0..WRITERS).map(|_| Vec::new()).collect();
        for (idx, chunk) in raw.into_iter().enumerate() {
            queues[idx % WRITERS].push(chunk);
        }
        let started = Instant::now();
        let tasks: Vec<_> = queues
            .into_iter()
            .map(|queue| {
                let pipeline = Arc::clone(&pipeline);
                tokio::spawn(async move {
                    for chunk in queue {
                        pipeline.ingest("bench", chunk).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        pipeline.finish().await.unwrap();
        let elapsed = started.elapsed();
        let stats = pipeline.stats();
        report("pipeline (points in)", points, elapsed, Some(ceiling));
        println!(
            "  samples committed incl. rollups: {} ({} rollup points), transactions: {}",
            stats.batches.samples_committed,
            stats.processor.rollup_points,
            stats.batches.transactions
        );
    });
}

fn main() {
    let dir = std::env::temp_dir().join(format!("shadowgate-ingest-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!(
        "{SERIES} series x {POINTS_PER_SERIES} points, chunks of {CHUNK}, store in {}",
        dir.display()
    );
    let ceiling = bare_rusqlite(&dir);
    append_samples(&dir, ceiling);
    let rate = batcher(&runtime, &dir, ceiling);
    pipeline(&runtime, &dir, ceiling);
    println!(
        "goal: 300000 samples/s through the batcher: {}",
        if rate >= 300_000.0 { "met" } else { "not met" }
    );
    let _ = std::fs::remove_dir_all(&dir);
}
