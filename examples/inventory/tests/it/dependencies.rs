//! `--views` (Redis) and `--events` (NATS) against real servers, started here from the
//! machine's `redis-server` and `nats-server` on free loopback ports: item views are counted,
//! new orders are published, and neither dependency being down slows, fails or changes a
//! response.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use http::StatusCode;
use serde_json::Value;

use crate::support::{Binary, HttpClient, Running, SMALL_PLAN, seed_args};

/// How long a condition may take to come true (a server starting, a writer reconnecting).
pub const DEADLINE: Duration = Duration::from_secs(30);

const ORDER: &str = r#"{"customer_id": 7, "lines": [{"item_id": 17, "quantity": 1}]}"#;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `condition` every 20 ms until it holds; fails the test after [`DEADLINE`].
pub async fn wait_until<F: Future<Output = bool>>(what: &str, mut condition: impl FnMut() -> F) {
    let deadline = Instant::now() + DEADLINE;
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: not within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    fn spawn(program: &str, args: &[String], port: u16, dir: tempfile::TempDir) -> Server {
        let child = Command::new(program)
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!("could not start {program} (these tests need it installed): {err}")
            });
        Server { child, port, _dir: dir }
    }

    /// `redis-server` on `port`, in memory only.
    pub fn redis(port: u16) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let args = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        .map(String::from);
        let mut server = Server::spawn("redis-server", &args, port, dir);
        server.wait_ready(|stream| {
            stream.write_all(b"*1\r\n$4\r\nPING\r\n")?;
            let mut reply = [0; 7];
            stream.read_exact(&mut reply)?;
            Ok(&reply == b"+PONG\r\n")
        });
        server
    }

    /// `nats-server` on `port`, loopback only.
    pub fn nats(port: u16) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let args = ["-p", &port.to_string(), "-a", "127.0.0.1"].map(String::from);
        let mut server = Server::spawn("nats-server", &args, port, dir);
        server.wait_ready(|stream| {
            let mut info = String::new();
            BufReader::new(stream).read_line(&mut info)?;
            Ok(info.starts_with("INFO "))
        });
        server
    }

    /// Ready once `probe` succeeds on a fresh connection.
    fn wait_ready(&mut self, probe: impl Fn(&mut TcpStream) -> std::io::Result<bool>) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let ready = TcpStream::connect(("127.0.0.1", self.port)).and_then(|mut stream| {
                stream.set_read_timeout(Some(Duration::from_secs(5)))?;
                probe(&mut stream)
            });
            if matches!(ready, Ok(true)) {
                return;
            }
            assert!(self.child.try_wait().unwrap().is_none(), "the server exited: {ready:?}");
            assert!(Instant::now() < deadline, "the server did not start: {ready:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn nats_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET key` over a fresh connection: the value, or `None` when the key does not exist.
pub fn redis_get(port: u16, key: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len()).as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    reader.read_line(&mut head).unwrap();
    let len = head.strip_prefix('$').and_then(|len| len.trim_end().parse::<i64>().ok());
    let len = len.unwrap_or_else(|| panic!("GET {key} answered {head:?}"));
    let len = usize::try_from(len).ok()?;
    let mut value = vec![0; len + 2];
    reader.read_exact(&mut value).unwrap();
    value.truncate(len);
    Some(String::from_utf8(value).unwrap())
}

/// A raw NATS subscriber on one subject.
pub struct Subscriber {
    reader: BufReader<TcpStream>,
}

impl Subscriber {
    /// Subscribes and waits for the server's `PONG`, after which the subscription is in place.
    pub fn subscribe(port: u16, subject: &str) -> Subscriber {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut subscriber = Subscriber { reader: BufReader::new(stream) };
        assert!(subscriber.line().starts_with("INFO "));
        subscriber.send(&format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false}}\r\nSUB {subject} 1\r\nPING\r\n"
        ));
        loop {
            match subscriber.line().as_str() {
                "PONG\r\n" => return subscriber,
                "PING\r\n" => subscriber.send("PONG\r\n"),
                other => assert!(other.starts_with("INFO ") || other == "+OK\r\n", "{other:?}"),
            }
        }
    }

    fn send(&mut self, text: &str) {
        self.reader.get_mut().write_all(text.as_bytes()).unwrap();
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        assert!(line.ends_with("\r\n"), "the server hung up: {line:?}");
        line
    }

    /// The next message's subject and payload; `None` after `wait` without one.
    pub fn next_message(&mut self, wait: Duration) -> Option<(String, Vec<u8>)> {
        self.reader.get_ref().set_read_timeout(Some(wait)).unwrap();
        let mut line = String::new();
        let read = self.reader.read_line(&mut line);
        self.reader.get_ref().set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        if read.is_err() && line.is_empty() {
            return None;
        }
        if !line.ends_with("\r\n") {
            line.push_str(&self.line());
        }
        if line == "PING\r\n" {
            self.send("PONG\r\n");
            return self.next_message(wait);
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(fields.len() == 4 && fields[0] == "MSG", "not a message: {line:?}");
        let size: usize = fields[3].parse().unwrap();
        let mut payload = vec![0; size + 2];
        self.reader.read_exact(&mut payload).unwrap();
        payload.truncate(size);
        Some((fields[1].to_string(), payload))
    }
}

fn serve_with(binary: Binary, data: &tempfile::TempDir, views: &str, events: &str) -> Running {
    let mut args = seed_args(&SMALL_PLAN);
    args.extend(["--views", views, "--events", events].map(String::from));
    Running::serve(binary, data.path(), &args)
}

