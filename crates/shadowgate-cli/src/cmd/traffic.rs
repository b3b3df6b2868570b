//! `shadowgate mirror`, `record` and `replay`: production traffic into shadow environments.
//!
//! The proxies print `listening on ADDR` (and `metrics on ADDR`) on standard error once they
//! accept connections, run until SIGINT or SIGTERM, then stop accepting, let open exchanges
//! finish, drain the mirror queue, flush the recording and print a summary.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use http::HeaderName;
use shadowgate_core::units::HumanDuration;
use shadowgate_mirror::{
    config::{HostRewrite, MethodPolicy, MirrorConfig, RecordSettings, Upstream},
    diff::{DiffConfig, report::DiffReport},
    field_path::FieldPattern,
    proxy::{MirrorProxy, MirrorSummary},
    recorder::read_recording_file,
    redaction::RedactionRules,
    replay::{ReplayConfig, ReplayReport, replay as run_replay},
    sampling::{SampleKey, SampleRate, Sampler},
    schedule::Pacing,
};

use crate::{EXIT_FAIL, EXIT_PASS, cli::Global, output};

#[derive(Debug, Args)]
pub struct MirrorArgs {
    /// Where clients connect (HTTP/1.1 and HTTP/2 with prior knowledge), e.g. 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The live service; its responses go back to the clients unchanged.
    #[arg(long, value_name = "URL")]
    pub primary: String,
    /// A shadow that receives a copy of each sampled request (repeatable). With --diff, the
    /// candidate.
    #[arg(long, value_name = "URL")]
    pub shadow: Vec<String>,
    /// The share of requests mirrored, e.g. `10%`.
    #[arg(long, default_value = "100%", value_name = "RATE")]
    pub sample: String,
    /// What keeps requests together in the sample: `request`, `path`, `header:NAME` or
    /// `cookie:NAME`.
    #[arg(long, default_value = "request", value_name = "KEY")]
    pub sample_key: String,
    /// Mirror this non-idempotent method too (repeatable), or `all`.
    #[arg(long, value_name = "METHOD")]
    pub allow_method: Vec<String>,
    /// The Host of mirrored requests: `keep`, `upstream`, `suffix:TEXT` or a host name.
    #[arg(long, default_value = "keep", value_name = "HOST")]
    pub host_rewrite: String,
    /// Also write the sampled exchanges to this recording.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    #[command(flatten)]
    pub redaction: RedactionArgs,
    /// Compare responses: the primary, the --secondary (the same version again) and the
    /// --shadow (the candidate), with Diffy's noise filter.
    #[arg(long, requires = "secondary")]
    pub diff: bool,
    /// The second copy of the primary's version, for --diff.
    #[arg(long, value_name = "URL", requires = "diff")]
    pub secondary: Option<String>,
    /// Diff rules (TOML: thresholds, ignored fields and headers), for --diff.
    #[arg(long, value_name = "FILE", requires = "diff")]
    pub diff_rules: Option<PathBuf>,
    /// Write the diff report (JSON) to this file at exit, for --diff.
    #[arg(long, value_name = "FILE", requires = "diff")]
    pub diff_out: Option<PathBuf>,
    /// Serve /metrics (Prometheus), /diff and /healthz here.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Mirror jobs waiting for a shadow; beyond this they are dropped and counted.
    #[arg(long, default_value_t = 4096)]
    pub queue_capacity: usize,
    /// Mirror jobs in flight at once.
    #[arg(long, default_value_t = 256)]
    pub shadow_concurrency: usize,
    /// The longest a mirrored request may take.
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub shadow_timeout: String,
    /// The most body bytes held for mirroring, recording or diffing.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub body_limit: usize,
    /// Print the summary at exit as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RedactionArgs {
    /// Redaction rules (TOML: drop_headers, hash_fields, remove_fields). Default: drop
    /// Authorization, Proxy-Authorization, Cookie and Set-Cookie.
    #[arg(long, value_name = "FILE")]
    pub redact: Option<PathBuf>,
    /// Also drop this header from recorded requests and responses (repeatable).
    #[arg(long, value_name = "NAME")]
    pub drop_header: Vec<String>,
    /// Keep this header although the rules drop it, e.g. `cookie` (repeatable).
    #[arg(long, value_name = "NAME")]
    pub keep_header: Vec<String>,
    /// Remove this JSON body field, e.g. `card.number` (repeatable).
    #[arg(long, value_name = "FIELD")]
    pub remove_field: Vec<String>,
    /// Replace this JSON body field by a keyed hash, e.g. `user.email` (repeatable; needs
    /// --redact-key-file).
    #[arg(long, value_name = "FIELD")]
    pub hash_field: Vec<String>,
    /// The HMAC key for hashed fields (at least 16 bytes).
    #[arg(long, value_name = "FILE")]
    pub redact_key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Where clients connect, e.g. 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The service the requests go to.
    #[arg(long, value_name = "URL")]
    pub upstream: String,
    /// The recording to write (created or truncated).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The share of requests recorded, e.g. `10%`.
    #[arg(long, default_value = "100%", value_name = "RATE")]
    pub sample: String,
    /// What keeps requests together in the sample: `request`, `path`, `header:NAME` or
    /// `cookie:NAME`.
    #[arg(long, default_value = "request", value_name = "KEY")]
    pub sample_key: String,
    #[command(flatten)]
    pub redaction: RedactionArgs,
    /// Serve /metrics (Prometheus) and /healthz here.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// The most body bytes recorded per message.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub body_limit: usize,
    /// Print the summary at exit as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The recording (written by `shadowgate record` or `mirror --record`).
    pub file: PathBuf,
    /// Where to send the requests (repeatable: every target gets each request at the same
    /// instant).
    #[arg(long, required = true, value_name = "URL")]
    pub target: Vec<String>,
    /// Pace: `recorded`, a speed-up such as `2x`, or a mean rate such as `300rps`.
    #[arg(long, default_value = "recorded", value_name = "PACE", conflicts_with = "rps")]
    pub rate: String,
    /// A mean rate in requests per second, keeping the recorded pattern's shape.
    #[arg(long, value_name = "N")]
    pub rps: Option<f64>,
    /// Loop the recording for this long (default: play it once).
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// The longest one exchange may take.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub timeout: String,
    /// The Host header sent: `keep` (the recorded one), `upstream`, `suffix:TEXT` or a host.
    #[arg(long, default_value = "keep", value_name = "HOST")]
    pub host_rewrite: String,
    /// Diff the responses of two targets (primary, candidate) or three (primary, secondary,
    /// candidate); exit 1 when fields differ beyond noise.
    #[arg(long)]
    pub diff: bool,
    /// Diff rules (TOML), for --diff.
    #[arg(long, value_name = "FILE", requires = "diff")]
    pub diff_rules: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn mirror(_global: &Global, args: &MirrorArgs) -> Result<u8> {
    let primary = upstream("--primary", &args.primary)?;
    let mut config = MirrorConfig::new(args.listen, primary);
    config.admin_listen = args.metrics_listen;
    config.sampler = sampler(&args.sample, &args.sample_key)?;
    config.methods = method_policy(&args.allow_method)?;
    config.shadow_host =
        args.host_rewrite.parse::<HostRewrite>().map_err(|e| anyhow!("--host-rewrite: {e}"))?;
    config.body_capture_limit = args.body_limit;
    config.queue_capacity = args.queue_capacity;
    config.shadow_concurrency = args.shadow_concurrency;
    config.shadow_timeout = duration("--shadow-timeout", &args.shadow_timeout)?;
    if let Some(secondary) = &args.secondary {
        config.shadows.push(upstream("--secondary", secondary)?);
    }
    for shadow in &args.shadow {
        config.shadows.push(upstream("--shadow", shadow)?);
    }
    if args.diff {
        if args.shadow.len() != 1 {
            bail!(
                "--diff compares the primary, the --secondary and one candidate: give exactly one --shadow (got {})",
                args.shadow.len()
            );
        }
        config.diff = Some(diff_rules(args.diff_rules.as_deref())?);
    }
    if let Some(path) = &args.record {
        config.record =
            Some(RecordSettings { path: path.clone(), redaction: redaction(&args.redaction)? });
    }
    let summary = serve(config)?;
    if let (Some(path), Some(diff)) = (&args.diff_out, &summary.diff) {
        let text = serde_json::to_string_pretty(diff).context("encode the diff report")?;
        std::fs::write(path, text).with_context(|| format!("write {}", path.display()))?;
    }
    print_proxy_summary(&summary, args.json)?;
    Ok(EXIT_PASS)
}

pub fn record(_global: &Global, args: &RecordArgs) -> Result<u8> {
    let upstream = upstream("--upstream", &args.upstream)?;
    let mut config =
        shadowgate_mirror::config::RecordProxyConfig::new(args.listen, upstream, args.out.clone());
    config.admin_listen = args.metrics_listen;
    config.sampler = sampler(&args.sample, &args.sample_key)?;
    config.redaction = redaction(&args.redaction)?;
    config.body_capture_limit = args.body_limit;
    let summary = serve(config.into())?;
    print_proxy_summary(&summary, args.json)?;
    Ok(EXIT_PASS)
}

pub fn replay(_global: &Global, args: &ReplayArgs) -> Result<u8> {
    let recording = read_recording_file(&args.file)?;
    let targets = args
        .target
        .iter()
        .map(|target| upstream("--target", target))
        .collect::<Result<Vec<_>>>()?;
    let mut config = ReplayConfig::new(targets);
    config.pacing = match args.rps {
        Some(rps) => {
            if !(rps.is_finite() && rps > 0.0) {
                bail!("--rps: {rps} is not a positive number of requests per second");
            }
            Pacing::RequestsPerSecond(rps)
        }
        None => args.rate.parse::<Pacing>().map_err(|e| anyhow!("--rate: {e}"))?,
    };
    config.duration = args.duration.as_deref().map(|d| duration("--duration", d)).transpose()?;
    config.timeout = duration("--timeout", &args.timeout)?;
    config.host =
        args.host_rewrite.parse::<HostRewrite>().map_err(|e| anyhow!("--host-rewrite: {e}"))?;
    config.keep_samples = false;
    if args.diff {
        if !(2..=3).contains(&config.targets.len()) {
            bail!(
                "--diff needs two targets (primary, candidate) or three (primary, secondary, candidate): repeat --target"
            );
        }
        config.diff = Some(diff_rules(args.diff_rules.as_deref())?);
    }
    let report = runtime()?.block_on(async {
        let stop = stop_signal()?;
        anyhow::Ok(tokio::select! {
            report = run_replay(&recording, &config) => Some(report),
            () = stop => None,
        })
    })?;
    let Some(report) = report else {
        bail!("interrupted: the replay was stopped before it finished");
    };
    let report = report?;
    let differs = report.diff.as_ref().is_some_and(DiffReport::has_differences);
    if args.json {
        output::json(&serde_json::to_value(&report).context("encode the replay report")?);
    } else {
        print_replay_summary(&report, &recording.exchanges.len());
    }
    Ok(if differs { EXIT_FAIL } else { EXIT_PASS })
}

/// Starts a proxy, announces its addresses, serves until SIGINT or SIGTERM and shuts it down.
fn serve(config: MirrorConfig) -> Result<MirrorSummary> {
    runtime()?.block_on(async {
        // The handlers are in place before anyone can learn the address and signal us.
        let stop = stop_signal()?;
        let proxy = MirrorProxy::start(config).await?;
        eprintln!("listening on {}", proxy.local_addr());
        if let Some(admin) = proxy.admin_addr() {
            eprintln!("metrics on http://{admin}/metrics");
        }
        stop.await;
        eprintln!("stopping: finishing open exchanges and flushing");
        Ok(proxy.shutdown(Duration::from_secs(5)).await?)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("start the runtime")
}

/// Installs the handlers now (inside the runtime); the future completes on the first signal.
fn stop_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

fn upstream(flag: &str, text: &str) -> Result<Upstream> {
    text.parse::<Upstream>().map_err(|e| anyhow!("{flag}: {e}"))
}

fn duration(flag: &str, text: &str) -> Result<Duration> {
    Ok(text.parse::<HumanDuration>().map_err(|e| anyhow!("{flag}: {e}"))?.0)
}

fn sampler(rate: &str, key: &str) -> Result<Sampler> {
    Ok(Sampler {
        rate: rate.parse::<SampleRate>().map_err(|e| anyhow!("--sample: {e}"))?,
        key: key.parse::<SampleKey>().map_err(|e| anyhow!("--sample-key: {e}"))?,
        salt: 0,
    })
}

fn method_policy(allowed: &[String]) -> Result<MethodPolicy> {
    if allowed.is_empty() {
        return Ok(MethodPolicy::Idempotent);
    }
    if allowed.iter().any(|method| method.trim().eq_ignore_ascii_case("all")) {
        return Ok(MethodPolicy::All);
    }
    allowed.join(",").parse::<MethodPolicy>().map_err(|e| anyhow!("--allow-method: {e}"))
}

fn header_name(flag: &str, name: &str) -> Result<HeaderName> {
    HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| anyhow!("{flag}: `{name}` is not a valid header name"))
}

fn field_patterns(flag: &str, fields: &[String]) -> Result<Vec<FieldPattern>> {
    fields
        .iter()
        .map(|field| {
            field.parse::<FieldPattern>().map_err(|e| {
                anyhow!("{flag}: `{field}` is not a field path ({e}); write it as `user.email` or `items[*].id`")
            })
        })
        .collect()
}

fn redaction(args: &RedactionArgs) -> Result<RedactionRules> {
    let key = match &args.redact_key_file {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("--redact-key-file: cannot read {}", path.display()))?,
        None => Vec::new(),
    };
    let mut rules = match &args.redact {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--redact: cannot read {}", path.display()))?;
            RedactionRules::from_toml(&text, key)
                .map_err(|e| anyhow!("--redact {}: {e}", path.display()))?
        }
        None => RedactionRules { hash_key: key, ..RedactionRules::default() },
    };
    for name in &args.drop_header {
        let name = header_name("--drop-header", name)?;
        if !rules.drop_headers.contains(&name) {
            rules.drop_headers.push(name);
        }
    }
    for name in &args.keep_header {
        let name = header_name("--keep-header", name)?;
        rules.drop_headers.retain(|dropped| *dropped != name);
    }
    rules.remove_fields.extend(field_patterns("--remove-field", &args.remove_field)?);
    rules.hash_fields.extend(field_patterns("--hash-field", &args.hash_field)?);
    rules.validate()?;
    Ok(rules)
}

