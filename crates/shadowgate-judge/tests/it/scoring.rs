//! Table tests of the decision rules: critical metrics, weights, score boundaries, no-data
//! policies, errors, dry runs and the marginal gate.

use shadowgate_judge::{
    JudgeConfig, MetricInput,
    config::{GroupConfig, MarginalPolicy, MetricConfig, NoDataPolicy},
    judge,
    source::MetricSource,
    verdict::{Decision, Outcome, Reason},
};
use std::collections::BTreeMap;

/// What a metric's input will make of it.
#[derive(Clone, Copy)]
enum Input {
    /// Same spread on both arms: passes.
    Pass,
    /// The candidate is far higher: fails.
    Fail,
    /// No values: the no-data policy decides.
    Empty,
    /// Collection failed: error.
    Broken,
    /// No input at all: error.
    Missing,
    /// Counts handed over for a continuous source: error.
    WrongKind,
}

/// One metric of a table row.
struct Row {
    name: &'static str,
    group: &'static str,
    input: Input,
    critical: bool,
    no_data: NoDataPolicy,
    dry_run: bool,
}

fn row(name: &'static str, group: &'static str, input: Input) -> Row {
    Row { name, group, input, critical: false, no_data: NoDataPolicy::Inconclusive, dry_run: false }
}

fn critical(mut row: Row) -> Row {
    row.critical = true;
    row
}

fn no_data(mut row: Row, policy: NoDataPolicy) -> Row {
    row.no_data = policy;
    row
}

fn dry_run(mut row: Row) -> Row {
    row.dry_run = true;
    row
}

/// A judge configuration and inputs for `rows`.
fn setup(
    rows: &[Row],
    weights: &[(&str, f64)],
    pass_score: f64,
    marginal_score: f64,
) -> (JudgeConfig, Vec<MetricInput>) {
    let metrics = rows
        .iter()
        .map(|row| MetricConfig {
            group: Some(row.group.into()),
            critical: row.critical,
            no_data: row.no_data,
            dry_run: row.dry_run,
            ..MetricConfig::new(row.name, MetricSource::RequestLatency)
        })
        .collect();
    let groups: BTreeMap<String, GroupConfig> = weights
        .iter()
        .map(|(name, weight)| (name.to_string(), GroupConfig { weight: *weight }))
        .collect();
    let config =
        JudgeConfig { pass_score, marginal_score, groups, metrics, ..JudgeConfig::default() };
    let spread: Vec<f64> = (1..=50).map(f64::from).collect();
    let inputs = rows
        .iter()
        .filter_map(|row| match row.input {
            Input::Pass => Some(MetricInput::continuous(row.name, spread.clone(), spread.clone())),
            Input::Fail => Some(MetricInput::continuous(
                row.name,
                spread.clone(),
                spread.iter().map(|value| value + 100.0).collect(),
            )),
            Input::Empty => Some(MetricInput::continuous(row.name, Vec::new(), Vec::new())),
            Input::Broken => Some(MetricInput::failed(row.name, "Prometheus answered 503")),
            Input::WrongKind => Some(MetricInput::count(row.name, (1, 10.0), (1, 10.0))),
            Input::Missing => None,
        })
        .collect();
    (config, inputs)
}

