//! The telemetry and prediction commands, run as the real binary: `ingest` (import, scrape,
//! otlp), `forecast`, `detect`, `eval nab`, `recommend`, `predict`, and `check --conditions`.
//!
//! Every input is generated here or served by a server in the test, so the suite runs on a
//! clean checkout. Only the `check` test starts environments and needs root.

mod support;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    time::Duration,
};

use shadowgate_store::{SampleQuery, SqliteStore, Store};

fn shadowgate(home: &Path, args: &[&str]) -> Output {
    Command::new(support::bin())
        .args(args)
        .env("SHADOWGATE_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("SHADOWGATE_STORE")
        .env_remove("SHADOWGATE_HMAC_SECRET")
        .stdin(Stdio::null())
        .output()
        .expect("run shadowgate")
}

fn ok_json(out: &Output, what: &str) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{what} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout))
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A deterministic standard normal stream (xorshift and Box-Muller).
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

const T0: i64 = 1_700_000_000;
const STEP: i64 = 900;
const DAY_STEPS: usize = 96;

/// A daily-seasonal series at 15-minute steps: level 100, amplitude 30, noise sd 3.
fn seasonal(steps: usize, seed: u64) -> Vec<(i64, f64)> {
    let mut noise = Noise(seed);
    (0..steps)
        .map(|i| {
            let phase = 2.0 * std::f64::consts::PI * (i % DAY_STEPS) as f64 / DAY_STEPS as f64;
            (T0 + i as i64 * STEP, 100.0 + 30.0 * phase.sin() + 3.0 * noise.normal())
        })
        .collect()
}

fn write_csv(path: &Path, rows: &[(i64, f64)]) {
    let mut text = String::from("timestamp,value\n");
    for (t, v) in rows {
        text.push_str(&format!("{t},{v}\n"));
    }
    std::fs::write(path, text).unwrap();
}

fn store(home: &Path) -> SqliteStore {
    SqliteStore::open(&home.join("shadowgate.db")).unwrap()
}

fn points(home: &Path, app: &str, metric: &str) -> Vec<shadowgate_store::Sample> {
    store(home)
        .samples(&SampleQuery {
            app: Some(app.into()),
            metric: Some(metric.into()),
            ..SampleQuery::default()
        })
        .unwrap()
}

// ---------------------------------------------------------------------------------------------

#[test]
fn forecast_intervals_contain_the_truth_at_about_their_nominal_rate() {
    let dir = tempfile::tempdir().unwrap();
    let (mut inside80, mut inside95, mut total) = (0usize, 0usize, 0usize);
    for seed in [11, 23, 37] {
        let all = seasonal(22 * DAY_STEPS, seed);
        let (history, truth) = all.split_at(21 * DAY_STEPS);
        let input = dir.path().join(format!("s{seed}.csv"));
        write_csv(&input, history);
        let out = shadowgate(
            dir.path(),
            &["forecast", "--input", input.to_str().unwrap(), "--horizon", "1d", "--json"],
        );
        let doc = ok_json(&out, "forecast");
        let forecast = doc["forecast"].as_array().expect("a forecast array");
        assert_eq!(forecast.len(), DAY_STEPS, "one day at the input's 15-minute step");
        assert!(doc["model"].is_string(), "the chosen model is named: {}", doc["model"]);
        let backtest = &doc["backtest"];
        for field in ["mase", "coverage80", "coverage95", "seasonal_naive_mase"] {
            assert!(backtest[field].as_f64().is_some_and(f64::is_finite), "backtest.{field}");
        }
        assert!(
            backtest["mase"].as_f64().unwrap()
                <= backtest["seasonal_naive_mase"].as_f64().unwrap() + 1e-9,
            "never worse than seasonal naive on the backtest"
        );
        for (point, (t, actual)) in forecast.iter().zip(truth) {
            assert_eq!(point["timestamp"].as_i64(), Some(*t));
            let f = |k: &str| point[k].as_f64().unwrap();
            assert!(f("lower95") <= f("lower80") && f("lower80") <= f("value"));
            assert!(f("value") <= f("upper80") && f("upper80") <= f("upper95"));
            inside80 += usize::from(f("lower80") <= *actual && *actual <= f("upper80"));
            inside95 += usize::from(f("lower95") <= *actual && *actual <= f("upper95"));
            total += 1;
        }
    }
    let (c80, c95) = (inside80 as f64 / total as f64, inside95 as f64 / total as f64);
    // 288 held-out points: the binomial standard error at 80 % is 2.4 points.
    assert!((0.68..=0.92).contains(&c80), "80% interval covered {c80:.3} of the truth");
    assert!((0.88..=1.0).contains(&c95), "95% interval covered {c95:.3} of the truth");
}

