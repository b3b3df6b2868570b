//! Mirroring throughput and primary latency: shadowgate against nginx's `mirror` directive.
//!
//! Run with `cargo bench -p shadowgate-mirror --bench mirror_vs_nginx` (needs `wrk` and `nginx`:
//! `apt-get install wrk nginx`). The bench starts everything itself on loopback: a small hyper
//! backend (the primary), a fast shadow and a slow shadow (200 ms per response), shadowgate's
//! proxy, and nginx from a generated configuration in a temporary directory (not the system
//! service). nginx is configured fairly: `worker_processes auto`, keep-alive to the upstreams,
//! no access log, unlimited keep-alive requests from clients. `wrk` drives each setup in turn
//! with the same connections and duration, in interleaved rounds so that a busy machine
//! affects every setup alike, and the bench prints the median throughput and p99 of each setup
//! with the ratios that matter. `BENCH_SECONDS` (default 5) sets the length of each run and
//! `BENCH_ROUNDS` (default 3) the number of rounds.

use std::{
    convert::Infallible,
    net::{SocketAddr, TcpStream},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use shadowgate_mirror::{
    config::MirrorConfig,
    proxy::MirrorProxy,
    sampling::{SampleKey, SampleRate, Sampler},
};
use tokio::{net::TcpListener, runtime::Runtime};

const RESPONSE_BODY: &str = "{\"product\":{\"id\":7,\"name\":\"coffee\",\"price\":4.2}}\n";
const WRK_THREADS: &str = "2";
const WRK_CONNECTIONS: &str = "64";

/// One wrk run's results.
struct WrkResult {
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    /// CPU time the proxy spent per request, in microseconds (NaN without a proxy).
    proxy_cpu_us_per_request: f64,
}

/// Whose CPU time is the proxy's in a setup.
#[derive(Clone, Copy)]
enum ProxyCpu {
    None,
    /// The bench's own threads with this name (shadowgate's runtime).
    OwnThreads(&'static str),
    /// A process and its children (nginx's master and workers).
    ProcessTree(u32),
}

impl ProxyCpu {
    fn seconds(self) -> f64 {
        match self {
            ProxyCpu::None => 0.0,
            ProxyCpu::OwnThreads(name) => cpu_seconds_of_own_threads(name),
            ProxyCpu::ProcessTree(root) => cpu_seconds_of_process_tree(root),
        }
    }
}

/// Parses `/proc/.../stat`: returns (comm, ppid, utime + stime in clock ticks).
fn parse_stat(text: &str) -> Option<(String, u32, u64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text[open + 1..close].to_owned();
    let fields: Vec<&str> = text[close + 2..].split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((comm, ppid, ticks))
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

fn cpu_seconds_of_own_threads(name: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return f64::NAN };
    let ticks: u64 = tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("stat")).ok())
        .filter_map(|stat| parse_stat(&stat))
        .filter(|(comm, _, _)| comm.starts_with(name))
        .map(|(_, _, ticks)| ticks)
        .sum();
    ticks as f64 / ticks_per_second()
}

fn cpu_seconds_of_process_tree(root: u32) -> f64 {
    let Ok(processes) = std::fs::read_dir("/proc") else { return f64::NAN };
    let ticks: u64 = processes
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let (_, ppid, ticks) =
                parse_stat(&std::fs::read_to_string(entry.path().join("stat")).ok()?)?;
            (pid == root || ppid == root).then_some(ticks)
        })
        .sum();
    ticks as f64 / ticks_per_second()
}

