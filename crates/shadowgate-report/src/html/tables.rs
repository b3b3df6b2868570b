//! The page's plain tables: warnings, load per arm, the event timeline, the user's test
//! commands and the settings.

use super::charts::{event_arm_name, event_kind_name, numbered_events};
use crate::{
    document::{CheckReport, LoadSummary, SettingSource},
    format, markup,
};
use std::fmt::Write;

pub(super) fn push_warnings(out: &mut String, report: &CheckReport) {
    if report.warnings.is_empty() {
        return;
    }
    out.push_str("<section class=\"warnings\" id=\"warnings\">\n<h2>Warnings</h2>\n<ul>");
    for warning in &report.warnings {
        let _ = write!(out, "<li>{}</li>", markup::text(warning));
    }
    out.push_str("</ul>\n</section>\n");
}

/// A row of the load table: its name and how to format an arm's cell.
type LoadRow = (&'static str, fn(&LoadSummary) -> String);

pub(super) fn push_load(out: &mut String, report: &CheckReport) {
    let baseline = &report.load.baseline;
    let candidate = &report.load.candidate;
    out.push_str("<section id=\"load\">\n<h2>Load after warm-up</h2>\n<table class=\"pairs\">");
    out.push_str(
        "<thead><tr><th scope=\"col\"></th><th scope=\"col\" class=\"arm-text-baseline\">\
         baseline</th><th scope=\"col\" class=\"arm-text-candidate\">candidate</th></tr></thead>\
         <tbody>",
    );
    let rows: [LoadRow; 11] = [
        ("requests", |it| format::thousands(it.requests)),
        ("responses", |it| format::thousands(it.responses)),
        ("errors", errors),
        ("offered rate", |it| format!("{}/s", format::significant(it.offered_rate_per_s, 4))),
        ("achieved rate", |it| format!("{}/s", format::significant(it.achieved_rate_per_s, 4))),
        ("latency p50", |it| latency(it, |percentiles| percentiles.p50)),
        ("latency p90", |it| latency(it, |percentiles| percentiles.p90)),
        ("latency p99", |it| latency(it, |percentiles| percentiles.p99)),
        ("latency p99.9", |it| latency(it, |percentiles| percentiles.p999)),
        ("latency max", |it| latency(it, |percentiles| percentiles.max)),
        ("status codes", statuses),
    ];
    for (name, cell) in rows {
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{name}</th><td class=\"number\">{}</td><td \
             class=\"number\">{}</td></tr>",
            markup::text(&cell(baseline)),
            markup::text(&cell(candidate))
        );
    }
    out.push_str("</tbody></table>\n</section>\n");
}

fn errors(load: &LoadSummary) -> String {
    let kinds: Vec<String> = load
        .errors_by_kind
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(kind, count)| format!("{kind} {}", format::thousands(*count)))
        .collect();
    if kinds.is_empty() {
        format::thousands(load.errors)
    } else {
        format!("{} ({})", format::thousands(load.errors), kinds.join(", "))
    }
}

fn latency(load: &LoadSummary, pick: fn(&crate::document::LatencyPercentiles) -> f64) -> String {
    load.latency_ms.as_ref().map_or("–".to_string(), |it| format::milliseconds(pick(it)))
}

fn statuses(load: &LoadSummary) -> String {
    if load.statuses.is_empty() {
        return "–".to_string();
    }
    let parts: Vec<String> = load
        .statuses
        .iter()
        .map(|(status, count)| format!("{status}: {}", format::thousands(*count)))
        .collect();
    parts.join(", ")
}

pub(super) fn push_events(out: &mut String, report: &CheckReport) {
    out.push_str("<section id=\"events\">\n<h2>Events</h2>\n");
    let events = numbered_events(report);
    if events.is_empty() {
        out.push_str("<p class=\"empty\">No fault was injected and nothing happened to either arm.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<table class=\"events\"><thead><tr><th scope=\"col\">#</th><th scope=\"col\">from\
         </th><th scope=\"col\">to</th><th scope=\"col\">arm</th><th scope=\"col\">kind</th>\
         <th scope=\"col\">what happened</th></tr></thead><tbody>",
    );
    for (number, event) in events {
        let end = event.end_ms.map_or("(instant)".to_string(), format::duration_ms);
        let _ = write!(
            out,
            "<tr><td>E{number}</td><td class=\"number\">{}</td><td class=\"number\">{}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            format::duration_ms(event.start_ms),
            end,
            event_arm_name(event.arm),
            event_kind_name(event.kind),
            markup::text(&event.message)
        );
    }
    out.push_str("</tbody></table>\n</section>\n");
}

pub(super) fn push_tests(out: &mut String, report: &CheckReport) {
    out.push_str("<section id=\"tests\">\n<h2>Test commands</h2>\n");
    if report.tests.is_empty() {
        out.push_str("<p class=\"empty\">No test command ran.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<table class=\"tests\"><thead><tr><th scope=\"col\">test</th><th scope=\"col\">result\
         </th><th scope=\"col\">took</th><th scope=\"col\">selected because</th></tr></thead>\
         <tbody>",
    );
    for test in &report.tests {
        let (class, word) = if test.passed { ("pass", "PASS") } else { ("fail", "FAIL") };
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td><span class=\"outcome outcome-{class}\">{word}\
             </span></td><td class=\"number\">{}</td><td>{}</td></tr>",
            markup::text(&test.name),
            format::duration_ms(test.duration_ms),
            markup::text(&test.selected_because)
        );
        if !test.output_tail.is_empty() {
            let open = if test.passed { "" } else { " open" };
            let _ = write!(
                out,
                "<tr class=\"output\"><td colspan=\"4\"><details{open}><summary>output (last \
                 lines)</summary><pre>{}</pre></details></td></tr>",
                markup::text(&test.output_tail)
            );
        }
    }
    out.push_str("</tbody></table>\n</section>\n");
}

pub(super) fn push_settings(out: &mut String, report: &CheckReport) {
    out.push_str("<section id=\"settings\">\n<h2>Settings</h2>\n");
    if report.settings.is_empty() {
        out.push_str("<p class=\"empty\">No settings were recorded.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<table class=\"settings\"><thead><tr><th scope=\"col\">setting</th><th \
         scope=\"col\">value</th><th scope=\"col\">from</th></tr></thead><tbody>",
    );
    for setting in &report.settings {
        let source = match setting.source {
            SettingSource::Default => "default",
            SettingSource::Manifest => "manifest",
            SettingSource::Flag => "flag",
            SettingSource::Predicted => "predicted conditions",
            SettingSource::Conditions => "manifest [conditions]",
        };
        let _ = write!(
            out,
            "<tr><th scope=\"row\"><code>{}</code></th><td>{}</td><td>{source}</td></tr>",
            markup::text(&setting.name),
            markup::text(&setting.value)
        );
    }
    out.push_str("</tbody></table>\n</section>\n");
}
