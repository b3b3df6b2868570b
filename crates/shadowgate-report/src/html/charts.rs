//! Which charts the page shows, and how the document's data becomes their series and shaded
//! windows.

use crate::{
    document::{Arm, CheckReport, EventArm, EventKind, LatencyDistribution, SeriesMetric},
    format,
    plot::{Chart, LineStyle, Series, SeriesShape, Shade, ShadeKind, XAxis, YAxis},
};

/// A chart over the run's timeline.
struct TimelineChart {
    key: &'static str,
    title: &'static str,
    y_axis: YAxis,
    /// The metrics it plots, each for both arms, with their line styles.
    metrics: &'static [(SeriesMetric, LineStyle)],
}

const TIMELINE_CHARTS: [TimelineChart; 5] = [
    TimelineChart {
        key: "latency-over-time",
        title: "Latency over time (p50 dashed, p99 solid)",
        y_axis: YAxis::Milliseconds,
        metrics: &[
            (SeriesMetric::LatencyP50, LineStyle::Dashed),
            (SeriesMetric::LatencyP99, LineStyle::Solid),
        ],
    },
    TimelineChart {
        key: "throughput-over-time",
        title: "Requests per second",
        y_axis: YAxis::PerSecond,
        metrics: &[(SeriesMetric::RequestsPerSecond, LineStyle::Solid)],
    },
    TimelineChart {
        key: "errors-over-time",
        title: "Errors per second",
        y_axis: YAxis::PerSecond,
        metrics: &[(SeriesMetric::Errors, LineStyle::Solid)],
    },
    TimelineChart {
        key: "cpu-over-time",
        title: "CPU use",
        y_axis: YAxis::Cores,
        metrics: &[(SeriesMetric::CpuCores, LineStyle::Solid)],
    },
    TimelineChart {
        key: "memory-over-time",
        title: "Memory use",
        y_axis: YAxis::Bytes,
        metrics: &[(SeriesMetric::MemoryBytes, LineStyle::Solid)],
    },
];

pub(super) fn push_charts(out: &mut String, report: &CheckReport) {
    out.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n<div class=\"chart-grid\">\n");
    out.push_str(&distribution_chart(report).render());
    let shades = shades(report);
    let end_ms = timeline_end_ms(report);
    for timeline_chart in TIMELINE_CHARTS {
        let series = timeline_chart
            .metrics
            .iter()
            .flat_map(|(metric, line)| {
                Arm::BOTH
                    .into_iter()
                    .flat_map(move |arm| timeline_series(report, *metric, arm, *line))
            })
            .collect();
        let chart = Chart {
            key: timeline_chart.key,
            title: timeline_chart.title.to_string(),
            x_axis: XAxis::Time { end_ms },
            y_axis: timeline_chart.y_axis,
            series,
            shades: shades.clone(),
        };
        out.push_str(&chart.render());
    }
    out.push_str("</div>\n</section>\n");
}

/// The latency histograms of both arms on one logarithmic axis, as the share of each arm's
/// requests per bucket so that arms with different request counts compare.
fn distribution_chart(report: &CheckReport) -> Chart {
    let mut series = Vec::new();
    let mut low = f64::INFINITY;
    let mut high = 0.0f64;
    for arm in Arm::BOTH {
        let distribution = report.latency_distribution.get(arm);
        let Some(points) = shares(distribution) else { continue };
        low = low.min(distribution.lower_bound_ms);
        high = high.max(points.iter().map(|it| it.0).fold(0.0, f64::max));
        series.push(Series {
            name: arm.name().to_string(),
            arm,
            line: LineStyle::Solid,
            shape: SeriesShape::Steps { lower_bound: distribution.lower_bound_ms },
            points,
        });
    }
    let (low, high) =
        if low.is_finite() && low > 0.0 && high > low { (low, high) } else { (1.0, 1000.0) };
    Chart {
        key: "latency-distribution",
        title: "Latency distribution after warm-up (share of requests)".to_string(),
        x_axis: XAxis::LogMilliseconds { low, high },
        y_axis: YAxis::Percent,
        series,
        shades: Vec::new(),
    }
}

