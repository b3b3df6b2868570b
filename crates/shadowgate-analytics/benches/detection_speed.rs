//! Detection throughput (rows per second) of the streaming detector, next to our rendering of
//! NAB's windowed Gaussian baseline on the same one million rows.
//!
//! Run: `cargo bench -p shadowgate-analytics --bench detection_speed`

use std::time::Instant;

use shadowgate_analytics::anomaly::baselines::WindowedGaussianDetector;
use shadowgate_analytics::anomaly::{DetectorConfig, SeasonalCusumDetector, StreamingDetector};
use shadowgate_core::rng::Rng;

const ROWS: usize = 1_000_000;

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
}
