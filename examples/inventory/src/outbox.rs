//! Best-effort delivery to the optional Redis and NATS dependencies (`--views`, `--events`).
//!
//! A request never waits for either: it offers its message to a bounded queue and moves on
//! (when the queue is full the message is dropped and counted). One background writer per
//! dependency owns the connection: it connects, batches what is queued, checks what the server
//! answers, and after an error reconnects with exponential backoff. What could not be
//! delivered is counted, never retried, so an outage costs counted messages and no memory.

use std::{
    fmt, io,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::{Buf, BytesMut};
use http::Uri;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{
        TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    sync::mpsc,
};

/// How many messages wait for the writer at most; beyond that they are dropped.
pub const QUEUE_CAPACITY: usize = 4096;

/// How many queued messages the writer sends in one write.
pub const BATCH: usize = 256;

/// How long a connection attempt (including the name lookup) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a write, a handshake or an expected answer may take before the connection is
/// given up as broken.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The first and the longest wait before reconnecting.
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// What became of the messages offered to one dependency.
#[derive(Debug, Default)]
pub struct DeliveryCounters {
    delivered: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
}

/// A snapshot of [`DeliveryCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Accepted by the server.
    pub delivered: u64,
    /// Not queued: the queue was full.
    pub dropped: u64,
    /// Queued but not delivered: the server was unreachable, refused it or the connection broke.
    pub failed: u64,
}

impl DeliveryCounters {
    pub fn delivered(&self, count: u64) {
        self.delivered.fetch_add(count, Ordering::Relaxed);
    }

    pub fn dropped(&self, count: u64) {
        self.dropped.fetch_add(count, Ordering::Relaxed);
    }

    pub fn failed(&self, count: u64) {
        self.failed.fetch_add(count, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Delivery {
        Delivery {
            delivered: self.delivered.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// The sending side of a writer's queue.
#[derive(Debug)]
pub struct Outbox<T> {
    sender: mpsc::Sender<T>,
    counters: Arc<DeliveryCounters>,
}

impl<T> Outbox<T> {
    /// A queue of `capacity` messages and its receiving side, for a writer task.
    pub fn new(capacity: usize, counters: Arc<DeliveryCounters>) -> (Outbox<T>, mpsc::Receiver<T>) {
        let (sender, receiver) = mpsc::channel(capacity);
        (Outbox { sender, counters }, receiver)
    }

    /// Queues `message` for the writer without waiting; counts it as dropped when the queue is
    /// full or the writer is gone.
    pub fn offer(&self, message: T) {
        if self.sender.try_send(message).is_err() {
            self.counters.dropped(1);
        }
    }
}

/// The first message and whatever else is queued, up to [`BATCH`].
pub fn batch<T>(receiver: &mut mpsc::Receiver<T>, first: T) -> Vec<T> {
    let mut batch = vec![first];
    while batch.len() < BATCH {
        match receiver.try_recv() {
            Ok(message) => batch.push(message),
            Err(_) => break,
        }
    }
    batch
}

/// Counts everything queued as failed (the server cannot be reached) and empties the queue.
pub fn discard_queued<T>(receiver: &mut mpsc::Receiver<T>, counters: &DeliveryCounters) {
    let mut discarded = 0;
    while receiver.try_recv().is_ok() {
        discarded += 1;
    }
    counters.failed(discarded);
}

/// A writer's link to its server across connections: the backoff between attempts and the
/// log of its changes.
#[derive(Debug)]
pub struct Link {
    backoff: Backoff,
    pub log: LinkLog,
}

impl Link {
    pub fn new(what: &'static str, target: &DepUrl) -> Link {
        Link { backoff: Backoff::default(), log: LinkLog::new(what, target) }
    }

    /// Deals with the end of one connection: `Ok` when the queue closed (the service is
    /// stopping), `Err` when it broke after (`connected`) or before its handshake. A broken
    /// connection is logged; while the server cannot be reached at all, what is queued is
    /// counted as failed and discarded. Waits before the next attempt and returns whether to
    /// make one.
    pub async fn retry_after<T>(
        &mut self,
        outcome: io::Result<()>,
        connected: bool,
        receiver: &mut mpsc::Receiver<T>,
        counters: &DeliveryCounters,
    ) -> bool {
        match outcome {
            Ok(()) => return false,
            Err(err) if connected => {
                self.log.lost(&err);
                self.backoff.reset();
            }
            Err(err) => {
                self.log.unreachable(&err);
                discard_queued(receiver, counters);
            }
        }
        if receiver.is_closed() {
            return false;
        }
        tokio::time::sleep(self.backoff.next_wait()).await;
        true
    }
}

/// Exponential backoff between connection attempts.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: BACKOFF_FIRST }
    }
}

impl Backoff {
    /// The wait before the next attempt; each call doubles the following one, up to 5 s.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        wait
    }

    /// After a working connection, the next failure is retried quickly again.
    pub fn reset(&mut self) {
        self.next = BACKOFF_FIRST;
    }
}

/// Logs a writer's connection changes once each, not once per attempt.
#[derive(Debug)]
pub struct LinkLog {
    what: &'static str,
    target: String,
    reachable: Option<bool>,
}

impl LinkLog {
    pub fn new(what: &'static str, target: &DepUrl) -> LinkLog {
        LinkLog { what, target: target.to_string(), reachable: None }
    }

    pub fn connected(&mut self) {
        eprintln!("inventory: {}: connected to {}", self.what, self.target);
        self.reachable = Some(true);
    }

    pub fn lost(&mut self, err: &io::Error) {
        eprintln!("inventory: {}: lost {} ({err}); reconnecting", self.what, self.target);
        self.reachable = Some(false);
    }

    pub fn unreachable(&mut self, err: &io::Error) {
        if self.reachable != Some(false) {
            eprintln!(
                "inventory: {}: cannot reach {} ({err}); retrying in the background",
                self.what, self.target
            );
        }
        self.reachable = Some(false);
    }
}

/// A dependency's address from its `--views` / `--events` URL: `SCHEME://HOST[:PORT][/PATH]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepUrl {
    pub scheme: &'static str,
    pub host: String,
    pub port: u16,
    /// The path without its leading `/` (Redis: the database number).
    pub path: String,
}

/// Why a `--views` or `--events` URL was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{flag} {url:?}: {problem}")]
pub struct DepUrlError {
    pub flag: &'static str,
    pub url: String,
    pub problem: String,
}

impl DepUrl {
    /// Parses `url` for `flag`, which takes `scheme://` URLs whose port defaults to
    /// `default_port`.
    pub fn parse(
        flag: &'static str,
        url: &str,
        scheme: &'static str,
        default_port: u16,
    ) -> Result<DepUrl, DepUrlError> {
        let refuse = |problem: String| Err(DepUrlError { flag, url: url.to_string(), problem });
        let example = format!("{scheme}://127.0.0.1:{default_port}");
        let Ok(uri) = url.parse::<Uri>() else {
            return refuse(format!("not a URL; expected e.g. {example}"));
        };
        if uri.scheme_str() != Some(scheme) {
            return refuse(format!("only {scheme}:// URLs are supported, e.g. {example}"));
        }
        let Some(authority) = uri.authority() else {
            return refuse(format!("the URL has no host; expected e.g. {example}"));
        };
        if authority.as_str().contains('@') {
            return refuse("credentials are not supported; remove `user@` from the URL".into());
        }
        if uri.query().is_some() {
            return refuse("remove the query string".into());
        }
        let host = authority.host().trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return refuse(format!("the URL has no host; expected e.g. {example}"));
        }
        Ok(DepUrl {
            scheme,
            host: host.to_string(),
            port: authority.port_u16().unwrap_or(default_port),
            path: uri.path().trim_start_matches('/').to_string(),
        })
    }
}

