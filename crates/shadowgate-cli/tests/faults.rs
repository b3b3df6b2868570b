//! Fault injection on real environments: each fault is applied from the host with
//! `shadowgate_sandbox::faults` and observed by the probe application inside the environment.
//!
//! These tests need root (namespaces, cgroups, mounts), as CI has. On a machine without it
//! they fail with a message saying so; they are never skipped.

mod support;

use std::{
    net::{SocketAddr, TcpStream},
    path::PathBuf,
    time::{Duration, Instant},
};

use shadowgate_core::scenario::{Fault, HangMethod};
use shadowgate_sandbox::{
    faults::{Injector, Target},
    spec::EnvPaths,
};
use shadowgate_store::Store;
use support::{Env, Sandbox, http_get_json, leftovers, wait_until};

fn injector(sb: &Sandbox, env: &Env) -> Injector {
    let record = sb.store().environment(&env.id).unwrap().expect("the environment is stored");
    let paths = EnvPaths { dir: PathBuf::from(record.state_dir) };
    Injector::new(Target::open(&paths, None).expect("the environment's host objects"))
}

/// A GET that gives up after `limit` (a frozen application never answers).
/// Waits until the environment has ended; its `exited` event and all its events.
fn wait_for_exit(
    sb: &Sandbox,
    env: &Env,
) -> (shadowgate_store::Event, Vec<shadowgate_store::Event>) {
    sb.wait_for_state(&env.id, &["stopped", "failed"], Duration::from_secs(20));
    let events = sb.events(&env.id);
    let exited = events.iter().find(|e| e.kind == "exited").expect("an exited event").clone();
    (exited, events)
}

fn get_within(endpoint: &str, path: &str, limit: Duration) -> Option<serde_json::Value> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(endpoint).ok()?;
    stream.set_read_timeout(Some(limit)).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    serde_json::from_str(text.split_once("\r\n\r\n")?.1).ok()
}

/// The CPU quota of a cgroup in cores, read from its files (v1 or v2).
fn cpu_quota_cores(cg: &shadowgate_sandbox::cgroup::Cgroup) -> f64 {
    let dir = &cg.dirs()[&shadowgate_sandbox::cgroup::Controller::Cpu];
    let (quota, period) = if cg.version() == 1 {
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap().trim().to_string();
        (read("cpu.cfs_quota_us"), read("cpu.cfs_period_us"))
    } else {
        let max = std::fs::read_to_string(dir.join("cpu.max")).unwrap();
        let mut it = max.split_whitespace();
        (it.next().unwrap().to_string(), it.next().unwrap().to_string())
    };
    quota.parse::<f64>().unwrap() / period.parse::<f64>().unwrap()
}

#[test]
fn disk_full_gives_enospc_inside_and_is_undone() {
    let sb = Sandbox::new("[resources]\ndisk = \"64MiB\"\n");
    let env = sb.up("r1");
    let mut inj = injector(&sb, &env);
    inj.start("full", &Fault::DiskFull { free_bytes: 0 }).unwrap();
    let full = http_get_json(&env.endpoint, "/fill").expect("fill answered");
    assert_eq!(full["error"], "ENOSPC", "{full}");
    assert!(full["written"].as_u64().unwrap() < (1 << 20), "{full}");
    inj.stop("full").unwrap();
    let after = http_get_json(&env.endpoint, "/fill").expect("fill answered");
    assert_eq!(after["error"], "ENOSPC", "{after}");
    let written = after["written"].as_u64().unwrap();
    assert!(written > 40 << 20, "only {written} bytes fit after the fault ended: {after}");
    sb.down(&env.id);
}

#[test]
fn lowered_memory_limit_gets_the_application_oom_killed() {
    let sb = Sandbox::new("[resources]\nmemory = \"512MiB\"\n");
    let env = sb.up("r1");
    let mut inj = injector(&sb, &env);
    // Without the fault, 100 MiB fit.
    assert_eq!(http_get_json(&env.endpoint, "/hog?mb=100").unwrap()["held_mb"], 100);
    inj.start("limit", &Fault::MemoryLimit { bytes: 160 << 20 }).unwrap();
    let _ = http_get_json(&env.endpoint, "/hog?mb=100");
    let (exited, events) = wait_for_exit(&sb, &env);
    assert_eq!(exited.data["oom_killed"], true, "{events:#?}");
    assert_eq!(exited.data["code"], 137, "{exited:?}");
    drop(inj);
    support::wait_until_nothing_left(&env.id);
}

#[test]
fn balloon_makes_memory_pressure_that_oom_kills_the_application() {
    let sb = Sandbox::new("[resources]\nmemory = \"192MiB\"\n");
    let env = sb.up("r1");
    let mut inj = injector(&sb, &env);
    assert_eq!(http_get_json(&env.endpoint, "/hog?mb=110").unwrap()["held_mb"], 110);
    let before = inj.target().cgroup().stats().memory_bytes;
    inj.start("balloon", &Fault::MemoryPressure { bytes: 120 << 20 }).unwrap();
    let (exited, events) = wait_for_exit(&sb, &env);
    assert_eq!(exited.data["oom_killed"], true, "{events:#?}");
    assert!(before > 110 << 20, "the application held {before} bytes before the balloon");
    inj.stop_all().unwrap();
    support::wait_until_nothing_left(&env.id);
}

