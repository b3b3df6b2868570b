//! The supervisor: one process per environment that builds it, runs it, watches it and removes
//! it.
//!
//! It is started by [`crate::LocalBackend::up`] as `shadowgate __supervise <state dir>` in its
//! own session, so an environment can outlive the command that created it (`env up --detach`).
//! It reports progress to its starter as JSON lines on file descriptor 3, records everything in
//! the store, and on SIGTERM (or when the application exits) stops the application gracefully and
//! removes every host object it created. Every object is journaled before it is created, so that
//! if the supervisor itself is killed, `env gc` finishes the job.

use std::{
    collections::BTreeMap,
    ffi::CString,
    fs::{self, File},
    io::{BufRead, BufReader, Write},
    net::SocketAddr,
    os::{
        fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd},
        unix::fs::PermissionsExt,
    },
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use nix::{
    mount::{MntFlags, MsFlags, mount, umount2},
    sys::{
        signal::{Signal, kill},
        wait::{WaitStatus, waitpid},
    },
    unistd::Pid,
};
use serde_json::json;
use shadowgate_core::{env::EnvState, template::Template};
use shadowgate_store::{NewEvent, Sample, SeriesKey, SqliteStore, Store};
use tokio::sync::mpsc;

use crate::{
    cgroup::{Cgroup, IoLimit, Layout, Limits, Stats},
    changes, deps, init,
    journal::{HostObject, Journal, process_start_time},
    netns::{self, NetnsSockets},
    probe,
    spec::{EnvPaths, EnvSpec, InitSpec, ProcessSpec, inside},
};

/// The descriptor on which the supervisor reports progress to the process that started it.
pub const READY_FD: i32 = 3;

/// Supervisor mode: never returns.
pub fn main(env_dir: &Path) -> ! {
    let code = match run(env_dir) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("shadowgate supervisor: {e}");
            1
        }
    };
    std::process::exit(code)
}

/// Progress reports to the starter.
struct Ready(Option<File>);

impl Ready {
    fn from_fd() -> Ready {
        // SAFETY: fcntl on an arbitrary descriptor number is harmless; we only adopt it if open.
        let open = unsafe { libc::fcntl(READY_FD, libc::F_GETFD) } >= 0;
        // SAFETY: descriptor 3 was opened for us by the starter and is owned by this process.
        Ready(open.then(|| unsafe { File::from_raw_fd(READY_FD) }))
    }

    fn send(&mut self, value: serde_json::Value) {
        if let Some(f) = &mut self.0 {
            let mut line = value.to_string();
            line.push('\n');
            if f.write_all(line.as_bytes()).is_err() {
                self.0 = None;
            }
        }
    }

    fn close(&mut self) {
        self.0 = None;
    }

    /// Stops the environment (by signalling this process) when the starter goes away: the read
    /// end of the pipe closes when the starter exits, even by `kill -9`, and `poll` then reports
    /// an error on our write end.
    fn watch_for_hangup(&self) {
        let Some(f) = &self.0 else { return };
        // SAFETY: dup of a descriptor we own; the copy is owned by the watcher thread.
        let fd = unsafe { libc::dup(f.as_raw_fd()) };
        if fd < 0 {
            return;
        }
        std::thread::spawn(move || {
            let mut pfd = libc::pollfd { fd, events: 0, revents: 0 };
            loop {
                // SAFETY: one valid pollfd.
                let n = unsafe { libc::poll(&mut pfd, 1, -1) };
                if n > 0 && pfd.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
                    let _ = kill(Pid::this(), Signal::SIGTERM);
                    return;
                }
                if n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                    return;
                }
            }
        });
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

struct Supervisor {
    spec: EnvSpec,
    paths: EnvPaths,
    store: SqliteStore,
    journal: Journal,
    cgroup: Option<Cgroup>,
    netns: Option<PathBuf>,
    layer_mounted: bool,
    init: Option<Pid>,
    port: u16,
    started: Instant,
    status_rx: Option<mpsc::UnboundedReceiver<serde_json::Value>>,
    deps: Option<deps::Running>,
}

