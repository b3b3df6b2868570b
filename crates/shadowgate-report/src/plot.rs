//! Charts drawn as inline SVG: line charts over the run's timeline and step histograms on a
//! logarithmic latency axis.
//!
//! A chart is a `<figure>` with an HTML legend and an SVG whose sizes are in a fixed viewBox,
//! so it scales to the page width on a phone and prints crisply. Colours and line styles
//! come from the page's style sheet through classes (`arm-baseline`, `arm-candidate`,
//! `dashed`), which keeps the markup small and the palette in one place. Every series is a
//! `<g class="series">` and every shaded window a `class="shade …"` element, which the
//! browser test counts.

mod path;
mod scale;

use crate::{document::Arm, format, markup};
use path::{line_path, step_path};
use scale::{Scale, Ticks};
use std::fmt::Write;

/// The SVG's coordinate system: a 520 × 250 viewBox with room for labels around the plot.
/// Text sizes are in these units, so the narrower the box, the larger text reads once the
/// chart is scaled to a phone's width; 520 keeps 12-unit text legible at 360 pixels.
const WIDTH: f64 = 520.0;
const HEIGHT: f64 = 250.0;
const PLOT_LEFT: f64 = 64.0;
const PLOT_RIGHT: f64 = WIDTH - 20.0;
const PLOT_TOP: f64 = 36.0;
const PLOT_BOTTOM: f64 = HEIGHT - 42.0;
/// Shade labels go above the plot, on this many rows, so that neighbours do not overlap.
const LABEL_ROWS: usize = 2;
/// A rough width of one label character, for placing labels without measuring text.
const LABEL_CHAR_WIDTH: f64 = 6.4;
const MIB: f64 = 1024.0 * 1024.0;
const GIB: f64 = 1024.0 * MIB;

/// One chart, ready to draw.
#[derive(Clone, Debug)]
pub(crate) struct Chart {
    /// A stable key for the `data-chart` attribute, such as `latency-over-time`.
    pub key: &'static str,
    pub title: String,
    pub x_axis: XAxis,
    pub y_axis: YAxis,
    pub series: Vec<Series>,
    pub shades: Vec<Shade>,
}

/// The horizontal axis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum XAxis {
    /// Milliseconds since the start of the run, from 0 to `end_ms`.
    Time { end_ms: u64 },
    /// Latency in milliseconds on a logarithmic scale.
    LogMilliseconds { low: f64, high: f64 },
}

/// The vertical axis, which starts at zero; its unit decides the tick labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum YAxis {
    Milliseconds,
    PerSecond,
    Cores,
    Bytes,
    /// A share in percent (0–100).
    Percent,
}

/// One line or histogram.
#[derive(Clone, Debug)]
pub(crate) struct Series {
    /// The legend text, such as `baseline p99`.
    pub name: String,
    pub arm: Arm,
    pub line: LineStyle,
    pub shape: SeriesShape,
    /// `(x, y)` in data units; a non-finite `y` breaks the line.
    pub points: Vec<(f64, f64)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineStyle {
    Solid,
    Dashed,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum SeriesShape {
    /// Points joined by straight lines.
    Line,
    /// A filled step histogram: each point is `(upper bound, height)` of a bucket that starts
    /// at the previous point's bound, the first one at `lower_bound`.
    Steps { lower_bound: f64 },
}

/// A shaded window on a timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Shade {
    pub kind: ShadeKind,
    pub start_ms: u64,
    /// `None` for an instant, drawn as a vertical line.
    pub end_ms: Option<u64>,
    /// A short label drawn above the plot, such as `E2 fault`.
    pub label: String,
    /// The full description, shown as a tooltip.
    pub title: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ShadeKind {
    Warmup,
    Event,
}

/// The vertical axis of one chart.
struct VerticalFrame {
    divisor: f64,
    ticks: Ticks,
    scale: Scale,
}

impl ShadeKind {
    fn class(self) -> &'static str {
        match self {
            ShadeKind::Warmup => "shade-warmup",
            ShadeKind::Event => "shade-event",
        }
    }
}

impl Chart {
    /// The chart as a `<figure>` element.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "<figure class=\"chart\" data-chart=\"{}\">", self.key);
        let _ = writeln!(out, "<figcaption>{}</figcaption>", markup::text(&self.title));
        self.push_legend(&mut out);
        let _ = writeln!(
            out,
            "<svg class=\"plot\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\">",
            markup::attribute(&self.title)
        );
        let x_scale = self.x_scale();
        let frame = self.vertical_frame();
        self.push_y_axis(&mut out, &frame);
        self.push_shades(&mut out, &x_scale);
        let drawn = self.push_series(&mut out, &x_scale, &frame);
        if !drawn {
            let _ = writeln!(
                out,
                "<text class=\"no-data\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">no data \
                 recorded</text>",
                (PLOT_LEFT + PLOT_RIGHT) / 2.0,
                (PLOT_TOP + PLOT_BOTTOM) / 2.0
            );
        }
        self.push_x_axis(&mut out, &x_scale);
        out.push_str("</svg>\n</figure>\n");
        out
    }

