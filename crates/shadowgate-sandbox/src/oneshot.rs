//! One-off commands in a fresh sandbox: `shadowgate env run -- CMD`.
//!
//! The lightest environment there is: new network (loopback only), mount, PID, UTS and IPC
//! namespaces and a cgroup with limits, around one command, with no supervisor process, no
//! writable layer and no store records. The command sees the host's files (the mount namespace
//! is private, so mounts it makes do not leak out) and nothing of the host's network.
//! The cgroup is journaled before it is created, like every other host object, so `env gc`
//! removes it if this process dies mid-way.

use std::{
    ffi::CString,
    fs::{self, File},
    os::fd::{AsRawFd, RawFd},
    path::Path,
    time::Duration,
};

use nix::{
    sched::CloneFlags,
    sys::wait::{WaitStatus, waitpid},
};

use crate::{
    cgroup::{Cgroup, Layout, Limits},
    journal::{HostObject, Journal},
};

/// What to run.
#[derive(Clone, Debug)]
pub struct OneShot {
    /// An environment id (names the cgroup and the state directory).
    pub id: String,
    pub argv: Vec<String>,
    /// Cgroup limits; `None` runs the command in namespaces only, without a cgroup.
    pub limits: Option<Limits>,
}

#[derive(Debug, thiserror::Error)]
pub enum OneShotError {
    #[error("{0}")]
    Setup(String),
}

fn setup<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> OneShotError + '_ {
    move |e| OneShotError::Setup(format!("{what}: {e}"))
}

/// Runs the command and returns its exit code (128 + signal when killed).
pub fn run(state_root: &Path, job: &OneShot) -> Result<i32, OneShotError> {
    let Some(limits) = &job.limits else { return run_in(None, job) };
    let name = format!("{}-{}", shadowgate_core::env::HOST_PREFIX, job.id);
    let dir = state_root.join("envs").join(&name);
    fs::create_dir_all(&dir).map_err(setup("create the state directory"))?;
    let mut journal = Journal::open(&dir.join("journal")).map_err(setup("open the journal"))?;
    let layout = Layout::detect().map_err(setup("detect cgroups"))?;
    let relative = format!("{}/{name}", shadowgate_core::env::HOST_PREFIX);
    let planned = Cgroup::planned(&layout, &relative);
    journal.record(&HostObject::cgroup(&planned)).map_err(setup("write the journal"))?;
    let cgroup = Cgroup::create(&layout, &relative).map_err(setup("create the cgroup"))?;
    let result = cgroup
        .apply(limits)
        .map_err(setup("apply limits"))
        .and_then(|()| run_in(Some(&cgroup), job));
    let removed = cgroup.remove(Duration::from_secs(10)).map_err(setup("remove the cgroup"));
    let _ = fs::remove_dir_all(&dir);
    let code = result?;
    removed?;
    Ok(code)
}

fn run_in(cgroup: Option<&Cgroup>, job: &OneShot) -> Result<i32, OneShotError> {
    let procs: Vec<File> = cgroup
        .map(|c| c.procs_files())
        .unwrap_or_default()
        .iter()
        .map(|p| fs::OpenOptions::new().write(true).open(p).map_err(setup("open cgroup.procs")))
        .collect::<Result<_, _>>()?;
    let argv: Vec<CString> = job
        .argv
        .iter()
        .map(|a| CString::new(a.as_str()).map_err(setup("argument")))
        .collect::<Result<_, _>>()?;
    if argv.is_empty() {
        return Err(OneShotError::Setup("no command given".into()));
    }
    let path = resolve(&job.argv[0]).ok_or_else(|| {
        OneShotError::Setup(format!("`{}` is not an executable in PATH", job.argv[0]))
    })?;
    let path = CString::new(path).map_err(setup("path"))?;
    let argv_ptrs: Vec<*const libc::c_char> =
        argv.iter().map(|a| a.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.into_encoded_bytes();
            kv.push(b'=');
            kv.extend(v.into_encoded_bytes());
            CString::new(kv).ok()
        })
        .collect();
    let env_ptrs: Vec<*const libc::c_char> =
        env.iter().map(|a| a.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
    let proc_fds: Vec<RawFd> = procs.iter().map(|f| f.as_raw_fd()).collect();
    let path_ptr = path.as_ptr();

    let child = Box::new(move || -> isize {
        // SAFETY: raw, async-signal-safe system calls on data prepared before the clone.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            for fd in &proc_fds {
                if libc::write(*fd, b"0".as_ptr().cast(), 1) != 1 {
                    return 121;
                }
            }
            // Keep mounts made inside from propagating to the host.
            let root = c"/";
            if libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) != 0
            {
                return 124;
            }
            if !loopback_up_raw() {
                return 125;
            }
            libc::execve(path_ptr, argv_ptrs.as_ptr(), env_ptrs.as_ptr());
            127
        }
    });
    let mut stack = vec![0u8; 64 * 1024];
    let flags = CloneFlags::CLONE_NEWNET
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC;
    // SAFETY: the child runs only the closure above, on a 64 KiB stack.
    let pid = unsafe { nix::sched::clone(child, &mut stack, flags, Some(libc::SIGCHLD)) }
        .map_err(setup("start the command"))?;
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(OneShotError::Setup(format!("wait for the command: {e}"))),
        }
    }
}

/// Brings `lo` up with two ioctls; usable between clone and exec (no allocation).
unsafe fn loopback_up_raw() -> bool {
    // SAFETY: plain system calls on a zeroed ifreq.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return false;
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        req.ifr_name[0] = b'l' as libc::c_char;
        req.ifr_name[1] = b'o' as libc::c_char;
        let ok = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) == 0 && {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) == 0
        };
        libc::close(fd);
        ok
    }
}

/// Finds an executable the way a shell would.
fn resolve(program: &str) -> Option<String> {
    if program.contains('/') {
        return Path::new(program).exists().then(|| program.to_string());
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    path.split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}
