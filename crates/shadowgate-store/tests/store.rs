//! Store tests: migrations, round trips, several handles on one file, and crash safety.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
};

use shadowgate_core::env::EnvState;
use shadowgate_store::{
    Application, Environment, EnvironmentFilter, EventQuery, NewEvent, Release, Run, RunStatus,
    Sample, SampleQuery, SeriesKey, SqliteStore, Store, StoreError,
};

fn env(id: &str, state: EnvState) -> Environment {
    Environment {
        id: id.into(),
        app: "inventory".into(),
        release: "v1".into(),
        role: "baseline".into(),
        state,
        labels: BTreeMap::from([("team".to_string(), "shop".to_string())]),
        created_ms: 1_000,
        updated_ms: 1_000,
        endpoint: None,
        supervisor_pid: Some(42),
        state_dir: "/tmp/x".into(),
        run_id: Some("run-1".into()),
        detail: None,
    }
}

fn key(metric: &str) -> SeriesKey {
    SeriesKey {
        app: "inventory".into(),
        env_id: "e1".into(),
        metric: metric.into(),
        labels: BTreeMap::new(),
    }
}

#[test]
fn fresh_file_is_migrated_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), 1);
        store.insert_environment(&env("e1", EnvState::Creating)).unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 1);
    assert_eq!(store.environment("e1").unwrap().unwrap().state, EnvState::Creating);
    store.integrity_check().unwrap();
}

#[test]
fn a_newer_schema_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    match SqliteStore::open(&path) {
        Err(e @ StoreError::TooNew { found: 99, .. }) => {
            assert!(e.to_string().contains("upgrade shadowgate"))
        }
        Err(other) => panic!("wrong error {other}"),
        Ok(_) => panic!("a store from the future was opened"),
    }
}

#[test]
fn environments_round_trip_and_filter() {
    let store = SqliteStore::in_memory().unwrap();
    store.insert_environment(&env("e1", EnvState::Running)).unwrap();
    store.insert_environment(&env("e2", EnvState::Stopped)).unwrap();
    let mut e1 = store.environment("e1").unwrap().unwrap();
    assert_eq!(e1.labels["team"], "shop");
    e1.state = EnvState::Stopping;
    e1.endpoint = Some("127.0.0.1:4000".into());
    store.update_environment(&e1).unwrap();
    assert_eq!(store.environment("e1").unwrap().unwrap(), e1);
    let live = store
        .environments(&EnvironmentFilter {
            states: vec![EnvState::Running, EnvState::Stopping],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(live.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["e1"]);
    assert!(matches!(
        store.update_environment(&env("nope", EnvState::Running)),
        Err(StoreError::NotFound { .. })
    ));
    assert!(store.environment("missing").unwrap().is_none());
}

#[test]
fn applications_releases_runs_events() {
    let store = SqliteStore::in_memory().unwrap();
    store
        .upsert_application(&Application {
            name: "inventory".into(),
            description: None,
            manifest_path: "m.toml".into(),
            updated_ms: 1,
        })
        .unwrap();
    for (name, path) in [("v1", "/a"), ("v2", "/b"), ("v1", "/c")] {
        store
            .upsert_release(&Release {
                app: "inventory".into(),
                name: name.into(),
                path: path.into(),
                updated_ms: 2,
            })
            .unwrap();
    }
    let releases = store.releases("inventory").unwrap();
    assert_eq!(
        releases.iter().map(|r| (r.name.as_str(), r.path.as_str())).collect::<Vec<_>>(),
        [("v1", "/c"), ("v2", "/b")]
    );

    let mut run = Run {
        id: "run-1".into(),
        app: "inventory".into(),
        kind: "check".into(),
        baseline: "v1".into(),
        candidate: "v2".into(),
        status: RunStatus::Running,
        score: None,
        started_ms: 10,
        finished_ms: None,
        config: serde_json::json!({"rate": 100}),
        result: None,
    };
    store.insert_run(&run).unwrap();
    run.status = RunStatus::Failed;
    run.score = Some(42.5);
    run.finished_ms = Some(20);
    run.result = Some(serde_json::json!({"verdict": "fail"}));
    store.update_run(&run).unwrap();
    assert_eq!(store.run("run-1").unwrap().unwrap(), run);
    assert_eq!(store.runs(10).unwrap(), vec![run]);

    let id = store
        .append_event(&NewEvent {
            env_id: Some("e1".into()),
            run_id: None,
            kind: "oom_kill".into(),
            at_ms: 5,
            end_ms: None,
            message: "killed".into(),
            data: serde_json::json!({"count": 1}),
        })
        .unwrap();
    store.end_event(id, 9).unwrap();
    let events =
        store.events(&EventQuery { env_id: Some("e1".into()), ..Default::default() }).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].kind.as_str(), events[0].end_ms), ("oom_kill", Some(9)));
    assert!(
        store
            .events(&EventQuery { kind: Some("exited".into()), ..Default::default() })
            .unwrap()
            .is_empty()
    );
}

