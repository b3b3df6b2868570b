//! Hostile text from users (release names, messages, test output, even a tampered stored
//! verdict) must come out inert in every rendering and intact in the JSON.

use crate::{fixture::sample_report, xml_tree::parse};
use shadowgate_report::{
    CheckReport, EventArm, EventKind, Setting, SettingSource, TimelineEvent, from_json,
    summary_text, to_html, to_json, to_junit,
};

pub const HOSTILE_APP: &str = "<script>alert(\"app\")</script>";
pub const HOSTILE_BASELINE: &str = "v1 & \"quoted\" 'single' <b>";
pub const HOSTILE_CANDIDATE: &str = "v2\u{0}\u{1b}[31mred\u{1b}[0m\u{7}";
pub const HOSTILE_EVENT: &str = "<img src=\"http://canary.invalid/event.png\" onerror=alert(1)>";

/// The fixture with hostile text in every user-controlled string.
pub fn hostile_report() -> CheckReport {
    let mut report = sample_report();
    report.app = HOSTILE_APP.to_string();
    report.run_id = "run\"id'<x>".to_string();
    report.baseline.release = HOSTILE_BASELINE.to_string();
    report.candidate.release = HOSTILE_CANDIDATE.to_string();
    report.candidate.environment_id = "env]]>&lt;".to_string();
    report.events.push(TimelineEvent {
        start_ms: 50_000,
        end_ms: Some(52_000),
        arm: EventArm::Baseline,
        kind: EventKind::Other,
        message: HOSTILE_EVENT.to_string(),
    });
    report.tests[1].output_tail =
        "</pre><script>alert(2)</script>\n]]>\u{0}\u{1b}[2Kdone".to_string();
    report.tests[1].name = "tests & <more>".to_string();
    report.warnings.push("--> <!-- not a comment".to_string());
    report.settings.push(Setting {
        name: "env.\"x\"".to_string(),
        value: "\"><svg onload=alert(3)>".to_string(),
        source: SettingSource::Flag,
    });
    let metric = &mut report.verdict.metrics[0];
    metric.name = "<metric name=\"x\">".to_string();
    metric.group = "grp'&".to_string();
    metric.explanation = "rose <b>a lot</b> & more\u{1b}[0m".to_string();
    report.verdict.summary = "FAIL: `<script>` failed\u{8}".to_string();
    report
}

#[test]
fn the_json_keeps_hostile_text_exactly() {
    let report = hostile_report();
    let read = from_json(&to_json(&report)).expect("the hostile report reads back");
    assert_eq!(read, report);
}

#[test]
fn the_junit_parses_and_its_values_read_back_in_printable_form() {
    let xml = to_junit(&hostile_report());
    let root = parse(&xml).unwrap_or_else(|error| panic!("not well-formed: {error}\n{xml}"));
    let suite = root.child("testsuite").expect("a testsuite");
    assert_eq!(
        suite.attribute("name"),
        "shadowgate check: <script>alert(\"app\")</script> v1 & \"quoted\" 'single' <b>→v2␀red␇"
    );
    let first = suite.child("testcase").expect("a testcase");
    assert_eq!(first.attribute("name"), "<metric name=\"x\">");
    assert_eq!(first.attribute("classname"), "grp'&");
    let failure = first.child("failure").expect("a failure");
    assert_eq!(failure.attribute("message"), "rose <b>a lot</b> & more");
    let test = suite
        .children_named("testcase")
        .find(|it| it.attribute("name") == "tests & <more>")
        .expect("the test command");
    let output = &test.child("failure").expect("a failure").text;
    assert_eq!(output, "</pre><script>alert(2)</script>\n]]>␀done");
    let properties = suite.child("properties").expect("properties");
    assert!(properties.children_named("property").any(|it| it.attribute("value") == "run\"id'<x>"));
}

#[test]
fn the_html_carries_no_live_markup_from_users() {
    let html = to_html(&hostile_report());
    let lower = html.to_lowercase();
    for live in
        ["<script", "<img", "<svg onload", "<b>a lot", "<more>", "<metric", "<!-- not", "<x>"]
    {
        assert!(!lower.contains(live), "live markup `{live}` in the page");
    }
    assert!(html.contains("&lt;script&gt;alert(&quot;app&quot;)&lt;/script&gt;"));
    assert!(html.contains("v1 &amp; &quot;quoted&quot; &#39;single&#39; &lt;b&gt;"));
    assert!(html.contains("v2␀red␇"));
    assert!(
        html.contains(
            "&lt;img src=&quot;http://canary.invalid/event.png&quot; onerror=alert(1)&gt;"
        )
    );
    let controls: Vec<char> =
        html.chars().filter(|it| it.is_control() && !matches!(it, '\n' | '\t')).collect();
    assert!(controls.is_empty(), "control characters in the page: {controls:?}");
}

#[test]
fn the_terminal_summary_carries_no_escape_sequences() {
    let text = summary_text(&hostile_report());
    let controls: Vec<char> = text.chars().filter(|it| it.is_control() && *it != '\n').collect();
    assert!(controls.is_empty(), "control characters in the summary: {controls:?}");
    assert!(text.contains("FAIL: `<script>` failed␈"), "{text}");
    assert_eq!(text.lines().count(), 13, "{text}");
}
