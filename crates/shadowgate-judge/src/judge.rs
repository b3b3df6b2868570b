//! The entry point: classify every configured metric, then score and decide.

use crate::{
    classify::classify, config::JudgeConfig, input::MetricInput, score::score, verdict::Verdict,
};

/// Judges the candidate against the baseline.
///
/// Each configured metric is matched with the input of the same name; a configured metric
/// without an input is an error (counted as a failure), and an input that matches no
/// configured metric is listed in [`Verdict::unmatched_inputs`]. When several inputs share a
/// name, the first one is used. The configuration should have passed
/// [`crate::config::validate`]; an invalid one still gives a verdict, never a panic.
pub fn judge(config: &JudgeConfig, inputs: &[MetricInput]) -> Verdict {
    let metrics = config
        .metrics
        .iter()
        .map(|metric| {
            let input = inputs.iter().find(|input| input.name == metric.name);
            classify(metric, input, config.confidence)
        })
        .collect();
    let mut unmatched_inputs: Vec<String> = Vec::new();
    for input in inputs {
        let configured = config.metrics.iter().any(|metric| metric.name == input.name);
        if !configured && !unmatched_inputs.contains(&input.name) {
            unmatched_inputs.push(input.name.clone());
        }
    }
    score(config, metrics, unmatched_inputs)
}
