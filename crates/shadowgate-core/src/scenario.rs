//! Fault scenarios on a timeline (`[[scenarios]]`) and the user's own test commands
//! (`[[tests]]`): the model, its validation, the timeline of start/stop actions and which
//! scenarios and tests a run selects.
//!
//! ```toml
//! [[scenarios]]
//! name = "slow database"
//! at = "10s"            # from the start of the load, warm-up included
//! duration = "5s"
//! tags = ["db-latency"]
//! fault = "latency"     # one fault per scenario; its keys sit beside it
//! dependency = "db"
//! latency = "200ms"
//!
//! [[tests]]
//! name = "smoke"
//! command = "curl -fsS $SHADOWGATE_URL/healthz"
//! timeout = "30s"
//! tags = ["memory"]
//! expect_exit = 0
//! ```
//!
//! Everything here is pure: the CLI turns the timeline into real instants and the sandbox
//! applies the faults.

use std::time::Duration;

use serde::Deserialize;

use crate::{
    conditions::RiskKind,
    units::{ByteSize, HumanDuration},
};

/// One `[[scenarios]]` entry, as written.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    /// When the fault starts, counted from the start of the load (warm-up included).
    pub at: HumanDuration,
    /// How long it lasts. A crash without restart has no end and takes no duration.
    #[serde(default)]
    pub duration: Option<HumanDuration>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The fault kind, one of [`FAULT_KINDS`]; its keys sit beside it.
    pub fault: String,
    /// Network faults: the dependency whose fault proxy carries the fault.
    #[serde(default)]
    pub dependency: Option<String>,
    /// `latency`: added delay per direction.
    #[serde(default)]
    pub latency: Option<HumanDuration>,
    /// `latency`: random variation around `latency`.
    #[serde(default)]
    pub jitter: Option<HumanDuration>,
    /// `bandwidth`: bytes per second.
    #[serde(default)]
    pub rate: Option<ByteSize>,
    /// `disk_full`: space left free on the writable layer (0 by default).
    #[serde(default)]
    pub free: Option<ByteSize>,
    /// `io_error`: the path inside the environment whose reads and writes fail with EIO.
    #[serde(default)]
    pub path: Option<String>,
    /// `memory_pressure`: how much memory the balloon allocates and touches.
    #[serde(default)]
    pub size: Option<ByteSize>,
    /// `memory_limit`: the lowered memory limit.
    #[serde(default)]
    pub memory: Option<ByteSize>,
    /// `cpu`: the lowered CPU quota in cores.
    #[serde(default)]
    pub cpu: Option<f64>,
    /// `crash`: whether the application is started again at the end of the scenario.
    #[serde(default)]
    pub restart: Option<bool>,
    /// `hang`: `freeze` (the cgroup freezer, the default) or `sigstop`.
    #[serde(default)]
    pub method: Option<String>,
}

/// The fault kinds and the keys each takes (required first, then optional).
pub const FAULT_KINDS: &[(&str, &[&str], &[&str])] = &[
    ("latency", &["dependency", "latency"], &["jitter"]),
    ("bandwidth", &["dependency", "rate"], &[]),
    ("outage", &["dependency"], &[]),
    ("reset", &["dependency"], &[]),
    ("disk_full", &[], &["free"]),
    ("io_error", &["path"], &[]),
    ("memory_pressure", &["size"], &[]),
    ("memory_limit", &["memory"], &[]),
    ("cpu", &["cpu"], &[]),
    ("crash", &[], &["restart"]),
    ("hang", &[], &["method"]),
];

/// Tags that tie a scenario or test to a predicted risk.
pub const RISK_TAGS: &[&str] = &["db-latency", "memory", "disk", "volume"];

/// How a hang is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HangMethod {
    /// The cgroup freezer: every process of the environment stops.
    Freeze,
    /// SIGSTOP to the application's processes, SIGCONT at the end.
    Sigstop,
}

