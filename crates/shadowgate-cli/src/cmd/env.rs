//! `shadowgate env`: start, list, stop and collect environments.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::json;
use shadowgate_core::{
    env::{EnvId, EnvState, Role},
    manifest::Probe,
    units::HumanDuration,
};
use shadowgate_sandbox::{
    Progress,
    spec::{EnvSpec, HealthSpec, LimitsSpec, StepSpec},
};
use shadowgate_store::{EnvironmentFilter, Store};

use crate::{
    EXIT_ERROR, EXIT_PASS,
    cli::{
        EnvCommand, EnvDiffArgs, EnvDownArgs, EnvLsArgs, EnvRunArgs, EnvUpArgs, Global, JsonArgs,
    },
    context::{self, Loaded},
    output,
};

pub fn run(global: &Global, cmd: EnvCommand) -> Result<u8> {
    match cmd {
        EnvCommand::Up(args) => up(global, &args),
        EnvCommand::Ls(args) => ls(global, &args),
        EnvCommand::Down(args) => down(global, &args),
        EnvCommand::Gc(args) => gc(global, &args),
        EnvCommand::Diff(args) => diff(global, &args),
        EnvCommand::Run(args) => run_oneshot(&args),
    }
}

/// Options that shape an environment beyond the manifest.
pub struct EnvOptions {
    pub role: Role,
    pub run_id: Option<String>,
    pub host_port: u16,
    pub sample_interval: Duration,
    pub allow_degraded: bool,
    pub watch_starter: bool,
}

/// Builds the sandbox's spec for one release of a loaded manifest.
pub fn env_spec(
    global: &Global,
    loaded: &Loaded,
    id: &EnvId,
    release: &str,
    release_path: std::path::PathBuf,
    opts: &EnvOptions,
) -> EnvSpec {
    let m = &loaded.manifest;
    let labels = shadowgate_core::env::labels(
        id,
        &m.app.name,
        release,
        &opts.role,
        context::now_ms(),
        &m.labels,
    );
    let role = match &opts.role {
        Role::Shadow { counterpart } => format!("shadow:{counterpart}"),
        other => other.name().to_string(),
    };
    EnvSpec {
        id: id.to_string(),
        app: m.app.name.clone(),
        release: release.to_string(),
        role,
        run_id: opts.run_id.clone(),
        labels,
        release_path,
        install: m
            .install
            .iter()
            .map(|s| StepSpec {
                name: s.name.clone(),
                command: s.command.clone(),
                timeout_ms: s.timeout.0.as_millis() as u64,
            })
            .collect(),
        command: m.run.command.clone(),
        env: m.run.env.clone(),
        workdir: m.run.workdir.clone(),
        fixed_port: m.run.port,
        health: HealthSpec {
            http_path: match m.run.health.probe() {
                Probe::Http { path } => Some(path),
                Probe::Tcp => None,
            },
            timeout_ms: m.run.health.timeout.0.as_millis() as u64,
            interval_ms: m.run.health.interval.0.as_millis() as u64,
        },
        limits: LimitsSpec {
            cpu_cores: m.resources.cpu,
            memory_bytes: m.resources.memory.0,
            pids: m.resources.pids,
            disk_bytes: m.resources.disk.0,
            io_read_bps: m.resources.io_read_bps.map(|b| b.0),
            io_write_bps: m.resources.io_write_bps.map(|b| b.0),
        },
        stop_timeout_ms: m.run.stop_timeout.0.as_millis() as u64,
        sample_interval_ms: opts.sample_interval.as_millis() as u64,
        store_path: context::store_path(global),
        log_dir: context::logs_dir(id.as_str()),
        host_port: opts.host_port,
        allow_degraded: opts.allow_degraded,
        watch_starter: opts.watch_starter,
        dependencies: m
            .dependencies
            .iter()
            .map(|(name, d)| shadowgate_sandbox::deps::DepSpec {
                name: name.clone(),
                kind: d.kind.as_str().to_string(),
                database: (d.kind == shadowgate_core::manifest::DependencyKind::Postgres)
                    .then(|| d.database_or(name).to_string()),
                user: d.user.clone(),
                ready_timeout_ms: d.ready_timeout.0.as_millis() as u64,
            })
            .collect(),
        data: data_spec(m),
        io_error_paths: io_error_paths(m.scenarios.iter()),
    }
}