#[test]
fn balloon_lives_in_the_environment_cgroup_and_is_removed() {
    let sb = Sandbox::new("[resources]\nmemory = \"256MiB\"\n");
    let env = sb.up("r1");
    let mut inj = injector(&sb, &env);
    let before = inj.target().cgroup().stats().memory_bytes;
    let pids_before = inj.target().cgroup().pids();
    inj.start("balloon", &Fault::MemoryPressure { bytes: 64 << 20 }).unwrap();
    wait_until(Duration::from_secs(10), || {
        inj.target().cgroup().stats().memory_bytes >= before + (60 << 20)
    });
    let pids = inj.target().cgroup().pids();
    let balloon: Vec<_> = pids.iter().filter(|p| !pids_before.contains(p)).collect();
    assert_eq!(balloon.len(), 1, "{pids:?} vs {pids_before:?}");
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", balloon[0])).unwrap();
    assert_eq!(comm.trim(), "shadowgate-ball");
    // The application still answers beside it.
    assert_eq!(http_get_json(&env.endpoint, "/healthz").unwrap()["ok"], true);
    inj.stop("balloon").unwrap();
    assert_eq!(inj.target().cgroup().pids(), pids_before);
    assert!(inj.target().cgroup().stats().memory_bytes < before + (32 << 20));
    sb.down(&env.id);
}

#[test]
fn cpu_cut_throttles_the_application_until_the_end() {
    let sb = Sandbox::new("[resources]\ncpu = 1.0\n");
    let env = sb.up("r1");
    let mut inj = injector(&sb, &env);
    let throttled_before = inj.target().cgroup().stats().cpu_throttled_periods;
    inj.start("cut", &Fault::Cpu { cores: 0.1 }).unwrap();
    let started = Instant::now();
    let body = http_get_json(&env.endpoint, "/burn?seconds=2").expect("burn answered");
    let ratio = body["cpu_seconds"].as_f64().unwrap() / started.elapsed().as_secs_f64();
    assert!(ratio <= 0.15, "the process got {ratio:.3} of a core under a 0.1 quota");
    let throttled = inj.target().cgroup().stats().cpu_throttled_periods - throttled_before;
    assert!(throttled >= 10, "only {throttled} throttled periods");
    assert_eq!(cpu_quota_cores(inj.target().cgroup()), 0.1);
    inj.stop("cut").unwrap();
    assert_eq!(cpu_quota_cores(inj.target().cgroup()), 1.0, "the quota was not restored");
    sb.down(&env.id);
}

#[test]
fn hang_by_freezer_and_by_sigstop_then_resume() {
    let sb = Sandbox::new("");
    let env = sb.up("r1");
    let mut inj = injector(&sb, &env);
    for (name, method) in [("freeze", HangMethod::Freeze), ("stop", HangMethod::Sigstop)] {
        inj.start(name, &Fault::Hang { method }).unwrap();
        assert!(
            get_within(&env.endpoint, "/healthz", Duration::from_millis(1500)).is_none(),
            "the application answered while hung ({name})"
        );
        inj.stop(name).unwrap();
        assert_eq!(http_get_json(&env.endpoint, "/healthz").unwrap()["ok"], true, "{name}");
    }
    sb.down(&env.id);
}

#[test]
fn crash_with_restart_kills_the_application_and_starts_it_again() {
    let sb = Sandbox::new("");
    let env = sb.up("r1");
    let mut inj = injector(&sb, &env);
    let first = http_get_json(&env.endpoint, "/whoami").unwrap()["pid"].as_i64().unwrap();
    inj.start("crash", &Fault::Crash { restart: true }).unwrap();
    wait_until(Duration::from_secs(5), || http_get_json(&env.endpoint, "/healthz").is_none());
    inj.stop("crash").unwrap();
    wait_until(Duration::from_secs(20), || http_get_json(&env.endpoint, "/healthz").is_some());
    let second = http_get_json(&env.endpoint, "/whoami").unwrap()["pid"].as_i64().unwrap();
    assert_ne!(first, second, "the same process answered after the crash");
    let started = sb.events(&env.id).iter().filter(|e| e.kind == "app_started").count();
    assert_eq!(started, 2);
    assert_eq!(sb.env_record(&env.id)["state"], "running");
    sb.down(&env.id);
}

#[test]
fn crash_without_restart_ends_the_environment() {
    let sb = Sandbox::new("");
    let env = sb.up("r1");
    let mut inj = injector(&sb, &env);
    inj.start("crash", &Fault::Crash { restart: false }).unwrap();
    let (exited, _) = wait_for_exit(&sb, &env);
    assert_eq!(exited.data["code"], 137, "{exited:?}");
    drop(inj);
    support::wait_until_nothing_left(&env.id);
}