fn run(env_dir: &Path) -> Result<(), String> {
    let paths = EnvPaths { dir: env_dir.to_path_buf() };
    let spec: EnvSpec = serde_json::from_slice(
        &fs::read(paths.spec()).map_err(|e| format!("read {}: {e}", paths.spec().display()))?,
    )
    .map_err(|e| format!("parse {}: {e}", paths.spec().display()))?;
    let mut ready = Ready::from_fd();
    let store = SqliteStore::open(&spec.store_path).map_err(|e| e.to_string())?;
    let mut journal =
        Journal::open(&paths.journal()).map_err(|e| format!("open the journal: {e}"))?;
    let me = std::process::id() as i32;
    journal
        .record(&HostObject::Process {
            pid: me,
            start_time: process_start_time(me).unwrap_or(0),
            role: "supervisor".into(),
        })
        .map_err(|e| format!("write the journal: {e}"))?;
    let mut sup = Supervisor {
        spec,
        paths,
        store,
        journal,
        cgroup: None,
        netns: None,
        layer_mounted: false,
        init: None,
        port: 0,
        started: Instant::now(),
        status_rx: None,
        deps: None,
    };

    let result = match sup.build() {
        Ok(exit_rx) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("start the async runtime: {e}"))?;
            runtime.block_on(sup.serve(&mut ready, exit_rx))
        }
        Err(e) => Err(e),
    };
    let (state, detail) = match &result {
        Ok(detail) => (EnvState::Stopped, detail.clone()),
        Err(e) => {
            ready.send(json!({"state": "failed", "error": e}));
            (EnvState::Failed, e.clone())
        }
    };
    ready.close();
    sup.event("stopped", &detail, json!({}));
    let cleanup = sup.teardown();
    sup.set_state(state, Some(&detail), None);
    cleanup
}

impl Supervisor {
    fn event(&self, kind: &str, message: &str, data: serde_json::Value) -> Option<i64> {
        self.store
            .append_event(&NewEvent {
                env_id: Some(self.spec.id.clone()),
                run_id: self.spec.run_id.clone(),
                kind: kind.to_string(),
                at_ms: now_ms(),
                end_ms: None,
                message: message.to_string(),
                data,
            })
            .ok()
    }

    fn set_state(&self, state: EnvState, detail: Option<&str>, endpoint: Option<String>) {
        if let Ok(Some(mut env)) = self.store.environment(&self.spec.id) {
            env.state = state;
            env.updated_ms = now_ms();
            env.supervisor_pid = Some(std::process::id() as i64);
            if let Some(d) = detail {
                env.detail = Some(d.to_string());
            }
            if endpoint.is_some() || !state.is_live() {
                env.endpoint = endpoint;
            }
            let _ = self.store.update_environment(&env);
        }
    }

    fn record(&mut self, object: HostObject) -> Result<(), String> {
        self.journal
            .record(&object)
            .map_err(|e| format!("write the journal {}: {e}", self.journal.path().display()))
    }

    fn host_name(&self) -> String {
        format!("{}-{}", shadowgate_core::env::HOST_PREFIX, self.spec.id)
    }

