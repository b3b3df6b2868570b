//! Dependent services: PostgreSQL, Redis and NATS started fresh for one environment.
//!
//! Each service
//! - runs from the machine's own binaries (found, not configured: `/usr/lib/postgresql/*/bin`
//!   for the newest PostgreSQL, `redis-server` and `nats-server` on the usual paths),
//! - runs as the unprivileged user `nobody`, inside the environment's network namespace, on a
//!   port that is free there, with its files under the environment's state directory
//!   (`<env>/deps/<name>`), so they go when the environment goes,
//! - dies with the supervisor (SIGKILL as its parent-death signal), so that a crashed supervisor
//!   leaves no server behind for `env gc` to hunt,
//! - is ready when a real protocol exchange answers: PostgreSQL's startup message and
//!   `SELECT 1`, Redis's `PING`, NATS's `INFO` and `PING`,
//! - is reached by the application only through its own fault proxy: a
//!   [`shadowgate_faultproxy`] proxy named after the dependency, listening inside the namespace.
//!   The proxies' Toxiproxy API listens on the host's loopback, so that conditions and faults can
//!   be applied to the application↔dependency traffic from outside.
//!
//! PostgreSQL data directories are not made with `initdb` per environment: a template (one per
//! server version, user and database) is prepared once under `<state root>/templates` and copied.

use std::{
    collections::BTreeMap,
    fs::{self, File},
    io::{self, Read, Write},
    net::{SocketAddr, TcpStream},
    os::{
        fd::{AsRawFd, OwnedFd},
        unix::{fs::PermissionsExt, process::CommandExt},
    },
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use shadowgate_faultproxy::{FaultProxy, ProxySpec};

use crate::{
    journal::{HostObject, process_start_time},
    netns::NetnsSockets,
};

/// The unprivileged account services run as.
pub const SERVICE_UID: u32 = 65534;
pub const SERVICE_GID: u32 = 65534;

/// One dependency as the supervisor is asked to start it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DepSpec {
    pub name: String,
    /// `postgres`, `redis` or `nats`.
    pub kind: String,
    /// PostgreSQL: the database created for the application.
    pub database: Option<String>,
    /// PostgreSQL: the role the application connects as.
    pub user: Option<String>,
    pub ready_timeout_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DepError {
    #[error("dependency `{name}`: {message}")]
    Start { name: String, message: String },
    #[error("dependency `{name}` ({kind}): no server binary found; {hint}")]
    Missing { name: String, kind: String, hint: &'static str },
    #[error(
        "dependency `{name}` did not answer its {kind} probe within {ms} ms (last: {last}); see {log}"
    )]
    NotReady { name: String, kind: String, ms: u64, last: String, log: String },
    #[error("the dependencies' fault proxy: {0}")]
    Proxy(String),
}

fn start_err(name: &str) -> impl Fn(String) -> DepError + '_ {
    move |message| DepError::Start { name: name.to_string(), message }
}

/// What the application and the host see of a running dependency.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DepInfo {
    pub name: String,
    pub kind: String,
    /// The URL the application uses: the fault proxy's address inside the namespace.
    pub url: String,
    pub host: String,
    /// The fault proxy's port inside the namespace.
    pub port: u16,
    /// The server's own port inside the namespace (not for the application).
    pub service_port: u16,
    pub pid: i32,
    /// PostgreSQL: milliseconds spent making the template (0 when it was already there).
    pub template_ms: u64,
    /// Milliseconds to prepare the data directory (PostgreSQL: the copy of the template).
    pub prepare_ms: u64,
    /// Milliseconds from starting the server to its first successful probe.
    pub ready_ms: u64,
}

impl DepInfo {
    /// `dep.NAME.FIELD` placeholder values.
    pub fn placeholders(&self) -> [(String, String); 3] {
        [
            (format!("dep.{}.url", self.name), self.url.clone()),
            (format!("dep.{}.host", self.name), self.host.clone()),
            (format!("dep.{}.port", self.name), self.port.to_string()),
        ]
    }

    /// `SHADOWGATE_DEP_<NAME>_{URL,HOST,PORT}` environment variables.
    pub fn env_vars(&self) -> [(String, String); 3] {
        let var = |field: &str| shadowgate_core::manifest::dependencies::env_var(&self.name, field);
        [
            (var("url"), self.url.clone()),
            (var("host"), self.host.clone()),
            (var("port"), self.port.to_string()),
        ]
    }
}

/// How long a dependency's preparation took.
#[derive(Clone, Copy, Debug, Default)]
struct Timing {
    template_ms: u64,
    prepare_ms: u64,
}

