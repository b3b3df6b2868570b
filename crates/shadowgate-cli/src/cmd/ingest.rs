//! `shadowgate ingest`: telemetry into the store.
//!
//! Every source goes through one [`Pipeline`]: allow/deny lists, keyed hashing of identifying
//! labels, the cardinality limit and 1-minute rollups, then batched, durable writes. A point is
//! reported as ingested only once its transaction has committed. SIGINT and SIGTERM stop a
//! long-running source after the work in progress; the open rollups are written before exit.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use shadowgate_core::units::HumanDuration;
use shadowgate_ingest::{
    anonymize::HashKey,
    config::IngestConfig,
    import::{self, ImportFormat, ImportOptions},
    key_file,
    otlp::server::{OtlpReceiver, OtlpSettings},
    pipeline::{Pipeline, unix_now_ms},
    retention,
    scrape::{ScrapeTarget, Scraper},
};
use shadowgate_store::Store;

use crate::{EXIT_PASS, cli::Global, context, output};

/// The environment variable holding the label-hash secret itself.
pub const HMAC_SECRET_ENV: &str = "SHADOWGATE_HMAC_SECRET";

#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// Scrape a Prometheus endpoint (text exposition format) every interval.
    Scrape(ScrapeArgs),
    /// Receive OTLP/HTTP metrics (protobuf or JSON) on POST /v1/metrics.
    Otlp(OtlpArgs),
    /// Import a CSV (`timestamp,metric,value[,labels]` or `timestamp,value`) or JSONL file.
    Import(ImportArgs),
}

/// Privacy, cardinality, rollup and retention settings shared by every source.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Read these settings from the `[ingest]` table of a TOML file; flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Keep only these labels (comma-separated or repeated); `le` and `quantile` always stay.
    #[arg(long, value_delimiter = ',', value_name = "LABEL")]
    pub label_allow: Vec<String>,
    /// Remove these labels (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', value_name = "LABEL")]
    pub label_deny: Vec<String>,
    /// Hash these labels' values with HMAC-SHA256 (replaces the default list of user, ip,
    /// host... labels).
    #[arg(long, value_delimiter = ',', value_name = "LABEL")]
    pub hash_label: Vec<String>,
    /// A file holding the HMAC secret (at least 16 bytes). Default: the secret in
    /// $SHADOWGATE_HMAC_SECRET, else ingest.key beside the store (created on first use).
    #[arg(long, value_name = "FILE")]
    pub hmac_secret_file: Option<PathBuf>,
    /// Drop a label from a metric once it has more distinct values than this.
    #[arg(long, value_name = "N")]
    pub max_label_values: Option<usize>,
    /// Do not compute 1-minute rollups.
    #[arg(long)]
    pub no_rollups: bool,
    /// Delete raw points older than this (rollups are kept), e.g. 14d.
    #[arg(long, value_name = "DURATION")]
    pub raw_retention: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScrapeArgs {
    /// The endpoint, e.g. http://127.0.0.1:9100/metrics.
    pub url: String,
    /// The application the metrics belong to.
    #[arg(long)]
    pub app: String,
    /// Scrape interval.
    #[arg(long, default_value = "15s", value_name = "DURATION")]
    pub every: String,
    /// A label added to every sample (repeatable), e.g. --label region=eu.
    #[arg(long = "label", value_name = "NAME=VALUE")]
    pub labels: Vec<String>,
    /// Scrape once and exit (exit code 2 when the scrape fails).
    #[arg(long, conflicts_with = "duration")]
    pub once: bool,
    /// Stop after this long (default: until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Deadline of one scrape (default: the interval, at most 10 s).
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Debug, Args)]
pub struct OtlpArgs {
    /// Address to listen on; port 0 picks a free one (printed on start).
    #[arg(long, default_value = "127.0.0.1:4318", value_name = "ADDR")]
    pub listen: String,
    /// The application of resources without a `service.name`.
    #[arg(long, default_value = "default")]
    pub app: String,
    /// Stop after this long (default: until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file: .csv, or .jsonl / .ndjson.
    pub file: PathBuf,
    /// The application the points belong to.
    #[arg(long)]
    pub app: String,
    /// The metric of lines that name none (`timestamp,value` CSV, JSONL without `metric`).
    #[arg(long)]
    pub metric: Option<String>,
    /// The file format when the extension does not say it.
    #[arg(long, value_parser = ["csv", "jsonl"])]
    pub format: Option<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

pub fn run(global: &Global, cmd: &IngestCommand) -> Result<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    match cmd {
        IngestCommand::Scrape(args) => runtime.block_on(scrape(global, args)),
        IngestCommand::Otlp(args) => runtime.block_on(otlp(global, args)),
        IngestCommand::Import(args) => runtime.block_on(import_cmd(global, args)),
    }
}

