//! Reference values for the unit tests, produced by SciPy and R (see `test_data/`).

use serde_json::Value;

/// SciPy's values, written by `test_data/scipy_reference.py`.
pub(crate) fn scipy() -> Value {
    parse(include_str!("../test_data/scipy_reference.json"))
}

/// R's `wilcox.test` outputs recorded in Kayenta's test suite.
pub(crate) fn r_wilcox() -> Value {
    parse(include_str!("../test_data/r_wilcox_kayenta.json"))
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("reference data in test_data/ is valid JSON")
}

/// The numbers of a JSON array.
pub(crate) fn numbers(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|item| item.as_f64().expect("a JSON number"))
        .collect()
}

/// Asserts `actual` is within `relative` of `expected` (or within `relative` absolutely when
/// `expected` is zero).
#[track_caller]
pub(crate) fn assert_close(actual: f64, expected: f64, relative: f64, what: &str) {
    let scale = expected.abs().max(f64::MIN_POSITIVE);
    let error = (actual - expected).abs();
    let allowed = if expected == 0.0 { relative } else { relative * scale };
    assert!(
        error <= allowed,
        "{what}: got {actual:e}, expected {expected:e} (error {error:e}, allowed {allowed:e})"
    );
}