/// The paths of the `io_error` scenarios among `scenarios`, once each in order: each gets the
/// pass-through file system mounted over it when the environment starts, so that the fault
/// reaches descriptors opened before it. `env up` takes every scenario of the manifest; a check
/// narrows the list to the scenarios selected for its run. None on a machine without
/// /dev/fuse (where the fault cannot be applied either).
pub fn io_error_paths<'a>(
    scenarios: impl Iterator<Item = &'a shadowgate_core::scenario::Scenario>,
) -> Vec<String> {
    let probe = shadowgate_core::scenario::Fault::IoError { path: String::new() };
    if shadowgate_sandbox::faults::supported(&probe).is_err() {
        return Vec::new();
    }
    let mut paths: Vec<String> = Vec::new();
    for s in scenarios {
        if s.fault == "io_error"
            && let Some(p) = &s.path
            && !paths.contains(p)
        {
            paths.push(p.clone());
        }
    }
    paths
}

/// `[data]` goes into the first PostgreSQL dependency in name order (the application's
/// database), with `[data].seed` (default 1) for every environment. Without a PostgreSQL
/// dependency there is nothing to load it into: an application on SQLite seeds itself, or
/// `shadowgate data generate` fills its file.
fn data_spec(
    m: &shadowgate_core::manifest::Manifest,
) -> Option<shadowgate_sandbox::data::DataSpec> {
    let data = m.data.as_ref()?;
    let (name, _) = m
        .dependencies
        .iter()
        .find(|(_, d)| d.kind == shadowgate_core::manifest::DependencyKind::Postgres)?;
    Some(shadowgate_sandbox::data::DataSpec {
        dependency: name.clone(),
        seed: data.seed.unwrap_or(1),
        rows: Default::default(),
        config: data.clone(),
    })
}

fn parse_duration(text: &str, flag: &str) -> Result<Duration> {
    text.parse::<HumanDuration>().map(|d| d.0).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
}

fn up(global: &Global, args: &EnvUpArgs) -> Result<u8> {
    let loaded = context::load_manifest(&args.manifest.manifest)?;
    let role: Role = args.role.parse().map_err(|e: String| anyhow::anyhow!("--role: {e}"))?;
    let sample_interval = parse_duration(&args.sample_interval, "sample-interval")?;
    let id = EnvId::from_entropy(context::entropy());
    let spinner = output::spinner(&format!("building release {}", args.release));
    let release_path = loaded.resolve_release(
        &args.release,
        !args.no_build,
        &context::logs_dir(id.as_str()).join("build.log"),
    )?;
    let store = context::open_store(global)?;
    context::record_release(&store, &loaded, &args.release, &release_path)?;
    let backend = context::backend()?;
    let opts = EnvOptions {
        role,
        run_id: None,
        host_port: args.port,
        sample_interval,
        allow_degraded: args.allow_degraded,
        watch_starter: !args.detach,
    };
    let spec = env_spec(global, &loaded, &id, &args.release, release_path, &opts);
    spinner.set_message(format!("starting environment {id}"));
    let mut handle = backend
        .up(&store, &spec, |p| {
            spinner.set_message(match p {
                Progress::Installing => format!("{id}: installing"),
                Progress::Starting => format!("{id}: waiting for health"),
                Progress::Running => format!("{id}: running"),
            })
        })
        .map_err(|e| anyhow::anyhow!("{e}\n  logs: {}", spec.log_dir.display()))?;
    spinner.finish_and_clear();
    let dependencies = dependencies_of(&store, &handle.id);
    if args.out.json {
        output::json(&json!({
            "dependencies": dependencies,
            "id": handle.id,
            "endpoint": handle.endpoint.to_string(),
            "url": format!("http://{}", handle.endpoint),
            "app": spec.app,
            "release": spec.release,
            "role": spec.role,
            "startup_ms": handle.startup_ms,
            "logs": spec.log_dir.display().to_string(),
            "detached": args.detach,
        }));
    } else {
        println!("{} {}", output::bold("environment"), handle.id);
        println!("  endpoint  http://{}", handle.endpoint);
        println!("  release   {} ({})", spec.release, spec.role);
        println!("  healthy   after {} ms", handle.startup_ms);
        println!("  logs      {}", spec.log_dir.display());
        if let Some(deps) = dependencies["dependencies"].as_array() {
            for dep in deps {
                println!(
                    "  {:<9} {} ({}, inside the environment)",
                    dep["name"].as_str().unwrap_or("?"),
                    dep["url"].as_str().unwrap_or("?"),
                    dep["kind"].as_str().unwrap_or("?")
                );
            }
            println!(
                "  faults    Toxiproxy API http://{}",
                dependencies["api"].as_str().unwrap_or("?")
            );
        }
        if args.detach {
            println!("  stop with `shadowgate env down {}`", handle.id);
        } else if !output::quiet() {
            eprintln!("{}", output::dim("Press Ctrl-C to stop and remove the environment."));
        }
    }
    if args.detach {
        handle.detach();
        return Ok(EXIT_PASS);
    }
    // Attached: wait for Ctrl-C / SIGTERM, or for the application to end on its own.
    let mut signals = nix::sys::signal::SigSet::empty();
    signals.add(nix::sys::signal::Signal::SIGINT);
    signals.add(nix::sys::signal::Signal::SIGTERM);
    signals.thread_block().context("block signals")?;
    loop {
        if let Some(status) = handle.try_wait() {
            let env = store.environment(&handle.id)?.context("the environment record vanished")?;
            eprintln!(
                "environment {} ended: {}",
                handle.id,
                env.detail.unwrap_or_else(|| status.to_string())
            );
            return Ok(if env.state == EnvState::Failed { EXIT_ERROR } else { EXIT_PASS });
        }
        let ts = libc::timespec { tv_sec: 0, tv_nsec: 200_000_000 };
        // SAFETY: valid sigset and timespec pointers; no siginfo requested.
        let sig = unsafe { libc::sigtimedwait(signals.as_ref(), std::ptr::null_mut(), &ts) };
        if sig > 0 {
            break;
        }
    }
    let spinner = output::spinner(&format!("stopping {}", handle.id));
    let id = handle.id.clone();
    handle.stop().map_err(|e| anyhow::anyhow!(e))?;
    spinner.finish_and_clear();
    if !args.out.json {
        println!("environment {id} stopped and removed");
    }
    Ok(EXIT_PASS)
}

