//! Parsing rate of a realistic 10,000-series exposition, beside the Prometheus Python client's
//! own parser on the same text.
//!
//! Run: `cargo bench -p shadowgate-ingest --bench exposition_parse`
//!
//! The exposition mixes what real exporters publish: HELP and TYPE lines, counters with three
//! labels, histograms with ten buckets, summaries, gauges, escaped label values and a few
//! timestamps. The reference needs `prometheus-client` under `target/tools/python`
//! (`cargo xtask deps`); without it only our figures are printed.

use std::{
    fmt::Write as _,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use shadowgate_ingest::{
    anonymize::HashKey,
    config::IngestConfig,
    exposition::parse,
    processor::{Processor, RawSample},
};

/// Builds an exposition with exactly `series` sample lines.
fn exposition(series: usize) -> String {
    let mut text = String::new();
    let mut lines = 0;
    let mut family = 0;
    let methods = ["GET", "POST", "PUT", "DELETE"];
    let codes = ["200", "201", "404", "500"];
    while lines < series {
        match family % 4 {
            0 => {
                let _ = writeln!(
                    text,
                    "# HELP http_requests_{family}_total Requests handled by route group {family}."
                );
                let _ = writeln!(text, "# TYPE http_requests_{family}_total counter");
                for idx in 0..32 {
                    let _ = writeln!(
                        text,
                        "http_requests_{family}_total{{method=\"{}\",code=\"{}\",handler=\"/api/v1/items/{idx}\"}} {}",
                        methods[idx % 4],
                        codes[(idx / 4) % 4],
                        1_000_000 + idx * 37
                    );
                }
                lines += 32;
            }
            1 => {
                let _ = writeln!(text, "# HELP request_duration_{family}_seconds Request latency.");
                let _ = writeln!(text, "# TYPE request_duration_{family}_seconds histogram");
                for route in 0..2 {
                    let mut cumulative = 0;
                    for le in
                        ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]
                    {
                        cumulative += 17 + route;
                        let _ = writeln!(
                            text,
                            "request_duration_{family}_seconds_bucket{{route=\"r{route}\",le=\"{le}\"}} {cumulative}"
                        );
                    }
                    let _ = writeln!(
                        text,
                        "request_duration_{family}_seconds_sum{{route=\"r{route}\"}} 12.375"
                    );
                    let _ = writeln!(
                        text,
                        "request_duration_{family}_seconds_count{{route=\"r{route}\"}} {cumulative}"
                    );
                }
                lines += 24;
            }
            2 => {
                let _ = writeln!(text, "# TYPE rpc_duration_{family}_seconds summary");
                for (q, value) in [("0.5", "0.012"), ("0.9", "0.05"), ("0.99", "0.2")] {
                    let _ =
                        writeln!(text, "rpc_duration_{family}_seconds{{quantile=\"{q}\"}} {value}");
                }
                let _ = writeln!(text, "rpc_duration_{family}_seconds_sum 1.7560473e+07");
                let _ = writeln!(text, "rpc_duration_{family}_seconds_count 2693 1700000000000");
                lines += 5;
            }
            _ => {
                let _ =
                    writeln!(text, "# HELP process_state_{family} A gauge with escaped labels.");
                let _ = writeln!(text, "# TYPE process_state_{family} gauge");
                for idx in 0..8 {
                    let _ = writeln!(
                        text,
                        "process_state_{family}{{path=\"C:\\\\data\\\\{idx}\",note=\"say \\\"hi\\\"\"}} {}.5",
                        idx
                    );
                }
                lines += 8;
            }
        }
        family += 1;
    }
    text
}

/// Runs `work` repeatedly for about `budget` and returns the best per-run time.
fn best_time(budget: Duration, mut work: impl FnMut()) -> Duration {
    let started = Instant::now();
    let mut best = Duration::MAX;
    while started.elapsed() < budget || best == Duration::MAX {
        let run = Instant::now();
        work();
        best = best.min(run.elapsed());
    }
    best
}

/// The Prometheus Python client's parser on the same text; best of several runs, in seconds.
fn python_reference(path: &Path) -> Option<f64> {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/python");
    if !tools.join("prometheus_client").exists() {
        return None;
    }
    let script = [
        "import sys, time",
        "from prometheus_client.parser import text_string_to_metric_families",
        "text = open(sys.argv[1]).read()",
        "best = 1e9",
        "for _ in range(5):",
        "    t = time.perf_counter()",
        "    n = sum(len(f.samples) for f in text_string_to_metric_families(text))",
        "    best = min(best, time.perf_counter() - t)",
        "print(n, best)",
    ]
    .join("\n");
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(path)
        .env("PYTHONPATH", &tools)
        .output()
        .ok()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut fields = stdout.split_whitespace();
    let samples: usize = fields.next()?.parse().ok()?;
    let seconds: f64 = fields.next()?.parse().ok()?;
    println!("  reference parsed {samples} samples");
    Some(seconds)
}

fn main() {
    let text = exposition(10_000);
    let samples = parse(&text).expect("the generated exposition is valid").len();
    println!("exposition: {samples} samples, {} bytes", text.len());

    let parse_time = best_time(Duration::from_secs(3), || {
        std::hint::black_box(parse(std::hint::black_box(&text)).map(|s| s.len()).unwrap_or(0));
    });
    let parse_rate = samples as f64 / parse_time.as_secs_f64();
    println!(
        "shadowgate parse:             {:>8.2} ms  {:>12.0} samples/s",
        parse_time.as_secs_f64() * 1e3,
        parse_rate
    );

    // Parse, then the processor with the default privacy rules and rollups: the CPU side of a scrape.
    let key = HashKey::new(*b"benchmark-key-0123456789abcdef").expect("a long enough key");
    let config = IngestConfig::default();
    // One processor across runs, as in a scrape loop: its maps are warm after the first scrape.
    let mut processor = Processor::new(&config, &key);
    let mut round = 0i64;
    let process_time = best_time(Duration::from_secs(3), || {
        let points: Vec<RawSample> = parse(&text)
            .unwrap_or_default()
            .into_iter()
            .map(|s| RawSample {
                metric: s.name.to_string(),
                labels: s
                    .labels
                    .into_iter()
                    .map(|(n, v)| (n.to_string(), v.into_owned()))
                    .collect(),
                ts_ms: s.timestamp_ms.unwrap_or(round * 15_000),
                value: s.value,
            })
            .collect();
        let mut out = Vec::with_capacity(points.len());
        processor.process("bench", points, round * 15_000, &mut out);
        std::hint::black_box(out.len());
        round += 1;
    });
    let process_rate = samples as f64 / process_time.as_secs_f64();
    println!(
        "shadowgate parse + process:   {:>8.2} ms  {:>12.0} samples/s",
        process_time.as_secs_f64() * 1e3,
        process_rate
    );

    let dir =
        std::env::temp_dir().join(format!("shadowgate-exposition-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("exposition.txt");
    if std::fs::write(&path, &text).is_ok() {
        match python_reference(&path) {
            Some(seconds) => {
                println!(
                    "prometheus_client (Python):  {:>8.2} ms  {:>12.0} samples/s",
                    seconds * 1e3,
                    samples as f64 / seconds
                );
                println!(
                    "ratio shadowgate / prometheus_client parse: {:.1}x",
                    parse_rate / (samples as f64 / seconds)
                );
            }
            None => println!(
                "reference skipped: prometheus-client is not installed under target/tools/python"
            ),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
