//! The local backend's public face: start, stop, list and collect environments.

use std::{
    collections::BTreeMap,
    fs::{self, File},
    io::{BufRead, BufReader},
    net::SocketAddr,
    os::unix::ffi::OsStrExt,
    os::{
        fd::{AsRawFd, OwnedFd},
        unix::{fs::DirBuilderExt, process::CommandExt},
    },
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use nix::{
    mount::{MntFlags, umount2},
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use shadowgate_core::env::{EnvState, HOST_PREFIX};
use shadowgate_store::{Environment, EnvironmentFilter, Store};

use crate::{
    cgroup::{Cgroup, Layout},
    journal::{self, HostObject},
    netns::{self, NetnsSockets},
    spec::{EnvPaths, EnvSpec},
    supervisor::READY_FD,
};

/// Starts and collects environments on this machine.
#[derive(Clone, Debug)]
pub struct LocalBackend {
    /// Where environments keep their state (`<root>/envs/shadowgate-<id>`); a tmpfs such as
    /// `/run/shadowgate` is ideal, since nothing there should survive a reboot.
    pub state_root: PathBuf,
    /// The shadowgate executable, started as `<exe> __supervise <dir>`.
    pub supervisor_exe: PathBuf,
}

/// Milestones reported while an environment comes up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    Installing,
    Starting,
    Running,
}

#[derive(Debug, thiserror::Error)]
pub enum UpError {
    #[error("{0}")]
    Setup(String),
    #[error("environment {id} failed: {message}")]
    Failed { id: String, message: String },
}

/// A running environment.
#[derive(Debug)]
pub struct EnvHandle {
    pub id: String,
    /// The host address that reaches the application.
    pub endpoint: SocketAddr,
    /// The application's port inside its network namespace.
    pub port: u16,
    pub netns: PathBuf,
    pub log_dir: PathBuf,
    pub supervisor_pid: i32,
    /// Milliseconds from the start of the supervisor to the first healthy probe.
    pub startup_ms: u64,
    child: Child,
    /// Held open while attached: when this process exits, the supervisor sees the pipe close
    /// and stops the environment.
    _starter_pipe: Option<File>,
}

impl EnvHandle {
    /// Sockets inside the environment's network namespace (to reach the application without
    /// going through the host endpoint).
    pub fn sockets(&self) -> Result<NetnsSockets, String> {
        NetnsSockets::enter(&self.netns).map_err(|e| e.to_string())
    }

    /// The application's address inside its namespace.
    pub fn inner_addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// Stops the environment and waits until its supervisor has removed it.
    pub fn stop(mut self) -> Result<(), String> {
        let _ = kill(Pid::from_raw(self.supervisor_pid), Signal::SIGTERM);
        let status = self.child.wait().map_err(|e| format!("wait for the supervisor: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "the supervisor of {} reported a cleanup problem ({status}); see {}",
                self.id,
                self.log_dir.join("supervisor.log").display()
            ))
        }
    }

    /// Leaves the environment running after this process exits.
    pub fn detach(self) {}

    /// Whether the supervisor has exited (the environment ended on its own).
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

/// What `gc` removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Environments whose supervisor was gone and whose leftovers were removed.
    pub environments: Vec<String>,
    /// Human-readable list of removed host objects.
    pub removed: Vec<String>,
    /// Objects that could not be removed, with the reason.
    pub errors: Vec<String>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl LocalBackend {
    pub fn env_paths(&self, id: &str) -> EnvPaths {
        EnvPaths::new(&self.state_root, &format!("{HOST_PREFIX}-{id}"))
    }

    /// Creates and starts an environment, returning once it is healthy (or failed).
    pub fn up(
        &self,
        store: &dyn Store,
        spec: &EnvSpec,
        mut progress: impl FnMut(Progress),
    ) -> Result<EnvHandle, UpError> {
        let setup = |what: &str, e: &dyn std::fmt::Display| UpError::Setup(format!("{what}: {e}"));
        let paths = self.env_paths(&spec.id);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&paths.dir)
            .map_err(|e| setup(&format!("create {}", paths.dir.display()), &e))?;
        fs::create_dir_all(&spec.log_dir)
            .map_err(|e| setup(&format!("create {}", spec.log_dir.display()), &e))?;
        let json = serde_json::to_vec_pretty(spec).map_err(|e| setup("encode the spec", &e))?;
        fs::write(paths.spec(), json)
            .map_err(|e| setup(&format!("write {}", paths.spec().display()), &e))?;
        let now = now_ms();
        store
            .insert_environment(&Environment {
                id: spec.id.clone(),
                app: spec.app.clone(),
                release: spec.release.clone(),
                role: spec.role.clone(),
                state: EnvState::Creating,
                labels: spec.labels.clone(),
                created_ms: now,
                updated_ms: now,
                endpoint: None,
                supervisor_pid: None,
                state_dir: paths.dir.display().to_string(),
                run_id: spec.run_id.clone(),
                detail: None,
            })
            .map_err(|e| setup("record the environment", &e))?;

        let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| setup("create a pipe", &e))?;
        let log = File::create(spec.log_dir.join("supervisor.log"))
            .map_err(|e| setup("create supervisor.log", &e))?;
        let log2 = log.try_clone().map_err(|e| setup("duplicate a descriptor", &e))?;
        let mut cmd = Command::new(&self.supervisor_exe);
        std::os::unix::process::CommandExt::arg0(&mut cmd, "shadowgate");
        cmd.arg("__supervise").arg(&paths.dir).stdin(Stdio::null()).stdout(log).stderr(log2);
        let write_fd = write_end.as_raw_fd();
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(write_fd, READY_FD) < 0 || libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| setup(&format!("start {}", self.supervisor_exe.display()), &e))?;
        drop(write_end);
        let supervisor_pid = child.id() as i32;

        let reader_fd: OwnedFd =
            read_end.try_clone().map_err(|e| setup("duplicate a descriptor", &e))?;
        let reader = BufReader::new(File::from(reader_fd));
        let mut running = None;
        let mut failure = None;
        for line in reader.lines() {
            let Ok(line) = line else { break };
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            match msg["state"].as_str().unwrap_or_default() {
                "installing" => progress(Progress::Installing),
                "starting" => progress(Progress::Starting),
                "running" => {
                    progress(Progress::Running);
                    running = Some(msg);
                    break;
                }
                "failed" => {
                    failure = Some(msg["error"].as_str().unwrap_or("unknown error").to_string());
                    break;
                }
                _ => {}
            }
        }
        let Some(msg) = running else {
            let status = child.wait().ok();
            let message = failure.unwrap_or_else(|| {
                format!(
                    "the supervisor exited ({}) before the environment was ready; see {}",
                    status.map(|s| s.to_string()).unwrap_or_else(|| "unknown status".into()),
                    spec.log_dir.join("supervisor.log").display()
                )
            });
            let _ = child.wait();
            return Err(UpError::Failed { id: spec.id.clone(), message });
        };
        let endpoint: SocketAddr = msg["endpoint"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| UpError::Setup("the supervisor reported no endpoint".into()))?;
        Ok(EnvHandle {
            id: spec.id.clone(),
            endpoint,
            port: msg["port"].as_u64().unwrap_or(0) as u16,
            netns: netns::path_of(&format!("{HOST_PREFIX}-{}", spec.id)),
            log_dir: spec.log_dir.clone(),
            supervisor_pid,
            startup_ms: msg["ms"].as_u64().unwrap_or(0),
            child,
            _starter_pipe: spec.watch_starter.then(|| File::from(read_end)),
        })
    }

    /// The live supervisor of an environment, if there is one.
    pub fn live_supervisor(&self, id: &str) -> Option<i32> {
        live_supervisors().get(id).copied()
    }

    /// Stops an environment started elsewhere (e.g. with `--detach`): SIGTERM to its
    /// supervisor, then SIGKILL and collection if it does not finish within `timeout`.
    pub fn down(&self, store: &dyn Store, id: &str, timeout: Duration) -> Result<(), String> {
        if let Some(&pid) = live_supervisors().get(id) {
            let start = journal::process_start_time(pid);
            let alive =
                || start.is_some() && journal::process_start_time(pid) == start && !is_zombie(pid);
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            let deadline = Instant::now() + timeout;
            while alive() {
                if Instant::now() >= deadline {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let paths = self.env_paths(id);
        if paths.dir.exists() {
            let mut report = GcReport::default();
            self.collect_env(store, id, &paths, &mut report);
            if !report.errors.is_empty() {
                return Err(report.errors.join("; "));
            }
        }
        Ok(())
    }

    /// Removes everything that environments without a live supervisor left behind: processes,
    /// cgroups, mounts, network namespaces and state directories. Then sweeps the host for
    /// shadowgate-named objects that belong to no live environment.
    pub fn gc(&self, store: &dyn Store) -> GcReport {
        let mut report = GcReport::default();
        // Liveness is decided machine-wide, so that a gc never touches an environment that
        // another shadowgate (with another state directory) is running.
        let live = live_supervisors();
        let envs_dir = self.state_root.join("envs");
        if let Ok(entries) = fs::read_dir(&envs_dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                let Some(id) = name.strip_prefix(&format!("{HOST_PREFIX}-")) else { continue };
                if live.contains_key(id) {
                    continue;
                }
                let paths = self.env_paths(id);
                self.collect_env(store, id, &paths, &mut report);
                report.environments.push(id.to_string());
            }
        }
        self.sweep(&live, &mut report);
        // Records that still claim to be live but whose supervisor is gone.
        if let Ok(envs) = store.environments(&EnvironmentFilter::default()) {
            for mut env in envs.into_iter().filter(|e| e.state.is_live()) {
                if !live.contains_key(&env.id) && !self.env_paths(&env.id).dir.exists() {
                    env.state = EnvState::Collected;
                    env.updated_ms = now_ms();
                    env.endpoint = None;
                    env.detail.get_or_insert_with(|| {
                        "its supervisor was gone; collected by env gc".into()
                    });
                    let _ = store.update_environment(&env);
                    if !report.environments.contains(&env.id) {
                        report.environments.push(env.id);
                    }
                }
            }
        }
        report
    }

    fn collect_env(&self, store: &dyn Store, id: &str, paths: &EnvPaths, report: &mut GcReport) {
        let objects = journal::read(&paths.journal()).unwrap_or_default();
        let before = report.errors.len();
        // Processes first (newest first), so nothing holds the other objects.
        for o in objects.iter().rev() {
            if let HostObject::Process { pid, start_time, role } = o
                && journal::process_alive(*pid, *start_time)
            {
                let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
                report.removed.push(format!("process {pid} ({role})"));
            }
        }
        for o in objects.iter().rev() {
            if let Some(cg) = o.as_cgroup() {
                cg.kill_all();
            }
        }
        for o in objects.iter().rev() {
            match o {
                HostObject::Mount { path } => match umount2(path, MntFlags::MNT_DETACH) {
                    Ok(()) => report.removed.push(format!("mount {}", path.display())),
                    Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
                    Err(e) => report.errors.push(format!("unmount {}: {e}", path.display())),
                },
                HostObject::Netns { path } if path.exists() => match netns::remove(path) {
                    Ok(()) => report.removed.push(format!("network namespace {}", path.display())),
                    Err(e) => report.errors.push(e.to_string()),
                },
                _ => {}
            }
        }
        for o in objects.iter().rev() {
            if let Some(cg) = o.as_cgroup() {
                let existed = cg.unique_dirs().iter().any(|d| d.exists());
                match cg.remove(Duration::from_secs(10)) {
                    Ok(()) if existed => {
                        report.removed.push(format!("cgroup {}", cg.unique_dirs()[0].display()))
                    }
                    Ok(()) => {}
                    Err(e) => report.errors.push(e.to_string()),
                }
            }
        }
        if report.errors.len() == before {
            match fs::remove_dir_all(&paths.dir) {
                Ok(()) => report.removed.push(format!("directory {}", paths.dir.display())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => report.errors.push(format!("remove {}: {e}", paths.dir.display())),
            }
        }
        if let Ok(Some(mut env)) = store.environment(id)
            && env.state.is_live()
        {
            env.state = EnvState::Collected;
            env.updated_ms = now_ms();
            env.endpoint = None;
            env.detail = Some("its supervisor was gone; collected by env gc".into());
            let _ = store.update_environment(&env);
        }
    }

    /// Removes shadowgate-named host objects that no live environment owns (for example,
    /// created by a process that died between creating an object and journaling the next).
    fn sweep(&self, live: &BTreeMap<String, i32>, report: &mut GcReport) {
        let owned = |name: &str| {
            name.strip_prefix(&format!("{HOST_PREFIX}-")).is_some_and(|id| live.contains_key(id))
        };
        if let Ok(entries) = fs::read_dir(netns::NETNS_DIR) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if name.starts_with(&format!("{HOST_PREFIX}-")) && !owned(&name) {
                    match netns::remove(&entry.path()) {
                        Ok(()) => report
                            .removed
                            .push(format!("network namespace {}", entry.path().display())),
                        Err(e) => report.errors.push(e.to_string()),
                    }
                }
            }
        }
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let envs_dir = self.state_root.join("envs");
        let mut stale_mounts: Vec<PathBuf> = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .map(PathBuf::from)
            .filter(|p| p.starts_with(&envs_dir))
            .filter(|p| {
                p.strip_prefix(&envs_dir)
                    .ok()
                    .and_then(|rest| rest.components().next())
                    .map(|c| !owned(&c.as_os_str().to_string_lossy()))
                    .unwrap_or(false)
            })
            .collect();
        stale_mounts.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        stale_mounts.dedup();
        for m in stale_mounts {
            match umount2(&m, MntFlags::MNT_DETACH) {
                Ok(()) => report.removed.push(format!("mount {}", m.display())),
                Err(e) => report.errors.push(format!("unmount {}: {e}", m.display())),
            }
        }
        if let Ok(layout) = Layout::detect() {
            let parent = std::env::var("SHADOWGATE_CGROUP_PARENT")
                .unwrap_or_else(|_| HOST_PREFIX.to_string());
            let base = Cgroup::planned(&layout, &parent);
            let mut seen = BTreeMap::new();
            for dir in base.unique_dirs() {
                let Ok(entries) = fs::read_dir(&dir) else { continue };
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().to_string();
                    if entry.path().is_dir()
                        && name.starts_with(&format!("{HOST_PREFIX}-"))
                        && !owned(&name)
                    {
                        seen.insert(name, ());
                    }
                }
            }
            for name in seen.keys() {
                let cg = Cgroup::planned(&layout, &format!("{parent}/{name}"));
                match cg.remove(Duration::from_secs(10)) {
                    Ok(()) => report.removed.push(format!("cgroup {parent}/{name}")),
                    Err(e) => report.errors.push(e.to_string()),
                }
            }
        }
    }
}

fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').and_then(|i| s.get(i + 2..i + 3).map(|c| c == "Z")))
        .unwrap_or(false)
}

/// Environments whose supervisor process is running anywhere on this machine: id → pid.
/// Found by scanning process command lines for `__supervise <state dir>/envs/shadowgate-<id>`.
pub fn live_supervisors() -> BTreeMap<String, i32> {
    // (pid, parent pid) of every process running `__supervise` for an environment.
    let mut found: BTreeMap<String, Vec<(i32, i32)>> = BTreeMap::new();
    let Ok(entries) = fs::read_dir("/proc") else { return BTreeMap::new() };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else { continue };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if args.get(1) != Some(&b"__supervise".as_slice()) {
            continue;
        }
        let Some(dir) = args.get(2) else { continue };
        let dir = Path::new(std::ffi::OsStr::from_bytes(dir));
        if let Some(id) = dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix(&format!("{HOST_PREFIX}-")))
        {
            found.entry(id.to_string()).or_default().push((pid, parent_pid(pid).unwrap_or(0)));
        }
    }
    // A supervisor's child between its fork and its exec still shows the supervisor's command
    // line; the supervisor is the one whose parent is not itself a supervisor of that id.
    found
        .into_iter()
        .filter_map(|(id, procs)| {
            let pids: Vec<i32> = procs.iter().map(|p| p.0).collect();
            let main = procs.iter().find(|(_, ppid)| !pids.contains(ppid)).or(procs.first())?;
            Some((id, main.0))
        })
        .collect()
}

/// The parent of a process, from `/proc/<pid>/stat`.
fn parent_pid(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself hold spaces or parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The state root for this user: `/run/shadowgate` for root, a per-user runtime directory
/// otherwise. `SHADOWGATE_STATE_DIR` overrides it.
pub fn default_state_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("SHADOWGATE_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/run/shadowgate");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) => Path::new(&d).join("shadowgate"),
        None => std::env::temp_dir().join(format!("shadowgate-{}", nix::unistd::geteuid())),
    }
}
