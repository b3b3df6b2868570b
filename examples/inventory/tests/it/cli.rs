//! The command line: `migrate` as an install step, clean stops, and errors that name the
//! flag to fix.

use std::{
    process::Output,
    time::{Duration, Instant},
};

use http::StatusCode;
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

use crate::support::{Binary, HttpClient, Running, SMALL_PLAN, seed_args};

/// How long a stopped service may take to exit.
const EXIT_DEADLINE: Duration = Duration::from_secs(20);

fn run(binary: Binary, args: &[&str]) -> Output {
    binary.command().args(args).output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn migrate_seeds_once_and_reports_the_rate() {
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().display().to_string();
    let mut args = vec!["migrate".to_string(), "--data".to_string(), data_arg.clone()];
    args.extend(seed_args(&SMALL_PLAN));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let first = run(Binary::V2, &args);
    assert!(first.status.success(), "{}", stderr(&first));
    let report = stdout(&first);
    assert!(report.contains("applied migration: enforce valid order statuses"), "{report}");
    assert!(report.contains("schema at version 2"), "{report}");
    let seeded = report.lines().find(|line| line.contains("seeded")).expect("a seeding line");
    assert!(seeded.contains("300 items, 100 customers, 2000 orders"), "{seeded}");
    assert!(seeded.ends_with("rows/s)"), "{seeded}");

    let again = run(Binary::V2, &args);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains("already seeded"), "{}", stdout(&again));
    assert!(!stdout(&again).contains("applied migration"), "{}", stdout(&again));

    let different = run(Binary::V2, &["migrate", "--data", &data_arg, "--seed-items", "5"]);
    assert_eq!(different.status.code(), Some(1));
    assert!(stderr(&different).contains("use an empty --data directory"), "{}", stderr(&different));

    let older = run(Binary::V1, &["migrate", "--data", &data_arg]);
    assert_eq!(older.status.code(), Some(1));
    assert!(stderr(&older).contains("schema is at version 2"), "{}", stderr(&older));
}

#[test]
fn bad_flags_are_refused_with_the_flag_named() {
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().display().to_string();
    for (args, code, needle) in [
        (vec!["serve", "--listen", "localhost", "--data", &data_arg], 2, "--listen"),
        (vec!["serve", "--data", &data_arg], 2, "--listen"),
        (
            vec![
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--data",
                &data_arg,
                "--pricing-url",
                "https://x:1",
            ],
            1,
            "--pricing-url",
        ),
        (vec!["migrate", "--data", &data_arg, "--seed-orders", "10"], 1, "--seed-customers"),
        (vec!["migrate", "--data", &data_arg, "--seed-items", "many"], 2, "--seed-items"),
        (vec!["migrate", "--data", "/proc/inventory-data"], 1, "--data"),
        (
            vec!["serve", "--listen", "127.0.0.1:0", "--data", &data_arg, "--db-connections", "0"],
            2,
            "--db-connections",
        ),
    ] {
        let output = run(Binary::V1, &args);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(needle), "{args:?}: {}", stderr(&output));
    }
}

#[test]
fn a_taken_port_is_reported_with_the_flag_to_change() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().display().to_string();
    let output = run(Binary::V1, &["serve", "--listen", &address, "--data", &data_arg]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("pass a free address to --listen"), "{}", stderr(&output));
}

#[test]
fn version_names_the_release() {
    for binary in [Binary::V1, Binary::V2] {
        let output = run(binary, &["--version"]);
        assert!(output.status.success());
        assert_eq!(stdout(&output).trim(), format!("inventory {}", binary.release()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_service_cleanly() {
    for binary in [Binary::V1, Binary::V2] {
        let data = tempfile::tempdir().unwrap();
        let mut server = Running::serve(binary, data.path(), &seed_args(&SMALL_PLAN));
        let client = HttpClient::default();
        assert_eq!(client.get(&server.url("/healthz")).await.status, StatusCode::OK);
        kill(Pid::from_raw(server.pid()), Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + EXIT_DEADLINE;
        let status = loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "{binary:?} still running after SIGTERM");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(status.success(), "{binary:?} exited with {status}");
        let last_line = server.later_lines.recv_timeout(EXIT_DEADLINE).unwrap();
        assert!(last_line.contains("stopped"), "{last_line}");
    }
}
