//! `--events nats://HOST:PORT`: every order created is published, as the JSON the client got
//! back, on the NATS subject `inventory.orders.created`.
//!
//! The request hands the message to [`crate::outbox`]'s queue and answers; a background writer
//! publishes. Each batch of `PUB`s is followed by a `PING`, and the batch counts as published
//! when the server's `PONG` arrives (NATS answers in order, after processing what came before).
//! A batch still unconfirmed when the connection breaks counts as failed. The writer answers the
//! server's keep-alive `PING`s while idle, so the server never drops it as a stale client.

use std::{collections::VecDeque, io, sync::Arc};

use bytes::Bytes;
use tokio::{sync::mpsc, time::Instant};

use crate::{
    nats::{self, ServerOp},
    outbox::{
        self, Conn, DeliveryCounters, DepUrl, DepUrlError, IO_TIMEOUT, Link, LinkLog, Outbox,
    },
};

/// The subject new orders are published on.
pub const SUBJECT: &str = "inventory.orders.created";

/// The name the writer gives the server (it shows in the server's connection list).
pub const CLIENT_NAME: &str = "inventory";

/// NATS's default port, used when the URL gives none.
pub const DEFAULT_PORT: u16 = 4222;

/// The payload limit assumed when the server's `INFO` does not state one (NATS's default).
const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

/// How many batches may wait for their `PONG` at once.
const MAX_UNCONFIRMED: usize = 16;

/// Parses `--events`.
pub fn parse_url(url: &str) -> Result<DepUrl, DepUrlError> {
    DepUrl::parse("--events", url, "nats", DEFAULT_PORT)
}

/// Starts the writer on the current runtime; offer each order's JSON to the returned queue.
pub fn start(url: DepUrl, counters: Arc<DeliveryCounters>) -> Outbox<Bytes> {
    let (outbox, receiver) = Outbox::new(outbox::QUEUE_CAPACITY, Arc::clone(&counters));
    tokio::spawn(run(url, receiver, counters));
    outbox
}

async fn run(url: DepUrl, mut receiver: mpsc::Receiver<Bytes>, counters: Arc<DeliveryCounters>) {
    let mut link = Link::new("events", &url);
    loop {
        let mut connected = false;
        let outcome =
            serve_connection(&url, &mut receiver, &counters, &mut connected, &mut link.log).await;
        if !link.retry_after(outcome, connected, &mut receiver, &counters).await {
            return;
        }
    }
}

/// One connection, from the handshake until it breaks (`Err`) or the queue closes (`Ok`).
async fn serve_connection(
    url: &DepUrl,
    receiver: &mut mpsc::Receiver<Bytes>,
    counters: &DeliveryCounters,
    connected: &mut bool,
    log: &mut LinkLog,
) -> io::Result<()> {
    let mut conn = Conn::connect(url).await?;
    let mut max_payload = handshake(&mut conn).await?;
    *connected = true;
    log.connected();
    let mut unconfirmed = VecDeque::new();
    let outcome = publish(&mut conn, receiver, counters, &mut unconfirmed, &mut max_payload).await;
    if outcome.is_err() {
        counters.failed(unconfirmed.iter().map(|&(count, _)| count).sum());
    }
    outcome
}

/// Reads `INFO`, sends `CONNECT` and a `PING`, and waits for the `PONG` that says the server
/// accepted the connection. Returns the server's payload limit.
async fn handshake(conn: &mut Conn) -> io::Result<usize> {
    let info = match conn.expect(nats::parse_op).await? {
        ServerOp::Info(info) => info,
        other => return Err(outbox::protocol_error(format!("expected INFO, got {other:?}"))),
    };
    let mut max_payload = nats::max_payload(&info).unwrap_or(DEFAULT_MAX_PAYLOAD);
    let mut hello = nats::connect_line(CLIENT_NAME);
    hello.extend_from_slice(nats::PING);
    conn.write(&hello).await?;
    loop {
        match conn.expect(nats::parse_op).await? {
            ServerOp::Pong => return Ok(max_payload),
            ServerOp::Ping => conn.write(nats::PONG).await?,
            ServerOp::Info(info) => {
                max_payload = nats::max_payload(&info).unwrap_or(max_payload);
            }
            ServerOp::Ok | ServerOp::Msg { .. } => {}
            ServerOp::Err(message) => return Err(refused(&message)),
        }
    }
}

fn refused(message: &str) -> io::Error {
    io::Error::other(format!("the server said: {message}"))
}

/// Publishes what is queued and tracks the batches awaiting their `PONG`.
async fn publish(
    conn: &mut Conn,
    receiver: &mut mpsc::Receiver<Bytes>,
    counters: &DeliveryCounters,
    unconfirmed: &mut VecDeque<(u64, Instant)>,
    max_payload: &mut usize,
) -> io::Result<()> {
    loop {
        let waiting_since = unconfirmed.front().map(|&(_, sent)| sent);
        let confirm_by = waiting_since.unwrap_or_else(Instant::now) + IO_TIMEOUT;
        tokio::select! {
            op = conn.next(nats::parse_op) => match op? {
                ServerOp::Ping => conn.write(nats::PONG).await?,
                ServerOp::Pong => {
                    if let Some((count, _)) = unconfirmed.pop_front() {
                        counters.delivered(count);
                    }
                }
                ServerOp::Info(info) => {
                    *max_payload = nats::max_payload(&info).unwrap_or(*max_payload);
                }
                ServerOp::Ok | ServerOp::Msg { .. } => {}
                ServerOp::Err(message) => return Err(refused(&message)),
            },
            message = receiver.recv(), if unconfirmed.len() < MAX_UNCONFIRMED => {
                let Some(first) = message else { return Ok(()) };
                let mut out = Vec::new();
                let mut count = 0;
                for payload in outbox::batch(receiver, first) {
                    if payload.len() > *max_payload {
                        counters.failed(1);
                        continue;
                    }
                    nats::encode_pub(&mut out, SUBJECT, &payload);
                    count += 1;
                }
                if count > 0 {
                    out.extend_from_slice(nats::PING);
                    unconfirmed.push_back((count, Instant::now()));
                    conn.write(&out).await?;
                }
            },
            () = tokio::time::sleep_until(confirm_by), if waiting_since.is_some() => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no PONG within {IO_TIMEOUT:?} of a PING"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests;
