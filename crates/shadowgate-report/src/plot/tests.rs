//! Drawing: paths, thinning, shaded windows and axes.

use super::*;

fn time_chart(series: Vec<Series>, shades: Vec<Shade>) -> Chart {
    Chart {
        key: "test-chart",
        title: "Test chart".to_string(),
        x_axis: XAxis::Time { end_ms: 60_000 },
        y_axis: YAxis::Milliseconds,
        series,
        shades,
    }
}

fn line(arm: Arm, points: Vec<(f64, f64)>) -> Series {
    Series {
        name: format!("{} p99", arm.name()),
        arm,
        line: LineStyle::Solid,
        shape: SeriesShape::Line,
        points,
    }
}

fn shade(kind: ShadeKind, start_ms: u64, end_ms: Option<u64>, label: &str) -> Shade {
    Shade { kind, start_ms, end_ms, label: label.to_string(), title: format!("{label} title") }
}

fn frame(max: f64) -> VerticalFrame {
    let ticks = scale::ticks_from_zero(max, 4);
    let scale = Scale::linear((0.0, ticks.top()), (PLOT_BOTTOM, PLOT_TOP));
    VerticalFrame { divisor: 1.0, ticks, scale }
}

fn move_count(path: &str) -> usize {
    path.matches('M').count()
}

#[test]
fn a_line_breaks_where_a_value_is_missing() {
    let x_scale = Scale::linear((0.0, 10.0), (PLOT_LEFT, PLOT_RIGHT));
    let points = [(0.0, 1.0), (1.0, 2.0), (2.0, f64::NAN), (3.0, 2.0), (4.0, 1.0)];
    let path = line_path(&points, &x_scale, &frame(2.0));
    assert_eq!(move_count(&path), 2, "{path}");
    assert_eq!(path.matches('L').count(), 2, "{path}");
}

#[test]
fn an_isolated_point_is_drawn_as_a_dot() {
    let x_scale = Scale::linear((0.0, 10.0), (PLOT_LEFT, PLOT_RIGHT));
    let points = [(0.0, 1.0), (1.0, f64::NAN), (2.0, 2.0), (3.0, 1.0)];
    let path = line_path(&points, &x_scale, &frame(2.0));
    assert_eq!(path.matches("h0").count(), 1, "{path}");
    assert!(path.split('M').nth(1).is_some_and(|first| first.ends_with("h0")), "{path}");
}

#[test]
fn thinning_keeps_at_most_two_points_per_pixel_and_every_spike() {
    let x_scale = Scale::linear((0.0, 100_000.0), (PLOT_LEFT, PLOT_RIGHT));
    let mut points: Vec<(f64, f64)> = (0..100_000).map(|t| (t as f64, 10.0)).collect();
    points[54_321].1 = 95.0;
    let frame = frame(100.0);
    let path = line_path(&points, &x_scale, &frame);
    let drawn = move_count(&path) + path.matches('L').count();
    let pixels = (PLOT_RIGHT - PLOT_LEFT) as usize + 1;
    assert!(drawn <= 2 * pixels, "{drawn} points for {pixels} columns");
    let spike_y = format!(" {:.1}", frame.scale.map(95.0));
    assert!(path.contains(&spike_y), "the spike at {spike_y} is missing");
}

#[test]
fn a_histogram_outline_starts_and_ends_on_the_axis() {
    let x_scale = Scale::log((1.0, 100.0), (PLOT_LEFT, PLOT_RIGHT));
    let frame = frame(50.0);
    let path = step_path(1.0, &[(10.0, 40.0), (100.0, 10.0)], &x_scale, &frame);
    let axis = format!("{:.1}", frame.scale.map(0.0));
    assert!(path.starts_with(&format!("M{PLOT_LEFT:.1} {axis}")), "{path}");
    assert!(path.ends_with(&format!("V{axis}Z")), "{path}");
    assert_eq!(path.matches('H').count(), 2);
    assert!(step_path(1.0, &[(f64::NAN, 1.0)], &x_scale, &frame).is_empty());
}

#[test]
fn every_series_and_shaded_window_is_drawn_once() {
    let points = |level: f64| (0..60).map(|s| (s as f64 * 1000.0, level)).collect();
    let chart = time_chart(
        vec![line(Arm::Baseline, points(10.0)), line(Arm::Candidate, points(12.0))],
        vec![
            shade(ShadeKind::Warmup, 0, Some(10_000), "warm-up"),
            shade(ShadeKind::Event, 30_000, Some(38_000), "E1 fault"),
            shade(ShadeKind::Event, 45_000, None, "E2 restart"),
        ],
    );
    let svg = chart.render();
    assert_eq!(svg.matches("<g class=\"series\"").count(), 2);
    assert_eq!(svg.matches("class=\"shade ").count(), 3);
    assert_eq!(svg.matches("<rect class=\"shade ").count(), 2);
    assert_eq!(svg.matches("<line class=\"shade shade-event instant\"").count(), 1);
    assert_eq!(svg.matches("class=\"shade-label").count(), 3);
    assert!(svg.contains("<title>E1 fault title</title>"));
    assert!(!svg.contains("no data recorded"));
}

#[test]
fn labels_of_neighbouring_windows_go_on_different_rows() {
    let chart = time_chart(
        Vec::new(),
        vec![
            shade(ShadeKind::Event, 20_000, None, "E1 OOM kill"),
            shade(ShadeKind::Event, 20_500, None, "E2 restart"),
        ],
    );
    let svg = chart.render();
    let label_ys: Vec<&str> = svg
        .split("class=\"shade-label")
        .skip(1)
        .filter_map(|rest| rest.split(" y=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(label_ys.len(), 2);
    assert_ne!(label_ys[0], label_ys[1]);
}

#[test]
fn a_chart_without_points_says_so() {
    let chart = time_chart(vec![line(Arm::Baseline, vec![(0.0, f64::NAN)])], Vec::new());
    let svg = chart.render();
    assert!(svg.contains("no data recorded"));
    assert_eq!(svg.matches("<g class=\"series\"").count(), 0);
}

#[test]
fn axes_label_ticks_with_units_that_fit_the_values() {
    let memory = Chart {
        y_axis: YAxis::Bytes,
        ..time_chart(vec![line(Arm::Baseline, vec![(0.0, 300.0 * 1048576.0)])], Vec::new())
    };
    assert!(memory.render().contains(">300 MiB</text>"));
    let big_memory = Chart {
        y_axis: YAxis::Bytes,
        ..time_chart(vec![line(Arm::Baseline, vec![(0.0, 6.0 * 1073741824.0)])], Vec::new())
    };
    assert!(big_memory.render().contains(" GiB</text>"));
    let slow = time_chart(vec![line(Arm::Baseline, vec![(0.0, 4500.0)])], Vec::new());
    assert!(slow.render().contains(">6 s</text>"), "{}", slow.render());
    assert!(!slow.render().contains(" ms</text>"));
    let fast = time_chart(vec![line(Arm::Baseline, vec![(0.0, 45.0)])], Vec::new());
    assert!(fast.render().contains(">60 ms</text>"));
    assert!(fast.render().contains(">60 s</text>"));
}

#[test]
fn titles_and_legends_are_escaped() {
    let mut series = line(Arm::Candidate, vec![(0.0, 1.0)]);
    series.name = "<b>&".to_string();
    let chart = Chart { title: "\"<i>\"".to_string(), ..time_chart(vec![series], Vec::new()) };
    let svg = chart.render();
    assert!(!svg.contains("<b>") && !svg.contains("<i>"));
    assert!(svg.contains("&lt;b&gt;&amp;"));
}
