//! Maximum request rate of the closed-loop mode beside wrk, on the same loopback server.
//!
//! The bench binary plays three roles, so that both load generators run the same way, as
//! separate processes against a server in a third one:
//! - `--serve`: a small hyper HTTP/1.1 server answering every request with a short static body;
//! - `--generate ADDRESS CONNECTIONS SECONDS THREADS`: shadowgate's closed-loop mode, printing
//!   its rate;
//! - no role (what `cargo bench` runs): starts the server, then for each connection count runs
//!   wrk and shadowgate alternately for several rounds, and prints the median rates, their
//!   ratio, and each generator's CPU time per request (user + system, from the kernel's
//!   accounting of the finished child). On a busy machine the rates swing with the neighbours'
//!   load; the CPU cost per request is the steadier comparison, because on a shared machine
//!   every cycle a generator spends is taken from the server.
//!
//! Reproduce with (wrk comes from the Debian package `wrk`):
//!
//! ```text
//! cargo bench -p shadowgate-load --bench max_rate_vs_wrk -- [--seconds 5] [--rounds 3] [--connections 16,64] [--threads 2]
//! ```

use std::{
    convert::Infallible,
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::Duration,
};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use nix::sys::resource::{UsageWho, getrusage};
use shadowgate_core::traffic::{Plan, Protocol, Traffic};
use shadowgate_load::{MaxRateConfig, Target, run_max_rate};

const BODY: &[u8] = b"Hello, World!\n";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("--serve") => serve(),
        Some("--generate") => generate(&args[1..]),
        _ => compare(&args),
    };
    if let Err(message) = result {
        eprintln!("max_rate_vs_wrk: {message}");
        std::process::exit(1);
    }
}

/// The server role: prints `listening on ADDRESS` and serves until killed.
fn serve() -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        println!("listening on {address}");
        loop {
            let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
            // Small responses must not wait for Nagle's algorithm.
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            tokio::spawn(async move {
                let service = service_fn(|_request: Request<Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(BODY))))
                });
                let _closed =
                    http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    })
}

/// The shadowgate role: prints `rate RATE errors ERRORS`.
fn generate(args: &[String]) -> Result<(), String> {
    let [address, connections, seconds, threads] = args else {
        return Err("usage: --generate ADDRESS CONNECTIONS SECONDS THREADS".to_string());
    };
    let address: SocketAddr = address.parse().map_err(|e| format!("address: {e}"))?;
    let connections: u32 = connections.parse().map_err(|e| format!("connections: {e}"))?;
    let seconds: f64 = seconds.parse().map_err(|e| format!("seconds: {e}"))?;
    let threads: usize = threads.parse().map_err(|e| format!("threads: {e}"))?;
    // The closed-loop mode runs its own threads; this runtime only waits for them.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let plan = Plan::new(&Traffic::default(), 1).map_err(|e| e.to_string())?;
    let config = MaxRateConfig {
        connections,
        threads: threads as u32,
        duration: Duration::from_secs_f64(seconds),
        timeout: Duration::from_secs(5),
        protocol: Protocol::Http1,
    };
    let report = runtime
        .block_on(run_max_rate(
            &plan,
            &Target::new("bench", address),
            &config,
            std::future::pending(),
        ))
        .map_err(|e| e.to_string())?;
    println!("rate {:.1} errors {}", report.rate(), report.errors.total());
    Ok(())
}

struct Settings {
    seconds: u64,
    rounds: usize,
    connections: Vec<u32>,
    threads: usize,
}

fn settings(args: &[String]) -> Result<Settings, String> {
    let mut settings = Settings { seconds: 5, rounds: 3, connections: vec![16, 64], threads: 2 };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--seconds" => {
                settings.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?
            }
            "--rounds" => {
                settings.rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?
            }
            "--threads" => {
                settings.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?
            }
            "--connections" => {
                settings.connections = value()?
                    .split(',')
                    .map(|n| n.trim().parse().map_err(|e| format!("--connections: {e}")))
                    .collect::<Result<_, _>>()?
            }
            // `cargo bench` passes `--bench`; other harness flags are ignored too.
            _ => {}
        }
    }
    Ok(settings)
}

/// Kills the server when the comparison ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _already_gone = self.0.kill();
        let _reaped = self.0.wait();
    }
}

