//! Number, unit and date formatting.

use super::*;

#[test]
fn significant_rounds_to_digits_and_drops_trailing_zeros() {
    assert_eq!(significant(0.4204, 3), "0.42");
    assert_eq!(significant(0.0012345, 2), "0.0012");
    assert_eq!(significant(50.0, 3), "50");
    assert_eq!(significant(12.26, 3), "12.3");
}

#[test]
fn significant_settles_a_carry_and_keeps_integer_digits() {
    assert_eq!(significant(9.96, 2), "10");
    assert_eq!(significant(0.0999, 2), "0.1");
    assert_eq!(significant(1234.0, 2), "1234");
}

#[test]
fn significant_writes_no_negative_zero_and_names_nan() {
    assert_eq!(significant(-0.0, 3), "0");
    assert_eq!(significant(-0.26, 1), "-0.3");
    assert_eq!(significant(f64::NAN, 3), "n/a");
    assert_eq!(significant(f64::INFINITY, 3), "inf");
}

#[test]
fn thousands_groups_digits() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(1_234_567), "1,234,567");
}

#[test]
fn units_pick_a_readable_scale() {
    assert_eq!(milliseconds(0.42), "0.42 ms");
    assert_eq!(milliseconds(1250.0), "1.25 s");
    assert_eq!(bytes(512.0 * 1024.0 * 1024.0), "512 MiB");
    assert_eq!(bytes(1.5 * 1024.0 * 1024.0 * 1024.0), "1.5 GiB");
    assert_eq!(bytes(900.0), "900 B");
    assert_eq!(cores(1.0), "1 core");
    assert_eq!(cores(0.4204), "0.42 cores");
    assert_eq!(quantity(0.0000425, Unit::Seconds), "42.5 µs");
    assert_eq!(quantity(0.0136, Unit::Seconds), "13.6 ms");
    assert_eq!(signed_quantity(-0.002, Unit::Seconds), "-2 ms");
}

#[test]
fn percentages_and_p_values_read_like_the_judge() {
    assert_eq!(signed_percent(0.096), "+9.6%");
    assert_eq!(signed_percent(-0.31), "-31%");
    assert_eq!(percent(0.00067), "0.067%");
    assert_eq!(percent_number(2.5), "2.5%");
    assert_eq!(confidence(0.99), "99%");
    assert_eq!(confidence(0.995), "99.5%");
    assert_eq!(p_value(0.00004), "< 0.0001");
    assert_eq!(p_value(0.0042), "0.0042");
    assert_eq!(p_clause(0.00004), "p < 0.0001");
    assert_eq!(p_clause(0.0042), "p = 0.0042");
    assert_eq!(ratio(7.04), "7×");
    assert_eq!(score(87.5), "87.5");
    assert_eq!(score(100.0), "100");
}

#[test]
fn durations_switch_units_with_their_length() {
    assert_eq!(duration_ms(850), "850 ms");
    assert_eq!(duration_ms(42_500), "42.5 s");
    assert_eq!(duration_ms(185_000), "3 min 05 s");
    assert_eq!(duration_ms(3_720_000), "1 h 02 min");
}

#[test]
fn dates_match_the_calendar_across_leap_days_and_centuries() {
    // The expected values are what `date -u -d @SECONDS` prints.
    assert_eq!(utc_datetime(0), "1970-01-01 00:00:00 UTC");
    assert_eq!(utc_datetime(1_795_459_573_000), "2026-11-23 18:46:13 UTC");
    assert_eq!(utc_datetime(951_782_400_000), "2000-02-29 00:00:00 UTC");
    assert_eq!(utc_datetime(4_107_542_400_000), "2100-03-01 00:00:00 UTC");
    assert_eq!(iso_datetime(253_402_300_799_999), "9999-12-31T23:59:59");
}
