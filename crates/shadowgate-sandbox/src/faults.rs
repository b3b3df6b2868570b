//! Faults applied to a running environment from the outside: through its cgroup files,
//! signals, a remount of its writable layer, a balloon process in its cgroup, the
//! Toxiproxy-compatible API of its dependencies' fault proxies and the switch of its `io_error`
//! file systems.
//!
//! [`Target::open`] finds an environment's host objects from its state directory (the journal
//! and the spec); [`Injector`] starts faults and undoes them — at their end, or when it is
//! dropped, so that no fault outlives a check that errors.
//!
//! `io_error` works with the pass-through FUSE file system of [`crate::iofs`]. When the path is
//! one of the spec's `io_error_paths`, that file system has been mounted over it since the
//! environment started (before the install steps), so every descriptor the application holds
//! goes through it; the fault flips its switch through its control socket: during the fault
//! every operation under the path — lookups, stats, new opens, and reads, writes and fsyncs on
//! descriptors opened before — fails with EIO, and afterwards everything works again with no
//! data lost. On a path that was not pre-mounted (an environment started without it), the fault
//! mounts the same file system, failing only, for its duration: new opens, stats, reads and
//! writes under the path fail with EIO, but descriptors opened before keep reaching the
//! original files.

use std::{
    fs,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    time::Duration,
};

use nix::{
    mount::{MsFlags, mount},
    sys::{
        signal::{Signal, kill},
        statvfs::statvfs,
        wait::waitpid,
    },
    unistd::{ForkResult, Pid, fork},
};
use shadowgate_core::scenario::{Fault, HangMethod};

use crate::{
    cgroup::{Cgroup, CgroupError},
    journal::{self, HostObject, Journal, process_start_time},
    spec::{EnvPaths, EnvSpec},
};