/// A validated fault.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    Latency { dependency: String, latency: Duration, jitter: Duration },
    Bandwidth { dependency: String, bytes_per_second: u64 },
    Outage { dependency: String },
    Reset { dependency: String },
    DiskFull { free_bytes: u64 },
    IoError { path: String },
    MemoryPressure { bytes: u64 },
    MemoryLimit { bytes: u64 },
    Cpu { cores: f64 },
    Crash { restart: bool },
    Hang { method: HangMethod },
}

impl Fault {
    /// The kind as written in the manifest.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Latency { .. } => "latency",
            Fault::Bandwidth { .. } => "bandwidth",
            Fault::Outage { .. } => "outage",
            Fault::Reset { .. } => "reset",
            Fault::DiskFull { .. } => "disk_full",
            Fault::IoError { .. } => "io_error",
            Fault::MemoryPressure { .. } => "memory_pressure",
            Fault::MemoryLimit { .. } => "memory_limit",
            Fault::Cpu { .. } => "cpu",
            Fault::Crash { .. } => "crash",
            Fault::Hang { .. } => "hang",
        }
    }

    /// The dependency a network fault goes through.
    pub fn dependency(&self) -> Option<&str> {
        match self {
            Fault::Latency { dependency, .. }
            | Fault::Bandwidth { dependency, .. }
            | Fault::Outage { dependency }
            | Fault::Reset { dependency } => Some(dependency),
            _ => None,
        }
    }

    /// One sentence for events and reports.
    pub fn describe(&self) -> String {
        match self {
            Fault::Latency { dependency, latency, jitter } => format!(
                "{} ms added latency (±{} ms) to `{dependency}`",
                latency.as_millis(),
                jitter.as_millis()
            ),
            Fault::Bandwidth { dependency, bytes_per_second } => {
                format!("bandwidth to `{dependency}` cut to {}/s", ByteSize(*bytes_per_second))
            }
            Fault::Outage { dependency } => format!("`{dependency}` unreachable"),
            Fault::Reset { dependency } => format!("connections to `{dependency}` reset"),
            Fault::DiskFull { free_bytes } => {
                format!("writable layer full ({} left)", ByteSize(*free_bytes))
            }
            Fault::IoError { path } => format!("I/O errors (EIO) on {path}"),
            Fault::MemoryPressure { bytes } => {
                format!("a {} balloon in the environment", ByteSize(*bytes))
            }
            Fault::MemoryLimit { bytes } => format!("memory limit lowered to {}", ByteSize(*bytes)),
            Fault::Cpu { cores } => format!("CPU quota cut to {cores} cores"),
            Fault::Crash { restart: true } => {
                "the application killed (SIGKILL), then restarted".into()
            }
            Fault::Crash { restart: false } => "the application killed (SIGKILL)".into(),
            Fault::Hang { method: HangMethod::Freeze } => "the environment frozen".into(),
            Fault::Hang { method: HangMethod::Sigstop } => {
                "the application stopped (SIGSTOP)".into()
            }
        }
    }

    /// Faults with the same key cannot overlap in time (they turn the same knob).
    fn knob(&self) -> String {
        match self.dependency() {
            Some(d) => format!("network:{d}"),
            None => match self {
                Fault::Crash { .. } | Fault::Hang { .. } => "process".into(),
                Fault::MemoryPressure { .. } | Fault::MemoryLimit { .. } => "memory".into(),
                other => other.kind().into(),
            },
        }
    }
}

/// A problem found in `[[scenarios]]` or `[[tests]]`: the key path relative to the manifest
/// root (e.g. `scenarios[1].latency`), the message and what to do.
pub type ScenarioProblem = (String, String, Option<String>);

