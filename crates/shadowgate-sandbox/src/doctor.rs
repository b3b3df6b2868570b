//! What isolation this machine offers, checked for real rather than assumed.
//!
//! Each check tries the feature (creating and removing a probe object where that is the only
//! honest test) and, when it fails, says exactly what is missing and how to enable it.

use std::{fs, path::Path};

use nix::sched::{CloneFlags, unshare};

use crate::cgroup::{Cgroup, Controller, Layout};

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// A stable identifier, e.g. `cgroup.memory`.
    pub name: String,
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// How to fix it, when not ok.
    pub fix: Option<String>,
    /// Whether environments need it (otherwise it only enables an optional feature).
    pub required: bool,
}

/// Runs every check.
pub fn run() -> Vec<Check> {
    let mut out = Vec::new();
    let root = nix::unistd::geteuid().is_root();
    out.push(Check {
        name: "root".into(),
        ok: root,
        detail: if root { "running as root".into() } else { format!("running as uid {}", nix::unistd::geteuid()) },
        fix: (!root).then(|| "run shadowgate as root (sudo), or use --allow-degraded to run without the features below that need it".into()),
        required: true,
    });

    match Layout::detect() {
        Ok(layout) => {
            let detail = match &layout {
                Layout::V1 { mounts } => format!(
                    "cgroup v1 (hybrid or legacy); controllers: {}",
                    mounts.keys().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
                ),
                Layout::V2 { root, controllers } => {
                    format!("cgroup v2 at {} with {}", root.display(), controllers.join(" "))
                }
            };
            out.push(Check {
                name: "cgroup.layout".into(),
                ok: true,
                detail,
                fix: None,
                required: true,
            });
            for (c, why, required) in [
                (Controller::Cpu, "CPU quota", true),
                (Controller::Memory, "memory limit and OOM accounting", true),
                (Controller::Pids, "process limit", true),
                (Controller::Cpuacct, "CPU usage accounting", true),
                (Controller::Io, "block I/O limits", false),
                (Controller::Freezer, "hang faults (freeze)", false),
            ] {
                let ok = layout.has(c);
                out.push(Check {
                    name: format!("cgroup.{}", c.v1_name()),
                    ok,
                    detail: format!("{why}: {}", if ok { "available" } else { "controller not available" }),
                    fix: (!ok).then(|| match layout.version() {
                        1 => format!("mount the `{}` controller (mount -t cgroup -o {} none /sys/fs/cgroup/{})", c.v1_name(), c.v1_name(), c.v1_name()),
                        _ => format!("enable `{}` in the root cgroup (echo +{} > /sys/fs/cgroup/cgroup.subtree_control)", c.v1_name(), c.v1_name()),
                    }),
                    required,
                });
            }
            let probe = format!("shadowgate/doctor-{}", std::process::id());
            let writable = Cgroup::create(&layout, &probe).map(|cg| {
                let _ = cg.remove(std::time::Duration::from_secs(2));
            });
            let parent = Cgroup::planned(&layout, "shadowgate");
            // Remove the parent only if we created it and it is empty.
            for dir in parent.unique_dirs() {
                let _ = fs::remove_dir(dir);
            }
            out.push(Check {
                name: "cgroup.create".into(),
                ok: writable.is_ok(),
                detail: match &writable {
                    Ok(()) => "a cgroup can be created and removed".into(),
                    Err(e) => e.to_string(),
                },
                fix: writable.is_err().then(|| "run as root, or delegate a cgroup subtree (systemd-run --user --scope -p Delegate=yes shadowgate ...)".into()),
                required: true,
            });
        }
        Err(e) => out.push(Check {
            name: "cgroup.layout".into(),
            ok: false,
            detail: e.to_string(),
            fix: Some(
                "mount cgroup2 at /sys/fs/cgroup (mount -t cgroup2 none /sys/fs/cgroup)".into(),
            ),
            required: true,
        }),
    }

    let netns = std::thread::spawn(|| unshare(CloneFlags::CLONE_NEWNET))
        .join()
        .unwrap_or(Err(nix::Error::EINVAL));
    out.push(Check {
        name: "namespace.net".into(),
        ok: netns.is_ok(),
        detail: match netns {
            Ok(()) => "a private network namespace can be created".into(),
            Err(e) => format!("unshare(CLONE_NEWNET) failed: {e}"),
        },
        fix: netns
            .is_err()
            .then(|| "network namespaces need root (CAP_SYS_ADMIN) and CONFIG_NET_NS".into()),
        required: true,
    });

    for (name, path, why) in [
        ("namespace.mount", "/proc/self/ns/mnt", "mount namespaces"),
        ("namespace.pid", "/proc/self/ns/pid", "PID namespaces"),
        ("namespace.uts", "/proc/self/ns/uts", "UTS namespaces"),
        ("namespace.ipc", "/proc/self/ns/ipc", "IPC namespaces"),
    ] {
        let ok = Path::new(path).exists();
        out.push(Check {
            name: name.into(),
            ok,
            detail: format!(
                "{why}: {}",
                if ok { "supported by the kernel" } else { "not supported" }
            ),
            fix: (!ok).then(|| format!("enable {why} in the kernel configuration")),
            required: true,
        });
    }

    let filesystems = fs::read_to_string("/proc/filesystems").unwrap_or_default();
    for (fs_name, why, required, fix) in [
        (
            "overlay",
            "copy-on-write release directory",
            true,
            "load the overlay module (modprobe overlay)",
        ),
        ("tmpfs", "size-limited writable layer", true, "enable CONFIG_TMPFS"),
        ("fuse", "I/O-error faults on chosen paths", false, "load the fuse module (modprobe fuse)"),
    ] {
        let ok = filesystems.lines().any(|l| l.split_whitespace().last() == Some(fs_name));
        out.push(Check {
            name: format!("fs.{fs_name}"),
            ok,
            detail: format!("{why}: {}", if ok { "available" } else { "not available" }),
            fix: (!ok).then(|| fix.to_string()),
            required,
        });
    }
    let fuse_dev = Path::new("/dev/fuse").exists();
    out.push(Check {
        name: "dev.fuse".into(),
        ok: fuse_dev,
        detail: format!("/dev/fuse {}", if fuse_dev { "present" } else { "missing" }),
        fix: (!fuse_dev).then(|| "create it (mknod /dev/fuse c 10 229) or pass --device /dev/fuse to the container running shadowgate".into()),
        required: false,
    });
    out.extend(crate::deps::doctor_checks());
    out
}

/// Whether every required check passed.
pub fn all_required_ok(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.ok || !c.required)
}