async fn counter(client: &HttpClient, server: &Running, family: &str, outcome: &str) -> f64 {
    let metrics = client.metrics(server).await;
    metrics
        .value(family, &[("outcome", outcome)])
        .unwrap_or_else(|| panic!("no {family}{{outcome=\"{outcome}\"}} in the metrics"))
}

async fn views_and_events_reach_redis_and_nats(binary: Binary) {
    let redis = Server::redis(free_port());
    let mut nats = Some(Server::nats(free_port()));
    let nats_port = nats.as_ref().unwrap().port;
    let data = tempfile::tempdir().unwrap();
    let server = serve_with(binary, &data, &redis.redis_url(), &nats.as_ref().unwrap().nats_url());
    let client = HttpClient::default();
    let mut subscriber = Subscriber::subscribe(nats_port, "inventory.orders.created");

    let placed = client.post(&server.url("/orders"), ORDER).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let (subject, payload) = subscriber.next_message(DEADLINE).expect("the new order is published");
    assert_eq!(subject, "inventory.orders.created");
    assert_eq!(payload, placed.body, "the message is the order's JSON, as the client got it");
    let published: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(published["customer_id"], 7);

    for _ in 0..2 {
        let item = client.get(&server.url("/items/17")).await;
        assert_eq!(item.status, StatusCode::OK);
        assert_eq!(item.json()["item"]["id"], 17);
    }
    wait_until("inventory:views:17 reaches 2", || async {
        redis_get(redis.port, "inventory:views:17").as_deref() == Some("2")
    })
    .await;
    assert_eq!(redis_get(redis.port, "inventory:views:18"), None, "only viewed items count");
    let missing = client.get(&server.url("/items/99999")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    wait_until("the metrics count both views and the order", || async {
        counter(&client, &server, "inventory_views_total", "counted").await == 2.0
            && counter(&client, &server, "inventory_events_total", "published").await == 1.0
    })
    .await;
    assert_eq!(counter(&client, &server, "inventory_views_total", "failed").await, 0.0);
    assert_eq!(redis_get(redis.port, "inventory:views:99999"), None, "a 404 is no view");

    // NATS goes away: orders are still taken, and what could not be published is counted.
    drop(subscriber);
    nats.take();
    for _ in 0..3 {
        let placed = client.post(&server.url("/orders"), ORDER).await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
        assert_eq!(client.get(&server.url("/items/17")).await.status, StatusCode::OK);
    }
    wait_until("the unpublished orders are counted", || async {
        counter(&client, &server, "inventory_events_total", "failed").await
            + counter(&client, &server, "inventory_events_total", "dropped").await
            == 3.0
    })
    .await;
    assert_eq!(counter(&client, &server, "inventory_events_total", "published").await, 1.0);
    wait_until("views still reach Redis", || async {
        redis_get(redis.port, "inventory:views:17").as_deref() == Some("5")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_counts_views_in_redis_and_publishes_orders_on_nats() {
    views_and_events_reach_redis_and_nats(Binary::V1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_counts_views_in_redis_and_publishes_orders_on_nats() {
    views_and_events_reach_redis_and_nats(Binary::V2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_serves_while_its_dependencies_are_down_and_connects_once_they_are_up() {
    let (redis_port, nats_port) = (free_port(), free_port());
    let data = tempfile::tempdir().unwrap();
    let server = serve_with(
        Binary::V1,
        &data,
        &format!("redis://127.0.0.1:{redis_port}/0"),
        &format!("nats://127.0.0.1:{nats_port}"),
    );
    let plain_data = tempfile::tempdir().unwrap();
    let plain = Running::serve(Binary::V1, plain_data.path(), &seed_args(&SMALL_PLAN));
    let client = HttpClient::default();

    // The answers are those of a service started without the flags.
    for path in ["/items/17", "/items?limit=3", "/healthz"] {
        let with = client.get(&server.url(path)).await;
        let without = client.get(&plain.url(path)).await;
        assert_eq!(with.status, StatusCode::OK, "{path}");
        assert_eq!(with.body, without.body, "{path}");
    }
    let placed = client.post(&server.url("/orders"), ORDER).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    wait_until("what could not be delivered is counted", || async {
        counter(&client, &server, "inventory_views_total", "failed").await >= 1.0
            && counter(&client, &server, "inventory_events_total", "failed").await >= 1.0
    })
    .await;

    // Both come up: the writers connect on their own, without a restart of the service.
    let redis = Server::redis(redis_port);
    let nats = Server::nats(nats_port);
    let mut subscriber = Subscriber::subscribe(nats.port, "inventory.orders.created");
    let deadline = Instant::now() + DEADLINE;
    let payload = loop {
        assert!(Instant::now() < deadline, "no order was published after NATS came up");
        let placed = client.post(&server.url("/orders"), ORDER).await;
        assert_eq!(placed.status, StatusCode::CREATED);
        if let Some((_, payload)) = subscriber.next_message(Duration::from_millis(200)) {
            break payload;
        }
    };
    let published: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(published["lines"][0]["item_id"], 17);
    wait_until("views reach Redis once it is up", || async {
        assert_eq!(client.get(&server.url("/items/17")).await.status, StatusCode::OK);
        redis_get(redis.port, "inventory:views:17").is_some()
    })
    .await;
    assert!(counter(&client, &server, "inventory_views_total", "counted").await >= 1.0);
    assert!(counter(&client, &server, "inventory_events_total", "published").await >= 1.0);
}
