//! Command-line definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Rehearse a release in a shadow environment before it ships.
///
/// shadowgate runs your candidate release beside the current one, in isolated environments with
/// production-like limits, load and faults, judges the two statistically and tells your pipeline
/// whether it is safe to ship. Exit codes: 0 pass, 1 fail, 2 error.
#[derive(Debug, Parser)]
#[command(name = "shadowgate", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The store file (SQLite). Default: $SHADOWGATE_HOME/shadowgate.db.
    #[arg(long, global = true, env = "SHADOWGATE_STORE", value_name = "PATH")]
    pub store: Option<PathBuf>,
    /// Never use colour (also when NO_COLOR is set).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Print less: no progress bars, no hints.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the baseline and the candidate side by side under load and judge them.
    ///
    /// Both releases start in isolated environments with the same limits and data, receive the
    /// same deterministic requests at the same instants, and are compared metric by metric.
    /// Exit code 0: safe to ship; 1: the candidate regressed; 2: the check could not run.
    Check(CheckArgs),
    /// Run the bundled example: an A/A check (v1 vs v1, must pass), then v1 vs v2 (must fail).
    Demo(DemoArgs),
    /// Send load to a URL: the manifest's [traffic] mix (or GET /), open model, latency from
    /// the intended send time. `--max-rate` finds the highest rate instead.
    Load(LoadArgs),
    /// List past runs, or show one.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Rebuild a run's report (HTML, JSON or JUnit XML) from the store.
    Report(ReportArgs),
    /// Check a manifest (shadowgate.toml) and explain every problem.
    Validate(ValidateArgs),
    /// Show which isolation features work on this machine.
    Doctor(JsonArgs),
    /// Manage environments: up, ls, down, gc, diff.
    #[command(subcommand)]
    Env(EnvCommand),
    /// Serve the fault proxy: a TCP proxy with Toxiproxy's HTTP API and toxics.
    Faultproxy(crate::cmd::faultproxy::FaultproxyArgs),
    /// Reverse proxy in front of a live service that copies its traffic to shadows.
    Mirror(crate::cmd::traffic::MirrorArgs),
    /// Recording reverse proxy: passes traffic through and writes it to a file.
    Record(crate::cmd::traffic::RecordArgs),
    /// Send a recording to a target, keeping its inter-arrival pattern.
    Replay(crate::cmd::traffic::ReplayArgs),
    /// Bring telemetry into the store: scrape Prometheus, receive OTLP, import files.
    #[command(subcommand)]
    Ingest(crate::cmd::ingest::IngestCommand),
    /// Forecast a series with 80% and 95% intervals.
    Forecast(crate::cmd::analytics::ForecastArgs),
    /// Score every point of a series for anomaly, streaming.
    Detect(crate::cmd::analytics::DetectArgs),
    /// Evaluate the detector on a benchmark corpus.
    #[command(subcommand)]
    Eval(crate::cmd::analytics::EvalCommand),
    /// Recommend cpu and memory requests and limits from usage.
    Recommend(crate::cmd::analytics::RecommendArgs),
    /// Write the conditions a release will face: load, data, resources, risks.
    Predict(crate::cmd::analytics::PredictArgs),
    /// Synthetic data from the manifest's [data]: generate into PostgreSQL or SQLite.
    #[command(subcommand)]
    Data(crate::cmd::data::DataCommand),
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ManifestArg {
    /// The application's manifest.
    #[arg(long, short, default_value = "shadowgate.toml", value_name = "PATH")]
    pub manifest: PathBuf,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub manifest: ManifestArg,
    #[command(flatten)]
    pub out: JsonArgs,
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Start an environment running one release; prints its id and host endpoint.
    Up(EnvUpArgs),
    /// List environments.
    Ls(EnvLsArgs),
    /// Stop environments and remove everything they created.
    Down(EnvDownArgs),
    /// Remove what crashed or killed runs left behind (processes, cgroups, mounts, namespaces).
    Gc(JsonArgs),
    /// List the files an environment changed, added or deleted in its release directory.
    Diff(EnvDiffArgs),
    /// Run one command in a fresh, isolated sandbox (own network, mounts, PIDs; cgroup limits).
    Run(EnvRunArgs),
}

#[derive(Debug, Args)]
pub struct EnvRunArgs {
    /// CPU limit in cores.
    #[arg(long, default_value_t = 1.0)]
    pub cpu: f64,
    /// Memory limit, e.g. 512MiB.
    #[arg(long, default_value = "512MiB")]
    pub memory: String,
    /// Process limit.
    #[arg(long, default_value_t = 1024)]
    pub pids: u64,
    /// No cgroup at all: namespaces only, like `unshare` (faster to start, nothing enforced).
    #[arg(long, conflicts_with_all = ["cpu", "memory", "pids"])]
    pub no_limits: bool,
    /// The command and its arguments.
    #[arg(required = true, last = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct EnvUpArgs {
    #[command(flatten)]
    pub manifest: ManifestArg,
    /// The release to run (a key of [releases] in the manifest).
    #[arg(long, short)]
    pub release: String,
    /// What the environment is for: standalone, baseline, candidate, or shadow:<production name>.
    #[arg(long, default_value = "standalone")]
    pub role: String,
    /// Return once the environment is healthy and leave it running (stop it with `env down`).
    #[arg(long, short)]
    pub detach: bool,
    /// Host port for the endpoint (default: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// How often resource usage is sampled into the store.
    #[arg(long, default_value = "1s", value_name = "DURATION")]
    pub sample_interval: String,
    /// Skip the releases' build commands.
    #[arg(long)]
    pub no_build: bool,
    /// Run even where an isolation feature is missing, without it (each one is reported).
    #[arg(long)]
    pub allow_degraded: bool,
    #[command(flatten)]
    pub out: JsonArgs,
}

