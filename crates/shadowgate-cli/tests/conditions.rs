//! `check` under a manifest's `[conditions]`: the limits, the rate and a dependency's latency
//! it declares are what both environments really get, and the report says where each came from.
//!
//! Needs root (namespaces, cgroups) and PostgreSQL's binaries, as CI has; never skipped.

mod support;

use std::path::Path;

const MANIFEST: &str = r#"[app]
name = "condapp"

[releases.r1]
path = "rel"

[releases.r2]
path = "rel"

[run]
command = "python3 {release_dir}/app.py {port} db={dep.db.url}"

[run.health]
http = "/healthz"
timeout = "20s"

[resources]
cpu = 1
memory = "512MiB"

[dependencies.db]
kind = "postgres"

[traffic]
rate = 20

[[traffic.requests]]
path = "/dep/db"

[conditions]
cpu = 0.5
memory = "256MiB"
rate = 10

[conditions.dependencies.db]
latency = "40ms"

[[tests]]
name = "db round trip"
command = "python3 rel/rtt.py"

[[tests]]
name = "limits"
command = "python3 rel/limits.py"
"#;

/// One query through the application; prints the round trip the application measured.
const RTT: &str = r#"import json, os, urllib.request
r = json.load(urllib.request.urlopen(os.environ["SHADOWGATE_URL"] + "/dep/db"))
assert r.get("answer"), r
print("rtt_ms", r["ms"])
"#;

/// The environment's own cgroup limits (v1 or v2), found by its id.
const LIMITS: &str = r#"import glob, os
env = os.environ["SHADOWGATE_ENV_ID"]
def read(name):
    found = glob.glob("/sys/fs/cgroup/**/*-" + env + "/" + name, recursive=True)
    return open(found[0]).read().split() if found else None
memory = read("memory.max") or read("memory.limit_in_bytes")
cpu = read("cpu.max") or (read("cpu.cfs_quota_us") + read("cpu.cfs_period_us"))
print("memory_bytes", memory[0])
print("cpu_cores", int(cpu[0]) / int(cpu[1]))
"#;

fn value_after<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key).map(str::trim))
        .unwrap_or_else(|| panic!("no `{key}` in:\n{text}"))
}

#[test]
fn check_applies_manifest_conditions_to_both_arms_and_names_their_sources() {
    support::require_root();
    let dir = tempfile::tempdir().unwrap();
    let rel = dir.path().join("rel");
    std::fs::create_dir_all(&rel).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deps-app/app.py");
    std::fs::copy(fixture, rel.join("app.py")).unwrap();
    std::fs::write(rel.join("rtt.py"), RTT).unwrap();
    std::fs::write(rel.join("limits.py"), LIMITS).unwrap();
    std::fs::write(dir.path().join("shadowgate.toml"), MANIFEST).unwrap();
    let output = std::process::Command::new(support::bin())
        .args(["check", "--json", "--baseline", "r1", "--candidate", "r2"])
        .args(["--warmup", "1s", "--duration", "5s", "--manifest"])
        .arg(dir.path().join("shadowgate.toml"))
        .env("SHADOWGATE_HOME", dir.path().join("home"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}), exit {:?}:\n{stderr}", output.status.code()));

    // The run's settings: each value with where it came from.
    let setting = |name: &str| -> (String, String) {
        let s = report["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no setting `{name}`: {:#}", report["settings"]));
        (s["value"].as_str().unwrap().to_string(), s["source"].as_str().unwrap().to_string())
    };
    assert_eq!(setting("cpu"), ("0.5 cores".into(), "conditions".into()));
    assert_eq!(setting("memory").1, "conditions");
    assert_eq!(setting("rate"), ("10/s".into(), "conditions".into()));
    assert_eq!(setting("network.db.latency"), ("40ms".into(), "conditions".into()));
    assert_eq!(setting("duration").1, "flag");
    assert_eq!(setting("pids").1, "manifest");
    let conditions = &report["conditions"];
    assert_eq!(conditions["origin"], "manifest", "{conditions:#}");
    let applied: Vec<&str> = conditions["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(applied, ["rate", "cpu", "memory", "network.db.latency"], "{conditions:#}");

    // Both arms ran at the conditions' rate.
    for arm in ["baseline", "candidate"] {
        let load = &report["load"][arm];
        assert_eq!(load["offered_rate_per_s"], 10.0, "{load:#}");
        // Each request opens a PostgreSQL session and runs a query: two round trips, each
        // delayed by 40 ms on the way back.
        let p50 = load["latency_ms"]["p50"].as_f64().unwrap();
        assert!(p50 >= 80.0, "{arm}: median {p50} ms, below two delayed round trips: {load:#}");
    }

    // Inside each environment: the query's round trip carries the latency, and the cgroup has
    // the conditions' limits rather than [resources]'.
    let tests = report["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 4, "{tests:#?}");
    let mut arms_with_rtt = 0;
    for t in tests {
        assert_eq!(t["passed"], true, "{t}");
        let name = t["name"].as_str().unwrap();
        let out = t["output_tail"].as_str().unwrap();
        if name.starts_with("db round trip") {
            let ms: f64 = value_after(out, "rtt_ms").parse().unwrap();
            assert!((39.0..400.0).contains(&ms), "{name}: round trip {ms} ms, latency is 40 ms");
            arms_with_rtt += 1;
        } else {
            assert_eq!(value_after(out, "memory_bytes"), (256u64 << 20).to_string(), "{name}");
            let cpu: f64 = value_after(out, "cpu_cores").parse().unwrap();
            assert!((cpu - 0.5).abs() < 1e-6, "{name}: cpu quota {cpu} cores");
        }
    }
    assert_eq!(arms_with_rtt, 2, "{tests:#?}");
}
