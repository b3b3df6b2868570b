//! Network namespaces that hold only a loopback interface.
//!
//! An environment's network namespace is created by a short-lived thread that unshares its own
//! network namespace, brings `lo` up and bind-mounts the namespace onto
//! `/run/netns/shadowgate-<id>` (the convention of `ip netns`, so `ip netns exec` works for
//! debugging). Nothing connects it to the host: the application cannot reach the host or the
//! outside. The host reaches the application by creating sockets *inside* the namespace (a
//! thread that has entered it creates them; a socket stays in the namespace it was created in
//! wherever it is used afterwards) — see [`NetnsSockets`].

use std::{
    fs::{self, File},
    io,
    os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd},
    path::{Path, PathBuf},
    sync::mpsc,
    thread,
};

use nix::{
    mount::{MntFlags, MsFlags, mount, umount2},
    sched::{CloneFlags, setns, unshare},
};

/// Where named network namespaces live.
pub const NETNS_DIR: &str = "/run/netns";

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("{action} {path}: {source}{hint}")]
    Io { action: &'static str, path: PathBuf, source: io::Error, hint: &'static str },
    #[error("{action}: {source}{hint}")]
    Sys { action: &'static str, source: nix::Error, hint: &'static str },
    #[error("the network-namespace thread ended without an answer")]
    ThreadGone,
}

const PRIV_HINT: &str = " (network namespaces need root or CAP_SYS_ADMIN; run shadowgate as root)";

fn sys(action: &'static str) -> impl FnOnce(nix::Error) -> NetnsError {
    move |source| {
        let hint = if source == nix::Error::EPERM { PRIV_HINT } else { "" };
        NetnsError::Sys { action, source, hint }
    }
}

fn io_at<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> NetnsError + 'a {
    move |source| NetnsError::Io { action, path: path.to_path_buf(), source, hint: "" }
}

/// The path of a named network namespace.
pub fn path_of(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// Creates the named network namespace `name` with `lo` up. The caller records the path in the
/// journal before calling, so that a crash in between is cleaned up.
pub fn create(name: &str) -> Result<PathBuf, NetnsError> {
    let dir = Path::new(NETNS_DIR);
    fs::create_dir_all(dir).map_err(io_at("create", dir))?;
    ensure_shared_mount(dir)?;
    let target = dir.join(name);
    File::create(&target).map_err(io_at("create", &target))?;
    let target_for_thread = target.clone();
    let result = thread::Builder::new()
        .name("shadowgate-netns".into())
        .spawn(move || -> Result<(), NetnsError> {
            unshare(CloneFlags::CLONE_NEWNET).map_err(sys("unshare the network namespace"))?;
            loopback_up()?;
            let own = format!("/proc/self/task/{}/ns/net", nix::unistd::gettid());
            mount(
                Some(own.as_str()),
                &target_for_thread,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(sys("bind-mount the network namespace"))?;
            // The thread ends here; its namespace lives on through the bind mount.
            Ok(())
        })
        .map_err(io_at("spawn a thread for", &target))?
        .join()
        .map_err(|_| NetnsError::ThreadGone)?;
    if let Err(e) = result {
        let _ = fs::remove_file(&target);
        return Err(e);
    }
    Ok(target)
}

/// Makes `dir` a shared bind mount of itself (what `ip netns` does), so that namespace mounts
/// made in it are visible in mount namespaces created later.
fn ensure_shared_mount(dir: &Path) -> Result<(), NetnsError> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let is_mount = info.lines().any(|l| l.split(' ').nth(4) == Some(NETNS_DIR));
    if !is_mount {
        mount(Some(dir), dir, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
            .map_err(sys("bind-mount /run/netns"))?;
    }
    mount(None::<&str>, dir, None::<&str>, MsFlags::MS_SHARED | MsFlags::MS_REC, None::<&str>)
        .map_err(sys("make /run/netns shared"))?;
    Ok(())
}

/// Removes a named network namespace (unmount and delete the file). Missing is fine.
pub fn remove(path: &Path) -> Result<(), NetnsError> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
        Err(e) => return Err(sys("unmount the network namespace")(e)),
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_at("remove", path)(e)),
    }
}

