//! The environment's first process: PID 1 inside its namespaces.
//!
//! The supervisor starts it with `clone(2)` into new mount, PID, UTS and IPC namespaces, joined
//! to the environment's cgroup and network namespace (see [`spawn`]). It then re-executes the
//! shadowgate binary in init mode ([`main`]), which builds the environment's file system, runs
//! the install steps, starts the application, forwards signals to it, reaps orphans, and exits
//! with the application's status. Because it is PID 1 of its PID namespace, every process in
//! the environment dies with it; and because its parent-death signal is SIGKILL, it dies with the
//! supervisor. No process can outlive its environment.

use std::{
    ffi::CString,
    fs::{self, File, OpenOptions},
    io::Write,
    os::{
        fd::{AsRawFd, FromRawFd, RawFd},
        unix::{fs::symlink, process::CommandExt},
    },
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use nix::{
    mount::{MntFlags, MsFlags, mount, umount2},
    sched::CloneFlags,
    sys::{
        signal::{SigSet, Signal, kill},
        wait::{WaitPidFlag, WaitStatus, waitpid},
    },
    unistd::{Pid, pivot_root, sethostname},
};
use serde_json::json;

use crate::spec::{InitSpec, ProcessSpec, inside};

/// Capabilities the application keeps (the set container runtimes grant by default). Everything
/// else — mounting, loading modules, changing the clock, raw I/O — is dropped from the bounding
/// set, so the application cannot undo its own isolation.
const KEPT_CAPABILITIES: &[u32] = &[
    0,  // CAP_CHOWN
    1,  // CAP_DAC_OVERRIDE
    3,  // CAP_FOWNER
    4,  // CAP_FSETID
    5,  // CAP_KILL
    6,  // CAP_SETGID
    7,  // CAP_SETUID
    8,  // CAP_SETPCAP
    10, // CAP_NET_BIND_SERVICE
    13, // CAP_NET_RAW
    18, // CAP_SYS_CHROOT
    27, // CAP_MKNOD
    29, // CAP_AUDIT_WRITE
    31, // CAP_SETFCAP
];

/// Everything prepared in the parent for the clone child, which may only make system calls.
pub struct Launch {
    pub exe: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    /// Open `cgroup.procs` files the child writes "0" into (joins itself).
    pub cgroup_procs: Vec<File>,
    /// The network namespace to enter.
    pub netns: File,
}

/// Starts the init process. Returns its pid (in the caller's PID namespace).
pub fn spawn(launch: &Launch) -> nix::Result<Pid> {
    let argv_ptrs: Vec<*const libc::c_char> =
        launch.argv.iter().map(|a| a.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
    let envp_ptrs: Vec<*const libc::c_char> =
        launch.envp.iter().map(|a| a.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
    let procs: Vec<RawFd> = launch.cgroup_procs.iter().map(|f| f.as_raw_fd()).collect();
    let netns = launch.netns.as_raw_fd();
    let exe = launch.exe.as_ptr();

    // Only raw system calls from here on in the child: it is a copy of a multithreaded process.
    let child = Box::new(move || -> isize {
        // SAFETY: every pointer and descriptor was prepared by the parent and stays valid in the
        // child's copy of the address space; these calls are async-signal-safe.
        unsafe {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return 120;
            }
            for fd in &procs {
                if libc::write(*fd, b"0".as_ptr().cast(), 1) != 1 {
                    return 121;
                }
            }
            if libc::setns(netns, libc::CLONE_NEWNET) != 0 {
                return 122;
            }
            libc::execve(exe, argv_ptrs.as_ptr(), envp_ptrs.as_ptr());
            123
        }
    });
    let mut stack = vec![0u8; 256 * 1024];
    let flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC;
    // SAFETY: the child only runs the closure above (raw system calls, then execve) on a stack
    // of 256 KiB, far more than it needs.
    unsafe { nix::sched::clone(child, &mut stack, flags, Some(libc::SIGCHLD)) }
}

/// Why the clone child exited before running init, from its exit code.
pub fn launch_failure(code: i32) -> Option<&'static str> {
    match code {
        120 => Some("could not set the parent-death signal"),
        121 => Some("could not join the environment's cgroup"),
        122 => Some("could not enter the environment's network namespace"),
        123 => Some("could not execute the shadowgate binary in init mode"),
        _ => None,
    }
}

/// Init mode: reads the init spec at `spec_path` and never returns.
pub fn main(spec_path: &Path) -> ! {
    let spec: InitSpec = match fs::read(spec_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("shadowgate init: cannot read {}: {e}", spec_path.display());
            std::process::exit(125);
        }
    };
    // SAFETY: the supervisor passed this descriptor open and owned by this process.
    let status = unsafe { File::from_raw_fd(spec.status_fd) };
    // The processes init starts must not hold the pipe open.
    let _ =
        nix::fcntl::fcntl(&status, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC));
    let mut reporter = Reporter(status);
    match run(&spec, &mut reporter) {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            reporter.send(json!({"event": "init_failed", "error": error}));
            std::process::exit(125);
        }
    }
}

