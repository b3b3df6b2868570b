//! The HTML rendering: one self-contained page that a person opens from a CI artifact.
//!
//! Everything is inline (style sheet and SVG charts) and nothing runs: the page has no
//! script, and its Content-Security-Policy forbids every fetch, so it opens the same offline,
//! from a zip, or in a locked-down artifact viewer. Every piece of text from the document is
//! escaped, because release names, event messages and test output come from users.

mod charts;
mod conditions;
mod metrics;
mod tables;

use crate::{
    document::{CheckReport, SCHEMA_VERSION},
    format,
    markup::{self, push_text},
    presentation,
};
use shadowgate_judge::verdict::Decision;
use std::fmt::Write;

const STYLE_SHEET: &str = include_str!("html/style.css");

/// Forbids every fetch: styles are inline, charts are inline SVG, and there is no script.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'";

/// Renders the report as a self-contained HTML page.
pub fn to_html(report: &CheckReport) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = format!(
        "{} — shadowgate check {} → {}",
        presentation::decision_word(report.verdict.decision).to_uppercase(),
        report.baseline.release,
        report.candidate.release
    );
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        out,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_SECURITY_POLICY}\">"
    );
    let _ = writeln!(out, "<title>{}</title>", markup::text(&title));
    let _ = writeln!(out, "<style>\n{STYLE_SHEET}</style>\n</head>\n<body>\n<main>");
    push_header(&mut out, report);
    tables::push_warnings(&mut out, report);
    metrics::push_metrics(&mut out, report);
    charts::push_charts(&mut out, report);
    tables::push_load(&mut out, report);
    tables::push_events(&mut out, report);
    tables::push_tests(&mut out, report);
    push_diff(&mut out, report);
    tables::push_settings(&mut out, report);
    conditions::push_conditions(&mut out, report);
    push_footer(&mut out, report);
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn push_header(out: &mut String, report: &CheckReport) {
    let verdict = &report.verdict;
    let (class, symbol) = match verdict.decision {
        Decision::Pass => ("pass", "✓"),
        Decision::Marginal => ("marginal", "!"),
        Decision::Fail => ("fail", "✗"),
    };
    let word = presentation::decision_word(verdict.decision).to_uppercase();
    let _ = writeln!(out, "<header class=\"verdict verdict-{class}\">");
    let _ = write!(
        out,
        "<div class=\"decision\"><span class=\"decision-badge\"><span aria-hidden=\"true\">\
         {symbol}</span> {word}</span>"
    );
    let score = verdict.score.map_or("n/a".to_string(), format::score);
    let _ = writeln!(
        out,
        "<span class=\"score\">score <b>{score}</b>/100 <small>(pass ≥ {}, marginal ≥ {})</small>\
         </span></div>",
        format::score(verdict.pass_score),
        format::score(verdict.marginal_score)
    );
    out.push_str("<h1>");
    push_text(out, &report.app);
    out.push_str(": <span class=\"release release-baseline\">");
    push_text(out, &report.baseline.release);
    out.push_str("</span> → <span class=\"release release-candidate\">");
    push_text(out, &report.candidate.release);
    out.push_str("</span></h1>\n<p class=\"summary\">");
    metrics::push_sentence(out, &verdict.summary);
    out.push_str("</p>\n");

    let deciding = presentation::deciding_metrics(verdict);
    if !deciding.is_empty() {
        out.push_str("<div class=\"decided-by\"><h2>Decided by</h2><ul>");
        for metric in deciding {
            let _ = write!(
                out,
                "<li><a href=\"#metric-{}\">{}</a> <span class=\"outcome outcome-{}\">{}</span> ",
                markup::attribute(&metric.name),
                markup::text(&metric.name),
                presentation::outcome_word(metric.outcome).to_lowercase(),
                markup::text(&presentation::outcome_label(metric)),
            );
            metrics::push_sentence(out, &metric.explanation);
            out.push_str("</li>");
        }
        out.push_str("</ul></div>\n");
    }

    let gate = if verdict.passes_gate { "passes the gate" } else { "does not pass the gate" };
    let facts = [
        ("run", report.run_id.clone()),
        ("started", format::utc_datetime(report.started_at_unix_ms)),
        ("took", format::duration_ms(report.wall_duration_ms)),
        (
            "exit code",
            format!("{} ({gate}; marginal exits {})", report.exit.code, report.exit.marginal_code),
        ),
        ("baseline environment", report.baseline.environment_id.clone()),
        ("candidate environment", report.candidate.environment_id.clone()),
    ];
    out.push_str("<dl class=\"facts\">");
    for (name, value) in facts {
        let _ = write!(out, "<div><dt>{name}</dt><dd>{}</dd></div>", markup::text(&value));
    }
    out.push_str("</dl>\n</header>\n");
}

