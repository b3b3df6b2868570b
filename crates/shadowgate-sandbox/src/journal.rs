//! The journal of host objects an environment owns.
//!
//! Every host object (cgroup, network namespace, mount, process) is appended to the
//! environment's journal — and the journal is flushed to disk — *before* the object is created.
//! Whatever happens afterwards (a panic, `kill -9`, a power cut), `env gc` can read the journal
//! and remove exactly what may exist. Removal is idempotent: an object that was never created,
//! or is already gone, is skipped.

use std::{
    collections::BTreeMap,
    fs::{self, File, OpenOptions},
    io::{self, BufRead, BufReader, Write},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::cgroup::Controller;

/// One host object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostObject {
    /// A cgroup: one directory per controller hierarchy.
    Cgroup { version: u8, dirs: BTreeMap<String, PathBuf> },
    /// A named network namespace (a bind mount under /run/netns).
    Netns { path: PathBuf },
    /// A mount on the host (e.g. the writable layer's tmpfs).
    Mount { path: PathBuf },
    /// A process; `start_time` (clock ticks since boot, from /proc/PID/stat) tells a reused pid apart.
    Process { pid: i32, start_time: u64, role: String },
}

impl HostObject {
    pub fn cgroup(cg: &crate::cgroup::Cgroup) -> HostObject {
        HostObject::Cgroup {
            version: cg.version(),
            dirs: cg.dirs().iter().map(|(c, p)| (c.v1_name().to_string(), p.clone())).collect(),
        }
    }

    /// The cgroup this object describes, if it is one.
    pub fn as_cgroup(&self) -> Option<crate::cgroup::Cgroup> {
        match self {
            HostObject::Cgroup { version, dirs } => {
                let dirs = dirs
                    .iter()
                    .filter_map(|(name, path)| {
                        Controller::ALL
                            .into_iter()
                            .find(|c| c.v1_name() == name)
                            .map(|c| (c, path.clone()))
                    })
                    .collect();
                Some(crate::cgroup::Cgroup::from_dirs(*version, dirs))
            }
            _ => None,
        }
    }
}

/// An append-only journal file.
pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    /// Opens (creating) the journal at `path` for appending.
    pub fn open(path: &Path) -> io::Result<Journal> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Journal { file, path: path.to_path_buf() })
    }

    /// Records `object` durably. Call this before creating the object.
    pub fn record(&mut self, object: &HostObject) -> io::Result<()> {
        let mut line = serde_json::to_string(object).map_err(io::Error::other)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.sync_data()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads every object recorded in the journal at `path`, in order. A torn last line (the
/// process died while writing it) is ignored: its object was never created.
pub fn read(path: &Path) -> io::Result<Vec<HostObject>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line?;
        if let Ok(object) = serde_json::from_str(&line) {
            out.push(object);
        }
    }
    Ok(out)
}

/// The start time of a process (field 22 of /proc/PID/stat), if it exists.
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses; fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// Whether the process recorded as (`pid`, `start_time`) is still the same living process.
pub fn process_alive(pid: i32, start_time: u64) -> bool {
    process_start_time(pid) == Some(start_time) && !is_zombie(pid)
}

fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').and_then(|i| s.get(i + 2..i + 3).map(|c| c == "Z")))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_torn_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let mut j = Journal::open(&path).unwrap();
        let objects = vec![
            HostObject::Netns { path: "/run/netns/shadowgate-x".into() },
            HostObject::Mount { path: "/run/shadowgate/envs/x/layer".into() },
            HostObject::Process { pid: 7, start_time: 99, role: "init".into() },
        ];
        for o in &objects {
            j.record(o).unwrap();
        }
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"kind\":\"mou").unwrap();
        assert_eq!(read(&path).unwrap(), objects);
        assert!(read(&dir.path().join("missing")).unwrap().is_empty());
    }

    #[test]
    fn own_process_is_alive_and_start_time_is_checked() {
        let pid = std::process::id() as i32;
        let start = process_start_time(pid).unwrap();
        assert!(process_alive(pid, start));
        assert!(!process_alive(pid, start + 1));
    }
}
