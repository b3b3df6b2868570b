//! `[data]` loaded into an environment's PostgreSQL (root, as CI runs): the rows are there
//! before the install steps run, the application reads them through its fault proxy, two
//! environments of the same manifest hold byte-identical tables, the load is an event, and
//! `check --conditions` takes row counts from a predicted-conditions document.

mod support;

use std::{
    path::PathBuf,
    process::{Command, Stdio},
};

use support::{bin, http_get_json, require_root};

/// The application: `/rows` asks PostgreSQL (with `psql`, through `SHADOWGATE_DEP_DB_URL`) for
/// each table's row count and the md5 of its rows in key order; `/install` returns what the
/// install step saw.
const APP: &str = r#"
import http.server, json, os, subprocess, sys

URL = os.environ["SHADOWGATE_DEP_DB_URL"]
SQL = ("select (select count(*) from customers), (select count(*) from orders), "
       "(select md5(string_agg(c::text, ',' order by id)) from customers c), "
       "(select md5(string_agg(o::text, ',' order by id)) from orders o)")

class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        if self.path == "/healthz":
            body = {"ok": True}
        elif self.path == "/rows":
            out = subprocess.run(["psql", URL, "-Atc", SQL], capture_output=True, text=True)
            c, o, cm, om = out.stdout.strip().split("|") if out.returncode == 0 else [out.stderr] * 4
            body = {"customers": c, "orders": o, "customers_md5": cm, "orders_md5": om}
        elif self.path == "/install":
            body = {"seen": open(os.path.join(sys.argv[2], "seen")).read().strip()}
        else:
            body = {}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;

const INSTALL: &str = r#"
set -eu
psql "$SHADOWGATE_DEP_DB_URL" -Atc "select count(*) from orders" > "$1/seen"
"#;

const MANIFEST: &str = r#"
[app]
name = "dataload"

[releases.r1]
path = "rel"

[[install]]
name = "count"
command = "sh {release_dir}/install.sh {data_dir}"

[run]
command = "python3 {release_dir}/app.py {port} {data_dir}"

[run.health]
http = "/healthz"
timeout = "20s"

[dependencies.db]
kind = "postgres"
database = "shop"
user = "app"

[data]
seed = 11

[[data.tables]]
name = "customers"
rows = 2000

[[data.tables.columns]]
name = "id"
gen = "sequence"

[[data.tables.columns]]
name = "country"
gen = "categorical"
values = ["DE", "FR", "US"]
weights = [3, 1, 6]

[[data.tables]]
name = "orders"
rows = 30000

[[data.tables.columns]]
name = "id"
gen = "sequence"

[[data.tables.columns]]
name = "customer_id"
gen = "foreign_key"
references = "customers.id"

[[data.tables.columns]]
name = "total"
gen = "normal"
mean = 40.0
stddev = 10.0
decimals = 2
"#;

struct DataSandbox {
    dir: tempfile::TempDir,
}

impl DataSandbox {
    fn new() -> DataSandbox {
        DataSandbox::with_manifest(MANIFEST)
    }

