//! Golden tests: the fixed report rendered as JSON, JUnit, HTML and terminal text must match
//! the files under `test_data/golden/`. Run with `UPDATE_GOLDEN=1` to rewrite them after a
//! deliberate change, and review the diff.

use crate::fixture::sample_report;
use std::{fs, path::PathBuf};

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test_data/golden").join(name)
}

/// Compares `actual` with the golden file `name`, or rewrites the file under `UPDATE_GOLDEN`.
fn check_golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::create_dir_all(path.parent().expect("golden files live in a directory"))
            .expect("create the golden directory");
        fs::write(&path, actual).expect("write the golden file");
        return;
    }
    let expected = fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!("cannot read {} ({error}); run with UPDATE_GOLDEN=1 to create it", path.display())
    });
    if expected == actual {
        return;
    }
    let line = expected
        .lines()
        .zip(actual.lines())
        .position(|(expected, actual)| expected != actual)
        .unwrap_or(expected.lines().count().min(actual.lines().count()));
    panic!(
        "{name} differs from its golden file at line {} (UPDATE_GOLDEN=1 to accept):\n\
         expected: {:?}\nactual:   {:?}",
        line + 1,
        expected.lines().nth(line).unwrap_or("<end of file>"),
        actual.lines().nth(line).unwrap_or("<end of file>")
    );
}

#[test]
fn json_matches_golden() {
    check_golden("report.json", &shadowgate_report::to_json(&sample_report()));
}

#[test]
fn junit_matches_golden() {
    check_golden("report.junit.xml", &shadowgate_report::to_junit(&sample_report()));
}

#[test]
fn html_matches_golden() {
    check_golden("report.html", &shadowgate_report::to_html(&sample_report()));
}

#[test]
fn terminal_summary_matches_golden() {
    check_golden("summary.txt", &shadowgate_report::summary_text(&sample_report()));
}
