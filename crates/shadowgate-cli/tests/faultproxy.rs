//! `shadowgate faultproxy` through the real binary: the HTTP API on a real socket, a proxy
//! created through it, a latency toxic measured over real loopback connections, Toxiproxy-style
//! errors, and a clean stop on SIGTERM.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

struct Server {
    child: Child,
    api: String,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shadowgate"))
            .args(["faultproxy", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let api = line
            .trim()
            .strip_prefix("shadowgate faultproxy: API listening on http://")
            .unwrap_or_else(|| {
                let mut err = String::new();
                child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
                panic!("unexpected first line {line:?}; stderr: {err}")
            })
            .to_string();
        Server { child, api }
    }

    /// One HTTP/1.1 request; returns the status and the JSON body (Null when empty).
    fn request(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        let mut stream = TcpStream::connect(&self.api).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: shadowgate-test\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.api,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, payload) = response.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let json = if payload.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(payload)
                .unwrap_or_else(|e| panic!("body is not JSON ({e}): {payload}"))
        };
        (status, json)
    }

    fn stop(mut self) -> std::process::ExitStatus {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "faultproxy did not stop within 10 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An echo server on a free loopback port; returns its address.
fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    address
}

/// Median round trip of a 16-byte echo over one connection, in milliseconds.
fn median_round_trip_ms(address: &str, rounds: usize) -> f64 {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_nodelay(true).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let message = *b"0123456789abcdef";
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        stream.write_all(&message).unwrap();
        let mut got = [0u8; 16];
        stream.read_exact(&mut got).unwrap();
        times.push(start.elapsed().as_secs_f64() * 1e3);
        assert_eq!(got, message);
    }
    times.sort_by(f64::total_cmp);
    times[rounds / 2]
}

#[test]
fn latency_toxic_created_through_the_api_delays_real_connections() {
    let upstream = echo_server();
    let server = Server::start(&["--seed", "7"]);

    let (status, version) = server.request("GET", "/version", "");
    assert_eq!(status, 200, "{version}");

    let (status, proxy) = server.request(
        "POST",
        "/proxies",
        &format!(r#"{{"name":"echo","listen":"127.0.0.1:0","upstream":"{upstream}"}}"#),
    );
    assert_eq!(status, 201, "{proxy}");
    let listen = proxy["listen"].as_str().unwrap().to_string();
    assert!(!listen.ends_with(":0"), "the proxy reports the port it bound: {listen}");

    let direct = median_round_trip_ms(&listen, 20);
    assert!(direct < 20.0, "without toxics a round trip took {direct:.2} ms");

    let (status, toxic) = server.request(
        "POST",
        "/proxies/echo/toxics",
        r#"{"type":"latency","stream":"downstream","attributes":{"latency":50}}"#,
    );
    assert_eq!(status, 200, "{toxic}");
    assert_eq!(toxic["name"], "latency_downstream");
    let delayed = median_round_trip_ms(&listen, 10);
    assert!(
        (50.0..65.0).contains(&delayed),
        "with a 50 ms latency toxic the median round trip was {delayed:.2} ms"
    );

    let (status, _) = server.request("DELETE", "/proxies/echo/toxics/latency_downstream", "");
    assert_eq!(status, 204);
    let after = median_round_trip_ms(&listen, 20);
    assert!(after < 20.0, "after removing the toxic a round trip took {after:.2} ms");

    let status = server.stop();
    assert!(status.success(), "faultproxy exited with {status} on SIGTERM");
    assert!(
        TcpStream::connect(&listen).is_err(),
        "the proxy still listens after the server stopped"
    );
}

#[test]
fn bad_requests_get_toxiproxy_style_errors() {
    let server = Server::start(&[]);
    let (status, body) =
        server.request("POST", "/proxies", r#"{"name":"db","listen":"127.0.0.1:0"}"#);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["status"], 400);
    assert!(body["error"].as_str().unwrap().contains("upstream"), "{body}");

    let (status, body) = server.request("GET", "/proxies/nope", "");
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["status"], 404);
    assert!(body["error"].as_str().unwrap().starts_with("proxy not found"), "{body}");

    let upstream = echo_server();
    let (status, _) = server.request(
        "POST",
        "/proxies",
        &format!(r#"{{"name":"db","listen":"127.0.0.1:0","upstream":"{upstream}"}}"#),
    );
    assert_eq!(status, 201);
    let (status, body) = server.request(
        "POST",
        "/proxies/db/toxics",
        r#"{"type":"latency","attributes":{"latency":-5}}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("latency"), "{body}");
}

#[test]
fn config_file_creates_proxies_at_start_and_bad_input_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = echo_server();
    let config = dir.path().join("proxies.json");
    std::fs::write(
        &config,
        format!(r#"[{{"name":"cache","listen":"127.0.0.1:0","upstream":"{upstream}"}}]"#),
    )
    .unwrap();
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    let (status, proxies) = server.request("GET", "/proxies", "");
    assert_eq!(status, 200);
    let listen = proxies["cache"]["listen"].as_str().unwrap().to_string();
    assert!(median_round_trip_ms(&listen, 5) < 20.0);
    assert!(server.stop().success());

    std::fs::write(&config, "{not json").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_shadowgate"))
        .args(["faultproxy", "--listen", "127.0.0.1:0", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--config"), "{stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_shadowgate"))
        .args(["faultproxy", "--listen", "localhost"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--listen `localhost`"), "{stderr}");
}
