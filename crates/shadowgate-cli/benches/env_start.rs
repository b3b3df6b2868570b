//! Environment start-up, side by side with `unshare` and `bwrap` on the same machine.
//!
//! Run with `cargo bench -p shadowgate-cli --bench env_start` (as root). Each command is run
//! 20 times in turn (interleaved, so load on the machine hits all alike) and the median wall
//! time from spawn to exit is reported, with the ratio to `unshare`:
//!
//! - `unshare`: new net, mount, PID, UTS and IPC namespaces around `true` (util-linux);
//! - `bwrap`: bubblewrap with all namespaces and a read-only view of `/`;
//! - `env run --no-limits`: shadowgate's bare sandbox, the same namespaces plus loopback up;
//! - `env run`: the same with a cgroup (cpu, memory, pids limits) created, joined and removed;
//! - the example application (`examples/inventory`, release v1) from `env up` to healthy,
//!   without its seeding install step, and then with it.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

const RUNS: usize = 20;

fn main() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the environment start benchmark needs root (namespaces, cgroups, mounts)"
    );
    let shadowgate = env!("CARGO_BIN_EXE_shadowgate");
    let home = tempfile::tempdir().unwrap();
    let mut cases: Vec<(&str, Vec<String>)> = vec![
        ("unshare (namespaces)", argv("unshare --net --mount --pid --uts --ipc --fork true")),
        (
            "shadowgate env run --no-limits",
            vec![
                shadowgate.into(),
                "env".into(),
                "run".into(),
                "--no-limits".into(),
                "--".into(),
                "true".into(),
            ],
        ),
        (
            "shadowgate env run (with cgroup)",
            vec![shadowgate.into(), "env".into(), "run".into(), "--".into(), "true".into()],
        ),
    ];
    if Command::new("bwrap").arg("--version").output().is_ok() {
        cases.insert(1, ("bwrap (all namespaces)", argv("bwrap --unshare-all --die-with-parent --ro-bind / / --dev /dev --proc /proc true")));
    } else {
        println!("bwrap is not installed (apt-get install bubblewrap): no bwrap column");
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for _ in 0..RUNS {
        for (idx, (_, args)) in cases.iter().enumerate() {
            let started = Instant::now();
            let status = Command::new(&args[0])
                .args(&args[1..])
                .env("SHADOWGATE_HOME", home.path())
                .status()
                .unwrap();
            assert!(status.success(), "{args:?} failed: {status}");
            times[idx].push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let reference = median(&times[0]);
    println!("\nEnvironment start, median of {RUNS} (ms), ratio to unshare:");
    for ((name, _), t) in cases.iter().zip(&times) {
        let m = median(t);
        println!("  {name:<36} {m:>8.2} ms   min {:>7.2}   x{:.2}", min(t), m / reference);
    }

    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/inventory");
    let build = Command::new("./build.sh")
        .arg("v1")
        .current_dir(&example)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(build.success(), "building the example failed");
    let full_manifest = example.join("shadowgate.toml");
    let text = std::fs::read_to_string(&full_manifest).unwrap();
    let no_install = example.join("shadowgate.bench-no-install.toml");
    let without: String = strip_install(&text);
    std::fs::write(&no_install, without).unwrap();
    for (label, manifest, runs) in [
        ("example v1 up to healthy (no seeding)", &no_install, RUNS),
        ("example v1 up to healthy (200k-order seeding)", &full_manifest, 5),
    ] {
        let mut t = Vec::new();
        let mut startup = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            let out = Command::new(shadowgate)
                .args([
                    "env",
                    "up",
                    "--release",
                    "v1",
                    "--detach",
                    "--no-build",
                    "--json",
                    "--manifest",
                ])
                .arg(manifest)
                .env("SHADOWGATE_HOME", home.path())
                .output()
                .unwrap();
            t.push(started.elapsed().as_secs_f64() * 1000.0);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            startup.push(v["startup_ms"].as_f64().unwrap());
            let id = v["id"].as_str().unwrap().to_string();
            let down = Command::new(shadowgate)
                .args(["env", "down", &id])
                .env("SHADOWGATE_HOME", home.path())
                .output()
                .unwrap();
            assert!(down.status.success());
        }
        println!(
            "  {label:<46} {:>8.1} ms (median of {runs}; supervisor-measured {:.1} ms)",
            median(&t),
            median(&startup)
        );
    }
    let _ = std::fs::remove_file(no_install);
    let _: PathBuf = home.path().to_path_buf();
}

fn strip_install(text: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.starts_with("[[install]]") {
            skipping = true;
            continue;
        }
        if skipping && line.starts_with('[') {
            skipping = false;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn argv(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}