#[test]
fn detect_writes_nab_result_files_and_flags_the_spike() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = seasonal(12 * DAY_STEPS, 5);
    let spike = 10 * DAY_STEPS + 17;
    rows[spike].1 += 60.0;
    // NAB's own timestamp notation, which must come back verbatim.
    let mut text = String::from("timestamp,value\n");
    for (t, v) in &rows {
        let s = t - T0;
        text.push_str(&format!(
            "2023-11-{:02} {:02}:{:02}:00,{v}\n",
            14 + s / 86_400,
            (s % 86_400) / 3600,
            (s % 3600) / 60
        ));
    }
    let input = dir.path().join("series.csv");
    std::fs::write(&input, &text).unwrap();
    let output = dir.path().join("result.csv");
    let out = shadowgate(
        dir.path(),
        &[
            "detect",
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
            "--json",
        ],
    );
    let doc = ok_json(&out, "detect");
    let result = std::fs::read_to_string(&output).unwrap();
    let mut lines = result.lines();
    assert_eq!(lines.next(), Some("timestamp,value,anomaly_score"));
    let input_lines: Vec<&str> = text.lines().skip(1).collect();
    let mut scores = Vec::new();
    for (line, original) in lines.zip(&input_lines) {
        let (ts, rest) = line.split_once(',').unwrap();
        assert_eq!(ts, original.split_once(',').unwrap().0, "timestamps are kept verbatim");
        let score: f64 = rest.rsplit_once(',').unwrap().1.parse().unwrap();
        assert!((0.0..=1.0).contains(&score));
        scores.push(score);
    }
    assert_eq!(scores.len(), rows.len(), "one result row per input row");
    let threshold = doc["threshold"].as_f64().unwrap();
    assert!(scores[spike] >= threshold, "the spike scores {} < {threshold}", scores[spike]);
    let false_alarms = scores[..spike].iter().filter(|s| **s >= threshold).count();
    assert!(false_alarms <= 2, "{false_alarms} alarms before the spike");
    let alarms = doc["alarms"].as_array().unwrap();
    assert!(alarms.iter().any(|a| a["timestamp"] == input_lines[spike].split(',').next().unwrap()));
    assert_eq!(doc["detector"], "combined");
    assert_eq!(doc["threshold"], 0.7, "the combined detector's own alarm score");

    // Each part alone, with its own default threshold.
    for (detector, default_threshold) in [("seasonal", 0.9999), ("context", 0.7)] {
        let input = input.to_str().unwrap();
        let out =
            shadowgate(dir.path(), &["detect", "--input", input, "--detector", detector, "--json"]);
        let doc = ok_json(&out, detector);
        assert_eq!(doc["detector"], detector);
        assert_eq!(doc["threshold"], default_threshold);
        assert_eq!(doc["scores"].as_array().unwrap().len(), rows.len());
    }
    let out = shadowgate(
        dir.path(),
        &["detect", "--input", input.to_str().unwrap(), "--threshold", "1.5"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--threshold 1.5"));
}

/// A NAB-layout corpus: two files with a level shift each, one without anomalies.
fn write_nab_corpus(dir: &Path) {
    let data = dir.join("data/synthetic");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(dir.join("labels")).unwrap();
    let stamp = |i: usize| {
        let s = i as i64 * 300;
        format!(
            "2020-01-{:02} {:02}:{:02}:00",
            1 + s / 86_400,
            (s % 86_400) / 3600,
            (s % 3600) / 60
        )
    };
    let mut windows = serde_json::Map::new();
    for (name, shift_at, seed) in
        [("shift_a.csv", Some(2600), 3), ("shift_b.csv", Some(3100), 4), ("calm.csv", None, 5)]
    {
        let mut noise = Noise(seed);
        let mut text = String::from("timestamp,value\n");
        for i in 0..4000 {
            let phase = 2.0 * std::f64::consts::PI * (i % 288) as f64 / 288.0;
            let shift = if shift_at.is_some_and(|at| i >= at) { 40.0 } else { 0.0 };
            text.push_str(&format!(
                "{},{:.4}\n",
                stamp(i),
                50.0 + 10.0 * phase.sin() + shift + noise.normal()
            ));
        }
        std::fs::write(data.join(name), text).unwrap();
        let list: Vec<serde_json::Value> = shift_at
            .map(|at| vec![serde_json::json!([stamp(at - 100), stamp(at + 100)])])
            .unwrap_or_default();
        windows.insert(format!("synthetic/{name}"), serde_json::Value::Array(list));
    }
    std::fs::write(
        dir.join("labels/combined_windows.json"),
        serde_json::Value::Object(windows).to_string(),
    )
    .unwrap();
}

#[test]
fn eval_nab_scores_every_profile_at_the_fixed_and_the_tuned_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("nab");
    write_nab_corpus(&corpus);
    let out =
        shadowgate(dir.path(), &["eval", "nab", "--data", corpus.to_str().unwrap(), "--json"]);
    let doc = ok_json(&out, "eval nab");
    assert_eq!(doc["files"], 3);
    let profiles = doc["profiles"].as_array().unwrap();
    let names: Vec<&str> = profiles.iter().map(|p| p["profile"].as_str().unwrap()).collect();
    assert_eq!(names, ["standard", "reward_low_FP_rate", "reward_low_FN_rate"]);
    for p in profiles {
        let fixed = p["fixed_normalized"].as_f64().unwrap();
        let tuned = p["optimized_normalized"].as_f64().unwrap();
        assert!(tuned + 1e-9 >= fixed, "the tuned threshold is optimal on the corpus: {p}");
        let held_out = p["leave_one_out_normalized"].as_f64().unwrap();
        assert!(tuned + 1e-9 >= held_out, "no file scores better than at the best threshold");
        assert!(fixed > 50.0, "two obvious level shifts are found early: {p}");
    }
    assert_eq!(doc["windows"]["windows"], 2);
    assert_eq!(doc["windows"]["windows_detected"], 2);

    let text = shadowgate(dir.path(), &["eval", "nab", "--data", corpus.to_str().unwrap()]);
    assert!(text.status.success());
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("NAB-TUNED") && stdout.contains("reward_low_FN_rate"), "{stdout}");
    assert!(stdout.contains("LEAVE-ONE-OUT"), "{stdout}");
}

