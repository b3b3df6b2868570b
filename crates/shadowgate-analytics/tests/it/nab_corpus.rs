//! NAB's windows rebuilt from its labels, and the detector scored on the corpus.

use std::collections::BTreeMap;

use shadowgate_analytics::anomaly::baselines::{NullDetector, RandomDetector};
use shadowgate_analytics::anomaly::{DEFAULT_ALARM_SCORE, DetectorKind};
use shadowgate_analytics::nab::corpus;
use shadowgate_analytics::nab::evaluation;

use crate::nab_files;

#[test]
fn windows_built_from_the_labels_match_nab_s_published_windows() {
    let nab_dir = nab_files::nab_dir();
    let labels_text = std::fs::read_to_string(nab_dir.join("labels/combined_labels.json"))
        .expect("combined_labels.json is readable");
    let windows_text = std::fs::read_to_string(nab_dir.join("labels/combined_windows.json"))
        .expect("combined_windows.json is readable");
    let labels = corpus::parse_labels_json(&labels_text).expect("valid labels");
    let published = corpus::parse_windows_json(&windows_text).expect("valid windows");
    let files: BTreeMap<String, String> =
        nab_files::read_data_files(&nab_dir).into_iter().collect();
    let mut compared_windows = 0;
    for (name, label_timestamps) in &labels {
        let rows = corpus::parse_data_csv(&files[name]).expect("valid data file");
        let timestamps: Vec<i64> = rows.iter().map(|(t, _)| *t).collect();
        let label_rows: Vec<usize> = label_timestamps
            .iter()
            .map(|label| {
                timestamps.iter().position(|t| t == label).expect("a label is a row's timestamp")
            })
            .collect();
        let built = corpus::windows_from_labels(timestamps.len(), &label_rows);
        let expected =
            corpus::windows_to_indices(name, &timestamps, &published[name]).expect("windows fit");
        assert_eq!(built, expected, "{name}");
        compared_windows += expected.len();
    }
    assert_eq!(compared_windows, 25, "the subset has 25 windows from 26 labels");
}

#[test]
fn the_detectors_beat_the_null_and_random_detectors_on_the_corpus() {
    let corpus = nab_files::read_corpus(&nab_files::nab_dir());
    let random = evaluation::run_detector(&corpus, |_| RandomDetector::new(1));
    let random = evaluation::evaluate(&corpus, &random, DEFAULT_ALARM_SCORE);
    let null = evaluation::run_detector(&corpus, |_| NullDetector);
    let null = evaluation::evaluate(&corpus, &null, DEFAULT_ALARM_SCORE);
    let seasonal = evaluation::run_detector_kind(&corpus, DetectorKind::Seasonal).expect("valid");
    let seasonal = evaluation::evaluate(&corpus, &seasonal, DetectorKind::Seasonal.alarm_score());
    let combined = evaluation::run_detector_kind(&corpus, DetectorKind::Combined).expect("valid");
    let combined = evaluation::evaluate(&corpus, &combined, DetectorKind::Combined.alarm_score());
    for idx in 0..3 {
        assert!(null.profiles[idx].fixed_normalized.abs() < 1e-9, "null is the zero of the scale");
        for ours in [&seasonal, &combined] {
            let profile = &ours.profiles[idx];
            assert!(
                profile.optimized_normalized > random.profiles[idx].optimized_normalized,
                "{}: ours {} vs random {}",
                profile.profile,
                profile.optimized_normalized,
                random.profiles[idx].optimized_normalized
            );
            assert!(profile.fixed_normalized > 0.0);
            assert!(profile.optimized_normalized >= profile.fixed_normalized - 1e-9);
            assert!(profile.optimized_normalized >= profile.leave_one_out_normalized - 1e-9);
        }
        // Each part finds windows the other misses: together they score better at their
        // fixed thresholds than the seasonal detector does alone.
        assert!(
            combined.profiles[idx].fixed_normalized > seasonal.profiles[idx].fixed_normalized,
            "{}: combined {} vs seasonal {}",
            combined.profiles[idx].profile,
            combined.profiles[idx].fixed_normalized,
            seasonal.profiles[idx].fixed_normalized
        );
    }
    assert!(seasonal.windows.windows_detected >= 8, "{:?}", seasonal.windows);
    assert!(
        combined.windows.windows_detected > seasonal.windows.windows_detected,
        "{:?}",
        combined.windows
    );
    if std::env::var_os("SHADOWGATE_NAB_DIR").is_none() {
        // On the vendored subset the scoreboard's leaders, at their published thresholds,
        // score 65.2 (ARTime) and 66.5 (Numenta HTM) on the standard profile (see the
        // `nab_evaluation` bench); the default detector at its fixed threshold stays above both.
        let standard = combined.profiles[0].fixed_normalized;
        assert!(standard > 66.5, "combined standard score {standard}");
    }
}
