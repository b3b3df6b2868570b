//! `shadowgate forecast`, `detect`, `eval`, `recommend` and `predict`: learning production's
//! conditions from telemetry.
//!
//! The analysis itself lives in `shadowgate-analytics` (pure); this module reads files and the
//! store, calls it and prints. Series come either from a `timestamp,value` CSV or from the
//! store (production telemetry of an application: series without an environment). Counters
//! (metric names ending in `_total`) are turned into per-second rates first, and the series of
//! one metric with different labels are added up.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use shadowgate_analytics::{
    anomaly::{DetectorConfig, DetectorKind},
    forecast::{self, Forecast, ForecastConfig},
    nab::{corpus, evaluation, timestamp::parse_timestamp},
    recommend::{
        Recommendation, Recommender, UsageSample,
        forecast_aware::{ForecastAwareConfig, ForecastAwareRecommender},
        naive::NaiveRecommender,
        replay::{self, ReplayConfig, ReplayReport},
        vpa::{VpaConfig, VpaRecommender},
    },
    risk::{self, TestedRows},
};
use shadowgate_core::{
    conditions::{
        CONDITIONS_VERSION, Estimate, NetworkObserved, Percentiles, PredictedConditions,
        ResourceRecommendation, TableVolume,
    },
    units::HumanDuration,
};
use shadowgate_store::{SampleQuery, Store};

use crate::{EXIT_PASS, cli::Global, context, output};

#[derive(Debug, Args)]
pub struct ForecastArgs {
    /// A CSV of `timestamp,value` (Unix seconds or `YYYY-MM-DD HH:MM:SS`), header optional.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["app", "metric"], required_unless_present = "app")]
    pub input: Option<PathBuf>,
    /// Read the series from the store: this application's production telemetry...
    #[arg(long, requires = "metric")]
    pub app: Option<String>,
    /// ...and this metric (counters ending in `_total` become per-second rates).
    #[arg(long, requires = "app")]
    pub metric: Option<String>,
    /// How far ahead, e.g. 1d or 7d.
    #[arg(long, value_name = "DURATION")]
    pub horizon: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// A CSV of `timestamp,value`, in time order.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Write `timestamp,value,anomaly_score` (NAB's result layout) to this file.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The score at which a row counts as an alarm [default: the detector's own, 0.7 for
    /// combined and context, 0.9999 for seasonal].
    #[arg(long)]
    pub threshold: Option<f64>,
    #[command(flatten)]
    pub detector: DetectorChoice,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DetectorChoice {
    /// Which detector scores the rows.
    #[arg(long, value_enum, default_value_t = DetectorName::Combined)]
    pub detector: DetectorName,
}

/// The streaming detectors (see `shadowgate detect --help`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DetectorName {
    /// Seasonal and contextual detectors together; a row scores what the more surprised of the
    /// two says.
    Combined,
    /// Residual against an online seasonal model, plus CUSUM for level shifts and a windowed
    /// mean of the residuals for sustained deviations (a quiet holiday).
    Seasonal,
    /// Memory of value sequences: a pattern never seen before scores high.
    Context,
}

impl DetectorName {
    fn kind(self) -> DetectorKind {
        match self {
            DetectorName::Combined => DetectorKind::Combined,
            DetectorName::Seasonal => DetectorKind::Seasonal,
            DetectorName::Context => DetectorKind::Context,
        }
    }