/// The response diff: each field that differs beyond noise, with an example request and both
/// responses in a collapsed block, and the fields found to be noise.
fn push_diff(out: &mut String, report: &CheckReport) {
    let Some(diff) = &report.diff else { return };
    out.push_str("<section id=\"diff\">\n<h2>Response diff</h2>\n<p>");
    let count = diff.differing_field_count();
    let _ = write!(
        out,
        "{} requests sent to the baseline, a second baseline and the candidate; {count} \
         field{} differ{} beyond noise (thresholds: relative {} %, absolute {} %). {}",
        diff.requests_compared,
        if count == 1 { "" } else { "s" },
        if count == 1 { "s" } else { "" },
        format::significant(diff.relative_threshold_pct, 3),
        format::significant(diff.absolute_threshold_pct, 3),
        match (count, diff.passed) {
            (0, _) => "",
            (_, false) => "The differences fail the check.",
            (_, true) => "They are reported only (fail_on_difference = false).",
        }
    );
    out.push_str("</p>\n");
    if count > 0 {
        out.push_str(
            "<table class=\"diff\"><thead><tr><th scope=\"col\">endpoint</th><th \
             scope=\"col\">field</th><th scope=\"col\">differing</th><th \
             scope=\"col\">noise</th><th scope=\"col\">example</th></tr></thead><tbody>",
        );
        for endpoint in &diff.endpoints {
            for field in &endpoint.differing_fields {
                let _ = write!(
                    out,
                    "<tr><td><code>{}</code></td><td><code>{}</code></td><td \
                     class=\"number\">{} / {}</td><td class=\"number\">{}</td><td>",
                    markup::text(&endpoint.endpoint),
                    markup::text(&field.field),
                    field.raw_differences,
                    endpoint.requests,
                    field.noise_differences
                );
                if let Some(example) = field.examples.first() {
                    push_diff_example(out, example);
                }
                out.push_str("</td></tr>");
            }
        }
        out.push_str("</tbody></table>\n");
    }
    let noise: Vec<String> = diff
        .endpoints
        .iter()
        .flat_map(|e| e.noise_fields.iter().map(move |f| format!("{} {f}", e.endpoint)))
        .collect();
    if !noise.is_empty() {
        let _ = writeln!(
            out,
            "<p>Noise (differs as often between the two baselines): {}</p>",
            markup::text(&noise.join(", "))
        );
    }
    out.push_str("</section>\n");
}

fn push_diff_example(out: &mut String, example: &crate::diff::DiffExample) {
    let value = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".to_string());
    let _ = write!(
        out,
        "<details><summary><code>{} {}</code>: baseline <code>{}</code> → candidate \
         <code>{}</code></summary>",
        markup::text(&example.request.method),
        markup::text(&example.request.target),
        markup::text(&value(&example.baseline_value)),
        markup::text(&value(&example.candidate_value))
    );
    let request = &example.request;
    let mut text = format!("{} {}\n", request.method, request.target);
    for (name, value) in &request.headers {
        text.push_str(&format!("{name}: {value}\n"));
    }
    if !request.body.is_empty() {
        text.push_str(&format!("\n{}\n", request.body));
    }
    let _ = write!(out, "<h4>request</h4><pre>{}</pre>", markup::text(&text));
    for (name, response) in [("baseline", &example.baseline), ("candidate", &example.candidate)] {
        let mut text = match (response.status, &response.failure) {
            (Some(status), _) => format!("{status}\n"),
            (None, Some(failure)) => format!("no response: {failure}\n"),
            (None, None) => "no response\n".to_string(),
        };
        for (header, value) in &response.headers {
            text.push_str(&format!("{header}: {value}\n"));
        }
        if !response.body.is_empty() {
            text.push_str(&format!("\n{}\n", response.body));
        }
        let _ = write!(out, "<h4>{name} response</h4><pre>{}</pre>", markup::text(&text));
    }
    out.push_str("</details>");
}

fn push_footer(out: &mut String, report: &CheckReport) {
    let _ = writeln!(
        out,
        "<footer>shadowgate check report · schema <code>{SCHEMA_VERSION}</code> · run <code>{}\
         </code></footer>",
        markup::text(&report.run_id)
    );
}