#[derive(Debug, Args)]
pub struct EnvLsArgs {
    /// Include stopped, failed and collected environments.
    #[arg(long, short)]
    pub all: bool,
    #[command(flatten)]
    pub out: JsonArgs,
}

#[derive(Debug, Args)]
pub struct EnvDownArgs {
    /// Environment ids (as printed by `env up` or `env ls`).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub ids: Vec<String>,
    /// Stop every running environment.
    #[arg(long)]
    pub all: bool,
    /// How long to wait for each environment to stop before killing it.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub timeout: String,
    #[command(flatten)]
    pub out: JsonArgs,
}

#[derive(Debug, Args)]
pub struct EnvDiffArgs {
    pub id: String,
    #[command(flatten)]
    pub out: JsonArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub manifest: ManifestArg,
    /// The release in production today.
    #[arg(long, short)]
    pub baseline: String,
    /// The release to judge.
    #[arg(long, short)]
    pub candidate: String,
    /// Judged duration (after the warm-up); overrides `[traffic] duration`.
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Warm-up before the judged part; overrides `[traffic] warmup`.
    #[arg(long, value_name = "DURATION")]
    pub warmup: Option<String>,
    /// Requests per second sent to each release; overrides `[traffic] rate`.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seed of the request sequence; overrides `[traffic] seed`.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Take the request rate and resource limits from predicted conditions: `predicted` (the
    /// app's latest `shadowgate predict`) or a document written by `predict --out FILE`.
    /// Explicit flags still win over it.
    #[arg(long, value_name = "predicted|FILE")]
    pub conditions: Option<String>,
    /// Write report.json, report.junit.xml and report.html into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// What a marginal verdict means for the exit code; overrides `[judge] on_marginal`.
    #[arg(long, value_parser = ["pass", "fail"])]
    pub marginal: Option<String>,
    /// How often resource usage is sampled.
    #[arg(long, default_value = "1s", value_name = "DURATION")]
    pub sample_interval: String,
    /// Skip the releases' build commands.
    #[arg(long)]
    pub no_build: bool,
    /// Run even where an isolation feature is missing, without it (each one is reported).
    #[arg(long)]
    pub allow_degraded: bool,
    /// Run every `[[scenarios]]` and `[[tests]]` entry, not only those whose risk tags the
    /// predicted conditions flag (entries without a risk tag always run).
    #[arg(long)]
    pub all_tests: bool,
    #[command(flatten)]
    pub out_format: JsonArgs,
    /// Print nothing at the end (the caller reports the run itself, as `demo --json` does).
    #[arg(skip)]
    pub silent: bool,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs, newest first.
    Ls(RunsLsArgs),
    /// Show one run: its verdict and every metric.
    Show(RunShowArgs),
}

#[derive(Debug, Args)]
pub struct RunsLsArgs {
    /// How many runs to list.
    #[arg(long, short = 'n', default_value_t = 20)]
    pub limit: usize,
    #[command(flatten)]
    pub out: JsonArgs,
}

#[derive(Debug, Args)]
pub struct RunShowArgs {
    /// The run id (as printed by `check` and `runs ls`).
    pub id: String,
    #[command(flatten)]
    pub out: JsonArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run id.
    pub id: String,
    /// Which rendering.
    #[arg(long, short, value_parser = ["html", "json", "junit"], default_value = "html")]
    pub format: String,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the reports go (default: a directory under $SHADOWGATE_HOME/demo).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Judged duration of each check (default: the example's [traffic]).
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Skip building the example's releases (they must already be built).
    #[arg(long)]
    pub no_build: bool,
    /// Run the lighter variant on SQLite (examples/inventory/shadowgate.toml), with no
    /// PostgreSQL server and no database link to shape. By default the example runs on
    /// PostgreSQL (examples/inventory/shadowgate.postgres.toml): a server per environment,
    /// 825,000 rows loaded with COPY, production's database latency and a latency spike.
    #[arg(long)]
    pub sqlite: bool,
    #[command(flatten)]
    pub out_format: JsonArgs,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The base URL, e.g. http://127.0.0.1:8080.
    pub url: String,
    /// Take the request mix (and defaults) from this manifest's [traffic].
    #[arg(long, short, value_name = "PATH")]
    pub manifest: Option<PathBuf>,
    /// Requests per second (open model).
    #[arg(long)]
    pub rate: Option<f64>,
    /// How long to send after the warm-up.
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Warm-up, sent but reported apart.
    #[arg(long, value_name = "DURATION")]
    pub warmup: Option<String>,
    /// Maximum connections.
    #[arg(long)]
    pub connections: Option<u32>,
    /// Seed of the request sequence.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Speak HTTP/2 (prior knowledge) instead of HTTP/1.1.
    #[arg(long)]
    pub http2: bool,
    /// Closed loop as fast as the connections allow, to find the highest rate.
    #[arg(long)]
    pub max_rate: bool,
    /// Threads for --max-rate.
    #[arg(long, default_value_t = 2)]
    pub threads: u32,
    #[command(flatten)]
    pub out: JsonArgs,
}
