//! The terminal summary `shadowgate check` prints: one row per metric and a closing line with
//! the decision.

use crate::{
    document::CheckReport,
    format, markup,
    presentation::{self, MetricCells},
};

/// The number of columns of [`summary_rows`].
pub const SUMMARY_COLUMN_COUNT: usize = 7;

/// The header of the summary table.
pub const SUMMARY_COLUMNS: [&str; SUMMARY_COLUMN_COUNT] =
    ["metric", "result", "baseline", "candidate", "change", "interval", "p"];

/// One row per metric, in the judge's order, with the cells of [`SUMMARY_COLUMNS`]. The cells
/// are plain text without colour; `result` is the outcome in capitals with `(critical)` or
/// `(dry run)` added where that applies. Control characters and escape sequences in names
/// are made harmless (see the HTML escaping), so the rows can be printed as they are.
pub fn summary_rows(report: &CheckReport) -> Vec<[String; SUMMARY_COLUMN_COUNT]> {
    report
        .verdict
        .metrics
        .iter()
        .map(|metric| {
            let cells = MetricCells::of(metric);
            [
                one_line(&metric.name),
                presentation::outcome_label(metric),
                cells.baseline,
                cells.candidate,
                cells.change,
                cells.interval,
                cells.p_value,
            ]
        })
        .collect()
}

/// The summary as aligned text: the header, the rows, a blank line and the verdict, ending
/// with a newline. Columns are separated by two spaces and padded by character count.
pub fn summary_text(report: &CheckReport) -> String {
    let rows = summary_rows(report);
    let header = SUMMARY_COLUMNS.map(str::to_string);
    let mut widths = [0usize; SUMMARY_COLUMN_COUNT];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (idx, (cell, width)) in row.iter().zip(widths).enumerate() {
            if idx > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&verdict_line(report));
    out.push('\n');
    out
}

/// "FAIL  score 62.5/100  exit 1: p99 latency per interval rose 38% ...": the decision, the
/// score, the exit code and the judge's summary sentence.
pub fn verdict_line(report: &CheckReport) -> String {
    let verdict = &report.verdict;
    let score = verdict.score.map_or("n/a".to_string(), format::score);
    format!(
        "{}  score {score}/100  exit {}: {}",
        presentation::decision_word(verdict.decision).to_uppercase(),
        report.exit.code,
        one_line(&verdict.summary)
    )
}

/// `text` made safe for a terminal and kept on one line.
fn one_line(text: &str) -> String {
    markup::printable(text).replace(['\n', '\t'], " ")
}