#[test]
fn ingest_import_then_forecast_from_the_store_without_storing_identities() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let input = dir.path().join("rps.csv");
    let rows = seasonal(21 * DAY_STEPS, 9);
    let mut text = String::from("timestamp,metric,value,labels\n");
    for (t, v) in &rows {
        text.push_str(&format!("{t},http_requests_per_second,{v},user_id=alice.smith;route=/a\n"));
    }
    std::fs::write(&input, text).unwrap();
    let out = shadowgate(
        &home,
        &[
            "ingest",
            "import",
            input.to_str().unwrap(),
            "--app",
            "shop",
            "--label-deny",
            "route",
            "--json",
        ],
    );
    let doc = ok_json(&out, "ingest import");
    assert_eq!(doc["points"], rows.len());
    let stored = points(&home, "shop", "http_requests_per_second");
    assert_eq!(stored.len(), rows.len());
    let labels = &stored[0].series.labels;
    assert!(!labels.contains_key("route"), "denied label kept: {labels:?}");
    assert!(labels["user_id"].starts_with("hmac-sha256:"), "{labels:?}");
    let bytes = std::fs::read(home.join("shadowgate.db")).unwrap();
    assert!(
        !bytes.windows(b"alice.smith".len()).any(|w| w == b"alice.smith"),
        "the raw user id reached the store file"
    );

    let out = shadowgate(
        &home,
        &[
            "forecast",
            "--app",
            "shop",
            "--metric",
            "http_requests_per_second",
            "--horizon",
            "6h",
            "--json",
        ],
    );
    let doc = ok_json(&out, "forecast from the store");
    let forecast = doc["forecast"].as_array().unwrap();
    assert_eq!(forecast.len(), 24);
    assert_eq!(forecast[0]["timestamp"].as_i64(), Some(rows.last().unwrap().0 + STEP));
    assert_eq!(doc["periods"][0], 86_400, "the daily period is found in the stored series");

    let out =
        shadowgate(&home, &["forecast", "--app", "shop", "--metric", "nope", "--horizon", "1h"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("its metrics are: http_requests_per_second"), "{}", stderr(&out));
}

#[test]
fn raw_retention_keeps_the_rollups_and_forecasts_read_them() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let input = dir.path().join("old.csv");
    let rows = seasonal(14 * DAY_STEPS, 21);
    write_csv(&input, &rows);
    let args = [
        "ingest",
        "import",
        input.to_str().unwrap(),
        "--app",
        "old",
        "--metric",
        "queue_depth",
        "--raw-retention",
        "2m",
        "--json",
    ];
    let doc = ok_json(&shadowgate(&home, &args), "ingest import with retention");
    assert_eq!(doc["raw_points_deleted"], rows.len(), "points from 2023 are past a 2m retention");
    assert!(points(&home, "old", "queue_depth").is_empty());
    assert_eq!(points(&home, "old", "queue_depth:1m_sum").len(), rows.len(), "rollups are kept");

    let out = shadowgate(
        &home,
        &["forecast", "--app", "old", "--metric", "queue_depth", "--horizon", "1d", "--json"],
    );
    let doc = ok_json(&out, "forecast from rollups");
    assert_eq!(doc["forecast"].as_array().unwrap().len(), DAY_STEPS);
    assert_eq!(doc["step_seconds"], STEP);

    let mut short = args;
    short[8] = "30s";
    let out = shadowgate(&home, &short);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--raw-retention"), "{}", stderr(&out));
}