impl Scenario {
    /// The fault this scenario describes, or the problems with its keys (path relative to the
    /// scenario, e.g. `latency`).
    pub fn resolve(&self) -> Result<Fault, Vec<ScenarioProblem>> {
        let mut problems = Vec::new();
        let Some((kind, required, optional)) =
            FAULT_KINDS.iter().find(|(k, _, _)| *k == self.fault)
        else {
            let names: Vec<&str> = FAULT_KINDS.iter().map(|(k, _, _)| *k).collect();
            let help = match crate::template::nearest(&self.fault, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? fault kinds: {}", names.join(", ")),
                None => format!("fault kinds: {}", names.join(", ")),
            };
            return Err(vec![(
                "fault".into(),
                format!("`{}` is not a fault kind", self.fault),
                Some(help),
            )]);
        };
        let given = self.given_keys();
        for key in &given {
            if !required.contains(key) && !optional.contains(key) {
                let keys: Vec<&str> = required.iter().chain(optional.iter()).copied().collect();
                let help = if keys.is_empty() {
                    format!("a `{kind}` fault takes no other keys; remove `{key}`")
                } else {
                    format!("a `{kind}` fault takes: {}; remove `{key}`", keys.join(", "))
                };
                problems.push((
                    key.to_string(),
                    format!("`{key}` does not apply to a `{kind}` fault"),
                    Some(help),
                ));
            }
        }
        for key in *required {
            if !given.contains(key) {
                problems.push((
                    "fault".into(),
                    format!("a `{kind}` fault needs `{key}`"),
                    Some(format!("add `{key} = ...` to this scenario")),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let dep = || self.dependency.clone().unwrap_or_default();
        let fault = match *kind {
            "latency" => Fault::Latency {
                dependency: dep(),
                latency: self.latency.map(|d| d.0).unwrap_or_default(),
                jitter: self.jitter.map(|d| d.0).unwrap_or_default(),
            },
            "bandwidth" => Fault::Bandwidth {
                dependency: dep(),
                bytes_per_second: self.rate.map(|r| r.0).unwrap_or_default(),
            },
            "outage" => Fault::Outage { dependency: dep() },
            "reset" => Fault::Reset { dependency: dep() },
            "disk_full" => Fault::DiskFull { free_bytes: self.free.map(|b| b.0).unwrap_or(0) },
            "io_error" => Fault::IoError { path: self.path.clone().unwrap_or_default() },
            "memory_pressure" => {
                Fault::MemoryPressure { bytes: self.size.map(|b| b.0).unwrap_or_default() }
            }
            "memory_limit" => {
                Fault::MemoryLimit { bytes: self.memory.map(|b| b.0).unwrap_or_default() }
            }
            "cpu" => Fault::Cpu { cores: self.cpu.unwrap_or_default() },
            "crash" => Fault::Crash { restart: self.restart.unwrap_or(false) },
            _ => Fault::Hang {
                method: match self.method.as_deref() {
                    None | Some("freeze") => HangMethod::Freeze,
                    Some("sigstop") => HangMethod::Sigstop,
                    Some(other) => {
                        return Err(vec![(
                            "method".into(),
                            format!("`{other}` is not a hang method"),
                            Some("use \"freeze\" (the cgroup freezer) or \"sigstop\"".into()),
                        )]);
                    }
                },
            },
        };
        let mut bad = |key: &str, message: String, help: &str| {
            problems.push((key.to_string(), message, Some(help.to_string())));
        };
        match &fault {
            Fault::Latency { latency, jitter, .. } => {
                if latency.is_zero() || *latency > Duration::from_secs(60) {
                    bad(
                        "latency",
                        format!("{} is not a usable added latency", HumanDuration(*latency)),
                        "give a duration between 1ms and 60s, e.g. \"200ms\"",
                    );
                }
                if jitter > latency {
                    bad(
                        "jitter",
                        "the jitter is larger than the latency".into(),
                        "keep the jitter at most the latency, e.g. latency = \"200ms\", jitter = \"20ms\"",
                    );
                }
            }
            Fault::Bandwidth { bytes_per_second, .. } if *bytes_per_second < 1024 => bad(
                "rate",
                format!("{} per second would stall every connection", ByteSize(*bytes_per_second)),
                "give at least \"1KiB\" per second, or use `fault = \"outage\"`",
            ),
            Fault::IoError { path } if !path.starts_with('/') || path.contains("..") => bad(
                "path",
                format!("`{path}` is not an absolute path inside the environment"),
                "give an absolute path such as \"/shadowgate/data/db\"",
            ),
            Fault::MemoryPressure { bytes } if *bytes < ByteSize::MIB => bad(
                "size",
                format!("a {} balloon makes no pressure", ByteSize(*bytes)),
                "give at least \"1MiB\", e.g. \"200MiB\"",
            ),
            Fault::MemoryLimit { bytes } if *bytes < 4 * ByteSize::MIB => bad(
                "memory",
                format!("{} is too little memory for any process", ByteSize(*bytes)),
                "give at least \"4MiB\"",
            ),
            Fault::Cpu { cores } if !(cores.is_finite() && *cores >= 0.01) => bad(
                "cpu",
                format!("{cores} cores is not a usable CPU quota"),
                "give cores as a number of at least 0.01, e.g. 0.1",
            ),
            _ => {}
        }
        if problems.is_empty() { Ok(fault) } else { Err(problems) }
    }

    fn given_keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        let mut add = |present: bool, key: &'static str| {
            if present {
                keys.push(key);
            }
        };
        add(self.dependency.is_some(), "dependency");
        add(self.latency.is_some(), "latency");
        add(self.jitter.is_some(), "jitter");
        add(self.rate.is_some(), "rate");
        add(self.free.is_some(), "free");
        add(self.path.is_some(), "path");
        add(self.size.is_some(), "size");
        add(self.memory.is_some(), "memory");
        add(self.cpu.is_some(), "cpu");
        add(self.restart.is_some(), "restart");
        add(self.method.is_some(), "method");
        keys
    }

    /// Whether the fault has an end (everything but a crash without restart).
    pub fn has_end(&self) -> bool {
        !(self.fault == "crash" && self.restart != Some(true))
    }
}

/// One `[[tests]]` entry: a command run against each environment.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TestCommand {
    pub name: String,
    /// A shell command (`/bin/sh -c`), run on the host in the manifest's directory.
    pub command: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default = "default_test_timeout")]
    pub timeout: HumanDuration,
    /// The exit status that counts as a pass (0 by default).
    #[serde(default)]
    pub expect_exit: i32,
}

