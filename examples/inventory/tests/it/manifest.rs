//! The example's `shadowgate.toml` is valid for shadowgate, and its commands, expanded as
//! shadowgate expands them, install and run the release.

use std::{
    collections::BTreeMap,
    path::Path,
    process::{Command, Stdio},
};

use http::StatusCode;
use shadowgate_core::{manifest, template::Template};

use crate::support::{Binary, HttpClient, Running};

const MANIFEST: &str = include_str!("../../shadowgate.toml");

fn example_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_manifest_is_valid() {
    let manifest =
        manifest::parse(MANIFEST, "shadowgate.toml").unwrap_or_else(|errs| panic!("{errs}"));
    assert_eq!(manifest.app.name, "inventory");
    for release in ["v1", "v2"] {
        let entry = &manifest.releases[release];
        assert_eq!(entry.path, format!("dist/{release}"));
        assert_eq!(entry.build.as_deref(), Some(format!("./build.sh {release}").as_str()));
    }
    assert_eq!(manifest.install.len(), 1);
    assert!(manifest.install[0].command.contains("--seed-orders 200000"));
    assert_eq!(manifest.run.health.http.as_deref(), Some("/healthz"));
    assert_eq!(manifest.labels["team"], "storefront");
}

#[test]
fn build_script_is_executable_posix_sh_and_checks_its_argument() {
    let script = example_dir().join("build.sh");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&script).unwrap().permissions());
    assert_ne!(mode & 0o111, 0, "build.sh is executable");
    let syntax = Command::new("sh").arg("-n").arg(&script).status().unwrap();
    assert!(syntax.success(), "sh -n build.sh");
    let usage = Command::new(&script).arg("v3").stderr(Stdio::piped()).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("usage"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_and_run_commands_work_as_written() {
    let manifest =
        manifest::parse(MANIFEST, "shadowgate.toml").unwrap_or_else(|errs| panic!("{errs}"));
    let release_dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(Binary::V2.path(), release_dir.path().join("inventory")).unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let mut values = BTreeMap::from([
        ("release_dir".to_string(), release_dir.path().display().to_string()),
        ("data_dir".to_string(), data_dir.path().display().to_string()),
    ]);
    let install = Template::parse(&manifest.install[0].command).unwrap().expand(&values).unwrap();
    let installed = Command::new("sh").arg("-c").arg(&install).output().unwrap();
    let install_output = String::from_utf8_lossy(&installed.stdout);
    assert!(installed.status.success(), "{install}: {install_output}");
    assert!(install_output.contains("200000 orders"), "{install_output}");

    // Port 0 lets the kernel choose; the service announces the port it got.
    values.insert("port".to_string(), "0".to_string());
    let run = Template::parse(&manifest.run.command).unwrap().expand(&values).unwrap();
    let mut shell = Command::new("sh");
    // `exec` makes the service the shell's process, so stopping it stops the service.
    shell.arg("-c").arg(format!("exec {run}"));
    let server = Running::spawn(shell);
    let health = manifest.run.health.http.as_deref().unwrap();
    let reply = HttpClient::default().get(&server.url(health)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["schema_version"], 2);
    assert!(
        server.startup_lines.iter().all(|line| !line.contains("seeded")),
        "the run command reuses the installed data: {:?}",
        server.startup_lines
    );
}
