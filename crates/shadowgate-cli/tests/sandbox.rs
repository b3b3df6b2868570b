//! The local sandbox, tested through the real `shadowgate` binary with a probe application
//! that reports what it can and cannot do from inside its environment.
//!
//! These tests need root (namespaces, cgroups, mounts), as CI has. On a machine without it
//! they fail with a message saying so; they are never skipped.

mod support;

use std::{net::TcpListener, process::Command, time::Duration};

use support::{Sandbox, http_get_json, leftovers};

#[test]
fn memory_hog_is_oom_killed_and_recorded() {
    let sb = Sandbox::new("[resources]\nmemory = \"48MiB\"\ncpu = 1.0\n");
    let env = sb.up("r1");
    // The request dies with the process; the outcome is read from the store.
    let _ = http_get_json(&env.endpoint, "/hog?mb=200");
    let state = sb.wait_for_state(&env.id, &["stopped", "failed"], Duration::from_secs(20));
    let events = sb.events(&env.id);
    let oom = events
        .iter()
        .find(|e| e.kind == "oom_kill")
        .unwrap_or_else(|| panic!("no oom_kill event in {events:#?} (state {state})"));
    assert_eq!(oom.data["count"], 1, "{oom:?}");
    let exited = events.iter().find(|e| e.kind == "exited").expect("an exited event");
    assert_eq!(exited.data["oom_killed"], true);
    assert_eq!(exited.data["code"], 137, "SIGKILL by the OOM killer: {exited:?}");
    support::wait_until_nothing_left(&env.id);
}

#[test]
fn cpu_quota_holds_usage_down() {
    let sb = Sandbox::new("[resources]\ncpu = 0.2\n");
    let env = sb.up_with(&["--sample-interval", "250ms"], "r1");
    let before = sb.last_sample(&env.id, "resource.cpu_seconds");
    let started = std::time::Instant::now();
    let body = http_get_json(&env.endpoint, "/burn?seconds=3").expect("burn answered");
    let wall = started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(600)); // Two sample intervals, so the last sample covers the burn.
    let after = sb.last_sample(&env.id, "resource.cpu_seconds");
    let usage = (after.1 - before.1) / ((after.0 - before.0) as f64 / 1000.0);
    assert!(usage <= 0.25, "cgroup used {usage:.3} cores under a 0.2 quota");
    let process_cpu = body["cpu_seconds"].as_f64().unwrap();
    assert!(process_cpu / wall <= 0.25, "the process saw {process_cpu:.2}s CPU in {wall:.2}s");
    assert!(
        process_cpu / wall >= 0.1,
        "the busy loop barely ran ({process_cpu:.2}s in {wall:.2}s): is the quota far too strict?"
    );
    sb.down(&env.id);
}

#[test]
fn application_cannot_reach_the_host_loopback() {
    let sb = Sandbox::new("");
    let host = TcpListener::bind("127.0.0.1:0").unwrap();
    host.set_nonblocking(true).unwrap();
    let port = host.local_addr().unwrap().port();
    let env = sb.up("r1");
    let body = http_get_json(&env.endpoint, &format!("/connect?port={port}")).unwrap();
    assert_eq!(
        body["result"], "ECONNREFUSED",
        "the environment's loopback is not the host's: {body}"
    );
    assert!(
        host.accept().is_err(),
        "the host listener saw a connection from inside the environment"
    );
    // And the way in works: the host endpoint reaches the application.
    assert_eq!(http_get_json(&env.endpoint, "/healthz").unwrap()["ok"], true);
    sb.down(&env.id);
}

