//! SVG path data: polylines thinned to the chart's resolution, and histogram outlines.

use super::{VerticalFrame, scale::Scale};
use std::fmt::Write;

/// An SVG path through the finite points, broken at non-finite values; a point alone
/// between breaks becomes a dot. Points that fall into the same pixel column are thinned to
/// the lowest and the highest, so that a long run stays small and its spikes survive.
pub(super) fn line_path(points: &[(f64, f64)], x_scale: &Scale, frame: &VerticalFrame) -> String {
    let mut pen = Pen::default();
    let mut column: Option<PixelColumn> = None;
    for (x, y) in points {
        if !(x.is_finite() && y.is_finite()) {
            if let Some(pending) = column.take() {
                pen.draw(pending);
            }
            pen.lift();
            continue;
        }
        let point = (x_scale.map_clamped(*x), frame.scale.map(y / frame.divisor));
        let pixel = point.0.round() as i64;
        column = match column {
            Some(mut pending) if pending.pixel == pixel => {
                if point.1 > pending.lowest.1 {
                    pending.lowest = point;
                }
                if point.1 < pending.highest.1 {
                    pending.highest = point;
                }
                Some(pending)
            }
            pending => {
                if let Some(pending) = pending {
                    pen.draw(pending);
                }
                Some(PixelColumn { pixel, lowest: point, highest: point })
            }
        };
    }
    if let Some(pending) = column {
        pen.draw(pending);
    }
    pen.lift();
    pen.path
}

/// The lowest and the highest point that fall into one pixel column (pixel y grows
/// downwards, so the lowest point has the largest y).
#[derive(Clone, Copy)]
struct PixelColumn {
    pixel: i64,
    lowest: (f64, f64),
    highest: (f64, f64),
}

/// Writes a path segment by segment.
#[derive(Default)]
struct Pen {
    path: String,
    /// Points drawn since the pen last went down.
    segment_points: usize,
}

impl Pen {
    /// Draws a column's extremes in the order they were measured.
    fn draw(&mut self, column: PixelColumn) {
        let (first, second) = if column.lowest.0 <= column.highest.0 {
            (column.lowest, column.highest)
        } else {
            (column.highest, column.lowest)
        };
        self.point(first);
        if second != first {
            self.point(second);
        }
    }

    fn point(&mut self, (x, y): (f64, f64)) {
        let command = if self.segment_points > 0 { 'L' } else { 'M' };
        let _ = write!(self.path, "{command}{x:.1} {y:.1}");
        self.segment_points += 1;
    }

    /// Ends the segment; a segment of one point gets a zero-length line, which the round
    /// line caps draw as a dot.
    fn lift(&mut self) {
        if self.segment_points == 1 {
            self.path.push_str("h0");
        }
        self.segment_points = 0;
    }
}

/// A closed step outline of a histogram, from the axis up and back down.
pub(super) fn step_path(
    lower_bound: f64,
    buckets: &[(f64, f64)],
    x_scale: &Scale,
    frame: &VerticalFrame,
) -> String {
    let finite: Vec<(f64, f64)> =
        buckets.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
    if finite.is_empty() {
        return String::new();
    }
    let zero = frame.scale.map(0.0);
    let mut path = format!("M{:.1} {zero:.1}", x_scale.map_clamped(lower_bound));
    for (upper, height) in finite {
        let _ = write!(
            path,
            "V{:.1}H{:.1}",
            frame.scale.map(height / frame.divisor),
            x_scale.map_clamped(upper)
        );
    }
    let _ = write!(path, "V{zero:.1}Z");
    path
}
