//! The JUnit form: well-formed XML whose counts, testcases and properties match the verdict.

use crate::{
    fixture::{SAME, report_with, sample_report},
    xml_tree::{Element, parse},
};
use shadowgate_judge::verdict::Outcome;
use shadowgate_report::to_junit;

fn suite(xml: &str) -> Element {
    let root =
        parse(xml).unwrap_or_else(|error| panic!("the JUnit XML is not well-formed: {error}"));
    assert_eq!(root.name, "testsuites");
    let suites: Vec<&Element> = root.children_named("testsuite").collect();
    assert_eq!(suites.len(), 1, "exactly one testsuite");
    let mut children = root.children;
    children.remove(0)
}

fn case<'a>(suite: &'a Element, name: &str) -> &'a Element {
    suite
        .children_named("testcase")
        .find(|it| it.attribute("name") == name)
        .unwrap_or_else(|| panic!("no testcase `{name}`"))
}

#[test]
fn counts_in_the_attributes_match_the_testcases() {
    let xml = to_junit(&sample_report());
    let suite = suite(&xml);
    let cases: Vec<&Element> = suite.children_named("testcase").collect();
    let with = |child: &str| cases.iter().filter(|it| it.child(child).is_some()).count();
    assert_eq!(suite.attribute("tests"), cases.len().to_string());
    assert_eq!(suite.attribute("failures"), with("failure").to_string());
    assert_eq!(suite.attribute("errors"), with("error").to_string());
    assert_eq!(suite.attribute("skipped"), with("skipped").to_string());
    let root = parse(&xml).expect("well-formed");
    for name in ["tests", "failures", "errors", "skipped", "time"] {
        assert_eq!(root.attribute(name), suite.attribute(name), "testsuites/@{name}");
    }
}

#[test]
fn one_testcase_per_metric_and_per_test_command() {
    let report = sample_report();
    let suite = suite(&to_junit(&report));
    assert_eq!(suite.attribute("name"), "shadowgate check: inventory v1.4.2→v1.5.0-rc.1");
    let cases: Vec<&Element> = suite.children_named("testcase").collect();
    assert_eq!(cases.len(), report.verdict.metrics.len() + report.tests.len());
    for metric in &report.verdict.metrics {
        assert_eq!(case(&suite, &metric.name).attribute("classname"), metric.group);
    }
    for test in &report.tests {
        assert_eq!(case(&suite, &test.name).attribute("classname"), "test_commands");
    }
}

#[test]
fn each_outcome_maps_to_its_junit_status() {
    let report = sample_report();
    let suite = suite(&to_junit(&report));
    let outcome_of =
        |name: &str| report.verdict.metrics.iter().find(|it| it.name == name).map(|it| it.outcome);
    assert_eq!(outcome_of("request_latency"), Some(Outcome::Fail));
    assert_eq!(outcome_of("queue_depth"), Some(Outcome::Ignored));
    assert_eq!(outcome_of("cache_hit_ratio"), Some(Outcome::Error));
    assert_eq!(outcome_of("gc_pause"), Some(Outcome::Inconclusive));
    assert_eq!(outcome_of("timeouts"), Some(Outcome::Fail));

    let failure = case(&suite, "request_latency").child("failure").expect("a failure");
    let explanation = &report.verdict.metrics[0].explanation;
    assert_eq!(failure.attribute("message"), explanation);
    assert_eq!(failure.attribute("type"), "regression");
    assert!(failure.text.starts_with(explanation.as_str()));
    assert!(failure.text.contains("baseline median: 12.2 ms"), "{}", failure.text);
    assert!(failure.text.contains("allowed: +5%"), "{}", failure.text);

    let skipped = case(&suite, "queue_depth").child("skipped").expect("skipped");
    assert!(skipped.attribute("message").contains("no_data = \"ignore\""));

    let error = case(&suite, "cache_hit_ratio").child("error").expect("an error");
    assert!(error.attribute("message").contains("Prometheus answered 503"));
    assert_eq!(error.attribute("type"), "collection_failed");

    let inconclusive = case(&suite, "gc_pause").child("failure").expect("a failure");
    assert_eq!(inconclusive.attribute("type"), "no_data");
    assert!(inconclusive.attribute("message").contains("at best marginal"));

    let dry_run = case(&suite, "timeouts");
    assert!(dry_run.child("failure").is_none() && dry_run.child("error").is_none());
    let output = dry_run.child("system-out").expect("the dry run tells its outcome");
    assert!(output.text.contains("would have been FAIL"), "{}", output.text);

    assert!(case(&suite, "cpu").child("failure").is_none());
    assert!(case(&suite, "smoke").child("failure").is_none());
    let failed_test = case(&suite, "migrations").child("failure").expect("a failure");
    assert!(failed_test.text.contains("column \"sku\" already exists"));
    assert_eq!(case(&suite, "migrations").attribute("time"), "12.305");
}

#[test]
fn properties_carry_the_run_score_and_decision() {
    let suite = suite(&to_junit(&sample_report()));
    let properties = suite.child("properties").expect("properties");
    let property = |name: &str| {
        properties
            .children_named("property")
            .find(|it| it.attribute("name") == name)
            .map(|it| it.attribute("value").to_string())
    };
    assert_eq!(property("run_id").as_deref(), Some("run-20261123-0042"));
    assert_eq!(property("decision").as_deref(), Some("fail"));
    assert_eq!(property("score").as_deref(), Some("50"));
    assert_eq!(property("passes_gate").as_deref(), Some("false"));
    assert_eq!(property("exit_code").as_deref(), Some("1"));
    assert_eq!(suite.attribute("timestamp"), "2026-11-23T18:46:13");
}

#[test]
fn a_passing_check_has_no_failures_among_scored_metrics() {
    let report = report_with(SAME);
    assert!(report.verdict.passes_gate, "{}", report.verdict.summary);
    let suite = suite(&to_junit(&report));
    for name in ["request_latency", "error_rate", "cpu", "memory", "oom_kills"] {
        assert!(case(&suite, name).child("failure").is_none(), "{name} failed");
    }
    let properties = suite.child("properties").expect("properties");
    assert!(
        properties
            .children_named("property")
            .any(|it| it.attribute("name") == "decision" && it.attribute("value") != "fail")
    );
}