fn diff_rules(path: Option<&std::path::Path>) -> Result<DiffConfig> {
    match path {
        None => Ok(DiffConfig::default()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--diff-rules: cannot read {}", path.display()))?;
            DiffConfig::from_toml(&text)
                .map_err(|e| anyhow!("--diff-rules {}: {e}", path.display()))
        }
    }
}

fn print_proxy_summary(summary: &MirrorSummary, json: bool) -> Result<()> {
    if json {
        output::json(&serde_json::to_value(summary).context("encode the summary")?);
        return Ok(());
    }
    let stats = &summary.stats;
    println!(
        "requests {}, sampled {}, mirrored {}, dropped {} (queue full {}, body too large {}, body incomplete {}), skipped by method {}",
        stats.requests,
        stats.sampled,
        stats.enqueued,
        stats.dropped_queue_full + stats.dropped_body_too_large + stats.dropped_body_incomplete,
        stats.dropped_queue_full,
        stats.dropped_body_too_large,
        stats.dropped_body_incomplete,
        stats.skipped_method
    );
    for shadow in &stats.shadows {
        println!(
            "  shadow {}: {} responses, {} connect errors, {} timeouts, {} protocol errors",
            shadow.shadow,
            shadow.responses,
            shadow.connect_errors,
            shadow.timeouts,
            shadow.protocol_errors
        );
    }
    if let Some(path) = &summary.recording {
        println!(
            "recorded {} exchanges to {} ({} dropped, {} write errors)",
            stats.recorded,
            path.display(),
            stats.record_dropped,
            stats.record_write_errors
        );
    }
    if let Some(diff) = &summary.diff {
        print_diff(diff);
    }
    Ok(())
}

