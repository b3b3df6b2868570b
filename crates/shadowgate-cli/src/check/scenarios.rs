//! Fault scenarios (`[[scenarios]]`) and pre-deployment tests (`[[tests]]`) in `check`.
//!
//! - Selection: an entry without a risk tag always runs; one with a risk tag (`db-latency`,
//!   `memory`, `disk`, `volume`) runs when the predicted conditions (`--conditions`) flag that
//!   risk, or with `--all-tests`. The reason is kept and reported.
//! - Faults: a scheduler thread applies each fault to the baseline and the candidate at the
//!   same instant of the load (offsets count from the start of the load, warm-up included),
//!   records each as an event with start and end in the store (kind `fault`, one per arm), and
//!   undoes whatever is still active when the load ends or the check errors.
//! - Tests: each command runs with the host's file system and programs, in the manifest's
//!   directory, but inside the environment's network namespace, once per environment and at
//!   the same time for both, after both are healthy and before the load. It gets
//!   `SHADOWGATE_URL` (the application, as the environment sees it), `SHADOWGATE_ENV_ID`,
//!   `SHADOWGATE_ROLE` and, per dependency, `SHADOWGATE_DEP_<NAME>_URL`, `_HOST` and `_PORT`
//!   (its fault proxy, as the application reaches it). Like the application, it cannot reach
//!   anything outside the environment.