fn default_test_timeout() -> HumanDuration {
    HumanDuration::from_secs(60)
}

/// Validates `[[scenarios]]` and `[[tests]]`; `dependencies` are the declared dependency
/// names. Paths are relative to the manifest root.
pub fn validate(
    scenarios: &[Scenario],
    tests: &[TestCommand],
    dependencies: &[&str],
) -> Vec<ScenarioProblem> {
    let mut out = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    let mut resolved = Vec::new();
    for (idx, s) in scenarios.iter().enumerate() {
        let at = |key: &str| format!("scenarios[{idx}].{key}");
        check_name(&mut out, &mut names, &s.name, at("name"), "scenario");
        check_tags(&mut out, &s.tags, &at("tags"));
        match s.resolve() {
            Ok(f) => {
                if let Some(d) = f.dependency()
                    && !dependencies.contains(&d)
                {
                    let help = if dependencies.is_empty() {
                        "declare it as `[dependencies.NAME]` first".to_string()
                    } else {
                        format!("declared dependencies: {}", dependencies.join(", "))
                    };
                    out.push((
                        at("dependency"),
                        format!("no dependency is named `{d}`"),
                        Some(help),
                    ));
                }
                resolved.push((idx, f));
            }
            Err(problems) => {
                out.extend(problems.into_iter().map(|(k, m, h)| (at(&k), m, h)));
            }
        }
        match (s.duration, s.has_end()) {
            (Some(_), false) => out.push((
                at("duration"),
                "a crash without restart has no end, so it takes no duration".into(),
                Some("remove `duration`, or set `restart = true` to restart after it".into()),
            )),
            (None, true) => out.push((
                at("fault"),
                "the scenario has no `duration`".into(),
                Some("add `duration = \"5s\"` (how long the fault lasts)".into()),
            )),
            (Some(d), true) if d.0.is_zero() => out.push((
                at("duration"),
                "the duration is zero".into(),
                Some("give a positive duration such as \"5s\"".into()),
            )),
            _ => {}
        }
    }
    // Faults that turn the same knob cannot overlap.
    for (a, (ia, fa)) in resolved.iter().enumerate() {
        for (ib, fb) in resolved.iter().skip(a + 1) {
            if fa.knob() != fb.knob() {
                continue;
            }
            let (sa, sb) = (&scenarios[*ia], &scenarios[*ib]);
            if overlaps(sa, sb) {
                out.push((
                    format!("scenarios[{ib}].at"),
                    format!(
                        "`{}` overlaps `{}`, which changes the same thing ({} and {})",
                        sb.name,
                        sa.name,
                        fa.kind(),
                        fb.kind()
                    ),
                    Some("start it after the other one ends, or merge the two".into()),
                ));
            }
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for (idx, t) in tests.iter().enumerate() {
        let at = |key: &str| format!("tests[{idx}].{key}");
        check_name(&mut out, &mut names, &t.name, at("name"), "test");
        check_tags(&mut out, &t.tags, &at("tags"));
        if t.command.trim().is_empty() {
            out.push((
                at("command"),
                "the command is empty".into(),
                Some("give the shell command to run".into()),
            ));
        }
        if t.timeout.0.is_zero() {
            out.push((
                at("timeout"),
                "the timeout is zero".into(),
                Some("use a positive duration such as \"60s\"".into()),
            ));
        }
        if !(0..=255).contains(&t.expect_exit) {
            out.push((
                at("expect_exit"),
                format!("{} is not an exit status", t.expect_exit),
                Some("give a number between 0 and 255".into()),
            ));
        }
    }
    out
}

fn overlaps(a: &Scenario, b: &Scenario) -> bool {
    // A fault without an end lasts until the end of the load.
    let end = |s: &Scenario| s.duration.filter(|_| s.has_end()).map(|d| s.at.0 + d.0);
    let a_before_b = end(a).is_some_and(|e| e <= b.at.0);
    let b_before_a = end(b).is_some_and(|e| e <= a.at.0);
    !(a_before_b || b_before_a)
}

fn check_name(
    out: &mut Vec<ScenarioProblem>,
    names: &mut std::collections::BTreeSet<String>,
    name: &str,
    path: String,
    what: &str,
) {
    if name.trim().is_empty() || name.len() > 80 || name.chars().any(char::is_control) {
        out.push((
            path,
            format!("`{name}` is not a usable {what} name"),
            Some("use 1 to 80 printable characters".into()),
        ));
    } else if !names.insert(name.to_string()) {
        out.push((
            path,
            format!("a {what} named `{name}` already exists"),
            Some(format!("give each {what} a unique name")),
        ));
    }
}

fn check_tags(out: &mut Vec<ScenarioProblem>, tags: &[String], path: &str) {
    for (i, tag) in tags.iter().enumerate() {
        let ok = !tag.is_empty()
            && tag.len() <= 40
            && tag.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            out.push((
                format!("{path}[{i}]"),
                format!("`{tag}` is not a valid tag"),
                Some(format!(
                    "use lowercase letters, digits and dashes; risk tags: {}",
                    RISK_TAGS.join(", ")
                )),
            ));
        }
    }
}

/// The risk tags a predicted risk flag selects.
///
/// An error changepoint selects none: it says that the errors changed, not why, so tying it
/// to one kind of fault would run that fault for every other cause as well; the flag stays in
/// the document and the report for people to read, and `--all-tests` runs everything. More
/// rows than any check loaded select both `disk` (the database's files and the disk they fill)
/// and `volume` (more data to read per request).
pub fn risk_tags(kind: RiskKind) -> &'static [&'static str] {
    match kind {
        RiskKind::MemoryTrendingUp => &["memory"],
        RiskKind::LoadAboveTested => &["volume"],
        RiskKind::ErrorChangepoint => &[],
        RiskKind::DependencyLatency => &["db-latency"],
        RiskKind::DiskFilling => &["disk"],
        RiskKind::DataAboveTested => &["disk", "volume"],
    }
}

