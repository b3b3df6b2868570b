//! `shadowgate check` end to end on the bundled example: A/A must pass and v1 against v2
//! must fail, each in at least 19 of 20 runs with different request sequences; then
//! `shadowgate demo`, which does the same on PostgreSQL under production's conditions.
//!
//! Needs root, like every test that starts environments. The example's releases are built
//! once by the first check (their `build` commands), then reused with `--no-build`.

mod support;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

const RUNS: u64 = 20;

fn example_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/inventory/shadowgate.toml")
}

fn check(home: &Path, baseline: &str, candidate: &str, seed: u64, extra: &[&str]) -> Output {
    Command::new(support::bin())
        .args(["check", "--json", "--baseline", baseline, "--candidate", candidate])
        .arg("--manifest")
        .arg(example_manifest())
        .args(["--warmup", "3s", "--duration", "12s", "--seed", &seed.to_string()])
        .args(extra)
        .env("SHADOWGATE_HOME", home)
        .env("NO_COLOR", "1")
        .output()
        .expect("run shadowgate check")
}

/// The decision of a finished check, checked against its exit code.
fn decision(out: &Output) -> (String, serde_json::Value) {
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check printed no JSON ({e}); exit {:?}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let decision = doc["verdict"]["decision"].as_str().expect("verdict.decision").to_string();
    let expected_code = if decision == "pass" { 0 } else { 1 };
    assert_eq!(out.status.code(), Some(expected_code), "exit code of a `{decision}` verdict");
    (decision, doc)
}

fn failed_metrics(doc: &serde_json::Value) -> Vec<String> {
    doc["verdict"]["metrics"]
        .as_array()
        .expect("verdict.metrics")
        .iter()
        .filter(|m| m["outcome"] == "fail")
        .map(|m| m["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn aa_passes_and_v1_against_v2_fails_in_19_of_20_runs() {
    support::require_root();
    let home = tempfile::tempdir().unwrap();
    let out_dir = home.path().join("first-report");

    // The first A/A check builds v1 and writes the report files; the first v1-vs-v2 check
    // builds v2.
    let first_aa = ["--out", out_dir.to_str().unwrap()];
    let mut aa = Vec::new();
    let mut ab = Vec::new();
    for seed in 0..RUNS {
        let first = seed == 0;
        let extra: &[&str] = if first { &first_aa } else { &["--no-build"] };
        let (d, doc) = decision(&check(home.path(), "v1", "v1", seed + 1, extra));
        if d != "pass" {
            eprintln!("A/A run {seed} gave {d}: failed metrics {:?}", failed_metrics(&doc));
        }
        aa.push(d);
        let extra: &[&str] = if first { &[] } else { &["--no-build"] };
        let (d, doc) = decision(&check(home.path(), "v1", "v2", seed + 1, extra));
        let failed = failed_metrics(&doc);
        if d == "fail" {
            assert!(
                failed.iter().any(|m| m.contains("latency")),
                "v2's regression is in latency; failed metrics: {failed:?}"
            );
        } else {
            eprintln!("v1-vs-v2 run {seed} gave {d}");
        }
        ab.push(d);
    }
    let aa_passed = aa.iter().filter(|d| *d == "pass").count();
    let ab_failed = ab.iter().filter(|d| *d == "fail").count();
    eprintln!("A/A passed {aa_passed}/{RUNS}; v1 vs v2 failed {ab_failed}/{RUNS}");
    assert!(aa_passed >= 19, "A/A passed only {aa_passed} of {RUNS}: {aa:?}");
    assert!(ab_failed >= 19, "v1 vs v2 failed only {ab_failed} of {RUNS}: {ab:?}");

    // The first run's reports: all three files, and the JSON is the document printed.
    for name in ["report.json", "report.junit.xml", "report.html"] {
        let path = out_dir.join(name);
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(len > 500, "{} is missing or nearly empty ({len} bytes)", path.display());
    }
    let junit = std::fs::read_to_string(out_dir.join("report.junit.xml")).unwrap();
    assert!(junit.contains("<testcase") && junit.contains("p99_latency"), "{junit}");

    // Every run is in the store: 40 of them, listed by `runs ls`.
    let ls = Command::new(support::bin())
        .args(["runs", "ls", "--json", "-n", "100"])
        .env("SHADOWGATE_HOME", home.path())
        .output()
        .unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    let runs = runs.as_array().or_else(|| runs["runs"].as_array()).expect("a list of runs");
    assert_eq!(runs.len() as u64, 2 * RUNS, "runs ls lists every check");

    // Then the demo, in the same test so that its four environments and their PostgreSQL
    // servers do not share the machine with the twenty checks above.
    demo_on_postgresql_catches_what_only_production_conditions_reveal(home.path());
}

/// `shadowgate demo`: the example on PostgreSQL, with production's data volume, database
/// latency and a latency spike. A/A passes; v1 against v2 fails, and among the reasons is the
/// customer-orders endpoint, whose one-query-per-order listing only shows over a real link.
fn demo_on_postgresql_catches_what_only_production_conditions_reveal(home: &Path) {
    let out = home.join("demo");
    let output = Command::new(support::bin())
        .args(["demo", "--json", "--out"])
        .arg(&out)
        .env("SHADOWGATE_HOME", home)
        .env("NO_COLOR", "1")
        .output()
        .expect("run shadowgate demo");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("demo printed no JSON ({e}); stderr:\n{stderr}"));
    eprintln!("demo: {doc}");
    assert_eq!(doc["aa"]["decision"], "pass", "A/A on PostgreSQL: {doc}");
    assert_eq!(doc["ab"]["decision"], "fail", "v1 vs v2 on PostgreSQL: {doc}");
    assert_eq!(output.status.code(), Some(0), "both checks as expected: {stderr}");
    let regressed: Vec<&str> = doc["ab"]["regressed"]
        .as_array()
        .expect("ab.regressed")
        .iter()
        .filter_map(|m| m["metric"].as_str())
        .collect();
    assert!(regressed.contains(&"customer_orders_latency"), "{regressed:?}");
    // Both checks ran with the database link's latency and the spike, on both arms.
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("v1-vs-v1/report.json")).expect("the A/A report"),
    )
    .unwrap();
    let text = report.to_string();
    assert!(text.contains("network.db.latency"), "the conditions are reported: {text:.2000}");
    assert!(text.contains("database latency spike"), "the scenario is reported: {text:.2000}");
}