    /// Creates the host objects and starts init. Returns the channel on which init's exit
    /// status arrives.
    fn build(&mut self) -> Result<std::sync::mpsc::Receiver<WaitStatus>, String> {
        let name = self.host_name();
        let degraded = self.spec.allow_degraded;

        // Resources.
        let limits = Limits {
            cpu_cores: Some(self.spec.limits.cpu_cores),
            memory_bytes: Some(self.spec.limits.memory_bytes),
            pids: Some(self.spec.limits.pids),
            io: io_limits(&self.spec),
        };
        match Layout::detect() {
            Ok(layout) => {
                let relative = format!("{}/{name}", cgroup_parent());
                let planned = Cgroup::planned(&layout, &relative);
                self.record(HostObject::cgroup(&planned))?;
                let cg = Cgroup::create(&layout, &relative).map_err(|e| e.to_string())?;
                self.cgroup = Some(cg.clone());
                if let Err(e) = cg.apply(&limits) {
                    if !degraded {
                        return Err(format!("{e}"));
                    }
                    self.event("degraded", &format!("running without a limit: {e}"), json!({}));
                }
            }
            Err(e) if degraded => {
                self.event("degraded", &format!("running without resource limits: {e}"), json!({}));
            }
            Err(e) => return Err(e.to_string()),
        }

        // Network.
        let ns_path = netns::path_of(&name);
        self.record(HostObject::Netns { path: ns_path.clone() })?;
        netns::create(&name).map_err(|e| e.to_string())?;
        self.netns = Some(ns_path.clone());
        let sockets = NetnsSockets::enter(&ns_path).map_err(|e| e.to_string())?;
        self.port = match self.spec.fixed_port {
            Some(p) => p,
            None => sockets.free_port().map_err(|e| e.to_string())?,
        };
        self.start_dependencies(&ns_path, &sockets)?;

        // File system: the writable layer is a tmpfs whose size is the disk limit.
        let layer = self.paths.layer();
        fs::create_dir_all(&layer).map_err(|e| format!("create {}: {e}", layer.display()))?;
        self.record(HostObject::Mount { path: layer.clone() })?;
        let opts = format!("size={},mode=755", self.spec.limits.disk_bytes);
        mount(
            Some("tmpfs"),
            &layer,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(opts.as_str()),
        )
        .map_err(|e| format!("mount the writable layer on {}: {e}", layer.display()))?;
        self.layer_mounted = true;
        for (dir, mode) in [
            ("upper", 0o755),
            ("work", 0o755),
            ("data", 0o755),
            ("tmp", 0o1777),
            ("run", 0o755),
            ("shm", 0o1777),
        ] {
            let p = layer.join(dir);
            fs::create_dir(&p).map_err(|e| format!("create {}: {e}", p.display()))?;
            fs::set_permissions(&p, fs::Permissions::from_mode(mode))
                .map_err(|e| format!("chmod {}: {e}", p.display()))?;
        }
        fs::create_dir_all(self.paths.new_root())
            .map_err(|e| format!("create {}: {e}", self.paths.new_root().display()))?;

        let release = &self.spec.release_path;
        let meta =
            fs::metadata(release).map_err(|e| format!("the release {}: {e}", release.display()))?;
        let (lower, artifact_name) = if meta.is_file() {
            // The overlay needs a directory below it: give the file one of its own.
            let dir = self.paths.artifact_lower();
            fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
            let file_name = release
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| "artifact".into());
            fs::copy(release, dir.join(&file_name))
                .map_err(|e| format!("copy the release {}: {e}", release.display()))?;
            (dir, file_name)
        } else {
            (release.clone(), String::new())
        };
        let (release_dir, artifact) = init::placeholder_paths(meta.is_file(), &artifact_name);