/// Progress messages to the supervisor, one JSON document per line.
struct Reporter(File);

impl Reporter {
    fn send(&mut self, value: serde_json::Value) {
        let mut line = value.to_string();
        line.push('\n');
        let _ = self.0.write_all(line.as_bytes());
    }
}

fn run(spec: &InitSpec, reporter: &mut Reporter) -> Result<i32, String> {
    sethostname(&spec.hostname).map_err(|e| format!("set hostname: {e}"))?;
    let open_log = |p: &Path| {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(|e| format!("open log {}: {e}", p.display()))
    };
    let install_log = open_log(&spec.install_log)?;
    let stdout_log = open_log(&spec.stdout_log)?;
    let stderr_log = open_log(&spec.stderr_log)?;

    // The io_error file systems: /dev/fuse and the control sockets on the host are opened
    // before the root is built; each is mounted over its path once the root is there, before
    // the install steps run, so that every file they and the application open goes through it.
    let io_error = spec
        .io_error
        .iter()
        .map(|m| crate::iofs::prepare(&m.path, &m.control).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, String>>()?;
    build_root(spec)?;
    for prepared in io_error {
        let path = prepared.path().to_string();
        let pid = crate::iofs::start(prepared).map_err(|e| e.to_string())?;
        reporter.send(json!({"event": "io_error_mounted", "path": path, "pid": pid}));
    }
    reporter.send(json!({"event": "root_ready"}));

    let mut signals = SigSet::empty();
    for s in FORWARDED.iter().chain([&Signal::SIGCHLD, &CRASH_SIGNAL]) {
        signals.add(*s);
    }
    signals.thread_block().map_err(|e| format!("block signals: {e}"))?;

    for step in &spec.install {
        reporter.send(json!({"event": "install_started", "step": step.name}));
        let started = Instant::now();
        let out = install_log.try_clone().map_err(|e| e.to_string())?;
        let err = install_log.try_clone().map_err(|e| e.to_string())?;
        let child = start(step, out, err)?;
        let outcome = supervise(child, step.timeout_ms, &signals);
        let ms = started.elapsed().as_millis() as u64;
        match outcome {
            Outcome::Exited(code) => {
                reporter.send(
                    json!({"event": "install_finished", "step": step.name, "code": code, "ms": ms}),
                );
                if code != 0 {
                    return Ok(code);
                }
            }
            Outcome::TimedOut => {
                reporter.send(json!({"event": "install_timed_out", "step": step.name, "ms": ms}));
                return Ok(124);
            }
            Outcome::Stopped(code) | Outcome::Crashed(code) => {
                reporter.send(
                    json!({"event": "install_finished", "step": step.name, "code": code, "ms": ms}),
                );
                return Ok(code);
            }
        }
    }

    let logs = || -> Result<(File, File), String> {
        Ok((
            stdout_log.try_clone().map_err(|e| e.to_string())?,
            stderr_log.try_clone().map_err(|e| e.to_string())?,
        ))
    };
    let (out, err) = logs()?;
    let mut child = start(&spec.app, out, err)?;
    reporter.send(json!({"event": "app_started", "pid": child.as_raw()}));
    let code = loop {
        match supervise(child, 0, &signals) {
            Outcome::Exited(code) | Outcome::Stopped(code) => break code,
            Outcome::TimedOut => break 124,
            // A crash fault: the application was killed; start it again on the next signal.
            Outcome::Crashed(code) => {
                reporter.send(json!({"event": "app_crashed", "code": code}));
                if let Some(stop) = wait_for_restart(&signals) {
                    break stop;
                }
                let (out, err) = logs()?;
                child = start(&spec.app, out, err)?;
                reporter.send(
                    json!({"event": "app_started", "pid": child.as_raw(), "restarted": true}),
                );
            }
        }
    };
    reporter.send(json!({"event": "app_exited", "code": code}));
    Ok(code)
}

/// Signals init passes on to the process it runs.
const FORWARDED: [Signal; 6] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// From the host, this signal to init means "kill the application (SIGKILL to its process
/// group) and hold it down"; the next one starts it again. Used by crash faults with restart.
pub const CRASH_SIGNAL: Signal = Signal::SIGPWR;

/// Waits, reaping orphans, for the signal that restarts the application. Returns the exit code
/// to stop with instead when a stop signal arrives first.
fn wait_for_restart(signals: &SigSet) -> Option<i32> {
    loop {
        while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            if status == WaitStatus::StillAlive {
                break;
            }
        }
        let ts = libc::timespec { tv_sec: 3600, tv_nsec: 0 };
        // SAFETY: `signals` is a valid sigset and `ts` a valid timespec; no siginfo is requested.
        let sig = unsafe { libc::sigtimedwait(signals.as_ref(), std::ptr::null_mut(), &ts) };
        if sig == CRASH_SIGNAL as i32 {
            return None;
        }
        if sig == libc::SIGTERM || sig == libc::SIGINT || sig == libc::SIGHUP {
            return Some(128 + sig);
        }
    }
}

