//! The JUnit XML rendering, which CI systems (GitLab, Jenkins, GitHub test reporters) show
//! natively in their test views.
//!
//! One `<testsuite>` holds one `<testcase>` per judged metric (classname = the metric's group,
//! name = the metric) and one per user test command (classname `test_commands`). How a
//! metric's outcome maps to JUnit:
//!
//! | outcome | JUnit |
//! |---|---|
//! | pass | a passing testcase |
//! | fail | `<failure type="REASON">` with the judge's sentence as message and the numbers as text |
//! | inconclusive | `<failure type="no_data">`: no data caps the verdict at marginal, and a CI view must not hide that |
//! | error | `<error type="REASON">`: the data could not be collected or used |
//! | ignored | `<skipped>`: only the `ignore` no-data policy leads here, and the message says so |
//!
//! A dry-run metric never affects the verdict, so it is a passing testcase whatever its
//! outcome; its `<system-out>` tells what the outcome would have been.

use crate::{
    document::{CheckReport, SCHEMA_VERSION, TestCommandResult},
    format, markup,
    presentation::{self, MetricCells},
};
use shadowgate_judge::verdict::{Comparison, MetricResult, Outcome, Reason};
use std::fmt::Write;

/// The classname of the testcases of the user's test commands.
const TEST_COMMANDS_CLASSNAME: &str = "test_commands";

/// Renders the report as a JUnit XML document (UTF-8, with an XML declaration).
pub fn to_junit(report: &CheckReport) -> String {
    let cases: Vec<Case> = report
        .verdict
        .metrics
        .iter()
        .map(metric_case)
        .chain(report.tests.iter().map(test_command_case))
        .chain(report.diff.as_ref().map(diff_case))
        .collect();
    let count = |status: fn(&Status) -> bool| cases.iter().filter(|it| status(&it.status)).count();
    let tests = cases.len();
    let failures = count(|it| matches!(it, Status::Failure { .. }));
    let errors = count(|it| matches!(it, Status::Error { .. }));
    let skipped = count(|it| matches!(it, Status::Skipped { .. }));
    let time = seconds(report.wall_duration_ms);
    let suite_name = format!(
        "shadowgate check: {} {}→{}",
        report.app, report.baseline.release, report.candidate.release
    );
    let counts = format!(
        "tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" \
         time=\"{time}\""
    );

    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<testsuites name=\"shadowgate check\" {counts}>");
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" {counts} timestamp=\"{}\">",
        markup::attribute(&suite_name),
        format::iso_datetime(report.started_at_unix_ms)
    );
    push_properties(&mut out, report);
    for case in &cases {
        push_case(&mut out, case);
    }
    let _ = writeln!(out, "    <system-out>{}</system-out>", markup::text(&suite_output(report)));
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// One testcase before it is written.
struct Case {
    classname: String,
    name: String,
    time: String,
    status: Status,
    output: String,
}

enum Status {
    Passed,
    Failure { kind: String, message: String, detail: String },
    Error { kind: String, message: String, detail: String },
    Skipped { message: String },
}

fn metric_case(metric: &MetricResult) -> Case {
    let detail = || metric_detail(metric);
    let status = if metric.dry_run {
        Status::Passed
    } else {
        match metric.outcome {
            Outcome::Pass => Status::Passed,
            Outcome::Fail => Status::Failure {
                kind: reason_code(metric.reason),
                message: metric.explanation.clone(),
                detail: detail(),
            },
            Outcome::Inconclusive => Status::Failure {
                kind: reason_code(metric.reason),
                message: format!(
                    "{} (inconclusive metrics are not scored, and the verdict can be at best \
                     marginal)",
                    metric.explanation
                ),
                detail: detail(),
            },
            Outcome::Error => Status::Error {
                kind: reason_code(metric.reason),
                message: metric.explanation.clone(),
                detail: detail(),
            },
            Outcome::Ignored => Status::Skipped {
                message: format!(
                    "ignored: the metric had no data and is configured with no_data = \
                     \"ignore\"; {}",
                    metric.explanation
                ),
            },
        }
    };
    let output = if metric.dry_run {
        format!(
            "dry run: this metric is reported but never affects the verdict; it would have \
             been {}.\n{}",
            presentation::outcome_word(metric.outcome),
            detail()
        )
    } else if matches!(status, Status::Passed) {
        detail()
    } else {
        String::new()
    };
    Case {
        classname: metric.group.clone(),
        name: metric.name.clone(),
        time: "0".to_string(),
        status,
        output,
    }
}