/// The configuration the flags (and an optional file) describe.
pub fn ingest_config(policy: &PolicyArgs) -> Result<IngestConfig> {
    let mut config = match &policy.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --config {}", path.display()))?;
            IngestConfig::from_toml(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => IngestConfig::default(),
    };
    if !policy.label_allow.is_empty() {
        config.label_allow = Some(policy.label_allow.clone());
    }
    config.label_deny.extend(policy.label_deny.iter().cloned());
    if !policy.hash_label.is_empty() {
        config.hash_labels = policy.hash_label.clone();
    }
    if let Some(n) = policy.max_label_values {
        config.max_label_values = n;
    }
    if policy.no_rollups {
        config.rollups = false;
    }
    if let Some(text) = &policy.raw_retention {
        config.raw_retention = Some(
            text.parse::<HumanDuration>()
                .map_err(|e| anyhow::anyhow!("--raw-retention `{text}`: {e}"))?,
        );
    }
    if policy.hmac_secret_file.is_some() {
        config.hash_key_file = policy.hmac_secret_file.clone();
    }
    config.validate().map_err(|e| {
        // Name the flag rather than the file field where the flag is the likely source.
        let flag = e.field.split('[').next().unwrap_or_default().replace('_', "-");
        anyhow::anyhow!("--{flag}: {}", e.problem)
    })?;
    Ok(config)
}

/// The label-hash key: an explicit file, the environment variable, or a key beside the store.
fn hash_key(global: &Global, config: &IngestConfig) -> Result<HashKey> {
    if let Some(path) = &config.hash_key_file {
        let bytes = std::fs::read(path).with_context(|| {
            format!("cannot read the HMAC secret file {} (--hmac-secret-file)", path.display())
        })?;
        return HashKey::new(bytes.trim_ascii_end())
            .map_err(|e| anyhow::anyhow!("--hmac-secret-file {}: {e}", path.display()));
    }
    if let Some(secret) = std::env::var_os(HMAC_SECRET_ENV) {
        let bytes = secret.into_encoded_bytes();
        return HashKey::new(bytes).map_err(|e| anyhow::anyhow!("{HMAC_SECRET_ENV}: {e}"));
    }
    let store = context::store_path(global);
    let dir = store.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(key_file::load_or_create(&dir.join("ingest.key"))?)
}

struct Started {
    pipeline: Arc<Pipeline>,
    store: Arc<dyn Store>,
    config: IngestConfig,
}

fn start(global: &Global, policy: &PolicyArgs) -> Result<Started> {
    let config = ingest_config(policy)?;
    let key = hash_key(global, &config)?;
    let store: Arc<dyn Store> = Arc::new(context::open_store(global)?);
    let pipeline = Arc::new(Pipeline::start(&config, &key, Arc::clone(&store)));
    Ok(Started { pipeline, store, config })
}

fn parse_duration(flag: &str, text: &str) -> Result<Duration> {
    let d = text
        .parse::<HumanDuration>()
        .map_err(|e| anyhow::anyhow!("{flag} `{text}`: {e} (write e.g. 15s, 5m, 1h)"))?
        .as_duration();
    if d.is_zero() {
        bail!("{flag} `{text}`: must be longer than zero");
    }
    Ok(d)
}

