//! Control groups: one interface over cgroup v1 (per-controller hierarchies) and v2 (unified).
//!
//! The layout is detected once from `/proc/self/mountinfo`. An environment gets one cgroup named
//! `<parent>/<env host name>` (the parent is `shadowgate` by default) in every hierarchy that
//! carries a controller we use. Limits are plain file writes; statistics are plain file reads.

use std::{
    collections::BTreeMap,
    fmt, fs,
    io::{self, Write},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

/// The controllers shadowgate uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Controller {
    Cpu,
    Cpuacct,
    Memory,
    Pids,
    Io,
    Freezer,
}

impl Controller {
    pub const ALL: [Controller; 6] = [
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Memory,
        Controller::Pids,
        Controller::Io,
        Controller::Freezer,
    ];

    /// The controller's name in cgroup v1 (`blkio` for I/O).
    pub fn v1_name(self) -> &'static str {
        match self {
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Io => "blkio",
            Controller::Freezer => "freezer",
        }
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.v1_name())
    }
}

/// Where the cgroup hierarchies are and which version they speak.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// cgroup v1 (including "hybrid" machines whose v2 mount carries no controllers we need).
    V1 { mounts: BTreeMap<Controller, PathBuf> },
    /// cgroup v2 with the controllers available at its root.
    V2 { root: PathBuf, controllers: Vec<String> },
}

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error(
        "no cgroup hierarchy is mounted (looked in /proc/self/mountinfo); mount cgroup2 at /sys/fs/cgroup"
    )]
    NotMounted,
    #[error("{action} {path}: {source}{hint}")]
    Io { action: &'static str, path: PathBuf, source: io::Error, hint: &'static str },
    #[error("processes are still in {path} after killing them for {waited:?}")]
    Busy { path: PathBuf, waited: Duration },
}

const PERMISSION_HINT: &str = " (creating cgroups needs root, or a delegated cgroup subtree: \
                               run shadowgate as root, or under `systemd-run --user --scope -p Delegate=yes`)";

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CgroupError + 'a {
    move |source| {
        let hint =
            if source.kind() == io::ErrorKind::PermissionDenied { PERMISSION_HINT } else { "" };
        CgroupError::Io { action, path: path.to_path_buf(), source, hint }
    }
}

impl Layout {
    /// Detects the cgroup layout of this machine.
    pub fn detect() -> Result<Layout, CgroupError> {
        let info = fs::read_to_string("/proc/self/mountinfo")
            .map_err(io_err("read", Path::new("/proc/self/mountinfo")))?;
        Layout::from_mountinfo(&info, |root| {
            fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default()
        })
        .ok_or(CgroupError::NotMounted)
    }