fn test_command_case(test: &TestCommandResult) -> Case {
    let status = if test.passed {
        Status::Passed
    } else {
        Status::Failure {
            kind: "test_command".to_string(),
            message: format!(
                "the test command failed after {}",
                format::duration_ms(test.duration_ms)
            ),
            detail: test.output_tail.clone(),
        }
    };
    let mut output = format!("selected because: {}\n", test.selected_because);
    if test.passed {
        output.push_str(&test.output_tail);
    }
    Case {
        classname: TEST_COMMANDS_CLASSNAME.to_string(),
        name: test.name.clone(),
        time: seconds(test.duration_ms),
        status,
        output,
    }
}

/// The response diff as one testcase (classname `diff`): a failure when a field differs beyond
/// noise and `fail_on_difference` is set, else passing with the findings as output.
fn diff_case(diff: &crate::diff::ResponseDiff) -> Case {
    let mut lines = vec![format!(
        "{} requests compared{}",
        diff.requests_compared,
        if diff.noise_filtered { " with the noise filter" } else { "" }
    )];
    for endpoint in &diff.endpoints {
        for field in &endpoint.differing_fields {
            lines.push(format!(
                "{} {}: {} of {} requests differ (noise {})",
                endpoint.endpoint,
                field.field,
                field.raw_differences,
                endpoint.requests,
                field.noise_differences
            ));
            if let Some(example) = field.examples.first() {
                lines.push(format!(
                    "  e.g. {} {}: baseline {} -> candidate {}",
                    example.request.method,
                    example.request.target,
                    example.baseline_value.as_deref().unwrap_or("(absent)"),
                    example.candidate_value.as_deref().unwrap_or("(absent)")
                ));
            }
        }
    }
    let detail = lines.join("\n");
    let count = diff.differing_field_count();
    let (status, output) = if diff.passed {
        (Status::Passed, if count == 0 { String::new() } else { detail })
    } else {
        let message = format!(
            "{count} response field{} differ{} between baseline and candidate beyond noise",
            if count == 1 { "" } else { "s" },
            if count == 1 { "s" } else { "" }
        );
        (Status::Failure { kind: "response_diff".to_string(), message, detail }, String::new())
    };
    Case {
        classname: "diff".to_string(),
        name: "response_diff".to_string(),
        time: seconds(0),
        status,
        output,
    }
}

