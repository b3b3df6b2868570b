//! One proxied connection: the client's socket, the upstream's, and a fault schedule for each
//! direction between them.
//!
//! Each direction reads its source, passes what it reads through its [`DirectionSchedule`] and
//! writes what comes out, sleeping until the schedule's next deadline when it holds data back.
//! The toxic chains arrive on a watch channel, so a toxic added to or removed from the proxy
//! reaches every live connection at once. A direction with no toxics skips the schedule: it reads
//! into a [`Relay`] buffer and writes it straight back out, a plain copy loop with no allocation
//! or hand-off per chunk.

use std::{
    io,
    net::Shutdown,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::{Buf, Bytes, BytesMut};
use shadowgate_core::rng::Rng;
use socket2::SockRef;
use tokio::{
    net::TcpStream,
    sync::watch,
    time::{Instant, timeout},
};

use crate::{
    schedule::{ChainEntry, DirectionSchedule, StreamEvent},
    timer::PreciseTimer,
    toxic::Stream,
};

/// How much a direction with toxics reads at once.
const READ_CHUNK: usize = 64 * 1024;
/// The relay buffer of a direction without toxics starts this small, so that the many
/// connections that only exchange short messages cost little memory...
const RELAY_MIN: usize = 16 * 1024;
/// ...and doubles each time a read fills it, up to this size, so that a bulk transfer moves in
/// few large reads and writes.
const RELAY_MAX: usize = 512 * 1024;
/// The kernel buffer the proxy asks for on each of its sockets, for sending and for receiving
/// (Linux doubles it for its own overhead). A fixed size turns off the kernel's autotuning,
/// which on loopback grows the buffers to several megabytes: every byte in flight then passes
/// through memory that has left the CPU caches, and a proxied bulk transfer costs the client,
/// the proxy and the server about twice the CPU time per byte. This is plenty for the links a
/// shadow environment has (loopback and local namespaces): it only limits a single connection
/// whose round trip is several milliseconds, and latency toxics hold their data in the proxy,
/// not in the kernel.
const SOCKET_BUFFER: usize = 256 * 1024;
/// The most bytes a direction holds in its toxics before it stops reading from its source.
/// It bounds memory against a slow toxic, the way a TCP window bounds a slow link.
const MAX_BUFFERED: usize = 4 * 1024 * 1024;
/// How long the proxy waits for the upstream to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The toxics of one proxy, split by stream, in the order they were added.
#[derive(Debug, Default)]
pub(crate) struct ToxicChains {
    pub(crate) upstream: Vec<ChainEntry>,
    pub(crate) downstream: Vec<ChainEntry>,
}

impl ToxicChains {
    fn for_stream(&self, stream: Stream) -> &[ChainEntry] {
        match stream {
            Stream::Upstream => &self.upstream,
            Stream::Downstream => &self.downstream,
        }
    }
}

/// Gives each connection its own random generators, derived from the proxy's seed and the
/// connection's number, so a run is reproducible for a given order of connections.
#[derive(Debug)]
pub(crate) struct ConnectionSeeds {
    seed: Rng,
    connections: AtomicU64,
}

impl ConnectionSeeds {
    pub(crate) fn new(seed: u64) -> ConnectionSeeds {
        ConnectionSeeds { seed: Rng::seed(seed), connections: AtomicU64::new(0) }
    }

    /// Generators for the upstream and downstream directions of the next connection.
    fn next_pair(&self) -> (Rng, Rng) {
        let number = self.connections.fetch_add(1, Ordering::Relaxed);
        (self.seed.fork(number.wrapping_mul(2)), self.seed.fork(number.wrapping_mul(2) + 1))
    }
}

/// What every connection accepted by one running listener shares.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionSettings {
    pub(crate) upstream: Arc<str>,
    pub(crate) chains: watch::Receiver<Arc<ToxicChains>>,
    pub(crate) seeds: Arc<ConnectionSeeds>,
}

/// How a toxic ends a whole connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Termination {
    Close,
    Reset,
}

/// How one direction ended.
enum DirectionEnd {
    /// The source finished and the destination was told so; the other direction goes on.
    Finished,
    /// The whole connection must end.
    Terminate(Termination),
}