impl fmt::Display for DepUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = &self.host;
        if host.contains(':') {
            write!(f, "{}://[{host}]:{}", self.scheme, self.port)?;
        } else {
            write!(f, "{}://{host}:{}", self.scheme, self.port)?;
        }
        if !self.path.is_empty() {
            write!(f, "/{}", self.path)?;
        }
        Ok(())
    }
}

/// An I/O error for a server that broke its protocol.
pub fn protocol_error(problem: impl fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, problem.to_string())
}

/// A connection to a dependency: writes with a deadline, reads into a buffer that a framing
/// parser consumes.
#[derive(Debug)]
pub struct Conn {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    buffer: BytesMut,
}

impl Conn {
    pub async fn connect(url: &DepUrl) -> io::Result<Conn> {
        let stream = tokio::time::timeout(
            CONNECT_TIMEOUT,
            TcpStream::connect((url.host.as_str(), url.port)),
        )
        .await
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no connection within {CONNECT_TIMEOUT:?}"),
            )
        })??;
        let _ = stream.set_nodelay(true);
        let (reader, writer) = stream.into_split();
        Ok(Conn { reader, writer, buffer: BytesMut::with_capacity(4096) })
    }

    /// Writes all of `bytes`, failing after [`IO_TIMEOUT`].
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        tokio::time::timeout(IO_TIMEOUT, self.writer.write_all(bytes)).await.map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the server took more than {IO_TIMEOUT:?} to take a write"),
            )
        })?
    }

    /// Reads more bytes into the buffer; an end of stream is an error. Cancel-safe.
    pub async fn fill(&mut self) -> io::Result<()> {
        if self.reader.read_buf(&mut self.buffer).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        Ok(())
    }

    /// The next frame `parse` finds, reading as needed. Cancel-safe: a cancelled call leaves
    /// the bytes read so far in the buffer.
    pub async fn next<T, E: fmt::Display>(
        &mut self,
        parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, E>,
    ) -> io::Result<T> {
        loop {
            if let Some((frame, used)) = parse(&self.buffer).map_err(protocol_error)? {
                self.buffer.advance(used);
                return Ok(frame);
            }
            self.fill().await?;
        }
    }

    /// [`Conn::next`], failing after [`IO_TIMEOUT`].
    pub async fn expect<T, E: fmt::Display>(
        &mut self,
        parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, E>,
    ) -> io::Result<T> {
        tokio::time::timeout(IO_TIMEOUT, self.next(parse)).await.map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the server did not answer within {IO_TIMEOUT:?}"),
            )
        })?
    }

    /// Whether unparsed bytes are buffered.
    pub fn has_buffered(&self) -> bool {
        !self.buffer.is_empty()
    }
}

#[cfg(test)]
mod tests;