    /// Detection from the text of a mountinfo file; `controllers_of` reads a v2 root's
    /// `cgroup.controllers`. Split out so that layouts of other machines can be tested.
    pub fn from_mountinfo(info: &str, controllers_of: impl Fn(&Path) -> String) -> Option<Layout> {
        let mut v1 = BTreeMap::new();
        let mut v2_root = None;
        for line in info.lines() {
            // Fields: id parent major:minor root mount-point options [optional...] - fstype source super-options
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            let (Some(mount_point), Some(fstype)) = (left.get(4), right.first()) else { continue };
            let mount_point = PathBuf::from(unescape(mount_point));
            match *fstype {
                "cgroup2" if v2_root.is_none() => v2_root = Some(mount_point),
                "cgroup" => {
                    let options = right.get(2).copied().unwrap_or_default();
                    for opt in options.split(',') {
                        if let Some(c) = Controller::ALL.into_iter().find(|c| c.v1_name() == opt) {
                            v1.entry(c).or_insert_with(|| mount_point.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        if v1.contains_key(&Controller::Memory) || v1.contains_key(&Controller::Cpu) {
            return Some(Layout::V1 { mounts: v1 });
        }
        let root = v2_root?;
        let controllers = controllers_of(&root).split_whitespace().map(str::to_string).collect();
        Some(Layout::V2 { root, controllers })
    }

    pub fn version(&self) -> u8 {
        match self {
            Layout::V1 { .. } => 1,
            Layout::V2 { .. } => 2,
        }
    }

    /// Whether a controller can be used.
    pub fn has(&self, c: Controller) -> bool {
        match self {
            Layout::V1 { mounts } => mounts.contains_key(&c),
            Layout::V2 { controllers, .. } => match c {
                // cpu.stat (usage) and the freezer (cgroup.freeze) are part of every v2 cgroup.
                Controller::Cpuacct | Controller::Freezer => true,
                other => controllers.iter().any(|n| n == v2_name(other)),
            },
        }
    }
}

fn v2_name(c: Controller) -> &'static str {
    match c {
        Controller::Io => "io",
        other => other.v1_name(),
    }
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
}

/// Limits for one cgroup. `None` leaves the kernel default (unlimited).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits {
    pub cpu_cores: Option<f64>,
    pub memory_bytes: Option<u64>,
    pub pids: Option<u64>,
    pub io: Vec<IoLimit>,
}

/// A block-device throughput limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoLimit {
    pub major: u64,
    pub minor: u64,
    pub read_bps: Option<u64>,
    pub write_bps: Option<u64>,
}

/// Accounting read from a cgroup. Counters are cumulative since creation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub cpu_usage_ns: u64,
    pub cpu_periods: u64,
    pub cpu_throttled_periods: u64,
    pub cpu_throttled_ns: u64,
    pub memory_bytes: u64,
    /// Memory the environment itself holds: anonymous memory plus tmpfs/shared memory (its
    /// writable layer lives on tmpfs). Unlike `memory_bytes` it leaves out file page cache,
    /// which is shared between environments and charged to whichever touched a file first, so
    /// two environments running the same release report the same working memory.
    pub memory_working_bytes: u64,
    /// High-water mark, when the kernel reports one.
    pub memory_peak_bytes: Option<u64>,
    pub oom_kills: u64,
    pub io_read_bytes: u64,
    pub io_write_bytes: u64,
    pub pids: u64,
}

/// One environment's cgroup (a directory per v1 hierarchy, or one v2 directory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cgroup {
    version: u8,
    dirs: BTreeMap<Controller, PathBuf>,
}

const CFS_PERIOD_US: u64 = 100_000;

impl Cgroup {
    /// The directories this cgroup would occupy, without creating them (for the journal).
    pub fn planned(layout: &Layout, relative: &str) -> Cgroup {
        let dirs = match layout {
            Layout::V1 { mounts } => mounts.iter().map(|(c, m)| (*c, m.join(relative))).collect(),
            Layout::V2 { root, .. } => Controller::ALL
                .into_iter()
                .filter(|c| layout.has(*c))
                .map(|c| (c, root.join(relative)))
                .collect(),
        };
        Cgroup { version: layout.version(), dirs }
    }

    /// Creates the cgroup (and its parents). On v2 the parents delegate the controllers.
    pub fn create(layout: &Layout, relative: &str) -> Result<Cgroup, CgroupError> {
        let cg = Cgroup::planned(layout, relative);
        match layout {
            Layout::V1 { .. } => {
                for dir in cg.unique_dirs() {
                    fs::create_dir_all(&dir).map_err(io_err("create cgroup", &dir))?;
                }
            }
            Layout::V2 { root, controllers } => {
                let wanted: Vec<&str> = ["cpu", "memory", "pids", "io"]
                    .into_iter()
                    .filter(|c| controllers.iter().any(|have| have == c))
                    .collect();
                let enable = wanted.iter().map(|c| format!("+{c}")).collect::<Vec<_>>().join(" ");
                let mut dir = root.clone();
                for part in Path::new(relative).components() {
                    // Controllers must be enabled in every ancestor's subtree_control.
                    if !enable.is_empty() {
                        let ctl = dir.join("cgroup.subtree_control");
                        write_file(&ctl, &enable)?;
                    }
                    dir.push(part);
                    if !dir.exists() {
                        fs::create_dir(&dir).map_err(io_err("create cgroup", &dir))?;
                    }
                }
            }
        }
        Ok(cg)
    }

