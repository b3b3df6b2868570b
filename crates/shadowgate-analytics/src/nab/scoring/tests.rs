//! NAB scoring checked against cases computed by hand from NAB's formulas.

use super::*;

/// A 100-row file (15 probationary rows) with one window over rows 40..=49.
fn one_window_file() -> LabelledSeries {
    LabelledSeries {
        name: "hand/one_window.csv".to_string(),
        timestamps: (0..100).map(|i| i * 300).collect(),
        values: vec![0.0; 100],
        windows: vec![IndexWindow { first: 40, last: 49 }],
    }
}

fn scores_firing_at(rows: &[(usize, f64)]) -> Vec<Vec<f64>> {
    let mut scores = vec![0.0; 100];
    for (row, score) in rows {
        scores[*row] = *score;
    }
    vec![scores]
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() < 1e-5
}

#[test]
fn scaled_sigmoid_matches_the_documented_points() {
    assert!(close(scaled_sigmoid(-1.0), 0.986_614));
    assert!(close(scaled_sigmoid(-0.5), 0.848_284));
    assert!(close(scaled_sigmoid(0.0), 0.0));
    assert!(close(scaled_sigmoid(1.0), -0.986_614));
    assert_eq!(scaled_sigmoid(3.0), -1.0);
    assert_eq!(scaled_sigmoid(10.0), -1.0);
}

#[test]
fn a_detection_at_the_left_edge_earns_the_full_true_positive_weight() {
    let corpus = vec![one_window_file()];
    let score =
        score_corpus(&corpus, &scores_firing_at(&[(40, 1.0)]), &CostProfile::standard(), 0.5);
    assert!(close(score.score, 1.0), "{score:?}");
    assert_eq!((score.true_positives, score.false_positives, score.false_negatives), (1, 0, 9));
    assert!(close(normalized_score(&corpus, &CostProfile::standard(), score.score), 100.0));
}

#[test]
fn a_detection_at_the_right_edge_earns_little() {
    let corpus = vec![one_window_file()];
    let score =
        score_corpus(&corpus, &scores_firing_at(&[(49, 1.0)]), &CostProfile::standard(), 0.5);
    // Position −1/10: (2/(1 + e^−0.5) − 1) / 0.986614 = 0.244919 / 0.986614.
    assert!(close(score.score, 0.248_242), "{}", score.score);
}

#[test]
fn only_the_earliest_detection_counts_and_false_positives_are_weighted_by_distance() {
    let corpus = vec![one_window_file()];
    let firing = scores_firing_at(&[(5, 1.0), (20, 1.0), (45, 1.0), (47, 1.0), (60, 1.0)]);
    let standard = score_corpus(&corpus, &firing, &CostProfile::standard(), 0.5);
    // Row 5 is probationary. Row 20 precedes every window: −0.11. Row 45 is the earliest
    // detection, position −0.5: 0.848284 / 0.986614 = 0.859793. Row 60 is 11 rows past a
    // window of width 10: position 11/9, 2/(1 + e^(55/9)) − 1 = −0.995569, times 0.11.
    let expected = 0.859_793 - 0.11 - 0.995_569 * 0.11;
    assert!(close(standard.score, expected), "{} vs {expected}", standard.score);
    assert_eq!(standard.false_positives, 2);
    let low_fp =
        score_corpus(&corpus, &firing, &CostProfile::reward_low_false_positive_rate(), 0.5);
    assert!(close(low_fp.score, 0.859_793 - 0.22 - 0.995_569 * 0.22), "{}", low_fp.score);
}

#[test]
fn a_missed_window_costs_the_false_negative_weight_of_the_profile() {
    let corpus = vec![one_window_file()];
    let silent = scores_firing_at(&[]);
    assert!(close(score_corpus(&corpus, &silent, &CostProfile::standard(), 0.5).score, -1.0));
    let low_fn = CostProfile::reward_low_false_negative_rate();
    assert!(close(score_corpus(&corpus, &silent, &low_fn, 0.5).score, -2.0));
    assert!(close(normalized_score(&corpus, &low_fn, -2.0), 0.0));
    // Perfect is +1 and null −2 under this profile, so a raw −0.5 normalises to 50.
    assert!(close(normalized_score(&corpus, &low_fn, -0.5), 50.0));
}

#[test]
fn optimisation_finds_the_threshold_that_excludes_the_costly_false_positive() {
    let corpus = vec![one_window_file()];
    let firing = scores_firing_at(&[(20, 0.5), (45, 0.9), (60, 0.95)]);
    let best = optimize_threshold(&corpus, &firing, &CostProfile::standard());
    assert_eq!(best.threshold, 0.9);
    assert!(close(best.score, 0.859_793 - 0.995_569 * 0.11), "{best:?}");
}

#[test]
fn the_sweep_table_agrees_with_direct_scoring_at_every_threshold() {
    let mut rng = shadowgate_core::rng::Rng::seed(11);
    let mut file = one_window_file();
    file.windows.push(IndexWindow { first: 70, last: 71 });
    file.windows.push(IndexWindow { first: 80, last: 80 });
    let corpus = vec![file];
    let scores: Vec<Vec<f64>> =
        vec![(0..100).map(|_| (rng.next_f64() * 20.0).floor() / 20.0).collect()];
    for profile in CostProfile::all() {
        let rows = sweep_rows(&scores[0], &corpus[0].windows, &profile, 0);
        for entry in scores_by_threshold(&rows, 3, &profile) {
            let direct = score_corpus(&corpus, &scores, &profile, entry.threshold);
            assert!(close(direct.score, entry.score), "{profile:?} {entry:?} vs {direct:?}");
            assert_eq!(direct.false_positives, entry.false_positives);
            assert_eq!(direct.true_positives, entry.true_positives);
        }
    }
}