fn print_replay_summary(report: &ReplayReport, exchanges: &usize) {
    println!(
        "replayed {} sends of {} recorded exchanges in {:.2} s (max send lag {:.1} ms)",
        report.planned_sends,
        exchanges,
        report.elapsed_us as f64 / 1e6,
        report.max_send_lag_us as f64 / 1e3
    );
    let header = ["TARGET", "SENT", "RESPONSES", "ERRORS", "STATUS", "P50", "P90", "P99", "MAX"];
    let ms = |us: u64| format!("{:.1} ms", us as f64 / 1e3);
    let rows: Vec<Vec<String>> = report
        .targets
        .iter()
        .map(|target| {
            let statuses: Vec<String> = target
                .status_counts
                .iter()
                .map(|(status, count)| format!("{status}×{count}"))
                .collect();
            vec![
                target.target.clone(),
                target.sent.to_string(),
                target.responses.to_string(),
                (target.connect_errors
                    + target.timeouts
                    + target.protocol_errors
                    + target.skipped_overload)
                    .to_string(),
                statuses.join(" "),
                ms(target.latency.p50_us),
                ms(target.latency.p90_us),
                ms(target.latency.p99_us),
                ms(target.latency.max_us),
            ]
        })
        .collect();
    output::table(&header, &rows);
    if let Some(diff) = &report.diff {
        print_diff(diff);
    }
}

fn print_diff(diff: &DiffReport) {
    println!(
        "diff: {} requests compared{}",
        diff.requests_compared,
        if diff.noise_filtered { ", noise filtered with the secondary" } else { "" }
    );
    if !diff.has_differences() {
        println!("  {}", output::green("no field differs beyond noise"));
        return;
    }
    for endpoint in &diff.endpoints {
        for field in &endpoint.differing_fields {
            println!(
                "  {} {} {}: {} raw vs {} noise differences",
                output::red("differs:"),
                endpoint.endpoint,
                output::bold(&field.field),
                field.raw_differences,
                field.noise_differences
            );
            if let Some(example) = field.examples.first() {
                println!(
                    "    e.g. {} {}: primary {} → candidate {}",
                    example.request.method,
                    example.request.target,
                    example.primary_value.as_deref().unwrap_or("(absent)"),
                    example.candidate_value.as_deref().unwrap_or("(absent)")
                );
            }
        }
    }
}
