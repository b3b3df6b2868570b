//! Scales and tick choice.

use super::*;

#[test]
fn ticks_from_zero_use_round_steps_and_reach_the_maximum() {
    assert_eq!(ticks_from_zero(87.0, 4).values, [0.0, 25.0, 50.0, 75.0, 100.0]);
    assert_eq!(ticks_from_zero(1.5, 4).values, [0.0, 0.5, 1.0, 1.5]);
    let small = ticks_from_zero(0.9, 4);
    assert_eq!(small.decimals, 2);
    assert_eq!(small.label(0.25), "0.25");
    assert_eq!(ticks_from_zero(300.0, 4).values, [0.0, 100.0, 200.0, 300.0]);
}

#[test]
fn ticks_from_zero_survive_an_empty_or_broken_range() {
    for max in [0.0, -5.0, f64::NAN, f64::INFINITY] {
        let ticks = ticks_from_zero(max, 4);
        assert_eq!(ticks.values.first(), Some(&0.0), "max {max}");
        assert!(ticks.top() > 0.0 && ticks.top().is_finite(), "max {max}");
    }
}

#[test]
fn time_ticks_use_clock_friendly_steps() {
    assert_eq!(time_ticks(60.0, 6).values, [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]);
    assert_eq!(time_ticks(61.0, 6).values, [0.0, 15.0, 30.0, 45.0, 60.0, 75.0]);
    let long = time_ticks(600.0, 6);
    assert_eq!(long.values, [0.0, 120.0, 240.0, 360.0, 480.0, 600.0]);
    let day = time_ticks(86_400.0, 6);
    assert!(day.values.windows(2).all(|pair| (pair[1] - pair[0]) % 3600.0 == 0.0));
    assert!(day.top() >= 86_400.0);
}

#[test]
fn log_ticks_add_halving_marks_only_on_short_ranges() {
    assert_eq!(log_ticks(7.0, 60.0), [10.0, 20.0, 50.0]);
    assert_eq!(log_ticks(0.5, 5000.0), [1.0, 10.0, 100.0, 1000.0]);
    assert_eq!(log_ticks(10.0, 100.0), [10.0, 20.0, 50.0, 100.0]);
    assert!(log_ticks(0.0, 10.0).is_empty());
    assert!(log_ticks(10.0, 10.0).is_empty());
}

#[test]
fn scales_map_their_domain_onto_their_range() {
    let linear = Scale::linear((0.0, 100.0), (200.0, 0.0));
    assert_eq!(linear.map(0.0), 200.0);
    assert_eq!(linear.map(25.0), 150.0);
    assert_eq!(linear.map_clamped(150.0), 0.0);
    let log = Scale::log((1.0, 100.0), (0.0, 400.0));
    assert!((log.map(10.0) - 200.0).abs() < 1e-9);
    assert_eq!(log.map(-3.0), 0.0);
}

#[test]
fn a_degenerate_domain_still_maps_to_finite_positions() {
    let flat = Scale::linear((5.0, 5.0), (0.0, 100.0));
    assert!(flat.map(5.0).is_finite());
    let zero = Scale::linear((0.0, 0.0), (0.0, 100.0));
    assert_eq!(zero.map(1.0), 100.0);
    let broken = Scale::linear((f64::NAN, 1.0), (0.0, 100.0));
    assert!(broken.map(0.5).is_finite());
}