/// Why a fault could not be applied or undone.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("environment {id}: {message}")]
    Env { id: String, message: String },
    #[error("{fault} fault on {id}: {message}")]
    Apply { fault: &'static str, id: String, message: String },
    #[error("the `{0}` fault is not implemented in this version of shadowgate")]
    Unsupported(&'static str),
    #[error("environment {id} had already ended")]
    Gone { id: String },
}

/// Whether this version can apply `fault` on this machine (`io_error` needs /dev/fuse).
pub fn supported(fault: &Fault) -> Result<(), FaultError> {
    match fault {
        Fault::IoError { .. } if !Path::new("/dev/fuse").exists() => {
            Err(FaultError::Unsupported("io_error (no /dev/fuse on this machine)"))
        }
        _ => Ok(()),
    }
}

/// A running environment as faults see it.
#[derive(Clone, Debug)]
pub struct Target {
    pub id: String,
    cgroup: Cgroup,
    init_pid: i32,
    layer: PathBuf,
    journal: PathBuf,
    /// The limits the environment was started with (restored at the end of a fault).
    cpu_cores: f64,
    memory_bytes: u64,
    disk_bytes: u64,
    /// The host address of the dependencies' fault proxy API, when it has dependencies.
    proxy_api: Option<SocketAddr>,
    /// The pre-mounted `io_error` file systems: inside path and control socket.
    io_error: Vec<(String, PathBuf)>,
}

impl Target {
    /// Finds the environment whose state directory is `paths`: its cgroup and init from the
    /// journal, its limits from its spec. `proxy_api` is where its dependencies' fault proxies
    /// are controlled (from its `dependencies_ready` event), if it has any.
    pub fn open(paths: &EnvPaths, proxy_api: Option<SocketAddr>) -> Result<Target, FaultError> {
        let env_err =
            |message: String| FaultError::Env { id: paths.dir.display().to_string(), message };
        let spec: EnvSpec = fs::read(paths.spec())
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            .map_err(|e| env_err(format!("read {}: {e}", paths.spec().display())))?;
        let objects = journal::read(&paths.journal())
            .map_err(|e| env_err(format!("read the journal: {e}")))?;
        let cgroup = objects.iter().find_map(HostObject::as_cgroup).ok_or_else(|| {
            env_err(
                "it has no cgroup (started with --allow-degraded?), so faults cannot be applied"
                    .into(),
            )
        })?;
        let init_pid = objects
            .iter()
            .rev()
            .find_map(|o| match o {
                HostObject::Process { pid, role, .. } if role == "init" => Some(*pid),
                _ => None,
            })
            .ok_or_else(|| env_err("its init process is not in the journal".into()))?;
        Ok(Target {
            id: spec.id.clone(),
            cgroup,
            init_pid,
            layer: paths.layer(),
            journal: paths.journal(),
            cpu_cores: spec.limits.cpu_cores,
            memory_bytes: spec.limits.memory_bytes,
            disk_bytes: spec.limits.disk_bytes,
            proxy_api,
            io_error: spec
                .io_error_paths
                .iter()
                .enumerate()
                .map(|(i, p)| (p.clone(), paths.io_error_control(i)))
                .collect(),
        })
    }

    pub fn cgroup(&self) -> &Cgroup {
        &self.cgroup
    }

    /// The application's processes: everything in the cgroup but init, fault helpers and the
    /// `io_error` file systems.
    fn app_pids(&self, helpers: &[i32]) -> Vec<i32> {
        let eio = crate::iofs::PROCESS_NAME.to_str().unwrap_or_default();
        self.cgroup
            .pids()
            .into_iter()
            .filter(|p| *p != self.init_pid && !helpers.contains(p))
            .filter(|p| {
                fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default().trim() != eio
            })
            .collect()
    }

    /// The control socket of the file system pre-mounted over `path`, if there is one.
    fn io_error_control(&self, path: &str) -> Option<&Path> {
        let want = path.trim_end_matches('/');
        self.io_error
            .iter()
            .find(|(p, _)| p.trim_end_matches('/') == want)
            .map(|(_, s)| s.as_path())
    }

    /// Whether the environment is gone (its init exited and its cgroup was removed): then
    /// there is nothing left to undo.
    pub fn gone(&self) -> bool {
        let init_alive = fs::read_to_string(format!("/proc/{}/stat", self.init_pid))
            .is_ok_and(|stat| !stat.rsplit(')').next().unwrap_or_default().starts_with(" Z"));
        !init_alive || self.cgroup.unique_dirs().iter().any(|d| !d.exists())
    }

    fn err(&self, fault: &'static str, message: impl std::fmt::Display) -> FaultError {
        FaultError::Apply { fault, id: self.id.clone(), message: message.to_string() }
    }
}

/// What a started fault needs to be undone.
/// A helper process (balloon, EIO file system) this process forked: reaped by a thread as soon
/// as it exits, so that no zombie keeps the environment's cgroup busy, and signalled through a
/// pidfd, so that a reused pid is never hit.
#[derive(Debug)]
struct Helper {
    pid: Pid,
    pidfd: Option<std::os::fd::OwnedFd>,
    reaper: std::thread::JoinHandle<Option<nix::sys::wait::WaitStatus>>,
}

impl Helper {
    fn adopt(pid: Pid) -> Helper {
        use std::os::fd::FromRawFd;
        // SAFETY: pidfd_open takes a pid and flags; a valid result is a new owned descriptor.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) } as i32;
        // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
        let pidfd = (fd >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
        let reaper = std::thread::spawn(move || {
            loop {
                match waitpid(pid, None) {
                    Ok(
                        s @ (nix::sys::wait::WaitStatus::Exited(..)
                        | nix::sys::wait::WaitStatus::Signaled(..)),
                    ) => return Some(s),
                    Ok(_) | Err(nix::Error::EINTR) => continue,
                    Err(_) => return None,
                }
            }
        });
        Helper { pid, pidfd, reaper }
    }

    fn kill(&self) {
        use std::os::fd::AsRawFd;
        match &self.pidfd {
            // SAFETY: a pidfd we own, a valid signal, no siginfo.
            Some(fd) => unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                );
            },
            None if !self.reaper.is_finished() => {
                let _ = kill(self.pid, Signal::SIGKILL);
            }
            None => {}
        }
    }

    fn wait(self) -> Option<nix::sys::wait::WaitStatus> {
        self.reaper.join().ok().flatten()
    }
}