/// A future that completes on SIGINT or SIGTERM, or after `limit`. The handlers are installed
/// when this is called, so a signal that arrives before the future is first polled still counts.
fn stop_signal(limit: Option<Duration>) -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("install the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("install the SIGINT handler")?;
    Ok(async move {
        let sleep = async {
            match limit {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
            () = sleep => {}
        }
    })
}

/// Deletes expired raw points every minute while `run` is running.
/// Never returns: it runs until the caller stops polling it.
async fn retention_loop(store: Arc<dyn Store>, keep: Option<Duration>) -> std::convert::Infallible {
    let Some(keep) = keep else { return std::future::pending().await };
    let mut ticker = tokio::time::interval(Duration::from_secs(60));
    loop {
        ticker.tick().await;
        let store = Arc::clone(&store);
        let pass = tokio::task::spawn_blocking(move || {
            retention::delete_expired_raw_points(store.as_ref(), None, keep, unix_now_ms())
        })
        .await;
        // A failed pass deletes nothing; ingestion goes on and the next pass tries again.
        if let Ok(Err(error)) = pass {
            eprintln!("{}: raw-point retention failed: {error}", output::yellow("warning"));
        }
    }
}

async fn finish(started: &Started) -> Result<(usize, usize)> {
    let rollups = started.pipeline.finish().await.context("write the open rollups")?;
    let mut deleted = 0;
    if let Some(keep) = started.config.raw_retention {
        let store = Arc::clone(&started.store);
        let keep = keep.as_duration();
        deleted = tokio::task::spawn_blocking(move || {
            retention::delete_expired_raw_points(store.as_ref(), None, keep, unix_now_ms())
        })
        .await
        .context("retention task")??
        .points_deleted;
    }
    Ok((rollups, deleted))
}

fn parse_labels(labels: &[String]) -> Result<Vec<(String, String)>> {
    labels
        .iter()
        .map(|l| {
            let Some((name, value)) = l.split_once('=') else {
                bail!("--label `{l}`: write NAME=VALUE, e.g. --label region=eu");
            };
            if !shadowgate_ingest::config::is_label_name(name) {
                bail!(
                    "--label `{l}`: `{name}` is not a label name; use letters, digits and `_`, not starting with a digit"
                );
            }
            Ok((name.to_string(), value.to_string()))
        })
        .collect()
}

async fn scrape(global: &Global, args: &ScrapeArgs) -> Result<u8> {
    let every = parse_duration("--every", &args.every)?;
    let limit = args.duration.as_deref().map(|d| parse_duration("--duration", d)).transpose()?;
    let url: http::Uri =
        args.url.parse().map_err(|e| anyhow::anyhow!("URL `{}`: {e}", args.url))?;
    let extra = parse_labels(&args.labels)?;
    let mut target = ScrapeTarget::new(url, args.app.clone(), every);
    if let Some(t) = &args.timeout {
        target.timeout = parse_duration("--timeout", t)?;
    }
    target.extra_labels = extra;
    let started = start(global, &args.policy)?;
    let scraper = Scraper::new(target, Arc::clone(&started.pipeline))?;
    if args.once {
        let receipt = scraper.scrape_once().await;
        let (rollups, deleted) = finish(&started).await?;
        let receipt = receipt?;
        report(
            args.policy.json,
            json!({"scrapes": 1, "failures": 0, "points": receipt.points,
                   "samples_written": receipt.samples_written + rollups, "raw_points_deleted": deleted}),
            &format!(
                "scraped {}: {} points stored ({} samples with rollups)",
                args.url,
                receipt.points,
                receipt.samples_written + rollups
            ),
        );
        return Ok(EXIT_PASS);
    }
    if !output::quiet() && !args.policy.json {
        eprintln!(
            "scraping {} every {} into app `{}` (Ctrl-C stops)",
            args.url, args.every, args.app
        );
    }
    let stop = stop_signal(limit)?;
    let stats = tokio::select! {
        stats = scraper.run(stop) => stats,
        never = retention_loop(Arc::clone(&started.store), started.config.raw_retention.map(|r| r.as_duration())) => match never {},
    };
    let (rollups, deleted) = finish(&started).await?;
    report(
        args.policy.json,
        json!({"scrapes": stats.scrapes, "failures": stats.failures, "points": stats.points,
               "rollup_samples_at_exit": rollups, "raw_points_deleted": deleted, "last_error": stats.last_error}),
        &format!(
            "{} scrapes stored {} points; {} failed{}",
            stats.scrapes,
            stats.points,
            stats.failures,
            stats.last_error.as_deref().map(|e| format!(" (last: {e})")).unwrap_or_default()
        ),
    );
    Ok(EXIT_PASS)
}

async fn otlp(global: &Global, args: &OtlpArgs) -> Result<u8> {
    let address: SocketAddr = args.listen.parse().map_err(|e| {
        anyhow::anyhow!("--listen `{}`: {e} (write an address such as 127.0.0.1:4318)", args.listen)
    })?;
    let limit = args.duration.as_deref().map(|d| parse_duration("--duration", d)).transpose()?;
    let started = start(global, &args.policy)?;
    let receiver = OtlpReceiver::bind(
        address,
        Arc::clone(&started.pipeline),
        OtlpSettings::new(args.app.clone()),
    )
    .await
    .with_context(|| format!("cannot listen on {address}"))?;
    let stop = stop_signal(limit)?;
    let bound = receiver.local_addr()?;
    if args.policy.json {
        println!("{}", json!({"listening": bound.to_string()}));
    } else {
        println!("listening on http://{bound}/v1/metrics");
    }
    use std::io::Write;
    std::io::stdout().flush().ok();
    let stats = tokio::select! {
        stats = receiver.run(stop) => stats?,
        never = retention_loop(Arc::clone(&started.store), started.config.raw_retention.map(|r| r.as_duration())) => match never {},
    };
    let (rollups, deleted) = finish(&started).await?;
    report(
        args.policy.json,
        json!({"requests": stats.requests, "accepted": stats.accepted, "points": stats.points,
               "rejected_points": stats.rejected_points, "malformed": stats.malformed,
               "unsupported": stats.unsupported, "too_large": stats.too_large,
               "write_failures": stats.write_failures, "rollup_samples_at_exit": rollups,
               "raw_points_deleted": deleted}),
        &format!(
            "{} requests, {} accepted, {} points stored; {} malformed",
            stats.requests, stats.accepted, stats.points, stats.malformed
        ),
    );
    Ok(EXIT_PASS)
}

async fn import_cmd(global: &Global, args: &ImportArgs) -> Result<u8> {
    let format = match args.format.as_deref() {
        Some("csv") => ImportFormat::Csv,
        Some(_) => ImportFormat::JsonLines,
        None => ImportFormat::from_path(&args.file).with_context(|| {
            format!(
                "cannot tell the format of {} from its extension; pass --format csv or --format jsonl",
                args.file.display()
            )
        })?,
    };
    if let Some(metric) = &args.metric {
        import::valid_metric_name(metric).map_err(|e| anyhow::anyhow!("--metric: {e}"))?;
    }
    let started = start(global, &args.policy)?;
    let mut options = ImportOptions::new(args.app.clone(), format);
    options.default_metric = args.metric.clone();
    let outcome = import::import_file(&args.file, options, Arc::clone(&started.pipeline)).await;
    let result = outcome.map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    let (_, deleted) = finish(&started).await?;
    report(
        args.policy.json,
        json!({"lines": result.lines, "points": result.points, "samples_written": result.samples_written,
               "header_skipped": result.header_skipped, "raw_points_deleted": deleted}),
        &format!(
            "imported {} points from {} ({} samples with rollups)",
            result.points,
            args.file.display(),
            result.samples_written
        ),
    );
    Ok(EXIT_PASS)
}

fn report(as_json: bool, value: serde_json::Value, text: &str) {
    if as_json {
        output::json(&value);
    } else {
        println!("{text}");
    }
}