/// Where a supervisor keeps its dependencies' files.
#[derive(Clone, Debug)]
pub struct DepPaths {
    /// The environment's state directory (`<root>/envs/shadowgate-<id>`).
    pub env_dir: PathBuf,
    /// Templates shared by environments: `<root>/templates`.
    pub templates: PathBuf,
    /// Where each server's output goes (`<logs>/dep-<name>.log`).
    pub log_dir: PathBuf,
}

impl DepPaths {
    /// Paths for the environment whose state directory is `env_dir` (`<root>/envs/<name>`).
    pub fn for_env(env_dir: &Path, log_dir: &Path) -> DepPaths {
        let root = env_dir.parent().and_then(Path::parent).unwrap_or(env_dir);
        DepPaths {
            env_dir: env_dir.to_path_buf(),
            templates: root.join("templates"),
            log_dir: log_dir.to_path_buf(),
        }
    }
}

/// The running dependencies of one environment and their fault proxy.
pub struct Running {
    pub infos: Vec<DepInfo>,
    /// The host address of the Toxiproxy-compatible API of the dependencies' proxies.
    pub api: SocketAddr,
    children: Vec<(String, String, Child)>,
    /// Overlay mounts of PostgreSQL data directories.
    mounts: Vec<PathBuf>,
    proxy: Option<ProxyThread>,
}

/// Starts every dependency and its proxy. `record` journals each host object: a data
/// directory's overlay mount before it is mounted, each server process as soon as it exists.
/// On error, whatever was started is stopped and unmounted. Ports in `reserved` (the
/// application's) are never given to a server or a proxy.
pub fn start(
    specs: &[DepSpec],
    paths: &DepPaths,
    netns: &Path,
    sockets: &NetnsSockets,
    reserved: &[u16],
    record: &mut dyn FnMut(&HostObject) -> io::Result<()>,
) -> Result<Running, DepError> {
    let mut running = Running {
        infos: Vec::new(),
        api: ([127, 0, 0, 1], 0).into(),
        children: Vec::new(),
        mounts: Vec::new(),
        proxy: None,
    };
    let mut ports = PortPicker { sockets, taken: reserved.iter().copied().collect() };
    match start_into(&mut running, specs, paths, netns, &mut ports, record) {
        Ok(()) => Ok(running),
        Err(e) => {
            running.stop();
            Err(e)
        }
    }
}

/// Free ports inside the namespace, each different from the others handed out and from the
/// reserved ones (a port the kernel reports free may be one already promised to a process
/// that has not bound it yet).
struct PortPicker<'a> {
    sockets: &'a NetnsSockets,
    taken: std::collections::BTreeSet<u16>,
}

impl PortPicker<'_> {
    fn next(&mut self) -> Result<u16, String> {
        for _ in 0..64 {
            let port = self.sockets.free_port().map_err(|e| e.to_string())?;
            if self.taken.insert(port) {
                return Ok(port);
            }
        }
        Err("no free port found in the environment's network namespace".into())
    }
}

