//! Test support: a throwaway shadowgate home with a probe application, and host inspection.

#![allow(dead_code)]

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use shadowgate_store::{Event, EventQuery, SampleQuery, SqliteStore, Store};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_shadowgate")
}

/// Fails with a clear message when the machine cannot run environments.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test starts real environments (namespaces, cgroups, mounts) and needs root; \
         run the suite as root, as CI does"
    );
}

/// A manifest around the probe application, in a temporary directory with its own home.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

pub struct Env {
    pub id: String,
    pub endpoint: String,
}

impl Sandbox {
    pub fn new(extra_manifest: &str) -> Sandbox {
        require_root();
        let dir = tempfile::tempdir().unwrap();
        let rel = dir.path().join("rel");
        std::fs::create_dir_all(&rel).unwrap();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/probe-app");
        for name in ["app.py", "data.txt", "delete-me.txt"] {
            std::fs::copy(fixture.join(name), rel.join(name)).unwrap();
        }
        let manifest = format!(
            "[app]\nname = \"probe\"\n\n[releases.r1]\npath = \"rel\"\n\n[run]\ncommand = \"python3 {{release_dir}}/app.py {{port}}\"\n\n[run.health]\nhttp = \"/healthz\"\ntimeout = \"20s\"\n\n{extra_manifest}"
        );
        std::fs::write(dir.path().join("shadowgate.toml"), manifest).unwrap();
        Sandbox { dir }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn release_dir(&self) -> PathBuf {
        self.dir.path().join("rel")
    }

    pub fn store(&self) -> SqliteStore {
        self.try_store().unwrap()
    }

    /// The store, once the command under test has created it.
    pub fn try_store(&self) -> Option<SqliteStore> {
        let path = self.home().join("shadowgate.db");
        if path.exists() { SqliteStore::open(&path).ok() } else { None }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .arg("--manifest")
            .arg(self.dir.path().join("shadowgate.toml"))
            .env("SHADOWGATE_HOME", self.home())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs a command that takes no manifest and prints JSON.
    pub fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let out =
            Command::new(bin()).args(args).env("SHADOWGATE_HOME", self.home()).output().unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "`shadowgate {}` printed no JSON ({e}): {}\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    pub fn up(&self, release: &str) -> Env {
        self.up_with(&[], release)
    }

    pub fn up_with(&self, extra: &[&str], release: &str) -> Env {
        let mut args = vec!["env", "up", "--release", release, "--detach", "--json"];
        args.extend_from_slice(extra);
        let out = self.command(&args).output().unwrap();
        assert!(out.status.success(), "env up failed: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        Env {
            id: v["id"].as_str().unwrap().to_string(),
            endpoint: v["endpoint"].as_str().unwrap().to_string(),
        }
    }

    pub fn down(&self, id: &str) {
        let out = Command::new(bin())
            .args(["env", "down", id])
            .env("SHADOWGATE_HOME", self.home())
            .output()
            .unwrap();
        assert!(out.status.success(), "env down failed: {}", String::from_utf8_lossy(&out.stderr));
        assert!(leftovers(id).is_empty(), "after env down: {:?}", leftovers(id));
    }

    pub fn env_record(&self, id: &str) -> serde_json::Value {
        let v = self.cli_json(&["env", "ls", "--all", "--json"]);
        v["environments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .cloned()
            .unwrap_or_default()
    }

    pub fn all_env_ids(&self) -> Vec<String> {
        let v = self.cli_json(&["env", "ls", "--all", "--json"]);
        v["environments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// Polls the store until the environment is in one of `states`; returns that state.
    pub fn wait_for_state(&self, id: &str, states: &[&str], limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(store) = self.try_store()
                && let Ok(Some(env)) = store.environment(id)
                && states.contains(&env.state.name())
            {
                return env.state.name().to_string();
            }
            assert!(Instant::now() < deadline, "environment {id} never reached {states:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the first environment of this home to have a live supervisor.
    pub fn wait_for_supervisor(&self, limit: Duration) -> (String, i32) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(store) = self.try_store()
                && let Ok(envs) = store.environments(&Default::default())
                && let Some(env) = envs.first()
                && let Some(pid) = shadowgate_sandbox::live_supervisors().get(&env.id)
            {
                return (env.id.clone(), *pid);
            }
            assert!(Instant::now() < deadline, "no supervisor appeared");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn events(&self, id: &str) -> Vec<Event> {
        self.store().events(&EventQuery { env_id: Some(id.into()), ..Default::default() }).unwrap()
    }

    /// The latest (timestamp, value) of a metric of an environment.
    pub fn last_sample(&self, id: &str, metric: &str) -> (i64, f64) {
        let samples = self
            .store()
            .samples(&SampleQuery {
                env_id: Some(id.into()),
                metric: Some(metric.into()),
                ..Default::default()
            })
            .unwrap();
        let s = samples.last().unwrap_or_else(|| panic!("no {metric} samples for {id}"));
        (s.ts_ms, s.value)
    }

    /// Every file of the release directory with its bytes, for before/after comparison.
    pub fn release_digest(&self) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(self.release_dir())
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| {
                (e.file_name().to_string_lossy().to_string(), std::fs::read(e.path()).unwrap())
            })
            .collect();
        out.sort();
        out
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = Command::new(bin())
            .args(["env", "down", "--all"])
            .env("SHADOWGATE_HOME", self.home())
            .output();
    }
}

/// GET over plain HTTP/1.1; `None` when the connection fails or closes without an answer.
pub fn http_get_json(endpoint: &str, path: &str) -> Option<serde_json::Value> {
    let mut stream = TcpStream::connect(endpoint).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {endpoint}\r\nConnection: close\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (_, body) = text.split_once("\r\n\r\n")?;
    serde_json::from_str(body).ok()
}

pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "condition not met within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (up to 10 s) until nothing on the host carries the environment's name. The
/// supervisor records the final state and then exits, so a test that saw the state change can
/// still catch it on its way out; anything left after the wait is reported.
pub fn wait_until_nothing_left(id: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = leftovers(id);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "left behind after 10 s: {left:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn process_exists(pid: i32) -> bool {
    shadowgate_sandbox::journal::process_start_time(pid).is_some()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// Every host object that still carries the environment's name: processes, cgroups, mounts,
/// network namespaces and state directories.
pub fn leftovers(id: &str) -> Vec<String> {
    let name = format!("shadowgate-{id}");
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&name) && process_exists(pid) {
                out.push(format!(
                    "process {pid}: {}",
                    String::from_utf8_lossy(&cmdline).replace('\0', " ")
                ));
            }
        }
    }
    for root in [
        "/sys/fs/cgroup",
        "/sys/fs/cgroup/cpu",
        "/sys/fs/cgroup/cpuacct",
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup/pids",
        "/sys/fs/cgroup/blkio",
        "/sys/fs/cgroup/freezer",
    ] {
        let p = Path::new(root).join("shadowgate").join(&name);
        if p.exists() {
            out.push(format!("cgroup {}", p.display()));
        }
    }
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in info.lines().filter(|l| l.contains(&name)) {
        out.push(format!("mount {line}"));
    }
    let ns = Path::new("/run/netns").join(&name);
    if ns.exists() {
        out.push(format!("netns {}", ns.display()));
    }
    let state = Path::new("/run/shadowgate/envs").join(&name);
    if state.exists() {
        out.push(format!("state dir {}", state.display()));
    }
    out
}
