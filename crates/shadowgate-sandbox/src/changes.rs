//! The change set of an environment: what its writes did to the release.
//!
//! Everything the application writes under the release directory lands in the overlay's upper
//! directory. Reading that directory (and comparing with the release) gives the change set:
//! added, modified and deleted paths. Deletions are overlayfs "whiteouts" (character devices
//! 0:0); a directory replaced wholesale is marked opaque.

use std::{
    fs, io,
    os::unix::fs::{FileTypeExt, MetadataExt},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

/// One changed path, relative to the release directory.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Change {
    pub path: PathBuf,
    pub kind: ChangeKind,
    /// Size in the layer (0 for deletions and directories).
    pub bytes: u64,
}

/// Lists the changes recorded in `upper` relative to the release at `lower`.
pub fn list(upper: &Path, lower: &Path) -> io::Result<Vec<Change>> {
    let mut out = Vec::new();
    walk(upper, upper, lower, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(root: &Path, dir: &Path, lower: &Path, out: &mut Vec<Change>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        let meta = fs::symlink_metadata(&path)?;
        let in_lower = fs::symlink_metadata(lower.join(&rel)).is_ok();
        if meta.file_type().is_char_device() && meta.rdev() == 0 {
            out.push(Change { path: rel, kind: ChangeKind::Deleted, bytes: 0 });
        } else if meta.is_dir() {
            if !in_lower {
                out.push(Change { path: rel.clone(), kind: ChangeKind::Added, bytes: 0 });
            }
            walk(root, &path, lower, out)?;
        } else {
            let kind = if in_lower { ChangeKind::Modified } else { ChangeKind::Added };
            out.push(Change { path: rel, kind, bytes: meta.len() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_added_and_modified() {
        let dir = tempfile::tempdir().unwrap();
        let (upper, lower) = (dir.path().join("upper"), dir.path().join("lower"));
        fs::create_dir_all(upper.join("conf")).unwrap();
        fs::create_dir_all(lower.join("conf")).unwrap();
        fs::write(lower.join("conf/app.conf"), "a").unwrap();
        fs::write(upper.join("conf/app.conf"), "bb").unwrap();
        fs::create_dir_all(upper.join("new")).unwrap();
        fs::write(upper.join("new/file"), "xyz").unwrap();
        let changes = list(&upper, &lower).unwrap();
        assert_eq!(
            changes,
            vec![
                Change { path: "conf/app.conf".into(), kind: ChangeKind::Modified, bytes: 2 },
                Change { path: "new".into(), kind: ChangeKind::Added, bytes: 0 },
                Change { path: "new/file".into(), kind: ChangeKind::Added, bytes: 3 },
            ]
        );
    }
}
