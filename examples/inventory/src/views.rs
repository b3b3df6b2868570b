//! `--views redis://HOST:PORT[/DB]`: every item served by `GET /items/{id}` is counted in
//! Redis, `INCR inventory:views:{id}`.
//!
//! The request hands the item id to [`crate::outbox`]'s queue and answers; a background writer
//! sends what is queued as one pipelined batch of `INCR`s and reads one reply per command: an
//! integer counts the view, an error reply (a read-only replica, a key of another type) counts
//! it as failed and leaves the connection in use, anything else breaks the connection.

use std::{io, sync::Arc};

use tokio::sync::mpsc;

use crate::{
    outbox::{self, Conn, DeliveryCounters, DepUrl, DepUrlError, Link, LinkLog, Outbox},
    resp::{self, Reply},
};

/// Redis's default port, used when the URL gives none.
pub const DEFAULT_PORT: u16 = 6379;

/// The key counting the views of item `item_id`.
pub fn key(item_id: i64) -> String {
    format!("inventory:views:{item_id}")
}

/// A parsed `--views` URL: where Redis is and which database to count in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewsUrl {
    pub address: DepUrl,
    pub database: u32,
}

/// Parses `--views`.
pub fn parse_url(url: &str) -> Result<ViewsUrl, DepUrlError> {
    let address = DepUrl::parse("--views", url, "redis", DEFAULT_PORT)?;
    let database = if address.path.is_empty() {
        0
    } else {
        address.path.parse().map_err(|_| DepUrlError {
            flag: "--views",
            url: url.to_string(),
            problem: format!(
                "the path names the database by number, e.g. /0; {:?} is not one",
                address.path
            ),
        })?
    };
    Ok(ViewsUrl { address, database })
}

/// Starts the writer on the current runtime; offer each viewed item's id to the returned queue.
pub fn start(url: ViewsUrl, counters: Arc<DeliveryCounters>) -> Outbox<i64> {
    let (outbox, receiver) = Outbox::new(outbox::QUEUE_CAPACITY, Arc::clone(&counters));
    tokio::spawn(run(url, receiver, counters));
    outbox
}

async fn run(url: ViewsUrl, mut receiver: mpsc::Receiver<i64>, counters: Arc<DeliveryCounters>) {
    let mut link = Link::new("views", &url.address);
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
    url: &ViewsUrl,
    receiver: &mut mpsc::Receiver<i64>,
    counters: &DeliveryCounters,
    connected: &mut bool,
    log: &mut LinkLog,
) -> io::Result<()> {
    let mut conn = Conn::connect(&url.address).await?;
    handshake(&mut conn, url.database).await?;
    *connected = true;
    log.connected();
    let mut reported_error = false;
    loop {
        // While idle, the server has nothing to say: bytes or an end of stream mean trouble.
        let first = tokio::select! {
            item_id = receiver.recv() => match item_id {
                Some(item_id) => item_id,
                None => return Ok(()),
            },
            read = conn.fill() => {
                read?;
                return Err(outbox::protocol_error("the server sent data nobody asked for"));
            }
        };
        let batch = outbox::batch(receiver, first);
        let mut out = Vec::with_capacity(batch.len() * 40);
        for item_id in &batch {
            resp::encode_command(&mut out, &[b"INCR", key(*item_id).as_bytes()]);
        }
        let mut unanswered = batch.len() as u64;
        let outcome =
            exchange(&mut conn, &out, &mut unanswered, counters, &mut reported_error).await;
        if outcome.is_err() {
            counters.failed(unanswered);
        }
        outcome?;
    }
}

/// Selects the database (when not 0) and checks with `PING` that the server takes commands
/// (a server that wants a password answers `-NOAUTH`).
async fn handshake(conn: &mut Conn, database: u32) -> io::Result<()> {
    let mut hello = Vec::new();
    let mut expected = 1;
    if database != 0 {
        resp::encode_command(&mut hello, &[b"SELECT", database.to_string().as_bytes()]);
        expected += 1;
    }
    resp::encode_command(&mut hello, &[b"PING"]);
    conn.write(&hello).await?;
    for _ in 0..expected {
        match conn.expect(resp::parse_reply).await? {
            Reply::Simple(_) => {}
            Reply::Error(message) => {
                return Err(io::Error::other(format!("the server said: {message}")));
            }
            other => {
                return Err(outbox::protocol_error(format!("unexpected reply {other:?}")));
            }
        }
    }
    Ok(())
}

/// Sends one pipelined batch and reads a reply per command, counting each.
async fn exchange(
    conn: &mut Conn,
    commands: &[u8],
    unanswered: &mut u64,
    counters: &DeliveryCounters,
    reported_error: &mut bool,
) -> io::Result<()> {
    conn.write(commands).await?;
    while *unanswered > 0 {
        let reply = conn.expect(resp::parse_reply).await?;
        *unanswered -= 1;
        match reply {
            Reply::Integer(_) => counters.delivered(1),
            Reply::Error(message) => {
                counters.failed(1);
                if !*reported_error {
                    eprintln!("inventory: views: Redis refused an INCR: {message}");
                    *reported_error = true;
                }
            }
            other => {
                counters.failed(1);
                return Err(outbox::protocol_error(format!("INCR answered {other:?}")));
            }
        }
    }
    if conn.has_buffered() {
        return Err(outbox::protocol_error("the server sent more replies than commands"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
