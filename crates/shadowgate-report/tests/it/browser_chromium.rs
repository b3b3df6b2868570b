//! The HTML report in a real headless Chromium: the page loads, the browser's DOM holds every
//! chart with its series and shaded windows, it renders to a screenshot, and it fetches
//! nothing.
//!
//! Every Chromium run goes through a recording HTTP proxy started here, with loopback
//! included, so any request the page made would be seen. Chromium also calls a few Google
//! services of its own whatever the flags; those hosts are listed and set apart, and a
//! control run shows that a page that does fetch something is caught.
//!
//! Chromium comes from Debian's `chromium` package (`cargo xtask deps` installs it). The
//! tests fail, never skip, when it is missing.

use crate::{
    escaping_hostile::hostile_report,
    html_structure::{EXPECTED_CHARTS, charts, plot},
};
use shadowgate_report::to_html;
use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

/// Chromium on a loaded two-core machine can take a while to start; a run that has not
/// finished by then is stuck.
const RUN_DEADLINE: Duration = Duration::from_secs(180);

/// Hosts Chromium contacts on its own (update checks, network time, sign-in), seen with an
/// empty page too. A request to any other host is the page's.
const BROWSER_SERVICE_HOSTS: [&str; 6] = [
    "accounts.google.com",
    "clients2.google.com",
    "update.googleapis.com",
    "optimizationguide-pa.googleapis.com",
    "safebrowsingohttpgateway.googleapis.com",
    "content-autofill.googleapis.com",
];

/// The flags of every run: headless, no sandbox (tests run as root), and as little
/// background traffic as Chromium allows.
const FLAGS: [&str; 19] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate",
    "--disable-client-side-phishing-detection",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--no-pings",
    "--metrics-recording-only",
    "--disable-breakpad",
    "--no-service-autorun",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--proxy-bypass-list=<-loopback>",
];

#[test]
fn chromium_renders_every_chart_and_fetches_nothing() {
    let chromium = chromium();
    let proxy = RecordingProxy::start();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let report = hostile_report();
    let page = dir.path().join("report.html");
    std::fs::write(&page, to_html(&report)).expect("write the page");

    let dom_run = run_chromium(&chromium, dir.path(), &proxy, &["--dump-dom"], &page);
    let dom = &dom_run.stdout;
    assert!(dom.contains("<title>"), "Chromium printed no document:\n{}", dom_run.stderr_tail());
    let charts = charts(dom);
    let keys: Vec<&str> = charts.iter().map(|(key, _)| key.as_str()).collect();
    let expected_keys: Vec<&str> = EXPECTED_CHARTS.iter().map(|it| it.0).collect();
    assert_eq!(keys, expected_keys, "charts in the browser's DOM");
    let timeline_shades = 1 + report.events.len();
    for ((key, body), (_, series, shades)) in charts.iter().zip(EXPECTED_CHARTS) {
        let plot = plot(body);
        assert_eq!(plot.matches("<g class=\"series\"").count(), series, "series of {key}");
        let shades = if shades == 0 { 0 } else { timeline_shades };
        assert_eq!(plot.matches("class=\"shade ").count(), shades, "shaded windows of {key}");
    }
    let lower = dom.to_lowercase();
    assert!(!lower.contains("<img") && !lower.contains("<script"), "user text became markup");
    assert!(dom.contains("canary.invalid"), "the hostile event message is shown as text");

    let screenshot = dir.path().join("report.png");
    let screenshot_flag = format!("--screenshot={}", screenshot.display());
    let shot_run = run_chromium(
        &chromium,
        dir.path(),
        &proxy,
        &["--window-size=1280,3000", &screenshot_flag],
        &page,
    );
    let png = std::fs::read(&screenshot)
        .unwrap_or_else(|error| panic!("no screenshot ({error}):\n{}", shot_run.stderr_tail()));
    assert_eq!(png_size(&png), Some((1280, 3000)), "a 1280 × 3000 PNG");
    // A blank page compresses to a few kilobytes; text and six charts do not.
    assert!(png.len() > 60_000, "the screenshot looks empty ({} bytes)", png.len());

    for run in [&dom_run, &shot_run] {
        let console: Vec<&str> =
            run.stderr.lines().filter(|line| line.contains(":CONSOLE")).collect();
        assert!(console.is_empty(), "the page logged to the console: {console:#?}");
    }
    let page_requests = proxy.page_requests();
    assert!(page_requests.is_empty(), "the page made requests: {page_requests:#?}");
}