#[test]
fn deleting_samples_by_age_keeps_newer_points_other_metrics_and_series() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("store.db")).unwrap();
    let mut batch = Vec::new();
    for ts in 0..10 {
        batch.push(Sample { series: key("cpu"), ts_ms: ts * 1000, value: ts as f64 });
        batch.push(Sample { series: key("cpu:1m_max"), ts_ms: ts * 1000, value: ts as f64 });
    }
    let mut other_app = key("cpu");
    other_app.app = "billing".into();
    batch.push(Sample { series: other_app, ts_ms: 0, value: 1.0 });
    store.append_samples(&batch).unwrap();

    let old_cpu = SampleQuery {
        app: Some("inventory".into()),
        metric: Some("cpu".into()),
        to_ms: Some(4000),
        ..Default::default()
    };
    assert_eq!(store.delete_samples(&old_cpu).unwrap(), 4);
    assert_eq!(store.delete_samples(&old_cpu).unwrap(), 0, "deleting again finds nothing");
    let cpu =
        store.samples(&SampleQuery { metric: Some("cpu".into()), ..Default::default() }).unwrap();
    let times_of =
        |app: &str| cpu.iter().filter(|s| s.series.app == app).map(|s| s.ts_ms).collect::<Vec<_>>();
    assert_eq!(times_of("inventory"), [4000, 5000, 6000, 7000, 8000, 9000]);
    assert_eq!(times_of("billing"), [0], "another application's points stay");
    let rollup = SampleQuery { metric: Some("cpu:1m_max".into()), ..Default::default() };
    assert_eq!(store.samples(&rollup).unwrap().len(), 10);
    assert_eq!(store.series(&SampleQuery::default()).unwrap().len(), 3, "series rows are kept");

    // Deleting through one handle is durable and visible through another one.
    let reopened = SqliteStore::open(&dir.path().join("store.db")).unwrap();
    let everything_old = SampleQuery { to_ms: Some(6000), ..Default::default() };
    assert_eq!(reopened.delete_samples(&everything_old).unwrap(), 2 + 6 + 1);
    assert_eq!(store.samples(&SampleQuery::default()).unwrap().len(), 4 + 4);
    store.integrity_check().unwrap();
}

#[test]
fn a_failed_batch_stores_neither_its_samples_nor_its_new_series() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("store.db")).unwrap();
    store.append_samples(&[Sample { series: key("old"), ts_ms: 0, value: 1.0 }]).unwrap();
    // SQLite stores NaN as NULL, which the samples table refuses: the batch fails half-way.
    let failing = [
        Sample { series: key("new"), ts_ms: 1, value: 1.0 },
        Sample { series: key("old"), ts_ms: 1, value: 2.0 },
        Sample { series: key("new"), ts_ms: 2, value: f64::NAN },
    ];
    assert!(store.append_samples(&failing).is_err());
    let metrics: Vec<String> =
        store.series(&SampleQuery::default()).unwrap().into_iter().map(|s| s.metric).collect();
    assert_eq!(metrics, ["old"], "the new series was rolled back with its samples");
    assert_eq!(store.samples(&SampleQuery::default()).unwrap().len(), 1);

    // The same series written again gets a real row (no id cached from the failed batch).
    store.append_samples(&[Sample { series: key("new"), ts_ms: 3, value: 3.0 }]).unwrap();
    let reopened = SqliteStore::open(&dir.path().join("store.db")).unwrap();
    let new = reopened
        .samples(&SampleQuery { metric: Some("new".into()), ..Default::default() })
        .unwrap();
    assert_eq!(new.iter().map(|s| (s.ts_ms, s.value)).collect::<Vec<_>>(), [(3, 3.0)]);
    reopened.integrity_check().unwrap();
}

