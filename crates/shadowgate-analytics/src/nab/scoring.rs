//! NAB's scoring: sweep weights per row, scores per threshold, threshold optimisation and
//! normalisation.

use super::corpus::{IndexWindow, LabelledSeries, probationary_length};

/// A NAB application profile: the weights of true positives, false positives and false
/// negatives (`config/profiles.json`).
#[derive(Clone, Debug, PartialEq)]
pub struct CostProfile {
    pub name: &'static str,
    pub true_positive_weight: f64,
    pub false_positive_weight: f64,
    pub false_negative_weight: f64,
}

impl CostProfile {
    pub fn standard() -> CostProfile {
        CostProfile {
            name: "standard",
            true_positive_weight: 1.0,
            false_positive_weight: 0.11,
            false_negative_weight: 1.0,
        }
    }

    pub fn reward_low_false_positive_rate() -> CostProfile {
        CostProfile { name: "reward_low_FP_rate", false_positive_weight: 0.22, ..Self::standard() }
    }

    pub fn reward_low_false_negative_rate() -> CostProfile {
        CostProfile { name: "reward_low_FN_rate", false_negative_weight: 2.0, ..Self::standard() }
    }

    /// The three profiles of NAB v1.1, in its report order.
    pub fn all() -> [CostProfile; 3] {
        [
            Self::standard(),
            Self::reward_low_false_positive_rate(),
            Self::reward_low_false_negative_rate(),
        ]
    }
}

/// NAB's scaled sigmoid of a position relative to a window's right edge: −1 is the left edge
/// (0.98661), 0 the right edge (0), positive positions are after the window (towards −1), and
/// positions of 3 or more give exactly −1.
pub fn scaled_sigmoid(relative_position: f64) -> f64 {
    if relative_position >= 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * relative_position).exp()) - 1.0
    }
}

/// A scorable row: its anomaly score, the weight a detection there would earn, and the window
/// it lies in (a corpus-wide window id).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct SweepRow {
    pub anomaly_score: f64,
    pub weight: f64,
    pub window: Option<usize>,
}

/// The rows of one file that count, with their detection weights (NAB's `calcSweepScore`).
/// `window_id_base` numbers this file's windows within the corpus.
pub(crate) fn sweep_rows(
    anomaly_scores: &[f64],
    windows: &[IndexWindow],
    profile: &CostProfile,
    window_id_base: usize,
) -> Vec<SweepRow> {
    let max_true_positive = scaled_sigmoid(-1.0);
    let probation = probationary_length(anomaly_scores.len());
    let mut rows = Vec::with_capacity(anomaly_scores.len());
    let mut next_window_idx = 0;
    let mut previous_window: Option<IndexWindow> = None;
    for (row_idx, anomaly_score) in anomaly_scores.iter().enumerate() {
        while next_window_idx < windows.len() && windows[next_window_idx].last < row_idx {
            previous_window = Some(windows[next_window_idx]);
            next_window_idx += 1;
        }
        let current = windows.get(next_window_idx).filter(|window| window.contains(row_idx));
        let (weight, window) = match current {
            Some(window) => {
                let position = -((window.last - row_idx + 1) as f64) / window.width() as f64;
                let weight =
                    scaled_sigmoid(position) * profile.true_positive_weight / max_true_positive;
                (weight, Some(window_id_base + next_window_idx))
            }
            None => {
                let position = match previous_window {
                    None => 3.0,
                    Some(previous) => {
                        (row_idx - previous.last) as f64 / (previous.width() as f64 - 1.0)
                    }
                };
                (scaled_sigmoid(position) * profile.false_positive_weight, None)
            }
        };
        if (row_idx as f64) >= probation {
            rows.push(SweepRow { anomaly_score: *anomaly_score, weight, window });
        }
    }
    rows
}

/// The score and confusion counts of detecting every row whose anomaly score is at least
/// `threshold`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct ThresholdScore {
    pub threshold: f64,
    pub score: f64,
    pub true_positives: usize,
    pub true_negatives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
}