#[test]
fn dropping_the_injector_undoes_every_fault() {
    let sb = Sandbox::new("[resources]\ncpu = 1.0\ndisk = \"64MiB\"\n");
    let env = sb.up("r1");
    let mut inj = injector(&sb, &env);
    let cg = inj.target().cgroup().clone();
    inj.start("cut", &Fault::Cpu { cores: 0.05 }).unwrap();
    inj.start("full", &Fault::DiskFull { free_bytes: 0 }).unwrap();
    inj.start("hang", &Fault::Hang { method: HangMethod::Freeze }).unwrap();
    assert_eq!(inj.active(), vec!["cut", "full", "hang"]);
    drop(inj);
    assert_eq!(http_get_json(&env.endpoint, "/healthz").unwrap()["ok"], true);
    assert_eq!(cpu_quota_cores(&cg), 1.0, "the quota was not restored");
    let fill = http_get_json(&env.endpoint, "/fill").unwrap();
    assert!(fill["written"].as_u64().unwrap() > 40 << 20, "{fill}");
    sb.down(&env.id);
}

const CHECK_MANIFEST: &str = r#"
[releases.r2]
path = "rel"

[resources]
cpu = 1.0

[traffic]
rate = 20
warmup = "1s"
duration = "5s"

[[traffic.requests]]
path = "/healthz"

[[scenarios]]
name = "cpu cut"
at = "2s"
duration = "2s"
fault = "cpu"
cpu = 0.2

[[scenarios]]
name = "memory risk"
at = "1s"
duration = "1s"
tags = ["memory"]
fault = "hang"

[[tests]]
name = "health"
command = "python3 -c 'import os, urllib.request; urllib.request.urlopen(os.environ[\"SHADOWGATE_URL\"] + \"/healthz\").read(); print(os.environ[\"SHADOWGATE_ENV_ID\"])'"
timeout = "20s"

[[tests]]
name = "baseline only"
command = "echo role=$SHADOWGATE_ROLE; test \"$SHADOWGATE_ROLE\" = baseline"

[[tests]]
name = "disk risk"
tags = ["disk"]
command = "true"

[[tests]]
name = "slow"
command = "sleep 30"
timeout = "300ms"
"#;

