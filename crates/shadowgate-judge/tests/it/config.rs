//! The `[judge]` section: parsing from TOML, defaults, and validation messages.

use shadowgate_judge::{
    JudgeConfig,
    config::{ConfigProblem, Direction, MarginalPolicy, NoDataPolicy},
    default_metrics,
    source::MetricSource,
    validate,
};

/// Parses the body of a `[judge]` table.
fn parse(text: &str) -> Result<JudgeConfig, toml::de::Error> {
    toml::from_str(text)
}

fn paths(problems: &[ConfigProblem]) -> Vec<&str> {
    problems.iter().map(|problem| problem.path.as_str()).collect()
}

#[test]
fn an_empty_section_means_the_defaults() {
    let config = parse("").unwrap();
    assert_eq!(config, JudgeConfig::default());
    assert_eq!(config.metrics, default_metrics());
    assert_eq!(validate(&config), []);
}

#[test]
fn the_default_metrics_are_latency_errors_cpu_memory_and_oom_kills() {
    let metrics = default_metrics();
    let sources: Vec<String> = metrics.iter().map(|metric| metric.source.to_string()).collect();
    assert_eq!(
        sources,
        ["request.latency", "request.errors", "resource.cpu", "resource.memory", "event.oom_kill"]
    );
    let critical: Vec<&str> = metrics
        .iter()
        .filter(|metric| metric.critical)
        .map(|metric| metric.name.as_str())
        .collect();
    assert_eq!(critical, ["request_latency", "error_rate", "oom_kills"]);
}

#[test]
fn a_full_section_parses() {
    let config = parse(
        r#"
        confidence = 0.95
        pass_score = 80
        marginal_score = 60
        on_marginal = "pass"

        [groups.latency]
        weight = 2.5

        [[metrics]]
        name = "p99"
        source = "interval.latency.p99"
        group = "latency"
        direction = "either"
        allowed_increase_percent = 15
        allowed_decrease_percent = 50
        critical = true
        no_data = "ignore"
        min_samples = 20
        confidence = 0.9

        [[metrics]]
        name = "oom"
        source = "event.oom_kill"
        max_candidate_events = 0
        dry_run = true
        "#,
    )
    .unwrap();
    assert_eq!(validate(&config), []);
    assert_eq!((config.confidence, config.pass_score, config.marginal_score), (0.95, 80.0, 60.0));
    assert_eq!(config.on_marginal, MarginalPolicy::Pass);
    assert_eq!(config.group_weight("latency"), 2.5);
    assert_eq!(config.group_weight("oom"), 1.0);
    let p99 = &config.metrics[0];
    assert_eq!(p99.source, MetricSource::IntervalLatency { percentile: 99.0 });
    assert_eq!(
        (p99.direction, p99.no_data, p99.critical),
        (Direction::Either, NoDataPolicy::Ignore, true)
    );
    assert_eq!((p99.allowed_increase_percent, p99.allowed_decrease_percent), (15.0, 50.0));
    assert_eq!((p99.min_samples(), p99.confidence), (20, Some(0.9)));
    let oom = &config.metrics[1];
    assert_eq!((oom.group_name(), oom.dry_run, oom.max_candidate_events), ("oom", true, Some(0)));
    assert_eq!((oom.direction, oom.no_data), (Direction::Increase, NoDataPolicy::Inconclusive));
    assert_eq!((oom.allowed_increase_percent, oom.min_samples()), (10.0, 10));
}

#[test]
fn a_config_survives_a_round_trip_through_toml() {
    let config = JudgeConfig::default();
    let text = toml::to_string(&config).unwrap();
    assert_eq!(parse(&text).unwrap(), config);
}

#[test]
fn unknown_keys_and_bad_values_are_rejected_by_name() {
    let error =
        parse("[[metrics]]\nname = \"x\"\nsource = \"request.latency\"\nallowed_increase = 5\n")
            .unwrap_err()
            .to_string();
    assert!(error.contains("unknown field `allowed_increase`"), "{error}");
    let error =
        parse("[[metrics]]\nname = \"x\"\nsource = \"request.latncy\"\n").unwrap_err().to_string();
    assert!(error.contains("did you mean `request.latency`?"), "{error}");
    let error = parse("on_marginal = \"maybe\"\n").unwrap_err().to_string();
    assert!(error.contains("unknown variant `maybe`, expected `pass` or `fail`"), "{error}");
    let error = parse("thresholds = 3\n").unwrap_err().to_string();
    assert!(error.contains("unknown field `thresholds`"), "{error}");
}

#[test]
fn validation_names_every_problem_with_its_path_and_a_fix() {
    let config = parse(
        r#"
        confidence = 1.5
        pass_score = 60
        marginal_score = 80

        [groups.unused]
        weight = 1

        [groups.latency]
        weight = 0

        [[metrics]]
        name = "latency"
        source = "request.latency"
        group = "latency"
        allowed_increase_percent = -5
        allowed_decrease_percent = 100
        max_candidate_events = 3
        min_samples = 0
        confidence = 0.3

        [[metrics]]
        name = "latency"
        source = "request.errors"
        group = "bad group"
        min_samples = 5

        [[metrics]]
        name = ""
        source = "event.restart"
        "#,
    )
    .unwrap();
    let problems = validate(&config);
    assert_eq!(
        paths(&problems),
        [
            "confidence",
            "marginal_score",
            "metrics[0].allowed_increase_percent",
            "metrics[0].allowed_decrease_percent",
            "metrics[0].confidence",
            "metrics[0].min_samples",
            "metrics[0].max_candidate_events",
            "metrics[1].name",
            "metrics[1].group",
            "metrics[1].min_samples",
            "metrics[2].name",
            "groups.latency.weight",
            "groups.unused",
        ]
    );
    for problem in &problems {
        assert!(!problem.message.is_empty() && !problem.help.is_empty(), "{problem}");
    }
    assert_eq!(
        problems[7].to_string(),
        "`metrics[1].name`: a metric named `latency` already exists (help: give each metric a unique name)"
    );
    assert_eq!(problems[9].message, "`request.errors` is a count source, which has no samples");
}

#[test]
fn an_empty_metric_list_is_a_problem() {
    let config = JudgeConfig { metrics: Vec::new(), ..JudgeConfig::default() };
    let problems = validate(&config);
    assert_eq!(paths(&problems), ["metrics"]);
    assert!(problems[0].help.contains("remove `metrics` to judge the default metrics"));
}

#[test]
fn odd_group_names_are_quoted_in_paths() {
    let mut config = JudgeConfig::default();
    config.groups.insert("a.b".into(), shadowgate_judge::config::GroupConfig { weight: -1.0 });
    assert_eq!(paths(&validate(&config)), ["groups.\"a.b\".weight", "groups.\"a.b\""]);
}
