//! Framing tests of the lean HTTP/1.1 exchange: responses written in awkward pieces by a peer
//! at the other end of an in-memory pipe.

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

use super::{WireConnection, WireResponse};
use crate::record::ErrorKind;

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: test\r\n\r\n";

/// Answers one request with `pieces`, written one at a time, then optionally closes.
async fn peer(mut stream: DuplexStream, pieces: Vec<&'static [u8]>, close: bool) {
    let mut request = vec![0u8; REQUEST.len()];
    stream.read_exact(&mut request).await.unwrap();
    assert_eq!(request, REQUEST);
    for piece in pieces {
        stream.write_all(piece).await.unwrap();
        stream.flush().await.unwrap();
        tokio::task::yield_now().await;
    }
    if close {
        stream.shutdown().await.unwrap();
    } else {
        // Keep the peer open until the client is done.
        let mut rest = Vec::new();
        let _eof = stream.read_to_end(&mut rest).await;
    }
}

async fn exchange(pieces: Vec<&'static [u8]>, close: bool) -> Result<WireResponse, String> {
    let (client, server) = duplex(64);
    let server = tokio::spawn(peer(server, pieces, close));
    let mut connection = WireConnection::new(client);
    let result = connection
        .exchange(REQUEST, false)
        .await
        .map_err(|f| format!("{:?}: {}", f.kind, f.message));
    drop(connection);
    server.await.unwrap();
    result
}

#[tokio::test]
async fn content_length_split_anywhere() {
    let response =
        exchange(vec![b"HTTP/1.1 200 OK\r\nContent-Le", b"ngth: 5\r\n\r\nhel", b"lo"], false).await;
    assert_eq!(response, Ok(WireResponse { status: 200, bytes: 5, keep_alive: true }));
}

#[tokio::test]
async fn chunked_with_extensions_and_trailers() {
    let response = exchange(
        vec![
            b"HTTP/1.1 201 Created\r\ntransfer-encoding: gzip, chunked\r\n\r\n",
            b"4;ext=1\r\nRust\r",
            b"\n10\r\n0123456789abcdef\r\n0\r\n",
            b"x-trailer: yes\r\n",
            b"\r\n",
        ],
        false,
    )
    .await;
    assert_eq!(response, Ok(WireResponse { status: 201, bytes: 20, keep_alive: true }));
}

#[tokio::test]
async fn interim_responses_are_skipped() {
    let response = exchange(
        vec![b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n"],
        false,
    )
    .await;
    assert_eq!(response, Ok(WireResponse { status: 204, bytes: 0, keep_alive: false }));
}

#[tokio::test]
async fn a_body_without_length_runs_to_the_close() {
    let response = exchange(vec![b"HTTP/1.0 200 OK\r\n\r\nsome ", b"bytes"], true).await;
    assert_eq!(response, Ok(WireResponse { status: 200, bytes: 10, keep_alive: false }));
}

#[tokio::test]
async fn a_close_in_the_middle_is_a_reset_and_garbage_is_other() {
    let cut = exchange(vec![b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc"], true).await;
    assert!(
        cut.as_ref().is_err_and(|e| e.starts_with(&format!("{:?}", ErrorKind::Reset))),
        "{cut:?}"
    );
    let garbage = exchange(vec![b"SMTP ready\r\n\r\n"], true).await;
    assert!(
        garbage.as_ref().is_err_and(|e| e.starts_with("Other: malformed response head")),
        "{garbage:?}"
    );
    let conflicting = exchange(
        vec![b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab"],
        true,
    )
    .await;
    assert!(conflicting.is_err_and(|e| e.contains("conflicting Content-Length")));
}

#[tokio::test]
async fn a_head_request_has_no_body_whatever_the_length_says() {
    let (client, mut server) = duplex(1024);
    let answer = tokio::spawn(async move {
        let mut request = [0u8; 9];
        server.read_exact(&mut request).await.unwrap();
        server.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n").await.unwrap();
        server
    });
    let mut connection = WireConnection::new(client);
    let response = connection.exchange(b"HEAD / \r\n", true).await.unwrap();
    assert_eq!(response, WireResponse { status: 200, bytes: 0, keep_alive: true });
    drop(answer.await.unwrap());
}
