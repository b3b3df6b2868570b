//! `cargo xtask`: the project's automation, in Rust, with no dependencies.
//!
//! - `cargo xtask demo`  — install what the demo needs, build shadowgate (release) and run `shadowgate demo`.
//! - `cargo xtask test`  — install what the tests need (Debian packages, Python and Node clients)
//!   and run the whole test suite with cargo-nextest (or `cargo test` where nextest is missing).
//! - `cargo xtask deps`  — only install the dependencies.
//! - `cargo xtask ci`    — formatting, lints, then `test`: what CI runs.
//! - `cargo xtask bench` — the benchmarks, in release mode.
//!
//! System packages are installed with apt-get (root is required, as for the sandbox itself);
//! the Toxiproxy clients go into `target/tools`, never into the system.

use std::{
    env,
    path::{Path, PathBuf},
    process::{Command, ExitCode, Stdio},
};

/// Debian packages the tests and the demo use: the package, a command that shows that what it
/// provides is already there (from this package or another source, such as a Node.js install
/// that ships its own npm), and why it is needed.
const APT_PACKAGES: &[(&str, &[&str], &str)] = &[
    ("python3", &["python3", "--version"], "the sandbox tests' probe application"),
    ("wrk", &["sh", "-c", "command -v wrk"], "load-generator and mirroring benchmarks"),
    ("nginx-light", &["nginx", "-v"], "the mirroring proxy benchmark's reference"),
    ("bubblewrap", &["bwrap", "--version"], "the environment start benchmark's reference"),
    ("nodejs", &["node", "--version"], "the Toxiproxy Node client test"),
    ("npm", &["npm", "--version"], "installing the Toxiproxy Node client"),
    ("python3-pip", &["python3", "-m", "pip", "--version"], "installing the Python clients"),
    ("chromium", &["chromium", "--version"], "rendering the HTML report in a headless browser"),
    (
        "postgresql",
        &["sh", "-c", "ls /usr/lib/postgresql/*/bin/initdb"],
        "dependent services and synthetic data: a real PostgreSQL",
    ),
    ("redis-server", &["sh", "-c", "command -v redis-server"], "dependent services: Redis"),
    ("nats-server", &["sh", "-c", "command -v nats-server"], "dependent services: NATS"),
];

/// Python packages installed into target/tools/python, each with the directory that shows
/// it is there: the Toxiproxy client, and the Prometheus and OpenTelemetry SDKs whose output
/// the ingestion tests read.
const PIP_PACKAGES: &[(&str, &str)] = &[
    ("toxiproxy-python==0.1.1", "toxiproxy"),
    ("prometheus-client==0.26.0", "prometheus_client"),
    ("opentelemetry-sdk==1.45.1", "opentelemetry/sdk"),
    ("opentelemetry-exporter-otlp-proto-http==1.45.1", "opentelemetry/exporter/otlp/proto/http"),
    ("opentelemetry-exporter-otlp-json-http==0.66b1", "opentelemetry/exporter/otlp/json/http"),
];

/// Node packages installed into target/tools/node, with their directory under node_modules.
const NPM_PACKAGES: &[(&str, &str)] = &[("toxiproxy-node-client@4", "toxiproxy-node-client")];

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("deps") => deps(),
        Some("test") => deps().and_then(|()| test(&args[1..])),
        Some("demo") => deps().and_then(|()| demo(&args[1..])),
        Some("ci") => ci(),
        Some("bench") => deps().and_then(|()| bench(&args[1..])),
        _ => {
            eprintln!("usage: cargo xtask <demo|test|deps|ci|bench> [args]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn run(cmd: &mut Command) -> Result {
    eprintln!("+ {}", display(cmd));
    let status = cmd.status().map_err(|e| format!("cannot run {}: {e}", display(cmd)))?;
    if status.success() { Ok(()) } else { Err(format!("`{}` failed with {status}", display(cmd))) }
}

fn display(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().to_string();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn deps() -> Result {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .filter(|(_, probe, _)| {
            !Command::new(probe[0])
                .args(&probe[1..])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        })
        .map(|(p, _, _)| *p)
        .collect();
    if !missing.is_empty() {
        if !is_root() {
            return Err(format!(
                "missing Debian packages {}; run as root (sudo cargo xtask ...) so they can be installed",
                missing.join(" ")
            ));
        }
        run(Command::new("apt-get").args(["update", "-q"]))?;
        let mut cmd = Command::new("apt-get");
        cmd.args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive");
        // apt-get occasionally fails to fetch an archive; one retry covers it.
        if run(&mut cmd).is_err() {
            run(&mut cmd)?;
        }
    }
    let tools = root().join("target/tools");
    let python = tools.join("python");
    let pip: Vec<&str> = PIP_PACKAGES
        .iter()
        .filter(|(_, dir)| !python.join(dir).exists())
        .map(|(p, _)| *p)
        .collect();
    if !pip.is_empty() {
        run(Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade"])
            .arg("--target")
            .arg(&python)
            .args(PIP_PACKAGES.iter().map(|(p, _)| *p)))?;
    }
    let node = tools.join("node");
    let npm: Vec<&str> = NPM_PACKAGES
        .iter()
        .filter(|(_, dir)| !node.join("node_modules").join(dir).exists())
        .map(|(p, _)| *p)
        .collect();
    if !npm.is_empty() {
        std::fs::create_dir_all(&node).map_err(|e| format!("create {}: {e}", node.display()))?;
        run(Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&node)
            .args(npm))?;
    }
    Ok(())
}

fn nextest_available() -> bool {
    Command::new(cargo())
        .args(["nextest", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn test(extra: &[String]) -> Result {
    let root = root();
    if nextest_available() {
        run(Command::new(cargo())
            .current_dir(&root)
            .args(["nextest", "run", "--workspace", "--no-fail-fast"])
            .args(extra))
    } else {
        run(Command::new(cargo())
            .current_dir(&root)
            .args(["test", "--workspace", "--no-fail-fast"])
            .args(extra))
    }
}

fn demo(extra: &[String]) -> Result {
    run(Command::new(cargo())
        .current_dir(root())
        .args(["run", "--release", "--quiet", "-p", "shadowgate-cli", "--", "demo"])
        .args(extra))
}

fn ci() -> Result {
    let root = root();
    run(Command::new(cargo()).current_dir(&root).args(["fmt", "--all", "--", "--check"]))?;
    run(Command::new(cargo()).current_dir(&root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    deps()?;
    test(&[])
}

fn bench(extra: &[String]) -> Result {
    run(Command::new(cargo()).current_dir(root()).args(["bench", "--workspace"]).args(extra))
}