/// Sets `IFF_UP` on `lo` in the calling thread's network namespace.
fn loopback_up() -> Result<(), NetnsError> {
    let sock =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).map_err(|e| {
            NetnsError::Io { action: "open a socket in", path: "netns".into(), source: e, hint: "" }
        })?;
    // SAFETY: `ifreq` is plain old data; we pass a valid pointer to it to two ioctls that only
    // read and write within the struct.
    unsafe {
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(NetnsError::Io {
                action: "read flags of",
                path: "lo".into(),
                source: io::Error::last_os_error(),
                hint: "",
            });
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(NetnsError::Io {
                action: "bring up",
                path: "lo".into(),
                source: io::Error::last_os_error(),
                hint: "",
            });
        }
    }
    Ok(())
}

type Job = Box<dyn FnOnce() + Send>;

/// Creates sockets inside a network namespace for use anywhere in this process.
///
/// One thread enters the namespace and serves requests; a socket it creates belongs to the
/// namespace for its whole life, so the host can connect to (or listen for) the application
/// without any route between the two.
#[derive(Clone)]
pub struct NetnsSockets {
    jobs: mpsc::Sender<Job>,
}

impl NetnsSockets {
    /// Starts a thread inside the namespace at `path`.
    pub fn enter(path: &Path) -> Result<NetnsSockets, NetnsError> {
        let ns = File::open(path).map_err(io_at("open", path))?;
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel();
        thread::Builder::new()
            .name("shadowgate-netns-sockets".into())
            .spawn(move || {
                let entered = setns(ns.as_fd(), CloneFlags::CLONE_NEWNET)
                    .map_err(sys("enter the network namespace"));
                let ok = entered.is_ok();
                let _ = ready_tx.send(entered);
                if ok {
                    for job in jobs_rx {
                        job();
                    }
                }
            })
            .map_err(io_at("spawn a thread for", path))?;
        ready_rx.recv().map_err(|_| NetnsError::ThreadGone)??;
        Ok(NetnsSockets { jobs: jobs_tx })
    }

    /// A new, unconnected, non-blocking TCP socket (IPv4) inside the namespace.
    pub fn tcp_socket(&self) -> Result<OwnedFd, NetnsError> {
        let (tx, rx) = mpsc::channel();
        self.jobs
            .send(Box::new(move || {
                let made = socket2::Socket::new(
                    socket2::Domain::IPV4,
                    socket2::Type::STREAM,
                    Some(socket2::Protocol::TCP),
                )
                .and_then(|s| {
                    s.set_nonblocking(true)?;
                    s.set_tcp_nodelay(true)?;
                    Ok(s)
                });
                let _ = tx.send(made);
            }))
            .map_err(|_| NetnsError::ThreadGone)?;
        let sock = rx.recv().map_err(|_| NetnsError::ThreadGone)?.map_err(|e| NetnsError::Io {
            action: "create a socket in",
            path: "netns".into(),
            source: e,
            hint: "",
        })?;
        Ok(sock.into())
    }

    /// Connects (blocking, with a timeout) to `addr` inside the namespace.
    pub fn connect_std(
        &self,
        addr: std::net::SocketAddr,
        timeout: std::time::Duration,
    ) -> io::Result<std::net::TcpStream> {
        let fd = self.tcp_socket().map_err(|e| io::Error::other(e.to_string()))?;
        // SAFETY: `fd` is an owned, open socket descriptor; ownership moves into the Socket.
        let sock = unsafe { socket2::Socket::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(fd)) };
        sock.set_nonblocking(false)?;
        sock.connect_timeout(&addr.into(), timeout)?;
        Ok(sock.into())
    }

    /// Connects asynchronously to `addr` inside the namespace.
    pub async fn connect(&self, addr: std::net::SocketAddr) -> io::Result<tokio::net::TcpStream> {
        let fd = self.tcp_socket().map_err(|e| io::Error::other(e.to_string()))?;
        // SAFETY: `fd` is an owned, open, non-blocking TCP socket; ownership moves into tokio.
        let sock =
            unsafe { tokio::net::TcpSocket::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(fd)) };
        sock.connect(addr).await
    }

    /// Binds `127.0.0.1:0` inside the namespace and returns the port the kernel chose (the
    /// socket is closed again): a port that is free in the namespace at this moment.
    pub fn free_port(&self) -> Result<u16, NetnsError> {
        let fd = self.tcp_socket()?;
        // SAFETY: `fd` is an owned socket descriptor; ownership moves into the Socket.
        let sock = unsafe { socket2::Socket::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(fd)) };
        let any: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
        sock.bind(&any.into()).map_err(|e| NetnsError::Io {
            action: "bind in",
            path: "netns".into(),
            source: e,
            hint: "",
        })?;
        let local = sock
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.port())
            .ok_or(NetnsError::ThreadGone)?;
        Ok(local)
    }
}