fn start(p: &ProcessSpec, stdout: File, stderr: File) -> Result<Pid, String> {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(&p.command)
        .env_clear()
        .envs(&p.env)
        .current_dir(&p.workdir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    // SAFETY: the closure only makes async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(|| {
            // Own process group, so that signals reach the shell's children too.
            if libc::setpgid(0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            for cap in 0..=63u32 {
                if !KEPT_CAPABILITIES.contains(&cap) {
                    // EINVAL means the kernel does not know this capability: nothing to drop.
                    libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0);
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|e| format!("start `{}`: {e}", p.name))?;
    Ok(Pid::from_raw(child.id() as i32))
}

enum Outcome {
    Exited(i32),
    TimedOut,
    /// Exited after init forwarded a stop signal.
    Stopped(i32),
    /// Killed on the host's request ([`CRASH_SIGNAL`]), to be started again.
    Crashed(i32),
}

/// Waits for `child`, reaping any other process that exits meanwhile (init is PID 1, so
/// orphans land here) and forwarding signals to the child's process group.
fn supervise(child: Pid, timeout_ms: u64, signals: &SigSet) -> Outcome {
    let deadline = (timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(timeout_ms));
    let mut stopping = false;
    loop {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(status) => {
                    if status.pid() == Some(child) {
                        let code = match status {
                            WaitStatus::Exited(_, code) => code,
                            WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
                            _ => continue,
                        };
                        return if stopping {
                            Outcome::Stopped(code)
                        } else {
                            Outcome::Exited(code)
                        };
                    }
                }
            }
        }
        let wait = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    let _ = kill(Pid::from_raw(-child.as_raw()), Signal::SIGKILL);
                    let _ = waitpid(child, None);
                    return Outcome::TimedOut;
                }
                left
            }
            None => Duration::from_secs(3600),
        };
        let ts = libc::timespec {
            tv_sec: wait.as_secs() as libc::time_t,
            tv_nsec: wait.subsec_nanos() as libc::c_long,
        };
        // SAFETY: `signals` is a valid sigset and `ts` a valid timespec; no siginfo is requested.
        let sig = unsafe { libc::sigtimedwait(signals.as_ref(), std::ptr::null_mut(), &ts) };
        if sig <= 0 || sig == libc::SIGCHLD {
            continue;
        }
        if sig == CRASH_SIGNAL as i32 {
            let _ = kill(Pid::from_raw(-child.as_raw()), Signal::SIGKILL);
            let code = match waitpid(child, None) {
                Ok(WaitStatus::Signaled(_, s, _)) => 128 + s as i32,
                Ok(WaitStatus::Exited(_, c)) => c,
                _ => 137,
            };
            return Outcome::Crashed(code);
        }
        if sig == libc::SIGTERM || sig == libc::SIGINT {
            stopping = true;
        }
        // SAFETY: kill with a valid signal number to a process group we created.
        unsafe {
            libc::kill(-child.as_raw(), sig);
        }
    }
}

