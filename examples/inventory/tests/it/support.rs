//! Starting the release binaries and talking HTTP to them.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use shadowgate_example_inventory::seed::SeedPlan;

use crate::prometheus_text::{self, Exposition};

/// How long a binary may take to migrate, seed and bind on a loaded machine.
const STARTUP_DEADLINE: Duration = Duration::from_secs(180);

/// How long one test request may take before the test gives up on it.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(30);

/// A small data set: seeds in well under a second even in a debug build.
pub const SMALL_PLAN: SeedPlan =
    SeedPlan { data_seed: 5, items: 300, customers: 100, orders: 2_000 };

/// One of the two release binaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    V1,
    V2,
}

impl Binary {
    pub fn path(self) -> &'static str {
        match self {
            Binary::V1 => env!("CARGO_BIN_EXE_inventory-v1"),
            Binary::V2 => env!("CARGO_BIN_EXE_inventory-v2"),
        }
    }

    pub fn release(self) -> &'static str {
        match self {
            Binary::V1 => "v1",
            Binary::V2 => "v2",
        }
    }

    pub fn command(self) -> Command {
        Command::new(self.path())
    }
}

/// The `--seed-...` flags of a plan.
pub fn seed_args(plan: &SeedPlan) -> Vec<String> {
    vec![
        "--data-seed".to_string(),
        plan.data_seed.to_string(),
        "--seed-items".to_string(),
        plan.items.to_string(),
        "--seed-customers".to_string(),
        plan.customers.to_string(),
        "--seed-orders".to_string(),
        plan.orders.to_string(),
    ]
}

/// A started binary, stopped (SIGKILL) when dropped.
pub struct Running {
    pub child: Child,
    pub address: SocketAddr,
    /// Standard output lines after the `listening on` line.
    pub later_lines: mpsc::Receiver<String>,
    /// Standard output lines up to and including the `listening on` line.
    pub startup_lines: Vec<String>,
}

impl Running {
    /// Starts `binary` with `args` and waits until it prints `listening on http://ADDR`.
    pub fn start(binary: Binary, args: &[String]) -> Running {
        let mut command = binary.command();
        command.args(args);
        Running::spawn(command)
    }

    /// Starts `command` and waits until it prints `listening on http://ADDR`.
    pub fn spawn(mut command: Command) -> Running {
        let description = format!("{command:?}");
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| panic!("could not start {description}: {err}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + STARTUP_DEADLINE;
        let mut startup_lines = Vec::new();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let line = match receiver.recv_timeout(remaining) {
                Ok(line) => line,
                Err(err) => {
                    let _ = child.kill();
                    let status = child.wait();
                    panic!(
                        "{description} did not announce its address ({err}); exit {status:?}; \
                         output so far: {startup_lines:#?}"
                    );
                }
            };
            startup_lines.push(line.clone());
            if let Some(address) = line.split("listening on http://").nth(1) {
                let address = address.trim().parse().expect("the announced address parses");
                return Running { child, address, later_lines: receiver, startup_lines };
            }
        }
    }

    /// Starts `binary serve` on a free port with the given data directory and extra flags.
    pub fn serve(binary: Binary, data_dir: &Path, extra_args: &[String]) -> Running {
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--data".into(),
            data_dir.display().to_string(),
        ];
        args.extend_from_slice(extra_args);
        Running::start(binary, &args)
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.address)
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pids fit in i32")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!("not JSON ({err}): {}", String::from_utf8_lossy(&self.body))
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).expect("the body is UTF-8")
    }
}

/// hyper's client, with keep-alive connections.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient { client: Client::builder(TokioExecutor::new()).build_http() }
    }
}

impl HttpClient {
    /// Sends a request and reads the whole response, failing the test after
    /// [`REQUEST_DEADLINE`].
    pub async fn send(&self, method: Method, url: &str, body: &str) -> Reply {
        tokio::time::timeout(REQUEST_DEADLINE, self.try_send(method.clone(), url, body))
            .await
            .unwrap_or_else(|_| panic!("{method} {url} did not answer within {REQUEST_DEADLINE:?}"))
    }

    /// Sends a request without a deadline of its own.
    pub async fn try_send(&self, method: Method, url: &str, body: &str) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
            .expect("a valid request");
        let response = self.client.request(request).await.expect("the request is answered");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("the body is read").to_bytes();
        Reply { status, headers, body }
    }

    pub async fn get(&self, url: &str) -> Reply {
        self.send(Method::GET, url, "").await
    }

    pub async fn post(&self, url: &str, body: &str) -> Reply {
        self.send(Method::POST, url, body).await
    }

    /// Scrapes and parses `/metrics`.
    pub async fn metrics(&self, server: &Running) -> Exposition {
        let reply = self.get(&server.url("/metrics")).await;
        assert_eq!(reply.status, StatusCode::OK);
        prometheus_text::parse(&reply.text())
            .unwrap_or_else(|err| panic!("{err}\n{}", reply.text()))
    }
}
