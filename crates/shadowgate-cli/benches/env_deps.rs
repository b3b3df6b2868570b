//! Environments with dependent services, side by side with the same environment without them.
//!
//! Run with `cargo bench -p shadowgate-cli --bench env_deps` (as root, with PostgreSQL, Redis
//! and NATS installed: `cargo xtask deps`). Reported, as medians over interleaved runs:
//!
//! - `env up --detach` wall time up to healthy for a small Python application: without
//!   dependencies (the reference), with PostgreSQL, and with PostgreSQL, Redis and NATS;
//! - a PostgreSQL data directory for one environment, three ways, each followed by the server's
//!   start up to `SELECT 1`: a fresh `initdb` (plus the database), a `cp -a` of the prepared
//!   template, and the overlay clone of the template that environments use.

use std::{
    net::{SocketAddr, TcpStream},
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use shadowgate_sandbox::deps;

const RUNS: usize = 10;

fn main() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the dependency benchmark needs root (namespaces, mounts, servers run as nobody)"
    );
    let shadowgate = env!("CARGO_BIN_EXE_shadowgate");
    let dir = tempfile::tempdir().unwrap();
    let rel = dir.path().join("rel");
    std::fs::create_dir_all(&rel).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deps-app/app.py");
    std::fs::copy(fixture, rel.join("app.py")).unwrap();
    let cases = [
        ("env up, no dependencies (reference)", "", ""),
        ("env up, postgres", "db={dep.db.url}", "[dependencies.db]\nkind = \"postgres\"\n"),
        (
            "env up, postgres + redis + nats",
            "db={dep.db.url} cache={dep.cache.url} events={dep.events.url}",
            "[dependencies.db]\nkind = \"postgres\"\n\n[dependencies.cache]\nkind = \"redis\"\n\n[dependencies.events]\nkind = \"nats\"\n",
        ),
    ];
    let manifests: Vec<_> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, args, deps))| {
            let path = dir.path().join(format!("case{i}.toml"));
            std::fs::write(
                &path,
                format!(
                    "[app]\nname = \"bench\"\n\n[releases.r1]\npath = \"rel\"\n\n[run]\ncommand = \"python3 {{release_dir}}/app.py {{port}} {args}\"\n\n[run.health]\nhttp = \"/healthz\"\n\n{deps}"
                ),
            )
            .unwrap();
            path
        })
        .collect();
    let home = dir.path().join("home");
    // One unmeasured round, so the PostgreSQL template exists (as on any machine after the first).
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for round in 0..=RUNS {
        for (i, manifest) in manifests.iter().enumerate() {
            let started = Instant::now();
            let out = Command::new(shadowgate)
                .args(["env", "up", "--release", "r1", "--detach", "--json", "--manifest"])
                .arg(manifest)
                .env("SHADOWGATE_HOME", &home)
                .output()
                .unwrap();
            let ms = started.elapsed().as_secs_f64() * 1e3;
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let down = Command::new(shadowgate)
                .args(["env", "down", v["id"].as_str().unwrap()])
                .env("SHADOWGATE_HOME", &home)
                .output()
                .unwrap();
            assert!(down.status.success());
            if round > 0 {
                times[i].push(ms);
            }
        }
    }
    let reference = median(&times[0]);
    println!("\nEnvironment up to healthy, median of {RUNS} (ms), ratio to no dependencies:");
    for ((name, _, _), t) in cases.iter().zip(&times) {
        let m = median(t);
        println!("  {name:<40} {m:>8.1} ms   min {:>7.1}   x{:.2}", min(t), m / reference);
    }

    // One environment's PostgreSQL, three ways.
    let bin = deps::postgres_bin_dir().expect("PostgreSQL is installed (cargo xtask deps)");
    let host_ns = std::fs::File::open("/proc/self/ns/net").unwrap();
    let sockets =
        shadowgate_sandbox::netns::NetnsSockets::enter(Path::new("/proc/self/ns/net")).unwrap();
    let serve = |data: &Path| -> f64 {
        let port = sockets.free_port().unwrap();
        let started = Instant::now();
        let mut child = deps::spawn_service(
            deps::postgres_server(&bin, data, port),
            &host_ns,
            &dir.path().join("postgres.log"),
        )
        .unwrap();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let ready = loop {
            if let Ok(mut s) = TcpStream::connect(addr) {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                if deps::postgres_probe(&mut s, "shadowgate", "bench").is_ok() {
                    break started.elapsed();
                }
            }
            assert!(child.try_wait().unwrap().is_none(), "postgres exited");
            std::thread::sleep(Duration::from_millis(1));
        };
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        child.wait().unwrap();
        ready.as_secs_f64() * 1e3
    };
    let templates = dir.path().join("templates");
    let template = deps::postgres_template(&bin, &templates, "shadowgate", "bench").unwrap();
    let mut rows: Vec<(&str, Vec<f64>, Vec<f64>)> = vec![
        ("fresh initdb + createdb", Vec::new(), Vec::new()),
        ("cp -a of the template", Vec::new(), Vec::new()),
        ("overlay clone of the template", Vec::new(), Vec::new()),
    ];
    for round in 0..5 {
        let work = dir.path().join(format!("pg{round}"));
        std::fs::create_dir_all(&work).unwrap();
        let started = Instant::now();
        let fresh =
            deps::postgres_template(&bin, &work.join("fresh"), "shadowgate", "bench").unwrap();
        rows[0].1.push(started.elapsed().as_secs_f64() * 1e3);
        rows[0].2.push(serve(&fresh));

        let started = Instant::now();
        deps::copy_data_dir(&template, &work.join("copy")).unwrap();
        rows[1].1.push(started.elapsed().as_secs_f64() * 1e3);
        rows[1].2.push(serve(&work.join("copy")));

        let clone = work.join("clone");
        std::fs::create_dir_all(&clone).unwrap();
        let started = Instant::now();
        let data = deps::clone_data_dir(&template, &clone, &mut |_| Ok(())).unwrap();
        rows[2].1.push(started.elapsed().as_secs_f64() * 1e3);
        rows[2].2.push(serve(&data));
        nix::mount::umount2(&data, nix::mount::MntFlags::MNT_DETACH).unwrap();
        std::fs::remove_dir_all(&work).unwrap();
    }
    let reference = median(&rows[0].1) + median(&rows[0].2);
    println!("\nPostgreSQL for one environment, median of 5 (ms), ratio to a fresh initdb:");
    for (name, prepare, serve) in &rows {
        let total = median(prepare) + median(serve);
        println!(
            "  {name:<32} data dir {:>7.1} ms + server to SELECT 1 {:>6.1} ms = {total:>7.1} ms   x{:.2}",
            median(prepare),
            median(serve),
            total / reference
        );
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}
