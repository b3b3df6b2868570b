//! Existing Toxiproxy clients, unmodified, against this proxy: the Python client from PyPI and
//! the Node client from npm, each driven by a script in `tests/clients/` that checks the
//! effects on real traffic.
//!
//! The clients are installed under the workspace's `target/tools` by `cargo xtask deps`.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::process::Command;

use crate::support::{Harness, echo_server};

/// How long a client script may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// The workspace root, resolved, since Python and Node normalise `..` in their search paths
/// textually, which goes wrong when the checkout is reached through a symbolic link.
fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::canonicalize(&root).unwrap_or(root)
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients").join(name)
}

/// Fails the test with instructions when an installed client is missing.
fn require_installed(path: &Path, client: &str) {
    assert!(
        path.exists(),
        "the {client} is not installed: {} does not exist; run `cargo xtask deps` to install the \
         Toxiproxy test clients under target/tools",
        path.display()
    );
}

/// Runs a client script against a fresh proxy and an echo upstream, and fails with its output
/// unless it succeeds.
async fn run_client(interpreter: &str, script: PathBuf, environment: (&str, PathBuf)) {
    let harness = Harness::start().await;
    let upstream = echo_server().await;
    let child = Command::new(interpreter)
        .arg(&script)
        .arg(harness.api.port().to_string())
        .arg(upstream.to_string())
        .env(environment.0, &environment.1)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| {
            panic!("cannot run `{interpreter}` ({error}); install it, then run `cargo xtask deps`")
        });
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{} did not finish within {SCRIPT_TIMEOUT:?}", script.display()))
        .expect("wait for the client script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        script.display(),
        output.status
    );
    assert!(stdout.contains("all checks passed"), "unexpected output:\n{stdout}\n{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_from_pypi_works_unchanged() {
    let installed = workspace_root().join("target/tools/python");
    require_installed(&installed.join("toxiproxy/__init__.py"), "Python client toxiproxy-python");
    run_client("python3", script("toxiproxy_python.py"), ("PYTHONPATH", installed)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_client_from_npm_works_unchanged() {
    let modules = workspace_root().join("target/tools/node/node_modules");
    require_installed(
        &modules.join("toxiproxy-node-client/package.json"),
        "Node client toxiproxy-node-client",
    );
    run_client("node", script("toxiproxy_node.js"), ("NODE_PATH", modules)).await;
}