#[derive(Debug)]
enum Undo {
    Cpu,
    Memory,
    Balloon(Helper),
    Thaw,
    Continue(Vec<i32>),
    Disk,
    Restart,
    Toxic {
        proxy: String,
        toxic: String,
    },
    /// The pre-mounted file system whose switch goes back to passing through.
    Pass {
        control: PathBuf,
    },
    /// The EIO file system's server and the pipe whose closing tells it to unmount and exit.
    Eio {
        helper: Helper,
        control: std::os::fd::OwnedFd,
    },
    Enable {
        proxy: String,
    },
    Nothing,
}

/// A fault in effect on one environment.
#[derive(Debug)]
pub struct Active {
    pub name: String,
    kind: &'static str,
    undo: Undo,
}

/// Starts and undoes faults on one environment; undoes whatever is still active when dropped.
pub struct Injector {
    target: Target,
    active: Vec<Active>,
}

impl Injector {
    pub fn new(target: Target) -> Injector {
        Injector { target, active: Vec::new() }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Applies `fault` under the scenario name `name`.
    pub fn start(&mut self, name: &str, fault: &Fault) -> Result<(), FaultError> {
        supported(fault)?;
        let t = &self.target;
        if t.gone() {
            return Err(FaultError::Gone { id: t.id.clone() });
        }
        let kind = fault.kind();
        let undo = match fault {
            Fault::Cpu { cores } => {
                t.cgroup.set_cpu(*cores).map_err(|e| t.err(kind, e))?;
                Undo::Cpu
            }
            Fault::MemoryLimit { bytes } => {
                t.cgroup.set_memory(*bytes).map_err(|e| match e {
                    CgroupError::Io { ref source, .. }
                        if source.raw_os_error() == Some(libc::EBUSY) =>
                    {
                        t.err(
                            kind,
                            format!(
                                "the environment already uses {} bytes, more than the lowered limit \
                                 of {bytes} (cgroup v1 cannot reclaim it); lower it less, or use \
                                 `memory_pressure`",
                                t.cgroup.stats().memory_bytes
                            ),
                        )
                    }
                    e => t.err(kind, e),
                })?;
                Undo::Memory
            }
            Fault::MemoryPressure { bytes } => {
                let pid = balloon(t, *bytes).map_err(|e| t.err(kind, e))?;
                Undo::Balloon(Helper::adopt(pid))
            }
            Fault::Hang { method: HangMethod::Freeze } => {
                t.cgroup.freeze(true).map_err(|e| t.err(kind, e))?;
                Undo::Thaw
            }
            Fault::Hang { method: HangMethod::Sigstop } => {
                let pids = t.app_pids(&self.helpers());
                for p in &pids {
                    let _ = kill(Pid::from_raw(*p), Signal::SIGSTOP);
                }
                Undo::Continue(pids)
            }
            Fault::Crash { restart: false } => {
                let pids = t.app_pids(&self.helpers());
                if pids.is_empty() {
                    return Err(t.err(kind, "the application is not running"));
                }
                for p in &pids {
                    let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
                }
                Undo::Nothing
            }
            Fault::Crash { restart: true } => {
                kill(Pid::from_raw(t.init_pid), crate::init::CRASH_SIGNAL)
                    .map_err(|e| t.err(kind, format!("signal init: {e}")))?;
                Undo::Restart
            }
            Fault::DiskFull { free_bytes } => {
                let vfs = statvfs(&t.layer)
                    .map_err(|e| t.err(kind, format!("statvfs {}: {e}", t.layer.display())))?;
                let block = vfs.fragment_size().max(1) as u64;
                let used = (vfs.blocks() as u64).saturating_sub(vfs.blocks_free() as u64) * block;
                // tmpfs counts in pages; round up so that `free` is at most what was asked.
                let size = (used + free_bytes).div_ceil(4096).max(1) * 4096;
                remount_layer(&t.layer, size).map_err(|e| t.err(kind, e))?;
                Undo::Disk
            }
            Fault::Latency { dependency, latency, jitter } => {
                let toxic = toxic_name(name);
                proxy_call(
                    t,
                    "POST",
                    &format!("/proxies/{dependency}/toxics"),
                    &format!(
                        r#"{{"name":"{toxic}","type":"latency","stream":"downstream","toxicity":1.0,"attributes":{{"latency":{},"jitter":{}}}}}"#,
                        latency.as_millis(),
                        jitter.as_millis()
                    ),
                )
                .map_err(|e| t.err(kind, e))?;
                Undo::Toxic { proxy: dependency.clone(), toxic }
            }
            Fault::Bandwidth { dependency, bytes_per_second } => {
                let toxic = toxic_name(name);
                // Toxiproxy's rate is in KB/s.
                let kb = (bytes_per_second / 1000).max(1);
                for stream in ["downstream", "upstream"] {
                    proxy_call(
                        t,
                        "POST",
                        &format!("/proxies/{dependency}/toxics"),
                        &format!(
                            r#"{{"name":"{toxic}-{stream}","type":"bandwidth","stream":"{stream}","toxicity":1.0,"attributes":{{"rate":{kb}}}}}"#
                        ),
                    )
                    .map_err(|e| t.err(kind, e))?;
                }
                Undo::Toxic { proxy: dependency.clone(), toxic }
            }
            Fault::Reset { dependency } => {
                let toxic = toxic_name(name);
                proxy_call(
                    t,
                    "POST",
                    &format!("/proxies/{dependency}/toxics"),
                    &format!(
                        r#"{{"name":"{toxic}","type":"reset_peer","stream":"downstream","toxicity":1.0,"attributes":{{"timeout":0}}}}"#
                    ),
                )
                .map_err(|e| t.err(kind, e))?;
                Undo::Toxic { proxy: dependency.clone(), toxic }
            }
            Fault::Outage { dependency } => {
                proxy_call(t, "POST", &format!("/proxies/{dependency}"), r#"{"enabled":false}"#)
                    .map_err(|e| t.err(kind, e))?;
                Undo::Enable { proxy: dependency.clone() }
            }
            Fault::IoError { path } => match t.io_error_control(path) {
                Some(control) => {
                    crate::iofs::switch(control, true).map_err(|e| t.err(kind, e))?;
                    Undo::Pass { control: control.to_path_buf() }
                }
                None => {
                    let (pid, control) = eio_mount(t, path).map_err(|e| t.err(kind, e))?;
                    Undo::Eio { helper: Helper::adopt(pid), control }
                }
            },
        };
        self.active.push(Active { name: name.to_string(), kind, undo });
        Ok(())
    }

    /// Undoes the fault started under `name` (nothing if it is not active).
    pub fn stop(&mut self, name: &str) -> Result<(), FaultError> {
        match self.active.iter().position(|a| a.name == name) {
            Some(i) => {
                let active = self.active.remove(i);
                self.undo(active)
            }
            None => Ok(()),
        }
    }

    /// Undoes every active fault, newest first; returns the first error after trying all.
    pub fn stop_all(&mut self) -> Result<(), FaultError> {
        let mut first = None;
        while let Some(active) = self.active.pop() {
            if let Err(e) = self.undo(active) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Names of the faults in effect.
    pub fn active(&self) -> Vec<&str> {
        self.active.iter().map(|a| a.name.as_str()).collect()
    }

    fn helpers(&self) -> Vec<i32> {
        self.active
            .iter()
            .filter_map(|a| match a.undo {
                Undo::Balloon(Helper { pid, .. })
                | Undo::Eio { helper: Helper { pid, .. }, .. } => Some(pid.as_raw()),
                _ => None,
            })
            .collect()
    }

    fn undo(&self, active: Active) -> Result<(), FaultError> {
        let t = &self.target;
        let kind = active.kind;
        // The environment ended during the fault (e.g. the application was OOM-killed or
        // crashed): its cgroup, mounts and proxies are gone with it. Helper processes are
        // still reaped below.
        if t.gone() && !matches!(active.undo, Undo::Balloon(_) | Undo::Eio { .. }) {
            return Ok(());
        }
        match active.undo {
            Undo::Cpu => t.cgroup.set_cpu(t.cpu_cores).map_err(|e| t.err(kind, e)),
            Undo::Memory => t.cgroup.set_memory(t.memory_bytes).map_err(|e| t.err(kind, e)),
            Undo::Balloon(helper) => {
                helper.kill();
                helper.wait();
                Ok(())
            }
            Undo::Thaw => t.cgroup.freeze(false).map_err(|e| t.err(kind, e)),
            Undo::Continue(pids) => {
                for p in pids {
                    let _ = kill(Pid::from_raw(p), Signal::SIGCONT);
                }
                Ok(())
            }
            Undo::Disk => remount_layer(&t.layer, t.disk_bytes).map_err(|e| t.err(kind, e)),
            Undo::Restart => {
                // Only if init is still the same process (the environment may be gone).
                if fs::metadata(format!("/proc/{}", t.init_pid)).is_ok() {
                    kill(Pid::from_raw(t.init_pid), crate::init::CRASH_SIGNAL)
                        .map_err(|e| t.err(kind, format!("signal init: {e}")))?;
                }
                Ok(())
            }
            Undo::Toxic { proxy, toxic } => {
                let mut result = Ok(());
                let names: Vec<String> = if kind == "bandwidth" {
                    vec![format!("{toxic}-downstream"), format!("{toxic}-upstream")]
                } else {
                    vec![toxic]
                };
                for name in names {
                    if let Err(e) =
                        proxy_call(t, "DELETE", &format!("/proxies/{proxy}/toxics/{name}"), "")
                    {
                        result = Err(t.err(kind, e));
                    }
                }
                result
            }
            Undo::Enable { proxy } => {
                proxy_call(t, "POST", &format!("/proxies/{proxy}"), r#"{"enabled":true}"#)
                    .map(|_| ())
                    .map_err(|e| t.err(kind, e))
            }
            Undo::Pass { control } => {
                crate::iofs::switch(&control, false).map_err(|e| t.err(kind, e))
            }
            Undo::Eio { helper, control } => {
                // Closing the pipe makes the server unmount (lazily) and exit.
                drop(control);
                match helper.wait() {
                    Some(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(()),
                    // Killed with the environment's cgroup: its mount went with the namespace.
                    _ if t.gone() => Ok(()),
                    status => {
                        Err(t.err(kind, format!("the EIO file system ended with {status:?}")))
                    }
                }
            }
            Undo::Nothing => Ok(()),
        }
    }
}

impl Drop for Injector {
    fn drop(&mut self) {
        let _ = self.stop_all();
    }
}

fn toxic_name(scenario: &str) -> String {
    let clean: String = scenario
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    format!("shadowgate-{clean}")
}

fn remount_layer(layer: &Path, size: u64) -> Result<(), String> {
    let opts = format!("size={size}");
    mount(
        None::<&str>,
        layer,
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(opts.as_str()),
    )
    .map_err(|e| format!("remount {} with {opts}: {e}", layer.display()))
}

/// Starts a balloon: a child process in the environment's cgroup that allocates and touches
/// `bytes` and then waits to be killed (at the fault's end, or with the environment). It is
/// named `shadowgate-ball` and journaled.
fn balloon(t: &Target, bytes: u64) -> Result<Pid, String> {
    use std::{ffi::CString, os::unix::ffi::OsStrExt};
    let procs: Vec<CString> = t
        .cgroup
        .procs_files()
        .iter()
        .map(|p| CString::new(p.as_os_str().as_bytes()).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let mut journal = Journal::open(&t.journal).map_err(|e| format!("open the journal: {e}"))?;
    let len = usize::try_from(bytes).map_err(|_| "the balloon is too large".to_string())?;
    // SAFETY: the child only makes async-signal-safe system calls (open, write, prctl, mmap,
    // pause, _exit) and touches memory it mapped itself; it never returns into Rust code.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => unsafe {
            // Hold none of the parent's descriptors (they are not close-on-fork): a starter
            // pipe held here would keep the environment alive after its starter died.
            close_all_but(&mut []);
            // No parent-death signal: it would fire when the forking *thread* ends. The balloon
            // lives in the environment's cgroup and dies with it.
            libc::prctl(libc::PR_SET_NAME, c"shadowgate-ball".as_ptr() as libc::c_ulong, 0, 0, 0);
            let mut digits = [0u8; 16];
            let mut n = libc::getpid() as u32;
            let mut at = digits.len();
            loop {
                at -= 1;
                digits[at] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            for file in &procs {
                let fd = libc::open(file.as_ptr(), libc::O_WRONLY);
                if fd < 0 || libc::write(fd, digits[at..].as_ptr().cast(), digits.len() - at) < 0 {
                    libc::_exit(3);
                }
                libc::close(fd);
            }
            let mem = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if mem == libc::MAP_FAILED {
                libc::_exit(4);
            }
            let base = mem.cast::<u8>();
            let mut off = 0;
            while off < len {
                std::ptr::write_volatile(base.add(off), 1);
                off += 4096;
            }
            loop {
                libc::pause();
            }
        },
        ForkResult::Parent { child } => {
            let _ = journal.record(&HostObject::Process {
                pid: child.as_raw(),
                start_time: process_start_time(child.as_raw()).unwrap_or(0),
                role: "balloon".into(),
            });
            Ok(child)
        }
    }
}

/// One request to the Toxiproxy-compatible API; returns the response body on 2xx.
fn proxy_call(t: &Target, method: &str, path: &str, body: &str) -> Result<String, String> {
    let api = t.proxy_api.ok_or("the environment has no dependencies, so no fault proxy")?;
    let mut stream = TcpStream::connect_timeout(&api, Duration::from_secs(2))
        .map_err(|e| format!("connect to the fault proxy API {api}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(|e| format!("send to {api}: {e}"))?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| format!("read from {api}: {e}"))?;
    let status: u16 = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    if (200..300).contains(&status) {
        Ok(body.to_string())
    } else {
        Err(format!("{method} {path} answered {status}: {}", body.trim()))
    }
}

/// Mounts the failing-only `io_error` file system over `path` inside the environment (for a
/// path that was not pre-mounted): a child process joins the environment's mount namespace and
/// cgroup, mounts it (reporting the result on a pipe) and serves `/dev/fuse` with
/// [`crate::iofs::serve_failing`] until the control pipe closes, then unmounts (lazily) and
/// exits. The child is named `shadowgate-eio` and journaled.
fn eio_mount(t: &Target, path: &str) -> Result<(Pid, std::os::fd::OwnedFd), String> {
    use std::{
        ffi::CString,
        os::{fd::AsRawFd, unix::ffi::OsStrExt},
    };
    let cpath = CString::new(path).map_err(|_| format!("`{path}` contains a NUL byte"))?;
    let fuse = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map_err(|e| format!("open /dev/fuse: {e}"))?;
    let fd = fuse.as_raw_fd();
    let options = |rootmode: &str| {
        CString::new(format!(
            "fd={fd},rootmode={rootmode},user_id=0,group_id=0,allow_other,default_permissions"
        ))
        .unwrap_or_default()
    };
    let (dir_opts, file_opts) = (options("40000"), options("100000"));
    let ns = CString::new(format!("/proc/{}/ns/mnt", t.init_pid)).unwrap_or_default();
    let procs: Vec<CString> = t
        .cgroup
        .procs_files()
        .iter()
        .filter_map(|p| CString::new(p.as_os_str().as_bytes()).ok())
        .collect();
    let (report_read, report_write) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (control_read, control_write) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    let mut journal = Journal::open(&t.journal).map_err(|e| format!("open the journal: {e}"))?;
    // SAFETY: until the mount is in place the child only makes system calls; then it serves
    // the file system, which allocates (the C library's allocator is fork-safe) and starts
    // threads of its own, but takes no lock the parent's other threads could be holding. It
    // never returns.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => unsafe {
            drop(report_read);
            drop(control_write);
            eio_child(
                fd,
                &ns,
                &procs,
                &cpath,
                &dir_opts,
                &file_opts,
                report_write.as_raw_fd(),
                control_read.as_raw_fd(),
            )
        },
        ForkResult::Parent { child } => {
            drop(report_write);
            drop(control_read);
            drop(fuse);
            let _ = journal.record(&HostObject::Process {
                pid: child.as_raw(),
                start_time: process_start_time(child.as_raw()).unwrap_or(0),
                role: "eio-filesystem".into(),
            });
            let mut status = [0u8; 5];
            let mut report = fs::File::from(report_read);
            let ok = report.read_exact(&mut status).is_ok();
            if ok && status[0] == 0 {
                return Ok((child, control_write));
            }
            let _ = kill(child, Signal::SIGKILL);
            let _ = waitpid(child, None);
            let errno = i32::from_ne_bytes([status[1], status[2], status[3], status[4]]);
            let step = match status[0] {
                1 => "join the environment's mount namespace",
                2 => "join the environment's cgroup",
                3 => "find the path inside the environment",
                4 => "mount the FUSE file system",
                _ => "start the EIO file system",
            };
            Err(format!(
                "{step} for `{path}`: {}",
                if ok { nix::errno::Errno::from_raw(errno).desc() } else { "the helper died" }
            ))
        }
    }
}

/// The EIO file system's process (after fork): only raw system calls until it is mounted.
#[allow(clippy::too_many_arguments)]
unsafe fn eio_child(
    fuse: i32,
    ns: &std::ffi::CStr,
    procs: &[std::ffi::CString],
    path: &std::ffi::CStr,
    dir_opts: &std::ffi::CStr,
    file_opts: &std::ffi::CStr,
    report: i32,
    control: i32,
) -> ! {
    unsafe {
        let fail = |step: u8| -> ! {
            let errno = *libc::__errno_location();
            let e = errno.to_ne_bytes();
            let msg = [step, e[0], e[1], e[2], e[3]];
            libc::write(report, msg.as_ptr().cast(), msg.len());
            libc::_exit(1)
        };
        // Hold none of the parent's other descriptors (see `balloon`).
        close_all_but(&mut [fuse, report, control]);
        libc::prctl(libc::PR_SET_NAME, c"shadowgate-eio".as_ptr() as libc::c_ulong, 0, 0, 0);
        // In the environment's cgroup, so that it dies with the environment.
        let pid = libc::getpid();
        let mut digits = [0u8; 16];
        let mut at = digits.len();
        let mut n = pid as u32;
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for file in procs {
            let f = libc::open(file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if f < 0 || libc::write(f, digits[at..].as_ptr().cast(), digits.len() - at) < 0 {
                fail(2);
            }
            libc::close(f);
        }
        // Then into its mount namespace (the cgroup files are not visible from there).
        let nsfd = libc::open(ns.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if nsfd < 0 || libc::setns(nsfd, libc::CLONE_NEWNS) != 0 {
            fail(1);
        }
        libc::close(nsfd);
        let mut st: libc::stat = std::mem::zeroed();
        if libc::stat(path.as_ptr(), &mut st) != 0 {
            fail(3);
        }
        let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
        let opts = if is_dir { dir_opts } else { file_opts };
        if libc::mount(
            c"shadowgate-eio".as_ptr(),
            path.as_ptr(),
            c"fuse.shadowgate-eio".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            opts.as_ptr().cast(),
        ) != 0
        {
            fail(4);
        }
        let ok = [0u8; 5];
        libc::write(report, ok.as_ptr().cast(), ok.len());
        libc::close(report);
        crate::iofs::serve_failing(fuse, control);
        libc::umount2(path.as_ptr(), libc::MNT_DETACH);
        libc::_exit(0)
    }
}

/// Closes every descriptor but `keep` (after fork: only system calls, no allocation).
pub(crate) fn close_all_but(keep: &mut [i32]) {
    keep.sort_unstable();
    let mut from: u32 = 0;
    for fd in keep.iter().map(|&k| k as u32) {
        if fd > from {
            // SAFETY: close_range on a range of descriptors of this (single-threaded) child.
            unsafe { libc::syscall(libc::SYS_close_range, from, fd - 1, 0) };
        }
        from = fd + 1;
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_close_range, from, u32::MAX, 0) };
}
