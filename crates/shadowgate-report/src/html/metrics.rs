//! The table of judged metrics: the numbers of both arms, the change with its interval, the
//! threshold, and the judge's sentence under each row.

use crate::{
    document::CheckReport,
    format, markup,
    presentation::{self, MetricCells},
};
use shadowgate_judge::verdict::GroupResult;
use std::fmt::Write;

/// The column headers; the same texts label the cells when the table folds into cards on a
/// narrow screen.
const COLUMNS: [&str; 8] =
    ["metric", "result", "baseline", "candidate", "change", "interval", "p", "allowed"];

pub(super) fn push_metrics(out: &mut String, report: &CheckReport) {
    let verdict = &report.verdict;
    out.push_str("<section id=\"metrics\">\n<h2>Metrics</h2>\n");
    if verdict.metrics.is_empty() {
        out.push_str("<p class=\"empty\">No metric was configured.</p>\n</section>\n");
        return;
    }
    out.push_str("<table class=\"metrics\">\n<thead><tr>");
    for column in COLUMNS {
        let _ = write!(out, "<th scope=\"col\">{column}</th>");
    }
    out.push_str("</tr></thead>\n");
    for metric in &verdict.metrics {
        let cells = MetricCells::of(metric);
        let outcome_class = presentation::outcome_word(metric.outcome).to_lowercase();
        let _ = write!(
            out,
            "<tbody class=\"metric outcome-row-{outcome_class}\" id=\"metric-{}\"><tr>",
            markup::attribute(&metric.name)
        );
        let _ = write!(
            out,
            "<th scope=\"row\" data-label=\"{}\">{}<small>{} · {}</small></th>",
            COLUMNS[0],
            markup::text(&metric.name),
            markup::text(&metric.source.to_string()),
            markup::text(&metric.group)
        );
        let dry_run = if metric.dry_run { " dry-run" } else { "" };
        let _ = write!(
            out,
            "<td data-label=\"{}\"><span class=\"cell\"><span class=\"outcome \
             outcome-{outcome_class}{dry_run}\">{}</span></span></td>",
            COLUMNS[1],
            markup::text(&presentation::outcome_label(metric))
        );
        push_arm_cell(out, COLUMNS[2], &cells.baseline, &cells.baseline_detail, "baseline");
        push_arm_cell(out, COLUMNS[3], &cells.candidate, &cells.candidate_detail, "candidate");
        for (column, value) in COLUMNS[4..].iter().zip([
            &cells.change,
            &cells.interval,
            &cells.p_value,
            &cells.allowed,
        ]) {
            let _ = write!(
                out,
                "<td data-label=\"{column}\" class=\"number\"><span class=\"cell\">{}</span></td>",
                markup::text(value)
            );
        }
        let _ = write!(out, "</tr><tr class=\"explanation\"><td colspan=\"{}\">", COLUMNS.len());
        push_sentence(out, &metric.explanation);
        out.push_str("</td></tr></tbody>\n");
    }
    out.push_str("</table>\n");
    push_groups(out, &verdict.groups);
    if !verdict.unmatched_inputs.is_empty() {
        out.push_str("<p class=\"note\">Measured but matching no configured metric: ");
        markup::push_text(out, &verdict.unmatched_inputs.join(", "));
        out.push_str("</p>\n");
    }
    out.push_str("</section>\n");
}

fn push_arm_cell(out: &mut String, label: &str, headline: &str, detail: &str, arm: &str) {
    let _ = write!(
        out,
        "<td data-label=\"{label}\" class=\"number arm-text-{arm}\"><span class=\"cell\">"
    );
    markup::push_text(out, headline);
    if !detail.is_empty() {
        // Each figure ("p99 35.5 ms") stays on one line; lines break between figures.
        let figures: Vec<String> =
            detail.split(", ").map(|figure| figure.replace(' ', "\u{a0}")).collect();
        out.push_str("<small>");
        markup::push_text(out, &figures.join(", "));
        out.push_str("</small>");
    }
    out.push_str("</span></td>");
}

/// Appends one of the judge's sentences, showing the names it quotes in backticks as code.
pub(super) fn push_sentence(out: &mut String, sentence: &str) {
    let pieces: Vec<&str> = sentence.split('`').collect();
    if pieces.len().is_multiple_of(2) {
        // An unpaired backtick: the sentence is shown as it is.
        markup::push_text(out, sentence);
        return;
    }
    for (idx, piece) in pieces.iter().enumerate() {
        if idx % 2 == 1 {
            out.push_str("<code>");
            markup::push_text(out, piece);
            out.push_str("</code>");
        } else {
            markup::push_text(out, piece);
        }
    }
}

/// The group scores as one line of chips, when there is more than one group.
fn push_groups(out: &mut String, groups: &[GroupResult]) {
    if groups.len() < 2 {
        return;
    }
    out.push_str("<ul class=\"groups\">");
    for group in groups {
        let score = group.score.map_or("not scored".to_string(), format::score);
        let _ = write!(
            out,
            "<li><b>{}</b> {score} <small>weight {} · {} passed, {} failed, {} errors, {} not \
             scored</small></li>",
            markup::text(&group.name),
            format::significant(group.weight, 3),
            group.passed,
            group.failed,
            group.errors,
            group.not_scored
        );
    }
    out.push_str("</ul>\n");
}
