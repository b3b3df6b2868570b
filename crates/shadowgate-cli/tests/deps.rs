//! Dependent services in real environments (root, as CI runs): PostgreSQL, Redis and NATS
//! started fresh inside the environment's network namespace, reached by the application through
//! their fault proxies via `{dep.NAME.url}`, a latency toxic seen in the application's round
//! trip, and nothing left behind by `env down` or by `env gc` after `kill -9`.

mod support;

use std::{
    io::{Read, Write},
    net::TcpStream,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use support::{bin, http_get_json, leftovers, process_exists, require_root};

/// A manifest around the dependency test application, with its own home.
struct DepsSandbox {
    dir: tempfile::TempDir,
}

const DEPENDENCIES: &str = r#"
[dependencies.db]
kind = "postgres"
database = "shop"
user = "app"

[dependencies.cache]
kind = "redis"

[dependencies.events]
kind = "nats"
"#;

impl DepsSandbox {
    fn new(command_args: &str, dependencies: &str) -> DepsSandbox {
        DepsSandbox::with_install(command_args, dependencies, "")
    }

    /// `install` is extra manifest text placed before `[run]` (e.g. an `[[install]]` step).
    fn with_install(command_args: &str, dependencies: &str, install: &str) -> DepsSandbox {
        require_root();
        let dir = tempfile::tempdir().unwrap();
        let rel = dir.path().join("rel");
        std::fs::create_dir_all(&rel).unwrap();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deps-app/app.py");
        std::fs::copy(fixture, rel.join("app.py")).unwrap();
        let manifest = format!(
            "[app]\nname = \"deps\"\n\n[releases.r1]\npath = \"rel\"\n\n{install}[run]\ncommand = \"python3 {{release_dir}}/app.py {{port}} {command_args}\"\n\n[run.health]\nhttp = \"/healthz\"\ntimeout = \"20s\"\n{dependencies}"
        );
        std::fs::write(dir.path().join("shadowgate.toml"), manifest).unwrap();
        DepsSandbox { dir }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn command(&self, args: &[&str]) -> Command {
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

    /// `env up --detach`; returns (id, endpoint) and checks that the output names the
    /// dependencies and their fault proxies' API.
    fn up(&self) -> (String, String) {
        let out =
            self.command(&["env", "up", "--release", "r1", "--detach", "--json"]).output().unwrap();
        assert!(out.status.success(), "env up failed: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let id = v["id"].as_str().unwrap().to_string();
        assert_eq!(v["dependencies"], self.ready(&id), "env up --json shows the dependencies");
        (id, v["endpoint"].as_str().unwrap().to_string())
    }

    /// The `dependencies_ready` event's data: the proxies' API and each dependency.
    fn ready(&self, id: &str) -> serde_json::Value {
        let store =
            shadowgate_store::SqliteStore::open(&self.home().join("shadowgate.db")).unwrap();
        let events = shadowgate_store::Store::events(
            &store,
            &shadowgate_store::EventQuery { env_id: Some(id.into()), ..Default::default() },
        )
        .unwrap();
        events
            .into_iter()
            .find(|e| e.kind == "dependencies_ready")
            .unwrap_or_else(|| panic!("no dependencies_ready event for {id}"))
            .data
    }

    fn shadowgate(&self, args: &[&str]) -> std::process::Output {
        Command::new(bin()).args(args).env("SHADOWGATE_HOME", self.home()).output().unwrap()
    }
}

impl Drop for DepsSandbox {
    fn drop(&mut self) {
        let _ = self.shadowgate(&["env", "down", "--all"]);
    }
}

/// Every process whose network namespace is the environment's: the application, its init and
/// every server process (PostgreSQL's backends and helpers included).
fn processes_in_netns(id: &str) -> Vec<i32> {
    let ns = Path::new("/run/netns").join(format!("shadowgate-{id}"));
    let inode = std::fs::metadata(&ns).unwrap().ino();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        if let Ok(link) = std::fs::read_link(e.path().join("ns/net"))
            && link.to_string_lossy() == format!("net:[{inode}]")
        {
            out.push(pid);
        }
    }
    out
}

fn uid_of(pid: i32) -> Option<u32> {
    std::fs::metadata(format!("/proc/{pid}")).ok().map(|m| m.uid())
}

/// One request to the Toxiproxy API; returns the status code.
fn api(api: &str, method: &str, path: &str, body: &str) -> u16 {
    let mut stream = TcpStream::connect(api).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split(' ').nth(1).unwrap().parse().unwrap()
}

/// The median of the application's own round-trip times to a dependency, in milliseconds.
fn median_dep_ms(endpoint: &str, name: &str, rounds: usize) -> f64 {
    let mut times: Vec<f64> = (0..rounds)
        .map(|_| {
            let v = http_get_json(endpoint, &format!("/dep/{name}")).unwrap();
            assert!(v["error"].is_null(), "{name}: {v}");
            v["ms"].as_f64().unwrap()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[rounds / 2]
}

#[test]
fn postgres_redis_and_nats_are_reached_through_their_fault_proxies_and_removed_by_env_down() {
    let sandbox = DepsSandbox::new(
        "db={dep.db.url} cache={dep.cache.url} events={dep.events.url}",
        DEPENDENCIES,
    );
    let (id, endpoint) = sandbox.up();
    let ready = sandbox.ready(&id);
    let store = shadowgate_store::SqliteStore::open(&sandbox.home().join("shadowgate.db")).unwrap();
    let typed = shadowgate_sandbox::deps::recorded(&store, &id).expect("recorded dependencies");
    assert_eq!(typed.api, ready["api"].as_str().unwrap());
    assert_eq!(typed.dependencies.len(), 3);
    let api_addr = ready["api"].as_str().unwrap().to_string();
    let deps = ready["dependencies"].as_array().unwrap().clone();
    assert_eq!(deps.len(), 3, "{ready}");

    // Each server runs as nobody inside the environment's namespace, and the application's
    // URL points at the proxy, not at the server.
    let in_ns = processes_in_netns(&id);
    for dep in &deps {
        let pid = dep["pid"].as_i64().unwrap() as i32;
        assert!(
            in_ns.contains(&pid),
            "{} (pid {pid}) is not in the environment's namespace",
            dep["name"]
        );
        assert_eq!(uid_of(pid), Some(65534), "{} does not run as nobody", dep["name"]);
        assert_ne!(dep["port"], dep["service_port"], "{dep}");
        let name = dep["name"].as_str().unwrap();
        let env = http_get_json(&endpoint, &format!("/env/{name}")).unwrap();
        assert_eq!(env["value"], dep["url"], "SHADOWGATE_DEP_{name}_URL");
    }
    let db = deps.iter().find(|d| d["name"] == "db").unwrap();
    assert_eq!(
        db["url"].as_str().unwrap(),
        format!("postgresql://app@127.0.0.1:{}/shop?sslmode=disable", db["port"])
    );
    // The servers are not reachable from the host.
    let service_port = db["service_port"].as_u64().unwrap();
    assert!(TcpStream::connect(("127.0.0.1", service_port as u16)).is_err() || service_port == 0);

    // Real protocol exchanges through the proxies.
    let pg = http_get_json(&endpoint, "/dep/db").unwrap();
    assert_eq!(pg["answer"], "shop:app", "{pg}");
    let redis = http_get_json(&endpoint, "/dep/cache").unwrap();
    assert_eq!(redis["answer"], "hello", "{redis}");
    let nats = http_get_json(&endpoint, "/dep/events").unwrap();
    assert_eq!(nats["answer"], "hello", "{nats}");

    // A latency toxic on each dependency's proxy shows up in the application's round trip.
    for name in ["db", "cache", "events"] {
        let before = median_dep_ms(&endpoint, name, 5);
        assert!(before < 30.0, "{name}: {before:.1} ms before any toxic");
        let status = api(
            &api_addr,
            "POST",
            &format!("/proxies/{name}/toxics"),
            r#"{"name":"slow","type":"latency","stream":"downstream","attributes":{"latency":40}}"#,
        );
        assert_eq!(status, 200, "add a latency toxic to {name}");
        let slow = median_dep_ms(&endpoint, name, 5);
        assert!(
            (40.0..40.0 + 30.0).contains(&slow),
            "{name}: {slow:.1} ms with a 40 ms latency toxic (before: {before:.1} ms)"
        );
        assert_eq!(api(&api_addr, "DELETE", &format!("/proxies/{name}/toxics/slow"), ""), 204);
        let after = median_dep_ms(&endpoint, name, 5);
        assert!(after < 30.0, "{name}: {after:.1} ms after removing the toxic");
    }
    // Disabling a proxy is an outage for the application.
    assert_eq!(api(&api_addr, "POST", "/proxies/cache", r#"{"enabled":false}"#), 200);
    let down = http_get_json(&endpoint, "/dep/cache").unwrap();
    assert!(down["error"].is_string(), "the cache answered through a disabled proxy: {down}");

    eprintln!(
        "postgres: template made in {} ms (0 = cached), copied in {} ms, server ready {} ms; \
         redis ready {} ms; nats ready {} ms",
        db["template_ms"],
        db["prepare_ms"],
        db["ready_ms"],
        deps.iter().find(|d| d["name"] == "cache").unwrap()["ready_ms"],
        deps.iter().find(|d| d["name"] == "events").unwrap()["ready_ms"],
    );

    let out = sandbox.shadowgate(&["env", "down", &id]);
    assert!(out.status.success(), "env down: {}", String::from_utf8_lossy(&out.stderr));
    let left: Vec<i32> = in_ns.into_iter().filter(|p| process_exists(*p)).collect();
    assert!(left.is_empty(), "processes left after env down: {left:?}");
    assert!(leftovers(&id).is_empty(), "after env down: {:?}", leftovers(&id));
    assert!(TcpStream::connect(&api_addr).is_err(), "the proxies' API still listens");
}

#[test]
fn env_gc_after_kill_9_of_the_supervisor_leaves_no_server_behind() {
    // The install step (think: a migration) already reaches the database through its proxy.
    let sandbox = DepsSandbox::with_install(
        "db={dep.db.url} cache={dep.cache.url}",
        DEPENDENCIES,
        "[[install]]\nname = \"migrate\"\ncommand = \"python3 {release_dir}/app.py check db={dep.db.url}\"\n\n",
    );
    let (id, endpoint) = sandbox.up();
    let pg = http_get_json(&endpoint, "/dep/db").unwrap();
    assert_eq!(pg["answer"], "shop:app", "{pg}");
    let in_ns = processes_in_netns(&id);
    // init, the application, the postmaster and its helpers, redis and nats at the least.
    assert!(in_ns.len() >= 6, "processes in the namespace: {in_ns:?}");
    let supervisor = shadowgate_sandbox::live_supervisors()[&id];
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(supervisor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    support::wait_until(Duration::from_secs(10), || !process_exists(supervisor));

    let out = sandbox.shadowgate(&["env", "gc"]);
    assert!(out.status.success(), "env gc: {}", String::from_utf8_lossy(&out.stderr));
    support::wait_until(Duration::from_secs(10), || in_ns.iter().all(|p| !process_exists(*p)));
    assert!(leftovers(&id).is_empty(), "after env gc: {:?}", leftovers(&id));
}

#[test]
fn a_dependency_that_cannot_start_fails_the_environment_and_leaves_nothing() {
    // `ready_timeout` too short for any PostgreSQL to answer: the environment fails cleanly.
    let sandbox = DepsSandbox::new(
        "db={dep.db.url}",
        "\n[dependencies.db]\nkind = \"postgres\"\nready_timeout = \"1ms\"\n",
    );
    let out =
        sandbox.command(&["env", "up", "--release", "r1", "--detach", "--json"]).output().unwrap();
    assert!(!out.status.success(), "env up succeeded with an impossible ready timeout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("dependency `db`") && stderr.contains("postgres probe"), "{stderr}");
    let store = shadowgate_store::SqliteStore::open(&sandbox.home().join("shadowgate.db")).unwrap();
    let envs = shadowgate_store::Store::environments(&store, &Default::default()).unwrap();
    let id = envs[0].id.clone();
    support::wait_until_nothing_left(&id);
}

/// Per-environment PostgreSQL start, measured three ways in one run: a fresh `initdb` (and the
/// database created), a `cp -a` of the prepared template, and the overlay clone of the template
/// the sandbox uses; each followed by the server's start up to a successful `SELECT 1`.
#[test]
fn a_cloned_template_starts_postgres_faster_than_a_fresh_initdb() {
    use shadowgate_sandbox::deps;
    require_root();
    let bin = deps::postgres_bin_dir().expect("PostgreSQL is installed (cargo xtask deps)");
    let dir = tempfile::tempdir().unwrap();
    let host_ns = std::fs::File::open("/proc/self/ns/net").unwrap();
    let sockets =
        shadowgate_sandbox::netns::NetnsSockets::enter(Path::new("/proc/self/ns/net")).unwrap();

    // Start the server on `data` and wait for `SELECT 1`; returns the milliseconds it took.
    let serve = |data: &Path, log: &str| -> f64 {
        let port = sockets.free_port().unwrap();
        let started = std::time::Instant::now();
        let mut child = deps::spawn_service(
            deps::postgres_server(&bin, data, port),
            &host_ns,
            &dir.path().join(log),
        )
        .unwrap();
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        let ready = loop {
            if let Ok(mut s) = TcpStream::connect(addr) {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                if deps::postgres_probe(&mut s, "app", "shop").is_ok() {
                    break started.elapsed();
                }
            }
            assert!(child.try_wait().unwrap().is_none(), "postgres exited; see {log}");
            assert!(started.elapsed() < Duration::from_secs(30), "postgres never answered");
            std::thread::sleep(Duration::from_millis(2));
        };
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        child.wait().unwrap();
        ready.as_secs_f64() * 1e3
    };

    // 1. A fresh initdb for this environment (what the template saves).
    let fresh_root = dir.path().join("fresh");
    let started = std::time::Instant::now();
    let fresh = deps::postgres_template(&bin, &fresh_root, "app", "shop").unwrap();
    let initdb_ms = started.elapsed().as_secs_f64() * 1e3;
    let fresh_ready_ms = serve(&fresh, "fresh.log");

    // 2. The prepared template, copied.
    let templates = dir.path().join("templates");
    let template = deps::postgres_template(&bin, &templates, "app", "shop").unwrap();
    let started = std::time::Instant::now();
    deps::copy_data_dir(&template, &dir.path().join("copy")).unwrap();
    let copy_ms = started.elapsed().as_secs_f64() * 1e3;
    let copy_ready_ms = serve(&dir.path().join("copy"), "copy.log");

    // 3. The prepared template, cloned through an overlay (what environments use).
    let clone_dir = dir.path().join("clone");
    std::fs::create_dir_all(&clone_dir).unwrap();
    let started = std::time::Instant::now();
    let data = deps::clone_data_dir(&template, &clone_dir, &mut |_| Ok(())).unwrap();
    let clone_ms = started.elapsed().as_secs_f64() * 1e3;
    let clone_ready_ms = serve(&data, "clone.log");
    nix::mount::umount2(&data, nix::mount::MntFlags::MNT_DETACH).unwrap();

    eprintln!(
        "per-environment PostgreSQL start: fresh initdb {initdb_ms:.0} ms + server {fresh_ready_ms:.0} ms = {:.0} ms; \
         template copy {copy_ms:.0} ms + server {copy_ready_ms:.0} ms = {:.0} ms; \
         overlay clone {clone_ms:.1} ms + server {clone_ready_ms:.0} ms = {:.0} ms",
        initdb_ms + fresh_ready_ms,
        copy_ms + copy_ready_ms,
        clone_ms + clone_ready_ms,
    );
    assert!(
        clone_ms + clone_ready_ms < initdb_ms + fresh_ready_ms,
        "cloning the template was not faster than a fresh initdb"
    );
}