/// The judge's sentence followed by every number behind it, one figure per line.
fn metric_detail(metric: &MetricResult) -> String {
    let cells = MetricCells::of(metric);
    let mut lines = vec![
        metric.explanation.clone(),
        String::new(),
        format!("source: {}", metric.source),
        format!("group: {}", metric.group),
        format!("outcome: {}", presentation::outcome_label(metric)),
        format!("reason: {}", reason_code(metric.reason)),
    ];
    match &metric.comparison {
        Some(Comparison::Continuous(comparison)) => {
            lines.push(format!("baseline median: {} ({})", cells.baseline, cells.baseline_detail));
            lines.push(format!(
                "candidate median: {} ({})",
                cells.candidate, cells.candidate_detail
            ));
            lines.push(format!(
                "shift: {} ({} CI {}..{})",
                format::signed_quantity(comparison.shift.estimate, comparison.unit),
                format::confidence(comparison.confidence),
                format::signed_quantity(comparison.shift.lower, comparison.unit),
                format::signed_quantity(comparison.shift.upper, comparison.unit)
            ));
            if comparison.relative_shift.is_some() {
                lines.push(format!("relative change: {} ({})", cells.change, cells.interval));
            }
            lines.push(format!(
                "U = {}, z = {}, {}",
                format::significant(comparison.u, 12),
                format::significant(comparison.z, 4),
                format::p_clause(comparison.p_value)
            ));
        }
        Some(Comparison::Count(comparison)) => {
            lines.push(format!("baseline: {}", cells.baseline));
            lines.push(format!("candidate: {}", cells.candidate));
            if comparison.baseline.events + comparison.candidate.events > 0 {
                lines.push(format!("rate ratio: {} ({})", cells.change, cells.interval));
                lines.push(format::p_clause(comparison.p_value));
            }
        }
        None => {}
    }
    if metric.comparison.is_some() {
        lines.push(format!("allowed: {}", cells.allowed));
    }
    lines.join("\n")
}

/// The stable snake_case code of a reason, as in the JSON report.
fn reason_code(reason: Reason) -> String {
    match serde_json::to_value(reason) {
        Ok(serde_json::Value::String(code)) => code,
        _ => format!("{reason:?}"),
    }
}

fn push_properties(out: &mut String, report: &CheckReport) {
    let verdict = &report.verdict;
    let properties = [
        ("run_id", report.run_id.clone()),
        ("decision", presentation::decision_word(verdict.decision).to_string()),
        ("score", verdict.score.map_or("n/a".to_string(), format::score)),
        ("passes_gate", verdict.passes_gate.to_string()),
        ("exit_code", report.exit.code.to_string()),
        ("app", report.app.clone()),
        ("baseline", report.baseline.release.clone()),
        ("candidate", report.candidate.release.clone()),
        ("schema", SCHEMA_VERSION.to_string()),
    ];
    out.push_str("    <properties>\n");
    for (name, value) in properties {
        let _ = writeln!(
            out,
            "      <property name=\"{name}\" value=\"{}\"/>",
            markup::attribute(&value)
        );
    }
    out.push_str("    </properties>\n");
}

fn push_case(out: &mut String, case: &Case) {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
        markup::attribute(&case.classname),
        markup::attribute(&case.name),
        case.time
    );
    if matches!(case.status, Status::Passed) && case.output.is_empty() {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    match &case.status {
        Status::Passed => {}
        Status::Failure { kind, message, detail } | Status::Error { kind, message, detail } => {
            let tag = if matches!(case.status, Status::Error { .. }) { "error" } else { "failure" };
            let _ = writeln!(
                out,
                "      <{tag} message=\"{}\" type=\"{}\">{}</{tag}>",
                markup::attribute(message),
                markup::attribute(kind),
                markup::text(detail)
            );
        }
        Status::Skipped { message } => {
            let _ = writeln!(out, "      <skipped message=\"{}\"/>", markup::attribute(message));
        }
    }
    if !case.output.is_empty() {
        let _ = writeln!(out, "      <system-out>{}</system-out>", markup::text(&case.output));
    }
    out.push_str("    </testcase>\n");
}

/// The suite's output: the verdict line, unmatched inputs and warnings.
fn suite_output(report: &CheckReport) -> String {
    let mut lines = vec![crate::summary::verdict_line(report)];
    let verdict = &report.verdict;
    if !verdict.unmatched_inputs.is_empty() {
        lines.push(format!(
            "inputs that match no configured metric: {}",
            verdict.unmatched_inputs.join(", ")
        ));
    }
    lines.extend(report.warnings.iter().map(|warning| format!("warning: {warning}")));
    lines.join("\n")
}

/// Milliseconds as seconds with three decimals, as JUnit's `time` attributes expect.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}