    /// The threshold the user gave, or the detector's own alarm score; checked to be in [0, 1].
    fn threshold(self, given: Option<f64>) -> Result<f64> {
        let threshold = given.unwrap_or_else(|| self.kind().alarm_score());
        if !(0.0..=1.0).contains(&threshold) {
            bail!("--threshold {threshold}: must be between 0 and 1");
        }
        Ok(threshold)
    }
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Score the detector on a NAB-layout corpus (data/<group>/*.csv,
    /// labels/combined_windows.json) under NAB's three profiles.
    Nab(EvalNabArgs),
}

#[derive(Debug, Args)]
pub struct EvalNabArgs {
    /// The corpus directory.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The threshold fixed in advance [default: the detector's own alarm score]. NAB's tuned
    /// threshold and a leave-one-file-out threshold are reported as well.
    #[arg(long)]
    pub threshold: Option<f64>,
    #[command(flatten)]
    pub detector: DetectorChoice,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MetricNames {
    /// Request counter (or rate gauge) of the application.
    #[arg(long, default_value = "http_requests_total")]
    pub requests_metric: String,
    /// Requests in flight.
    #[arg(long, default_value = "http_requests_in_flight")]
    pub concurrency_metric: String,
    /// Error counter (or rate gauge).
    #[arg(long, default_value = "http_request_errors_total")]
    pub errors_metric: String,
    /// CPU: a counter of CPU seconds (becomes cores) or a gauge in cores.
    #[arg(long, default_value = "process_cpu_seconds_total")]
    pub cpu_metric: String,
    /// Memory in bytes.
    #[arg(long, default_value = "process_resident_memory_bytes")]
    pub memory_metric: String,
    /// Network latency in seconds.
    #[arg(long, default_value = "network_latency_seconds")]
    pub latency_metric: String,
    /// Network bytes (counter, becomes bytes per second).
    #[arg(long, default_value = "network_transmit_bytes_total")]
    pub bandwidth_metric: String,
    /// Rows per table, with the table in the `table` label.
    #[arg(long, default_value = "table_rows")]
    pub rows_metric: String,
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    /// A CSV `timestamp,cpu_cores,memory_bytes[,load]` with a header.
    #[arg(long, value_name = "FILE", conflicts_with = "app", required_unless_present = "app")]
    pub input: Option<PathBuf>,
    /// Read usage from the store for this application.
    #[arg(long)]
    pub app: Option<String>,
    #[command(flatten)]
    pub metrics: MetricNames,
    /// Also replay the trace through each recommender and count OOM events, throttling, slack.
    #[arg(long)]
    pub replay: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The application whose production telemetry is in the store.
    #[arg(long)]
    pub app: String,
    /// How far ahead, e.g. 7d.
    #[arg(long, default_value = "7d", value_name = "DURATION")]
    pub horizon: String,
    #[command(flatten)]
    pub metrics: MetricNames,
    /// Disk space used, in bytes (a gauge; series with different labels are added up).
    #[arg(long, default_value = "disk_used_bytes")]
    pub disk_used_metric: String,
    /// The disk's capacity in bytes (a gauge); its latest value is the limit disk use is
    /// judged against.
    #[arg(long, default_value = "disk_size_bytes")]
    pub disk_size_metric: String,
    /// The application's manifest: the row counts its `[data]` loads count as tested data
    /// volumes, beside those past checks loaded.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Also write the document here (it is always kept as the app's latest prediction).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the document as JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}

// ---------------------------------------------------------------------------------------------
// Input

/// Parses a `timestamp,value` CSV; errors name the line and the field.
pub fn parse_series_csv(text: &str, name: &str) -> Result<Vec<(String, i64, f64)>> {
    let mut rows = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        let number = idx + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        if rows.is_empty() && number == first_line(text) && parse_time(fields[0]).is_err() {
            continue; // a header
        }
        if fields.len() != 2 {
            bail!(
                "{name} line {number}: expected 2 fields `timestamp,value`, found {} in `{line}`",
                fields.len()
            );
        }
        let ts = parse_time(fields[0])
            .map_err(|e| anyhow::anyhow!("{name} line {number}, field `timestamp`: {e}"))?;
        let value: f64 =
            fields[1].trim().parse().ok().filter(|v: &f64| v.is_finite()).with_context(|| {
                format!(
                    "{name} line {number}, field `value`: `{}` is not a finite number",
                    fields[1].trim()
                )
            })?;
        rows.push((fields[0].trim().to_string(), ts, value));
    }
    if rows.is_empty() {
        bail!("{name}: no rows; the file must hold `timestamp,value` lines");
    }
    Ok(rows)
}

fn first_line(text: &str) -> usize {
    text.lines().position(|l| !l.trim().is_empty()).map_or(1, |p| p + 1)
}

/// Unix seconds (integer or decimal, or milliseconds when above 1e11) or `YYYY-MM-DD HH:MM:SS`.
fn parse_time(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<f64>() {
        if !n.is_finite() || n < 0.0 {
            return Err(format!("`{t}` is not a time"));
        }
        return Ok(if n > 1e11 { (n / 1000.0) as i64 } else { n as i64 });
    }
    parse_timestamp(t).map_err(|_| {
        format!("`{t}` is not a time; write Unix seconds or `YYYY-MM-DD HH:MM:SS` (UTC)")
    })
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn parse_horizon(text: &str) -> Result<i64> {
    let d = text
        .parse::<HumanDuration>()
        .map_err(|e| anyhow::anyhow!("--horizon `{text}`: {e} (write e.g. 1h, 1d, 7d)"))?;
    let seconds = d.as_duration().as_secs() as i64;
    if seconds <= 0 {
        bail!("--horizon `{text}`: must be at least one second");
    }
    Ok(seconds)
}

/// A series' labels, in name order.
type Labels = Vec<(String, String)>;

/// One metric of an application's production telemetry as a single series in seconds: raw
/// points if any (counters as rates, series of different labels added up), else the 1-minute
/// rollups' averages.
pub fn store_series(store: &dyn Store, app: &str, metric: &str) -> Result<Vec<(i64, f64)>> {
    let query = |m: &str| SampleQuery {
        app: Some(app.to_string()),
        env_id: Some(String::new()),
        metric: Some(m.to_string()),
        ..SampleQuery::default()
    };
    let samples = store.samples(&query(metric))?;
    let counter = metric.ends_with("_total");
    let mut by_series: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    if samples.is_empty() {
        // History may survive only as rollups: average = sum / count per minute.
        let sums = store.samples(&query(&format!("{metric}:1m_sum")))?;
        let counts = store.samples(&query(&format!("{metric}:1m_count")))?;
        let mut count_of = BTreeMap::new();
        for c in counts {
            count_of.insert(
                (c.series.labels.clone().into_iter().collect::<Vec<_>>(), c.ts_ms),
                c.value,
            );
        }
        for s in sums {
            let labels: Vec<_> = s.series.labels.clone().into_iter().collect();
            if let Some(n) = count_of.get(&(labels.clone(), s.ts_ms)).filter(|n| **n > 0.0) {
                by_series.entry(labels).or_default().push((s.ts_ms, s.value / n));
            }
        }
    } else {
        for s in samples {
            by_series
                .entry(s.series.labels.into_iter().collect())
                .or_default()
                .push((s.ts_ms, s.value));
        }
    }
    let mut total: BTreeMap<i64, f64> = BTreeMap::new();
    for (_, mut points) in by_series {
        points.sort_by_key(|p| p.0);
        let points = if counter { rates(&points) } else { points };
        for (ts_ms, v) in points {
            *total.entry(ts_ms.div_euclid(1000)).or_default() += v;
        }
    }
    Ok(total.into_iter().collect())
}

/// Per-second rates of a counter (a decrease is a reset: the new value counts from zero).
fn rates(points: &[(i64, f64)]) -> Vec<(i64, f64)> {
    points
        .windows(2)
        .filter(|w| w[1].0 > w[0].0)
        .map(|w| {
            let dt = (w[1].0 - w[0].0) as f64 / 1000.0;
            let dv = if w[1].1 >= w[0].1 { w[1].1 - w[0].1 } else { w[1].1 };
            (w[1].0, dv / dt)
        })
        .collect()
}

fn need_series(store: &dyn Store, app: &str, metric: &str) -> Result<Vec<(i64, f64)>> {
    let series = store_series(store, app, metric)?;
    if series.is_empty() {
        let known: Vec<String> = store
            .series(&SampleQuery {
                app: Some(app.to_string()),
                env_id: Some(String::new()),
                ..SampleQuery::default()
            })?
            .into_iter()
            .map(|s| s.metric)
            .filter(|m| !m.contains(":1m_"))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        bail!(
            "the store has no points of `{metric}` for app `{app}`; {} (bring them in with `shadowgate ingest`)",
            if known.is_empty() {
                format!("it has no telemetry for `{app}` at all")
            } else {
                format!("its metrics are: {}", known.join(", "))
            }
        );
    }
    Ok(series)
}

// ---------------------------------------------------------------------------------------------
// forecast

pub fn forecast(global: &Global, args: &ForecastArgs) -> Result<u8> {
    let horizon = parse_horizon(&args.horizon)?;
    let points: Vec<(i64, f64)> = match (&args.input, &args.app, &args.metric) {
        (Some(path), _, _) => parse_series_csv(&read_text(path)?, &path.display().to_string())?
            .into_iter()
            .map(|(_, t, v)| (t, v))
            .collect(),
        (None, Some(app), Some(metric)) => {
            let store = context::open_store(global)?;
            need_series(&store, app, metric)?
        }
        _ => bail!("pass --input FILE.csv, or --app APP with --metric METRIC"),
    };
    let result = forecast::forecast(&points, &ForecastConfig::new(horizon))
        .map_err(|e| anyhow::anyhow!("cannot forecast: {e}"))?;
    if args.json {
        output::json(&serde_json::to_value(&result)?);
        return Ok(EXIT_PASS);
    }
    print_forecast(&result);
    Ok(EXIT_PASS)
}

fn model_name(result: &Forecast) -> String {
    serde_json::to_value(result.model)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{:?}", result.model))
}

fn print_forecast(result: &Forecast) {
    let b = &result.backtest;
    println!(
        "{} {} (periods: {}; step {} s)",
        output::bold("model"),
        model_name(result),
        if result.periods.is_empty() {
            "none".to_string()
        } else {
            result.periods.iter().map(|p| format!("{p} s")).collect::<Vec<_>>().join(", ")
        },
        result.step_seconds
    );
    println!(
        "backtest over {} origins: MASE {:.3} (seasonal naive {:.3}); coverage 80% {:.1}%, 95% {:.1}%",
        b.origins,
        b.mase,
        b.seasonal_naive_mase,
        b.coverage80 * 100.0,
        b.coverage95 * 100.0
    );
    let n = result.forecast.len();
    let shown: Vec<usize> =
        if n <= 12 { (0..n).collect() } else { (0..12).map(|i| i * (n - 1) / 11).collect() };
    let rows: Vec<Vec<String>> = shown
        .into_iter()
        .map(|i| {
            let p = &result.forecast[i];
            vec![
                p.timestamp.to_string(),
                format!("{:.3}", p.value),
                format!("[{:.3}, {:.3}]", p.lower80, p.upper80),
                format!("[{:.3}, {:.3}]", p.lower95, p.upper95),
            ]
        })
        .collect();
    output::table(&["TIMESTAMP", "VALUE", "80%", "95%"], &rows);
    if n > 12 {
        println!("{}", output::dim(&format!("({n} points; --json prints all)")));
    }
}

// ---------------------------------------------------------------------------------------------
// detect

pub fn detect(_global: &Global, args: &DetectArgs) -> Result<u8> {
    let detector_name = args.detector.detector;
    let threshold = detector_name.threshold(args.threshold)?;
    let name = args.input.display().to_string();
    let rows = parse_series_csv(&read_text(&args.input)?, &name)?;
    let mut detector = detector_name
        .kind()
        .build(DetectorConfig::default().warmup_rows)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let bar = output::progress(rows.len() as u64, "scoring rows");
    let scores: Vec<f64> = rows
        .iter()
        .enumerate()
        .map(|(idx, (_, t, v))| {
            if idx % 4_096 == 0 {
                bar.set_position(idx as u64);
            }
            detector.observe(*t, *v).clamp(0.0, 1.0)
        })
        .collect();
    bar.finish_and_clear();
    if let Some(path) = &args.output {
        let mut text = String::from("timestamp,value,anomaly_score\n");
        for ((ts, _, v), s) in rows.iter().zip(&scores) {
            text.push_str(&format!("{ts},{v},{s}\n"));
        }
        std::fs::write(path, text).with_context(|| format!("write {}", path.display()))?;
    }
    let alarms: Vec<serde_json::Value> = rows
        .iter()
        .zip(&scores)
        .enumerate()
        .filter(|(i, (_, s))| **s >= threshold && (*i == 0 || scores[i - 1] < threshold))
        .map(|(_, ((ts, t, v), s))| json!({"timestamp": ts, "unix_seconds": t, "value": v, "score": s}))
        .collect();
    if args.json {
        output::json(&json!({
            "rows": rows.len(),
            "threshold": threshold,
            "detector": detector_name.to_possible_value().map(|v| v.get_name().to_string()),
            "period_rows": detector.period(),
            "alarms": alarms,
            "scores": rows.iter().zip(&scores).map(|((ts, _, v), s)| json!({"timestamp": ts, "value": v, "anomaly_score": s})).collect::<Vec<_>>(),
        }));
        return Ok(EXIT_PASS);
    }
    println!("{} rows scored; {} alarms at score ≥ {threshold}", rows.len(), alarms.len());
    for a in &alarms {
        println!(
            "  {}  value {}  score {:.6}",
            a["timestamp"].as_str().unwrap_or_default(),
            a["value"],
            a["score"].as_f64().unwrap_or_default()
        );
    }
    if let Some(path) = &args.output {
        println!("wrote {}", path.display());
    }
    Ok(EXIT_PASS)
}

// ---------------------------------------------------------------------------------------------
// eval nab

pub fn eval(_global: &Global, cmd: &EvalCommand) -> Result<u8> {
    let EvalCommand::Nab(args) = cmd;
    let data_dir = args.data.join("data");
    let windows_path = args.data.join("labels/combined_windows.json");
    let windows = corpus::parse_windows_json(&read_text(&windows_path).with_context(|| {
        format!(
            "--data {} must be a NAB-layout directory with labels/combined_windows.json",
            args.data.display()
        )
    })?)
    .map_err(|e| anyhow::anyhow!("{}: {e}", windows_path.display()))?;
    let mut files = Vec::new();
    let groups = std::fs::read_dir(&data_dir).with_context(|| {
        format!(
            "--data {}: cannot read its data/ directory (NAB layout: data/<group>/<file>.csv)",
            args.data.display()
        )
    })?;
    for group in groups.flatten().filter(|e| e.path().is_dir()) {
        for file in std::fs::read_dir(group.path())?.flatten() {
            let path = file.path();
            if path.extension().is_some_and(|e| e == "csv") {
                let name = format!(
                    "{}/{}",
                    group.file_name().to_string_lossy(),
                    file.file_name().to_string_lossy()
                );
                files.push((name, read_text(&path)?));
            }
        }
    }
    files.sort();
    if files.is_empty() {
        bail!("--data {}: no CSV files under data/<group>/", args.data.display());
    }
    let corpus = corpus::build_corpus(&files, &windows).map_err(|e| anyhow::anyhow!("{e}"))?;
    let detector_name = args.detector.detector;
    let threshold = detector_name.threshold(args.threshold)?;
    let bar = output::spinner(&format!("scoring {} files", corpus.len()));
    let scores = evaluation::run_detector_kind(&corpus, detector_name.kind())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.finish_and_clear();
    let result = evaluation::evaluate(&corpus, &scores, threshold);
    if args.json {
        let mut value = serde_json::to_value(&result)?;
        value["files"] = json!(corpus.len());
        value["detector"] =
            json!(detector_name.to_possible_value().map(|v| v.get_name().to_string()));
        output::json(&value);
        return Ok(EXIT_PASS);
    }
    println!("{} files, {} windows", corpus.len(), result.windows.windows);
    let rows: Vec<Vec<String>> = result
        .profiles
        .iter()
        .map(|p| {
            vec![
                p.profile.to_string(),
                format!("{:.1}", p.fixed_normalized),
                format!("{:.1}", p.leave_one_out_normalized),
                format!("{:.1}", p.optimized_normalized),
                format!("{:.4}", p.optimized.threshold),
            ]
        })
        .collect();
    output::table(
        &[
            "PROFILE",
            &format!("FIXED ({threshold})"),
            "LEAVE-ONE-OUT",
            "NAB-TUNED",
            "TUNED THRESHOLD",
        ],
        &rows,
    );
    let w = &result.windows;
    println!(
        "at the fixed threshold: {}/{} windows detected, {} of {} alarms inside windows",
        w.windows_detected, w.windows, w.alarms_in_windows, w.alarms
    );
    Ok(EXIT_PASS)
}

// ---------------------------------------------------------------------------------------------
// recommend

/// Parses `timestamp,cpu_cores,memory_bytes[,load]` with a header.
pub fn parse_usage_csv(text: &str, name: &str) -> Result<Vec<UsageSample>> {
    let mut out: Vec<UsageSample> = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        let number = idx + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if number == first_line(text) && parse_time(fields[0]).is_err() {
            continue;
        }
        if !(3..=4).contains(&fields.len()) {
            bail!(
                "{name} line {number}: expected `timestamp,cpu_cores,memory_bytes[,load]`, found {} fields",
                fields.len()
            );
        }
        let timestamp = parse_time(fields[0])
            .map_err(|e| anyhow::anyhow!("{name} line {number}, field `timestamp`: {e}"))?;
        let number_at = |i: usize, field: &str| -> Result<f64> {
            fields[i].parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).with_context(
                || {
                    format!(
                        "{name} line {number}, field `{field}`: `{}` is not a finite number ≥ 0",
                        fields[i]
                    )
                },
            )
        };
        let sample = UsageSample {
            timestamp,
            cpu_cores: number_at(1, "cpu_cores")?,
            memory_bytes: number_at(2, "memory_bytes")?,
            load: if fields.len() == 4 && !fields[3].is_empty() {
                Some(number_at(3, "load")?)
            } else {
                None
            },
        };
        if let Some(prev) = out.last()
            && sample.timestamp <= prev.timestamp
        {
            bail!(
                "{name} line {number}, field `timestamp`: {} is not after the previous row's {}; sort the file",
                sample.timestamp,
                prev.timestamp
            );
        }
        out.push(sample);
    }
    if out.is_empty() {
        bail!("{name}: no rows; expected `timestamp,cpu_cores,memory_bytes[,load]` lines");
    }
    Ok(out)
}

/// Usage from the store: cpu and memory aligned on the memory series' timestamps, with the
/// request rate as load where known.
fn store_usage(store: &dyn Store, app: &str, m: &MetricNames) -> Result<Vec<UsageSample>> {
    let memory = need_series(store, app, &m.memory_metric)?;
    let cpu = need_series(store, app, &m.cpu_metric)?;
    let load = store_series(store, app, &m.requests_metric)?;
    let nearest = |series: &[(i64, f64)], t: i64| -> Option<f64> {
        let i = series.partition_point(|p| p.0 < t);
        [i.checked_sub(1), Some(i)]
            .into_iter()
            .flatten()
            .filter_map(|j| series.get(j))
            .min_by_key(|p| (p.0 - t).abs())
            .map(|p| p.1)
    };
    Ok(memory
        .iter()
        .filter_map(|(t, mem)| {
            Some(UsageSample {
                timestamp: *t,
                cpu_cores: nearest(&cpu, *t)?.max(0.0),
                memory_bytes: mem.max(0.0),
                load: nearest(&load, *t),
            })
        })
        .collect())
}

struct Recommendations {
    vpa: Option<Recommendation>,
    ours: Option<Recommendation>,
    naive: Option<Recommendation>,
    replays: Vec<ReplayReport>,
}

fn recommenders() -> (VpaRecommender, ForecastAwareRecommender, NaiveRecommender) {
    let ours_config = ForecastAwareConfig::default();
    let naive = NaiveRecommender::new(ours_config.history_seconds, ours_config.naive_margin);
    (VpaRecommender::new(VpaConfig::default()), ForecastAwareRecommender::new(ours_config), naive)
}

fn recommend_all(trace: &[UsageSample], with_replay: bool) -> Result<Recommendations> {
    let (mut vpa, mut ours, mut naive) = recommenders();
    let now = trace.last().map_or(0, |s| s.timestamp);
    for s in trace {
        vpa.observe(s);
        ours.observe(s);
        naive.observe(s);
    }
    let mut replays = Vec::new();
    if with_replay {
        let (mut vpa, mut ours, mut naive) = recommenders();
        let span = now - trace[0].timestamp;
        let config = ReplayConfig {
            warmup_seconds: ReplayConfig::default().warmup_seconds.min(span / 4),
            ..ReplayConfig::default()
        };
        for r in [&mut vpa as &mut dyn Recommender, &mut ours, &mut naive] {
            replays.push(
                replay::replay(trace, r, &config).map_err(|e| anyhow::anyhow!("replay: {e}"))?,
            );
        }
    }
    Ok(Recommendations {
        vpa: vpa.recommend(now),
        ours: ours.recommend(now),
        naive: naive.recommend(now),
        replays,
    })
}

pub fn recommend(global: &Global, args: &RecommendArgs) -> Result<u8> {
    let trace = match (&args.input, &args.app) {
        (Some(path), _) => parse_usage_csv(&read_text(path)?, &path.display().to_string())?,
        (None, Some(app)) => {
            let store = context::open_store(global)?;
            store_usage(&store, app, &args.metrics)?
        }
        _ => bail!("pass --input usage.csv or --app APP"),
    };
    let r = recommend_all(&trace, args.replay)?;
    if args.json {
        output::json(&json!({
            "samples": trace.len(),
            "vpa": r.vpa,
            "ours": r.ours,
            "naive": r.naive,
            "replay": if args.replay { json!(r.replays) } else { serde_json::Value::Null },
        }));
        return Ok(EXIT_PASS);
    }
    let cell = |rec: &Option<Recommendation>| -> Vec<String> {
        match rec {
            Some(rec) => vec![
                format!("{:.3}", rec.target.cpu_cores),
                format_bytes(rec.target.memory_bytes),
                format!("{:.3} – {:.3}", rec.lower_bound.cpu_cores, rec.upper_bound.cpu_cores),
                format!(
                    "{} – {}",
                    format_bytes(rec.lower_bound.memory_bytes),
                    format_bytes(rec.upper_bound.memory_bytes)
                ),
            ],
            None => vec!["-".into(), "-".into(), "-".into(), "-".into()],
        }
    };
    let rows: Vec<Vec<String>> =
        [("vpa (reference)", &r.vpa), ("ours", &r.ours), ("naive (avg × 1.2)", &r.naive)]
            .into_iter()
            .map(|(name, rec)| {
                let mut row = vec![name.to_string()];
                row.extend(cell(rec));
                row
            })
            .collect();
    println!("{} samples", trace.len());
    output::table(&["RECOMMENDER", "CPU", "MEMORY", "CPU RANGE", "MEMORY RANGE"], &rows);
    if args.replay {
        println!();
        let rows: Vec<Vec<String>> = r
            .replays
            .iter()
            .map(|p| {
                vec![
                    p.recommender.to_string(),
                    p.oom_events.to_string(),
                    format!("{:.2}%", p.throttled_fraction * 100.0),
                    format!("{:.2}", p.cpu_slack),
                    format!("{:.2}", p.memory_slack),
                ]
            })
            .collect();
        output::table(&["REPLAY", "OOM EVENTS", "THROTTLED", "CPU SLACK", "MEMORY SLACK"], &rows);
    }
    Ok(EXIT_PASS)
}

fn format_bytes(b: f64) -> String {
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", b / (1024.0 * 1024.0 * 1024.0))
    } else {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    }
}

// ---------------------------------------------------------------------------------------------
// predict

/// Where `check --conditions predicted` finds an application's latest prediction.
///
/// The document is a file under shadowgate's home rather than a row in the store: it is a
/// versioned JSON document that people read, diff and attach to CI artefacts, `check
/// --conditions FILE` takes exactly the same file, and the store has no table for documents
/// (adding one would change the shared schema for one reader).
pub fn latest_conditions_path(app: &str) -> PathBuf {
    context::home().join("conditions").join(safe_name(app)).join("latest.json")
}

fn safe_name(app: &str) -> String {
    app.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect()
}

/// The peak of a forecast over its horizon, each bound taken at its own maximum.
fn peak_estimate(
    points: &[(i64, f64)],
    horizon: i64,
    metric: &str,
    warnings: &mut Vec<String>,
) -> Estimate {
    match forecast::forecast(points, &ForecastConfig::new(horizon)) {
        Ok(f) => {
            let max = |g: fn(&forecast::ForecastPoint) -> f64| {
                f.forecast.iter().map(g).fold(0.0_f64, f64::max)
            };
            let expected = max(|p| p.value);
            let lower95 = max(|p| p.lower95).min(expected);
            let lower80 = max(|p| p.lower80).clamp(lower95, expected);
            let upper80 = max(|p| p.upper80).max(expected);
            let upper95 = max(|p| p.upper95).max(upper80);
            Estimate {
                expected,
                lower80,
                upper80,
                lower95,
                upper95,
                metric: metric.into(),
                model: Some(model_name(&f)),
            }
        }
        Err(e) => {
            warnings.push(format!("`{metric}`: no forecast ({e}); using the observed peak"));
            let peak = points.iter().map(|p| p.1).fold(0.0_f64, f64::max);
            Estimate {
                expected: peak,
                lower80: peak,
                upper80: peak,
                lower95: peak,
                upper95: peak,
                metric: metric.into(),
                model: Some("observed_peak".into()),
            }
        }
    }
}

fn percentiles(points: &[(i64, f64)], scale: f64, metric: &str) -> Option<Percentiles> {
    if points.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = points.iter().map(|p| p.1 * scale).collect();
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Some(Percentiles {
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        max: v[v.len() - 1],
        metric: metric.into(),
    })
}

/// What past checks of an application ran with: the highest request rate and, per table, the
/// most rows loaded (from their settings `rate` and `data.TABLE`).
#[derive(Debug, Default)]
struct Tested {
    rate: Option<f64>,
    rows: TestedRows,
}

fn tested_by_checks(store: &dyn Store, app: &str) -> Result<Tested> {
    let mut tested = Tested::default();
    for run in store.runs(1000)?.into_iter().filter(|r| r.app == app && r.kind == "check") {
        let settings =
            run.config.get("settings").and_then(|s| s.as_array()).cloned().unwrap_or_default();
        for s in settings {
            let (Some(name), Some(value)) =
                (s.get("name").and_then(|n| n.as_str()), s.get("value").and_then(|v| v.as_str()))
            else {
                continue;
            };
            if name == "rate"
                && let Ok(rate) = value.trim_end_matches("/s").parse::<f64>()
            {
                tested.rate = Some(tested.rate.map_or(rate, |b| b.max(rate)));
            } else if let Some(table) = name.strip_prefix("data.")
                && let Some(rows) = loaded_rows(value)
            {
                more_rows(&mut tested.rows, table, rows, "a past check");
            }
        }
    }
    Ok(tested)
}

/// The row count of a `data.TABLE` setting, written `TABLE = N rows`.
fn loaded_rows(value: &str) -> Option<f64> {
    let (_, rest) = value.rsplit_once(" = ")?;
    rest.strip_suffix(" rows")?.trim().parse::<f64>().ok().filter(|r| r.is_finite())
}

fn more_rows(tested: &mut TestedRows, table: &str, rows: f64, source: &str) {
    match tested.get(table) {
        Some((known, _)) if *known >= rows => {}
        _ => {
            tested.insert(table.to_string(), (rows, source.to_string()));
        }
    }
}

/// The row counts a manifest's `[data]` loads (tables with `rows = "predicted"` have none).
fn manifest_rows(path: &Path, app: &str) -> Result<TestedRows> {
    let loaded = context::load_manifest(path)?;
    let name = &loaded.manifest.app.name;
    if name != app {
        bail!(
            "--manifest {}: it describes app `{name}`, not `{app}`; pass the manifest of `{app}`",
            path.display()
        );
    }
    let mut tested = TestedRows::new();
    for table in loaded.manifest.data.iter().flat_map(|d| &d.tables) {
        if let shadowgate_data::Rows::Count(n) = table.rows {
            more_rows(&mut tested, &table.name, n as f64, "the manifest's [data]");
        }
    }
    Ok(tested)
}

pub fn predict(global: &Global, args: &PredictArgs) -> Result<u8> {
    let horizon = parse_horizon(&args.horizon)?;
    let app = &args.app;
    // The manifest first: a wrong one is an error before any work.
    let loaded_rows_of_manifest = match &args.manifest {
        Some(path) => manifest_rows(path, app)?,
        None => TestedRows::new(),
    };
    let store = context::open_store(global)?;
    let m = &args.metrics;
    let mut warnings = Vec::new();
    let mut sources = 0usize;
    let mut series = |metric: &str| -> Result<Vec<(i64, f64)>> {
        let s = store_series(&store, app, metric)?;
        if s.is_empty() {
            warnings.push(format!("no telemetry for `{metric}`"));
        } else {
            sources += 1;
        }
        Ok(s)
    };
    let requests = series(&m.requests_metric)?;
    let concurrency = series(&m.concurrency_metric)?;
    let errors = series(&m.errors_metric)?;
    let latency = series(&m.latency_metric)?;
    let bandwidth = series(&m.bandwidth_metric)?;
    let memory = series(&m.memory_metric)?;
    let disk_used = series(&args.disk_used_metric)?;
    let disk_size = series(&args.disk_size_metric)?;
    if sources == 0 {
        // Nothing at all: name what was looked for, as need_series does.
        need_series(&store, app, &m.requests_metric)?;
    }
    let peak_request_rate = (!requests.is_empty())
        .then(|| peak_estimate(&requests, horizon, &m.requests_metric, &mut warnings));
    let peak_concurrency = (!concurrency.is_empty())
        .then(|| peak_estimate(&concurrency, horizon, &m.concurrency_metric, &mut warnings));

    // Data volume: the latest value per table, extrapolated linearly over the horizon.
    let mut data_volume = Vec::new();
    let rows = store.samples(&SampleQuery {
        app: Some(app.clone()),
        env_id: Some(String::new()),
        metric: Some(m.rows_metric.clone()),
        ..SampleQuery::default()
    })?;
    let mut per_table: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for s in rows {
        let table = s.series.labels.get("table").cloned().unwrap_or_else(|| "(unnamed)".into());
        per_table.entry(table).or_default().push((s.ts_ms / 1000, s.value));
    }
    for (table, mut points) in per_table {
        points.sort_by_key(|p| p.0);
        let last = points[points.len() - 1].1;
        let growth = risk::trend(&points).map_or(0.0, |t| t.slope.max(0.0) * horizon as f64);
        data_volume.push(TableVolume {
            table,
            rows: (last + growth).round(),
            metric: m.rows_metric.clone(),
        });
    }

    // Resources: ours, from cpu and memory usage with the request rate as load.
    let resources = match store_usage(&store, app, m) {
        Ok(trace) if !trace.is_empty() => {
            let r = recommend_all(&trace, false)?;
            match (r.ours, r.vpa) {
                (Some(rec), _) => Some((rec, "forecast_aware")),
                (None, Some(rec)) => Some((rec, "vpa")),
                _ => None,
            }
            .map(|(rec, name)| ResourceRecommendation {
                cpu_cores: (rec.target.cpu_cores * 1000.0).ceil() / 1000.0,
                memory_bytes: rec.target.memory_bytes.ceil().max((1 << 20) as f64) as u64,
                recommender: name.into(),
            })
        }
        _ => {
            warnings.push(format!(
                "no resource recommendation: needs `{}` and `{}`",
                m.cpu_metric, m.memory_metric
            ));
            None
        }
    };

    // Risks: the rules are pure (shadowgate_analytics::risk); this gathers their inputs.
    let network = NetworkObserved {
        latency_ms: percentiles(&latency, 1000.0, &m.latency_metric),
        bandwidth_bytes_per_second: percentiles(&bandwidth, 1.0, &m.bandwidth_metric),
    };
    let mut tested = tested_by_checks(&store, app)?;
    for (table, (rows, source)) in &loaded_rows_of_manifest {
        more_rows(&mut tested.rows, table, *rows, source);
    }
    let latency_ms: Vec<(i64, f64)> = latency.iter().map(|&(t, v)| (t, v * 1000.0)).collect();
    let capacity = disk_size.last().map(|p| p.1);
    if !disk_used.is_empty() && capacity.is_none() {
        warnings.push(format!(
            "disk use is not judged: no capacity in `{}` to compare `{}` with",
            args.disk_size_metric, args.disk_used_metric
        ));
    }
    let risks: Vec<_> = [
        risk::memory_trending_up(&memory, horizon, &m.memory_metric),
        risk::error_changepoint(&errors, &m.errors_metric).map_err(|e| anyhow::anyhow!("{e}"))?,
        peak_request_rate.as_ref().and_then(|peak| risk::load_above_tested(peak, tested.rate)),
        risk::dependency_latency(
            &latency_ms,
            network.latency_ms.as_ref(),
            horizon,
            &m.latency_metric,
        ),
        risk::disk_filling(&disk_used, capacity, horizon, &args.disk_used_metric),
        risk::data_above_tested(&data_volume, &tested.rows),
    ]
    .into_iter()
    .flatten()
    .collect();

    let document = PredictedConditions {
        version: CONDITIONS_VERSION,
        app: app.clone(),
        generated_at_unix_ms: context::now_ms(),
        horizon_seconds: horizon,
        peak_request_rate,
        peak_concurrency,
        data_volume,
        resources,
        network,
        risks,
    };
    document.validate().map_err(|e| anyhow::anyhow!("the prediction is unusable: {e}"))?;
    let text = serde_json::to_string_pretty(&document)? + "\n";
    let latest = latest_conditions_path(app);
    if let Some(dir) = latest.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let stamped = dir.join(format!("{}.json", document.generated_at_unix_ms));
        std::fs::write(&stamped, &text).with_context(|| format!("write {}", stamped.display()))?;
    }
    std::fs::write(&latest, &text).with_context(|| format!("write {}", latest.display()))?;
    if let Some(out) = &args.out {
        std::fs::write(out, &text).with_context(|| format!("write {}", out.display()))?;
    }
    for w in &warnings {
        eprintln!("{}: {w}", output::yellow("note"));
    }
    if args.json {
        print!("{text}");
        return Ok(EXIT_PASS);
    }
    print_conditions(&document);
    println!("{}", output::dim(&format!("saved as {}", latest.display())));
    Ok(EXIT_PASS)
}

fn print_conditions(d: &PredictedConditions) {
    println!("{} for {} over {} s", output::bold("predicted conditions"), d.app, d.horizon_seconds);
    let est = |name: &str, e: &Option<Estimate>| {
        if let Some(e) = e {
            println!(
                "  {name}: {:.2} (80% {:.2}–{:.2}, 95% {:.2}–{:.2}) from `{}`",
                e.expected, e.lower80, e.upper80, e.lower95, e.upper95, e.metric
            );
        }
    };
    est("peak request rate /s", &d.peak_request_rate);
    est("peak concurrency", &d.peak_concurrency);
    for t in &d.data_volume {
        println!("  table {}: {:.0} rows", t.table, t.rows);
    }
    if let Some(r) = &d.resources {
        println!(
            "  resources: {:.3} cores, {} ({})",
            r.cpu_cores,
            format_bytes(r.memory_bytes as f64),
            r.recommender
        );
    }
    if let Some(l) = &d.network.latency_ms {
        println!("  network latency ms: p50 {:.2}, p99 {:.2}", l.p50, l.p99);
    }
    if let Some(b) = &d.network.bandwidth_bytes_per_second {
        println!("  bandwidth B/s: p50 {:.0}, p99 {:.0}", b.p50, b.p99);
    }
    for r in &d.risks {
        println!("  {} {}", output::yellow("risk:"), r.message);
    }
}

/// Reads and checks a predicted-conditions document. serde_json's errors name the line, the
/// column and, for an unknown, missing or mistyped field, the field.
pub fn read_conditions(path: &Path) -> Result<PredictedConditions> {
    let text = read_text(path)?;
    let document: PredictedConditions = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: not a predicted-conditions document: {e} (write one with `shadowgate predict --out FILE`)",
            path.display()
        )
    })?;
    document.validate().map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(document)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_errors_name_the_line_and_field() {
        let e = parse_series_csv("timestamp,value\n1,2\n2,abc\n", "f.csv").unwrap_err();
        assert_eq!(e.to_string(), "f.csv line 3, field `value`: `abc` is not a finite number");
        let e = parse_series_csv("1,2\nnope,3\n", "f.csv").unwrap_err();
        assert!(e.to_string().starts_with("f.csv line 2, field `timestamp`:"), "{e}");
        let rows = parse_series_csv("timestamp,value\n2014-01-01 00:00:00,1.5\n", "f").unwrap();
        assert_eq!(rows[0].1, 1_388_534_400);
    }

    #[test]
    fn counters_become_rates_across_resets() {
        let r = rates(&[(0, 10.0), (1000, 20.0), (3000, 4.0)]);
        assert_eq!(r, vec![(1000, 10.0), (3000, 2.0)]);
    }

    #[test]
    fn usage_rows_must_increase() {
        let e = parse_usage_csv("timestamp,cpu,mem\n10,1,2\n10,1,2\n", "u.csv").unwrap_err();
        assert!(e.to_string().contains("line 3, field `timestamp`"), "{e}");
    }

    #[test]
    fn data_settings_give_the_most_rows_a_check_loaded() {
        assert_eq!(loaded_rows("orders = 30000 rows"), Some(30000.0));
        assert_eq!(loaded_rows("orders = many rows"), None);
        assert_eq!(loaded_rows("30000"), None);
        let mut tested = TestedRows::new();
        more_rows(&mut tested, "orders", 500.0, "a past check");
        more_rows(&mut tested, "orders", 300.0, "the manifest's [data]");
        assert_eq!(tested["orders"], (500.0, "a past check".to_string()));
        more_rows(&mut tested, "orders", 900.0, "the manifest's [data]");
        assert_eq!(tested["orders"], (900.0, "the manifest's [data]".to_string()));
    }
}