#[test]
fn check_applies_a_scenario_to_both_arms_at_the_same_instant_and_runs_the_tests() {
    let sb = Sandbox::new(CHECK_MANIFEST);
    let out_dir = sb.home().join("reports");
    let out_arg = format!("--out={}", out_dir.display());
    let output = sb
        .command(&["check", "--json", "--baseline", "r1", "--candidate", "r2", &out_arg])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}), exit {:?}:\n{stderr}", output.status.code()));
    // A test that fails on the candidate only fails the check, and the stored run.
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(report["exit"]["code"], 1);
    let run = sb.store().run(report["run_id"].as_str().unwrap()).unwrap().unwrap();
    assert_eq!(run.status, shadowgate_store::RunStatus::Failed);

    // The fault: one event per arm, at the same instant, 2 s into the load, for 2 s.
    let faults: Vec<&serde_json::Value> =
        report["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "fault").collect();
    assert_eq!(faults.len(), 2, "{:#?}", report["events"]);
    let arms: Vec<&str> = faults.iter().map(|e| e["arm"].as_str().unwrap()).collect();
    assert!(arms.contains(&"baseline") && arms.contains(&"candidate"), "{arms:?}");
    let (s0, s1) =
        (faults[0]["start_ms"].as_i64().unwrap(), faults[1]["start_ms"].as_i64().unwrap());
    assert!((s0 - s1).abs() <= 20, "the arms got the fault {} ms apart", (s0 - s1).abs());
    assert!((1900..=2300).contains(&s0), "the fault started at {s0} ms, planned for 2000");
    for f in &faults {
        let length = f["end_ms"].as_i64().unwrap() - f["start_ms"].as_i64().unwrap();
        assert!((1900..=2300).contains(&length), "the fault lasted {length} ms, planned 2000");
        let message = f["message"].as_str().unwrap();
        assert!(message.starts_with("cpu cut: CPU quota cut to 0.2 cores"), "{message}");
        assert!(message.contains("selected: always"), "{message}");
    }
    // The plan is among the run's settings.
    let settings = report["settings"].as_array().unwrap();
    let setting =
        |name: &str| settings.iter().find(|s| s["name"] == name).map(|s| s["value"].clone());
    assert_eq!(setting("scenarios").unwrap(), "cpu cut (cpu, 2s–4s)", "{settings:?}");
    assert_eq!(setting("tests").unwrap(), "health; baseline only; slow", "{settings:?}");
    // The risk-tagged scenario and test did not run, and the report says why.
    let warnings: Vec<&str> =
        report["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    let says = |needle: &str| warnings.iter().any(|w| w.contains(needle));
    assert!(says("scenario `memory risk` did not run"), "{warnings:#?}");
    assert!(says("test `disk risk` did not run"), "{warnings:#?}");
    assert!(says("test `baseline only` fails on the candidate (exit 1)"), "{warnings:#?}");

    // The tests: one result per arm, with why each ran.
    let tests = report["tests"].as_array().unwrap();
    let result = |name: &str| {
        tests
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {tests:#?}"))
    };
    for arm in ["baseline", "candidate"] {
        let health = result(&format!("health ({arm})"));
        assert_eq!(health["passed"], true, "{health}");
        assert_eq!(health["selected_because"], "always: it has no risk tag");
        let env_id = report[arm]["environment_id"].as_str().unwrap();
        assert!(health["output_tail"].as_str().unwrap().contains(env_id), "{health}");
    }
    assert_eq!(result("baseline only (baseline)")["passed"], true);
    assert_eq!(result("baseline only (candidate)")["passed"], false);
    assert_eq!(result("slow (candidate)")["passed"], false);
    assert!(says(
        "test `slow` fails on both the baseline (timed out) and the candidate (timed out)"
    ));
    assert_eq!(tests.len(), 6, "{tests:#?}");
    let junit = std::fs::read_to_string(out_dir.join("report.junit.xml")).unwrap();
    assert!(junit.contains("name=\"baseline only (candidate)\""), "{junit}");
    // The HTML page shades the fault on the time plots.
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    for arm in ["baseline", "candidate"] {
        let title = format!("fault on {arm}: cpu cut: CPU quota cut to 0.2 cores");
        assert!(html.contains(&title), "no shade titled {title:?} in the HTML report");
    }

    // The store: a fault event with start and end on each environment.
    let store = sb.store();
    for arm in ["baseline", "candidate"] {
        let env_id = report[arm]["environment_id"].as_str().unwrap();
        let events = store
            .events(&shadowgate_store::EventQuery {
                env_id: Some(env_id.into()),
                kind: Some("fault".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(events.len(), 1, "{events:#?}");
        let e = &events[0];
        assert_eq!(e.data["scenario"], "cpu cut");
        let length = e.end_ms.expect("the fault event has an end") - e.at_ms;
        assert!((1900..=2300).contains(&length), "stored fault lasted {length} ms");
        assert!(leftovers(env_id).is_empty(), "{:?}", leftovers(env_id));
    }
}

/// The dependency test application with a Redis dependency, its environment up.
fn redis_env() -> (tempfile::TempDir, String, String, PathBuf) {
    support::require_root();
    let dir = tempfile::tempdir().unwrap();
    let rel = dir.path().join("rel");
    std::fs::create_dir_all(&rel).unwrap();
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deps-app/app.py");
    std::fs::copy(fixture, rel.join("app.py")).unwrap();
    std::fs::write(
        dir.path().join("shadowgate.toml"),
        "[app]\nname = \"netfaults\"\n\n[releases.r1]\npath = \"rel\"\n\n[run]\ncommand = \"python3 {release_dir}/app.py {port} cache={dep.cache.url}\"\n\n[run.health]\nhttp = \"/healthz\"\ntimeout = \"20s\"\n\n[dependencies.cache]\nkind = \"redis\"\n",
    )
    .unwrap();
    let home = dir.path().join("home");
    let out = std::process::Command::new(support::bin())
        .args(["env", "up", "--release", "r1", "--detach", "--json", "--manifest"])
        .arg(dir.path().join("shadowgate.toml"))
        .env("SHADOWGATE_HOME", &home)
        .output()
        .unwrap();
    assert!(out.status.success(), "env up: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = v["id"].as_str().unwrap().to_string();
    let endpoint = v["endpoint"].as_str().unwrap().to_string();
    (dir, id, endpoint, home)
}

fn dep_ms(endpoint: &str) -> Result<f64, String> {
    let v = http_get_json(endpoint, "/dep/cache").ok_or("no answer")?;
    v["ms"].as_f64().ok_or_else(|| v["error"].as_str().unwrap_or("?").to_string())
}

#[test]
fn network_faults_go_through_the_dependency_proxy() {
    let (_dir, id, endpoint, home) = redis_env();
    let store = shadowgate_store::SqliteStore::open(&home.join("shadowgate.db")).unwrap();
    let record = store.environment(&id).unwrap().unwrap();
    let ready = store
        .events(&shadowgate_store::EventQuery {
            env_id: Some(id.clone()),
            kind: Some("dependencies_ready".into()),
            ..Default::default()
        })
        .unwrap();
    let api = ready[0].data["api"].as_str().unwrap().parse().unwrap();
    let paths = EnvPaths { dir: PathBuf::from(record.state_dir) };
    let mut inj = Injector::new(Target::open(&paths, Some(api)).unwrap());
    let median = |n: usize| {
        let mut v: Vec<f64> = (0..n).map(|_| dep_ms(&endpoint).unwrap()).collect();
        v.sort_by(f64::total_cmp);
        v[n / 2]
    };
    assert!(median(5) < 30.0);

    let latency = Fault::Latency {
        dependency: "cache".into(),
        latency: Duration::from_millis(60),
        jitter: Duration::ZERO,
    };
    inj.start("slow cache", &latency).unwrap();
    let slow = median(5);
    assert!((60.0..120.0).contains(&slow), "{slow:.1} ms through a 60 ms latency fault");
    inj.stop("slow cache").unwrap();
    assert!(median(5) < 30.0, "the latency stayed after the fault ended");

    inj.start("resets", &Fault::Reset { dependency: "cache".into() }).unwrap();
    let err = dep_ms(&endpoint).expect_err("a request went through a reset fault");
    assert!(
        err.contains("Reset") || err.contains("reset") || err.contains("closed"),
        "the application saw {err}"
    );
    inj.stop("resets").unwrap();
    assert!(dep_ms(&endpoint).is_ok());

    inj.start("down", &Fault::Outage { dependency: "cache".into() }).unwrap();
    assert!(dep_ms(&endpoint).is_err(), "the cache answered during an outage");
    inj.stop("down").unwrap();
    assert!(dep_ms(&endpoint).is_ok());

    let narrow = Fault::Bandwidth { dependency: "cache".into(), bytes_per_second: 2048 };
    inj.start("narrow", &narrow).unwrap();
    let toxics = |addr: SocketAddr| {
        let mut s = TcpStream::connect(addr).unwrap();
        use std::io::{Read, Write};
        write!(s, "GET /proxies/cache/toxics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    };
    let listed = toxics(api);
    assert!(listed.contains("\"type\":\"bandwidth\"") && listed.contains("\"rate\":2"), "{listed}");
    inj.stop("narrow").unwrap();
    assert!(!toxics(api).contains("bandwidth"));

    // A fault on a dependency the environment does not have is an error, not a silent no-op.
    let err = inj.start("nope", &Fault::Outage { dependency: "db".into() }).unwrap_err();
    assert!(err.to_string().contains("/proxies/db"), "{err}");
    let down = std::process::Command::new(support::bin())
        .args(["env", "down", &id])
        .env("SHADOWGATE_HOME", &home)
        .output()
        .unwrap();
    assert!(down.status.success());
    assert!(leftovers(&id).is_empty(), "{:?}", leftovers(&id));
}

const RISK_MANIFEST: &str = r#"
[releases.r2]
path = "rel"

[traffic]
rate = 20
warmup = "1s"
duration = "3s"

[[traffic.requests]]
path = "/healthz"

[[scenarios]]
name = "memory risk"
at = "2s"
duration = "1s"
tags = ["memory"]
fault = "memory_pressure"
size = "32MiB"

[[tests]]
name = "disk risk"
tags = ["disk"]
command = "true"
"#;

#[test]
fn risk_tags_select_scenarios_from_predicted_conditions_and_all_tests_runs_the_rest() {
    let sb = Sandbox::new(RISK_MANIFEST);
    let conditions = sb.home().join("conditions.json");
    std::fs::create_dir_all(sb.home()).unwrap();
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    std::fs::write(
        &conditions,
        format!(
            r#"{{"version":1,"app":"probe","generated_at_unix_ms":{now_ms},"horizon_seconds":86400,
               "risks":[{{"kind":"memory_trending_up","message":"memory grows 4% a day"}}]}}"#
        ),
    )
    .unwrap();
    let check = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["check", "--json", "--baseline", "r1", "--candidate", "r2"];
        args.extend_from_slice(extra);
        let output = sb.command(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("no JSON ({e}), exit {:?}:\n{stderr}", output.status.code()))
    };
    let fault_messages = |report: &serde_json::Value| -> Vec<String> {
        report["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "fault")
            .map(|e| e["message"].as_str().unwrap().to_string())
            .collect()
    };

    // The predicted memory risk selects the memory scenario; the disk test stays out.
    let conditions_arg = format!("--conditions={}", conditions.display());
    let report = check(&[&conditions_arg]);
    let faults = fault_messages(&report);
    assert_eq!(faults.len(), 2, "{faults:?}");
    for m in &faults {
        assert!(m.contains("selected: predicted risk `memory`"), "{m}");
    }
    assert!(report["tests"].as_array().unwrap().is_empty(), "{}", report["tests"]);
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("test `disk risk` did not run"), "{warnings}");

    // Without conditions the scenario stays out; --all-tests runs both and says why.
    let report = check(&[]);
    assert!(fault_messages(&report).is_empty());
    assert!(report["warnings"].to_string().contains("scenario `memory risk` did not run"));
    let report = check(&["--all-tests"]);
    let faults = fault_messages(&report);
    assert_eq!(faults.len(), 2, "{faults:?}");
    assert!(faults[0].contains("selected: --all-tests"), "{faults:?}");
    let tests = report["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 2, "{tests:?}");
    assert!(tests.iter().all(|t| t["passed"] == true
        && t["selected_because"].as_str().unwrap().starts_with("--all-tests")));
}

#[test]
fn io_error_fault_gives_eio_on_the_chosen_path_only_and_is_undone() {
    let sb = Sandbox::new("");
    let env = sb.up("r1");
    let mut inj = injector(&sb, &env);
    let put = |path: &str| http_get_json(&env.endpoint, &format!("/put?path={path}")).unwrap();
    let get = |path: &str| http_get_json(&env.endpoint, &format!("/get?path={path}")).unwrap();
    let created = http_get_json(&env.endpoint, "/put?mkdir=1&path=/shadowgate/data/db/table");
    assert_eq!(created.unwrap()["result"], "ok");
    assert_eq!(put("/shadowgate/data/other")["result"], "ok");

    let fault = Fault::IoError { path: "/shadowgate/data/db".into() };
    inj.start("bad disk", &fault).unwrap();
    assert_eq!(get("/shadowgate/data/db/table")["result"], "EIO");
    assert_eq!(put("/shadowgate/data/db/new")["result"], "EIO");
    // Other paths are untouched.
    assert_eq!(get("/shadowgate/data/other")["content"], "stored");
    let helper: Vec<i32> = inj
        .target()
        .cgroup()
        .pids()
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default().trim()
                == "shadowgate-eio"
        })
        .collect();
    assert_eq!(helper.len(), 1, "the EIO file system runs in the environment's cgroup");

    inj.stop("bad disk").unwrap();
    assert_eq!(get("/shadowgate/data/db/table")["content"], "stored");
    assert_eq!(put("/shadowgate/data/db/new")["result"], "ok");
    assert!(!support::process_exists(helper[0]), "the EIO file system outlived its fault");

    // A path that does not exist inside the environment is an error naming it.
    let err = inj.start("nowhere", &Fault::IoError { path: "/no/such/dir".into() }).unwrap_err();
    assert!(
        err.to_string().contains("find the path inside the environment for `/no/such/dir`"),
        "{err}"
    );
    sb.down(&env.id);
}

/// One operation on a descriptor the probe application holds open across requests.
fn fd_op(env: &Env, op: &str, path: &str, data: &str) -> serde_json::Value {
    http_get_json(&env.endpoint, &format!("/fd?op={op}&path={path}&data={data}")).unwrap()
}

#[test]
fn pre_mounted_io_error_fails_descriptors_opened_before_and_loses_nothing() {
    let sb = Sandbox::new(
        "[[scenarios]]\nname = \"bad disk\"\nat = \"1s\"\nduration = \"1s\"\nfault = \"io_error\"\n\
         path = \"/shadowgate/data/db\"\n",
    );
    let env = sb.up("r1");
    let table = "/shadowgate/data/db/table";
    // The file system was mounted when the environment started, in its cgroup, and journaled.
    let record = sb.store().environment(&env.id).unwrap().unwrap();
    let paths = EnvPaths { dir: PathBuf::from(&record.state_dir) };
    let journaled: Vec<(i32, u64)> = shadowgate_sandbox::journal::read(&paths.journal())
        .unwrap()
        .into_iter()
        .filter_map(|o| match o {
            shadowgate_sandbox::journal::HostObject::Process { pid, start_time, role }
                if role == "eio-filesystem" =>
            {
                Some((pid, start_time))
            }
            _ => None,
        })
        .collect();
    assert_eq!(journaled.len(), 1, "one journaled file system");
    let (fs_pid, fs_start) = journaled[0];
    assert!(shadowgate_sandbox::journal::process_alive(fs_pid, fs_start));
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{fs_pid}/comm")).unwrap().trim(),
        "shadowgate-eio"
    );
    let mut inj = injector(&sb, &env);
    assert!(inj.target().cgroup().pids().contains(&fs_pid), "it runs in the environment's cgroup");

    // Before the fault: a descriptor opened under the path works, and so does the rest.
    assert_eq!(fd_op(&env, "open", table, "")["result"], "ok");
    assert_eq!(fd_op(&env, "write", table, "first")["result"], "ok");
    assert_eq!(fd_op(&env, "sync", table, "")["result"], "ok");
    assert_eq!(fd_op(&env, "read", table, "")["content"], "first");
    let put = |path: &str| http_get_json(&env.endpoint, &format!("/put?path={path}")).unwrap();
    let get = |path: &str| http_get_json(&env.endpoint, &format!("/get?path={path}")).unwrap();
    assert_eq!(put("/shadowgate/data/other")["result"], "ok");

    // During the fault: the same descriptor fails, and so do new opens; elsewhere is untouched.
    inj.start("bad disk", &Fault::IoError { path: "/shadowgate/data/db".into() }).unwrap();
    assert_eq!(fd_op(&env, "read", table, "")["result"], "EIO");
    assert_eq!(fd_op(&env, "write", table, "lost!")["result"], "EIO");
    assert_eq!(fd_op(&env, "sync", table, "")["result"], "EIO");
    assert_eq!(get(table)["result"], "EIO");
    assert_eq!(put("/shadowgate/data/db/new")["result"], "EIO");
    assert_eq!(get("/shadowgate/data/other")["content"], "stored");

    // After it: the same descriptor works again and the data written before is intact.
    inj.stop("bad disk").unwrap();
    assert_eq!(fd_op(&env, "read", table, "")["content"], "first");
    assert_eq!(fd_op(&env, "write", table, "again")["result"], "ok");
    assert_eq!(get(table)["content"], "again");
    assert_eq!(put("/shadowgate/data/db/new")["result"], "ok");

    // Dropping the injector mid-fault switches it back too.
    inj.start("bad disk", &Fault::IoError { path: "/shadowgate/data/db/".into() }).unwrap();
    assert_eq!(fd_op(&env, "read", table, "")["result"], "EIO");
    drop(inj);
    assert_eq!(fd_op(&env, "read", table, "")["content"], "again");
    assert!(shadowgate_sandbox::journal::process_alive(fs_pid, fs_start), "it stays mounted");

    // Nothing is left once the environment is down: not the process, not its mount.
    sb.down(&env.id);
    assert!(!shadowgate_sandbox::journal::process_alive(fs_pid, fs_start));
}

#[test]
fn a_fault_that_cannot_be_applied_is_an_error_of_the_check() {
    let sb = Sandbox::new(
        "[releases.r2]\npath = \"rel\"\n\n[traffic]\nrate = 10\nwarmup = \"1s\"\nduration = \"2s\"\n\n\
         [[traffic.requests]]\npath = \"/healthz\"\n\n[[scenarios]]\nname = \"bad path\"\nat = \"1s\"\n\
         duration = \"1s\"\nfault = \"io_error\"\npath = \"/no/such/dir\"\n",
    );
    let output = sb.command(&["check", "--baseline", "r1", "--candidate", "r2"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    // Its file system is mounted when the environments start, so they do not start.
    assert!(stderr.contains("io_error path `/no/such/dir`"), "{stderr}");
    assert!(stderr.contains("does not exist inside the environment"), "{stderr}");
    for id in sb.all_env_ids() {
        assert!(leftovers(&id).is_empty(), "{:?}", leftovers(&id));
    }
}

#[test]
fn check_with_a_crash_and_restart_reports_the_restart_on_both_arms() {
    let sb = Sandbox::new(
        "[releases.r2]\npath = \"rel\"\n\n[traffic]\nrate = 20\nwarmup = \"1s\"\nduration = \"4s\"\n\n\
         [[traffic.requests]]\npath = \"/healthz\"\n\n[[scenarios]]\nname = \"crash\"\nat = \"2s\"\n\
         duration = \"1s\"\nfault = \"crash\"\nrestart = true\n",
    );
    let output =
        sb.command(&["check", "--json", "--baseline", "r1", "--candidate", "r2"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}), exit {:?}:\n{stderr}", output.status.code()));
    assert!(matches!(output.status.code(), Some(0 | 1)), "{stderr}");
    let events = report["events"].as_array().unwrap();
    for arm in ["baseline", "candidate"] {
        let of = |kind: &str| -> Vec<&serde_json::Value> {
            events.iter().filter(|e| e["kind"] == kind && e["arm"] == arm).collect()
        };
        let restarts = of("restart");
        assert_eq!(restarts.len(), 1, "{arm}: {events:#?}");
        let at = restarts[0]["start_ms"].as_i64().unwrap();
        assert!((2900..=3400).contains(&at), "{arm}: restarted at {at} ms, planned 3000");
        let fault = of("fault");
        assert_eq!(fault.len(), 1, "{arm}: {events:#?}");
        assert!(fault[0]["message"].as_str().unwrap().contains("killed (SIGKILL), then restarted"));
        // The application was really down: some requests failed on this arm.
        let errors = report["load"][arm]["errors"].as_u64().unwrap_or(0);
        assert!(errors > 0, "{arm}: no request failed while the application was down");
    }
}

#[test]
fn tests_run_in_the_environment_network_with_dependency_urls_and_a_latency_scenario() {
    support::require_root();
    let dir = tempfile::tempdir().unwrap();
    let rel = dir.path().join("rel");
    std::fs::create_dir_all(&rel).unwrap();
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deps-app/app.py");
    std::fs::copy(fixture, rel.join("app.py")).unwrap();
    let manifest = r#"[app]
name = "depstests"

[releases.r1]
path = "rel"

[releases.r2]
path = "rel"

[run]
command = "python3 {release_dir}/app.py {port} cache={dep.cache.url}"

[run.health]
http = "/healthz"

[dependencies.cache]
kind = "redis"

[traffic]
rate = 20
warmup = "1s"
duration = "3s"

[[traffic.requests]]
path = "/dep/cache"

[[scenarios]]
name = "slow cache"
at = "2s"
duration = "1s"
fault = "latency"
dependency = "cache"
latency = "50ms"

[[tests]]
name = "cache answers"
command = "python3 -c 'import os, socket, urllib.parse as p; u = p.urlparse(os.environ[\"SHADOWGATE_DEP_CACHE_URL\"]); s = socket.create_connection((u.hostname, u.port)); s.sendall(b\"PING\\r\\n\"); print(s.recv(64))'"

[[tests]]
name = "app answers"
command = "python3 -c 'import os, urllib.request; print(urllib.request.urlopen(os.environ[\"SHADOWGATE_URL\"] + \"/dep/cache\").read())'"
"#;
    std::fs::write(dir.path().join("shadowgate.toml"), manifest).unwrap();
    let output = std::process::Command::new(support::bin())
        .args(["check", "--json", "--baseline", "r1", "--candidate", "r2", "--manifest"])
        .arg(dir.path().join("shadowgate.toml"))
        .env("SHADOWGATE_HOME", dir.path().join("home"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}), exit {:?}:\n{stderr}", output.status.code()));
    let tests = report["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 4, "{tests:#?}");
    for t in tests {
        assert_eq!(t["passed"], true, "{t}");
        let out = t["output_tail"].as_str().unwrap();
        if t["name"].as_str().unwrap().starts_with("cache answers") {
            assert!(out.contains("+PONG"), "{out}");
        } else {
            assert!(out.contains("hello"), "{out}");
        }
    }
    // The latency scenario went through each arm's own cache proxy.
    let faults: Vec<_> =
        report["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "fault").collect();
    assert_eq!(faults.len(), 2, "{faults:#?}");
    assert!(faults[0]["message"].as_str().unwrap().contains("50 ms added latency"), "{faults:#?}");
}

#[test]
fn faults_after_a_crash_without_restart_are_noted_not_errors() {
    let sb = Sandbox::new(
        "[releases.r2]\npath = \"rel\"\n\n[traffic]\nrate = 20\nwarmup = \"1s\"\nduration = \"4s\"\n\n\
         [[traffic.requests]]\npath = \"/healthz\"\n\n\
         [[scenarios]]\nname = \"cut\"\nat = \"1s\"\nduration = \"2s\"\nfault = \"cpu\"\ncpu = 0.5\n\n\
         [[scenarios]]\nname = \"kill\"\nat = \"2s\"\nfault = \"crash\"\n\n\
         [[scenarios]]\nname = \"late disk\"\nat = \"3500ms\"\nduration = \"500ms\"\nfault = \"disk_full\"\n",
    );
    let output =
        sb.command(&["check", "--json", "--baseline", "r1", "--candidate", "r2"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}), exit {:?}:\n{stderr}", output.status.code()));
    assert!(matches!(output.status.code(), Some(0 | 1)), "{stderr}");
    let events = report["events"].as_array().unwrap();
    for arm in ["baseline", "candidate"] {
        let find = |prefix: &str| {
            events
                .iter()
                .find(|e| e["arm"] == arm && e["message"].as_str().unwrap().starts_with(prefix))
                .unwrap_or_else(|| panic!("{arm}: no `{prefix}` event in {events:#?}"))
        };
        // The cut ended (the environment was gone by then, so there was nothing to undo).
        assert!(find("cut:")["end_ms"].as_i64().is_some());
        assert_eq!(find("kill:")["end_ms"], serde_json::Value::Null);
        assert_eq!(find("late disk: not applied")["kind"], "other");
        assert!(report["load"][arm]["errors"].as_u64().unwrap() > 0);
    }
}

#[test]
fn killing_the_check_mid_fault_leaves_no_helper_process_or_host_object() {
    let sb = Sandbox::new(
        "[releases.r2]\npath = \"rel\"\n\n[traffic]\nrate = 10\nwarmup = \"1s\"\nduration = \"30s\"\n\n\
         [[traffic.requests]]\npath = \"/healthz\"\n\n\
         [[scenarios]]\nname = \"balloon\"\nat = \"1s\"\nduration = \"20s\"\nfault = \"memory_pressure\"\nsize = \"16MiB\"\n\n\
         [[scenarios]]\nname = \"bad data\"\nat = \"1s\"\nduration = \"20s\"\nfault = \"io_error\"\npath = \"/shadowgate/data\"\n",
    );
    let mut check =
        sb.command(&["check", "--baseline", "r1", "--candidate", "r2"]).spawn().unwrap();
    // Wait until both helpers of both environments are journaled (and so running).
    let mut helpers: Vec<(i32, u64, String)> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    wait_until(Duration::from_secs(30), || {
        let Some(store) = sb.try_store() else { return false };
        let envs = store.environments(&Default::default()).unwrap_or_default();
        ids = envs.iter().map(|e| e.id.clone()).collect();
        helpers = envs
            .iter()
            .flat_map(|e| {
                shadowgate_sandbox::journal::read(
                    &EnvPaths { dir: PathBuf::from(&e.state_dir) }.journal(),
                )
                .unwrap_or_default()
            })
            .filter_map(|o| match o {
                shadowgate_sandbox::journal::HostObject::Process { pid, start_time, role }
                    if role == "balloon" || role == "eio-filesystem" =>
                {
                    Some((pid, start_time, role))
                }
                _ => None,
            })
            .collect();
        helpers.len() == 4
    });
    for (pid, start, role) in &helpers {
        assert!(
            shadowgate_sandbox::journal::process_alive(*pid, *start),
            "{role} {pid} is not running"
        );
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(check.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = check.wait();
    // The supervisors see their starter gone and remove the environments, helpers included.
    for id in &ids {
        sb.wait_for_state(id, &["stopped", "failed"], Duration::from_secs(30));
        support::wait_until_nothing_left(id);
    }
    wait_until(Duration::from_secs(10), || {
        helpers
            .iter()
            .all(|(pid, start, _)| !shadowgate_sandbox::journal::process_alive(*pid, *start))
    });
}
