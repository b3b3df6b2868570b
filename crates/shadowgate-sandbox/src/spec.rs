//! What an environment is asked to be ([`EnvSpec`]) and where its files live ([`EnvPaths`]).
//!
//! The spec is written as JSON into the environment's state directory by the process that asks
//! for the environment, and read by the supervisor; the init spec is written by the supervisor
//! and read by the environment's first process. Both are plain data.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

/// Everything the supervisor needs to build and run one environment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnvSpec {
    pub id: String,
    pub app: String,
    pub release: String,
    pub role: String,
    pub run_id: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// The release artifact on the host: a directory or a single file.
    pub release_path: PathBuf,
    pub install: Vec<StepSpec>,
    /// `run.command` as a template; expanded by the supervisor once the port is known.
    pub command: String,
    pub env: BTreeMap<String, String>,
    pub workdir: Option<String>,
    pub fixed_port: Option<u16>,
    pub health: HealthSpec,
    pub limits: LimitsSpec,
    pub stop_timeout_ms: u64,
    /// How often resource samples are written to the store (0 = never).
    pub sample_interval_ms: u64,
    pub store_path: PathBuf,
    pub log_dir: PathBuf,
    /// Host port for the endpoint (0 = any free port).
    pub host_port: u16,
    /// Proceed without the features listed in the doctor report as missing.
    pub allow_degraded: bool,
    /// Stop the environment when the process that started it exits (not for `--detach`).
    pub watch_starter: bool,
    /// Services started beside the application, each behind its own fault proxy.
    #[serde(default)]
    pub dependencies: Vec<crate::deps::DepSpec>,
    /// The manifest's `[data]`, loaded into a PostgreSQL dependency before the install steps.
    #[serde(default)]
    pub data: Option<crate::data::DataSpec>,
    /// Paths inside the environment that `io_error` faults may target: each gets the
    /// pass-through file system of [`crate::iofs`] mounted over it before the install steps.
    #[serde(default)]
    pub io_error_paths: Vec<String>,
}

/// One install step.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepSpec {
    pub name: String,
    pub command: String,
    pub timeout_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HealthSpec {
    /// HTTP path, or `None` for a TCP connect probe.
    pub http_path: Option<String>,
    pub timeout_ms: u64,
    pub interval_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LimitsSpec {
    pub cpu_cores: f64,
    pub memory_bytes: u64,
    pub pids: u64,
    pub disk_bytes: u64,
    pub io_read_bps: Option<u64>,
    pub io_write_bps: Option<u64>,
}

/// What the environment's init process (PID 1 inside) does.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InitSpec {
    pub hostname: String,
    /// The new root's mount point (a directory on the host, mounted only inside the environment).
    pub new_root: PathBuf,
    /// The overlay's lower directory (the release, read-only).
    pub lower: PathBuf,
    pub layer: PathBuf,
    pub install: Vec<ProcessSpec>,
    pub app: ProcessSpec,
    pub install_log: PathBuf,
    pub stdout_log: PathBuf,
    pub stderr_log: PathBuf,
    /// File descriptor number on which init reports progress as JSON lines.
    pub status_fd: i32,
    /// The `io_error` file systems to mount before the install steps.
    #[serde(default)]
    pub io_error: Vec<IoErrorMount>,
}

/// One pre-mounted `io_error` file system: the inside path and its control socket on the host.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IoErrorMount {
    pub path: String,
    pub control: PathBuf,
}

/// A process init starts inside the environment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProcessSpec {
    pub name: String,
    /// Run as `/bin/sh -c <command>`.
    pub command: String,
    pub env: BTreeMap<String, String>,
    pub workdir: String,
    /// 0 = no timeout.
    pub timeout_ms: u64,
}

/// Where things are inside an environment (the paths the application sees).
pub mod inside {
    pub const RELEASE_DIR: &str = "/shadowgate/release";
    pub const DATA_DIR: &str = "/shadowgate/data";
    pub const TMP_DIR: &str = "/tmp";
}

/// The layout of one environment's state directory on the host.
#[derive(Clone, Debug)]
pub struct EnvPaths {
    pub dir: PathBuf,
}

impl EnvPaths {
    pub fn new(state_root: &Path, host_name: &str) -> EnvPaths {
        EnvPaths { dir: state_root.join("envs").join(host_name) }
    }
    pub fn spec(&self) -> PathBuf {
        self.dir.join("spec.json")
    }
    pub fn init_spec(&self) -> PathBuf {
        self.dir.join("init.json")
    }
    pub fn journal(&self) -> PathBuf {
        self.dir.join("journal")
    }
    /// The writable layer: a size-limited tmpfs holding `upper`, `work`, `data`, `tmp`, ...
    pub fn layer(&self) -> PathBuf {
        self.dir.join("layer")
    }
    pub fn upper(&self) -> PathBuf {
        self.layer().join("upper")
    }
    /// A private copy of a single-file release (the overlay needs a directory below it).
    pub fn artifact_lower(&self) -> PathBuf {
        self.dir.join("artifact")
    }
    pub fn new_root(&self) -> PathBuf {
        self.dir.join("root")
    }
    /// The control socket of the `io_error` file system over the `index`-th of the spec's
    /// `io_error_paths`.
    pub fn io_error_control(&self, index: usize) -> PathBuf {
        self.dir.join(format!("io-error-{index}.sock"))
    }
    /// The supervisor's status: a small JSON document rewritten on every state change.
    pub fn status(&self) -> PathBuf {
        self.dir.join("status.json")
    }
}