    fn x_scale(&self) -> Scale {
        match self.x_axis {
            XAxis::Time { end_ms } => {
                let ticks = scale::time_ticks(end_ms as f64 / 1000.0, 6);
                Scale::linear((0.0, ticks.top() * 1000.0), (PLOT_LEFT, PLOT_RIGHT))
            }
            XAxis::LogMilliseconds { low, high } => {
                Scale::log((low, high), (PLOT_LEFT, PLOT_RIGHT))
            }
        }
    }

    /// The vertical axis: data values are divided by `divisor` (2^20 for MiB, 1000 for
    /// seconds) before they meet the ticks and the scale.
    fn vertical_frame(&self) -> VerticalFrame {
        let max = self
            .series
            .iter()
            .flat_map(|series| series.points.iter().map(|point| point.1))
            .filter(|value| value.is_finite())
            .fold(0.0f64, f64::max);
        let divisor = match self.y_axis {
            YAxis::Bytes if max >= 4.0 * GIB => GIB,
            YAxis::Bytes => MIB,
            YAxis::Milliseconds if max >= 2000.0 => 1000.0,
            _ => 1.0,
        };
        let ticks = scale::ticks_from_zero(max / divisor * 1.05, 4);
        let scale = Scale::linear((0.0, ticks.top()), (PLOT_BOTTOM, PLOT_TOP));
        VerticalFrame { divisor, ticks, scale }
    }

    fn y_label(&self, frame: &VerticalFrame, value: f64) -> String {
        let number = frame.ticks.label(value);
        match self.y_axis {
            YAxis::Milliseconds if frame.divisor > 1.0 => format!("{number} s"),
            YAxis::Milliseconds => format!("{number} ms"),
            YAxis::PerSecond => format!("{number}/s"),
            YAxis::Cores => number,
            YAxis::Bytes if frame.divisor >= GIB => format!("{number} GiB"),
            YAxis::Bytes => format!("{number} MiB"),
            YAxis::Percent => format!("{number}%"),
        }
    }

