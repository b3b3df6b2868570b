//! Detection throughput (rows per second) of the streaming detectors, next to our rendering of
//! NAB's windowed Gaussian baseline on the same one million rows.
//!
//! Run: `cargo bench -p shadowgate-analytics --bench detection_speed`

use std::time::Instant;

use shadowgate_analytics::anomaly::baselines::WindowedGaussianDetector;
use shadowgate_analytics::anomaly::combined::{CombinedConfig, CombinedDetector};
use shadowgate_analytics::anomaly::context::{ContextConfig, ContextDetector};
use shadowgate_analytics::anomaly::{DetectorConfig, SeasonalCusumDetector, StreamingDetector};
use shadowgate_core::rng::Rng;

const ROWS: usize = 1_000_000;
/// The contextual detector costs time in proportion to the contexts it has learnt (tens of
/// thousands on this series), so it is timed on the first fifth of the rows.
const CONTEXT_ROWS: usize = 200_000;

fn throughput(detector: &mut dyn StreamingDetector, rows: &[(i64, f64)]) -> (f64, f64) {
    let started = Instant::now();
    let mut checksum = 0.0;
    for (timestamp, value) in rows {
        checksum += std::hint::black_box(detector.observe(*timestamp, *value));
    }
    (rows.len() as f64 / started.elapsed().as_secs_f64(), checksum)
}

fn main() {
    let mut rng = Rng::seed(7);
    let rows: Vec<(i64, f64)> = (0..ROWS as i64)
        .map(|i| {
            let phase = std::f64::consts::TAU * (i % 1_440) as f64 / 1_440.0;
            (i * 60, 100.0 + 30.0 * phase.sin() + 3.0 * rng.normal())
        })
        .collect();
    let mut ours =
        SeasonalCusumDetector::new(DetectorConfig::default()).expect("valid default config");
    let (ours_rate, ours_sum) = throughput(&mut ours, &rows);
    let (gaussian_rate, gaussian_sum) =
        throughput(&mut WindowedGaussianDetector::new(6_400), &rows);
    println!("{ROWS} minutely rows with a daily cycle, release build");
    println!(
        "seasonal+cusum (ours): {ours_rate:>12.0} rows/s (period found: {} rows; score sum {ours_sum:.1})",
        ours.period()
    );
    println!("windowed gaussian:     {gaussian_rate:>12.0} rows/s (score sum {gaussian_sum:.1})");
    println!("ours / windowed gaussian: {:.2}", ours_rate / gaussian_rate);
    let mut context = ContextDetector::new(ContextConfig::for_warmup(600)).expect("valid");
    let (context_rate, context_sum) = throughput(&mut context, &rows[..CONTEXT_ROWS]);
    println!(
        "contextual (ours):     {context_rate:>12.0} rows/s (first {CONTEXT_ROWS} rows; {} contexts at the end; score sum {context_sum:.1})",
        context.contexts()
    );
    let mut combined = CombinedDetector::new(CombinedConfig::default()).expect("valid");
    let (combined_rate, combined_sum) = throughput(&mut combined, &rows[..CONTEXT_ROWS]);
    println!(
        "combined (the default):{combined_rate:>12.0} rows/s (first {CONTEXT_ROWS} rows; score sum {combined_sum:.1})"
    );
}