fn start_into(
    running: &mut Running,
    specs: &[DepSpec],
    paths: &DepPaths,
    netns: &Path,
    ports: &mut PortPicker<'_>,
    record: &mut dyn FnMut(&HostObject) -> io::Result<()>,
) -> Result<(), DepError> {
    let sockets = ports.sockets;
    let deps_dir = paths.env_dir.join("deps");
    fs::create_dir_all(&deps_dir)
        .map_err(|e| DepError::Proxy(format!("create {}: {e}", deps_dir.display())))?;
    // `nobody` must be able to reach its own directories (traverse only, no listing).
    for dir in [paths.env_dir.parent().and_then(Path::parent), paths.env_dir.parent()]
        .into_iter()
        .flatten()
        .chain([paths.env_dir.as_path(), deps_dir.as_path()])
    {
        allow_traverse(dir)
            .map_err(|e| DepError::Proxy(format!("chmod {}: {e}", dir.display())))?;
    }
    let ns =
        File::open(netns).map_err(|e| DepError::Proxy(format!("open {}: {e}", netns.display())))?;
    // Prepare every data directory first, then start the servers together.
    let mut prepared = Vec::new();
    for spec in specs {
        let err = start_err(&spec.name);
        let service_port = ports.next().map_err(&err)?;
        let dir = deps_dir.join(&spec.name);
        let mut timing = Timing::default();
        let command = match spec.kind.as_str() {
            "postgres" => {
                let mut mount = |data: &Path| {
                    record(&HostObject::Mount { path: data.to_path_buf() })?;
                    running.mounts.push(data.to_path_buf());
                    Ok(())
                };
                postgres_command(
                    spec,
                    &dir,
                    &paths.templates,
                    service_port,
                    &mut timing,
                    &mut mount,
                )?
            }
            "redis" => redis_command(spec, &dir, service_port)?,
            "nats" => nats_command(spec, &dir, service_port)?,
            other => return Err(err(format!("unknown kind `{other}`"))),
        };
        prepared.push((spec, service_port, command, timing));
    }
    let mut started = Vec::new();
    for (spec, service_port, command, timing) in prepared {
        let err = start_err(&spec.name);
        let log = paths.log_dir.join(format!("dep-{}.log", spec.name));
        let child = spawn_service(command, &ns, &log).map_err(|e| {
            let hint = if e.raw_os_error() == Some(libc::EPERM) {
                " (servers run as the user nobody in the environment's network namespace, \
                 which needs root; run shadowgate as root)"
            } else {
                ""
            };
            err(format!("start the server: {e}{hint}"))
        })?;
        let pid = child.id() as i32;
        running.children.push((spec.name.clone(), spec.kind.clone(), child));
        record(&HostObject::Process {
            pid,
            start_time: process_start_time(pid).unwrap_or(0),
            role: format!("dependency {}", spec.name),
        })
        .map_err(|e| err(format!("write the journal: {e}")))?;
        started.push((spec, service_port, log, timing, pid, Instant::now()));
    }
    // Probe them all (they start in parallel).
    let mut ready_ms = BTreeMap::new();
    for (spec, service_port, log, _, _, spawned) in &started {
        let deadline = *spawned + Duration::from_millis(spec.ready_timeout_ms);
        let addr: SocketAddr = ([127, 0, 0, 1], *service_port).into();
        loop {
            let last = match probe(spec, addr, sockets) {
                Ok(()) => break,
                Err(e) => e,
            };
            if let Some(status) = running
                .children
                .iter_mut()
                .find(|(n, _, _)| n == &spec.name)
                .and_then(|(_, _, c)| c.try_wait().ok().flatten())
            {
                return Err(start_err(&spec.name)(format!(
                    "the server exited ({status}) before it answered; see {}",
                    log.display()
                )));
            }
            if Instant::now() >= deadline {
                return Err(DepError::NotReady {
                    name: spec.name.clone(),
                    kind: spec.kind.clone(),
                    ms: spec.ready_timeout_ms,
                    last,
                    log: log.display().to_string(),
                });
            }
            // Poll again soon; each probe attempt itself waits on the socket.
            thread::sleep(Duration::from_millis(5));
        }
        ready_ms.insert(spec.name.clone(), spawned.elapsed().as_millis() as u64);
    }
    // One fault proxy per dependency, all served by one thread inside the namespace.
    let mut proxies = Vec::new();
    for (spec, service_port, ..) in &started {
        let listen = ports.next().map_err(start_err(&spec.name))?;
        proxies.push((spec.name.clone(), listen, *service_port));
    }
    let (proxy, api, ports) = ProxyThread::start(netns, &proxies)?;
    running.proxy = Some(proxy);
    running.api = api;
    for (spec, service_port, _, timing, pid, _) in started {
        let port = ports[&spec.name];
        let url = match spec.kind.as_str() {
            "postgres" => format!(
                "postgresql://{}@127.0.0.1:{port}/{}?sslmode=disable",
                postgres_user(spec),
                postgres_database(spec)
            ),
            "redis" => format!("redis://127.0.0.1:{port}/0"),
            _ => format!("nats://127.0.0.1:{port}"),
        };
        running.infos.push(DepInfo {
            name: spec.name.clone(),
            kind: spec.kind.clone(),
            url,
            host: "127.0.0.1".into(),
            port,
            service_port,
            pid,
            template_ms: timing.template_ms,
            prepare_ms: timing.prepare_ms,
            ready_ms: ready_ms[&spec.name],
        });
    }
    Ok(())
}