/// Builds the application's view of the file system and pivots into it:
///
/// - the host's top-level directories, bind-mounted **read-only** (so tools and libraries are
///   there, but nothing on the host can be changed);
/// - `/shadowgate/release`: an overlay of the release (read-only lower) and the layer's `upper`
///   directory, so every change lands in the layer and the release stays byte-identical;
/// - `/shadowgate/data`, `/tmp`, `/run` and `/dev/shm`: directories of the layer;
/// - a fresh `/proc` for the PID namespace, a read-only `/sys`, and a minimal `/dev`.
///
/// The root itself is a small tmpfs that is made read-only at the end, so the only writable
/// places are in the layer, whose size is the environment's disk limit.
fn build_root(spec: &InitSpec) -> Result<(), String> {
    let err = |what: &str, path: &Path| {
        let what = what.to_string();
        let path = path.display().to_string();
        move |e: nix::Error| format!("{what} {path}: {e}")
    };
    let root = &spec.new_root;
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(err("make private", Path::new("/")))?;
    mount(
        Some("tmpfs"),
        root,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("size=1m,mode=755"),
    )
    .map_err(err("mount tmpfs on", root))?;

    let skip = ["proc", "sys", "dev", "tmp", "run", "shadowgate", "lost+found"];
    let entries = fs::read_dir("/").map_err(|e| format!("read /: {e}"))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if skip.contains(&name_str.as_ref()) {
            continue;
        }
        let source = Path::new("/").join(&name);
        let target = root.join(&name);
        let Ok(meta) = fs::symlink_metadata(&source) else { continue };
        if meta.file_type().is_symlink() {
            let link = fs::read_link(&source)
                .map_err(|e| format!("read link {}: {e}", source.display()))?;
            symlink(&link, &target).map_err(|e| format!("symlink {}: {e}", target.display()))?;
        } else if meta.is_dir() {
            bind(&source, &target, true)?;
        }
    }

    let release = root.join("shadowgate/release");
    let data = root.join("shadowgate/data");
    mkdirs(&release)?;
    mkdirs(&data)?;
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        escape_overlay(&spec.lower),
        escape_overlay(&spec.layer.join("upper")),
        escape_overlay(&spec.layer.join("work"))
    );
    mount(
        Some("overlay"),
        &release,
        Some("overlay"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(options.as_str()),
    )
    .map_err(err("mount the overlay on", &release))?;
    bind(&spec.layer.join("data"), &data, false)?;
    bind(&spec.layer.join("tmp"), &root.join("tmp"), false)?;
    bind(&spec.layer.join("run"), &root.join("run"), false)?;

    let proc_dir = root.join("proc");
    mkdirs(&proc_dir)?;
    mount(
        Some("proc"),
        &proc_dir,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(err("mount proc on", &proc_dir))?;
    bind(Path::new("/sys"), &root.join("sys"), true)?;
    build_dev(&root.join("dev"), &spec.layer.join("shm"))?;

    let old = root.join(".oldroot");
    mkdirs(&old)?;
    pivot_root(root, &old).map_err(err("pivot_root into", root))?;
    std::env::set_current_dir("/").map_err(|e| format!("chdir /: {e}"))?;
    umount2("/.oldroot", MntFlags::MNT_DETACH).map_err(err("detach", Path::new("/.oldroot")))?;
    fs::remove_dir("/.oldroot").map_err(|e| format!("remove /.oldroot: {e}"))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REMOUNT
            | MsFlags::MS_BIND
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .map_err(err("make read-only", Path::new("/")))?;
    Ok(())
}

fn build_dev(dev: &Path, shm: &Path) -> Result<(), String> {
    mkdirs(dev)?;
    mount(
        Some("tmpfs"),
        dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("size=64k,mode=755"),
    )
    .map_err(|e| format!("mount tmpfs on {}: {e}", dev.display()))?;
    for node in ["null", "zero", "full", "random", "urandom", "tty"] {
        let target = dev.join(node);
        File::create(&target).map_err(|e| format!("create {}: {e}", target.display()))?;
        mount(
            Some(&Path::new("/dev").join(node)),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| format!("bind /dev/{node}: {e}"))?;
    }
    for (name, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(to, dev.join(name)).map_err(|e| format!("link /dev/{name}: {e}"))?;
    }
    bind(shm, &dev.join("shm"), false)
}

fn mkdirs(p: &Path) -> Result<(), String> {
    fs::create_dir_all(p).map_err(|e| format!("create {}: {e}", p.display()))
}

/// Bind-mounts `source` on `target` (created), recursively; read-only (including every mount
/// below it) when asked.
fn bind(source: &Path, target: &Path, read_only: bool) -> Result<(), String> {
    mkdirs(target)?;
    mount(Some(source), target, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .map_err(|e| format!("bind {} on {}: {e}", source.display(), target.display()))?;
    if read_only {
        make_read_only(target)?;
    }
    Ok(())
}

/// Makes the mount at `target` and every mount below it read-only (`mount_setattr(2)`, Linux
/// 5.12), falling back to remounting each one.
fn make_read_only(target: &Path) -> Result<(), String> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_RDONLY: u64 = 1;
    const AT_RECURSIVE: libc::c_int = 0x8000;
    let path = CString::new(target.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    let attr = MountAttr { attr_set: MOUNT_ATTR_RDONLY, attr_clr: 0, propagation: 0, userns_fd: 0 };
    // SAFETY: valid path pointer and attribute struct of the size passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let info = fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    let prefix = target.to_string_lossy().to_string();
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(mp) = fields.get(4) else { continue };
        if *mp == prefix || mp.starts_with(&format!("{prefix}/")) {
            let opts = fields.get(5).copied().unwrap_or_default();
            let mut flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
            for (opt, flag) in [
                ("nosuid", MsFlags::MS_NOSUID),
                ("nodev", MsFlags::MS_NODEV),
                ("noexec", MsFlags::MS_NOEXEC),
            ] {
                if opts.split(',').any(|o| o == opt) {
                    flags |= flag;
                }
            }
            mount(None::<&str>, *mp, None::<&str>, flags, None::<&str>)
                .map_err(|e| format!("make {mp} read-only: {e}"))?;
        }
    }
    Ok(())
}

/// Escapes the characters overlayfs treats specially in its mount options.
fn escape_overlay(p: &Path) -> String {
    let mut out = String::new();
    for c in p.to_string_lossy().chars() {
        if matches!(c, ',' | ':' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The in-environment paths a release's placeholders resolve to.
pub fn placeholder_paths(release_is_file: bool, artifact_name: &str) -> (PathBuf, PathBuf) {
    let release_dir = PathBuf::from(inside::RELEASE_DIR);
    let artifact =
        if release_is_file { release_dir.join(artifact_name) } else { release_dir.clone() };
    (release_dir, artifact)
}