#[test]
fn samples_are_grouped_by_series_and_ranged() {
    let store = SqliteStore::in_memory().unwrap();
    let mut batch = Vec::new();
    for ts in 0..10 {
        batch.push(Sample { series: key("cpu"), ts_ms: ts * 1000, value: ts as f64 });
        batch.push(Sample { series: key("memory"), ts_ms: ts * 1000, value: 100.0 });
    }
    assert_eq!(store.append_samples(&batch).unwrap(), 20);
    let cpu = store
        .samples(&SampleQuery {
            metric: Some("cpu".into()),
            from_ms: Some(2000),
            to_ms: Some(5000),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(cpu.iter().map(|s| s.value).collect::<Vec<_>>(), [2.0, 3.0, 4.0]);
    assert_eq!(
        store
            .series(&SampleQuery { env_id: Some("e1".into()), ..Default::default() })
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn two_handles_on_one_file_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let a = SqliteStore::open(&path).unwrap();
    let b = SqliteStore::open(&path).unwrap();
    let writers: Vec<_> = [&a, &b]
        .into_iter()
        .enumerate()
        .map(|(idx, store)| {
            let samples: Vec<Sample> = (0..500)
                .map(|i| Sample { series: key(&format!("m{idx}")), ts_ms: i, value: i as f64 })
                .collect();
            (store, samples)
        })
        .collect();
    std::thread::scope(|s| {
        for (store, samples) in &writers {
            s.spawn(|| {
                for chunk in samples.chunks(50) {
                    store.append_samples(chunk).unwrap();
                }
            });
        }
    });
    assert_eq!(a.samples(&SampleQuery::default()).unwrap().len(), 1000);
    assert_eq!(b.samples(&SampleQuery::default()).unwrap().len(), 1000);
}

const CHILD_ENV: &str = "SHADOWGATE_STORE_CRASH_CHILD_DB";

/// Kills a writer with SIGKILL in the middle of its writes, then checks that every batch it had
/// acknowledged (printed after `append_samples` returned) is in the file, that what is in the
/// file is an unbroken prefix of what it wrote, and that the file passes SQLite's integrity check.
/// The writer is this same test binary, started again with an environment variable set.
#[test]
fn kill_9_loses_nothing_acknowledged() {
    if let Some(db) = std::env::var_os(CHILD_ENV) {
        let store = SqliteStore::open(std::path::Path::new(&db)).unwrap();
        let stdout = std::io::stdout();
        let mut total = 0i64;
        loop {
            let batch: Vec<Sample> = (0..200)
                .map(|i| Sample { series: key("seq"), ts_ms: total + i, value: (total + i) as f64 })
                .collect();
            store.append_samples(&batch).unwrap();
            total += 200;
            let mut out = stdout.lock();
            writeln!(out, "ack {total}").unwrap();
            out.flush().unwrap();
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "kill_9_loses_nothing_acknowledged", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acknowledged = 0i64;
    while acknowledged < 20_000 {
        let line = lines.next().expect("writer exited early").unwrap();
        if let Some(n) = line.strip_prefix("ack ") {
            acknowledged = n.parse().unwrap();
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("ack ") {
            acknowledged = n.parse().unwrap();
        }
    }

    let store = SqliteStore::open(&db).unwrap();
    store.integrity_check().unwrap();
    let samples =
        store.samples(&SampleQuery { metric: Some("seq".into()), ..Default::default() }).unwrap();
    assert!(
        samples.len() as i64 >= acknowledged,
        "{} stored < {acknowledged} acknowledged",
        samples.len()
    );
    for (idx, s) in samples.iter().enumerate() {
        assert_eq!(s.ts_ms, idx as i64, "gap or duplicate at {idx}");
    }
}