fn main() {
    for (tool, args) in [("wrk", ["--version"]), ("nginx", ["-v"])] {
        if Command::new(tool)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            eprintln!("`{tool}` is missing; install it with `apt-get install wrk nginx`");
            std::process::exit(2);
        }
    }
    let seconds: u64 =
        std::env::var("BENCH_SECONDS").ok().and_then(|text| text.parse().ok()).unwrap_or(5);
    let rounds: usize =
        std::env::var("BENCH_ROUNDS").ok().and_then(|text| text.parse().ok()).unwrap_or(3).max(1);

    let backend_runtime = runtime("backend");
    let primary = backend_runtime.block_on(start_backend(Duration::ZERO));
    let fast_shadow = backend_runtime.block_on(start_backend(Duration::ZERO));
    let slow_shadow = backend_runtime.block_on(start_backend(Duration::from_millis(200)));

    let proxy_runtime = runtime("proxy");
    let start_proxy = |shadow: SocketAddr, rate: SampleRate| {
        let mut config = MirrorConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            format!("http://{primary}").parse().unwrap(),
        );
        config.shadows = vec![format!("http://{shadow}").parse().unwrap()];
        config.sampler = Sampler { rate, key: SampleKey::Request, salt: 0 };
        proxy_runtime.block_on(MirrorProxy::start(config)).expect("shadowgate starts")
    };
    let shadowgate_fast = start_proxy(fast_shadow, SampleRate::ALL);
    let shadowgate_slow = start_proxy(slow_shadow, SampleRate::ALL);
    let shadowgate_plain = start_proxy(fast_shadow, SampleRate::NONE);

    let nginx = Nginx::start(primary, fast_shadow, slow_shadow);

    let url = |addr: SocketAddr| format!("http://{addr}/products/7");
    let shadowgate_cpu = ProxyCpu::OwnThreads("proxy");
    let nginx_cpu = ProxyCpu::ProcessTree(nginx.child.id());
    let runs: Vec<(&str, String, ProxyCpu)> = vec![
        ("direct to the backend", url(primary), ProxyCpu::None),
        ("shadowgate, no mirroring", url(shadowgate_plain.local_addr()), shadowgate_cpu),
        ("nginx, no mirroring", url(nginx.plain), nginx_cpu),
        (
            "shadowgate, 100% mirrored, fast shadow",
            url(shadowgate_fast.local_addr()),
            shadowgate_cpu,
        ),
        ("nginx mirror, 100%, fast shadow", url(nginx.mirror_fast), nginx_cpu),
        (
            "shadowgate, 100% mirrored, 200 ms shadow",
            url(shadowgate_slow.local_addr()),
            shadowgate_cpu,
        ),
        ("nginx mirror, 100%, 200 ms shadow", url(nginx.mirror_slow), nginx_cpu),
    ];
    println!(
        "wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{seconds}s --latency; {rounds} interleaved rounds, median per setup; 1 s warm-up per run; loopback, {} cores",
        available_cores()
    );
    // `BENCH_ONLY=nginx` (a substring of the setup names) runs a subset, for profiling.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let mut per_setup: Vec<Vec<WrkResult>> = runs.iter().map(|_| Vec::new()).collect();
    for _round in 0..rounds {
        for ((name, target, meter), samples) in runs.iter().zip(per_setup.iter_mut()) {
            if !name.contains(only.as_str()) {
                continue;
            }
            wrk(target, 1, ProxyCpu::None);
            samples.push(wrk(target, seconds, *meter));
        }
    }
    println!();
    println!("| setup | requests/s | p50 ms | p99 ms | errors | proxy CPU µs/request |");
    println!("|---|---:|---:|---:|---:|---:|");
    if !only.is_empty() {
        for ((name, _, _), samples) in runs.iter().zip(&per_setup) {
            if let Some(result) = samples.first().map(|_| median_result(samples)) {
                println!(
                    "{name}: {:.0} requests/s, p99 {:.2} ms, proxy CPU {:.1} µs/request",
                    result.requests_per_sec, result.p99_ms, result.proxy_cpu_us_per_request
                );
            }
        }
        return;
    }
    let results: Vec<WrkResult> = per_setup.iter().map(|samples| median_result(samples)).collect();
    for ((name, _, _), result) in runs.iter().zip(&results) {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {} | {:.1} |",
            result.requests_per_sec,
            result.p50_ms,
            result.p99_ms,
            result.errors,
            result.proxy_cpu_us_per_request
        );
    }
    let (direct, sg_plain, nginx_plain) = (&results[0], &results[1], &results[2]);
    let (sg_fast, nginx_fast, sg_slow, nginx_slow) =
        (&results[3], &results[4], &results[5], &results[6]);
    println!();
    println!(
        "throughput, shadowgate / nginx, 100% mirrored (fast shadow): {:.2}x (goal >= 1.5x)",
        sg_fast.requests_per_sec / nginx_fast.requests_per_sec
    );
    println!(
        "throughput, shadowgate / nginx, no mirroring:                {:.2}x",
        sg_plain.requests_per_sec / nginx_plain.requests_per_sec
    );
    println!(
        "throughput, shadowgate 100% mirrored / direct:               {:.2}x",
        sg_fast.requests_per_sec / direct.requests_per_sec
    );
    println!(
        "primary p99 through shadowgate, 200 ms shadow / fast shadow:   {:.2}x (goal <= 1.10x)",
        sg_slow.p99_ms / sg_fast.p99_ms
    );
    println!(
        "throughput, shadowgate / nginx, 100% mirrored (200 ms shadow): {:.1}x",
        sg_slow.requests_per_sec / nginx_slow.requests_per_sec
    );
    println!(
        "proxy CPU per request, shadowgate / nginx, 100% mirrored (fast shadow): {:.2}x (lower is better)",
        sg_fast.proxy_cpu_us_per_request / nginx_fast.proxy_cpu_us_per_request
    );
    let slow_stats = shadowgate_slow.stats();
    println!(
        "shadowgate with the 200 ms shadow: {} requests, {} mirrored copies answered, {} dropped at the full queue",
        slow_stats.requests, slow_stats.shadows[0].responses, slow_stats.dropped_queue_full
    );
    let fast_stats = shadowgate_fast.stats();
    println!(
        "shadowgate with the fast shadow: {} requests, {} mirrored copies answered, {} dropped",
        fast_stats.requests, fast_stats.shadows[0].responses, fast_stats.dropped_queue_full
    );
    drop(nginx);
}

