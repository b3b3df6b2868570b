//! How long the renderings of a one-hour report take, side by side with serializing the same
//! document with serde_json (the floor any rendering of it has to pay).
//!
//! Run with `cargo bench -p shadowgate-report --bench render`. It prints the median of 30
//! runs per rendering and its ratio to the JSON serialization.

// The bench shares the tests' fixed report; it uses only part of that module.
#[allow(dead_code)]
#[path = "../tests/it/fixture.rs"]
mod fixture;

use shadowgate_report::{CheckReport, summary_text, to_html, to_json, to_junit};
use std::{hint::black_box, time::Instant};

const RUNS: usize = 30;

/// A rendering's name and the function that renders.
type Rendering = (&'static str, fn(&CheckReport) -> String);

fn compact_json(report: &CheckReport) -> String {
    serde_json::to_string(report).unwrap_or_default()
}

fn median_ms(render: fn(&CheckReport) -> String, report: &CheckReport) -> (f64, usize) {
    let mut size = 0;
    for _ in 0..3 {
        size = black_box(render(black_box(report))).len();
    }
    let mut times: Vec<f64> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            black_box(render(black_box(report)));
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[RUNS / 2], size)
}

fn main() {
    let report = fixture::long_report(3600);
    let points: usize = report.time_series.iter().map(|it| it.points.len()).sum();
    println!(
        "a one-hour report: {} series, {points} points, {} metrics",
        report.time_series.len(),
        report.verdict.metrics.len()
    );
    let renderings: [Rendering; 4] = [
        ("serde_json (reference)", compact_json),
        ("to_json", to_json),
        ("to_html", to_html),
        ("to_junit", to_junit),
    ];
    let (reference_ms, _) = median_ms(renderings[0].1, &report);
    println!("{:<24} {:>10} {:>10} {:>12}", "rendering", "median ms", "× serde", "output");
    for (name, render) in renderings {
        let (ms, size) = median_ms(render, &report);
        println!("{name:<24} {ms:>10.2} {:>10.2} {:>10} B", ms / reference_ms, size);
    }
    let (ms, size) = median_ms(summary_text, &report);
    println!("{:<24} {ms:>10.3} {:>10.2} {:>10} B", "summary_text", ms / reference_ms, size);
}
