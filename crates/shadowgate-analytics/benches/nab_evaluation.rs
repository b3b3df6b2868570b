//! NAB evaluation of the streaming detectors (combined, and each part alone) against NAB's null
//! and random detectors and a windowed Gaussian, on a NAB-layout corpus (`$SHADOWGATE_NAB_DIR`,
//! default the vendored subset).
//!
//! For the vendored subset it also prints what the scoreboard's leaders score on these same 18
//! files: their per-file raw scores at their published (full-corpus) thresholds, from NAB's
//! `results/<detector>/<detector>_{profile}_scores.csv` at commit ea702d75cc22, summed over the
//! subset and normalised as NAB does (null −25, perfect +25 for the standard profile).
//!
//! Run: `cargo bench -p shadowgate-analytics --bench nab_evaluation`

#[path = "../tests/support/nab_files.rs"]
mod nab_files;

use std::time::Instant;

use shadowgate_analytics::anomaly::baselines::{
    NullDetector, RandomDetector, WindowedGaussianDetector,
};
use shadowgate_analytics::anomaly::{DEFAULT_ALARM_SCORE, DetectorKind};
use shadowgate_analytics::nab::evaluation::{self, NabEvaluation};
use shadowgate_analytics::nab::scoring::{self, CostProfile};

/// The threshold for the baselines: the seasonal detector's default (not swept).
const FIXED_THRESHOLD: f64 = DEFAULT_ALARM_SCORE;
const RANDOM_SEEDS: [u64; 5] = [1, 2, 3, 4, 5];

/// The leaders' raw scores on the 18 subset files (standard, low FP, low FN), at their
/// published thresholds (NAB's per-file results), and their published full-corpus standard
/// score. CAD OSE's low-FP and low-FN files were not read.
const PUBLISHED_ON_SUBSET: [(&str, f64, [Option<f64>; 3]); 3] = [
    ("ARTime", 74.9, [Some(7.606), Some(1.873), Some(3.606)]),
    ("Numenta HTM", 70.5, [Some(8.231), Some(4.064), Some(4.121)]),
    ("CAD OSE", 69.9, [Some(0.296), None, None]),
];

fn main() {
    let nab_dir = nab_files::nab_dir();
    let corpus = nab_files::read_corpus(&nab_dir);
    let rows: usize = corpus.iter().map(|file| file.values.len()).sum();
    let windows: usize = corpus.iter().map(|file| file.windows.len()).sum();
    println!(
        "corpus: {} ({} files, {rows} rows, {windows} windows)",
        nab_dir.display(),
        corpus.len()
    );
    println!(
        "fixed threshold: each detector's own alarm score, not swept ({FIXED_THRESHOLD} for the baselines); leave-1-out: each file at the threshold best on the others; optimised: NAB's corpus-wide sweep\n"
    );

    for (name, kind) in [
        ("combined (ours, the default)", DetectorKind::Combined),
        ("seasonal+cusum (ours, alone)", DetectorKind::Seasonal),
        ("contextual (ours, alone)", DetectorKind::Context),
    ] {
        let started = Instant::now();
        let scores = evaluation::run_detector_kind(&corpus, kind).expect("valid default config");
        let elapsed = started.elapsed().as_secs_f64();
        report(name, &evaluation::evaluate(&corpus, &scores, kind.alarm_score()));
        println!(
            "  throughput: {:.0} rows/s ({rows} rows in {elapsed:.3} s)\n",
            rows as f64 / elapsed
        );
    }
    if std::env::var_os("SHADOWGATE_NAB_DIR").is_none() {
        println!("published detectors on this subset (their published thresholds):");
        let profiles = CostProfile::all();
        for (name, full, raw) in PUBLISHED_ON_SUBSET {
            let normalised: Vec<String> = profiles
                .iter()
                .zip(raw)
                .map(|(profile, raw)| match raw {
                    Some(raw) => format!(
                        "{} {:6.1}",
                        short_name(profile),
                        scoring::normalized_score(&corpus, profile, raw)
                    ),
                    None => format!("{}      -", short_name(profile)),
                })
                .collect();
            println!(
                "  {name:<12} {}  ({full} standard on the full corpus)",
                normalised.join("  ")
            );
        }
        println!();
    }

    let gaussian = evaluation::run_detector(&corpus, |_| WindowedGaussianDetector::new(6_400));
    report("windowed gaussian", &evaluation::evaluate(&corpus, &gaussian, FIXED_THRESHOLD));
    println!();

    let mut random_fixed = [0.0; 3];
    let mut random_optimized = [0.0; 3];
    for seed in RANDOM_SEEDS {
        let scores = evaluation::run_detector(&corpus, |_| RandomDetector::new(seed));
        let result = evaluation::evaluate(&corpus, &scores, FIXED_THRESHOLD);
        for (idx, profile) in result.profiles.iter().enumerate() {
            random_fixed[idx] += profile.fixed_normalized / RANDOM_SEEDS.len() as f64;
            random_optimized[idx] += profile.optimized_normalized / RANDOM_SEEDS.len() as f64;
        }
    }
    println!(
        "random (mean of {} seeds)\n  fixed     standard {:6.1}  low_FP {:6.1}  low_FN {:6.1}\n  optimised standard {:6.1}  low_FP {:6.1}  low_FN {:6.1}\n",
        RANDOM_SEEDS.len(),
        random_fixed[0],
        random_fixed[1],
        random_fixed[2],
        random_optimized[0],
        random_optimized[1],
        random_optimized[2]
    );

    let null = evaluation::run_detector(&corpus, |_| NullDetector);
    report("null", &evaluation::evaluate(&corpus, &null, FIXED_THRESHOLD));
}

fn report(name: &str, result: &NabEvaluation) {
    println!("{name}");
    let line = |label: &str, values: [f64; 3], thresholds: Option<[f64; 3]>| {
        let thresholds = thresholds
            .map(|t| format!("  (thresholds {:.4} / {:.4} / {:.4})", t[0], t[1], t[2]))
            .unwrap_or_default();
        println!(
            "  {label:<12} standard {:6.1}  low_FP {:6.1}  low_FN {:6.1}{thresholds}",
            values[0], values[1], values[2]
        );
    };
    let profiles = &result.profiles;
    line(
        &format!("fixed {}", result.fixed_threshold),
        [0, 1, 2].map(|idx| profiles[idx].fixed_normalized),
        None,
    );
    line("leave-1-out", [0, 1, 2].map(|idx| profiles[idx].leave_one_out_normalized), None);
    line(
        "optimised",
        [0, 1, 2].map(|idx| profiles[idx].optimized_normalized),
        Some([0, 1, 2].map(|idx| profiles[idx].optimized.threshold)),
    );
    let windows = &result.windows;
    println!(
        "  at the fixed threshold: {}/{} windows detected, {} alarms ({} inside windows), mean delay {:.1} rows",
        windows.windows_detected,
        windows.windows,
        windows.alarms,
        windows.alarms_in_windows,
        windows.mean_detection_delay_rows
    );
}

fn short_name(profile: &CostProfile) -> &'static str {
    match profile.name {
        "standard" => "standard",
        "reward_low_FP_rate" => "low_FP",
        _ => "low_FN",
    }
}