fn compare(args: &[String]) -> Result<(), String> {
    let settings = settings(args)?;
    Command::new("wrk").arg("--version").output().map_err(|e| {
        format!("wrk is needed for the comparison ({e}); install it with `apt-get install -y wrk`")
    })?;
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(&me)
        .arg("--serve")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let stdout = child.stdout.take().ok_or("the server has no stdout")?;
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
    let address = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or(format!("unexpected server output {line:?}"))?
        .to_string();

    println!(
        "max rate against a hyper HTTP/1.1 server on {address}: {} s per run, {} rounds, {} threads each",
        settings.seconds, settings.rounds, settings.threads
    );
    // Both generators start against a warm server.
    run_wrk(&address, settings.connections[0], 1, settings.threads)?;
    println!(
        "{:>11} {:>11} {:>11} {:>6} {:>14} {:>14}",
        "connections", "wrk req/s", "ours req/s", "ratio", "wrk CPU/req", "ours CPU/req"
    );
    for &connections in &settings.connections {
        let mut wrk = Vec::new();
        let mut ours = Vec::new();
        for round in 0..settings.rounds {
            // Alternate who goes first, so that drifts of the machine hit both alike.
            if round % 2 == 0 {
                wrk.push(run_wrk(&address, connections, settings.seconds, settings.threads)?);
                ours.push(run_ours(
                    &me,
                    &address,
                    connections,
                    settings.seconds,
                    settings.threads,
                )?);
            } else {
                ours.push(run_ours(
                    &me,
                    &address,
                    connections,
                    settings.seconds,
                    settings.threads,
                )?);
                wrk.push(run_wrk(&address, connections, settings.seconds, settings.threads)?);
            }
        }
        let wrk_rate = median(wrk.iter().map(|m| m.rate).collect());
        let ours_rate = median(ours.iter().map(|m| m.rate).collect());
        let wrk_cpu = median(wrk.iter().map(|m| m.cpu_per_request_us).collect());
        let ours_cpu = median(ours.iter().map(|m| m.cpu_per_request_us).collect());
        println!(
            "{connections:>11} {wrk_rate:>11.0} {ours_rate:>11.0} {:>5.2}x {wrk_cpu:>11.1} µs {ours_cpu:>11.1} µs",
            ours_rate / wrk_rate
        );
    }
    drop(server);
    Ok(())
}

/// One run of a generator: its rate and its CPU time per request in microseconds.
#[derive(Clone, Copy, Debug)]
struct Measurement {
    rate: f64,
    cpu_per_request_us: f64,
}

/// CPU time (user + system) of all children waited for so far.
fn children_cpu() -> Result<Duration, String> {
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).map_err(|e| format!("getrusage: {e}"))?;
    let total = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec().max(0) as u64)
            + Duration::from_micros(t.tv_usec().max(0) as u64)
    };
    Ok(total(usage.user_time()) + total(usage.system_time()))
}

/// Runs `command` to its end and measures it; `parse` reads the rate from its output.
fn measure(
    mut command: Command,
    seconds: u64,
    parse: impl Fn(&str) -> Result<f64, String>,
) -> Result<Measurement, String> {
    let before = children_cpu()?;
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    let cpu = children_cpu()?.saturating_sub(before);
    let rate = parse(&String::from_utf8_lossy(&output.stdout))
        .map_err(|e| format!("{e}\n{}", String::from_utf8_lossy(&output.stderr)))?;
    let requests = rate * seconds as f64;
    Ok(Measurement { rate, cpu_per_request_us: cpu.as_secs_f64() * 1e6 / requests.max(1.0) })
}

fn run_wrk(
    address: &str,
    connections: u32,
    seconds: u64,
    threads: usize,
) -> Result<Measurement, String> {
    let mut command = Command::new("wrk");
    command
        .args(["-t", &threads.to_string(), "-c", &connections.to_string()])
        .args(["-d", &format!("{seconds}s"), "--timeout", "5s"])
        .arg(format!("http://{address}/"));
    measure(command, seconds, |text| {
        if text.contains("Socket errors") || text.contains("Non-2xx") {
            return Err(format!("wrk saw errors:\n{text}"));
        }
        text.lines()
            .find_map(|line| line.trim().strip_prefix("Requests/sec:"))
            .and_then(|rate| rate.trim().parse().ok())
            .ok_or(format!("no rate in wrk's output:\n{text}"))
    })
}

fn run_ours(
    me: &std::path::Path,
    address: &str,
    connections: u32,
    seconds: u64,
    threads: usize,
) -> Result<Measurement, String> {
    let mut command = Command::new(me);
    command
        .args(["--generate", address, &connections.to_string(), &seconds.to_string()])
        .arg(threads.to_string());
    measure(command, seconds, |text| {
        let fields: Vec<&str> = text.split_whitespace().collect();
        match fields[..] {
            ["rate", rate, "errors", "0"] => {
                rate.parse().map_err(|e| format!("rate {rate:?}: {e}"))
            }
            _ => Err(format!("unexpected generator output {text:?}")),
        }
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