use std::{
    io::Read,
    os::{fd::AsRawFd, unix::process::CommandExt},
    path::Path,
    process::{Command, Stdio},
    sync::{Arc, mpsc},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::{Result, bail};
use serde_json::json;
use shadowgate_core::{
    scenario::{Edge, TestCommand, Timeline, selection},
    units::HumanDuration,
};
use shadowgate_report::{EventArm, EventKind, TestCommandResult, TimelineEvent};
use shadowgate_sandbox::{
    EnvHandle,
    faults::{FaultError, Injector, Target, supported},
};
use shadowgate_store::{EventQuery, NewEvent, SqliteStore, Store};

use crate::{cli::CheckArgs, context, context::Loaded};

/// What this run injects and tests, and what it leaves out.
pub struct Selected {
    pub timeline: Timeline,
    pub tests: Vec<(TestCommand, String)>,
    /// One sentence per scenario or test that does not run.
    pub left_out: Vec<String>,
}

/// Selects scenarios and tests and plans the faults over a load of `load_len`.
pub fn select(loaded: &Loaded, args: &CheckArgs, load_len: Duration) -> Result<Selected> {
    let m = &loaded.manifest;
    let risks = match super::conditions::load(args, &m.app.name)? {
        Some((doc, ..)) => doc.risks.iter().map(|r| r.kind).collect(),
        None => Vec::new(),
    };
    let mut left_out = Vec::new();
    let mut chosen = Vec::new();
    for (i, s) in m.scenarios.iter().enumerate() {
        match selection(&s.tags, &risks, args.all_tests) {
            Some(why) => chosen.push((i, why)),
            None => left_out.push(format!(
                "scenario `{}` did not run: its risk tags ({}) are not among the predicted risks (--all-tests runs it)",
                s.name,
                s.tags.join(", ")
            )),
        }
    }
    let timeline = Timeline::plan(&m.scenarios, &chosen, load_len).map_err(|e| {
        anyhow::anyhow!("{e}; move it earlier, shorten it, or lengthen the load (--duration)")
    })?;
    for f in &timeline.faults {
        if let Err(e) = supported(&f.fault) {
            bail!("scenario `{}`: {e}; remove the scenario", f.name);
        }
    }
    let mut tests = Vec::new();
    for t in &m.tests {
        match selection(&t.tags, &risks, args.all_tests) {
            Some(why) => tests.push((t.clone(), why)),
            None => left_out.push(format!(
                "test `{}` did not run: its risk tags ({}) are not among the predicted risks (--all-tests runs it)",
                t.name,
                t.tags.join(", ")
            )),
        }
    }
    Ok(Selected { timeline, tests, left_out })
}

impl Selected {
    /// The run's settings that describe the selection, for the report's settings table.
    pub fn settings(&self) -> Vec<super::Setting> {
        let mut out = Vec::new();
        if !self.timeline.faults.is_empty() {
            let plan: Vec<String> = self
                .timeline
                .faults
                .iter()
                .map(|f| {
                    let end = f.end.map(|e| format!("–{}", HumanDuration(e))).unwrap_or_default();
                    format!("{} ({}, {}{end})", f.name, f.fault.kind(), HumanDuration(f.start))
                })
                .collect();
            out.push(super::Setting {
                name: "scenarios",
                value: plan.join("; "),
                source: "manifest",
            });
        }
        if !self.tests.is_empty() {
            let names: Vec<&str> = self.tests.iter().map(|(t, _)| t.name.as_str()).collect();
            out.push(super::Setting { name: "tests", value: names.join("; "), source: "manifest" });
        }
        out
    }
}

/// One fault injector per environment (baseline, candidate), with its dependencies' fault
/// proxy API found from its `dependencies_ready` event.
pub fn injectors(handles: &[EnvHandle; 2], store: &SqliteStore) -> Result<Vec<Injector>> {
    let backend = context::backend()?;
    let mut injectors = Vec::new();
    for (h, role) in handles.iter().zip(["baseline", "candidate"]) {
        let api = store
            .events(&EventQuery {
                env_id: Some(h.id.clone()),
                kind: Some("dependencies_ready".into()),
                ..Default::default()
            })?
            .last()
            .and_then(|e| e.data["api"].as_str().and_then(|a| a.parse().ok()));
        let target = Target::open(&backend.env_paths(&h.id), api)
            .map_err(|e| anyhow::anyhow!("prepare faults on the {role}: {e}"))?;
        injectors.push(Injector::new(target));
    }
    Ok(injectors)
}

/// The fault scheduler of one load.
pub struct Scheduler {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<Finished>>,
}

/// What the scheduler did.
#[derive(Default)]
pub struct Finished {
    pub events: Vec<TimelineEvent>,
    pub errors: Vec<String>,
}

impl Scheduler {
    /// Finds both environments' host objects and starts the scheduler; offsets count from
    /// `started`, the start of the load.
    pub fn start(
        timeline: &Timeline,
        handles: &[EnvHandle; 2],
        store: &Arc<SqliteStore>,
        run_id: &str,
        started: Instant,
    ) -> Result<Scheduler> {
        if timeline.faults.is_empty() {
            return Ok(Scheduler { stop: None, thread: None });
        }
        let injectors = injectors(handles, store)?;
        let (stop, stopped) = mpsc::channel();
        let timeline = timeline.clone();
        let store = store.clone();
        let run_id = run_id.to_string();
        let thread = std::thread::Builder::new()
            .name("shadowgate-faults".into())
            .spawn(move || schedule(timeline, injectors, &store, &run_id, started, stopped))?;
        Ok(Scheduler { stop: Some(stop), thread: Some(thread) })
    }

    /// Stops the scheduler, undoing every fault still active, and returns what it did.
    pub fn finish(mut self) -> Finished {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Finished {
        drop(self.stop.take());
        match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|_| Finished {
                errors: vec!["the fault scheduler panicked".into()],
                ..Default::default()
            }),
            None => Finished::default(),
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn schedule(
    timeline: Timeline,
    mut injectors: Vec<Injector>,
    store: &SqliteStore,
    run_id: &str,
    started: Instant,
    stopped: mpsc::Receiver<()>,
) -> Finished {
    let arms = [EventArm::Baseline, EventArm::Candidate];
    let mut out = Finished::default();
    // Per fault and arm: the store event and the report event's index.
    let mut open: Vec<[Option<(i64, usize)>; 2]> = vec![[None, None]; timeline.faults.len()];
    let ms = |i: Instant| i.saturating_duration_since(started).as_millis() as u64;
    let end_one = |open: &mut Vec<[Option<(i64, usize)>; 2]>,
                   out: &mut Finished,
                   fault: usize,
                   slot: usize,
                   at: Instant| {
        if let Some((id, idx)) = open[fault][slot].take() {
            let _ = store.end_event(id, context::now_ms());
            out.events[idx].end_ms = Some(ms(at));
        }
    };
    for action in &timeline.actions {
        let due = started + action.at;
        let wait = due.saturating_duration_since(Instant::now());
        // The load ended (or the check failed) before this action was due.
        if !matches!(stopped.recv_timeout(wait), Err(mpsc::RecvTimeoutError::Timeout)) {
            break;
        }
        let f = &timeline.faults[action.fault];
        match action.edge {
            Edge::Start => {
                // Both arms at once, so that they see the fault at the same instant; each keeps
                // its own instant (when its fault was in effect).
                let results = both(&mut injectors, |inj| inj.start(&f.name, &f.fault));
                for ((arm, inj), (result, now)) in arms.iter().zip(&injectors).zip(results) {
                    match result {
                        Ok(()) => {}
                        // The environment ended earlier in the run (a crash without restart, an
                        // OOM kill): a fact of the run, not a failure to apply the plan.
                        Err(FaultError::Gone { .. }) => {
                            out.events.push(TimelineEvent {
                                start_ms: ms(now),
                                end_ms: None,
                                arm: *arm,
                                kind: EventKind::Other,
                                message: format!(
                                    "{}: not applied, the environment had already ended",
                                    f.name
                                ),
                            });
                            continue;
                        }
                        Err(e) => {
                            out.errors.push(format!("scenario `{}`: {e}", f.name));
                            continue;
                        }
                    }
                    let message = format!(
                        "{}: {} (selected: {})",
                        f.name,
                        f.fault.describe(),
                        f.selected_because
                    );
                    let id = store
                        .append_event(&NewEvent {
                            env_id: Some(inj.target().id.clone()),
                            run_id: Some(run_id.to_string()),
                            kind: "fault".into(),
                            at_ms: context::now_ms(),
                            end_ms: None,
                            message: message.clone(),
                            data: json!({
                                "scenario": f.name,
                                "fault": f.fault.kind(),
                                "offset_ms": action.at.as_millis() as u64,
                                "selected_because": f.selected_because,
                            }),
                        })
                        .unwrap_or(-1);
                    out.events.push(TimelineEvent {
                        start_ms: ms(now),
                        end_ms: None,
                        arm: *arm,
                        kind: EventKind::Fault,
                        message,
                    });
                    let slot = if *arm == EventArm::Baseline { 0 } else { 1 };
                    if f.end.is_some() {
                        open[action.fault][slot] = Some((id, out.events.len() - 1));
                    }
                }
            }
            Edge::Stop => {
                let results = both(&mut injectors, |inj| inj.stop(&f.name));
                for (slot, (inj, (result, now))) in injectors.iter().zip(results).enumerate() {
                    if let Err(e) = result {
                        out.errors.push(format!("scenario `{}`: undo: {e}", f.name));
                    }
                    if matches!(f.fault, shadowgate_core::scenario::Fault::Crash { restart: true })
                    {
                        let _ = store.append_event(&NewEvent {
                            env_id: Some(inj.target().id.clone()),
                            run_id: Some(run_id.to_string()),
                            kind: "restarted".into(),
                            at_ms: context::now_ms(),
                            end_ms: None,
                            message: format!("restarted at the end of scenario `{}`", f.name),
                            data: json!({"scenario": f.name}),
                        });
                    }
                    end_one(&mut open, &mut out, action.fault, slot, now);
                }
            }
        }
    }
    // Wait for the end of the load, then undo whatever is still active.
    let _ = stopped.recv();
    for (slot, inj) in injectors.iter_mut().enumerate() {
        if let Err(e) = inj.stop_all() {
            out.errors.push(format!("undo: {e}"));
        }
        for fault in 0..open.len() {
            end_one(&mut open, &mut out, fault, slot, Instant::now());
        }
    }
    out
}

/// Runs `op` on both arms' injectors at the same time; returns each result with the instant
/// it was done.
fn both(
    injectors: &mut [Injector],
    op: impl Fn(&mut Injector) -> Result<(), FaultError> + Sync,
) -> Vec<(Result<(), FaultError>, Instant)> {
    std::thread::scope(|s| {
        let threads: Vec<_> = injectors
            .iter_mut()
            .map(|inj| {
                let op = &op;
                s.spawn(move || (op(inj), Instant::now()))
            })
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join().unwrap_or_else(|_| {
                    let message = "the fault thread panicked".to_string();
                    (Err(FaultError::Env { id: String::new(), message }), Instant::now())
                })
            })
            .collect()
    })
}

/// The outcome of one test on both arms.
pub struct TestRun {
    pub name: String,
    pub why: String,
    /// Baseline, candidate.
    pub arms: [ArmRun; 2],
}

pub struct ArmRun {
    pub passed: bool,
    pub code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
    pub output_tail: String,
}

/// Runs each selected test against both environments at the same time.
pub fn run_tests(
    tests: &[(TestCommand, String)],
    handles: &[EnvHandle; 2],
    dir: &Path,
    store: &dyn Store,
) -> Vec<TestRun> {
    // Each environment's dependencies, as its supervisor recorded them.
    let deps: Vec<Vec<(String, String)>> = handles
        .iter()
        .map(|h| {
            let events = store
                .events(&EventQuery {
                    env_id: Some(h.id.clone()),
                    kind: Some("dependencies_ready".into()),
                    ..Default::default()
                })
                .unwrap_or_default();
            events
                .last()
                .and_then(|e| {
                    serde_json::from_value::<Vec<shadowgate_sandbox::deps::DepInfo>>(
                        e.data["dependencies"].clone(),
                    )
                    .ok()
                })
                .unwrap_or_default()
                .iter()
                .flat_map(|d| d.env_vars())
                .collect()
        })
        .collect();
    let deps = &deps;
    tests
        .iter()
        .map(|(t, why)| {
            let arms = std::thread::scope(|s| {
                let runs: Vec<_> = handles
                    .iter()
                    .zip(["baseline", "candidate"])
                    .enumerate()
                    .map(|(i, (h, role))| s.spawn(move || run_one(t, h, role, dir, &deps[i])))
                    .collect();
                let mut it = runs.into_iter().map(|r| {
                    r.join().unwrap_or_else(|_| ArmRun {
                        passed: false,
                        code: None,
                        timed_out: false,
                        duration_ms: 0,
                        output_tail: "the test runner panicked".into(),
                    })
                });
                [it.next().unwrap_or_else(failed_arm), it.next().unwrap_or_else(failed_arm)]
            });
            TestRun { name: t.name.clone(), why: why.clone(), arms }
        })
        .collect()
}

fn failed_arm() -> ArmRun {
    ArmRun {
        passed: false,
        code: None,
        timed_out: false,
        duration_ms: 0,
        output_tail: String::new(),
    }
}

fn run_one(
    t: &TestCommand,
    h: &EnvHandle,
    role: &str,
    dir: &Path,
    deps: &[(String, String)],
) -> ArmRun {
    let started = Instant::now();
    let fail = |message: String| ArmRun {
        passed: false,
        code: None,
        timed_out: false,
        duration_ms: started.elapsed().as_millis() as u64,
        output_tail: message,
    };
    let (mut reader, writer) = match std::io::pipe() {
        Ok(p) => p,
        Err(e) => return fail(format!("create a pipe: {e}")),
    };
    let writer2 = match writer.try_clone() {
        Ok(w) => w,
        Err(e) => return fail(format!("create a pipe: {e}")),
    };
    let netns = match std::fs::File::open(&h.netns) {
        Ok(f) => f,
        Err(e) => return fail(format!("open {}: {e}", h.netns.display())),
    };
    let ns_fd = netns.as_raw_fd();
    let mut cmd = Command::new("/bin/sh");
    // SAFETY: setns is async-signal-safe; the descriptor stays open until after the spawn.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(ns_fd, libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.arg("-c")
        .arg(&t.command)
        .current_dir(dir)
        .envs(deps.iter().cloned())
        .env("SHADOWGATE_URL", format!("http://{}", h.inner_addr()))
        .env("SHADOWGATE_ENV_ID", &h.id)
        .env("SHADOWGATE_ROLE", role)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return fail(format!("start `/bin/sh -c {}`: {e}", t.command)),
    };
    drop(cmd);
    drop(netns);
    let collector = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = reader.read_to_end(&mut buf);
        buf
    });
    let deadline = started + t.timeout.0;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(-(child.id() as i32)),
                    nix::sys::signal::Signal::SIGKILL,
                );
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => break None,
        }
    };
    let output = collector.join().unwrap_or_default();
    let text = String::from_utf8_lossy(&output);
    let lines: Vec<&str> = text.lines().collect();
    let mut tail = lines[lines.len().saturating_sub(20)..].join("\n");
    let code = status.and_then(|s| s.code());
    if timed_out {
        tail.push_str(&format!("\n(killed after the {} timeout)", t.timeout));
    }
    ArmRun {
        passed: !timed_out && code == Some(t.expect_exit),
        code,
        timed_out,
        duration_ms: started.elapsed().as_millis() as u64,
        output_tail: tail,
    }
}

