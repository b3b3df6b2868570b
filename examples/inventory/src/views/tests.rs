//! The view counter against a scripted Redis server on loopback.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    time::Instant,
};

use super::*;
use crate::outbox::Delivery;

async fn wait_for(counters: &DeliveryCounters, expected: Delivery) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while counters.snapshot() != expected {
        assert!(Instant::now() < deadline, "{:?}, expected {expected:?}", counters.snapshot());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The server's side: reads commands (arrays of bulk strings, which the reply parser reads too).
struct FakeRedis {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl FakeRedis {
    async fn accept(listener: &TcpListener) -> FakeRedis {
        let (stream, _) = listener.accept().await.unwrap();
        FakeRedis { stream, buffer: Vec::new() }
    }

    async fn command(&mut self) -> Vec<String> {
        loop {
            if let Some((Reply::Array(Some(args)), used)) = resp::parse_reply(&self.buffer).unwrap()
            {
                self.buffer.drain(..used);
                return args
                    .into_iter()
                    .map(|arg| match arg {
                        Reply::Bulk(Some(bytes)) => String::from_utf8(bytes).unwrap(),
                        other => panic!("not a bulk string: {other:?}"),
                    })
                    .collect();
            }
            let mut chunk = [0; 1024];
            let read = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
                .await
                .expect("the client writes")
                .unwrap();
            assert!(read > 0, "the client hung up");
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }

    async fn reply(&mut self, reply: &str) {
        self.stream.write_all(reply.as_bytes()).await.unwrap();
    }
}

async fn server(path: &str) -> (TcpListener, ViewsUrl) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = parse_url(&format!("redis://{}{path}", listener.local_addr().unwrap())).unwrap();
    (listener, url)
}

#[tokio::test]
async fn each_view_is_an_incr_and_error_replies_fail_only_their_command() {
    let (listener, url) = server("/0").await;
    let counters = Arc::new(DeliveryCounters::default());
    let outbox = start(url, Arc::clone(&counters));
    let mut redis = FakeRedis::accept(&listener).await;
    assert_eq!(redis.command().await, ["PING"], "database 0 needs no SELECT");
    redis.reply("+PONG\r\n").await;

    for item_id in [17, 18, 17] {
        outbox.offer(item_id);
    }
    for (expected, reply) in [
        ("inventory:views:17", ":1\r\n"),
        ("inventory:views:18", "-WRONGTYPE Operation against a key holding the wrong kind\r\n"),
        ("inventory:views:17", ":2\r\n"),
    ] {
        assert_eq!(redis.command().await, ["INCR", expected]);
        redis.reply(reply).await;
    }
    wait_for(&counters, Delivery { delivered: 2, dropped: 0, failed: 1 }).await;

    // The connection survived the error reply.
    outbox.offer(5);
    assert_eq!(redis.command().await, ["INCR", "inventory:views:5"]);
    redis.reply(":1\r\n").await;
    wait_for(&counters, Delivery { delivered: 3, dropped: 0, failed: 1 }).await;
}

#[tokio::test]
async fn a_broken_connection_fails_unanswered_commands_and_the_writer_reconnects() {
    let (listener, url) = server("/2").await;
    let counters = Arc::new(DeliveryCounters::default());
    let outbox = start(url, Arc::clone(&counters));
    let mut redis = FakeRedis::accept(&listener).await;
    assert_eq!(redis.command().await, ["SELECT", "2"]);
    assert_eq!(redis.command().await, ["PING"]);
    redis.reply("+OK\r\n+PONG\r\n").await;
    outbox.offer(1);
    assert_eq!(redis.command().await, ["INCR", "inventory:views:1"]);
    drop(redis);
    wait_for(&counters, Delivery { delivered: 0, dropped: 0, failed: 1 }).await;

    let mut redis = FakeRedis::accept(&listener).await;
    assert_eq!(redis.command().await, ["SELECT", "2"]);
    assert_eq!(redis.command().await, ["PING"]);
    redis.reply("+OK\r\n+PONG\r\n").await;
    outbox.offer(1);
    assert_eq!(redis.command().await, ["INCR", "inventory:views:1"]);
    // A reply that is not an integer is a broken protocol: failed, and the connection ends.
    redis.reply("$2\r\nhi\r\n").await;
    wait_for(&counters, Delivery { delivered: 0, dropped: 0, failed: 2 }).await;
    let mut redis = FakeRedis::accept(&listener).await;
    assert_eq!(redis.command().await, ["SELECT", "2"]);
}

#[tokio::test]
async fn a_server_that_refuses_commands_is_not_used() {
    let (listener, url) = server("").await;
    let counters = Arc::new(DeliveryCounters::default());
    let outbox = start(url, Arc::clone(&counters));
    let mut redis = FakeRedis::accept(&listener).await;
    assert_eq!(redis.command().await, ["PING"]);
    redis.reply("-NOAUTH Authentication required.\r\n").await;
    outbox.offer(3);
    wait_for(&counters, Delivery { delivered: 0, dropped: 0, failed: 1 }).await;
}