impl Running {
    /// Stops the proxies, then each server (its own graceful signal, SIGKILL after 5 s).
    pub fn stop(&mut self) {
        if let Some(proxy) = self.proxy.take() {
            proxy.stop();
        }
        for (_, kind, child) in &self.children {
            // PostgreSQL's "fast" shutdown is SIGINT; the others stop on SIGTERM.
            let signal = if kind == "postgres" {
                nix::sys::signal::Signal::SIGINT
            } else {
                nix::sys::signal::Signal::SIGTERM
            };
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for (_, _, child) in &mut self.children {
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => thread::sleep(Duration::from_millis(5)),
                }
            }
        }
        self.children.clear();
        for mount in self.mounts.drain(..) {
            let _ = nix::mount::umount2(&mount, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn allow_traverse(dir: &Path) -> io::Result<()> {
    let mode = fs::metadata(dir)?.permissions().mode();
    if mode & 0o011 != 0o011 {
        fs::set_permissions(dir, fs::Permissions::from_mode((mode | 0o011) & 0o7777))?;
    }
    Ok(())
}

fn chown_service(path: &Path) -> io::Result<()> {
    std::os::unix::fs::chown(path, Some(SERVICE_UID), Some(SERVICE_GID))
}

/// A directory owned by the service user with mode 0700.
fn service_dir(path: &Path) -> io::Result<()> {
    fs::create_dir_all(path)?;
    chown_service(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
}

/// Starts `command` in the network namespace `ns`, as the service user, dying with the calling
/// thread (its parent-death signal is SIGKILL).
pub fn spawn_service(mut command: Command, ns: &File, log: &Path) -> io::Result<Child> {
    let out = File::create(log)?;
    let err = out.try_clone()?;
    let ns_fd = ns.as_raw_fd();
    let parent = std::process::id() as i32;
    command.stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
    // SAFETY: only async-signal-safe calls (setns, setgroups, setgid, setuid, prctl, getppid)
    // between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::setns(ns_fd, libc::CLONE_NEWNET) != 0
                || libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(SERVICE_GID) != 0
                || libc::setuid(SERVICE_UID) != 0
                // After setuid: a change of credentials clears the parent-death signal.
                || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0
            {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                // The supervisor died between fork and prctl.
                libc::_exit(1);
            }
            Ok(())
        });
    }
    command.spawn()
}

/// Runs a preparation command as the service user (no namespace change) and checks its status.
fn run_as_service(mut command: Command, stdin: Option<&str>, what: &str) -> Result<(), String> {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(SERVICE_GID) != 0
                || libc::setuid(SERVICE_UID) != 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(|e| format!("{what}: {e}"))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).map_err(|e| format!("{what}: write stdin: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        ));
    }
    Ok(())
}

/// `shadowgate doctor`'s view of the dependency kinds: which servers this machine can start.
pub fn doctor_checks() -> Vec<crate::doctor::Check> {
    let version = |bin: &Path| {
        Command::new(bin)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let postgres = postgres_bin_dir().map(|dir| dir.join("postgres"));
    let found = [
        ("postgres", postgres, "postgresql"),
        ("redis", find_binary("redis-server"), "redis-server"),
        ("nats", find_binary("nats-server"), "nats-server"),
    ];
    found
        .into_iter()
        .map(|(kind, bin, package)| crate::doctor::Check {
            name: format!("dependency.{kind}"),
            ok: bin.is_some(),
            detail: match &bin {
                Some(bin) => format!(
                    "[dependencies] kind = \"{kind}\": {} ({})",
                    bin.display(),
                    version(bin)
                ),
                None => format!("[dependencies] kind = \"{kind}\": no server binary found"),
            },
            fix: bin.is_none().then(|| {
                format!("install it (Debian: apt-get install {package}, or `cargo xtask deps`)")
            }),
            required: false,
        })
        .collect()
}

// ---- PostgreSQL ----

pub(crate) fn postgres_user(spec: &DepSpec) -> &str {
    spec.user.as_deref().unwrap_or("shadowgate")
}

pub(crate) fn postgres_database(spec: &DepSpec) -> &str {
    spec.database.as_deref().unwrap_or(&spec.name)
}

/// The directory holding the newest PostgreSQL server installed, e.g.
/// `/usr/lib/postgresql/15/bin`, or the directory of `postgres` on the usual paths.
pub fn postgres_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    find_binary("postgres").and_then(|p| p.parent().map(Path::to_path_buf))
}

fn find_binary(name: &str) -> Option<PathBuf> {
    ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// `postgres --version`, reduced to a file-name-safe key such as `15.14`.
fn postgres_version(bin: &Path) -> Result<String, String> {
    let out = Command::new(bin.join("postgres"))
        .arg("--version")
        .output()
        .map_err(|e| format!("run {} --version: {e}", bin.join("postgres").display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"
    let version = text
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .ok_or_else(|| format!("unexpected `postgres --version` output: {text}"))?;
    Ok(version.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '.').collect())
}

/// The template data directory for (server version, user, database), prepared once: `initdb`,
/// then the database created in single-user mode. Concurrent preparers each build their own
/// copy and the first rename wins.
pub fn postgres_template(
    bin: &Path,
    templates: &Path,
    user: &str,
    database: &str,
) -> Result<PathBuf, String> {
    let version = postgres_version(bin)?;
    // `w1`: the template's layout (1 MiB WAL segments); change it when initdb's options change.
    let target = templates.join(format!("postgres-{version}-w1-{user}-{database}"));
    if target.join("PG_VERSION").exists() {
        return Ok(target);
    }
    fs::create_dir_all(templates).map_err(|e| format!("create {}: {e}", templates.display()))?;
    fs::set_permissions(templates, fs::Permissions::from_mode(0o711))
        .map_err(|e| format!("chmod {}: {e}", templates.display()))?;
    if let Some(root) = templates.parent() {
        allow_traverse(root).map_err(|e| format!("chmod {}: {e}", root.display()))?;
    }
    // Half-built templates of supervisors that died while building them.
    for entry in fs::read_dir(templates).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(pid) = name.strip_prefix(".building-").and_then(|p| p.parse::<i32>().ok())
            && process_start_time(pid).is_none()
        {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
    let building = templates.join(format!(".building-{}", std::process::id()));
    let _ = fs::remove_dir_all(&building);
    service_dir(&building).map_err(|e| format!("create {}: {e}", building.display()))?;
    let result = (|| {
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&building)
            .args(["-U", user, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
            // 1 MiB WAL segments instead of 16: the template is copied for every environment.
            .arg("--wal-segsize=1")
            .current_dir(templates);
        run_as_service(initdb, None, "initdb")?;
        if database != "postgres" {
            let mut single = Command::new(bin.join("postgres"));
            single
                .args(["--single", "-F", "-D"])
                .arg(&building)
                .arg("postgres")
                .current_dir(templates);
            run_as_service(
                single,
                Some(&format!("CREATE DATABASE \"{database}\" OWNER \"{user}\";\n")),
                "create the database in single-user mode",
            )?;
        }
        Ok::<(), String>(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&building);
        return Err(e);
    }
    if fs::rename(&building, &target).is_err() {
        // Another environment finished first; use its template.
        let _ = fs::remove_dir_all(&building);
    }
    if target.join("PG_VERSION").exists() {
        Ok(target)
    } else {
        Err(format!("the template {} was not created", target.display()))
    }
}

/// Clones a template data directory into `dir/data`: an overlay whose lower layer is the
/// template (never written) and whose upper layer, `dir/upper`, receives this environment's
/// writes. Nothing is copied up front; a file is copied when the server first writes it.
/// `record` journals the mount before it is made.
pub fn clone_data_dir(
    template: &Path,
    dir: &Path,
    record: &mut dyn FnMut(&Path) -> io::Result<()>,
) -> Result<PathBuf, String> {
    let (upper, work, data) = (dir.join("upper"), dir.join("work"), dir.join("data"));
    // The merged root takes the upper root's owner and mode, which PostgreSQL checks.
    service_dir(&upper).map_err(|e| format!("create {}: {e}", upper.display()))?;
    for d in [&work, &data] {
        fs::create_dir_all(d).map_err(|e| format!("create {}: {e}", d.display()))?;
    }
    record(&data).map_err(|e| format!("write the journal: {e}"))?;
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        template.display(),
        upper.display(),
        work.display()
    );
    nix::mount::mount(
        Some("overlay"),
        &data,
        Some("overlay"),
        nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
        Some(options.as_str()),
    )
    .map_err(|e| {
        format!("mount an overlay of {} on {}: {e}", template.display(), data.display())
    })?;
    Ok(data)
}

/// Copies a template data directory (keeping owners and modes): the alternative to
/// [`clone_data_dir`] where overlayfs is missing, and the reference it is measured against.
pub fn copy_data_dir(template: &Path, dest: &Path) -> Result<(), String> {
    let out = Command::new("cp")
        .arg("-a")
        .arg(template)
        .arg(dest)
        .output()
        .map_err(|e| format!("run cp: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "copy {} to {}: {}",
            template.display(),
            dest.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// The server's arguments: loopback only, no Unix socket, durability off (a shadow's data is
/// thrown away, and the environment's disk must not be the bottleneck of a rehearsal).
pub fn postgres_server(bin: &Path, data: &Path, port: u16) -> Command {
    let mut cmd = Command::new(bin.join("postgres"));
    cmd.arg("-D").arg(data).args(["-p", &port.to_string()]).args([
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "unix_socket_directories=",
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "max_connections=100",
    ]);
    cmd.current_dir(data);
    cmd
}

fn postgres_command(
    spec: &DepSpec,
    dir: &Path,
    templates: &Path,
    port: u16,
    timing: &mut Timing,
    record_mount: &mut dyn FnMut(&Path) -> io::Result<()>,
) -> Result<Command, DepError> {
    let err = start_err(&spec.name);
    let bin = postgres_bin_dir().ok_or_else(|| DepError::Missing {
        name: spec.name.clone(),
        kind: spec.kind.clone(),
        hint: "install PostgreSQL (Debian: apt-get install postgresql, or `cargo xtask deps`)",
    })?;
    let started = Instant::now();
    let template = postgres_template(&bin, templates, postgres_user(spec), postgres_database(spec))
        .map_err(&err)?;
    timing.template_ms = started.elapsed().as_millis() as u64;
    let started = Instant::now();
    fs::create_dir_all(dir).map_err(|e| err(format!("create {}: {e}", dir.display())))?;
    allow_traverse(dir).map_err(|e| err(format!("chmod {}: {e}", dir.display())))?;
    let data = clone_data_dir(&template, dir, record_mount).map_err(&err)?;
    timing.prepare_ms = started.elapsed().as_millis() as u64;
    Ok(postgres_server(&bin, &data, port))
}

/// A PostgreSQL protocol exchange: startup (trust authentication), then `SELECT 1`.
pub fn postgres_probe(stream: &mut TcpStream, user: &str, database: &str) -> Result<(), String> {
    let mut body = Vec::new();
    body.extend_from_slice(&196_608u32.to_be_bytes()); // protocol 3.0
    for (k, v) in [("user", user), ("database", database)] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut startup = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    startup.extend_from_slice(&body);
    stream.write_all(&startup).map_err(|e| format!("send startup: {e}"))?;
    read_until_ready(stream)?;
    let query = b"SELECT 1\0";
    let mut msg = vec![b'Q'];
    msg.extend_from_slice(&((query.len() + 4) as u32).to_be_bytes());
    msg.extend_from_slice(query);
    stream.write_all(&msg).map_err(|e| format!("send query: {e}"))?;
    let rows = read_until_ready(stream)?;
    if rows.iter().any(|r| r == b"1") {
        let _ = stream.write_all(&[b'X', 0, 0, 0, 4]);
        Ok(())
    } else {
        Err("SELECT 1 returned no row `1`".into())
    }
}

/// Reads backend messages until ReadyForQuery; returns the first column of each DataRow.
fn read_until_ready(stream: &mut TcpStream) -> Result<Vec<Vec<u8>>, String> {
    let mut rows = Vec::new();
    loop {
        let mut head = [0u8; 5];
        stream.read_exact(&mut head).map_err(|e| format!("read: {e}"))?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if !(4..=1 << 20).contains(&len) {
            return Err(format!("bad message length {len}"));
        }
        let mut payload = vec![0u8; len - 4];
        stream.read_exact(&mut payload).map_err(|e| format!("read: {e}"))?;
        match head[0] {
            b'R' if payload.get(..4) != Some(&[0, 0, 0, 0]) => {
                return Err("the server asks for a password; the template uses trust".into());
            }
            b'E' => {
                let text: String = payload
                    .split(|b| *b == 0)
                    .filter(|f| f.first() == Some(&b'M'))
                    .map(|f| String::from_utf8_lossy(&f[1..]).to_string())
                    .collect();
                return Err(format!("server error: {text}"));
            }
            b'D' if payload.len() >= 6 => {
                let n = i32::from_be_bytes([payload[2], payload[3], payload[4], payload[5]]);
                if n >= 0 {
                    rows.push(payload[6..6 + n as usize].to_vec());
                }
            }
            b'Z' => return Ok(rows),
            _ => {}
        }
    }
}

// ---- Redis and NATS ----

fn redis_command(spec: &DepSpec, dir: &Path, port: u16) -> Result<Command, DepError> {
    let err = start_err(&spec.name);
    let bin = find_binary("redis-server").ok_or_else(|| DepError::Missing {
        name: spec.name.clone(),
        kind: spec.kind.clone(),
        hint: "install Redis (Debian: apt-get install redis-server, or `cargo xtask deps`)",
    })?;
    service_dir(dir).map_err(|e| err(format!("create {}: {e}", dir.display())))?;
    let mut cmd = Command::new(bin);
    cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
        .args(["--daemonize", "no", "--logfile", ""])
        .arg("--dir")
        .arg(dir)
        .current_dir(dir);
    Ok(cmd)
}

fn nats_command(spec: &DepSpec, dir: &Path, port: u16) -> Result<Command, DepError> {
    let err = start_err(&spec.name);
    let bin = find_binary("nats-server").ok_or_else(|| DepError::Missing {
        name: spec.name.clone(),
        kind: spec.kind.clone(),
        hint: "install NATS (Debian: apt-get install nats-server, or `cargo xtask deps`)",
    })?;
    service_dir(dir).map_err(|e| err(format!("create {}: {e}", dir.display())))?;
    let mut cmd = Command::new(bin);
    cmd.args(["-a", "127.0.0.1", "-p", &port.to_string()]).current_dir(dir);
    Ok(cmd)
}

/// Redis: `PING` answered by `+PONG`.
pub fn redis_probe(stream: &mut TcpStream) -> Result<(), String> {
    stream.write_all(b"PING\r\n").map_err(|e| format!("send PING: {e}"))?;
    let line = read_line(stream)?;
    if line == "+PONG" { Ok(()) } else { Err(format!("PING answered `{line}`")) }
}

/// NATS: the server's `INFO`, then `CONNECT` and `PING` answered by `PONG`.
pub fn nats_probe(stream: &mut TcpStream) -> Result<(), String> {
    let info = read_line(stream)?;
    if !info.starts_with("INFO ") {
        return Err(format!("expected INFO, got `{info}`"));
    }
    stream
        .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n")
        .map_err(|e| format!("send PING: {e}"))?;
    let line = read_line(stream)?;
    if line == "PONG" { Ok(()) } else { Err(format!("PING answered `{line}`")) }
}

fn read_line(stream: &mut TcpStream) -> Result<String, String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(0) => return Err("connection closed".into()),
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    Ok(String::from_utf8_lossy(&line).trim_end_matches('\r').to_string())
}

fn probe(spec: &DepSpec, addr: SocketAddr, sockets: &NetnsSockets) -> Result<(), String> {
    let mut stream =
        sockets.connect_std(addr, Duration::from_millis(500)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).map_err(|e| e.to_string())?;
    match spec.kind.as_str() {
        "postgres" => postgres_probe(&mut stream, postgres_user(spec), postgres_database(spec)),
        "redis" => redis_probe(&mut stream),
        _ => nats_probe(&mut stream),
    }
}

// ---- The proxies ----

/// A thread inside the namespace running one [`FaultProxy`] with a proxy per dependency, and
/// its Toxiproxy API on a host loopback port.
struct ProxyThread {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

type Started = Result<(SocketAddr, BTreeMap<String, u16>), String>;

impl ProxyThread {
    fn start(
        netns: &Path,
        proxies: &[(String, u16, u16)],
    ) -> Result<(ProxyThread, SocketAddr, BTreeMap<String, u16>), DepError> {
        // The API socket is made here, in the host's namespace, before the thread leaves it.
        let api = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| DepError::Proxy(format!("listen for the API: {e}")))?;
        let ns: OwnedFd = File::open(netns)
            .map_err(|e| DepError::Proxy(format!("open {}: {e}", netns.display())))?
            .into();
        let proxies = proxies.to_vec();
        let (started_tx, started_rx) = mpsc::channel::<Started>();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("shadowgate-deps-proxy".into())
            .spawn(move || {
                let report = |r: Started| {
                    let _ = started_tx.send(r);
                };
                if let Err(e) = nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET) {
                    return report(Err(format!("enter the network namespace: {e}")));
                }
                let runtime =
                    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                        Ok(r) => r,
                        Err(e) => return report(Err(format!("start a runtime: {e}"))),
                    };
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(api) {
                        Ok(l) => l,
                        Err(e) => return report(Err(format!("adopt the API socket: {e}"))),
                    };
                    let api_addr = match listener.local_addr() {
                        Ok(a) => a,
                        Err(e) => return report(Err(e.to_string())),
                    };
                    let proxy = FaultProxy::new(0);
                    let mut ports = BTreeMap::new();
                    for (name, listen, upstream) in proxies {
                        let spec = ProxySpec {
                            name: name.clone(),
                            listen: format!("127.0.0.1:{listen}"),
                            upstream: format!("127.0.0.1:{upstream}"),
                            enabled: true,
                        };
                        match proxy.create_proxy(spec).await {
                            Ok(info) => {
                                let bound = info
                                    .listen
                                    .rsplit_once(':')
                                    .and_then(|(_, p)| p.parse::<u16>().ok())
                                    .unwrap_or(0);
                                ports.insert(name, bound);
                            }
                            Err(e) => return report(Err(format!("proxy `{name}`: {e}"))),
                        }
                    }
                    report(Ok((api_addr, ports)));
                    let shutdown = async {
                        let _ = shutdown_rx.await;
                    };
                    let _ = shadowgate_faultproxy::serve_with_shutdown(
                        listener,
                        proxy.clone(),
                        shutdown,
                    )
                    .await;
                    proxy.shutdown().await;
                });
            })
            .map_err(|e| DepError::Proxy(format!("start a thread: {e}")))?;
        let mut this = ProxyThread { shutdown: Some(shutdown_tx), thread: Some(thread) };
        match started_rx.recv() {
            Ok(Ok((api, ports))) => Ok((this, api, ports)),
            Ok(Err(e)) => {
                this.stop_inner();
                Err(DepError::Proxy(e))
            }
            Err(_) => {
                this.stop_inner();
                Err(DepError::Proxy("the proxy thread ended without an answer".into()))
            }
        }
    }

    fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An environment's dependencies as its supervisor recorded them when they became ready.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Recorded {
    /// `host:port` of the Toxiproxy-compatible API of the dependencies' fault proxies; each
    /// proxy is named after its dependency.
    pub api: String,
    pub dependencies: Vec<DepInfo>,
}

/// Reads what the supervisor of environment `env_id` recorded about its dependencies (the
/// `dependencies_ready` event); `None` when it has none or they never became ready.
pub fn recorded(store: &dyn shadowgate_store::Store, env_id: &str) -> Option<Recorded> {
    let query =
        shadowgate_store::EventQuery { env_id: Some(env_id.to_string()), ..Default::default() };
    let event = store.events(&query).ok()?.into_iter().find(|e| e.kind == "dependencies_ready")?;
    serde_json::from_value(event.data).ok()
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    fn info(name: &str) -> DepInfo {
        DepInfo {
            name: name.into(),
            kind: "postgres".into(),
            url: "postgresql://app@127.0.0.1:5000/shop?sslmode=disable".into(),
            host: "127.0.0.1".into(),
            port: 5000,
            service_port: 6000,
            pid: 1,
            template_ms: 0,
            prepare_ms: 0,
            ready_ms: 0,
        }
    }

    #[test]
    fn placeholders_and_variables_name_the_proxy() {
        let db = info("order_db");
        let placeholders: BTreeMap<_, _> = db.placeholders().into_iter().collect();
        assert_eq!(placeholders["dep.order_db.url"], db.url);
        assert_eq!(placeholders["dep.order_db.port"], "5000");
        let vars: BTreeMap<_, _> = db.env_vars().into_iter().collect();
        assert_eq!(vars["SHADOWGATE_DEP_ORDER_DB_URL"], db.url);
        assert_eq!(vars["SHADOWGATE_DEP_ORDER_DB_HOST"], "127.0.0.1");
    }

    /// A one-shot server on loopback that sends `reply`, closes its sending side and then
    /// reads whatever the client sends.
    fn fake_server(reply: Vec<u8>) -> TcpStream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let _ = s.write_all(&reply);
            let _ = s.shutdown(std::net::Shutdown::Write);
            let _ = io::copy(&mut s, &mut io::sink());
        });
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        stream
    }

    #[test]
    fn probes_report_what_the_server_said() {
        // PostgreSQL refusing the startup: ErrorResponse with a message field.
        let mut error = vec![b'E'];
        let fields = b"SFATAL\0Mdatabase \"shop\" does not exist\0\0";
        error.extend_from_slice(&((fields.len() + 4) as u32).to_be_bytes());
        error.extend_from_slice(fields);
        let err = postgres_probe(&mut fake_server(error), "app", "shop").unwrap_err();
        assert!(err.contains("database \"shop\" does not exist"), "{err}");

        // PostgreSQL asking for a password (AuthenticationCleartextPassword).
        let password = vec![b'R', 0, 0, 0, 8, 0, 0, 0, 3];
        let err = postgres_probe(&mut fake_server(password), "app", "shop").unwrap_err();
        assert!(err.contains("password"), "{err}");

        let err =
            redis_probe(&mut fake_server(b"-LOADING Redis is loading\r\n".to_vec())).unwrap_err();
        assert!(err.contains("LOADING"), "{err}");

        let err = nats_probe(&mut fake_server(Vec::new())).unwrap_err();
        assert!(err.contains("closed"), "{err}");
    }
}
