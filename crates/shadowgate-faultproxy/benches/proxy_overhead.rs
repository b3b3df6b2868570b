//! What the fault proxy costs with no toxics, side by side with a direct connection on loopback.
//!
//! Run with `cargo bench -p shadowgate-faultproxy --bench proxy_overhead`.
//!
//! - Round trips: a client sends 64 bytes to an echo server and waits for them to come back,
//!   once directly and once through the proxy, in alternating blocks so that both see the same
//!   machine conditions. The added latency is the difference of the medians (and of the 99th
//!   percentiles). Toxiproxy's own benchmark puts its cost at about 270 µs per HTTP request.
//! - Bulk transfer: a client writes 1 GiB to a server that reads and discards it, directly
//!   and through the proxy, alternating eleven times; the ratio of the median throughputs is
//!   reported, with the spread of the ratios of each direct run and the proxied run after it,
//!   and the CPU time the whole process (client, server and proxy) spent per GB.
//!   On a shared machine the CPU time is the steadier figure: throughput also depends on how
//!   soon other processes let each thread run. A transfer lasts about a third of a second: with
//!   256 MiB (under 0.1 s) the ratio swung from 0.65x to 1.08x between runs on two cores, as
//!   the client, proxy and server threads were placed well or badly for the whole transfer.
//!
//! In a virtual machine, the round trips depend on the guest's halt polling, which the bench
//! prints: with it off (`guest_halt_poll_ns` 0), every hop that finds an idle vCPU halted
//! waits for the host to wake it, and the proxy's two extra hops per round trip cost that
//! twice. Compare with `echo 200000 > /sys/module/haltpoll/parameters/guest_halt_poll_ns`
//! (the kernel's default) and restore the value after.
//!
//! The client and servers are plain blocking threads, so that the only async code measured is
//! the proxy's. The proxy runs on a single-threaded Tokio runtime on a thread of its own, which
//! is how `shadowgate faultproxy` should run it: one thread carries far more traffic than a
//! shadow environment makes, and it saves the hand-offs between worker threads that make a
//! multi-threaded runtime's round trips slower and less steady on a two-core machine.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use nix::sys::resource::{UsageWho, getrusage};
use shadowgate_faultproxy::{FaultProxy, ProxySpec};

const MESSAGE_BYTES: usize = 64;
const WARM_UP_ROUND_TRIPS: usize = 2_000;
const BLOCKS: usize = 10;
const ROUND_TRIPS_PER_BLOCK: usize = 2_000;
const BULK_BYTES: usize = 1 << 30;
const BULK_CHUNK: usize = 256 * 1024;
const BULK_RUNS: usize = 11;

fn main() {
    let echo = spawn_server(serve_echo);
    let sink = spawn_server(serve_sink);
    let (echo_proxy, sink_proxy) = spawn_fault_proxy(echo, sink);

    let (direct, proxied) = round_trips(echo, echo_proxy);
    report_round_trips(&direct, &proxied);

    let (direct, proxied) = bulk_transfers(sink, sink_proxy);
    report_bulk(&direct, &proxied);
}

/// Starts the fault proxy on its own thread with proxies to the echo and sink servers, and
/// returns their addresses.
fn spawn_fault_proxy(echo: SocketAddr, sink: SocketAddr) -> (SocketAddr, SocketAddr) {
    let (addresses, received) = mpsc::channel();
    thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let fault_proxy = FaultProxy::new(1);
            let echo_proxy = proxy_to(&fault_proxy, "echo", echo).await;
            let sink_proxy = proxy_to(&fault_proxy, "sink", sink).await;
            addresses.send((echo_proxy, sink_proxy)).expect("send the addresses");
            std::future::pending::<()>().await;
        });
    });
    received.recv().expect("the fault proxy started")
}

async fn proxy_to(fault_proxy: &FaultProxy, name: &str, upstream: SocketAddr) -> SocketAddr {
    let spec = ProxySpec {
        name: name.to_string(),
        listen: "127.0.0.1:0".to_string(),
        upstream: upstream.to_string(),
        enabled: true,
    };
    let info = fault_proxy.create_proxy(spec).await.expect("create proxy");
    info.listen.parse().expect("listen address")
}

