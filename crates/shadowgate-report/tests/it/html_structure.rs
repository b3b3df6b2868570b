//! The HTML page as markup: self-contained, every chart with its series and shaded windows,
//! and the parts a reader looks for first.

use crate::fixture::{SAME, long_report, report_with, sample_report};
use shadowgate_report::{CheckReport, PerArm, to_html};

/// The charts in page order, with the series and shaded windows each has for the fixture:
/// two arms everywhere, p50 and p99 for latency; the warm-up and three events on timelines.
pub const EXPECTED_CHARTS: [(&str, usize, usize); 6] = [
    ("latency-distribution", 2, 0),
    ("latency-over-time", 4, 4),
    ("throughput-over-time", 2, 4),
    ("errors-over-time", 2, 4),
    ("cpu-over-time", 2, 4),
    ("memory-over-time", 2, 4),
];

/// The markup of each chart, keyed by its `data-chart`, in page order.
pub fn charts(html: &str) -> Vec<(String, String)> {
    html.split("<figure class=\"chart\" data-chart=\"")
        .skip(1)
        .map(|rest| {
            let (key, body) = rest.split_once('"').expect("the attribute closes");
            let body = body.split("</figure>").next().expect("a figure closes");
            (key.to_string(), body.to_string())
        })
        .collect()
}

/// The part of a chart inside its `<svg class="plot">`.
pub fn plot(chart: &str) -> &str {
    let start = chart.find("<svg class=\"plot\"").expect("the chart has a plot");
    let end = chart.rfind("</svg>").expect("the plot closes");
    &chart[start..end]
}

#[test]
fn the_page_is_self_contained() {
    let html = to_html(&sample_report());
    let lower = html.to_lowercase();
    for forbidden in [
        "<script", "<link", "<img", "<iframe", "<object", "src=", "srcset=", "url(", "@import",
        "http://", "https://", "//fonts.",
    ] {
        assert!(!lower.contains(forbidden), "the page contains `{forbidden}`");
    }
    for href in html.split("href=\"").skip(1) {
        assert!(href.starts_with('#'), "a link leaves the page: {}", &href[..href.len().min(40)]);
    }
    assert!(html.contains("content=\"default-src 'none'; style-src 'unsafe-inline'\""));
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(html.ends_with("</html>\n"));
}

#[test]
fn every_chart_has_its_series_and_shaded_windows() {
    let html = to_html(&sample_report());
    let charts = charts(&html);
    let keys: Vec<&str> = charts.iter().map(|(key, _)| key.as_str()).collect();
    let expected_keys: Vec<&str> = EXPECTED_CHARTS.iter().map(|it| it.0).collect();
    assert_eq!(keys, expected_keys);
    for ((key, body), (_, series, shades)) in charts.iter().zip(EXPECTED_CHARTS) {
        let plot = plot(body);
        assert_eq!(plot.matches("<g class=\"series\"").count(), series, "series of {key}");
        assert_eq!(plot.matches("class=\"shade ").count(), shades, "shades of {key}");
        assert!(!plot.contains("no data recorded"), "{key} has data");
    }
    let latency = &charts[1].1;
    for label in ["warm-up", "E1 fault", "E2 OOM kill", "E3 restart"] {
        assert!(latency.contains(&format!(">{label}</text>")), "label {label}");
    }
    assert!(latency.contains("<line class=\"shade shade-event instant\""));
    assert!(latency.contains("candidate p99") && latency.contains("baseline p50"));
}

#[test]
fn axes_carry_units() {
    let html = to_html(&sample_report());
    let charts = charts(&html);
    let tick_labels = |key: &str| -> Vec<String> {
        let body = &charts.iter().find(|it| it.0 == key).expect("the chart exists").1;
        body.split("text-anchor=\"end\">")
            .skip(1)
            .filter_map(|rest| rest.split('<').next())
            .map(str::to_string)
            .collect()
    };
    assert!(tick_labels("latency-over-time").iter().all(|it| it.ends_with(" ms")));
    assert!(tick_labels("memory-over-time").iter().all(|it| it.ends_with(" MiB")));
    assert!(tick_labels("throughput-over-time").iter().all(|it| it.ends_with("/s")));
    assert!(tick_labels("latency-distribution").iter().all(|it| it.ends_with('%')));
    let cpu = &charts.iter().find(|it| it.0 == "cpu-over-time").expect("cpu chart").1;
    assert!(cpu.contains(">cores</text>"));
    assert!(html.contains(">10 ms</text>") && html.contains(">latency (log scale)</text>"));
}

