//! Where shadowgate keeps things, and loading what the user points at.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};
use shadowgate_core::manifest::{self, Manifest};
use shadowgate_sandbox::LocalBackend;
use shadowgate_store::SqliteStore;

use crate::cli::Global;

/// shadowgate's home: the store and logs. `SHADOWGATE_HOME` overrides it.
pub fn home() -> PathBuf {
    if let Some(dir) = std::env::var_os("SHADOWGATE_HOME") {
        return PathBuf::from(dir);
    }
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/lib/shadowgate");
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("shadowgate")
}

pub fn store_path(global: &Global) -> PathBuf {
    global.store.clone().unwrap_or_else(|| home().join("shadowgate.db"))
}

pub fn open_store(global: &Global) -> Result<SqliteStore> {
    let path = store_path(global);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    Ok(SqliteStore::open(&path)?)
}

pub fn logs_dir(env_id: &str) -> PathBuf {
    home().join("logs").join(format!("shadowgate-{env_id}"))
}

pub fn backend() -> Result<LocalBackend> {
    Ok(LocalBackend {
        state_root: shadowgate_sandbox::default_state_root(),
        // The running binary itself, even if it was replaced or deleted since it started
        // (a rebuild or an upgrade must not break environments started by this process).
        supervisor_exe: PathBuf::from("/proc/self/exe"),
    })
}

/// A manifest and the directory it was read from (relative paths resolve against it).
pub struct Loaded {
    pub manifest: Manifest,
    pub path: PathBuf,
    pub dir: PathBuf,
}

/// Reads and validates a manifest. Problems come back as one error listing all of them.
pub fn load_manifest(path: &Path) -> Result<Loaded> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the manifest {} (pass --manifest PATH to point at another file)",
            path.display()
        )
    })?;
    let manifest =
        manifest::parse(&text, &path.display().to_string()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    Ok(Loaded { manifest, path, dir })
}

impl Loaded {
    /// Resolves a release to its artifact path, running its build command first unless told not
    /// to. Build output goes to `build_log`; on failure its tail is part of the error.
    pub fn resolve_release(&self, name: &str, build: bool, build_log: &Path) -> Result<PathBuf> {
        let Some(release) = self.manifest.releases.get(name) else {
            let known: Vec<&str> = self.manifest.releases.keys().map(String::as_str).collect();
            let hint = shadowgate_core::template::nearest(name, known.iter().copied())
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            bail!(
                "release `{name}` is not in {}{hint}; releases: {}",
                self.path.display(),
                known.join(", ")
            );
        };
        if build && let Some(cmd) = &release.build {
            if let Some(dir) = build_log.parent() {
                std::fs::create_dir_all(dir).ok();
            }
            let log = std::fs::File::create(build_log)
                .with_context(|| format!("create {}", build_log.display()))?;
            let status = Command::new("/bin/sh")
                .arg("-c")
                .arg(cmd)
                .current_dir(&self.dir)
                .stdin(std::process::Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .status()
                .with_context(|| format!("run the build command of release `{name}`"))?;
            if !status.success() {
                let text = std::fs::read_to_string(build_log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                bail!(
                    "the build command of release `{name}` (`{cmd}`) failed with {status}; last lines of {}:\n{}",
                    build_log.display(),
                    tail.join("\n")
                );
            }
        }
        let path = self.dir.join(&release.path);
        if !path.exists() {
            bail!(
                "release `{name}` points at {}, which does not exist{}",
                path.display(),
                if release.build.is_some() {
                    " even after its build command ran"
                } else {
                    "; build it first or fix `path`"
                }
            );
        }
        Ok(std::fs::canonicalize(&path).unwrap_or(path))
    }
}

/// Records the application and one of its releases in the store.
pub fn record_release(
    store: &dyn shadowgate_store::Store,
    loaded: &Loaded,
    release: &str,
    path: &Path,
) -> Result<()> {
    let now = now_ms();
    store.upsert_application(&shadowgate_store::Application {
        name: loaded.manifest.app.name.clone(),
        description: loaded.manifest.app.description.clone(),
        manifest_path: loaded.path.display().to_string(),
        updated_ms: now,
    })?;
    store.upsert_release(&shadowgate_store::Release {
        app: loaded.manifest.app.name.clone(),
        name: release.to_string(),
        path: path.display().to_string(),
        updated_ms: now,
    })?;
    Ok(())
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Random bits from the kernel, for ids.
pub fn entropy() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom writes at most `buf.len()` bytes into `buf`.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n != 8 {
        // Fall back to time and pid, which is unique enough for ids on one machine.
        return (now_ms() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ u64::from(std::process::id());
    }
    u64::from_le_bytes(buf)
}