#[test]
fn recommend_gives_vpa_ours_and_naive_and_replays_them() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("usage.csv");
    // Ten days at 5-minute steps; usage follows a daily load, so the truth is known: memory
    // peaks near 300 MB + 2 MB × 160 = 620 MB, above the naive rule's average × 1.2 (600 MB).
    let mut noise = Noise(99);
    let mut text = String::from("timestamp,cpu_cores,memory_bytes,load\n");
    for i in 0..10 * 288 {
        let phase = 2.0 * std::f64::consts::PI * (i % 288) as f64 / 288.0;
        let load = 100.0 + 60.0 * phase.sin() + 5.0 * noise.normal();
        let cpu = (0.1 + 0.004 * load + 0.02 * noise.normal()).max(0.0);
        let memory = 300e6 + 2e6 * load + 5e6 * noise.normal();
        text.push_str(&format!("{},{cpu},{memory},{load}\n", T0 + i * 300));
    }
    std::fs::write(&input, text).unwrap();
    let out = shadowgate(
        dir.path(),
        &["recommend", "--input", input.to_str().unwrap(), "--replay", "--json"],
    );
    let doc = ok_json(&out, "recommend");
    assert_eq!(doc["samples"], 2880);
    let memory = |who: &str| doc[who]["target"]["memory_bytes"].as_f64().unwrap();
    assert!((560e6..=640e6).contains(&memory("naive")), "naive {}", memory("naive"));
    assert!(memory("ours") >= memory("naive"), "the naive rule is our floor");
    assert!(memory("vpa") > 620e6 && memory("ours") > 620e6, "both cover the peak");
    let replay = doc["replay"].as_array().unwrap();
    let by_name = |name: &str| replay.iter().find(|r| r["recommender"] == name).unwrap();
    let (vpa, ours, naive) = (by_name("vpa"), by_name("forecast-aware"), by_name("naive"));
    assert!(naive["oom_events"].as_u64().unwrap() > 0, "average × 1.2 is below the peaks");
    assert!(ours["oom_events"].as_u64() <= vpa["oom_events"].as_u64());
    assert!(ours["memory_slack"].as_f64() < vpa["memory_slack"].as_f64(), "{ours} vs {vpa}");

    let out = shadowgate(dir.path(), &["recommend", "--input", input.to_str().unwrap()]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("vpa (reference)") && !table.contains("OOM EVENTS"), "{table}");
}

/// Serves `body` as Prometheus text to every request; sends a message per request served.
fn exposition_server(body: &'static str) -> (String, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let (served, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.flush();
            if served.send(()).is_err() {
                return;
            }
        }
    });
    (url, receiver)
}

const EXPOSITION: &str = "# TYPE http_requests_total counter\n\
http_requests_total{code=\"200\",user_id=\"bob.jones\"} 41\n\
http_requests_total{code=\"500\",user_id=\"bob.jones\"} 2\n";

fn terminate(child: &Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
}

#[test]
fn ingest_scrape_stores_a_scrape_with_extra_labels_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (url, served) = exposition_server(EXPOSITION);
    let out = shadowgate(
        &home,
        &["ingest", "scrape", &url, "--app", "web", "--once", "--label", "region=eu", "--json"],
    );
    let doc = ok_json(&out, "ingest scrape --once");
    assert_eq!(doc["points"], 2);
    served.recv_timeout(Duration::from_secs(5)).unwrap();
    let stored = points(&home, "web", "http_requests_total");
    assert_eq!(stored.len(), 2);
    for s in &stored {
        assert_eq!(s.series.labels["region"], "eu");
        assert!(s.series.labels["user_id"].starts_with("hmac-sha256:"));
    }

    // The loop: let it scrape three times, then SIGTERM; every acknowledged scrape is stored.
    let child = Command::new(support::bin())
        .args(["ingest", "scrape", &url, "--app", "loop", "--every", "100ms", "--json"])
        .env("SHADOWGATE_HOME", &home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..3 {
        served.recv_timeout(Duration::from_secs(10)).expect("the loop scrapes");
    }
    terminate(&child);
    let out = child.wait_with_output().unwrap();
    let doc = ok_json(&out, "ingest scrape loop");
    let scrapes = doc["scrapes"].as_u64().unwrap();
    assert!(scrapes >= 2, "{doc}");
    assert_eq!(doc["points"].as_u64().unwrap(), 2 * scrapes);
    let stored = points(&home, "loop", "http_requests_total");
    assert_eq!(stored.len() as u64, 2 * scrapes, "every acknowledged point is in the store");
    assert!(!points(&home, "loop", "http_requests_total:1m_count").is_empty(), "rollups flushed");
}