/// Why a scenario or test runs, or `None` when it is left out.
pub fn selection(tags: &[String], risks: &[RiskKind], all: bool) -> Option<String> {
    let own: Vec<&str> =
        tags.iter().map(String::as_str).filter(|t| RISK_TAGS.contains(t)).collect();
    if own.is_empty() {
        return Some("always: it has no risk tag".into());
    }
    for risk in risks {
        if let Some(tag) = risk_tags(*risk).iter().find(|t| own.contains(t)) {
            return Some(format!("predicted risk `{tag}` ({}) in the conditions", risk.as_str()));
        }
    }
    all.then(|| format!("--all-tests (risk tags {} not predicted)", own.join(", ")))
}

/// Whether a start/stop action begins or ends a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Edge {
    /// Stops sort first so that a fault ending when another starts is undone before.
    Stop,
    Start,
}

/// One action of the fault plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// Offset from the start of the load.
    pub at: Duration,
    pub edge: Edge,
    /// Index into [`Timeline::faults`].
    pub fault: usize,
}

/// A scheduled fault.
#[derive(Clone, Debug, PartialEq)]
pub struct Scheduled {
    pub name: String,
    pub fault: Fault,
    pub start: Duration,
    /// `None` for a fault without an end (it stays until the environment is gone).
    pub end: Option<Duration>,
    pub selected_because: String,
}