    fn y_title(&self) -> &'static str {
        match self.y_axis {
            YAxis::Cores => "cores",
            _ => "",
        }
    }

    fn push_legend(&self, out: &mut String) {
        out.push_str("<ul class=\"legend\">");
        let mut seen = Vec::new();
        for series in &self.series {
            if seen.contains(&&series.name) {
                continue;
            }
            seen.push(&series.name);
            let dashed = if series.line == LineStyle::Dashed { " dashed" } else { "" };
            let _ = write!(
                out,
                "<li><svg class=\"key\" viewBox=\"0 0 28 10\" aria-hidden=\"true\"><line \
                 class=\"arm-{}{dashed}\" x1=\"1\" y1=\"5\" x2=\"27\" y2=\"5\"/></svg>{}</li>",
                series.arm.name(),
                markup::text(&series.name)
            );
        }
        for kind in [ShadeKind::Warmup, ShadeKind::Event] {
            if self.shades.iter().any(|shade| shade.kind == kind) {
                let name = match kind {
                    ShadeKind::Warmup => "warm-up (not judged)",
                    ShadeKind::Event => "events",
                };
                let _ = write!(
                    out,
                    "<li><svg class=\"key\" viewBox=\"0 0 14 10\" aria-hidden=\"true\"><rect \
                     class=\"{}\" width=\"14\" height=\"10\"/></svg>{name}</li>",
                    kind.class()
                );
            }
        }
        out.push_str("</ul>\n");
    }

    fn push_y_axis(&self, out: &mut String, frame: &VerticalFrame) {
        out.push_str("<g class=\"axis axis-y\">");
        for value in &frame.ticks.values {
            let y = frame.scale.map(*value);
            let _ = write!(
                out,
                "<line class=\"grid\" x1=\"{PLOT_LEFT}\" y1=\"{y:.1}\" x2=\"{PLOT_RIGHT}\" \
                 y2=\"{y:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                PLOT_LEFT - 6.0,
                y + 4.0,
                markup::text(&self.y_label(frame, *value))
            );
        }
        let title = self.y_title();
        if !title.is_empty() {
            let _ = write!(
                out,
                "<text class=\"axis-title\" transform=\"rotate(-90)\" x=\"{:.1}\" y=\"14\" \
                 text-anchor=\"middle\">{title}</text>",
                -(PLOT_TOP + PLOT_BOTTOM) / 2.0
            );
        }
        out.push_str("</g>\n");
    }

    fn push_x_axis(&self, out: &mut String, x_scale: &Scale) {
        out.push_str("<g class=\"axis axis-x\">");
        let _ = write!(
            out,
            "<line class=\"baseline-rule\" x1=\"{PLOT_LEFT}\" y1=\"{PLOT_BOTTOM}\" \
             x2=\"{PLOT_RIGHT}\" y2=\"{PLOT_BOTTOM}\"/>"
        );
        let (ticks, title): (Vec<(f64, String)>, &str) = match self.x_axis {
            XAxis::Time { end_ms } => {
                let ticks = scale::time_ticks(end_ms as f64 / 1000.0, 6);
                let minutes = ticks.top() >= 120.0;
                let labels = ticks
                    .values
                    .iter()
                    .map(|seconds| (seconds * 1000.0, time_label(*seconds, minutes)))
                    .collect();
                (labels, if minutes { "time since start (min:s)" } else { "time since start" })
            }
            XAxis::LogMilliseconds { low, high } => {
                let labels = scale::log_ticks(low, high)
                    .into_iter()
                    .map(|ms| (ms, format::milliseconds(ms)))
                    .collect();
                (labels, "latency (log scale)")
            }
        };
        for (value, label) in ticks {
            let x = x_scale.map(value);
            let _ = write!(
                out,
                "<line class=\"tick\" x1=\"{x:.1}\" y1=\"{PLOT_BOTTOM}\" x2=\"{x:.1}\" \
                 y2=\"{:.1}\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                PLOT_BOTTOM + 5.0,
                PLOT_BOTTOM + 18.0,
                markup::text(&label)
            );
        }
        let _ = write!(
            out,
            "<text class=\"axis-title\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{title}</text>",
            (PLOT_LEFT + PLOT_RIGHT) / 2.0,
            HEIGHT - 6.0
        );
        out.push_str("</g>\n");
    }

    fn push_shades(&self, out: &mut String, x_scale: &Scale) {
        if self.shades.is_empty() {
            return;
        }
        out.push_str("<g class=\"shades\">");
        // The right end of the last label on each row, to move a label down when it would
        // overlap its left neighbour.
        let mut row_ends = [f64::NEG_INFINITY; LABEL_ROWS];
        let mut shades: Vec<&Shade> = self.shades.iter().collect();
        shades.sort_by_key(|shade| shade.start_ms);
        for shade in shades {
            let start = x_scale.map_clamped(shade.start_ms as f64);
            let class = shade.kind.class();
            let title = markup::text(&shade.title);
            match shade.end_ms {
                Some(end_ms) => {
                    let end = x_scale.map_clamped(end_ms.max(shade.start_ms) as f64);
                    let _ = write!(
                        out,
                        "<rect class=\"shade {class}\" x=\"{start:.1}\" y=\"{PLOT_TOP}\" \
                         width=\"{:.1}\" height=\"{:.1}\"><title>{title}</title></rect>",
                        (end - start).max(1.0),
                        PLOT_BOTTOM - PLOT_TOP
                    );
                }
                None => {
                    let _ = write!(
                        out,
                        "<line class=\"shade {class} instant\" x1=\"{start:.1}\" \
                         y1=\"{PLOT_TOP}\" x2=\"{start:.1}\" y2=\"{PLOT_BOTTOM}\"><title>{title}\
                         </title></line>"
                    );
                }
            }
            let width = shade.label.chars().count() as f64 * LABEL_CHAR_WIDTH;
            let row = row_ends.iter().position(|end| *end + 4.0 <= start).unwrap_or_else(|| {
                // Every row is taken here: reuse the row whose label ended first.
                row_ends
                    .iter()
                    .enumerate()
                    .min_by(|a, b| a.1.total_cmp(b.1))
                    .map_or(0, |(idx, _)| idx)
            });
            let x = start.min(PLOT_RIGHT - width).max(PLOT_LEFT);
            row_ends[row] = x + width;
            let y = PLOT_TOP - 6.0 - (LABEL_ROWS - 1 - row) as f64 * 13.0;
            let _ = write!(
                out,
                "<text class=\"shade-label {class}-label\" x=\"{x:.1}\" y=\"{y:.1}\">{}</text>",
                markup::text(&shade.label)
            );
        }
        out.push_str("</g>\n");
    }

    /// Draws every series; returns whether any had a point to draw.
    fn push_series(&self, out: &mut String, x_scale: &Scale, frame: &VerticalFrame) -> bool {
        let mut drawn = false;
        for series in &self.series {
            let path = match series.shape {
                SeriesShape::Line => line_path(&series.points, x_scale, frame),
                SeriesShape::Steps { lower_bound } => {
                    step_path(lower_bound, &series.points, x_scale, frame)
                }
            };
            if path.is_empty() {
                continue;
            }
            drawn = true;
            let dashed = if series.line == LineStyle::Dashed { " dashed" } else { "" };
            let filled =
                if matches!(series.shape, SeriesShape::Steps { .. }) { " filled" } else { "" };
            let _ = writeln!(
                out,
                "<g class=\"series\" data-arm=\"{arm}\" data-name=\"{}\"><path \
                 class=\"arm-{arm}{dashed}{filled}\" d=\"{path}\"><title>{}</title></path></g>",
                markup::attribute(&series.name),
                markup::text(&series.name),
                arm = series.arm.name(),
            );
        }
        drawn
    }
}

/// "0 s", "45 s"; or "1:30" when the axis is in minutes.
fn time_label(seconds: f64, minutes: bool) -> String {
    let whole = seconds.round() as u64;
    if minutes {
        format!("{}:{:02}", whole / 60, whole % 60)
    } else if seconds.fract().abs() > 1e-9 {
        format!("{} s", format::significant(seconds, 3))
    } else {
        format!("{whole} s")
    }
}

#[cfg(test)]
mod tests;