fn post(address: &str, path: &str, content_type: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn ingest_otlp_accepts_a_json_export_and_refuses_a_malformed_one() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let mut child = Command::new(support::bin())
        .args(["ingest", "otlp", "--listen", "127.0.0.1:0", "--app", "fallback", "--json"])
        .env("SHADOWGATE_HOME", &home)
        .env("SHADOWGATE_HMAC_SECRET", "a-test-secret-of-enough-bytes")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let started: serde_json::Value = serde_json::from_str(&first).expect("the address comes first");
    let address = started["listening"].as_str().unwrap().to_string();

    let export = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
        "scopeMetrics":[{"metrics":[{"name":"queue_depth","gauge":{"dataPoints":[
        {"timeUnixNano":"1700000000000000000","asDouble":3.5,"attributes":[{"key":"client.address","value":{"stringValue":"10.1.2.3"}}]},
        {"timeUnixNano":"1700000015000000000","asInt":"4"}]}}]}]}]}"#;
    let answer = post(&address, "/v1/metrics", "application/json", export);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let bad = post(&address, "/v1/metrics", "application/json", "{\"resourceMetrics\": 7}");
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");

    terminate(&child);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let summary: serde_json::Value = serde_json::from_str(&rest).unwrap();
    assert_eq!(summary["accepted"], 1);
    assert_eq!(summary["malformed"], 1);
    let stored = points(&home, "checkout", "queue_depth");
    assert_eq!(stored.iter().map(|s| s.value).collect::<Vec<_>>(), [3.5, 4.0]);
    let hashed = stored.iter().find_map(|s| s.series.labels.get("client_address")).unwrap();
    assert!(hashed.starts_with("hmac-sha256:"), "{hashed}");
    assert!(!home.join("ingest.key").exists(), "the secret came from the environment");
}

/// Production-like telemetry for `app`: two weeks at 15-minute steps.
fn telemetry_csv(path: &Path, peak_rate: f64) {
    let mut noise = Noise(77);
    let mut text = String::from("timestamp,metric,value,labels\n");
    let (mut requests, mut cpu_seconds, mut errors) = (0.0, 0.0, 0.0);
    for i in 0..14 * DAY_STEPS {
        let t = T0 + i as i64 * STEP;
        let phase = 2.0 * std::f64::consts::PI * (i % DAY_STEPS) as f64 / DAY_STEPS as f64;
        let rate = peak_rate * (0.6 + 0.35 * phase.sin()) + noise.normal();
        requests += rate * STEP as f64;
        cpu_seconds += (0.2 + rate * 0.01) * STEP as f64;
        let memory = 150e6 + 2e5 * i as f64 + 1e6 * noise.normal();
        text.push_str(&format!("{t},http_requests_total,{requests},code=200\n"));
        text.push_str(&format!("{t},process_cpu_seconds_total,{cpu_seconds},\n"));
        text.push_str(&format!("{t},process_resident_memory_bytes,{memory},\n"));
        text.push_str(&format!(
            "{t},network_latency_seconds,{},\n",
            0.002 + 0.0005 * noise.uniform()
        ));
        text.push_str(&format!("{t},table_rows,{},table=orders\n", 5000 + 3 * i));
        // Errors jump tenfold for the last six hours.
        let error_rate = if i >= 14 * DAY_STEPS - 24 { 2.0 } else { 0.2 };
        errors += (error_rate + 0.02 * noise.normal()).max(0.0) * STEP as f64;
        text.push_str(&format!("{t},http_request_errors_total,{errors},\n"));
    }
    std::fs::write(path, text).unwrap();
}

fn predict(home: &Path, dir: &Path, app: &str) -> (PathBuf, serde_json::Value) {
    let input = dir.join("telemetry.csv");
    telemetry_csv(&input, 40.0);
    import_and_predict(home, dir, app, &input, &[])
}

/// Imports `input` as `app`'s telemetry and predicts 7 days ahead with `extra` arguments.
fn import_and_predict(
    home: &Path,
    dir: &Path,
    app: &str,
    input: &Path,
    extra: &[&str],
) -> (PathBuf, serde_json::Value) {
    let out = shadowgate(home, &["ingest", "import", input.to_str().unwrap(), "--app", app]);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = dir.join("conditions.json");
    let mut args =
        vec!["predict", "--app", app, "--horizon", "7d", "--json", "--out", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = shadowgate(home, &args);
    let doc = ok_json(&out, "predict");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc, written, "--out writes what --json prints");
    (file, doc)
}