#[test]
fn the_recording_proxy_catches_a_page_that_fetches() {
    let chromium = chromium();
    let proxy = RecordingProxy::start();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let page = dir.path().join("fetching.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>control</title></head>\
         <body><img src=\"http://shadowgate-control.invalid/pixel.png\" alt=\"\"></body></html>",
    )
    .expect("write the page");
    run_chromium(&chromium, dir.path(), &proxy, &["--dump-dom"], &page);
    let page_requests = proxy.page_requests();
    assert!(
        page_requests.iter().any(|it| it.contains("shadowgate-control.invalid")),
        "the control page's image request was not seen: {page_requests:#?}"
    );
}

/// The `chromium` executable on `PATH`.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "Chromium is not installed, and the HTML report is tested in a real browser: \
                 run `cargo xtask deps` (it installs the Debian package `chromium`)"
            )
        })
}

/// What one Chromium run printed.
struct ChromiumRun {
    stdout: String,
    stderr: String,
}

impl ChromiumRun {
    fn stderr_tail(&self) -> String {
        let lines: Vec<&str> = self.stderr.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// Runs Chromium on `page` with its own profile under `dir` and every request through
/// `proxy`, and waits for it to exit successfully.
fn run_chromium(
    chromium: &Path,
    dir: &Path,
    proxy: &RecordingProxy,
    extra: &[&str],
    page: &Path,
) -> ChromiumRun {
    let profile = tempfile::tempdir_in(dir).expect("a profile directory");
    let mut child = Command::new(chromium)
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--proxy-server=http://{}", proxy.address))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", chromium.display()));
    let stdout = read_to_end_in_background(child.stdout.take());
    let stderr = read_to_end_in_background(child.stderr.take());
    let started = Instant::now();
    let status = loop {
        match child.try_wait().expect("poll Chromium") {
            Some(status) => break status,
            None if started.elapsed() > RUN_DEADLINE => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("Chromium did not finish within {RUN_DEADLINE:?}");
            }
            None => thread::sleep(Duration::from_millis(50)),
        }
    };
    let run = ChromiumRun {
        stdout: stdout.join().expect("the stdout reader"),
        stderr: stderr.join().expect("the stderr reader"),
    };
    assert!(status.success(), "Chromium failed with {status}:\n{}", run.stderr_tail());
    run
}

fn read_to_end_in_background(
    pipe: Option<impl Read + Send + 'static>,
) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The width and height in a PNG's header, if `bytes` is a PNG.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.len() < 24 || &bytes[..8] != SIGNATURE || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let word =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    Some((word(16), word(20)))
}

/// An HTTP proxy that answers every request with 502 and remembers its request line.
struct RecordingProxy {
    address: SocketAddr,
    request_lines: Arc<Mutex<Vec<String>>>,
}

impl RecordingProxy {
    fn start() -> RecordingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let address = listener.local_addr().expect("the proxy's address");
        let request_lines = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&request_lines);
        // The accept loop ends with the test process; it holds nothing but the listener.
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let recorded = Arc::clone(&recorded);
                thread::spawn(move || answer(stream, &recorded));
            }
        });
        RecordingProxy { address, request_lines }
    }

    /// The request lines whose host is not one of Chromium's own services.
    fn page_requests(&self) -> Vec<String> {
        let lines = self.request_lines.lock().expect("the proxy's record").clone();
        lines
            .into_iter()
            .filter(|line| !BROWSER_SERVICE_HOSTS.contains(&request_host(line).as_str()))
            .collect()
    }
}

fn answer(stream: TcpStream, recorded: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(&stream);
    let mut first_line = String::new();
    if reader.read_line(&mut first_line).is_ok() && !first_line.trim().is_empty() {
        recorded.lock().expect("the proxy's record").push(first_line.trim().to_string());
    }
    let mut writer = &stream;
    let _ = writer
        .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

/// The host a proxy request line asks for: `CONNECT host:443 HTTP/1.1` or
/// `GET http://host/path HTTP/1.1`.
fn request_host(line: &str) -> String {
    let target = line.split_whitespace().nth(1).unwrap_or_default();
    let authority = match target.split_once("://") {
        Some((_, rest)) => rest.split('/').next().unwrap_or_default(),
        None => target,
    };
    authority.rsplit_once(':').map_or(authority, |(host, _)| host).to_string()
}
