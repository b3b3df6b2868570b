//! `shadowgate check`: baseline and candidate side by side under the same load, judged.
//!
//! The phases, each visible on the terminal:
//! 1. build both releases (their `build` commands);
//! 2. start both environments at the same time, with the same limits and the same install steps;
//! 3. send one deterministic request plan to both, interleaved, reaching each application
//!    through a socket created inside its network namespace (no forwarding hop);
//! 4. stop both, read their resource samples and events from the store;
//! 5. judge, store the run, write the reports, print the verdict.

mod collect;
mod conditions;
mod diff;
mod document;
mod replay;
mod scenarios;
mod scrape;

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde_json::json;
use shadowgate_core::{
    env::{EnvId, Role},
    traffic::{Plan, Traffic},
    units::HumanDuration,
};
use shadowgate_judge::{Verdict, config::MarginalPolicy};
use shadowgate_load::{Connector, LoadConfig, RunReport, Target};
use shadowgate_sandbox::{EnvHandle, Progress};
use shadowgate_store::{
    EventQuery, Run, RunStatus, Sample, SampleQuery, SeriesKey, SqliteStore, Store,
};

use crate::{
    EXIT_FAIL, EXIT_PASS,
    cli::{CheckArgs, Global},
    cmd::env::{EnvOptions, env_spec},
    context::{self, Loaded},
    output,
};

pub use collect::{ArmData, Window};

/// The interval of per-interval latency metrics and plots.
const INTERVAL: Duration = Duration::from_secs(1);

/// A setting of the run and where its value came from.
#[derive(Clone, Debug)]
pub struct Setting {
    pub name: &'static str,
    pub value: String,
    pub source: &'static str,
}

/// Everything a finished check knows.
pub struct Outcome {
    pub run_id: String,
    pub app: String,
    pub baseline: (String, String),
    pub candidate: (String, String),
    pub started_ms: i64,
    pub wall: Duration,
    pub settings: Vec<Setting>,
    pub verdict: Verdict,
    pub arms: [ArmData; 2],
    pub warmup: Duration,
    pub offered_rate: f64,
    /// Injected faults on the timeline (none yet without scenarios).
    pub faults: Vec<shadowgate_report::TimelineEvent>,
    /// The user's `[[tests]]`, one result per test and arm.
    pub tests: Vec<shadowgate_report::TestCommandResult>,
    pub warnings: Vec<String>,
    /// The response diff (`[diff]`), when it ran.
    pub diff: Option<shadowgate_report::ResponseDiff>,
    pub exit_code: u8,
}

pub fn run(global: &Global, args: &CheckArgs) -> Result<u8> {
    execute(global, args).map(|(_, code)| code)
}