    /// Reattaches to an existing cgroup by its directories (e.g. from the journal).
    pub fn from_dirs(version: u8, dirs: BTreeMap<Controller, PathBuf>) -> Cgroup {
        Cgroup { version, dirs }
    }

    pub fn version(&self) -> u8 {
        self.version
    }

    pub fn dirs(&self) -> &BTreeMap<Controller, PathBuf> {
        &self.dirs
    }

    /// Distinct directories (v2 has one for all controllers; v1 may co-mount some).
    pub fn unique_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self.dirs.values().cloned().collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }

    fn dir(&self, c: Controller) -> Option<&Path> {
        self.dirs.get(&c).map(PathBuf::as_path)
    }

    /// The `cgroup.procs` files a new process must be written into to join every hierarchy.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.unique_dirs().into_iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// Applies limits. Missing controllers are reported as errors: shadowgate never silently
    /// runs without a limit the user asked for.
    pub fn apply(&self, limits: &Limits) -> Result<(), CgroupError> {
        if let Some(cores) = limits.cpu_cores {
            self.set_cpu(cores)?;
        }
        if let Some(bytes) = limits.memory_bytes {
            self.set_memory(bytes)?;
        }
        if let Some(pids) = limits.pids {
            let dir = self.require(Controller::Pids)?;
            write_file(&dir.join("pids.max"), &pids.to_string())?;
        }
        if !limits.io.is_empty() {
            let dir = self.require(Controller::Io)?;
            for l in &limits.io {
                if self.version == 1 {
                    if let Some(r) = l.read_bps {
                        write_file(
                            &dir.join("blkio.throttle.read_bps_device"),
                            &format!("{}:{} {r}", l.major, l.minor),
                        )?;
                    }
                    if let Some(w) = l.write_bps {
                        write_file(
                            &dir.join("blkio.throttle.write_bps_device"),
                            &format!("{}:{} {w}", l.major, l.minor),
                        )?;
                    }
                } else {
                    let mut line = format!("{}:{}", l.major, l.minor);
                    if let Some(r) = l.read_bps {
                        line.push_str(&format!(" rbps={r}"));
                    }
                    if let Some(w) = l.write_bps {
                        line.push_str(&format!(" wbps={w}"));
                    }
                    write_file(&dir.join("io.max"), &line)?;
                }
            }
        }
        Ok(())
    }

    /// Sets (or changes, at run time) the CPU quota in cores.
    pub fn set_cpu(&self, cores: f64) -> Result<(), CgroupError> {
        let dir = self.require(Controller::Cpu)?;
        let quota = ((cores * CFS_PERIOD_US as f64).round() as u64).max(1000);
        if self.version == 1 {
            write_file(&dir.join("cpu.cfs_period_us"), &CFS_PERIOD_US.to_string())?;
            write_file(&dir.join("cpu.cfs_quota_us"), &quota.to_string())
        } else {
            write_file(&dir.join("cpu.max"), &format!("{quota} {CFS_PERIOD_US}"))
        }
    }

    /// Sets (or changes) the memory limit. On v1 a limit below current usage fails with EBUSY
    /// (anonymous memory cannot be reclaimed without swap); use a balloon to make pressure there.
    pub fn set_memory(&self, bytes: u64) -> Result<(), CgroupError> {
        let dir = self.require(Controller::Memory)?;
        if self.version == 1 {
            write_file(&dir.join("memory.limit_in_bytes"), &bytes.to_string())
        } else {
            write_file(&dir.join("memory.max"), &bytes.to_string())?;
            // No swap for the environment: a memory limit means the same on both versions.
            let swap = dir.join("memory.swap.max");
            if swap.exists() {
                write_file(&swap, "0")?;
            }
            Ok(())
        }
    }