#[test]
fn predict_writes_a_versioned_document_with_estimates_resources_and_risks() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (_, doc) = predict(&home, dir.path(), "shop");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["app"], "shop");
    assert_eq!(doc["horizon_seconds"], 7 * 86_400);
    let rate = &doc["peak_request_rate"];
    let expected = rate["expected"].as_f64().unwrap();
    assert!((30.0..=45.0).contains(&expected), "peak rate {expected} (truth about 38/s)");
    assert!(
        rate["lower95"].as_f64().unwrap() <= expected
            && expected <= rate["upper95"].as_f64().unwrap()
    );
    assert_eq!(rate["metric"], "http_requests_total");
    let resources = &doc["resources"];
    let cores = resources["cpu_cores"].as_f64().unwrap();
    assert!((0.5..=1.5).contains(&cores), "cpu {cores} for a peak of about 0.6 cores");
    assert!(resources["memory_bytes"].as_u64().unwrap() as f64 > 150e6 + 2e5 * 1344.0);
    assert_eq!(doc["data_volume"][0]["table"], "orders");
    let latency = &doc["network"]["latency_ms"];
    assert!((2.0..=2.5).contains(&latency["p50"].as_f64().unwrap()), "{latency}");
    let risks: Vec<&str> =
        doc["risks"].as_array().unwrap().iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert!(risks.contains(&"memory_trending_up"), "memory grows 13% a week: {risks:?}");
    assert!(risks.contains(&"error_changepoint"), "errors jumped tenfold: {risks:?}");
    assert!(!risks.contains(&"load_above_tested"), "no check has run: {risks:?}");
    // Latency is flat, there is no disk telemetry, and no check or manifest loaded any rows.
    for quiet in ["dependency_latency", "disk_filling", "data_above_tested"] {
        assert!(!risks.contains(&quiet), "{quiet}: {}", doc["risks"]);
    }
    // The latest prediction is kept for `check --conditions predicted`.
    let latest = home.join("conditions/shop/latest.json");
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(latest).unwrap()).unwrap();
    assert_eq!(kept, doc);
}

/// Telemetry with the risks `db-latency` and `disk` are about: two weeks at 15-minute steps
/// in which the dependency latency steps from about 2.25 ms to about 9.25 ms for the last day,
/// disk use grows from 50 GiB to 80 GiB of a 100 GiB disk (about 95 GiB a week later), and
/// the `orders` table grows from 5000 to about 9000 rows.
fn risky_telemetry_csv(path: &Path) {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    let mut noise = Noise(91);
    let n = 14 * DAY_STEPS;
    let mut text = String::from("timestamp,metric,value,labels\n");
    for i in 0..n {
        let t = T0 + i as i64 * STEP;
        let base = if i >= n - DAY_STEPS { 0.009 } else { 0.002 };
        let latency = base + 0.0005 * noise.uniform();
        let used = (50.0 + 30.0 * i as f64 / n as f64) * GIB + 0.05 * GIB * noise.normal();
        text.push_str(&format!("{t},network_latency_seconds,{latency},\n"));
        text.push_str(&format!("{t},disk_used_bytes,{used},mountpoint=/data\n"));
        text.push_str(&format!("{t},disk_size_bytes,{},mountpoint=/data\n", 100.0 * GIB));
        text.push_str(&format!("{t},table_rows,{},table=orders\n", 5000 + 3 * i));
    }
    std::fs::write(path, text).unwrap();
}

/// The probe manifest with a `[data]` that loads 3000 `orders` rows, and one test per risk
/// tag: `db-latency`, `disk` and `memory`.
fn write_risk_manifest(dir: &Path, app: &str) -> PathBuf {
    let manifest = write_manifest(dir, app);
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str(
        "\n[data]\nseed = 1\n\n[[data.tables]]\nname = \"orders\"\nrows = 3000\n\n\
         [[data.tables.columns]]\nname = \"id\"\ngen = \"sequence\"\n\n\
         [[tests]]\nname = \"slow database\"\ntags = [\"db-latency\"]\ncommand = \"true\"\n\n\
         [[tests]]\nname = \"full disk\"\ntags = [\"disk\"]\ncommand = \"true\"\n\n\
         [[tests]]\nname = \"memory soak\"\ntags = [\"memory\"]\ncommand = \"true\"\n",
    );
    std::fs::write(&manifest, text).unwrap();
    manifest
}

fn risk<'a>(doc: &'a serde_json::Value, kind: &str) -> &'a str {
    doc["risks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} risk: {}", doc["risks"]))["message"]
        .as_str()
        .unwrap()
}

