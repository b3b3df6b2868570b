//! Importing files: both formats, a malformed line in the middle, and proof of streaming.

use std::{
    io::{BufReader, Read},
    sync::{Arc, Mutex},
};

use shadowgate_ingest::{
    config::IngestConfig,
    import::{ImportError, ImportFormat, ImportOptions, import_file, import_reader},
    pipeline::Pipeline,
};

use crate::support::{TempStore, raw_only};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_files_with_a_header_labels_and_every_timestamp_form_import() {
    let temp = TempStore::new();
    let path = temp.dir.path().join("export.csv");
    std::fs::write(
        &path,
        "timestamp,metric,value,labels\n\
         1700000000,cpu,0.5,host=a;core=0\n\
         \n\
         1700000060000,cpu,0.75,host=a;core=0\r\n\
         2023-11-14T22:15:20Z,cpu,1,\"host=b,c\"\n",
    )
    .unwrap();
    let report = import_file(
        &path,
        ImportOptions::new("shop", ImportFormat::Csv),
        temp.pipeline(&raw_only()),
    )
    .await
    .unwrap();
    assert!(report.header_skipped);
    assert_eq!((report.lines, report.points), (5, 3));
    let cpu = temp.samples("cpu");
    let hosts: Vec<&str> = cpu.iter().map(|s| s.series.labels["host"].as_str()).collect();
    assert!(
        hosts.iter().all(|host| host.starts_with("hmac-sha256:")),
        "host is an identifying label: {hosts:?}"
    );
    assert_eq!(
        hosts.iter().collect::<std::collections::BTreeSet<_>>().len(),
        2,
        "`a` and `b,c` hash apart"
    );
    assert!(cpu.iter().any(|s| s.value == 0.5 && s.series.labels["core"] == "0"));
    let times: Vec<i64> = cpu.iter().map(|s| s.ts_ms).collect();
    assert!(times.contains(&1_700_000_060_000) && times.contains(&1_700_000_120_000), "{times:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_field_csv_takes_the_metric_from_the_caller() {
    let temp = TempStore::new();
    let path = temp.dir.path().join("nab.csv");
    std::fs::write(&path, "timestamp,value\n2014-04-01 00:00:00,20.5\n2014-04-01 00:05:00,21\n")
        .unwrap();
    let mut options = ImportOptions::new("sensor", ImportFormat::Csv);
    options.default_metric = Some("temperature".into());
    let report = import_file(&path, options, temp.pipeline(&raw_only())).await.unwrap();
    assert_eq!(report.points, 2);
    let stored = temp.samples("temperature");
    assert_eq!(
        stored.iter().map(|s| (s.ts_ms, s.value)).collect::<Vec<_>>(),
        [(1_396_310_400_000, 20.5), (1_396_310_700_000, 21.0)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_imports_and_a_bad_line_stops_after_storing_everything_before_it() {
    let temp = TempStore::new();
    let path = temp.dir.path().join("points.jsonl");
    let mut text = String::new();
    for idx in 0..25 {
        text.push_str(&format!("{{\"ts\": {}, \"metric\": \"q\", \"value\": {idx}, \"labels\": {{\"queue\": \"a\"}}}}\n", 1_700_000_000 + idx));
    }
    text.push_str("{\"ts\": 1700000100, \"metric\": \"q\", \"value\": \"lots\"}\n");
    text.push_str("{\"ts\": 1700000101, \"metric\": \"q\", \"value\": 99}\n");
    std::fs::write(&path, text).unwrap();
    let mut options = ImportOptions::new("jobs", ImportFormat::JsonLines);
    options.chunk_points = 10;
    let error = import_file(&path, options, temp.pipeline(&raw_only())).await.unwrap_err();
    match &error {
        ImportError::Line { line, column, points_committed, message } => {
            assert_eq!((*line, *column, *points_committed), (26, 1, 25));
            assert!(message.contains("`value` must be a number"), "{message}");
        }
        other => panic!("wrong error: {other}"),
    }
    assert!(error.to_string().starts_with("line 26, column 1: "), "{error}");
    let stored = temp.samples("q");
    assert_eq!(stored.len(), 25, "every line before the bad one, none after it");
    assert!(stored.iter().all(|s| s.value < 25.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_file_is_named() {
    let temp = TempStore::new();
    let missing = temp.dir.path().join("nope.csv");
    let error = import_file(
        &missing,
        ImportOptions::new("a", ImportFormat::Csv),
        temp.pipeline(&raw_only()),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("nope.csv"), "{error}");
    assert_eq!(
        ImportFormat::from_path(std::path::Path::new("x.NDJSON")),
        Some(ImportFormat::JsonLines)
    );
    assert_eq!(ImportFormat::from_path(std::path::Path::new("x.txt")), None);
}

/// Generates CSV lines on demand and checks, as it is read, that the importer never runs far
/// ahead of what has been committed: proof that a file is streamed, not loaded.
struct GeneratedCsv {
    next_line: u64,
    total_lines: u64,
    pending: Vec<u8>,
    pipeline: Arc<Mutex<Option<Arc<Pipeline>>>>,
    max_ahead: u64,
    worst_ahead: Arc<Mutex<u64>>,
}

impl Read for GeneratedCsv {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.is_empty() {
            if self.next_line == self.total_lines {
                return Ok(0);
            }
            let acknowledged =
                self.pipeline.lock().unwrap().as_ref().map_or(0, |p| p.stats().points_acknowledged);
            let ahead = self.next_line - acknowledged;
            let mut worst = self.worst_ahead.lock().unwrap();
            *worst = (*worst).max(ahead);
            assert!(
                ahead <= self.max_ahead,
                "the importer read {ahead} lines beyond what was committed"
            );
            for _ in 0..1000 {
                if self.next_line == self.total_lines {
                    break;
                }
                let line =
                    format!("{},load,{}\n", 1_600_000_000 + self.next_line, self.next_line % 97);
                self.pending.extend_from_slice(line.as_bytes());
                self.next_line += 1;
            }
        }
        let n = out.len().min(self.pending.len());
        out[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_inputs_are_streamed_with_bounded_read_ahead() {
    let temp = TempStore::new();
    let pipeline = temp.pipeline(&IngestConfig { rollups: false, ..IngestConfig::default() });
    let mut options = ImportOptions::new("big", ImportFormat::Csv);
    options.chunk_points = 5_000;
    options.max_in_flight = 2;
    let total_lines = 300_000;
    // Two chunks committing, one waiting for a commit slot, two queued, one blocked in the
    // reader's send, one being filled, plus a generated block and the reader's buffer: all
    // bounded by the options, not by the file.
    let max_ahead = 5_000 * 8 + 2_000;
    let worst_ahead = Arc::new(Mutex::new(0));
    let shared_pipeline = Arc::new(Mutex::new(Some(Arc::clone(&pipeline))));
    let reader = GeneratedCsv {
        next_line: 0,
        total_lines,
        pending: Vec::new(),
        pipeline: Arc::clone(&shared_pipeline),
        max_ahead,
        worst_ahead: Arc::clone(&worst_ahead),
    };
    let report = import_reader(BufReader::new(reader), options, pipeline).await.unwrap();
    assert_eq!(report.points, total_lines);
    assert_eq!(temp.samples("load").len() as u64, total_lines);
    let worst = *worst_ahead.lock().unwrap();
    assert!(worst <= max_ahead && worst > 0, "worst read-ahead {worst}");
    shared_pipeline.lock().unwrap().take();
}
