//! The publisher against a scripted NATS server on loopback.

use std::time::Duration;

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};

use super::*;
use crate::outbox::Delivery;

/// Waits until `counters` show `expected`, failing after 10 s.
async fn wait_for(counters: &DeliveryCounters, expected: Delivery) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while counters.snapshot() != expected {
        assert!(Instant::now() < deadline, "{:?}, expected {expected:?}", counters.snapshot());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn line(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line))
        .await
        .expect("the client writes")
        .unwrap();
    line
}

/// Accepts the publisher and plays the server's side of the handshake, with a server `PING`
/// in the middle that the client must answer.
async fn accept(listener: &TcpListener, info: &str) -> BufReader<TcpStream> {
    let (stream, _) = listener.accept().await.unwrap();
    let mut stream = BufReader::new(stream);
    stream.get_mut().write_all(format!("INFO {info}\r\n").as_bytes()).await.unwrap();
    assert_eq!(
        line(&mut stream).await,
        "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"inventory\"}\r\n"
    );
    assert_eq!(line(&mut stream).await, "PING\r\n");
    stream.get_mut().write_all(b"PING\r\nPONG\r\n").await.unwrap();
    assert_eq!(line(&mut stream).await, "PONG\r\n", "the server's PING is answered");
    stream
}

/// Reads one `PUB` and returns its payload.
async fn read_pub(stream: &mut BufReader<TcpStream>) -> String {
    let head = line(stream).await;
    let size: usize = head
        .strip_prefix("PUB inventory.orders.created ")
        .and_then(|size| size.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("not a PUB: {head:?}"));
    let mut payload = vec![0; size + 2];
    stream.read_exact(&mut payload).await.unwrap();
    assert!(payload.ends_with(b"\r\n"));
    payload.truncate(size);
    String::from_utf8(payload).unwrap()
}

async fn server() -> (TcpListener, DepUrl) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = parse_url(&format!("nats://{}", listener.local_addr().unwrap())).unwrap();
    (listener, url)
}

#[tokio::test]
async fn publishes_after_the_handshake_and_counts_on_the_servers_pong() {
    let (listener, url) = server().await;
    let counters = Arc::new(DeliveryCounters::default());
    let outbox = start(url, Arc::clone(&counters));
    let mut stream = accept(&listener, r#"{"server_id":"x","max_payload":32}"#).await;

    outbox.offer(Bytes::from_static(b"{\"id\":1}"));
    assert_eq!(read_pub(&mut stream).await, "{\"id\":1}");
    assert_eq!(line(&mut stream).await, "PING\r\n", "each batch ends with a PING");
    // Idle keep-alives are answered too.
    stream.get_mut().write_all(b"PING\r\n").await.unwrap();
    assert_eq!(line(&mut stream).await, "PONG\r\n");
    assert_eq!(counters.snapshot().delivered, 0, "not published before the PONG");
    stream.get_mut().write_all(b"PONG\r\n").await.unwrap();
    wait_for(&counters, Delivery { delivered: 1, dropped: 0, failed: 0 }).await;

    // Larger than the server's max_payload: never sent, counted as failed.
    outbox.offer(Bytes::from(vec![b'x'; 33]));
    wait_for(&counters, Delivery { delivered: 1, dropped: 0, failed: 1 }).await;
    outbox.offer(Bytes::from_static(b"{\"id\":2}"));
    assert_eq!(read_pub(&mut stream).await, "{\"id\":2}");
    assert_eq!(line(&mut stream).await, "PING\r\n");
    stream.get_mut().write_all(b"+OK\r\nPONG\r\n").await.unwrap();
    wait_for(&counters, Delivery { delivered: 2, dropped: 0, failed: 1 }).await;
}

#[tokio::test]
async fn a_broken_connection_fails_the_unconfirmed_batch_and_the_writer_reconnects() {
    let (listener, url) = server().await;
    let counters = Arc::new(DeliveryCounters::default());
    let outbox = start(url, Arc::clone(&counters));
    let mut stream = accept(&listener, "{}").await;
    outbox.offer(Bytes::from_static(b"lost"));
    assert_eq!(read_pub(&mut stream).await, "lost");
    drop(stream);
    wait_for(&counters, Delivery { delivered: 0, dropped: 0, failed: 1 }).await;

    let mut stream = accept(&listener, "{}").await;
    outbox.offer(Bytes::from_static(b"kept"));
    assert_eq!(read_pub(&mut stream).await, "kept");
    assert_eq!(line(&mut stream).await, "PING\r\n");
    stream.get_mut().write_all(b"PONG\r\n").await.unwrap();
    wait_for(&counters, Delivery { delivered: 1, dropped: 0, failed: 1 }).await;

    // An -ERR ends the connection; the writer comes back once more.
    stream.get_mut().write_all(b"-ERR 'Stale Connection'\r\n").await.unwrap();
    let _stream = accept(&listener, "{}").await;
}

#[tokio::test]
async fn an_unreachable_server_fails_what_is_queued() {
    // A port nobody listens on: bound, then closed.
    let (listener, url) = server().await;
    drop(listener);
    let counters = Arc::new(DeliveryCounters::default());
    let outbox = start(url, Arc::clone(&counters));
    outbox.offer(Bytes::from_static(b"nowhere"));
    wait_for(&counters, Delivery { delivered: 0, dropped: 0, failed: 1 }).await;
}