        // What to run, with every placeholder filled.
        let mut values = BTreeMap::new();
        values.insert("port".to_string(), self.port.to_string());
        values.insert("release_dir".to_string(), release_dir.display().to_string());
        values.insert("artifact".to_string(), artifact.display().to_string());
        values.insert("data_dir".to_string(), inside::DATA_DIR.to_string());
        values.insert("tmp_dir".to_string(), inside::TMP_DIR.to_string());
        values.insert("env_id".to_string(), self.spec.id.clone());
        values.insert("app".to_string(), self.spec.app.clone());
        values.insert("release".to_string(), self.spec.release.clone());
        let dep_infos = self.deps.as_ref().map(|d| d.infos.clone()).unwrap_or_default();
        values.extend(dep_infos.iter().flat_map(deps::DepInfo::placeholders));
        let expand = |t: &str, quote: bool| -> Result<String, String> {
            let template = Template::parse(t).map_err(|e| format!("template `{t}`: {e}"))?;
            if quote { template.expand(&values) } else { template.expand_raw(&values) }
                .map_err(|e| format!("template `{t}`: {e}"))
        };
        let mut env = BTreeMap::new();
        env.insert(
            "PATH".to_string(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        );
        env.insert("HOME".to_string(), inside::DATA_DIR.to_string());
        env.insert("TMPDIR".to_string(), inside::TMP_DIR.to_string());
        env.insert("PORT".to_string(), self.port.to_string());
        env.insert("SHADOWGATE_ENV_ID".to_string(), self.spec.id.clone());
        env.insert("SHADOWGATE_RELEASE".to_string(), self.spec.release.clone());
        env.insert("SHADOWGATE_ROLE".to_string(), self.spec.role.clone());
        env.extend(dep_infos.iter().flat_map(deps::DepInfo::env_vars));
        for (k, v) in &self.spec.env {
            env.insert(k.clone(), expand(v, false)?);
        }
        let workdir = match &self.spec.workdir {
            Some(w) => expand(w, false)?,
            None => release_dir.display().to_string(),
        };
        let install = self
            .spec
            .install
            .iter()
            .map(|s| {
                Ok(ProcessSpec {
                    name: s.name.clone(),
                    command: expand(&s.command, true)?,
                    env: env.clone(),
                    workdir: workdir.clone(),
                    timeout_ms: s.timeout_ms,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let app = ProcessSpec {
            name: "app".into(),
            command: expand(&self.spec.command, true)?,
            env,
            workdir,
            timeout_ms: 0,
        };

        // Init, with a pipe to report on.
        let (status_read, status_write) =
            nix::unistd::pipe().map_err(|e| format!("create a pipe: {e}"))?;
        let status_fd = status_write.as_raw_fd();
        // The write end must survive execve in the child; clear close-on-exec on it.
        nix::fcntl::fcntl(
            &status_write,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .map_err(|e| format!("configure the status pipe: {e}"))?;
        let log = &self.spec.log_dir;
        let init_spec = InitSpec {
            hostname: name.clone(),
            new_root: self.paths.new_root(),
            lower,
            layer: layer.clone(),
            install,
            app,
            install_log: log.join("install.log"),
            stdout_log: log.join("stdout.log"),
            stderr_log: log.join("stderr.log"),
            status_fd,
            io_error: self
                .spec
                .io_error_paths
                .iter()
                .enumerate()
                .map(|(i, path)| crate::spec::IoErrorMount {
                    path: path.clone(),
                    control: self.paths.io_error_control(i),
                })
                .collect(),
        };
        let init_json = serde_json::to_vec_pretty(&init_spec).map_err(|e| e.to_string())?;
        fs::write(self.paths.init_spec(), init_json)
            .map_err(|e| format!("write {}: {e}", self.paths.init_spec().display()))?;

        let cstr = |s: &str| CString::new(s).map_err(|_| format!("`{s}` contains a NUL byte"));
        // This very binary, even if its file was replaced since the supervisor started.
        let launch = init::Launch {
            exe: cstr("/proc/self/exe")?,
            argv: vec![
                cstr("shadowgate-init")?,
                cstr("__init")?,
                cstr(&self.paths.init_spec().to_string_lossy())?,
            ],
            envp: vec![cstr("PATH=/usr/sbin:/usr/bin:/sbin:/bin")?],
            cgroup_procs: match &self.cgroup {
                Some(cg) => cg
                    .procs_files()
                    .iter()
                    .map(|p| {
                        fs::OpenOptions::new()
                            .write(true)
                            .open(p)
                            .map_err(|e| format!("open {}: {e}", p.display()))
                    })
                    .collect::<Result<_, _>>()?,
                None => Vec::new(),
            },
            netns: File::open(&ns_path).map_err(|e| format!("open {}: {e}", ns_path.display()))?,
        };
        // Journal the init before it exists: its pid is not known yet, so record a placeholder
        // that gc resolves through the cgroup (killing everything in it).
        let pid = init::spawn(&launch).map_err(|e| format!("start the environment's init: {e}"))?;
        drop(status_write);
        self.init = Some(pid);
        self.record(HostObject::Process {
            pid: pid.as_raw(),
            start_time: process_start_time(pid.as_raw()).unwrap_or(0),
            role: "init".into(),
        })?;

        let (exit_tx, exit_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("shadowgate-wait-init".into())
            .spawn(move || {
                loop {
                    match waitpid(pid, None) {
                        Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                            let _ = exit_tx.send(status);
                            return;
                        }
                        Ok(_) => continue,
                        Err(nix::Error::EINTR) => continue,
                        Err(_) => return,
                    }
                }
            })
            .map_err(|e| format!("start a thread: {e}"))?;
        self.status_reader(status_read)?;
        Ok(exit_rx)
    }

    /// Starts the dependencies (before install steps, which may migrate a database), journals
    /// their servers, and records where they and their fault proxies' API are.
    fn start_dependencies(&mut self, ns_path: &Path, sockets: &NetnsSockets) -> Result<(), String> {
        if self.spec.dependencies.is_empty() {
            return Ok(());
        }
        let paths = deps::DepPaths::for_env(&self.paths.dir, &self.spec.log_dir);
        let port = self.port;
        let journal = &mut self.journal;
        let mut record = |object: &HostObject| journal.record(object);
        let running =
            deps::start(&self.spec.dependencies, &paths, ns_path, sockets, &[port], &mut record)
                .map_err(|e| e.to_string())?;
        let summary: Vec<String> = running
            .infos
            .iter()
            .map(|d| format!("{} ({}) in {} ms", d.name, d.kind, d.ready_ms))
            .collect();
        self.event(
            "dependencies_ready",
            &format!(
                "dependencies ready: {}; fault proxy API on {}",
                summary.join(", "),
                running.api
            ),
            json!({"api": running.api.to_string(), "dependencies": running.infos}),
        );
        self.deps = Some(running);
        self.load_data(sockets)
    }

    /// Loads `[data]` into its PostgreSQL dependency (same seed, same rows in every
    /// environment of a check) and records how many rows and how long.
    fn load_data(&mut self, sockets: &NetnsSockets) -> Result<(), String> {
        let (Some(spec), Some(running)) = (&self.spec.data, &self.deps) else { return Ok(()) };
        let loaded = crate::data::load(spec, &self.spec.dependencies, &running.infos, sockets)?;
        self.event(
            "data_loaded",
            &format!(
                "[data] loaded into {}: {} rows in {:.2} s (seed {})",
                loaded.dependency, loaded.rows, loaded.seconds, loaded.seed
            ),
            serde_json::to_value(&loaded).unwrap_or_default(),
        );
        Ok(())
    }

    fn status_reader(&mut self, read: OwnedFd) -> Result<(), String> {
        // SAFETY: `read` is an owned pipe descriptor; ownership moves into the File.
        let file = unsafe { File::from_raw_fd(read.into_raw_fd()) };
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("shadowgate-init-status".into())
            .spawn(move || {
                for line in BufReader::new(file).lines().map_while(Result::ok) {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                        && tx.send(v).is_err()
                    {
                        return;
                    }
                }
            })
            .map_err(|e| format!("start a thread: {e}"))?;
        self.status_rx = Some(rx);
        Ok(())
    }
}

/// Where the environment is in its life, as seen by the supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Installing,
    Starting,
    Running,
}

impl Supervisor {
    /// Watches the environment until it stops. `Ok` carries a description of a normal end
    /// (stopped on request, or the application exited after being healthy); `Err` a failure.
    async fn serve(
        &mut self,
        ready: &mut Ready,
        exit_rx: std::sync::mpsc::Receiver<WaitStatus>,
    ) -> Result<String, String> {
        use tokio::signal::unix::{SignalKind, signal};

        let ns_path = self.netns.clone().ok_or("no network namespace")?;
        let sockets = NetnsSockets::enter(&ns_path).map_err(|e| e.to_string())?;
        let mut status_rx = self.status_rx.take().ok_or("no status channel")?;
        let (exit_tx, mut exit_async) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            if let Ok(status) = exit_rx.recv() {
                let _ = exit_tx.send(status);
            }
        });
        let mut sigterm = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
        let mut sigint = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
        let mut sighup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;

        let host_addr: SocketAddr = ([127, 0, 0, 1], self.spec.host_port).into();
        let listener = tokio::net::TcpListener::bind(host_addr)
            .await
            .map_err(|e| format!("listen on {host_addr} for the host endpoint: {e}"))?;
        let endpoint = listener.local_addr().map_err(|e| e.to_string())?;
        let app_addr: SocketAddr = ([127, 0, 0, 1], self.port).into();

        if self.spec.watch_starter {
            ready.watch_for_hangup();
        }
        self.set_state(EnvState::Installing, None, None);
        ready.send(json!({"state": "installing"}));
        let mut phase = Phase::Installing;
        let mut failure: Option<String> = None;
        let mut health_deadline = Instant::now();
        let mut last_probe_error;
        let mut app_code: Option<i32> = None;
        let mut status_closed = false;
        let health_interval = Duration::from_millis(self.spec.health.interval_ms.max(1));
        let mut probe_tick = tokio::time::interval(health_interval);
        let sample_every = Duration::from_millis(if self.spec.sample_interval_ms == 0 {
            3_600_000
        } else {
            self.spec.sample_interval_ms
        });
        let mut sample_tick = tokio::time::interval(sample_every);
        let mut sampler = Sampler::new(self);

        let stop_reason: Option<String> = loop {
            tokio::select! {
                msg = status_rx.recv(), if !status_closed => {
                    match msg {
                        Some(msg) => {
                            if self.on_status(&msg, &mut failure, &mut app_code) {
                                phase = Phase::Starting;
                                health_deadline = Instant::now() + Duration::from_millis(self.spec.health.timeout_ms);
                                self.set_state(EnvState::Starting, None, None);
                                ready.send(json!({"state": "starting"}));
                            }
                        }
                        None => status_closed = true,
                    }
                }
                _ = probe_tick.tick(), if phase == Phase::Starting => {
                    let limit = health_interval.max(Duration::from_millis(500));
                    match probe::once(&sockets, self.port, self.spec.health.http_path.as_deref(), limit).await {
                        Ok(()) => {
                            phase = Phase::Running;
                            let ms = self.started.elapsed().as_millis() as u64;
                            self.set_state(EnvState::Running, None, Some(endpoint.to_string()));
                            self.event("healthy", &format!("healthy after {ms} ms"), json!({"ms": ms, "endpoint": endpoint.to_string(), "port": self.port}));
                            ready.send(json!({"state": "running", "endpoint": endpoint.to_string(), "port": self.port, "ms": ms}));
                            ready.close();
                        }
                        Err(e) => {
                            last_probe_error = e;
                            if Instant::now() >= health_deadline {
                                failure = Some(format!(
                                    "the application did not become healthy within {} ms (last probe: {last_probe_error}); see {}",
                                    self.spec.health.timeout_ms,
                                    self.spec.log_dir.join("stderr.log").display()
                                ));
                                break None;
                            }
                        }
                    }
                }
                accepted = listener.accept(), if phase == Phase::Running => {
                    if let Ok((mut inbound, _)) = accepted {
                        let sockets = sockets.clone();
                        tokio::spawn(async move {
                            let _ = inbound.set_nodelay(true);
                            if let Ok(mut upstream) = sockets.connect(app_addr).await {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut upstream).await;
                            }
                        });
                    }
                }
                _ = sample_tick.tick() => {
                    sampler.tick(self);
                }
                _ = sigterm.recv() => break Some("stopped on request (SIGTERM)".to_string()),
                _ = sigint.recv() => break Some("stopped on request (SIGINT)".to_string()),
                _ = sighup.recv() => break Some("stopped on request (SIGHUP)".to_string()),
                status = exit_async.recv() => {
                    // Init is gone, so its status pipe is closed: read what it said last.
                    if !status_closed {
                        let drain = async {
                            while let Some(msg) = status_rx.recv().await {
                                self.on_status(&msg, &mut failure, &mut app_code);
                            }
                        };
                        let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
                    }
                    let code = match status {
                        Some(WaitStatus::Exited(_, c)) => c,
                        Some(WaitStatus::Signaled(_, sig, _)) => 128 + sig as i32,
                        _ => -1,
                    };
                    if let Some(c) = code_meaning(code) {
                        failure.get_or_insert_with(|| c.to_string());
                    }
                    self.init = None;
                    let oom = sampler.tick(self);
                    let code = app_code.unwrap_or(code);
                    let what = if oom { format!("was OOM-killed (exit code {code})") } else { format!("exited with code {code}") };
                    self.event("exited", &format!("the application {what}"), json!({"code": code, "oom_killed": oom}));
                    if let Some(f) = failure.take() {
                        return Err(f);
                    }
                    return match phase {
                        Phase::Running => Ok(format!("the application {what}")),
                        _ => Err(format!("the application {what} before it became healthy; see {}", self.spec.log_dir.join("stderr.log").display())),
                    };
                }
            }
        };

        self.set_state(EnvState::Stopping, None, None);
        self.stop(&mut exit_async).await;
        sampler.tick(self);
        match (failure, stop_reason) {
            (Some(f), _) => Err(f),
            (None, Some(reason)) => Ok(reason),
            (None, None) => Ok("stopped".to_string()),
        }
    }

    /// Records one progress message from init. Returns true when the application has started.
    fn on_status(
        &mut self,
        msg: &serde_json::Value,
        failure: &mut Option<String>,
        app_code: &mut Option<i32>,
    ) -> bool {
        let install_log = self.spec.log_dir.join("install.log");
        let step = msg["step"].as_str().unwrap_or_default();
        match msg["event"].as_str().unwrap_or_default() {
            "install_started" => {
                self.event(
                    "install_started",
                    &format!("install step `{step}` started"),
                    msg.clone(),
                );
            }
            "install_finished" => {
                let code = msg["code"].as_i64().unwrap_or(-1);
                let ms = msg["ms"].as_u64().unwrap_or(0);
                self.event(
                    "install_finished",
                    &format!("install step `{step}` exited with code {code} after {ms} ms"),
                    msg.clone(),
                );
                if code != 0 {
                    *failure = Some(format!(
                        "install step `{step}` exited with code {code}; see {}",
                        install_log.display()
                    ));
                }
            }
            "install_timed_out" => {
                let text = format!(
                    "install step `{step}` did not finish within its timeout; see {}",
                    install_log.display()
                );
                self.event("install_timed_out", &text, msg.clone());
                *failure = Some(text);
            }
            "init_failed" => {
                *failure = Some(format!(
                    "the environment could not be built: {}",
                    msg["error"].as_str().unwrap_or("unknown error")
                ));
            }
            "app_started" => {
                self.event("app_started", "the application started", msg.clone());
                return true;
            }
            "app_exited" => *app_code = msg["code"].as_i64().map(|c| c as i32),
            "io_error_mounted" => {
                let path = msg["path"].as_str().unwrap_or_default();
                let ns_pid = msg["pid"].as_i64().unwrap_or(0) as i32;
                // A pid that is gone already needs no journal entry; being in the environment's
                // PID namespace, it could not have outlived init anyway.
                if let Some(pid) = self.host_pid(ns_pid) {
                    let object = HostObject::Process {
                        pid,
                        start_time: process_start_time(pid).unwrap_or(0),
                        role: "eio-filesystem".into(),
                    };
                    if let Err(e) = self.record(object) {
                        *failure = Some(e);
                    }
                }
                self.event(
                    "io_error_mounted",
                    &format!("the io_error file system is mounted over {path}, passing through"),
                    msg.clone(),
                );
            }
            _ => {}
        }
        false
    }

    /// The pid on the host of the process whose pid in the environment's PID namespace is
    /// `ns_pid` (from the `NSpid` lines of the environment's processes).
    fn host_pid(&self, ns_pid: i32) -> Option<i32> {
        let init = self.init?.as_raw();
        let ns = fs::read_link(format!("/proc/{init}/ns/pid")).ok()?;
        let candidates: Vec<i32> = match &self.cgroup {
            Some(cg) => cg.pids(),
            None => fs::read_dir("/proc")
                .ok()?
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect(),
        };
        candidates.into_iter().find(|pid| {
            let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let inner = status
                .lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .and_then(|l| l.split_whitespace().last()?.parse::<i32>().ok());
            inner == Some(ns_pid)
                && fs::read_link(format!("/proc/{pid}/ns/pid")).ok().as_ref() == Some(&ns)
        })
    }

    /// Stops the application: SIGTERM through init, then SIGKILL after the stop timeout.
    async fn stop(&mut self, exit_async: &mut mpsc::UnboundedReceiver<WaitStatus>) {
        let Some(pid) = self.init else { return };
        let _ = kill(pid, Signal::SIGTERM);
        let grace = Duration::from_millis(self.spec.stop_timeout_ms);
        if tokio::time::timeout(grace, exit_async.recv()).await.is_err() {
            self.event(
                "stop_timeout",
                &format!(
                    "the application ignored SIGTERM for {} ms; killing it",
                    grace.as_millis()
                ),
                json!({}),
            );
            let _ = kill(pid, Signal::SIGKILL);
            let _ = exit_async.recv().await;
        }
        self.init = None;
    }

    /// Removes every host object, newest first. Errors are collected, not fatal: as much as
    /// possible is removed, and what remains is left to `env gc`.
    fn teardown(&mut self) -> Result<(), String> {
        let mut errors = Vec::new();
        if let Some(pid) = self.init.take() {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
        if let Some(cg) = &self.cgroup {
            cg.kill_all();
        }
        if let Some(mut running) = self.deps.take() {
            running.stop();
        }
        if self.layer_mounted {
            let lower = if self.paths.artifact_lower().exists() {
                self.paths.artifact_lower()
            } else {
                self.spec.release_path.clone()
            };
            if let Ok(list) = changes::list(&self.paths.upper(), &lower)
                && let Ok(text) = serde_json::to_vec_pretty(&list)
            {
                let _ = fs::write(self.spec.log_dir.join("changes.json"), text);
            }
            match umount2(&self.paths.layer(), MntFlags::MNT_DETACH) {
                Ok(()) => self.layer_mounted = false,
                Err(e) => errors.push(format!("unmount {}: {e}", self.paths.layer().display())),
            }
        }
        if let Some(ns) = self.netns.take()
            && let Err(e) = netns::remove(&ns)
        {
            errors.push(e.to_string());
        }
        if let Some(cg) = self.cgroup.take()
            && let Err(e) = cg.remove(Duration::from_secs(10))
        {
            errors.push(e.to_string());
        }
        if errors.is_empty()
            && let Err(e) = fs::remove_dir_all(&self.paths.dir)
        {
            errors.push(format!("remove {}: {e}", self.paths.dir.display()));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
    }
}

/// What an init exit code means when the clone child failed before init ran.
fn code_meaning(code: i32) -> Option<&'static str> {
    init::launch_failure(code)
}

fn cgroup_parent() -> String {
    std::env::var("SHADOWGATE_CGROUP_PARENT")
        .unwrap_or_else(|_| shadowgate_core::env::HOST_PREFIX.to_string())
}

fn io_limits(spec: &EnvSpec) -> Vec<IoLimit> {
    if spec.limits.io_read_bps.is_none() && spec.limits.io_write_bps.is_none() {
        return Vec::new();
    }
    // Throttle the block device that holds the release (and, in practice, the host's data).
    let Some((major, minor)) = block_device_of(&spec.release_path) else { return Vec::new() };
    vec![IoLimit {
        major,
        minor,
        read_bps: spec.limits.io_read_bps,
        write_bps: spec.limits.io_write_bps,
    }]
}

/// The whole-disk block device (major, minor) behind a path, if it is on one.
fn block_device_of(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let dev = fs::metadata(path).ok()?.dev();
    let (major, minor) = (libc::major(dev) as u64, libc::minor(dev) as u64);
    // Throttling applies to whole disks; a partition's parent is found through sysfs.
    let sys = PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
    if !sys.exists() {
        return None;
    }
    if sys.join("partition").exists() {
        let parent = fs::read_to_string(sys.join("../dev")).ok()?;
        let (a, b) = parent.trim().split_once(':')?;
        return Some((a.parse().ok()?, b.parse().ok()?));
    }
    Some((major, minor))
}

/// Turns cgroup accounting into store samples and OOM events.
struct Sampler {
    last: Option<(Instant, Stats)>,
    oom_kills: u64,
    peak: u64,
}

impl Sampler {
    fn new(sup: &Supervisor) -> Sampler {
        let oom_kills = sup.cgroup.as_ref().map(|c| c.stats().oom_kills).unwrap_or(0);
        Sampler { last: None, oom_kills, peak: 0 }
    }

    /// Takes one sample; returns whether a new OOM kill was seen.
    fn tick(&mut self, sup: &Supervisor) -> bool {
        let Some(cg) = &sup.cgroup else { return false };
        let now = Instant::now();
        let stats = cg.stats();
        let ts = now_ms();
        self.peak = self.peak.max(stats.memory_bytes).max(stats.memory_peak_bytes.unwrap_or(0));
        let key = |metric: &str| SeriesKey {
            app: sup.spec.app.clone(),
            env_id: sup.spec.id.clone(),
            metric: metric.to_string(),
            labels: BTreeMap::new(),
        };
        let mut samples = vec![
            Sample {
                series: key("resource.memory"),
                ts_ms: ts,
                value: stats.memory_working_bytes as f64,
            },
            Sample {
                series: key("resource.memory_usage"),
                ts_ms: ts,
                value: stats.memory_bytes as f64,
            },
            Sample { series: key("resource.memory_peak"), ts_ms: ts, value: self.peak as f64 },
            Sample { series: key("resource.oom_kills"), ts_ms: ts, value: stats.oom_kills as f64 },
            Sample {
                series: key("resource.io_read_bytes"),
                ts_ms: ts,
                value: stats.io_read_bytes as f64,
            },
            Sample {
                series: key("resource.io_write_bytes"),
                ts_ms: ts,
                value: stats.io_write_bytes as f64,
            },
            Sample { series: key("resource.pids"), ts_ms: ts, value: stats.pids as f64 },
            Sample {
                series: key("resource.cpu_seconds"),
                ts_ms: ts,
                value: stats.cpu_usage_ns as f64 / 1e9,
            },
        ];
        if let Some((then, prev)) = &self.last {
            let dt = now.duration_since(*then).as_nanos() as f64;
            if dt > 0.0 {
                let cores = stats.cpu_usage_ns.saturating_sub(prev.cpu_usage_ns) as f64 / dt;
                samples.push(Sample { series: key("resource.cpu"), ts_ms: ts, value: cores });
                let periods = stats.cpu_periods.saturating_sub(prev.cpu_periods);
                let throttled =
                    stats.cpu_throttled_periods.saturating_sub(prev.cpu_throttled_periods);
                let frac = if periods > 0 { throttled as f64 / periods as f64 } else { 0.0 };
                samples.push(Sample {
                    series: key("resource.cpu_throttled"),
                    ts_ms: ts,
                    value: frac,
                });
            }
        }
        let _ = sup.store.append_samples(&samples);
        let new_oom = stats.oom_kills > self.oom_kills;
        if new_oom {
            let n = stats.oom_kills - self.oom_kills;
            sup.event(
                "oom_kill",
                &format!(
                    "the kernel OOM-killed {n} process(es) at the memory limit of {} bytes",
                    sup.spec.limits.memory_bytes
                ),
                json!({"count": n, "limit_bytes": sup.spec.limits.memory_bytes}),
            );
            self.oom_kills = stats.oom_kills;
        }
        self.last = Some((now, stats));
        new_oom
    }
}