/// Runs a check, prints its summary (or JSON) and writes its reports; returns the report and
/// the exit code.
pub fn execute(global: &Global, args: &CheckArgs) -> Result<(shadowgate_report::CheckReport, u8)> {
    let started = Instant::now();
    let ui = Ui::new(args.out_format.json);
    let mut loaded = context::load_manifest(&args.manifest.manifest)?;
    let (mut traffic, seed, mut settings) = traffic_settings(&loaded, args)?;
    let (conditions_used, network) =
        conditions::apply(args, &mut loaded, &mut traffic, &mut settings)?;
    let (plan, replay_warnings) = replay::plan(&loaded, &traffic, seed, args.rate, &mut settings)?;
    let diff_enabled = diff::enabled(&loaded)?;
    let selected = scenarios::select(&loaded, args, plan.total_duration())?;
    settings.extend(selected.settings());
    let mut judge = loaded.manifest.judge.clone().unwrap_or_default();
    if judge.metrics.is_empty() {
        judge.metrics = shadowgate_judge::default_metrics();
    }
    if let Some(m) = &args.marginal {
        judge.on_marginal = if m == "pass" { MarginalPolicy::Pass } else { MarginalPolicy::Fail };
        settings.push(Setting { name: "on_marginal", value: m.clone(), source: "flag" });
    }
    let sample_interval = args
        .sample_interval
        .parse::<HumanDuration>()
        .map_err(|e| anyhow::anyhow!("--sample-interval: {e}"))?
        .0;

    let store = Arc::new(context::open_store(global)?);
    let run_id = format!("run-{}", EnvId::from_entropy(context::entropy()));
    let app = loaded.manifest.app.name.clone();

    // 1. Build.
    let step = ui.step(&format!("building {} and {}", args.baseline, args.candidate));
    let build_log = context::home().join("logs").join(&run_id).join("build.log");
    let paths: Vec<PathBuf> = [&args.baseline, &args.candidate]
        .into_iter()
        .map(|r| {
            let p = loaded.resolve_release(r, !args.no_build, &build_log)?;
            context::record_release(store.as_ref(), &loaded, r, &p)?;
            Ok(p)
        })
        .collect::<Result<_>>()?;
    step.done(&format!("built {} and {}", args.baseline, args.candidate));

    let mut run = Run {
        id: run_id.clone(),
        app: app.clone(),
        kind: "check".into(),
        baseline: args.baseline.clone(),
        candidate: args.candidate.clone(),
        status: RunStatus::Running,
        score: None,
        started_ms: context::now_ms(),
        finished_ms: None,
        config: json!({
            "settings": settings.iter().map(|s| json!({"name": s.name, "value": s.value, "source": s.source})).collect::<Vec<_>>(),
            "judge": judge,
        }),
        result: None,
    };
    store.insert_run(&run)?;

    let result = (|| -> Result<Outcome> {
        // 2. Environments.
        let step = ui.step("starting baseline and candidate environments");
        let secondary = diff_enabled
            .as_ref()
            .map(|_| {
                let path = paths[0].clone();
                diff::start_secondary(global, &loaded, &run_id, args, path, sample_interval, &store)
            })
            .transpose()?;
        let handles = start_pair(
            global,
            &loaded,
            &run_id,
            args,
            &paths,
            sample_interval,
            &store,
            &step,
            &selected,
        )?;
        // The network conditions hold for the whole run, on both arms alike.
        let shaping = match conditions::shape(&network, &handles, &store) {
            Ok(injectors) => injectors,
            Err(e) => {
                let _ = stop_pair(handles);
                return Err(e);
            }
        };
        let ids = (handles[0].id.clone(), handles[1].id.clone());
        step.done(&format!(
            "environments up: baseline {} in {:.1} s, candidate {} in {:.1} s, healthy",
            ids.0,
            handles[0].startup_ms as f64 / 1000.0,
            ids.1,
            handles[1].startup_ms as f64 / 1000.0
        ));

        // With [diff]: the same requests to baseline, a second baseline and candidate.
        let diff =
            match diff::phase(diff_enabled.as_ref(), secondary, &plan, &traffic, &handles, &ui) {
                Ok(diff) => diff,
                Err(e) => {
                    let _ = stop_pair(handles);
                    return Err(e);
                }
            };

        // Pre-deployment tests, on both environments at once, before the load.
        let test_runs = if selected.tests.is_empty() {
            Vec::new()
        } else {
            let step = ui.step(&format!("running {} test command(s)", selected.tests.len()));
            let runs = scenarios::run_tests(&selected.tests, &handles, &loaded.dir, store.as_ref());
            step.done(&format!("ran {} test command(s) on both environments", runs.len()));
            runs
        };
        let (test_results, test_warnings, tests_fail) = scenarios::judge_tests(&test_runs);

        // 3. Load, with the scenarios' faults applied to both arms at the same instants.
        let scheduler = match scenarios::Scheduler::start(
            &selected.timeline,
            &handles,
            &store,
            &run_id,
            Instant::now(),
        ) {
            Ok(s) => s,
            Err(e) => {
                let _ = stop_pair(handles);
                return Err(e);
            }
        };
        let load_started_ms = context::now_ms();
        let metrics_path = loaded.manifest.run.metrics.as_deref();
        let load = run_load(&plan, &traffic, &handles, metrics_path, sample_interval, &ui);
        let finished = scheduler.finish();
        // Let the supervisors take one more sample covering the end of the load.
        std::thread::sleep(sample_interval + Duration::from_millis(100));
        let load_ended_ms = context::now_ms();

        // 4. Stop and collect.
        drop(shaping);
        let step = ui.step("stopping environments");
        let stopped = stop_pair(handles);
        let (load, scraped) = load?;
        stopped?;
        step.done("environments stopped and removed");
        if !finished.errors.is_empty() {
            bail!(
                "the scenarios could not be applied as planned, so the arms are not comparable:\n  {}",
                finished.errors.join("\n  ")
            );
        }
        let mut arms = [
            arm_data(store.as_ref(), &ids.0, load_started_ms, load_ended_ms, &load, 0)?,
            arm_data(store.as_ref(), &ids.1, load_started_ms, load_ended_ms, &load, 1)?,
        ];
        if metrics_path.is_some() {
            for ((arm, scraped), env_id) in arms.iter_mut().zip(&scraped).zip([&ids.0, &ids.1]) {
                arm.prometheus = scrape::fold(&scraped.scrapes);
                arm.prometheus_error = scraped.error();
                store_scrapes(store.as_ref(), &app, env_id, load_started_ms, &arm.prometheus)?;
            }
        }

        // 5. Judge.
        let window = Window {
            start_ms: plan.warmup().as_millis() as i64,
            end_ms: load.elapsed.as_millis() as i64,
        };
        let names: Vec<&str> = plan.request_names().collect();
        let inputs =
            collect::metric_inputs(&judge.metrics, &arms[0], &arms[1], window, INTERVAL, &names);
        let mut verdict = shadowgate_judge::judge(&judge, &inputs);
        let diff_passes = diff.as_ref().is_none_or(|d| d.passed);
        // A response diff beyond noise, or a test that fails only on the candidate, fails the
        // check whatever the metrics say: the verdict itself says so, so that every rendering
        // (terminal, JSON, JUnit, HTML, the stored run) agrees with the exit code.
        let mut overrides = Vec::new();
        if !diff_passes {
            overrides.push("the candidate's responses differ from the baseline's beyond noise");
        }
        if tests_fail {
            overrides.push("a [[tests]] command fails on the candidate and passes on the baseline");
        }
        if !overrides.is_empty() {
            verdict.decision = shadowgate_judge::verdict::Decision::Fail;
            verdict.passes_gate = false;
            verdict.summary = format!(
                "FAIL: {}; the metrics alone: {}",
                overrides.join(", and "),
                verdict.summary
            );
        }
        let exit_code = if verdict.passes_gate { EXIT_PASS } else { EXIT_FAIL };
        let mut warnings = replay_warnings.clone();
        warnings.extend(selected.left_out.iter().cloned());
        warnings.extend(test_warnings);
        Ok(Outcome {
            run_id: run_id.clone(),
            app: app.clone(),
            baseline: (args.baseline.clone(), ids.0),
            candidate: (args.candidate.clone(), ids.1),
            started_ms: run.started_ms,
            wall: started.elapsed(),
            settings: settings.clone(),
            verdict,
            arms,
            warmup: plan.warmup(),
            offered_rate: plan.rate(),
            faults: finished.events,
            tests: test_results,
            warnings,
            diff,
            exit_code,
        })
    })();

    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            run.status = RunStatus::Errored;
            run.finished_ms = Some(context::now_ms());
            run.result = Some(json!({"error": format!("{e:#}")}));
            let _ = store.update_run(&run);
            return Err(e);
        }
    };
    let mut report = document::build(&outcome);
    report.conditions = conditions_used;
    let document = serde_json::from_str::<serde_json::Value>(&shadowgate_report::to_json(&report))
        .context("encode the report")?;
    run.status = match outcome.verdict.decision {
        shadowgate_judge::verdict::Decision::Pass => RunStatus::Passed,
        shadowgate_judge::verdict::Decision::Marginal => RunStatus::Marginal,
        shadowgate_judge::verdict::Decision::Fail => RunStatus::Failed,
    };
    run.score = outcome.verdict.score;
    run.finished_ms = Some(context::now_ms());
    run.result = Some(document.clone());
    store.update_run(&run)?;

    if let Some(dir) = &args.out {
        write_reports(&report, dir)?;
    }
    if args.out_format.json && !args.silent {
        output::json(&document);
    } else if !args.silent {
        print_summary(&report, args.out.as_ref());
        if let Some(d) = &report.diff {
            diff::print(d);
        }
    }
    Ok((report, outcome.exit_code))
}

