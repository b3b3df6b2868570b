//! The label-hash key on disk: read it, or create a random one on first use.
//!
//! The key must stay the same across restarts (or one user would become two series) and must
//! never be stored with the data it protects in a way that travels with it. By default the CLI
//! keeps it in a file beside the store, readable by its owner only; `[ingest] hash_key_file`
//! points elsewhere. The file holds the key as text (64 hex digits when created here); any
//! content of at least 16 bytes, without trailing whitespace, is accepted.

use std::{
    fs::{self, OpenOptions},
    io::{self, Read, Write},
    os::unix::fs::OpenOptionsExt,
    path::Path,
};

use crate::anonymize::{HashKey, HashKeyError};

/// Why the key could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    #[error("cannot read the label hash key {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("cannot create the label hash key {path}: {source}")]
    Create { path: String, source: io::Error },
    #[error("the label hash key {path} is unusable: {source}")]
    Invalid { path: String, source: HashKeyError },
}

/// Reads the key at `path`, creating a random one (mode 0600) if there is none.
pub fn load_or_create(path: &Path) -> Result<HashKey, KeyFileError> {
    let display = path.display().to_string();
    match fs::read(path) {
        Ok(bytes) => return parse(&bytes, &display),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(source) => return Err(KeyFileError::Read { path: display, source }),
    }
    let create_error = |source| KeyFileError::Create { path: display.clone(), source };
    let mut random = [0u8; 32];
    fs::File::open("/dev/urandom")
        .and_then(|mut device| device.read_exact(&mut random))
        .map_err(create_error)?;
    let text: String = random.iter().map(|byte| format!("{byte:02x}")).collect();
    match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(mut file) => {
            file.write_all(text.as_bytes())
                .and_then(|()| file.write_all(b"\n"))
                .and_then(|()| file.sync_all())
                .map_err(create_error)?;
            parse(text.as_bytes(), &display)
        }
        // Another process created it first; use theirs so both hash alike.
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            let bytes = fs::read(path)
                .map_err(|source| KeyFileError::Read { path: display.clone(), source })?;
            parse(&bytes, &display)
        }
        Err(source) => Err(create_error(source)),
    }
}

fn parse(bytes: &[u8], path: &str) -> Result<HashKey, KeyFileError> {
    let trimmed = bytes.trim_ascii_end();
    HashKey::new(trimmed).map_err(|source| KeyFileError::Invalid { path: path.to_string(), source })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::anonymize::LabelHasher;

    #[test]
    fn a_key_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ingest.key");
        let first = load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim().len(), 64);
        let second = load_or_create(&path).unwrap();
        assert_eq!(LabelHasher::new(&first).hash("x"), LabelHasher::new(&second).hash("x"));

        let other = dir.path().join("other.key");
        let third = load_or_create(&other).unwrap();
        assert_ne!(
            LabelHasher::new(&first).hash("x"),
            LabelHasher::new(&third).hash("x"),
            "keys are random"
        );
    }

    #[test]
    fn a_short_key_file_is_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short.key");
        fs::write(&path, "tiny\n").unwrap();
        let error = load_or_create(&path).unwrap_err();
        assert!(matches!(error, KeyFileError::Invalid { .. }));
        assert!(error.to_string().contains("at least 16"), "{error}");
    }
}