/// `(upper bound, percent of requests)` per bucket, or `None` when the distribution cannot
/// be drawn on a log axis (no requests, or bounds that are not positive and increasing).
fn shares(distribution: &LatencyDistribution) -> Option<Vec<(f64, f64)>> {
    let total: u64 = distribution.buckets.iter().map(|it| it.count).sum();
    let mut previous = distribution.lower_bound_ms;
    for bucket in &distribution.buckets {
        if !(previous.is_finite() && previous > 0.0 && bucket.upper_bound_ms > previous) {
            return None;
        }
        previous = bucket.upper_bound_ms;
    }
    if total == 0 {
        return None;
    }
    Some(
        distribution
            .buckets
            .iter()
            .map(|it| (it.upper_bound_ms, it.count as f64 * 100.0 / total as f64))
            .collect(),
    )
}

fn timeline_series(
    report: &CheckReport,
    metric: SeriesMetric,
    arm: Arm,
    line: LineStyle,
) -> Option<Series> {
    let source = report.time_series.iter().find(|it| it.metric == metric && it.arm == arm)?;
    let mut points: Vec<(f64, f64)> = source
        .points
        .iter()
        .map(|(t_ms, value)| (*t_ms as f64, value.unwrap_or(f64::NAN)))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let name = match metric {
        SeriesMetric::LatencyP50 | SeriesMetric::LatencyP99 => {
            format!("{} {}", arm.name(), metric.label())
        }
        _ => arm.name().to_string(),
    };
    Some(Series { name, arm, line, shape: SeriesShape::Line, points })
}

/// The end of the timeline: the last moment anything was measured or happened.
fn timeline_end_ms(report: &CheckReport) -> u64 {
    let points = report.time_series.iter().flat_map(|it| it.points.iter().map(|point| point.0));
    let events = report.events.iter().map(|it| it.end_ms.unwrap_or(it.start_ms).max(it.start_ms));
    let warmup = report.warmup.iter().map(|it| it.end_ms);
    let end = points.chain(events).chain(warmup).max().unwrap_or(0);
    if end == 0 { report.wall_duration_ms.max(1000) } else { end }
}

/// The warm-up window and one shaded window per event, numbered as in the events table.
fn shades(report: &CheckReport) -> Vec<Shade> {
    let mut res = Vec::new();
    if let Some(warmup) = report.warmup {
        res.push(Shade {
            kind: ShadeKind::Warmup,
            start_ms: warmup.start_ms,
            end_ms: Some(warmup.end_ms),
            label: "warm-up".to_string(),
            title: format!(
                "warm-up {}–{}: not judged",
                format::duration_ms(warmup.start_ms),
                format::duration_ms(warmup.end_ms)
            ),
        });
    }
    for (number, event) in numbered_events(report) {
        res.push(Shade {
            kind: ShadeKind::Event,
            start_ms: event.start_ms,
            end_ms: event.end_ms,
            label: format!("E{number} {}", event_kind_name(event.kind)),
            title: format!(
                "E{number} {} on {}: {}",
                event_kind_name(event.kind),
                event_arm_name(event.arm),
                event.message
            ),
        });
    }
    res
}

/// Events in start order with their numbers (from 1), as the charts and the table show them.
pub(super) fn numbered_events(
    report: &CheckReport,
) -> Vec<(usize, &crate::document::TimelineEvent)> {
    let mut events: Vec<_> = report.events.iter().collect();
    events.sort_by_key(|it| it.start_ms);
    events.into_iter().enumerate().map(|(idx, event)| (idx + 1, event)).collect()
}

pub(super) fn event_kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Fault => "fault",
        EventKind::OomKill => "OOM kill",
        EventKind::Restart => "restart",
        EventKind::Crash => "crash",
        EventKind::Other => "event",
    }
}

pub(super) fn event_arm_name(arm: EventArm) -> &'static str {
    match arm {
        EventArm::Baseline => "baseline",
        EventArm::Candidate => "candidate",
        EventArm::Both => "both arms",
    }
}