#[test]
fn predict_flags_dependency_latency_a_filling_disk_and_more_rows_than_the_manifest_loads() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let input = dir.path().join("risky.csv");
    risky_telemetry_csv(&input);
    let manifest = write_risk_manifest(dir.path(), "probe");
    let (_, doc) = import_and_predict(
        &home,
        dir.path(),
        "probe",
        &input,
        &["--manifest", manifest.to_str().unwrap()],
    );

    let latency = risk(&doc, "dependency_latency");
    let prefix = "dependency latency `network_latency_seconds`: its median over the last day, 9.";
    assert!(latency.starts_with(prefix), "{latency}");
    assert!(latency.contains("ms median before it"), "{latency}");
    assert!(latency.contains("× the 2."), "the median before the step: {latency}");
    let disk = risk(&doc, "disk_filling");
    assert!(disk.starts_with("disk use `disk_used_bytes` is forecast at 9"), "{disk}");
    assert!(disk.contains("growing 2.1GiB a day"), "{disk}");
    assert!(disk.contains("of the 100GiB capacity (flagged from 90%)"), "{disk}");
    let data = risk(&doc, "data_above_tested");
    assert!(data.contains("table `orders` is forecast at 110"), "{data}");
    assert!(data.contains("the 3000 rows the manifest's [data] loads"), "{data}");
    // The document reads back as a conditions document, new kinds and all.
    assert_eq!(doc["version"], 1);
    let latest = home.join("conditions/probe/latest.json");
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(latest).unwrap()).unwrap();
    assert_eq!(kept, doc);

    // Without the manifest nothing says how many rows were tested; a manifest of another
    // application is refused.
    let out = shadowgate(&home, &["predict", "--app", "probe", "--json"]);
    let bare = ok_json(&out, "predict without --manifest");
    let kinds: Vec<&str> =
        bare["risks"].as_array().unwrap().iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert!(!kinds.contains(&"data_above_tested"), "{kinds:?}");
    assert!(kinds.contains(&"dependency_latency") && kinds.contains(&"disk_filling"), "{kinds:?}");
    let out =
        shadowgate(&home, &["predict", "--app", "shop", "--manifest", manifest.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("it describes app `probe`, not `shop`"), "{}", stderr(&out));
}

#[test]
fn check_runs_the_db_latency_and_disk_tests_a_prediction_selects_and_says_why() {
    support::require_root();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let input = dir.path().join("risky.csv");
    risky_telemetry_csv(&input);
    let manifest = write_risk_manifest(dir.path(), "probe");
    let (file, _) = import_and_predict(&home, dir.path(), "probe", &input, &[]);
    let out = check_with_conditions(&home, &manifest, file.to_str().unwrap(), &["--json"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "check ran: {}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tests = report["tests"].as_array().unwrap();
    let why = |name: &str| -> Vec<&str> {
        tests
            .iter()
            .filter(|t| t["name"].as_str().unwrap().starts_with(name))
            .map(|t| t["selected_because"].as_str().unwrap())
            .collect()
    };
    // One result per arm, each with the risk that selected it.
    assert_eq!(
        why("slow database"),
        ["predicted risk `db-latency` (dependency_latency) in the conditions"; 2],
        "{tests:?}"
    );
    assert_eq!(
        why("full disk"),
        ["predicted risk `disk` (disk_filling) in the conditions"; 2],
        "{tests:?}"
    );
    assert!(why("memory soak").is_empty(), "memory is not predicted: {tests:?}");
    assert!(tests.iter().all(|t| t["passed"] == true), "{tests:?}");
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("test `memory soak` did not run"), "{warnings}");
}

fn write_manifest(dir: &Path, app: &str) -> PathBuf {
    let rel = dir.join("rel");
    std::fs::create_dir_all(&rel).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/probe-app");
    for name in ["app.py", "data.txt", "delete-me.txt"] {
        std::fs::copy(fixture.join(name), rel.join(name)).unwrap();
    }
    let manifest = dir.join("shadowgate.toml");
    std::fs::write(
        &manifest,
        format!(
            "[app]\nname = \"{app}\"\n\n[releases.r1]\npath = \"rel\"\n\n[run]\ncommand = \"python3 {{release_dir}}/app.py {{port}}\"\n\n\
             [run.health]\nhttp = \"/healthz\"\ntimeout = \"20s\"\n\n[resources]\ncpu = 2.0\nmemory = \"1GiB\"\n\n\
             [traffic]\nrate = 5\nwarmup = \"1s\"\nduration = \"4s\"\n\n[[traffic.requests]]\nname = \"health\"\npath = \"/healthz\"\nweight = 1\n"
        ),
    )
    .unwrap();
    manifest
}

/// `shadowgate check` of release r1 against itself with `--conditions conditions`, and `extra`.
fn check_with_conditions(
    home: &Path,
    manifest: &Path,
    conditions: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec!["check", "--manifest", manifest.to_str().unwrap(), "-b", "r1", "-c", "r1"];
    args.extend(["--conditions", conditions]);
    args.extend(extra);
    shadowgate(home, &args)
}

#[test]
fn check_takes_rate_and_resources_from_predicted_conditions_and_reports_them() {
    support::require_root();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (file, doc) = predict(&home, dir.path(), "probe");
    let manifest = write_manifest(dir.path(), "probe");
    let reports = dir.path().join("reports");
    let out = check_with_conditions(
        &home,
        &manifest,
        file.to_str().unwrap(),
        &["--out", reports.to_str().unwrap(), "--json"],
    );
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "check ran ({}): {}",
        out.status,
        stderr(&out)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let conditions = &report["conditions"];
    assert_eq!(conditions["origin"], "file");
    assert_eq!(conditions["path"], file.to_str().unwrap());
    assert_eq!(conditions["version"], 1);
    let setting = |name: &str| {
        report["settings"].as_array().unwrap().iter().find(|s| s["name"] == name).cloned().unwrap()
    };
    let rate = doc["peak_request_rate"]["expected"].as_f64().unwrap();
    assert_eq!(setting("rate")["source"], "predicted");
    assert_eq!(setting("rate")["value"], format!("{rate}/s"));
    assert_eq!(setting("cpu")["source"], "predicted");
    assert_eq!(setting("memory")["source"], "predicted");
    assert_eq!(report["load"]["baseline"]["offered_rate_per_s"].as_f64(), Some(rate));
    let recorded = conditions["recorded"].as_array().unwrap();
    assert!(
        recorded.iter().any(|r| r.as_str().unwrap().contains("table `orders`")),
        "{recorded:?}"
    );
    let html = std::fs::read_to_string(reports.join("report.html")).unwrap();
    let section = &html[html.find("<section id=\"conditions\">").expect("a conditions section")..];
    assert!(section.contains(&format!("<code>{}</code>", file.display())), "{section}");
    assert!(section.contains("table `orders`"), "{section}");

    // `predicted` is the latest document `predict` kept for the app.
    let out = check_with_conditions(&home, &manifest, "predicted", &["--rate", "7"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "check ran: {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let latest = home.join("conditions/probe/latest.json");
    assert!(
        text.contains(&format!("conditions: the latest prediction {}", latest.display())),
        "{text}"
    );
    assert!(text.contains("predicted peak rate"), "--rate wins and says so: {text}");
    assert!(text.contains("cpu = "), "{text}");

    // The first check ran at the expected peak; the upper 80% bound is above it.
    let out = shadowgate(&home, &["predict", "--app", "probe", "--json"]);
    let again = ok_json(&out, "predict after checks");
    let message = risk(&again, "load_above_tested");
    assert!(message.contains(&format!("({rate}/s)")), "{message}");
}

#[test]
fn check_conditions_errors_name_the_problem_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let manifest = write_manifest(dir.path(), "probe");
    let check = |conditions: &str| check_with_conditions(&home, &manifest, conditions, &[]);
    let out = check("predicted");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("shadowgate predict --app probe"), "{}", stderr(&out));

    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"version": 1, "app": "probe", "generated_at_unix_ms": 0, "horizon_seconds": 60,
            "resources": {"cpu_cores": -1, "memory_bytes": 268435456, "recommender": "x"}}"#,
    )
    .unwrap();
    let out = check(bad.to_str().unwrap());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`resources.cpu_cores`"), "{}", stderr(&out));

    std::fs::write(&bad, r#"{"version": 1, "app": "probe", "generated_at_unix_ms": 0, "horizon_seconds": 60, "peak_rate": 3}"#).unwrap();
    let out = check(bad.to_str().unwrap());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown field `peak_rate`"), "{}", stderr(&out));
}