/// The faults of a run and the order of their actions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline {
    pub faults: Vec<Scheduled>,
    pub actions: Vec<Action>,
}

/// A problem that only shows with a given load length.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("scenario `{name}`: {message}")]
pub struct TimelineError {
    pub name: String,
    pub message: String,
}

impl Timeline {
    /// Plans the selected scenarios over a load of `load_len` (warm-up included). Each entry of
    /// `selected` is a scenario index and why it was selected. Scenarios must be valid.
    pub fn plan(
        scenarios: &[Scenario],
        selected: &[(usize, String)],
        load_len: Duration,
    ) -> Result<Timeline, TimelineError> {
        let mut t = Timeline::default();
        for (idx, why) in selected {
            let s = &scenarios[*idx];
            let fault = s.resolve().map_err(|p| TimelineError {
                name: s.name.clone(),
                message: p.first().map(|p| p.1.clone()).unwrap_or_default(),
            })?;
            let start = s.at.0;
            let end = s.duration.filter(|_| s.has_end()).map(|d| start + d.0);
            let last = end.unwrap_or(start);
            if last >= load_len {
                return Err(TimelineError {
                    name: s.name.clone(),
                    message: format!(
                        "it {} at {} but the load (warm-up included) lasts {}",
                        if end.is_some() { "ends" } else { "starts" },
                        HumanDuration(last),
                        HumanDuration(load_len)
                    ),
                });
            }
            let i = t.faults.len();
            t.actions.push(Action { at: start, edge: Edge::Start, fault: i });
            if let Some(e) = end {
                t.actions.push(Action { at: e, edge: Edge::Stop, fault: i });
            }
            t.faults.push(Scheduled {
                name: s.name.clone(),
                fault,
                start,
                end,
                selected_because: why.clone(),
            });
        }
        t.actions.sort_by_key(|a| (a.at, a.edge, a.fault));
        Ok(t)
    }

    /// The faults active at `t` (started at or before it, not yet ended).
    pub fn active_at(&self, t: Duration) -> Vec<usize> {
        self.faults
            .iter()
            .enumerate()
            .filter(|(_, f)| f.start <= t && f.end.is_none_or(|e| t < e))
            .map(|(i, _)| i)
            .collect()
    }
}

#[cfg(test)]
mod tests;