struct Case {
    title: &'static str,
    rows: Vec<Row>,
    weights: Vec<(&'static str, f64)>,
    pass_score: f64,
    marginal_score: f64,
    decision: Decision,
    score: Option<f64>,
    summary_contains: &'static str,
}

fn case(title: &'static str, rows: Vec<Row>, decision: Decision, score: Option<f64>) -> Case {
    Case {
        title,
        rows,
        weights: Vec::new(),
        pass_score: 90.0,
        marginal_score: 70.0,
        decision,
        score,
        summary_contains: "",
    }
}

#[test]
fn decision_rules() {
    use Decision::{Fail, Marginal, Pass};
    use Input::{Broken, Empty, Missing, WrongKind};
    let four = |last: Input| {
        vec![
            row("a", "a", Input::Pass),
            row("b", "b", Input::Pass),
            row("c", "c", Input::Pass),
            row("d", "d", last),
        ]
    };
    let cases = vec![
        Case {
            summary_contains: "PASS: score 100 (pass ≥ 90, marginal ≥ 70)",
            ..case("all pass", four(Input::Pass), Pass, Some(100.0))
        },
        Case {
            summary_contains: "MARGINAL: score 75 (pass ≥ 90, marginal ≥ 70); failed: `d`",
            ..case("one failure in four groups", four(Input::Fail), Marginal, Some(75.0))
        },
        Case {
            summary_contains: "FAIL: critical metric `d`: request latency rose",
            ..case(
                "a critical failure fails whatever the score",
                {
                    let mut rows = four(Input::Pass);
                    rows[3] = critical(row("d", "d", Input::Fail));
                    rows
                },
                Fail,
                Some(75.0),
            )
        },
        Case {
            pass_score: 75.0,
            ..case("score equal to the pass score passes", four(Input::Fail), Pass, Some(75.0))
        },
        Case {
            marginal_score: 75.0,
            ..case(
                "score equal to the marginal score is marginal",
                four(Input::Fail),
                Marginal,
                Some(75.0),
            )
        },
        Case {
            summary_contains: "FAIL: score 50 (pass ≥ 90, marginal ≥ 70); failed: `c`, `d`",
            ..case(
                "score below the marginal score fails",
                vec![
                    row("a", "a", Input::Pass),
                    row("b", "b", Input::Pass),
                    row("c", "c", Input::Fail),
                    row("d", "d", Input::Fail),
                ],
                Fail,
                Some(50.0),
            )
        },
        Case {
            weights: vec![("heavy", 3.0)],
            ..case(
                "a failing heavy group weighs three times",
                vec![row("a", "heavy", Input::Fail), row("b", "light", Input::Pass)],
                Fail,
                Some(25.0),
            )
        },
        Case {
            weights: vec![("heavy", 3.0)],
            ..case(
                "a failing light group weighs once",
                vec![row("a", "heavy", Input::Pass), row("b", "light", Input::Fail)],
                Marginal,
                Some(75.0),
            )
        },
        case(
            "one failure in a group of three",
            vec![
                row("a", "g", Input::Pass),
                row("b", "g", Input::Pass),
                row("c", "g", Input::Fail),
            ],
            Fail,
            Some(200.0 / 3.0),
        ),
        case(
            "no data, ignored: left out of the score",
            {
                let mut rows = four(Input::Pass);
                rows[3] = no_data(row("d", "d", Empty), NoDataPolicy::Ignore);
                rows
            },
            Pass,
            Some(100.0),
        ),
        Case {
            summary_contains: "MARGINAL: score 100 (pass ≥ 90, marginal ≥ 70), but `d` was inconclusive",
            ..case(
                "no data, inconclusive: at best marginal",
                {
                    let mut rows = four(Input::Pass);
                    rows[3] = no_data(row("d", "d", Empty), NoDataPolicy::Inconclusive);
                    rows
                },
                Marginal,
                Some(100.0),
            )
        },
        case(
            "no data, fail: counts as a failure",
            {
                let mut rows = four(Input::Pass);
                rows[3] = no_data(row("d", "d", Empty), NoDataPolicy::Fail);
                rows
            },
            Marginal,
            Some(75.0),
        ),
        case(
            "no data, fail, critical: fails the check",
            {
                let mut rows = four(Input::Pass);
                rows[3] = critical(no_data(row("d", "d", Empty), NoDataPolicy::Fail));
                rows
            },
            Fail,
            Some(75.0),
        ),
        case("a collection error counts as a failure", four(Broken), Marginal, Some(75.0)),
        case(
            "a critical collection error fails the check",
            {
                let mut rows = four(Input::Pass);
                rows[3] = critical(row("d", "d", Broken));
                rows
            },
            Fail,
            Some(75.0),
        ),
        case("a missing input counts as a failure", four(Missing), Marginal, Some(75.0)),
        case("data of the wrong kind counts as a failure", four(WrongKind), Marginal, Some(75.0)),
        case(
            "a failing dry-run metric is not counted, even when critical",
            {
                let mut rows = four(Input::Pass);
                rows[3] = critical(dry_run(row("d", "d", Input::Fail)));
                rows
            },
            Pass,
            Some(100.0),
        ),
        Case {
            summary_contains: "MARGINAL: no metric could be scored",
            ..case(
                "nothing scored at all",
                vec![
                    no_data(row("a", "a", Empty), NoDataPolicy::Ignore),
                    no_data(row("b", "b", Empty), NoDataPolicy::Ignore),
                ],
                Marginal,
                None,
            )
        },
        case(
            "a group with nothing scored is left out, not counted as perfect",
            vec![no_data(row("a", "a", Empty), NoDataPolicy::Ignore), row("b", "b", Input::Fail)],
            Fail,
            Some(0.0),
        ),
    ];
    for case in cases {
        let (config, inputs) =
            setup(&case.rows, &case.weights, case.pass_score, case.marginal_score);
        let verdict = judge(&config, &inputs);
        let title = case.title;
        assert_eq!(verdict.decision, case.decision, "{title}: {}", verdict.summary);
        match (verdict.score, case.score) {
            (Some(actual), Some(expected)) => {
                assert!(
                    (actual - expected).abs() < 1e-9,
                    "{title}: score {actual}, expected {expected}"
                );
            }
            (actual, expected) => assert_eq!(actual, expected, "{title}"),
        }
        assert!(verdict.summary.contains(case.summary_contains), "{title}: {}", verdict.summary);
        assert_eq!(verdict.passes_gate, case.decision == Decision::Pass, "{title}");
    }
}

#[test]
fn marginal_passes_the_gate_only_when_configured_to() {
    let rows = [
        row("a", "a", Input::Pass),
        row("b", "b", Input::Pass),
        row("c", "c", Input::Pass),
        row("d", "d", Input::Fail),
    ];
    let (mut config, inputs) = setup(&rows, &[], 90.0, 70.0);
    let strict = judge(&config, &inputs);
    assert_eq!((strict.decision, strict.passes_gate), (Decision::Marginal, false));
    assert!(
        strict.summary.ends_with("; marginal fails the gate (on_marginal = \"fail\")"),
        "{}",
        strict.summary
    );
    config.on_marginal = MarginalPolicy::Pass;
    let lenient = judge(&config, &inputs);
    assert_eq!((lenient.decision, lenient.passes_gate), (Decision::Marginal, true));
    assert!(lenient.summary.ends_with("; marginal passes the gate (on_marginal = \"pass\")"));
}

#[test]
fn groups_and_outcomes_are_reported() {
    let rows = [
        row("a", "g", Input::Pass),
        row("b", "g", Input::Fail),
        row("c", "g", Input::Broken),
        no_data(row("d", "g", Input::Empty), NoDataPolicy::Ignore),
        dry_run(row("e", "h", Input::Fail)),
    ];
    let (config, inputs) = setup(&rows, &[("g", 2.0)], 90.0, 70.0);
    let verdict = judge(&config, &inputs);
    let g = &verdict.groups[0];
    assert_eq!((g.name.as_str(), g.weight), ("g", 2.0));
    assert_eq!((g.passed, g.failed, g.errors, g.not_scored), (1, 1, 1, 1));
    assert!((g.score.unwrap() - 100.0 / 3.0).abs() < 1e-9);
    let h = &verdict.groups[1];
    assert_eq!((h.name.as_str(), h.weight, h.score, h.not_scored), ("h", 1.0, None, 1));
    let outcomes: Vec<(Outcome, Reason)> =
        verdict.metrics.iter().map(|metric| (metric.outcome, metric.reason)).collect();
    assert_eq!(
        outcomes,
        [
            (Outcome::Pass, Reason::NotSignificant),
            (Outcome::Fail, Reason::Regression),
            (Outcome::Error, Reason::CollectionFailed),
            (Outcome::Ignored, Reason::NoData),
            (Outcome::Fail, Reason::Regression),
        ]
    );
    assert!(verdict.metrics[2].explanation.contains("Prometheus answered 503"));
    assert!(verdict.metrics[4].explanation.ends_with("(dry run: reported, not scored)"));
}

#[test]
fn inputs_that_match_no_metric_are_listed_once() {
    let (config, mut inputs) = setup(&[row("a", "a", Input::Pass)], &[], 90.0, 70.0);
    inputs.push(MetricInput::continuous("typo", vec![1.0], vec![1.0]));
    inputs.push(MetricInput::continuous("typo", vec![1.0], vec![1.0]));
    let verdict = judge(&config, &inputs);
    assert_eq!(verdict.unmatched_inputs, ["typo"]);
    assert_eq!(verdict.decision, Decision::Pass);
}
