//! The manifest's data model: what `shadowgate.toml` may contain.
//!
//! Every struct denies unknown keys, so a typo is an error with a suggestion rather than a
//! silently ignored setting. Defaults live here, next to the fields they belong to.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::units::{ByteSize, HumanDuration};

/// A whole `shadowgate.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// `[app]`: what the application is called.
    pub app: App,
    /// `[releases.NAME]`: the versions that can be run.
    pub releases: BTreeMap<String, Release>,
    /// `[[install]]`: ordered steps run inside a fresh environment before the application starts.
    #[serde(default)]
    pub install: Vec<InstallStep>,
    /// `[run]`: how to start the application and know that it is up.
    pub run: Run,
    /// `[resources]`: default limits of an environment.
    #[serde(default)]
    pub resources: Resources,
    /// `[labels]`: free-form labels copied onto every environment of this application.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,

    // ---- Sections that later versions of shadowgate fill in (after `traffic` and `judge`). ----
    // They are parsed as "reserved" so that a manifest written for a newer shadowgate gets a
    // clear message instead of an "unknown key" error.
    /// `[traffic]`: the load `check` applies (rate, duration, request mix).
    #[serde(default)]
    pub traffic: Option<crate::traffic::Traffic>,
    /// `[judge]`: which metrics decide a verdict, and how.
    #[serde(default)]
    pub judge: Option<shadowgate_judge::JudgeConfig>,
    /// `[dependencies.NAME]`: services started beside the application.
    #[serde(default)]
    pub dependencies: BTreeMap<String, super::dependencies::Dependency>,
    /// `[data]`: synthetic data generated into the dependencies (model and validation in
    /// `shadowgate-data`, whose default features are pure).
    #[serde(default)]
    pub data: Option<shadowgate_data::DataConfig>,
    /// `[[scenarios]]`: faults on a timeline.
    #[serde(default)]
    pub scenarios: Vec<crate::scenario::Scenario>,
    /// `[[tests]]`: the user's own test commands run against an environment.
    #[serde(default)]
    pub tests: Vec<crate::scenario::TestCommand>,
    /// `[conditions]`: the production conditions (limits, rate, network, data volume) a check
    /// rehearses under when no predicted-conditions document is given.
    #[serde(default)]
    pub conditions: Option<super::conditions::Conditions>,
    /// `[diff]`: response comparison between baseline, a second baseline and candidate.
    #[serde(default)]
    pub diff: Option<crate::diff::Diff>,
}

/// `[app]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// Lowercase letters, digits and dashes; names environments and store rows.
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// `[releases.NAME]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// The release artifact: a directory, or a single file (e.g. a binary). Relative to the
    /// manifest's directory.
    pub path: String,
    /// A shell command run in the manifest's directory to produce `path` before use.
    #[serde(default)]
    pub build: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// One `[[install]]` step.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallStep {
    pub name: String,
    /// A command template (placeholders as in `run.command`, except `{port}`).
    pub command: String,
    #[serde(default = "defaults::install_timeout")]
    pub timeout: HumanDuration,
}

/// `[run]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// The command template that starts the application in the foreground.
    pub command: String,
    /// A fixed port the application listens on inside its environment. Without it the command
    /// must use `{port}`. (Each environment has its own network, so fixed ports never collide.)
    #[serde(default)]
    pub port: Option<u16>,
    /// Extra environment variables (values are templates too).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The working directory, a template; the release directory by default.
    #[serde(default)]
    pub workdir: Option<String>,
    /// How long a stop waits after SIGTERM before SIGKILL.
    #[serde(default = "defaults::stop_timeout")]
    pub stop_timeout: HumanDuration,
    /// The HTTP path of the application's own Prometheus metrics, e.g. `/metrics`. When set,
    /// `check` scrapes it at every sample interval and `[judge]` metrics can name
    /// `prom:<metric name>`.
    #[serde(default)]
    pub metrics: Option<String>,
    /// `[run.health]`
    #[serde(default)]
    pub health: Health,
}

/// `[run.health]`: when is the application ready.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// An HTTP path that answers 2xx or 3xx when ready, e.g. `/healthz`.
    #[serde(default)]
    pub http: Option<String>,
    /// Ready as soon as the port accepts TCP connections.
    #[serde(default)]
    pub tcp: Option<bool>,
    /// Give up (and fail the environment) after this long.
    #[serde(default = "defaults::health_timeout")]
    pub timeout: HumanDuration,
    /// Pause between probes.
    #[serde(default = "defaults::health_interval")]
    pub interval: HumanDuration,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            http: None,
            tcp: None,
            timeout: defaults::health_timeout(),
            interval: defaults::health_interval(),
        }
    }
}

/// The probe a health check uses, derived from [`Health`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    Http { path: String },
    Tcp,
}

impl Health {
    /// The configured probe; TCP when nothing is set.
    pub fn probe(&self) -> Probe {
        match &self.http {
            Some(path) => Probe::Http { path: path.clone() },
            None => Probe::Tcp,
        }
    }
}

/// `[resources]`: limits enforced on the whole environment.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// CPU in cores (0.5 = half of one core), enforced as a CFS quota.
    #[serde(default = "defaults::cpu")]
    pub cpu: f64,
    /// Memory limit; exceeding it gets the application OOM-killed.
    #[serde(default = "defaults::memory")]
    pub memory: ByteSize,
    /// Maximum number of processes and threads.
    #[serde(default = "defaults::pids")]
    pub pids: u64,
    /// Size of the writable layer (every write of the application lands there).
    #[serde(default = "defaults::disk")]
    pub disk: ByteSize,
    /// Block-device read limit in bytes per second, where the kernel supports it.
    #[serde(default)]
    pub io_read_bps: Option<ByteSize>,
    /// Block-device write limit in bytes per second, where the kernel supports it.
    #[serde(default)]
    pub io_write_bps: Option<ByteSize>,
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            cpu: defaults::cpu(),
            memory: defaults::memory(),
            pids: defaults::pids(),
            disk: defaults::disk(),
            io_read_bps: None,
            io_write_bps: None,
        }
    }
}

/// A section that this version of shadowgate recognises but does not implement yet.
#[derive(Clone, Debug, Default)]
pub struct Reserved(pub Option<toml::Value>);

impl Reserved {
    pub fn is_present(&self) -> bool {
        self.0.is_some()
    }
}

impl<'de> Deserialize<'de> for Reserved {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        toml::Value::deserialize(d).map(|v| Reserved(Some(v)))
    }
}

pub(crate) mod defaults {
    use crate::units::{ByteSize, HumanDuration};

    pub fn install_timeout() -> HumanDuration {
        HumanDuration::from_secs(600)
    }
    pub fn stop_timeout() -> HumanDuration {
        HumanDuration::from_secs(10)
    }
    pub fn health_timeout() -> HumanDuration {
        HumanDuration::from_secs(30)
    }
    pub fn health_interval() -> HumanDuration {
        HumanDuration::from_millis(50)
    }
    pub fn cpu() -> f64 {
        1.0
    }
    pub fn memory() -> ByteSize {
        ByteSize::mib(512)
    }
    pub fn pids() -> u64 {
        1024
    }
    pub fn disk() -> ByteSize {
        ByteSize::mib(1024)
    }
}