/// Proxies one accepted client until both directions finish, a toxic ends the connection, or
/// `cut` turns true (the proxy was disabled or deleted).
pub(crate) async fn run_connection(
    client: TcpStream,
    settings: ConnectionSettings,
    mut cut: watch::Receiver<bool>,
) {
    let connect = timeout(CONNECT_TIMEOUT, TcpStream::connect(&*settings.upstream));
    let upstream = tokio::select! {
        connected = connect => match connected {
            Ok(Ok(upstream)) => upstream,
            // The upstream is down: close the client, as Toxiproxy does.
            Ok(Err(_)) | Err(_) => return,
        },
        _ = cut.wait_for(|cut| *cut) => return,
    };
    for socket in [&client, &upstream] {
        // Small writes must not wait for Nagle's algorithm, or every toxic would gain latency.
        let _ = socket.set_nodelay(true);
        // Buffer sizes are an optimisation; the defaults work too.
        let socket = SockRef::from(socket);
        let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    }

    let (upstream_rng, downstream_rng) = settings.seeds.next_pair();
    let epoch = Instant::now();
    let upstream_direction = run_direction(
        &client,
        &upstream,
        Stream::Upstream,
        settings.chains.clone(),
        DirectionSchedule::new(upstream_rng),
        epoch,
    );
    let downstream_direction = run_direction(
        &upstream,
        &client,
        Stream::Downstream,
        settings.chains,
        DirectionSchedule::new(downstream_rng),
        epoch,
    );
    tokio::pin!(upstream_direction, downstream_direction);
    let (mut upstream_finished, mut downstream_finished) = (false, false);
    let termination = loop {
        tokio::select! {
            end = &mut upstream_direction, if !upstream_finished => match end {
                DirectionEnd::Finished => upstream_finished = true,
                DirectionEnd::Terminate(termination) => break Some(termination),
            },
            end = &mut downstream_direction, if !downstream_finished => match end {
                DirectionEnd::Finished => downstream_finished = true,
                DirectionEnd::Terminate(termination) => break Some(termination),
            },
            _ = cut.wait_for(|cut| *cut) => break Some(Termination::Close),
        }
        if upstream_finished && downstream_finished {
            break None;
        }
    };
    for socket in [&client, &upstream] {
        let socket = SockRef::from(socket);
        match termination {
            // With a zero linger time, closing the socket sends RST instead of FIN.
            Some(Termination::Reset) => drop(socket.set_linger(Some(Duration::ZERO))),
            Some(Termination::Close) => drop(socket.shutdown(Shutdown::Both)),
            None => {}
        }
    }
    // The sockets close when they are dropped here.
}

/// Copies `source` to `destination` through `schedule` until the source ends or a toxic ends
/// the connection.
async fn run_direction(
    source: &TcpStream,
    destination: &TcpStream,
    stream: Stream,
    mut chains: watch::Receiver<Arc<ToxicChains>>,
    schedule: DirectionSchedule,
    epoch: Instant,
) -> DirectionEnd {
    let mut direction = Direction {
        source,
        destination,
        schedule,
        epoch,
        read_buffer: BytesMut::new(),
        pending: None,
        relay: Relay::default(),
        source_open: true,
    };
    let initial = Arc::clone(&chains.borrow_and_update());
    direction.schedule.sync(direction.now(), initial.for_stream(stream));
    let mut timer = PreciseTimer::default();
    let mut chains_open = true;
    loop {
        let write_blocked = match direction.flush() {
            Ok(flushed) => flushed == Flushed::Blocked,
            Err(end) => return end,
        };
        let read_mode = direction.read_mode();
        let deadline = direction.schedule.next_deadline();
        let wake_at = deadline.map_or_else(Instant::now, |at| epoch + at);
        tokio::select! {
            changed = chains.changed(), if chains_open => match changed {
                Ok(()) => {
                    let latest = Arc::clone(&chains.borrow_and_update());
                    direction.schedule.sync(direction.now(), latest.for_stream(stream));
                }
                // The proxy was deleted; its listener's stop cuts this connection.
                Err(_) => chains_open = false,
            },
            readiness = source.readable(), if read_mode != ReadMode::Wait => match readiness {
                Ok(()) => direction.read(read_mode),
                Err(_) => direction.end_source(),
            },
            readiness = destination.writable(), if write_blocked => {
                if readiness.is_err() {
                    return DirectionEnd::Terminate(Termination::Close);
                }
            },
            () = timer.sleep_until(wake_at), if deadline.is_some() => {},
            // Nothing can happen in this direction any more (its source has ended and its
            // proxy is gone): end the connection rather than wait forever.
            else => return DirectionEnd::Terminate(Termination::Close),
        }
    }
}

/// The state of one direction between its source and destination sockets.
struct Direction<'a> {
    source: &'a TcpStream,
    destination: &'a TcpStream,
    schedule: DirectionSchedule,
    epoch: Instant,
    read_buffer: BytesMut,
    /// Data taken from the schedule and partly written.
    pending: Option<Bytes>,
    /// What was read while no toxic acted, not yet all written.
    relay: Relay,
    source_open: bool,
}

/// The buffer of a direction without toxics: a read lands here and is written straight back
/// out, so such a direction allocates nothing per chunk and never touches the schedule.
#[derive(Debug, Default)]
struct Relay {
    buffer: Vec<u8>,
    /// The bytes read and not yet written are `buffer[start..end]`.
    start: usize,
    end: usize,
}