/// The traffic of this run: the manifest's `[traffic]` (or the default) with the flags applied.
fn traffic_settings(loaded: &Loaded, args: &CheckArgs) -> Result<(Traffic, u64, Vec<Setting>)> {
    let from_manifest = loaded.manifest.traffic.is_some();
    let mut traffic = loaded.manifest.traffic.clone().unwrap_or_default();
    let base = if from_manifest { "manifest" } else { "default" };
    let mut sources = [base; 4];
    if let Some(d) = &args.duration {
        traffic.duration = d.parse().map_err(|e| anyhow::anyhow!("--duration: {e}"))?;
        sources[0] = "flag";
    }
    if let Some(w) = &args.warmup {
        traffic.warmup = w.parse().map_err(|e| anyhow::anyhow!("--warmup: {e}"))?;
        sources[1] = "flag";
    }
    if let Some(r) = args.rate {
        if !(r.is_finite() && r > 0.0) {
            bail!("--rate: {r} is not a positive number of requests per second");
        }
        traffic.rate = r;
        sources[2] = "flag";
    }
    let seed = args.seed.unwrap_or(traffic.seed);
    if args.seed.is_some() {
        sources[3] = "flag";
    }
    let m = &loaded.manifest.resources;
    let settings = vec![
        Setting { name: "duration", value: traffic.duration.to_string(), source: sources[0] },
        Setting { name: "warmup", value: traffic.warmup.to_string(), source: sources[1] },
        Setting { name: "rate", value: format!("{}/s", traffic.rate), source: sources[2] },
        Setting { name: "seed", value: seed.to_string(), source: sources[3] },
        Setting {
            name: "arrival",
            value: format!("{:?}", traffic.arrival).to_lowercase(),
            source: base,
        },
        Setting { name: "connections", value: traffic.max_connections.to_string(), source: base },
        Setting { name: "cpu", value: format!("{} cores", m.cpu), source: "manifest" },
        Setting { name: "memory", value: m.memory.to_string(), source: "manifest" },
        Setting { name: "pids", value: m.pids.to_string(), source: "manifest" },
        Setting { name: "disk", value: m.disk.to_string(), source: "manifest" },
    ];
    Ok((traffic, seed, settings))
}