    fn require(&self, c: Controller) -> Result<&Path, CgroupError> {
        self.dir(c).ok_or_else(|| CgroupError::Io {
            action: "use controller",
            path: PathBuf::from(c.v1_name()),
            source: io::Error::new(io::ErrorKind::NotFound, format!("the `{c}` cgroup controller is not available")),
            hint: " (enable it in the kernel/boot configuration, or run with --allow-degraded to go without this limit)",
        })
    }

    /// Adds a process to every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<(), CgroupError> {
        for file in self.procs_files() {
            write_file(&file, &pid.to_string())?;
        }
        Ok(())
    }

    /// The processes in the cgroup.
    pub fn pids(&self) -> Vec<i32> {
        let mut out = Vec::new();
        for file in self.procs_files() {
            if let Ok(text) = fs::read_to_string(&file) {
                out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Freezes (true) or thaws (false) every process in the cgroup.
    pub fn freeze(&self, frozen: bool) -> Result<(), CgroupError> {
        let dir = self.require(Controller::Freezer)?;
        if self.version == 1 {
            write_file(&dir.join("freezer.state"), if frozen { "FROZEN" } else { "THAWED" })
        } else {
            write_file(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })
        }
    }

    /// Reads the cgroup's accounting.
    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        let read = |c: Controller, file: &str| {
            self.dir(c).and_then(|d| fs::read_to_string(d.join(file)).ok())
        };
        if self.version == 1 {
            s.cpu_usage_ns = read(Controller::Cpuacct, "cpuacct.usage")
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
            if let Some(text) = read(Controller::Cpu, "cpu.stat") {
                let kv = keyed(&text);
                s.cpu_periods = kv.get("nr_periods").copied().unwrap_or(0);
                s.cpu_throttled_periods = kv.get("nr_throttled").copied().unwrap_or(0);
                s.cpu_throttled_ns = kv.get("throttled_time").copied().unwrap_or(0);
            }
            s.memory_bytes = read(Controller::Memory, "memory.usage_in_bytes")
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
            s.memory_peak_bytes = read(Controller::Memory, "memory.max_usage_in_bytes")
                .and_then(|t| t.trim().parse().ok());
            s.oom_kills = read(Controller::Memory, "memory.oom_control")
                .map(|t| keyed(&t).get("oom_kill").copied().unwrap_or(0))
                .unwrap_or(0);
            if let Some(text) = read(Controller::Memory, "memory.stat") {
                let kv = keyed(&text);
                s.memory_working_bytes = kv.get("total_rss").copied().unwrap_or(0)
                    + kv.get("total_shmem").copied().unwrap_or(0);
            }
            if let Some(text) = read(Controller::Io, "blkio.throttle.io_service_bytes_recursive") {
                for line in text.lines() {
                    let parts: Vec<&str> = line.split_whitespace().collect();
                    if let [_, op, n] = parts[..] {
                        match op {
                            "Read" => s.io_read_bytes += n.parse::<u64>().unwrap_or(0),
                            "Write" => s.io_write_bytes += n.parse::<u64>().unwrap_or(0),
                            _ => {}
                        }
                    }
                }
            }
            s.pids = read(Controller::Pids, "pids.current")
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
        } else {
            if let Some(text) = read(Controller::Cpuacct, "cpu.stat") {
                let kv = keyed(&text);
                s.cpu_usage_ns = kv.get("usage_usec").copied().unwrap_or(0) * 1000;
                s.cpu_periods = kv.get("nr_periods").copied().unwrap_or(0);
                s.cpu_throttled_periods = kv.get("nr_throttled").copied().unwrap_or(0);
                s.cpu_throttled_ns = kv.get("throttled_usec").copied().unwrap_or(0) * 1000;
            }
            s.memory_bytes = read(Controller::Memory, "memory.current")
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
            s.memory_peak_bytes =
                read(Controller::Memory, "memory.peak").and_then(|t| t.trim().parse().ok());
            s.oom_kills = read(Controller::Memory, "memory.events")
                .map(|t| keyed(&t).get("oom_kill").copied().unwrap_or(0))
                .unwrap_or(0);
            if let Some(text) = read(Controller::Memory, "memory.stat") {
                let kv = keyed(&text);
                s.memory_working_bytes =
                    kv.get("anon").copied().unwrap_or(0) + kv.get("shmem").copied().unwrap_or(0);
            }
            if let Some(text) = read(Controller::Io, "io.stat") {
                for line in text.lines() {
                    for field in line.split_whitespace().skip(1) {
                        if let Some(v) = field.strip_prefix("rbytes=") {
                            s.io_read_bytes += v.parse::<u64>().unwrap_or(0);
                        } else if let Some(v) = field.strip_prefix("wbytes=") {
                            s.io_write_bytes += v.parse::<u64>().unwrap_or(0);
                        }
                    }
                }
            }
            s.pids = read(Controller::Pids, "pids.current")
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
        }
        s
    }

    /// Kills every process in the cgroup with SIGKILL (thawing it first, so frozen tasks die).
    pub fn kill_all(&self) {
        if self.version == 2
            && let Some(dir) = self.unique_dirs().first()
        {
            let kill = dir.join("cgroup.kill");
            if kill.exists() && write_file(&kill, "1").is_ok() {
                return;
            }
        }
        let _ = self.freeze(false);
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    /// Kills what is left and removes the directories, waiting up to `timeout` for the kernel
    /// to let go of exiting processes.
    pub fn remove(&self, timeout: Duration) -> Result<(), CgroupError> {
        let deadline = Instant::now() + timeout;
        for dir in self.unique_dirs() {
            loop {
                match fs::remove_dir(&dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        if Instant::now() >= deadline {
                            return Err(CgroupError::Busy { path: dir, waited: timeout });
                        }
                        self.kill_all();
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => return Err(io_err("remove cgroup", &dir)(e)),
                }
            }
        }
        Ok(())
    }
}

fn keyed(text: &str) -> BTreeMap<&str, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?, it.next()?.parse().ok()?))
        })
        .collect()
}