    fn with_manifest(manifest: &str) -> DataSandbox {
        require_root();
        let dir = tempfile::tempdir().unwrap();
        let rel = dir.path().join("rel");
        std::fs::create_dir_all(&rel).unwrap();
        std::fs::write(rel.join("app.py"), APP).unwrap();
        std::fs::write(rel.join("install.sh"), INSTALL).unwrap();
        std::fs::write(dir.path().join("shadowgate.toml"), manifest).unwrap();
        DataSandbox { dir }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn shadowgate(&self, args: &[&str]) -> std::process::Output {
        Command::new(bin())
            .args(args)
            .env("SHADOWGATE_HOME", self.home())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn up(&self) -> (String, String) {
        let manifest = self.dir.path().join("shadowgate.toml");
        let out = self.shadowgate(&[
            "env",
            "up",
            "--release",
            "r1",
            "--detach",
            "--json",
            "--manifest",
            manifest.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "env up failed: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (v["id"].as_str().unwrap().to_string(), v["endpoint"].as_str().unwrap().to_string())
    }

    fn loaded_event(&self, id: &str) -> serde_json::Value {
        self.loaded_events(Some(id))
            .pop()
            .unwrap_or_else(|| panic!("no data_loaded event for {id}"))
    }

    /// The data of every `data_loaded` event (of one environment, or of all).
    fn loaded_events(&self, id: Option<&str>) -> Vec<serde_json::Value> {
        let store =
            shadowgate_store::SqliteStore::open(&self.home().join("shadowgate.db")).unwrap();
        let events = shadowgate_store::Store::events(
            &store,
            &shadowgate_store::EventQuery { env_id: id.map(Into::into), ..Default::default() },
        )
        .unwrap();
        events.into_iter().filter(|e| e.kind == "data_loaded").map(|e| e.data).collect()
    }
}

impl Drop for DataSandbox {
    fn drop(&mut self) {
        let _ = self.shadowgate(&["env", "down", "--all"]);
    }
}

#[test]
fn data_is_loaded_before_install_identically_in_every_environment_and_recorded() {
    let sandbox = DataSandbox::new();
    let (a, a_endpoint) = sandbox.up();
    let (b, b_endpoint) = sandbox.up();
    let rows_a = http_get_json(&a_endpoint, "/rows").unwrap();
    let rows_b = http_get_json(&b_endpoint, "/rows").unwrap();
    assert_eq!(rows_a["customers"], "2000", "{rows_a}");
    assert_eq!(rows_a["orders"], "30000", "{rows_a}");
    let md5 = rows_a["orders_md5"].as_str().unwrap();
    assert_eq!(md5.len(), 32, "{rows_a}");
    assert_eq!(rows_a, rows_b, "both environments hold the same rows");
    // The install step ran after the load.
    assert_eq!(http_get_json(&a_endpoint, "/install").unwrap()["seen"], "30000");
    for id in [&a, &b] {
        let event = sandbox.loaded_event(id);
        assert_eq!(event["dependency"], "db");
        assert_eq!(event["seed"], 11);
        assert_eq!(event["rows"], 32000);
        assert_eq!(event["tables"]["orders"], 30000);
        assert!(event["seconds"].as_f64().unwrap() > 0.0, "{event}");
    }
}

#[test]
fn check_takes_row_counts_from_the_predicted_conditions_for_both_releases() {
    let manifest = MANIFEST.replace("rows = 30000", "rows = \"predicted\"")
        + "\n[traffic]\nrate = 20\nwarmup = \"1s\"\nduration = \"2s\"\n\n[[traffic.requests]]\npath = \"/healthz\"\n";
    let sandbox = DataSandbox::with_manifest(&manifest);
    let conditions = sandbox.dir.path().join("conditions.json");
    std::fs::write(
        &conditions,
        serde_json::json!({
            "version": 1,
            "app": "dataload",
            "generated_at_unix_ms": 0,
            "horizon_seconds": 3600,
            "data_volume": [{"table": "orders", "rows": 12345.4, "metric": "orders_rows"}],
        })
        .to_string(),
    )
    .unwrap();
    let out = sandbox.shadowgate(&[
        "check",
        "--json",
        "--baseline",
        "r1",
        "--candidate",
        "r1",
        "--manifest",
        sandbox.dir.path().join("shadowgate.toml").to_str().unwrap(),
        "--conditions",
        conditions.to_str().unwrap(),
        "--out",
        sandbox.dir.path().join("out").to_str().unwrap(),
    ]);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "check could not run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = sandbox.loaded_events(None);
    assert_eq!(events.len(), 2, "one load per environment: {events:?}");
    for event in &events {
        assert_eq!(event["tables"]["orders"], 12345, "{event}");
        assert_eq!(event["tables"]["customers"], 2000, "{event}");
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report.to_string().contains("orders = 12345 rows"),
        "the report lists the data volume as applied: {report}"
    );
}
