//! Unit tests of number formatting.

use super::*;

#[test]
fn significant_digits_round_and_carry() {
    assert_eq!(significant(0.0038946, 2), "0.0039");
    assert_eq!(significant(9.96, 2), "10");
    assert_eq!(significant(9.96, 3), "9.96");
    assert_eq!(significant(0.999, 2), "1.0");
    assert_eq!(significant(157.3, 2), "157");
    assert_eq!(significant(-2.345, 3), "-2.35");
    assert_eq!(significant(0.0, 3), "0");
}

#[test]
fn percentages_carry_signs_and_sensible_precision() {
    assert_eq!(percent(0.096), "+9.6%");
    assert_eq!(percent(0.38), "+38%");
    assert_eq!(percent(-0.0012), "-0.12%");
    assert_eq!(percent(0.0), "+0%");
    assert_eq!(share(0.003), "0.30%");
    assert_eq!(share(0.0), "0%");
}

#[test]
fn quantities_use_readable_units() {
    assert_eq!(quantity(0.0201, Unit::Seconds), "20.1 ms");
    assert_eq!(quantity(1.5, Unit::Seconds), "1.50 s");
    assert_eq!(quantity(0.000_45, Unit::Seconds), "450 µs");
    assert_eq!(quantity(0.0, Unit::Seconds), "0 s");
    assert_eq!(quantity(157_286_400.0, Unit::Bytes), "150 MiB");
    assert_eq!(quantity(512.0, Unit::Bytes), "512 B");
    assert_eq!(quantity(0.352, Unit::Cores), "0.352 cores");
    assert_eq!(quantity(12.345, Unit::Unspecified), "12.35");
    assert_eq!(quantity(1.5e9, Unit::Unspecified), "1.500e9");
    assert_eq!(signed_quantity(-0.002, Unit::Seconds), "-2.00 ms");
}

#[test]
fn small_helpers() {
    assert_eq!(thousands(3000), "3,000");
    assert_eq!(thousands(1_234_567), "1,234,567");
    assert_eq!(thousands(12), "12");
    assert_eq!(confidence_percent(0.99), "99%");
    assert_eq!(confidence_percent(0.995), "99.5%");
    assert_eq!(score_value(88.888_888), "88.89");
    assert_eq!(score_value(100.0), "100");
    assert_eq!(p_value(0.00389), "p = 0.0039");
    assert_eq!(p_value(3e-9), "p < 0.0001");
    assert_eq!(ratio(2.06), "2.1×");
    assert_eq!(counted(1, "value"), "1 value");
    assert_eq!(counted(1200, "non-finite value"), "1,200 non-finite values");
    assert_eq!(exposure(3000.0), "3,000");
}