/// The environment's dependencies and their fault proxies' API, as its supervisor recorded them
/// (`null` when it has none).
fn dependencies_of(store: &dyn Store, id: &str) -> serde_json::Value {
    store
        .events(&shadowgate_store::EventQuery {
            env_id: Some(id.to_string()),
            ..Default::default()
        })
        .ok()
        .and_then(|events| events.into_iter().find(|e| e.kind == "dependencies_ready"))
        .map(|e| e.data)
        .unwrap_or_default()
}

fn ls(global: &Global, args: &EnvLsArgs) -> Result<u8> {
    let store = context::open_store(global)?;
    let backend = context::backend()?;
    let envs = store.environments(&EnvironmentFilter::default())?;
    let envs: Vec<_> = envs.into_iter().filter(|e| args.all || e.state.is_live()).collect();
    if args.out.json {
        let list: Vec<_> = envs
            .iter()
            .map(|e| {
                json!({
                    "id": e.id, "app": e.app, "release": e.release, "role": e.role, "state": e.state.name(),
                    "endpoint": e.endpoint, "labels": e.labels, "created_ms": e.created_ms, "updated_ms": e.updated_ms,
                    "run_id": e.run_id, "detail": e.detail,
                    "supervisor_alive": backend.live_supervisor(&e.id).is_some(),
                })
            })
            .collect();
        output::json(&json!({"environments": list}));
        return Ok(EXIT_PASS);
    }
    if envs.is_empty() {
        println!("no {}environments", if args.all { "" } else { "running " });
        return Ok(EXIT_PASS);
    }
    let now = context::now_ms();
    let rows: Vec<Vec<String>> = envs
        .iter()
        .map(|e| {
            let mut state = e.state.name().to_string();
            if e.state.is_live() && backend.live_supervisor(&e.id).is_none() {
                state = format!("{state} (orphaned: run env gc)");
            }
            vec![
                e.id.clone(),
                e.app.clone(),
                e.release.clone(),
                e.role.clone(),
                state,
                e.endpoint.clone().unwrap_or_else(|| "-".into()),
                age(now - e.created_ms),
            ]
        })
        .collect();
    output::table(&["ID", "APP", "RELEASE", "ROLE", "STATE", "ENDPOINT", "AGE"], &rows);
    Ok(EXIT_PASS)
}

fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

