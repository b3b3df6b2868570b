//! `shadowgate data generate` run as the real binary into SQLite files.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

const MANIFEST: &str = r#"
[app]
name = "shop"

[releases.v1]
path = "dist/v1"

[run]
command = "./shop --port {port}"

[data]
seed = 3

[[data.tables]]
name = "orders"
rows = "predicted"

[[data.tables.columns]]
name = "id"
gen = "sequence"

[[data.tables.columns]]
name = "customer_id"
gen = "foreign_key"
references = "customers.id"

[[data.tables.columns]]
name = "status"
gen = "categorical"
values = ["paid", "shipped"]

[[data.tables]]
name = "customers"
rows = 300

[[data.tables.columns]]
name = "id"
gen = "sequence"

[[data.tables.columns]]
name = "name"
gen = "text"
"#;

fn shadowgate(home: &Path, args: &[&str]) -> Output {
    Command::new(support::bin())
        .args(args)
        .env("SHADOWGATE_HOME", home)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run shadowgate")
}

fn dump(path: &Path) -> Vec<String> {
    let db = rusqlite::Connection::open(path).unwrap();
    let mut out = Vec::new();
    for sql in [
        "SELECT id || ',' || customer_id || ',' || status FROM orders ORDER BY id",
        "SELECT id || ',' || name FROM customers ORDER BY id",
    ] {
        let mut stmt = db.prepare(sql).unwrap();
        out.extend(stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap));
    }
    out
}

#[test]
fn generate_into_sqlite_with_predicted_rows_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let manifest = dir.path().join("shadowgate.toml");
    std::fs::write(&manifest, MANIFEST).unwrap();
    let conditions = dir.path().join("conditions.json");
    std::fs::write(
        &conditions,
        r#"{"version":1,"app":"shop","generated_at_unix_ms":0,"horizon_seconds":3600,"data_volume":[{"table":"orders","rows":1234.4,"metric":"rows"}]}"#,
    )
    .unwrap();
    let (m, c) = (manifest.to_str().unwrap(), conditions.to_str().unwrap());

    // Without a prediction, rows = "predicted" is an error that says what to do.
    let out =
        shadowgate(&home, &["data", "generate", "--manifest", m, "--into", "sqlite:/dev/null"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("table `orders` has rows = \"predicted\""), "{err}");

    let mut dumps = Vec::new();
    for name in ["a.db", "b.db"] {
        let db = dir.path().join(name);
        let target = format!("sqlite:{}", db.display());
        let out = shadowgate(
            &home,
            &["data", "generate", "--manifest", m, "--into", &target, "--conditions", c, "--json"],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["seed"], 3);
        assert_eq!(report["rows"], 1234 + 300);
        assert_eq!(report["tables"][0]["table"], "customers");
        dumps.push(dump(&db));
    }
    assert_eq!(dumps[0], dumps[1]);
    assert_eq!(dumps[0].len(), 1534);

    // Another seed, other rows.
    let db = dir.path().join("c.db");
    let target = format!("sqlite:{}", db.display());
    let out = shadowgate(
        &home,
        &["data", "generate", "--manifest", m, "--into", &target, "--conditions", c, "--seed", "4"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("seed 4"));
    assert_ne!(dump(&db), dumps[0]);

    // A bad target is an error naming the accepted forms.
    let out = shadowgate(
        &home,
        &["data", "generate", "--manifest", m, "--into", "mysql://x", "--conditions", c],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("use postgres://... or sqlite:FILE"));
}
