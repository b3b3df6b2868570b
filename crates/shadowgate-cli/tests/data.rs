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

#[test]
fn derive_from_a_csv_sample_then_generate_without_raw_sensitive_values() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let mut csv = String::from("email,salary,plan\n");
    let mut raw = Vec::new();
    for i in 0..3000 {
        let email = format!("user{}@corp.example", if i % 3 == 0 { i % 7 } else { i });
        let salary = 40_000.0 + (i * 7919 % 50_000) as f64 + 0.1234;
        csv.push_str(&format!("{email},{salary},{}\n", ["free", "pro", "team"][i % 3]));
        raw.push(email);
        raw.push(salary.to_string());
    }
    let sample = dir.path().join("sample.csv");
    std::fs::write(&sample, csv).unwrap();
    let derived = dir.path().join("users.toml");
    let out = shadowgate(
        &home,
        &[
            "data",
            "derive",
            "--input",
            sample.to_str().unwrap(),
            "--table",
            "users",
            "--rows",
            "5000",
            "--numeric",
            "salary=0:100000:25",
            "--sensitive",
            "email,salary",
            "--epsilon",
            "0.5",
            "--out",
            derived.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = std::fs::read_to_string(&derived).unwrap();
    assert!(table.contains("gen = \"histogram\"") && table.contains("sensitive = true"), "{table}");
    assert!(!table.contains("@corp.example"), "{table}");

    let manifest = dir.path().join("shadowgate.toml");
    std::fs::write(
        &manifest,
        format!("{}\n{table}", &MANIFEST[..MANIFEST.find("[data]").unwrap()]),
    )
    .unwrap();
    let db = dir.path().join("users.db");
    let target = format!("sqlite:{}", db.display());
    let out = shadowgate(
        &home,
        &["data", "generate", "--manifest", manifest.to_str().unwrap(), "--into", &target],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut stmt = conn.prepare("SELECT email, CAST(salary AS TEXT), plan FROM users").unwrap();
    let cells: std::collections::HashSet<String> = stmt
        .query_map([], |r| {
            Ok([r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?])
        })
        .unwrap()
        .flat_map(|r| r.unwrap())
        .collect();
    assert!(cells.contains("pro"), "the non-sensitive categories are kept");
    assert!(cells.iter().all(|c| !c.contains("@corp.example")));
    for v in &raw {
        assert!(!cells.contains(v), "raw value {v} in the generated table");
    }

    // A bad --numeric is an error naming the expected form.
    let out = shadowgate(
        &home,
        &[
            "data",
            "derive",
            "--input",
            sample.to_str().unwrap(),
            "--table",
            "u",
            "--numeric",
            "salary=0-100",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected COLUMN=LO:HI"));
}