/// Starts both environments at once; if either fails, the other is stopped.
#[allow(clippy::too_many_arguments)]
fn start_pair(
    global: &Global,
    loaded: &Loaded,
    run_id: &str,
    args: &CheckArgs,
    paths: &[PathBuf],
    sample_interval: Duration,
    store: &Arc<SqliteStore>,
    step: &Step,
    selected: &scenarios::Selected,
) -> Result<[EnvHandle; 2]> {
    let backend = context::backend()?;
    // Both arms get the file systems of the io_error scenarios selected for this run.
    let mut io_error_paths: Vec<String> = Vec::new();
    for scheduled in &selected.timeline.faults {
        if let shadowgate_core::scenario::Fault::IoError { path } = &scheduled.fault
            && !io_error_paths.contains(path)
        {
            io_error_paths.push(path.clone());
        }
    }
    let specs: Vec<_> = [
        (Role::Baseline, &args.baseline, &paths[0]),
        (Role::Candidate, &args.candidate, &paths[1]),
    ]
    .into_iter()
    .map(|(role, release, path)| {
        let opts = EnvOptions {
            role,
            run_id: Some(run_id.to_string()),
            host_port: 0,
            sample_interval,
            allow_degraded: args.allow_degraded,
            watch_starter: true,
        };
        let mut spec = env_spec(
            global,
            loaded,
            &EnvId::from_entropy(context::entropy()),
            release,
            path.clone(),
            &opts,
        );
        spec.io_error_paths = io_error_paths.clone();
        spec
    })
    .collect();
    let results: Vec<Result<EnvHandle>> = std::thread::scope(|s| {
        let threads: Vec<_> = specs
            .iter()
            .zip(["baseline", "candidate"])
            .map(|(spec, role)| {
                let backend = backend.clone();
                let store = store.clone();
                let step = step.clone();
                s.spawn(move || {
                    backend
                        .up(store.as_ref(), spec, |p| {
                            step.note(&format!(
                                "{role}: {}",
                                match p {
                                    Progress::Installing => "installing",
                                    Progress::Starting => "waiting for health",
                                    Progress::Running => "running",
                                }
                            ))
                        })
                        .map_err(|e| {
                            anyhow::anyhow!(
                                "{role} environment: {e}\n  logs: {}",
                                spec.log_dir.display()
                            )
                        })
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a start thread panicked"))))
            .collect()
    });
    let mut handles = Vec::new();
    let mut error = None;
    for r in results {
        match r {
            Ok(h) => handles.push(h),
            Err(e) => error = Some(e),
        }
    }
    if let Some(e) = error {
        for h in handles {
            let _ = h.stop();
        }
        return Err(e);
    }
    let mut it = handles.into_iter();
    match (it.next(), it.next()) {
        (Some(a), Some(b)) => Ok([a, b]),
        _ => bail!("an environment did not start"),
    }
}

fn stop_pair(handles: [EnvHandle; 2]) -> Result<()> {
    let results: Vec<Result<(), String>> = std::thread::scope(|s| {
        let threads: Vec<_> = handles.into_iter().map(|h| s.spawn(move || h.stop())).collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| Err("a stop thread panicked".into())))
            .collect()
    });
    for r in results {
        r.map_err(|e| anyhow::anyhow!(e))?;
    }
    Ok(())
}

/// Sends the plan to both environments, through sockets created inside their namespaces,
/// and scrapes their own metrics at `path` every `interval` meanwhile.
fn run_load(
    plan: &Plan,
    traffic: &Traffic,
    handles: &[EnvHandle; 2],
    metrics_path: Option<&str>,
    interval: Duration,
    ui: &Ui,
) -> Result<(RunReport, Vec<scrape::Scraped>)> {
    let mut targets = Vec::new();
    let mut endpoints = Vec::new();
    for (h, name) in handles.iter().zip(["baseline", "candidate"]) {
        let sockets =
            h.sockets().map_err(|e| anyhow::anyhow!("reach the {name} environment: {e}"))?;
        let addr = h.inner_addr();
        endpoints.push((sockets.clone(), addr));
        let connector = Connector::new(move || {
            let sockets = sockets.clone();
            async move { sockets.connect(addr).await }
        });
        targets.push(Target::new(name, addr).with_connector(connector));
    }
    let config = LoadConfig::from_traffic(traffic);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let bar = ui.load_bar(plan);
    let (report, scraped) = runtime.block_on(async {
        let started = Instant::now();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let scrapers: Vec<_> = endpoints
            .into_iter()
            .map(|(sockets, addr)| {
                let path = metrics_path.map(str::to_string);
                let mut stopped = stopped.clone();
                tokio::spawn(async move {
                    let Some(path) = path else { return scrape::Scraped::default() };
                    let fetch = || scrape::fetch(|| sockets.connect(addr), addr, &path);
                    scrape::every(interval, started, &mut stopped, fetch).await
                })
            })
            .collect();
        let cancel = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let report =
            shadowgate_load::run_open_model(plan, &targets, &config, |p| bar.update(p), cancel)
                .await;
        let _ = stop.send(true);
        let mut scraped = Vec::new();
        for s in scrapers {
            scraped.push(s.await.unwrap_or_default());
        }
        (report, scraped)
    });
    bar.finish();
    let report = report.context("run the load")?;
    if report.cancelled {
        bail!("interrupted: the load was cancelled before the plan ended");
    }
    Ok((report, scraped))
}

/// Keeps the folded `prom:` series of one arm in the store, beside its resource samples.
fn store_scrapes(
    store: &dyn Store,
    app: &str,
    env_id: &str,
    load_started_ms: i64,
    series: &std::collections::BTreeMap<String, Vec<(i64, f64)>>,
) -> Result<()> {
    let samples: Vec<Sample> = series
        .iter()
        .flat_map(|(name, points)| {
            points.iter().map(move |(t, v)| Sample {
                series: SeriesKey {
                    app: app.to_string(),
                    env_id: env_id.to_string(),
                    metric: format!("prom:{name}"),
                    labels: Default::default(),
                },
                ts_ms: load_started_ms + t,
                value: *v,
            })
        })
        .collect();
    store.append_samples(&samples).context("store the scraped metrics")?;
    Ok(())
}

/// Reads one arm's resource samples and events from the store, relative to the load start.
fn arm_data(
    store: &dyn Store,
    env_id: &str,
    start_ms: i64,
    end_ms: i64,
    load: &RunReport,
    target: usize,
) -> Result<ArmData> {
    let series = |metric: &str| -> Result<Vec<(i64, f64)>> {
        Ok(store
            .samples(&SampleQuery {
                env_id: Some(env_id.into()),
                metric: Some(metric.into()),
                from_ms: Some(start_ms),
                to_ms: Some(end_ms + 1),
                ..Default::default()
            })?
            .into_iter()
            .map(|s| (s.ts_ms - start_ms, s.value))
            .collect())
    };
    let events = store.events(&EventQuery { env_id: Some(env_id.into()), ..Default::default() })?;
    let at = |kind: &str| -> Vec<i64> {
        events
            .iter()
            .filter(|e| e.kind == kind && e.at_ms >= start_ms)
            .map(|e| e.at_ms - start_ms)
            .collect()
    };
    Ok(ArmData {
        records: load.targets.get(target).map(|t| t.records.clone()).unwrap_or_default(),
        cpu: series("resource.cpu")?,
        memory: series("resource.memory")?,
        oom_kills: at("oom_kill"),
        restarts: at("restarted"),
        prometheus: Default::default(),
        prometheus_error: None,
    })
}

/// Writes report.json, report.junit.xml and report.html into `dir`.
pub fn write_reports(report: &shadowgate_report::CheckReport, dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    for (name, text) in [
        ("report.json", shadowgate_report::to_json(report)),
        ("report.junit.xml", shadowgate_report::to_junit(report)),
        ("report.html", shadowgate_report::to_html(report)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

/// The terminal summary: the metrics table, the sentence of every metric that did not pass,
/// and the verdict.
pub fn print_summary(report: &shadowgate_report::CheckReport, out: Option<&PathBuf>) {
    use shadowgate_judge::verdict::{Decision, Outcome as MetricOutcome};
    println!();
    let rows: Vec<Vec<String>> = shadowgate_report::summary_rows(report)
        .into_iter()
        .zip(&report.verdict.metrics)
        .map(|(cells, m)| {
            let mut row: Vec<String> = cells.into_iter().collect();
            row[1] = match m.outcome {
                MetricOutcome::Pass => output::green(&row[1]),
                MetricOutcome::Fail | MetricOutcome::Error => output::red(&row[1]),
                _ => output::yellow(&row[1]),
            };
            row
        })
        .collect();
    let header: Vec<String> =
        shadowgate_report::SUMMARY_COLUMNS.iter().map(|c| c.to_uppercase()).collect();
    output::table(&header.iter().map(String::as_str).collect::<Vec<_>>(), &rows);
    let notable: Vec<_> =
        report.verdict.metrics.iter().filter(|m| m.outcome != MetricOutcome::Pass).collect();
    if !notable.is_empty() {
        println!();
        for m in notable {
            println!("  {} {}", output::bold(&format!("{}:", m.name)), m.explanation);
        }
    }
    for w in &report.warnings {
        println!("  {} {w}", output::yellow("warning:"));
    }
    if let Some(used) = &report.conditions {
        conditions::print(used);
    }
    println!();
    let line = shadowgate_report::verdict_line(report);
    let painted = match report.verdict.decision {
        Decision::Pass => output::green(&line),
        Decision::Marginal => output::yellow(&line),
        Decision::Fail => output::red(&line),
    };
    println!("{painted}");
    println!(
        "run {}: {} ({}) vs {} ({}), {:.1} s",
        report.run_id,
        report.baseline.release,
        report.baseline.environment_id,
        report.candidate.release,
        report.candidate.environment_id,
        report.wall_duration_ms as f64 / 1000.0
    );
    if let Some(dir) = out {
        println!(
            "reports: {}, {}, {}",
            dir.join("report.html").display(),
            dir.join("report.junit.xml").display(),
            dir.join("report.json").display()
        );
    }
}

/// Terminal progress for the phases of a check: spinners and a request bar on stderr when it
/// is a terminal; one plain line per phase otherwise (unless quiet or JSON output).
struct Ui {
    plain: bool,
}

#[derive(Clone)]
struct Step {
    bar: indicatif::ProgressBar,
    plain: bool,
    started: Instant,
}

impl Ui {
    fn new(json: bool) -> Ui {
        Ui { plain: json || output::quiet() }
    }

    fn step(&self, message: &str) -> Step {
        let bar = output::spinner(message);
        if !self.plain && bar.is_hidden() {
            eprintln!("{message} ...");
        }
        Step { bar, plain: self.plain, started: Instant::now() }
    }

    fn load_bar(&self, plan: &Plan) -> LoadBar {
        let bar = if self.plain || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            if !self.plain {
                eprintln!(
                    "sending {} requests to each release over {:.0} s ...",
                    plan.expected_requests(),
                    plan.total_duration().as_secs_f64()
                );
            }
            indicatif::ProgressBar::hidden()
        } else {
            let bar = indicatif::ProgressBar::new(plan.total_duration().as_millis() as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} load [{bar:30}] {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        };
        LoadBar { bar, warmup_ms: plan.warmup().as_millis() as u64 }
    }
}

impl Step {
    fn note(&self, message: &str) {
        self.bar.set_message(message.to_string());
    }

    fn done(&self, message: &str) {
        self.bar.finish_and_clear();
        if !self.plain {
            eprintln!(
                "{} {message} {}",
                output::green("✓"),
                output::dim(&format!("({:.1} s)", self.started.elapsed().as_secs_f64()))
            );
        }
    }
}

struct LoadBar {
    bar: indicatif::ProgressBar,
    warmup_ms: u64,
}

impl LoadBar {
    fn update(&self, p: &shadowgate_load::Progress) {
        let ms = p.elapsed.as_millis() as u64;
        self.bar.set_position(ms);
        let phase = if ms < self.warmup_ms { "warm-up" } else { "judged" };
        self.bar.set_message(format!(
            "{phase} {:.0} s, {} sent, {} failed",
            p.elapsed.as_secs_f64(),
            p.issued,
            p.failed
        ));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