fn down(global: &Global, args: &EnvDownArgs) -> Result<u8> {
    let store = context::open_store(global)?;
    let backend = context::backend()?;
    let timeout = parse_duration(&args.timeout, "timeout")?;
    let ids: Vec<String> = if args.all {
        store
            .environments(&EnvironmentFilter::default())?
            .into_iter()
            .filter(|e| e.state.is_live())
            .map(|e| e.id)
            .collect()
    } else {
        let mut out = Vec::new();
        for raw in &args.ids {
            let id: EnvId = raw.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            if store.environment(id.as_str())?.is_none()
                && !backend.env_paths(id.as_str()).dir.exists()
            {
                bail!("no environment `{id}` (see `shadowgate env ls --all`)");
            }
            out.push(id.to_string());
        }
        out
    };
    let mut results = Vec::new();
    let mut failed = false;
    for id in &ids {
        let result = backend.down(&store, id, timeout);
        failed |= result.is_err();
        if !args.out.json {
            match &result {
                Ok(()) => println!("{} {id} stopped and removed", output::green("ok")),
                Err(e) => eprintln!("{} {id}: {e}", output::red("error")),
            }
        }
        results.push(json!({"id": id, "ok": result.is_ok(), "error": result.err()}));
    }
    if args.out.json {
        output::json(&json!({"stopped": results}));
    } else if ids.is_empty() {
        println!("no running environments");
    }
    Ok(if failed { EXIT_ERROR } else { EXIT_PASS })
}

fn gc(global: &Global, args: &JsonArgs) -> Result<u8> {
    let store = context::open_store(global)?;
    let report = context::backend()?.gc(&store);
    if args.json {
        output::json(
            &json!({"environments": report.environments, "removed": report.removed, "errors": report.errors}),
        );
    } else {
        for r in &report.removed {
            println!("removed {r}");
        }
        for e in &report.errors {
            eprintln!("{} {e}", output::red("error"));
        }
        println!(
            "{} environment(s) collected, {} object(s) removed, {} error(s)",
            report.environments.len(),
            report.removed.len(),
            report.errors.len()
        );
    }
    Ok(if report.errors.is_empty() { EXIT_PASS } else { EXIT_ERROR })
}

fn diff(global: &Global, args: &EnvDiffArgs) -> Result<u8> {
    let id: EnvId = args.id.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let backend = context::backend()?;
    let store = context::open_store(global)?;
    let env = store.environment(id.as_str())?.with_context(|| format!("no environment `{id}`"))?;
    let paths = backend.env_paths(id.as_str());
    let changes = if paths.upper().exists() {
        let lower = if paths.artifact_lower().exists() {
            paths.artifact_lower()
        } else {
            let spec: shadowgate_sandbox::spec::EnvSpec = serde_json::from_slice(
                &std::fs::read(paths.spec())
                    .with_context(|| format!("read {}", paths.spec().display()))?,
            )
            .context("parse the environment's spec")?;
            spec.release_path
        };
        shadowgate_sandbox::changes::list(&paths.upper(), &lower)
            .context("read the writable layer")?
    } else {
        let _ = env;
        let recorded = context::logs_dir(id.as_str()).join("changes.json");
        let text = std::fs::read(&recorded).with_context(|| {
            format!("environment {id} is gone and left no change set at {}", recorded.display())
        })?;
        serde_json::from_slice(&text).context("parse the recorded change set")?
    };
    if args.out.json {
        output::json(&json!({"id": id.to_string(), "changes": changes}));
    } else if changes.is_empty() {
        println!("no changes");
    } else {
        for c in &changes {
            let mark = match c.kind {
                shadowgate_sandbox::changes::ChangeKind::Added => output::green("A"),
                shadowgate_sandbox::changes::ChangeKind::Modified => output::yellow("M"),
                shadowgate_sandbox::changes::ChangeKind::Deleted => output::red("D"),
            };
            println!("{mark} {}", c.path.display());
        }
    }
    Ok(EXIT_PASS)
}

fn run_oneshot(args: &EnvRunArgs) -> Result<u8> {
    let memory: shadowgate_core::units::ByteSize =
        args.memory.parse().map_err(|e| anyhow::anyhow!("--memory: {e}"))?;
    if !(args.cpu.is_finite() && args.cpu >= 0.01) {
        bail!("--cpu: {} is not a usable CPU limit; give cores such as 0.5 or 2", args.cpu);
    }
    let job = shadowgate_sandbox::oneshot::OneShot {
        id: EnvId::from_entropy(context::entropy()).to_string(),
        argv: args.command.clone(),
        limits: (!args.no_limits).then(|| shadowgate_sandbox::cgroup::Limits {
            cpu_cores: Some(args.cpu),
            memory_bytes: Some(memory.0),
            pids: Some(args.pids),
            io: Vec::new(),
        }),
    };
    let code = shadowgate_sandbox::oneshot::run(&context::backend()?.state_root, &job)?;
    // The command's own exit code is passed through (clamped to a byte).
    Ok(code.clamp(0, 255) as u8)
}