fn write_file(path: &Path, value: &str) -> Result<(), CgroupError> {
    let mut f = fs::OpenOptions::new().write(true).open(path).map_err(io_err("open", path))?;
    f.write_all(value.as_bytes()).map_err(io_err("write", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
25 1 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
29 25 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
30 25 0:27 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
31 25 0:28 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio
32 25 0:29 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
";

    const UNIFIED: &str = "26 1 0:23 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";

    #[test]
    fn detects_hybrid_v1_with_comounted_controllers() {
        let layout = Layout::from_mountinfo(HYBRID, |_| String::new()).unwrap();
        let Layout::V1 { mounts } = &layout else { panic!("expected v1: {layout:?}") };
        assert_eq!(mounts[&Controller::Cpu], PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(mounts[&Controller::Cpuacct], PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert!(!layout.has(Controller::Freezer));
        let cg = Cgroup::planned(&layout, "shadowgate/x");
        // cpu and cpuacct share a directory, so there are four distinct ones.
        assert_eq!(cg.unique_dirs().len(), 4);
    }

    #[test]
    fn detects_unified_v2() {
        let layout =
            Layout::from_mountinfo(UNIFIED, |_| "cpuset cpu io memory pids".into()).unwrap();
        assert_eq!(layout.version(), 2);
        assert!(layout.has(Controller::Io) && layout.has(Controller::Freezer));
        let cg = Cgroup::planned(&layout, "shadowgate/x");
        assert_eq!(cg.unique_dirs(), vec![PathBuf::from("/sys/fs/cgroup/shadowgate/x")]);
        let layout = Layout::from_mountinfo(UNIFIED, |_| "cpu".into()).unwrap();
        assert!(!layout.has(Controller::Memory));
    }

    /// cgroup v2 cannot be mounted with controllers on a v1 machine, so the v2 file protocol is
    /// exercised on a directory laid out like a v2 hierarchy: the kernel's files are created by
    /// the test (cgroupfs creates them itself), then shadowgate's writes and reads are checked.
    #[test]
    fn v2_file_protocol_on_a_fake_hierarchy() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        fs::write(r.join("cgroup.controllers"), "cpuset cpu io memory pids\n").unwrap();
        fs::write(r.join("cgroup.subtree_control"), "").unwrap();
        let leaf = r.join("shadowgate/env1");
        fs::create_dir_all(&leaf).unwrap();
        fs::write(r.join("shadowgate/cgroup.subtree_control"), "").unwrap();
        for f in [
            "cpu.max",
            "memory.max",
            "memory.swap.max",
            "pids.max",
            "io.max",
            "cgroup.freeze",
            "cgroup.procs",
        ] {
            fs::write(leaf.join(f), "").unwrap();
        }
        fs::write(leaf.join("cpu.stat"), "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 40\nnr_throttled 10\nthrottled_usec 750000\n").unwrap();
        fs::write(leaf.join("memory.current"), "1048576\n").unwrap();
        fs::write(leaf.join("memory.peak"), "4194304\n").unwrap();
        fs::write(leaf.join("memory.stat"), "anon 524288\nfile 262144\nshmem 131072\n").unwrap();
        fs::write(leaf.join("memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n").unwrap();
        fs::write(
            leaf.join("io.stat"),
            "254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
        )
        .unwrap();
        fs::write(leaf.join("pids.current"), "7\n").unwrap();

        let layout = Layout::V2 {
            root: r.to_path_buf(),
            controllers: "cpuset cpu io memory pids".split(' ').map(String::from).collect(),
        };
        let cg = Cgroup::create(&layout, "shadowgate/env1").unwrap();
        assert_eq!(
            fs::read_to_string(r.join("cgroup.subtree_control")).unwrap(),
            "+cpu +memory +pids +io"
        );
        assert_eq!(
            fs::read_to_string(r.join("shadowgate/cgroup.subtree_control")).unwrap(),
            "+cpu +memory +pids +io"
        );
        cg.apply(&Limits {
            cpu_cores: Some(0.2),
            memory_bytes: Some(64 << 20),
            pids: Some(32),
            io: vec![IoLimit { major: 254, minor: 0, read_bps: None, write_bps: Some(10 << 20) }],
        })
        .unwrap();
        assert_eq!(fs::read_to_string(leaf.join("cpu.max")).unwrap(), "20000 100000");
        assert_eq!(fs::read_to_string(leaf.join("memory.max")).unwrap(), "67108864");
        assert_eq!(fs::read_to_string(leaf.join("memory.swap.max")).unwrap(), "0");
        assert_eq!(fs::read_to_string(leaf.join("pids.max")).unwrap(), "32");
        assert_eq!(fs::read_to_string(leaf.join("io.max")).unwrap(), "254:0 wbps=10485760");
        cg.freeze(true).unwrap();
        assert_eq!(fs::read_to_string(leaf.join("cgroup.freeze")).unwrap(), "1");
        assert_eq!(cg.procs_files(), vec![leaf.join("cgroup.procs")]);
        let stats = cg.stats();
        assert_eq!(stats.cpu_usage_ns, 2_500_000_000);
        assert_eq!(
            (stats.cpu_periods, stats.cpu_throttled_periods, stats.cpu_throttled_ns),
            (40, 10, 750_000_000)
        );
        assert_eq!((stats.memory_bytes, stats.memory_peak_bytes), (1 << 20, Some(4 << 20)));
        assert_eq!(stats.memory_working_bytes, 524288 + 131072);
        assert_eq!(stats.oom_kills, 1);
        assert_eq!((stats.io_read_bytes, stats.io_write_bytes, stats.pids), (4096, 8192, 7));
    }

    #[test]
    fn keyed_files_parse() {
        let kv = keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
        assert_eq!(kv["oom_kill"], 3);
    }
}
