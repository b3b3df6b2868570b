//! `shadowgate mirror`, `record` and `replay`, run as the real binary against small HTTP/1.1
//! backends on loopback that record what they receive; and `check` with `[traffic] replay`
//! and `[diff]` on the example application (that one needs root, like every test that starts
//! environments).

mod support;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_shadowgate")
}

/// A request as a backend received it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    target: String,
    /// Lowercase names, in arrival order.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A keep-alive HTTP/1.1 server that records every request and answers with a fixed response
/// (lowercase header names, a Content-Length, no Date) whose body names the server and the
/// request's target.
struct Backend {
    addr: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Backend {
    fn start(name: &'static str) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = seen.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = shared.clone();
                thread::spawn(move || serve(name, stream, &seen));
            }
        });
        Backend { addr, seen }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn wait_for(&self, count: usize, limit: Duration) -> Vec<Seen> {
        let deadline = Instant::now() + limit;
        loop {
            let seen = self.requests();
            if seen.len() >= count || Instant::now() > deadline {
                return seen;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

fn serve(name: &str, stream: TcpStream, seen: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((n, v)) = header.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        seen.lock().unwrap().push(Seen { method, target: target.clone(), headers, body });
        let payload = format!("{{\"server\":\"{name}\",\"target\":\"{target}\",\"price\":12.5}}");
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-backend: {name}\r\ncontent-length: {}\r\n\r\n{payload}",
            payload.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// One request on a fresh connection; the whole raw response (the server closes after it).
fn raw_exchange(addr: &str, request: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    // Read the head, then exactly Content-Length bytes.
    let mut reader = BufReader::new(stream);
    let mut raw = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        raw.extend_from_slice(line.as_bytes());
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    raw.extend_from_slice(&body);
    raw
}

/// A running proxy command and the address it announced.
struct Proxy {
    child: Child,
    addr: String,
    stderr: BufReader<std::process::ChildStderr>,
}

impl Proxy {
    fn start(args: &[&str]) -> Proxy {
        let mut child = Command::new(bin())
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let addr = loop {
            line.clear();
            let read = stderr.read_line(&mut line).unwrap();
            assert!(read > 0, "`shadowgate {}` exited before listening", args.join(" "));
            if let Some(addr) = line.trim().strip_prefix("listening on ") {
                break addr.to_string();
            }
        };
        Proxy { child, addr, stderr }
    }

    /// Sends `signal`, waits for the exit and returns (exit code, stdout, stderr).
    fn stop(mut self, signal: i32) -> (i32, String, String) {
        let pid = self.child.id() as i32;
        // SAFETY: kill(2) with a pid this test spawned and still owns.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).unwrap();
        let output = self.child.wait_with_output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            rest,
        )
    }
}

#[test]
fn mirror_passes_primary_responses_byte_identically_and_copies_to_the_shadow() {
    let primary = Backend::start("primary");
    let shadow = Backend::start("shadow");
    let proxy = Proxy::start(&[
        "mirror",
        "--listen",
        "127.0.0.1:0",
        "--primary",
        &primary.url(),
        "--shadow",
        &shadow.url(),
        "--json",
    ]);
    let request = "GET /items/7?sort=price HTTP/1.1\r\nhost: shop.example\r\nx-user: 42\r\n\r\n";
    let direct = raw_exchange(&primary.addr, request);
    let mirrored = raw_exchange(&proxy.addr, request);
    assert_eq!(
        String::from_utf8_lossy(&mirrored),
        String::from_utf8_lossy(&direct),
        "the proxy changed the primary's response"
    );
    assert!(String::from_utf8_lossy(&direct).contains("\"server\":\"primary\""));

    let copies = shadow.wait_for(1, Duration::from_secs(10));
    assert_eq!(copies.len(), 1, "the shadow got no copy");
    assert_eq!(copies[0].method, "GET");
    assert_eq!(copies[0].target, "/items/7?sort=price");
    assert_eq!(copies[0].header("x-user"), Some("42"));
    assert_eq!(copies[0].header("x-shadowgate-mirror"), Some("1"), "{:?}", copies[0]);
    assert_eq!(primary.requests().len(), 2, "one direct request and one through the proxy");

    // POST is not idempotent: it reaches the primary only.
    let post = "POST /orders HTTP/1.1\r\nhost: shop.example\r\ncontent-length: 2\r\n\r\n{}";
    let answer = raw_exchange(&proxy.addr, post);
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    let (code, stdout, stderr) = proxy.stop(libc::SIGTERM);
    assert_eq!(code, 0, "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["stats"]["requests"], 2, "{summary}");
    assert_eq!(summary["stats"]["skipped_method"], 1, "{summary}");
    assert_eq!(summary["stats"]["shadows"][0]["responses"], 1, "{summary}");
    assert_eq!(shadow.requests().len(), 1, "the POST was mirrored");
}

#[test]
fn a_dead_shadow_changes_nothing_for_the_primary() {
    let primary = Backend::start("primary");
    // A port with nothing listening: every mirrored request is refused.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let proxy = Proxy::start(&[
        "mirror",
        "--listen",
        "127.0.0.1:0",
        "--primary",
        &primary.url(),
        "--shadow",
        &format!("http://{dead}"),
        "--json",
    ]);
    let request = "GET /items/9 HTTP/1.1\r\nhost: shop.example\r\n\r\n";
    let direct = raw_exchange(&primary.addr, request);
    for _ in 0..20 {
        assert_eq!(raw_exchange(&proxy.addr, request), direct);
    }
    let (code, stdout, stderr) = proxy.stop(libc::SIGTERM);
    assert_eq!(code, 0, "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["stats"]["requests"], 20, "{summary}");
    assert_eq!(summary["stats"]["shadows"][0]["connect_errors"], 20, "{summary}");
    assert_eq!(summary["stats"]["primary_errors"], 0, "{summary}");
}

#[test]
fn mirror_samples_by_key_and_serves_its_metrics() {
    let primary = Backend::start("primary");
    let shadow = Backend::start("shadow");
    let mut proxy = Proxy::start(&[
        "mirror",
        "--listen",
        "127.0.0.1:0",
        "--primary",
        &primary.url(),
        "--shadow",
        &shadow.url(),
        "--sample",
        "30%",
        "--sample-key",
        "header:x-user",
        "--metrics-listen",
        "127.0.0.1:0",
    ]);
    let mut line = String::new();
    proxy.stderr.read_line(&mut line).unwrap();
    let metrics = line.trim().strip_prefix("metrics on http://").unwrap().replace("/metrics", "");
    // Each user's requests are all mirrored or none is.
    for user in 0..40 {
        for _ in 0..3 {
            raw_exchange(
                &proxy.addr,
                &format!("GET /u HTTP/1.1\r\nhost: x\r\nx-user: user-{user}\r\n\r\n"),
            );
        }
    }
    let text = String::from_utf8(raw_exchange(
        &metrics,
        "GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    ))
    .unwrap();
    assert!(text.contains("shadowgate_mirror_requests_total 120"), "{text}");
    let (code, _, stderr) = proxy.stop(libc::SIGTERM);
    assert_eq!(code, 0, "{stderr}");
    let copies = shadow.requests();
    let mut per_user = std::collections::BTreeMap::new();
    for copy in &copies {
        *per_user.entry(copy.header("x-user").unwrap().to_string()).or_insert(0) += 1;
    }
    assert!(per_user.values().all(|n| *n == 3), "a user was split: {per_user:?}");
    assert!((4..=22).contains(&per_user.len()), "{} of 40 users sampled at 30%", per_user.len());
}

#[test]
fn mirror_diff_reports_the_field_the_candidate_changed() {
    let primary = Backend::start("primary");
    let secondary = Backend::start("primary");
    let candidate = Backend::start("candidate");
    let dir = tempfile::tempdir().unwrap();
    let diff_out = dir.path().join("diff.json");
    let proxy = Proxy::start(&[
        "mirror",
        "--listen",
        "127.0.0.1:0",
        "--primary",
        &primary.url(),
        "--secondary",
        &secondary.url(),
        "--shadow",
        &candidate.url(),
        "--diff",
        "--diff-out",
        diff_out.to_str().unwrap(),
    ]);
    for id in 0..20 {
        raw_exchange(&proxy.addr, &format!("GET /items/{id} HTTP/1.1\r\nhost: x\r\n\r\n"));
    }
    candidate.wait_for(20, Duration::from_secs(10));
    secondary.wait_for(20, Duration::from_secs(10));
    let (code, stdout, stderr) = proxy.stop(libc::SIGINT);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("body.server"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&diff_out).unwrap()).unwrap();
    let endpoint = &report["endpoints"][0];
    assert_eq!(endpoint["endpoint"], "GET /items/{id}", "{report}");
    let fields: Vec<&str> = endpoint["differing_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"body.server"), "{report}");
    assert!(!fields.contains(&"body.price"), "price is the same everywhere: {report}");
}

/// Records `requests` through `shadowgate record` in front of a backend; returns the file.
fn record(dir: &std::path::Path, requests: &[String], extra: &[&str]) -> std::path::PathBuf {
    let upstream = Backend::start("upstream");
    let out = dir.join("traffic.jsonl");
    let url = upstream.url();
    let mut args = vec![
        "record",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &url,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let proxy = Proxy::start(&args);
    for request in requests {
        let answer = raw_exchange(&proxy.addr, request);
        assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    }
    let (code, stdout, stderr) = proxy.stop(libc::SIGINT);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&format!("recorded {} exchanges", requests.len())), "{stdout}");
    out
}

#[test]
fn record_then_replay_preserves_method_path_headers_and_body_and_redacts_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let requests = vec![
        "POST /orders?source=web HTTP/1.1\r\nhost: shop.example\r\ncontent-type: application/json\r\nx-tenant: acme\r\nauthorization: Bearer s3cret-token\r\ncookie: session=c00kie-value\r\ncontent-length: 27\r\n\r\n{\"item\":7,\"quantity\":3}    ".to_string(),
        "GET /items/7 HTTP/1.1\r\nhost: shop.example\r\naccept: application/json\r\n\r\n".to_string(),
        "DELETE /cart/9 HTTP/1.1\r\nhost: shop.example\r\n\r\n".to_string(),
    ];
    let file = record(dir.path(), &requests, &[]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("s3cret-token"), "Authorization reached the recording: {text}");
    assert!(!text.contains("c00kie-value"), "the cookie reached the recording: {text}");

    let target = Backend::start("target");
    let out = Command::new(bin())
        .args(["replay", file.to_str().unwrap(), "--target", &target.url(), "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["targets"][0]["responses"], 3, "{report}");
    assert_eq!(report["targets"][0]["status_counts"]["200"], 3, "{report}");

    let seen = target.requests();
    assert_eq!(seen.len(), 3);
    let post = seen.iter().find(|s| s.method == "POST").expect("the POST was replayed");
    assert_eq!(post.target, "/orders?source=web");
    assert_eq!(post.body, b"{\"item\":7,\"quantity\":3}    ");
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(post.header("x-tenant"), Some("acme"));
    assert_eq!(post.header("host"), Some("shop.example"));
    assert_eq!(post.header("authorization"), None);
    assert_eq!(post.header("cookie"), None);
    let get = seen.iter().find(|s| s.method == "GET").unwrap();
    assert_eq!(get.target, "/items/7");
    assert_eq!(get.header("accept"), Some("application/json"));
    assert!(get.body.is_empty());
    assert!(seen.iter().any(|s| s.method == "DELETE" && s.target == "/cart/9"));
}

#[test]
fn record_keeps_a_header_only_when_asked_and_removes_body_fields() {
    let dir = tempfile::tempdir().unwrap();
    let body = "{\"user\":{\"name\":\"ann\",\"card\":\"4111-1111\"}}";
    let requests = vec![format!(
        "POST /signup HTTP/1.1\r\nhost: x\r\ncookie: theme=dark\r\nauthorization: Basic abc\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )];
    let file =
        record(dir.path(), &requests, &["--keep-header", "cookie", "--remove-field", "user.card"]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("theme=dark"), "the kept cookie is missing: {text}");
    assert!(!text.contains("Basic abc"), "{text}");
    assert!(!text.contains("4111-1111"), "the removed field was recorded: {text}");
    assert!(text.contains("ann"), "{text}");
}

#[test]
fn record_stops_cleanly_on_sigterm_right_after_listening() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("empty.jsonl");
    let upstream = Backend::start("upstream");
    for _ in 0..5 {
        let proxy = Proxy::start(&[
            "record",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &upstream.url(),
            "--out",
            out.to_str().unwrap(),
            "--json",
        ]);
        let (code, stdout, stderr) = proxy.stop(libc::SIGTERM);
        assert_eq!(code, 0, "{stderr}");
        let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(summary["stats"]["recorded"], 0);
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(text.lines().count(), 1, "only the header: {text}");
        assert!(text.contains("\"format\":\"shadowgate-recording\""), "{text}");
    }
}

#[test]
fn replay_rps_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let requests: Vec<String> =
        (0..10).map(|i| format!("GET /p/{i} HTTP/1.1\r\nhost: x\r\n\r\n")).collect();
    let file = record(dir.path(), &requests, &[]);
    let target = Backend::start("target");
    let started = Instant::now();
    let out = Command::new(bin())
        .args([
            "replay",
            file.to_str().unwrap(),
            "--target",
            &target.url(),
            "--rps",
            "100",
            "--duration",
            "2s",
            "--json",
        ])
        .output()
        .unwrap();
    let wall = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sent = report["planned_sends"].as_u64().unwrap();
    assert!((190..=210).contains(&sent), "100 rps for 2 s planned {sent} sends");
    assert_eq!(target.requests().len() as u64, sent);
    let elapsed = report["elapsed_us"].as_u64().unwrap() as f64 / 1e6;
    assert!((1.8..3.0).contains(&elapsed), "2 s of sends took {elapsed} s");
    assert!(wall < Duration::from_secs(10), "{wall:?}");

    // The text summary names the statuses and percentiles.
    let out = Command::new(bin())
        .args(["replay", file.to_str().unwrap(), "--target", &target.url(), "--rate", "4x"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("200×10"), "{text}");
    assert!(text.contains("P99"), "{text}");
}

#[test]
fn bad_flags_are_errors_naming_the_flag() {
    for (args, expected) in [
        (
            vec![
                "mirror",
                "--listen",
                "127.0.0.1:0",
                "--primary",
                "localhost:1",
                "--shadow",
                "http://127.0.0.1:1",
            ],
            "--primary",
        ),
        (
            vec![
                "mirror",
                "--listen",
                "127.0.0.1:0",
                "--primary",
                "http://127.0.0.1:1",
                "--shadow",
                "http://127.0.0.1:1",
                "--sample",
                "150%",
            ],
            "--sample",
        ),
        (
            vec!["replay", "/nonexistent/recording.jsonl", "--target", "http://127.0.0.1:1"],
            "recording",
        ),
    ] {
        let out = Command::new(bin()).args(&args).env("NO_COLOR", "1").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

/// A recording of storefront requests, written by hand in the documented format: item and
/// catalog reads, order histories, new orders and the health endpoint, 20 ms apart.
fn storefront_recording(path: &std::path::Path) {
    let mut lines = vec![
        r#"{"record":"header","format":"shadowgate-recording","version":1,"started_at_unix_ms":1765000000000,"source":"test","redaction":{"dropped_headers":["authorization","proxy-authorization","cookie","set-cookie"],"hashed_fields":[],"removed_fields":[]}}"#.to_string(),
    ];
    let ok = r#""response":{"status":200,"headers":[],"body":""},"latency_us":1000"#;
    for i in 0..40u64 {
        let request = match i % 5 {
            0 => format!(
                r#"{{"method":"GET","target":"/items/{}","headers":[["accept","application/json"]]}}"#,
                1 + i * 37 % 5000
            ),
            1 => {
                r#"{"method":"GET","target":"/items?category=books&limit=5&offset=0","headers":[]}"#
                    .to_string()
            }
            2 => format!(
                r#"{{"method":"GET","target":"/customers/{}/orders?limit=20","headers":[]}}"#,
                1 + i * 101 % 20000
            ),
            3 => format!(
                r#"{{"method":"POST","target":"/orders","headers":[["content-type","application/json"]],"body":"{{\"customer_id\": {}, \"lines\": [{{\"item_id\": {}, \"quantity\": 1}}]}}"}}"#,
                1 + i,
                1 + i * 7
            ),
            _ => r#"{"method":"GET","target":"/healthz","headers":[]}"#.to_string(),
        };
        lines.push(format!(
            r#"{{"record":"exchange","seq":{i},"offset_us":{},"request":{request},{ok}}}"#,
            i * 20_000
        ));
    }
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn check_replays_a_recording_to_both_releases_and_diffs_their_responses() {
    support::require_root();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/inventory")
        .canonicalize()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    storefront_recording(&dir.path().join("storefront.jsonl"));
    let manifest = std::fs::read_to_string(example.join("shadowgate.toml"))
        .unwrap()
        .replace("path = \"dist/", &format!("path = \"{}/dist/", example.display()))
        .replace("build = \"./build.sh", &format!("build = \"{}/build.sh", example.display()))
        .replace("[traffic]\n", "[traffic]\nreplay = \"storefront.jsonl\"\n")
        + "\n[diff]\nrequests = 100\n";
    assert!(manifest.contains("replay = \"storefront.jsonl\""), "the example has no [traffic]");
    std::fs::write(dir.path().join("shadowgate.toml"), manifest).unwrap();
    let out_dir = dir.path().join("reports");
    let output = Command::new(bin())
        .args(["check", "--json", "--baseline", "v1", "--candidate", "v2"])
        .args(["--warmup", "2s", "--duration", "5s", "--out"])
        .arg(&out_dir)
        .arg("--manifest")
        .arg(dir.path().join("shadowgate.toml"))
        .env("SHADOWGATE_HOME", dir.path().join("home"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}), exit {:?}:\n{stderr}", output.status.code()));

    // The replay: the recorded mix at the manifest's 100 requests/s, to both releases.
    let settings = report["settings"].as_array().unwrap();
    let setting = |name: &str| {
        settings
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| s["value"].as_str().unwrap().to_string())
    };
    assert!(setting("replay").unwrap().ends_with("storefront.jsonl"), "{settings:?}");
    assert_eq!(setting("replay pace").as_deref(), Some("100rps"), "{settings:?}");
    for arm in ["baseline", "candidate"] {
        let load = &report["load"][arm];
        let requests = load["requests"].as_u64().unwrap();
        assert!(
            (450..=550).contains(&requests),
            "{arm}: {requests} judged requests in 5 s at 100/s"
        );
        assert_eq!(load["errors"].as_u64().unwrap_or(0), 0, "{arm}: {load}");
    }

    // The diff: v2's health endpoint names its release; nothing else differs beyond noise.
    let diff = &report["diff"];
    assert_eq!(diff["noise_filtered"], true, "{diff}");
    let compared = diff["requests_compared"].as_u64().unwrap();
    assert!(compared >= 95, "{compared} of 100 diff requests compared: {diff}");
    let differing: Vec<(String, String)> = diff["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| {
            e["differing_fields"].as_array().unwrap().iter().map(move |f| {
                (
                    e["endpoint"].as_str().unwrap().to_string(),
                    f["field"].as_str().unwrap().to_string(),
                )
            })
        })
        .collect();
    assert!(
        differing.contains(&("GET /healthz".to_string(), "body.release".to_string())),
        "{differing:?}"
    );
    assert!(differing.iter().all(|(endpoint, _)| endpoint == "GET /healthz"), "{differing:?}");
    let example = &diff["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["endpoint"] == "GET /healthz")
        .unwrap()["differing_fields"][0]["examples"][0];
    assert!(example["baseline"]["body"].as_str().unwrap().contains("v1"), "{example}");
    assert!(example["candidate"]["body"].as_str().unwrap().contains("v2"), "{example}");
    assert_eq!(diff["passed"], false, "fail_on_difference is the default");
    assert_eq!(
        output.status.code(),
        Some(1),
        "a difference beyond noise fails the check:\n{stderr}"
    );
    assert_eq!(report["exit"]["code"], 1);
    // The verdict agrees with the exit code, whatever the metrics alone said.
    assert_eq!(report["verdict"]["decision"], "fail", "{}", report["verdict"]["summary"]);
    assert!(
        report["verdict"]["summary"].as_str().unwrap().contains("responses differ"),
        "{}",
        report["verdict"]["summary"]
    );

    // The secondary is gone like the two others.
    for id in [
        diff["secondary_environment_id"].as_str().unwrap(),
        report["baseline"]["environment_id"].as_str().unwrap(),
        report["candidate"]["environment_id"].as_str().unwrap(),
    ] {
        assert!(support::leftovers(id).is_empty(), "{id}: {:?}", support::leftovers(id));
    }

    let junit = std::fs::read_to_string(out_dir.join("report.junit.xml")).unwrap();
    assert!(junit.contains("name=\"response_diff\""), "{junit}");
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(html.contains("<section id=\"diff\">"));
}
