//! The terminal summary: the same cells as the other renderings, aligned.

use crate::fixture::sample_report;
use shadowgate_report::{SUMMARY_COLUMNS, summary_rows, summary_text};

#[test]
fn one_row_per_metric_with_the_judges_numbers() {
    let report = sample_report();
    let rows = summary_rows(&report);
    assert_eq!(rows.len(), report.verdict.metrics.len());
    let row = |name: &str| rows.iter().find(|it| it[0] == name).expect("a row").clone();
    assert_eq!(
        row("request_latency"),
        [
            "request_latency",
            "FAIL (critical)",
            "12.2 ms",
            "13.6 ms",
            "+11%",
            "99% CI +8.9%..+13%",
            "< 0.0001"
        ]
    );
    assert_eq!(
        row("error_rate")[2..5],
        ["2 of 3,000 (0.067%)".to_string(), "14 of 3,000 (0.47%)".to_string(), "7×".to_string()]
    );
    assert_eq!(row("timeouts")[1], "FAIL (dry run)");
    assert_eq!(row("timeouts")[4], "new");
    assert_eq!(row("oom_kills")[2], "0 in 50 s");
    assert_eq!(row("queue_depth")[1..], ["IGNORED", "–", "–", "–", "–", "–"].map(str::to_string));
}

#[test]
fn columns_line_up_and_the_verdict_closes_the_table() {
    let text = summary_text(&sample_report());
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with(SUMMARY_COLUMNS[0]));
    let result_column = lines[0].find("result").expect("a result column");
    let table = &lines[1..lines.len() - 2];
    assert_eq!(table.len(), 10);
    for line in table {
        let prefix: String = line.chars().take(result_column).collect();
        assert!(prefix.ends_with("  "), "misaligned: {line:?}");
        let next = line.chars().nth(result_column).expect("a result cell");
        assert!(next.is_ascii_uppercase(), "misaligned: {line:?}");
    }
    assert_eq!(lines[lines.len() - 2], "");
    assert_eq!(
        lines[lines.len() - 1],
        "FAIL  score 50/100  exit 1: FAIL: critical metrics `request_latency`, `error_rate` failed"
    );
}