/// Starts a blocking server that runs `handler` on a thread per connection.
fn spawn_server(handler: fn(TcpStream)) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    thread::spawn(move || {
        for connection in listener.incoming().flatten() {
            connection.set_nodelay(true).expect("nodelay");
            thread::spawn(move || handler(connection));
        }
    });
    address
}

fn serve_echo(mut connection: TcpStream) {
    let mut buffer = [0u8; MESSAGE_BYTES];
    while connection.read_exact(&mut buffer).is_ok() {
        if connection.write_all(&buffer).is_err() {
            return;
        }
    }
}

fn serve_sink(mut connection: TcpStream) {
    let mut buffer = vec![0u8; BULK_CHUNK];
    let mut total = 0usize;
    loop {
        match connection.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => total += read,
        }
    }
    // Tell the client how much arrived; it stops its clock on this answer.
    let _ = connection.write_all(&(total as u64).to_le_bytes());
}

fn connect(address: SocketAddr) -> TcpStream {
    let connection = TcpStream::connect(address).expect("connect");
    connection.set_nodelay(true).expect("nodelay");
    connection
}

fn ping_pong(connection: &mut TcpStream, count: usize, times: &mut Vec<Duration>) {
    let message = [7u8; MESSAGE_BYTES];
    let mut answer = [0u8; MESSAGE_BYTES];
    for _ in 0..count {
        let started = Instant::now();
        connection.write_all(&message).expect("write");
        connection.read_exact(&mut answer).expect("read");
        times.push(started.elapsed());
    }
}

/// Round-trip times directly and through the proxy, measured in alternating blocks.
fn round_trips(echo: SocketAddr, proxy: SocketAddr) -> (Vec<Duration>, Vec<Duration>) {
    let mut direct_connection = connect(echo);
    let mut proxied_connection = connect(proxy);
    let mut discarded = Vec::new();
    ping_pong(&mut direct_connection, WARM_UP_ROUND_TRIPS, &mut discarded);
    ping_pong(&mut proxied_connection, WARM_UP_ROUND_TRIPS, &mut discarded);
    let mut direct = Vec::with_capacity(BLOCKS * ROUND_TRIPS_PER_BLOCK);
    let mut proxied = Vec::with_capacity(BLOCKS * ROUND_TRIPS_PER_BLOCK);
    for _ in 0..BLOCKS {
        ping_pong(&mut direct_connection, ROUND_TRIPS_PER_BLOCK, &mut direct);
        ping_pong(&mut proxied_connection, ROUND_TRIPS_PER_BLOCK, &mut proxied);
    }
    (direct, proxied)
}

/// Seconds to send `BULK_BYTES` and have the server confirm it received them all.
fn bulk_transfer(address: SocketAddr) -> Duration {
    let mut connection = connect(address);
    let chunk = vec![5u8; BULK_CHUNK];
    let (done, finished) = mpsc::channel();
    let started = Instant::now();
    let mut reader = connection.try_clone().expect("clone");
    thread::spawn(move || {
        let mut total = [0u8; 8];
        reader.read_exact(&mut total).expect("server's count");
        let _ = done.send((u64::from_le_bytes(total), Instant::now()));
    });
    let mut sent = 0;
    while sent < BULK_BYTES {
        connection.write_all(&chunk).expect("write");
        sent += chunk.len();
    }
    connection.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let (received, at) = finished.recv().expect("server finished");
    assert_eq!(received as usize, BULK_BYTES, "the server received everything");
    at - started
}

/// CPU time (user and system) this process has used so far.
fn cpu_time() -> Duration {
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    let seconds = |time: nix::sys::time::TimeVal| {
        Duration::new(time.tv_sec() as u64, time.tv_usec() as u32 * 1000)
    };
    seconds(usage.user_time()) + seconds(usage.system_time())
}

/// One variant's bulk transfers: throughputs in GB/s, and CPU seconds per GB.
#[derive(Default)]
struct BulkResult {
    throughputs: Vec<f64>,
    cpu: Duration,
}

