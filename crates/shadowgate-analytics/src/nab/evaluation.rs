//! Running a detector over a NAB-layout corpus and reporting NAB's scores honestly.
//!
//! NAB's published numbers use a threshold optimised per profile on the whole corpus, which is
//! tuning on the test data. The report therefore carries both: the score at a threshold fixed
//! before looking at the corpus, and the score at NAB's optimised threshold for comparison with
//! the scoreboard, and a leave-one-file-out score between the two: each file is scored at the
//! threshold that is best on all the *other* files, so no file is scored with a threshold
//! tuned on itself. Window-level recall, alarm precision and detection delay are reported too,
//! because NAB's single number hides how a detector wins or loses.

use super::corpus::{LabelledSeries, probationary_length};
use super::scoring::{self, CostProfile, ThresholdScore};
use crate::anomaly::{DetectorConfigError, DetectorKind, StreamingDetector};

/// Runs a fresh detector over each file, in row order, and collects the scores.
pub fn run_detector<D: StreamingDetector>(
    corpus: &[LabelledSeries],
    mut make_detector: impl FnMut(&LabelledSeries) -> D,
) -> Vec<Vec<f64>> {
    corpus
        .iter()
        .map(|file| {
            let mut detector = make_detector(file);
            file.timestamps
                .iter()
                .zip(&file.values)
                .map(|(timestamp, value)| detector.observe(*timestamp, *value).clamp(0.0, 1.0))
                .collect()
        })
        .collect()
}

/// Runs a detector of `kind` over each file as NAB's protocol has it: the file's probationary
/// rows (15 %, at most 750) are the detector's warm-up.
pub fn run_detector_kind(
    corpus: &[LabelledSeries],
    kind: DetectorKind,
) -> Result<Vec<Vec<f64>>, DetectorConfigError> {
    let mut detectors = corpus
        .iter()
        .map(|file| kind.build((probationary_length(file.values.len()) as usize).max(8)))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter();
    Ok(run_detector(corpus, |_| detectors.next().expect("one detector per file")))
}

/// NAB's score for one profile at the fixed and at the optimised threshold.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ProfileEvaluation {
    pub profile: &'static str,
    pub fixed: ThresholdScore,
    pub fixed_normalized: f64,
    pub optimized: ThresholdScore,
    pub optimized_normalized: f64,
    /// Each file scored at the threshold optimised on the other files (summed raw score).
    pub leave_one_out_score: f64,
    pub leave_one_out_normalized: f64,
}

/// Detection quality at the fixed threshold, outside NAB's weighting. An alarm is a row at or
/// above the threshold whose previous row was below it; probationary rows are ignored.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct WindowMetrics {
    pub windows: usize,
    pub windows_detected: usize,
    pub alarms: usize,
    pub alarms_in_windows: usize,
    /// Mean rows from a window's first row to its first detection, over detected windows.
    pub mean_detection_delay_rows: f64,
}

/// Everything [`evaluate`] measures.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct NabEvaluation {
    pub fixed_threshold: f64,
    pub profiles: Vec<ProfileEvaluation>,
    pub windows: WindowMetrics,
}

/// Scores a detector's output on `corpus` under NAB's three profiles.
pub fn evaluate(
    corpus: &[LabelledSeries],
    anomaly_scores: &[Vec<f64>],
    fixed_threshold: f64,
) -> NabEvaluation {
    let profiles = CostProfile::all()
        .iter()
        .map(|profile| {
            let fixed = scoring::score_corpus(corpus, anomaly_scores, profile, fixed_threshold);
            let optimized = scoring::optimize_threshold(corpus, anomaly_scores, profile);
            let leave_one_out_score = leave_one_file_out(corpus, anomaly_scores, profile);
            ProfileEvaluation {
                leave_one_out_score,
                leave_one_out_normalized: scoring::normalized_score(
                    corpus,
                    profile,
                    leave_one_out_score,
                ),
                profile: profile.name,
                fixed_normalized: scoring::normalized_score(corpus, profile, fixed.score),
                fixed,
                optimized_normalized: scoring::normalized_score(corpus, profile, optimized.score),
                optimized,
            }
        })
        .collect();
    NabEvaluation {
        fixed_threshold,
        profiles,
        windows: window_metrics(corpus, anomaly_scores, fixed_threshold),
    }
}

/// The corpus score when each file is scored at the threshold optimised on all the others.
pub fn leave_one_file_out(
    corpus: &[LabelledSeries],
    anomaly_scores: &[Vec<f64>],
    profile: &CostProfile,
) -> f64 {
    if corpus.len() < 2 {
        return scoring::optimize_threshold(corpus, anomaly_scores, profile).score;
    }
    (0..corpus.len())
        .map(|held_out| {
            let others: Vec<LabelledSeries> = corpus
                .iter()
                .enumerate()
                .filter(|(idx, _)| *idx != held_out)
                .map(|(_, file)| file.clone())
                .collect();
            let other_scores: Vec<Vec<f64>> = anomaly_scores
                .iter()
                .enumerate()
                .filter(|(idx, _)| *idx != held_out)
                .map(|(_, scores)| scores.clone())
                .collect();
            let threshold = scoring::optimize_threshold(&others, &other_scores, profile).threshold;
            scoring::score_corpus(
                std::slice::from_ref(&corpus[held_out]),
                std::slice::from_ref(&anomaly_scores[held_out]),
                profile,
                threshold,
            )
            .score
        })
        .sum()
}

fn window_metrics(
    corpus: &[LabelledSeries],
    anomaly_scores: &[Vec<f64>],
    threshold: f64,
) -> WindowMetrics {
    let mut metrics = WindowMetrics {
        windows: 0,
        windows_detected: 0,
        alarms: 0,
        alarms_in_windows: 0,
        mean_detection_delay_rows: 0.0,
    };
    let mut delay_sum = 0usize;
    for (file, scores) in corpus.iter().zip(anomaly_scores) {
        let probation = probationary_length(scores.len());
        for (row_idx, score) in scores.iter().enumerate() {
            let rising = *score >= threshold && (row_idx == 0 || scores[row_idx - 1] < threshold);
            if rising && row_idx as f64 >= probation {
                metrics.alarms += 1;
                if file.windows.iter().any(|window| window.contains(row_idx)) {
                    metrics.alarms_in_windows += 1;
                }
            }
        }
        for window in &file.windows {
            metrics.windows += 1;
            let first_detection = (window.first..=window.last)
                .find(|row| scores.get(*row).is_some_and(|score| *score >= threshold));
            if let Some(row) = first_detection {
                metrics.windows_detected += 1;
                delay_sum += row - window.first;
            }
        }
    }
    if metrics.windows_detected > 0 {
        metrics.mean_detection_delay_rows = delay_sum as f64 / metrics.windows_detected as f64;
    }
    metrics
}