/// The report's test results (one per test and arm), the warnings, and whether a test fails
/// the check (it fails on the candidate and passes on the baseline).
pub fn judge_tests(runs: &[TestRun]) -> (Vec<TestCommandResult>, Vec<String>, bool) {
    let mut results = Vec::new();
    let mut warnings = Vec::new();
    let mut fails = false;
    for run in runs {
        for (arm, role) in run.arms.iter().zip(["baseline", "candidate"]) {
            results.push(TestCommandResult {
                name: format!("{} ({role})", run.name),
                passed: arm.passed,
                duration_ms: arm.duration_ms,
                output_tail: arm.output_tail.clone(),
                selected_because: run.why.clone(),
            });
        }
        let status = |a: &ArmRun| match (a.timed_out, a.code) {
            (true, _) => "timed out".to_string(),
            (false, Some(c)) => format!("exit {c}"),
            (false, None) => "killed by a signal".to_string(),
        };
        match (run.arms[0].passed, run.arms[1].passed) {
            (true, false) => {
                fails = true;
                warnings.push(format!(
                    "test `{}` fails on the candidate ({}) and passes on the baseline: the check fails",
                    run.name,
                    status(&run.arms[1])
                ));
            }
            (false, false) => warnings.push(format!(
                "test `{}` fails on both the baseline ({}) and the candidate ({}); it does not decide the verdict",
                run.name,
                status(&run.arms[0]),
                status(&run.arms[1])
            )),
            (false, true) => warnings.push(format!(
                "test `{}` fails on the baseline ({}) but passes on the candidate",
                run.name,
                status(&run.arms[0])
            )),
            (true, true) => {}
        }
    }
    (results, warnings, fails)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(passed: bool, code: Option<i32>, timed_out: bool) -> ArmRun {
        ArmRun { passed, code, timed_out, duration_ms: 5, output_tail: "out".into() }
    }

    #[test]
    fn a_test_failing_only_on_the_candidate_fails_the_check_and_others_warn() {
        let run = |name: &str, b: ArmRun, c: ArmRun| TestRun {
            name: name.into(),
            why: "always: it has no risk tag".into(),
            arms: [b, c],
        };
        let (results, warnings, fails) = judge_tests(&[
            run("ok", arm(true, Some(0), false), arm(true, Some(0), false)),
            run("both", arm(false, Some(1), false), arm(false, None, true)),
        ]);
        assert!(!fails);
        assert_eq!(results.len(), 4);
        assert_eq!(results[2].name, "both (baseline)");
        assert_eq!(
            warnings,
            vec![
                "test `both` fails on both the baseline (exit 1) and the candidate (timed out); \
                 it does not decide the verdict"
            ]
        );
        let (_, warnings, fails) =
            judge_tests(&[run("regressed", arm(true, Some(0), false), arm(false, Some(3), false))]);
        assert!(fails);
        assert!(warnings[0].starts_with("test `regressed` fails on the candidate (exit 3)"));
        let (_, warnings, fails) =
            judge_tests(&[run("fixed", arm(false, None, false), arm(true, Some(0), false))]);
        assert!(!fails);
        assert!(warnings[0].contains("killed by a signal"), "{warnings:?}");
    }
}
