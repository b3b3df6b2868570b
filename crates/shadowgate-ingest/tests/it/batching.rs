//! The batch writer groups concurrent writes into few transactions, answers each only after
//! its transaction committed, and fails every write of a transaction that did not.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use shadowgate_ingest::batcher::{BatchSettings, BatchWriter};
use shadowgate_store::{Sample, SeriesKey, Store};

use crate::support::TempStore;

fn samples(writer: u64, count: u64) -> Vec<Sample> {
    let series = SeriesKey {
        app: "a".into(),
        env_id: String::new(),
        metric: "m".into(),
        labels: BTreeMap::from([("writer".to_string(), writer.to_string())]),
    };
    (0..count)
        .map(|idx| Sample { series: series.clone(), ts_ms: idx as i64, value: idx as f64 })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_transactions_and_are_all_committed() {
    let temp = TempStore::new();
    let store: Arc<dyn Store> = temp.store.clone();
    let settings =
        BatchSettings { max_samples: 5_000, max_delay: Duration::from_millis(20), queue_depth: 64 };
    let writer = Arc::new(BatchWriter::start(store, settings));
    let tasks: Vec<_> = (0..40)
        .map(|writer_id| {
            let writer = Arc::clone(&writer);
            tokio::spawn(async move {
                for round in 0..10 {
                    let written = writer.write(samples(writer_id * 100 + round, 25)).await.unwrap();
                    assert_eq!(written, 25);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let stats = writer.stats();
    assert_eq!(
        (stats.writes_committed, stats.samples_committed, stats.failed_transactions),
        (400, 10_000, 0)
    );
    assert!(
        stats.transactions < 200,
        "400 writes should share transactions, took {}",
        stats.transactions
    );
    assert_eq!(temp.samples("m").len(), 10_000);
    let writer = Arc::into_inner(writer).unwrap();
    assert_eq!(writer.close().await.transactions, stats.transactions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_transaction_fails_all_of_its_writes_and_stores_none() {
    let temp = TempStore::new();
    let store: Arc<dyn Store> = temp.store.clone();
    // A long delay gathers both writes into one transaction.
    let settings =
        BatchSettings { max_samples: 1_000, max_delay: Duration::from_millis(300), queue_depth: 8 };
    let writer = Arc::new(BatchWriter::start(store, settings));
    let good = samples(1, 10);
    let mut bad = samples(2, 10);
    bad[5].value = f64::NAN; // SQLite stores NaN as NULL, which the samples table refuses.
    let (first, second) = tokio::join!(writer.write(good), writer.write(bad));
    let error = first.unwrap_err();
    assert!(error.to_string().contains("samples were not stored"), "{error}");
    assert_eq!(second.unwrap_err(), error);
    assert!(temp.samples("m").is_empty(), "nothing of the failed transaction is stored");
    assert_eq!(writer.stats().failed_transactions, 1);
    assert_eq!(writer.write(samples(3, 4)).await.unwrap(), 4, "the writer carries on");
}