#[test]
fn the_header_names_the_decision_and_what_decided_it() {
    let html = to_html(&sample_report());
    let header = html.split("</header>").next().expect("a header");
    assert!(header.contains("class=\"verdict verdict-fail\""));
    assert!(header.contains("✗</span> FAIL"));
    assert!(header.contains("score <b>50</b>/100"));
    let decided_by = header.split("Decided by").nth(1).expect("a decided-by list");
    assert!(
        decided_by.contains("#metric-request_latency") && decided_by.contains("#metric-error_rate")
    );
    assert!(!decided_by.contains("#metric-cpu"));
    assert!(header.contains("<code>request_latency</code>"));
}

#[test]
fn every_metric_has_a_row_with_its_sentence() {
    let report = sample_report();
    let html = to_html(&report);
    for metric in &report.verdict.metrics {
        let row = html
            .split(&format!("id=\"metric-{}\"", metric.name))
            .nth(1)
            .and_then(|rest| rest.split("</tbody>").next())
            .unwrap_or_else(|| panic!("no row for {}", metric.name));
        assert!(row.contains("class=\"explanation\""), "{}", metric.name);
    }
    let latency_row = html.split("id=\"metric-request_latency\"").nth(1).expect("row");
    assert!(latency_row.contains(">12.2 ms<") && latency_row.contains(">13.6 ms<"));
    assert!(latency_row.contains(">+11%<") && latency_row.contains(">99% CI +8.9%..+13%<"));
    assert!(latency_row.contains(">+5%<"));
}

#[test]
fn a_passing_check_shows_a_pass_header_without_a_decided_by_list() {
    let html = to_html(&report_with(SAME));
    let header = html.split("</header>").next().expect("a header");
    assert!(header.contains("class=\"verdict verdict-pass\""), "{header}");
    assert!(header.contains("✓</span> PASS"));
    assert!(!header.contains("Decided by"));
}

#[test]
fn a_report_without_measurements_still_renders_every_section() {
    let report = CheckReport {
        time_series: Vec::new(),
        events: Vec::new(),
        tests: Vec::new(),
        settings: Vec::new(),
        warnings: Vec::new(),
        warmup: None,
        latency_distribution: PerArm::default(),
        ..sample_report()
    };
    let html = to_html(&report);
    let charts = charts(&html);
    assert_eq!(charts.len(), EXPECTED_CHARTS.len());
    for (key, body) in &charts {
        assert!(body.contains("no data recorded"), "{key}");
        assert_eq!(body.matches("class=\"shade ").count(), 0, "{key}");
    }
    assert!(html.contains("No fault was injected"));
    assert!(html.contains("No test command ran."));
    assert!(!html.contains("id=\"warnings\""));
}

#[test]
fn a_long_run_is_thinned_to_the_charts_resolution() {
    let short = to_html(&sample_report());
    // Ten line series of 3,600 points would add about 500 kB of path data unthinned;
    // thinned to a few hundred pixel columns, they add about a fifth of that.
    let hour = to_html(&long_report(3600));
    assert!(hour.len() < short.len() + 150_000, "{} bytes for an hour", hour.len());
    for (key, body) in charts(&hour) {
        for path in plot(&body).split(" d=\"").skip(1) {
            let path = path.split('"').next().unwrap_or_default();
            let points = path.matches(['M', 'L']).count();
            // At most the lowest and the highest point per pixel of the 520-unit-wide plot.
            assert!(points <= 2 * 520, "{key}: {points} points");
        }
    }
}