/// Scores every distinct threshold at once (NAB's `calcScoreByThreshold`): rows are taken in
/// decreasing anomaly score; each window contributes its best detection weight or, undetected,
/// minus the false-negative weight; every detection outside windows adds its (negative)
/// weight. The first entry, at threshold 1.1, detects nothing.
pub(crate) fn scores_by_threshold(
    rows: &[SweepRow],
    window_count: usize,
    profile: &CostProfile,
) -> Vec<ThresholdScore> {
    let mut order: Vec<&SweepRow> = rows.iter().collect();
    order.sort_by(|a, b| b.anomaly_score.total_cmp(&a.anomaly_score));
    let mut window_parts: Vec<Option<f64>> = vec![None; window_count];
    for row in rows {
        if let Some(window) = row.window {
            window_parts[window] = Some(-profile.false_negative_weight);
        }
    }
    let mut false_positive_sum = 0.0;
    let mut true_negatives = rows.iter().filter(|row| row.window.is_none()).count();
    let mut false_negatives = rows.len() - true_negatives;
    let (mut true_positives, mut false_positives) = (0, 0);
    let total = |parts: &[Option<f64>], fp_sum: f64| parts.iter().flatten().sum::<f64>() + fp_sum;
    let mut current_threshold = 1.1;
    let mut results = Vec::new();
    for row in order {
        if row.anomaly_score != current_threshold {
            results.push(ThresholdScore {
                threshold: current_threshold,
                score: total(&window_parts, false_positive_sum),
                true_positives,
                true_negatives,
                false_positives,
                false_negatives,
            });
            current_threshold = row.anomaly_score;
        }
        match row.window {
            Some(window) => {
                true_positives += 1;
                false_negatives -= 1;
                let part = window_parts[window].get_or_insert(row.weight);
                *part = part.max(row.weight);
            }
            None => {
                false_positives += 1;
                true_negatives -= 1;
                false_positive_sum += row.weight;
            }
        }
    }
    results.push(ThresholdScore {
        threshold: current_threshold,
        score: total(&window_parts, false_positive_sum),
        true_positives,
        true_negatives,
        false_positives,
        false_negatives,
    });
    results
}

/// Scores a whole corpus at one threshold: the sum of the files' scores and counts.
pub fn score_corpus(
    corpus: &[LabelledSeries],
    anomaly_scores: &[Vec<f64>],
    profile: &CostProfile,
    threshold: f64,
) -> ThresholdScore {
    let mut total = ThresholdScore {
        threshold,
        score: 0.0,
        true_positives: 0,
        true_negatives: 0,
        false_positives: 0,
        false_negatives: 0,
    };
    for (file, scores) in corpus.iter().zip(anomaly_scores) {
        let rows = sweep_rows(scores, &file.windows, profile, 0);
        let mut best_in_window: Vec<Option<f64>> = vec![None; file.windows.len()];
        for row in &rows {
            let detected = row.anomaly_score >= threshold;
            match (row.window, detected) {
                (Some(window), true) => {
                    total.true_positives += 1;
                    let part = best_in_window[window].get_or_insert(row.weight);
                    *part = part.max(row.weight);
                }
                (Some(window), false) => {
                    total.false_negatives += 1;
                    best_in_window[window].get_or_insert(-profile.false_negative_weight);
                }
                (None, true) => {
                    total.false_positives += 1;
                    total.score += row.weight;
                }
                (None, false) => total.true_negatives += 1,
            }
        }
        total.score += best_in_window
            .iter()
            .flatten()
            .map(|part| part.max(-profile.false_negative_weight))
            .sum::<f64>();
    }
    total
}

/// The threshold with the best corpus score (NAB's `optimizeThreshold`): all files' rows are
/// swept together and the highest score wins, the highest threshold among ties.
pub fn optimize_threshold(
    corpus: &[LabelledSeries],
    anomaly_scores: &[Vec<f64>],
    profile: &CostProfile,
) -> ThresholdScore {
    let mut rows = Vec::new();
    let mut window_count = 0;
    for (file, scores) in corpus.iter().zip(anomaly_scores) {
        rows.extend(sweep_rows(scores, &file.windows, profile, window_count));
        window_count += file.windows.len();
    }
    let table = scores_by_threshold(&rows, window_count, profile);
    table
        .iter()
        .copied()
        .fold(None, |best: Option<ThresholdScore>, candidate| match best {
            Some(best) if best.score >= candidate.score => Some(best),
            _ => Some(candidate),
        })
        .unwrap_or(table[0])
}

/// NAB's normalised score: 100 for the perfect detector (every window detected at its left
/// edge, no false positive), 0 for the null detector (no detection at all).
pub fn normalized_score(corpus: &[LabelledSeries], profile: &CostProfile, raw_score: f64) -> f64 {
    let window_count: usize = corpus.iter().map(|file| file.windows.len()).sum();
    let perfect = window_count as f64 * profile.true_positive_weight;
    let never_firing: Vec<Vec<f64>> =
        corpus.iter().map(|file| vec![0.0; file.values.len()]).collect();
    let null = score_corpus(corpus, &never_firing, profile, 1.1).score;
    if perfect == null {
        return 0.0;
    }
    100.0 * (raw_score - null) / (perfect - null)
}

#[cfg(test)]
mod tests;
