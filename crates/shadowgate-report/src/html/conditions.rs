//! The page's predicted-conditions section: which document a run took its load and limits
//! from, what it changed, what it only recorded, and the risks the prediction flagged.

use crate::{
    document::{CheckReport, SettingSource},
    markup,
};
use std::fmt::Write;

pub(super) fn push_conditions(out: &mut String, report: &CheckReport) {
    let Some(used) = &report.conditions else { return };
    let title = if used.origin == "manifest" { "Conditions" } else { "Predicted conditions" };
    let _ = writeln!(out, "<section id=\"conditions\">\n<h2>{title}</h2>");
    if used.origin == "manifest" {
        let _ = writeln!(
            out,
            "<p>From the manifest's <code>[conditions]</code>, <code>{}</code>.</p>",
            markup::text(&used.path)
        );
    } else {
        let origin = if used.origin == "predicted" {
            "the application's latest prediction"
        } else {
            "a predicted-conditions file"
        };
        let _ = writeln!(
            out,
            "<p>From {origin}, <code>{}</code> (version {}, made at Unix time {} ms, looking {} s ahead).</p>",
            markup::text(&used.path),
            used.version,
            used.generated_at_unix_ms,
            used.horizon_seconds
        );
    }
    if !used.applied.is_empty() {
        out.push_str(
            "<table class=\"settings\"><thead><tr><th scope=\"col\">applied</th><th \
             scope=\"col\">value</th><th scope=\"col\">from</th></tr></thead><tbody>",
        );
        for setting in &used.applied {
            let _ = write!(
                out,
                "<tr><th scope=\"row\"><code>{}</code></th><td>{}</td><td>{}</td></tr>",
                markup::text(&setting.name),
                markup::text(&setting.value),
                if setting.source == SettingSource::Conditions {
                    "manifest [conditions]"
                } else {
                    "predicted conditions"
                }
            );
        }
        out.push_str("</tbody></table>\n");
    }
    for (title, items) in [("Recorded, not enforced", &used.recorded), ("Risks", &used.risks)] {
        if items.is_empty() {
            continue;
        }
        let _ = write!(out, "<h3>{title}</h3>\n<ul>");
        for item in items {
            let _ = write!(out, "<li>{}</li>", markup::text(item));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}