#[test]
fn malformed_inputs_name_the_line_and_field_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "timestamp,value\n1700000000,1\n1700000060,lots\n").unwrap();
    let b = bad.to_str().unwrap();
    for args in [vec!["forecast", "--input", b, "--horizon", "1h"], vec!["detect", "--input", b]] {
        let out = shadowgate(&home, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("line 3, field `value`: `lots`"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let usage = dir.path().join("usage.csv");
    std::fs::write(&usage, "timestamp,cpu_cores,memory_bytes\n1700000000,0.5,-3\n").unwrap();
    let out = shadowgate(&home, &["recommend", "--input", usage.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("line 2, field `memory_bytes`"), "{}", stderr(&out));

    std::fs::write(&bad, "timestamp,metric,value\n1700000000,up,1\nyesterday,up,1\n").unwrap();
    let out = shadowgate(&home, &["ingest", "import", b, "--app", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("line 3, column 1"), "{}", stderr(&out));

    let out = shadowgate(&home, &["forecast", "--input", b, "--horizon", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--horizon `soon`"), "{}", stderr(&out));

    let out = shadowgate(
        &home,
        &[
            "ingest",
            "scrape",
            "http://127.0.0.1:9/",
            "--app",
            "x",
            "--once",
            "--label",
            "no-equals",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--label `no-equals`"), "{}", stderr(&out));

    let short = dir.path().join("short.key");
    std::fs::write(&short, "tiny").unwrap();
    let out = shadowgate(
        &home,
        &[
            "ingest",
            "scrape",
            "http://127.0.0.1:9/",
            "--app",
            "x",
            "--once",
            "--hmac-secret-file",
            short.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("at least 16"), "{}", stderr(&out));
}