impl BulkResult {
    fn run(&mut self, address: SocketAddr) {
        let cpu_before = cpu_time();
        let elapsed = bulk_transfer(address);
        self.cpu += cpu_time() - cpu_before;
        self.throughputs.push(BULK_BYTES as f64 / elapsed.as_secs_f64() / 1e9);
    }

    fn cpu_seconds_per_gb(&self) -> f64 {
        self.cpu.as_secs_f64() / (BULK_BYTES as f64 * self.throughputs.len() as f64 / 1e9)
    }
}

fn bulk_transfers(sink: SocketAddr, proxy: SocketAddr) -> (BulkResult, BulkResult) {
    let (mut direct, mut proxied) = (BulkResult::default(), BulkResult::default());
    for _ in 0..BULK_RUNS {
        direct.run(sink);
        proxied.run(proxy);
    }
    (direct, proxied)
}

fn percentile(times: &[Duration], share: f64) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    let index = ((sorted.len() as f64 - 1.0) * share).round() as usize;
    sorted[index]
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn report_round_trips(direct: &[Duration], proxied: &[Duration]) {
    println!(
        "round trips of {MESSAGE_BYTES} bytes ({} each, {BLOCKS} alternating blocks)",
        direct.len()
    );
    println!(
        "{:<10} {:>12} {:>12} {:>12} {:>12}",
        "", "direct µs", "proxied µs", "added µs", "ratio"
    );
    for (label, share) in [("median", 0.5), ("p99", 0.99)] {
        let direct_value = micros(percentile(direct, share));
        let proxied_value = micros(percentile(proxied, share));
        println!(
            "{label:<10} {direct_value:>12.1} {proxied_value:>12.1} {:>12.1} {:>11.2}x",
            proxied_value - direct_value,
            proxied_value / direct_value
        );
    }
    println!("goal: at most 50 µs added at the median (Toxiproxy's benchmark: about 270 µs)");
    if let Ok(ns) = std::fs::read_to_string(HALT_POLL) {
        // In a virtual machine each hop that finds its vCPU halted pays for waking it; the
        // guest's halt polling (Linux's default 200 µs) keeps an idle vCPU spinning long enough
        // to take the next packet without that. The proxy adds two such hops per round trip.
        println!(
            "guest halt polling: {} ns ({HALT_POLL}; 0 means every wake of an idle vCPU exits to the host)",
            ns.trim()
        );
    }
    println!();
}

/// The guest halt-polling window of a Linux virtual machine using the haltpoll cpuidle governor.
const HALT_POLL: &str = "/sys/module/haltpoll/parameters/guest_halt_poll_ns";

fn report_bulk(direct: &BulkResult, proxied: &BulkResult) {
    let median = |values: &[f64]| {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    };
    let (direct_median, proxied_median) =
        (median(&direct.throughputs), median(&proxied.throughputs));
    println!("bulk transfer of {} MiB, median of {BULK_RUNS} alternating runs", BULK_BYTES >> 20);
    println!("{:<10} {:>12} {:>12} {:>12}", "", "direct GB/s", "proxied GB/s", "ratio");
    println!(
        "{:<10} {direct_median:>12.2} {proxied_median:>12.2} {:>11.2}x",
        "throughput",
        proxied_median / direct_median
    );
    let (direct_cpu, proxied_cpu) = (direct.cpu_seconds_per_gb(), proxied.cpu_seconds_per_gb());
    println!(
        "{:<10} {direct_cpu:>12.3} {proxied_cpu:>12.3} {:>11.2}x",
        "cpu s/GB",
        proxied_cpu / direct_cpu
    );
    let pairs: Vec<f64> =
        direct.throughputs.iter().zip(&proxied.throughputs).map(|(d, p)| p / d).collect();
    let (lowest, highest) = (
        pairs.iter().copied().fold(f64::INFINITY, f64::min),
        pairs.iter().copied().fold(0.0, f64::max),
    );
    println!(
        "ratio of each pair of runs: median {:.2}x, from {lowest:.2}x to {highest:.2}x",
        median(&pairs)
    );
    println!("runs: direct {:.2?}, proxied {:.2?}", direct.throughputs, proxied.throughputs);
    println!("goal: at least 0.9x the direct throughput");
}