/// The median of each figure over rounds (errors are summed), which resists a noisy machine.
fn median_result(samples: &[WrkResult]) -> WrkResult {
    let median = |pick: fn(&WrkResult) -> f64| {
        let mut values: Vec<f64> = samples.iter().map(pick).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    WrkResult {
        requests_per_sec: median(|result| result.requests_per_sec),
        p50_ms: median(|result| result.p50_ms),
        p99_ms: median(|result| result.p99_ms),
        errors: samples.iter().map(|result| result.errors).sum(),
        proxy_cpu_us_per_request: median(|result| result.proxy_cpu_us_per_request),
    }
}

fn runtime(name: &str) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn available_cores() -> usize {
    std::thread::available_parallelism().map(|cores| cores.get()).unwrap_or(1)
}

/// A minimal HTTP/1.1 backend answering every request with the same small JSON body.
async fn start_backend(delay: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a backend port");
    let addr = listener.local_addr().expect("backend address");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            let service =
                hyper::service::service_fn(move |_request: Request<Incoming>| async move {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let mut response =
                        Response::new(Full::new(Bytes::from_static(RESPONSE_BODY.as_bytes())));
                    response
                        .headers_mut()
                        .insert("content-type", http::HeaderValue::from_static("application/json"));
                    Ok::<_, Infallible>(response)
                });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// nginx started from a generated configuration, with three servers: plain proxying, mirroring
/// to the fast shadow, and mirroring to the slow shadow.
struct Nginx {
    child: Child,
    plain: SocketAddr,
    mirror_fast: SocketAddr,
    mirror_slow: SocketAddr,
    _directory: tempfile::TempDir,
}

impl Nginx {
    fn start(primary: SocketAddr, fast_shadow: SocketAddr, slow_shadow: SocketAddr) -> Nginx {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let dir = directory.path().display().to_string();
        let [plain, mirror_fast, mirror_slow] = [free_port(), free_port(), free_port()];
        let location = |mirror: Option<&str>| {
            let mirror_lines = mirror
                .map(|upstream| {
                    format!(
                        "            mirror /__mirror_{upstream};\n            mirror_request_body on;\n"
                    )
                })
                .unwrap_or_default();
            format!(
                "        location / {{\n{mirror_lines}            proxy_pass http://primary;\n            proxy_http_version 1.1;\n            proxy_set_header Connection \"\";\n            proxy_set_header Host $host;\n        }}\n"
            )
        };
        let mirror_location = |upstream: &str| {
            format!(
                "        location = /__mirror_{upstream} {{\n            internal;\n            proxy_pass http://{upstream}$request_uri;\n            proxy_http_version 1.1;\n            proxy_set_header Connection \"\";\n            proxy_set_header Host $host;\n            proxy_set_header X-Shadowgate-Mirror 1;\n        }}\n"
            )
        };
        let server = |addr: SocketAddr, mirror: Option<&str>| {
            let extra = mirror.map(mirror_location).unwrap_or_default();
            format!(
                "    server {{\n        listen {addr};\n        keepalive_requests 1000000;\n{}{extra}    }}\n",
                location(mirror)
            )
        };
        let config = format!(
            "worker_processes auto;\ndaemon off;\nmaster_process on;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log warn;\n\
             events {{\n    worker_connections 8192;\n}}\n\
             http {{\n    access_log off;\n    client_body_temp_path {dir}/client_body;\n    proxy_temp_path {dir}/proxy;\n    \
             fastcgi_temp_path {dir}/fastcgi;\n    uwsgi_temp_path {dir}/uwsgi;\n    scgi_temp_path {dir}/scgi;\n\
             {}{}{}{}{}{}}}\n",
            upstream("primary", primary),
            upstream("fast_shadow", fast_shadow),
            upstream("slow_shadow", slow_shadow),
            server(plain, None),
            server(mirror_fast, Some("fast_shadow")),
            server(mirror_slow, Some("slow_shadow")),
        );
        let config_path = directory.path().join("nginx.conf");
        std::fs::write(&config_path, config).expect("write nginx.conf");
        let child = Command::new("nginx")
            .args([
                "-p",
                &dir,
                "-c",
                &config_path.display().to_string(),
                "-e",
                &format!("{dir}/error.log"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        let nginx = Nginx { child, plain, mirror_fast, mirror_slow, _directory: directory };
        for addr in [plain, mirror_fast, mirror_slow] {
            wait_for_listener(addr);
        }
        nginx
    }
}

fn upstream(name: &str, addr: SocketAddr) -> String {
    format!(
        "    upstream {name} {{\n        server {addr};\n        keepalive 256;\n        keepalive_requests 1000000;\n    }}\n"
    )
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT is nginx's graceful stop; the master takes its workers down with it.
        let _ = Command::new("kill").args(["-QUIT", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address")
}

fn wait_for_listener(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}; see nginx's error.log");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wrk(url: &str, seconds: u64, proxy_cpu: ProxyCpu) -> WrkResult {
    let cpu_before = proxy_cpu.seconds();
    let output = Command::new("wrk")
        .args([
            "-t",
            WRK_THREADS,
            "-c",
            WRK_CONNECTIONS,
            "-d",
            &format!("{seconds}s"),
            "--latency",
            url,
        ])
        .output()
        .expect("run wrk");
    let proxy_cpu_seconds = proxy_cpu.seconds() - cpu_before;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(|rest| rest.trim().to_owned())
    };
    let requests_per_sec =
        field("Requests/sec:").and_then(|value| value.parse().ok()).unwrap_or(0.0);
    let errors =
        field("Non-2xx or 3xx responses:").and_then(|value| value.parse().ok()).unwrap_or(0)
            + field("Socket errors:")
                .map(|value| {
                    value
                        .split(',')
                        .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                        .sum()
                })
                .unwrap_or(0);
    let n_requests = text
        .lines()
        .find(|line| line.contains(" requests in "))
        .and_then(|line| line.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    let proxy_cpu_us_per_request = match proxy_cpu {
        ProxyCpu::None => f64::NAN,
        _ => proxy_cpu_seconds * 1e6 / n_requests.max(1.0),
    };
    WrkResult {
        requests_per_sec,
        proxy_cpu_us_per_request,
        p50_ms: field("50%").map(|value| parse_wrk_duration_ms(&value)).unwrap_or(f64::NAN),
        p99_ms: field("99%").map(|value| parse_wrk_duration_ms(&value)).unwrap_or(f64::NAN),
        errors,
    }
}

/// Parses wrk's `812.00us`, `1.23ms` or `2.00s` into milliseconds.
fn parse_wrk_duration_ms(text: &str) -> f64 {
    let (number, scale) = if let Some(number) = text.strip_suffix("us") {
        (number, 1e-3)
    } else if let Some(number) = text.strip_suffix("ms") {
        (number, 1.0)
    } else if let Some(number) = text.strip_suffix('s') {
        (number, 1e3)
    } else {
        (text, f64::NAN)
    };
    number.parse::<f64>().map(|value| value * scale).unwrap_or(f64::NAN)
}