#[test]
fn writes_land_in_the_layer_and_the_release_is_untouched() {
    let sb = Sandbox::new("");
    let before = sb.release_digest();
    let env = sb.up("r1");
    let body = http_get_json(&env.endpoint, "/write").unwrap();
    assert_eq!(body["modified"], "ok");
    assert_eq!(body["created"], "ok");
    assert_eq!(body["deleted"], "ok");
    assert_eq!(body["data"], "ok");
    for outside in ["host_etc", "root", "usr"] {
        assert_eq!(body[outside], "EROFS", "{outside} must be read-only: {body}");
    }
    let diff = sb.cli_json(&["env", "diff", &env.id, "--json"]);
    let changes: Vec<(String, String)> = diff["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["path"].as_str().unwrap().to_string(), c["kind"].as_str().unwrap().to_string()))
        .collect();
    assert!(changes.contains(&("data.txt".into(), "modified".into())), "{changes:?}");
    assert!(changes.contains(&("created.txt".into(), "added".into())), "{changes:?}");
    assert!(changes.contains(&("delete-me.txt".into(), "deleted".into())), "{changes:?}");
    sb.down(&env.id);
    assert_eq!(sb.release_digest(), before, "the release directory changed");
    assert!(!std::path::Path::new("/etc/shadowgate-test").exists());
}

#[test]
fn a_full_layer_gives_enospc() {
    let sb = Sandbox::new("[resources]\ndisk = \"4MiB\"\n");
    let env = sb.up("r1");
    let body = http_get_json(&env.endpoint, "/fill").unwrap();
    assert_eq!(body["error"], "ENOSPC", "{body}");
    let written = body["written"].as_u64().unwrap();
    assert!((2 << 20..=4 << 20).contains(&written), "wrote {written} bytes into a 4 MiB layer");
    sb.down(&env.id);
}

#[test]
fn env_down_leaves_nothing_behind() {
    let sb = Sandbox::new("");
    let env = sb.up("r1");
    assert!(!leftovers(&env.id).is_empty(), "a running environment should be visible on the host");
    sb.down(&env.id);
    assert!(leftovers(&env.id).is_empty(), "{:?}", leftovers(&env.id));
}

/// `kill -9` of the shadowgate command *and* of the environment's supervisor while an install
/// step is still running: nothing is left to clean up gracefully, so `env gc` must do it.
#[test]
fn env_gc_after_kill_9_mid_install_leaves_nothing() {
    let sb = Sandbox::new("[[install]]\nname = \"slow\"\ncommand = \"sleep 30\"\n");
    let mut cli = sb.command(&["env", "up", "--release", "r1"]).spawn().unwrap();
    let (id, supervisor) = sb.wait_for_supervisor(Duration::from_secs(20));
    sb.wait_for_state(&id, &["installing"], Duration::from_secs(20));
    assert!(!leftovers(&id).is_empty());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(cli.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(supervisor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    cli.wait().unwrap();
    // The supervisor was our grandchild's... it is reparented; wait until it is gone.
    support::wait_until(Duration::from_secs(10), || !support::process_exists(supervisor));
    let gc = sb.cli_json(&["env", "gc", "--json"]);
    assert!(gc["errors"].as_array().unwrap().is_empty(), "{gc}");
    assert!(gc["environments"].as_array().unwrap().iter().any(|e| e == id.as_str()), "{gc}");
    assert!(leftovers(&id).is_empty(), "{:?}", leftovers(&id));
    let env = sb.env_record(&id);
    assert_eq!(env["state"], "collected");
}

/// `kill -9` of the attached shadowgate command alone: the supervisor notices and removes the
/// environment by itself; `env gc` then finds nothing to do for it.
#[test]
fn killing_the_attached_command_stops_its_environment() {
    let sb = Sandbox::new("");
    let mut cli = sb.command(&["env", "up", "--release", "r1"]).spawn().unwrap();
    let (id, supervisor) = sb.wait_for_supervisor(Duration::from_secs(20));
    sb.wait_for_state(&id, &["running"], Duration::from_secs(20));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(cli.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    cli.wait().unwrap();
    support::wait_until(Duration::from_secs(20), || !support::process_exists(supervisor));
    assert!(leftovers(&id).is_empty(), "{:?}", leftovers(&id));
    assert_eq!(sb.env_record(&id)["state"], "stopped");
}

#[test]
fn a_failing_install_step_fails_the_environment_with_its_log() {
    let sb = Sandbox::new(
        "[[install]]\nname = \"broken\"\ncommand = \"echo migration exploded >&2; exit 3\"\n",
    );
    let out = sb.command(&["env", "up", "--release", "r1", "--detach"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "an environment that fails to start is an error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("install step `broken` exited with code 3"), "{stderr}");
    let ids = sb.all_env_ids();
    assert_eq!(ids.len(), 1);
    let log =
        std::fs::read_to_string(sb.home().join(format!("logs/shadowgate-{}/install.log", ids[0])))
            .unwrap();
    assert!(log.contains("migration exploded"), "{log}");
    assert!(leftovers(&ids[0]).is_empty(), "{:?}", leftovers(&ids[0]));
}

#[test]
fn doctor_reports_every_feature_here() {
    let out = Command::new(support::bin()).args(["doctor", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let missing: Vec<_> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| format!("{}: {} (fix: {})", c["name"], c["detail"], c["fix"]))
        .collect();
    assert!(
        missing.is_empty(),
        "this machine lacks isolation features the tests need:\n{}",
        missing.join("\n")
    );
    assert_eq!(report["ready"], true);
    assert_eq!(out.status.code(), Some(0));
}