impl Relay {
    fn held(&self) -> usize {
        self.end - self.start
    }

    fn unwritten(&self) -> &[u8] {
        &self.buffer[self.start..self.end]
    }

    /// Reads what the source has into the buffer. Call it only when the buffer holds nothing
    /// unwritten. Returns the bytes read; 0 means the source has ended.
    fn fill_from(&mut self, source: &TcpStream) -> io::Result<usize> {
        debug_assert_eq!(self.held(), 0, "the relay is refilled only once written");
        let length = self.buffer.len();
        if length == 0 {
            self.buffer = vec![0; RELAY_MIN];
        } else if self.end == length && length < RELAY_MAX {
            // The last read filled the buffer: the source has more than it holds.
            self.buffer = vec![0; (length * 2).min(RELAY_MAX)];
        }
        (self.start, self.end) = (0, 0);
        let read = source.try_read(&mut self.buffer)?;
        self.end = read;
        Ok(read)
    }
}

/// Whether everything due has been written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flushed {
    Done,
    /// The destination accepts no more for now.
    Blocked,
}

/// How the next read from the source is done, if at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadMode {
    /// Do not read: the source has ended, or enough is held already.
    Wait,
    /// Read into memory and pass through the schedule.
    Copy,
    /// No toxic acts: read into the relay buffer, to be written straight out.
    Relay,
}

impl Direction<'_> {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Writes what is due, oldest first: the relay's bytes were read before anything the
    /// schedule holds (a toxic added since then does not see them). Ends the direction, or the
    /// connection, when the schedule says so or the destination fails.
    fn flush(&mut self) -> Result<Flushed, DirectionEnd> {
        let destination = self.destination;
        while self.relay.held() > 0 {
            match destination.try_write(self.relay.unwritten()) {
                Ok(written) if written > 0 => self.relay.start += written,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(Flushed::Blocked);
                }
                Ok(_) | Err(_) => return Err(DirectionEnd::Terminate(Termination::Close)),
            }
        }
        self.schedule.advance(self.now());
        loop {
            if let Some(data) = &mut self.pending {
                match destination.try_write(data) {
                    Ok(written) => {
                        data.advance(written);
                        if data.is_empty() {
                            self.pending = None;
                        }
                        continue;
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        return Ok(Flushed::Blocked);
                    }
                    Err(_) => return Err(DirectionEnd::Terminate(Termination::Close)),
                }
            }
            match self.schedule.pop_ready() {
                None => return Ok(Flushed::Done),
                Some(StreamEvent::Data(data)) => self.pending = Some(data),
                Some(StreamEvent::Eof) => {
                    // The peer may already be gone; the other direction will notice.
                    let _ = SockRef::from(destination).shutdown(Shutdown::Write);
                    return Err(DirectionEnd::Finished);
                }
                Some(StreamEvent::Close) => {
                    return Err(DirectionEnd::Terminate(Termination::Close));
                }
                Some(StreamEvent::Reset) => {
                    return Err(DirectionEnd::Terminate(Termination::Reset));
                }
            }
        }
    }

    /// Decides how to read next. Without toxics, a direction reads only once the last read is
    /// written, like a plain copy; with toxics, it reads ahead up to [`MAX_BUFFERED`], so that
    /// the toxics' timing does not depend on the source's pace.
    fn read_mode(&self) -> ReadMode {
        let held = self.schedule.buffered_bytes()
            + self.pending.as_ref().map_or(0, Bytes::len)
            + self.relay.held();
        if !self.source_open {
            return ReadMode::Wait;
        }
        if !self.schedule.is_idle() {
            return if held < MAX_BUFFERED { ReadMode::Copy } else { ReadMode::Wait };
        }
        if held > 0 { ReadMode::Wait } else { ReadMode::Relay }
    }

    /// Reads from the source, which has signalled readiness.
    fn read(&mut self, mode: ReadMode) {
        let source = self.source;
        let read = match mode {
            ReadMode::Relay => self.relay.fill_from(source),
            ReadMode::Copy | ReadMode::Wait => {
                self.read_buffer.reserve(READ_CHUNK);
                let read = source.try_read_buf(&mut self.read_buffer);
                if matches!(read, Ok(length) if length > 0) {
                    let data = self.read_buffer.split().freeze();
                    self.schedule.push(self.now(), StreamEvent::Data(data));
                }
                read
            }
        };
        match read {
            Ok(0) => self.end_source(),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            // A reset or failed source ends its stream like an orderly close would.
            Err(_) => self.end_source(),
        }
    }

    fn end_source(&mut self) {
        self.source_open = false;
        self.schedule.push(self.now(), StreamEvent::Eof);
    }
}
