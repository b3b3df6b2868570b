//! Reads a NAB-layout directory (data/<group>/<file>.csv, labels/combined_windows.json) for the
//! tests and benchmarks; the library itself stays free of I/O.

use std::path::{Path, PathBuf};

use shadowgate_analytics::nab::corpus::{self, LabelledSeries};

/// The NAB directory: `$SHADOWGATE_NAB_DIR` (e.g. the full corpus), else the subset vendored
/// with the crate ([`vendored_nab_dir`]), so that every test runs on a clean checkout.
pub fn nab_dir() -> PathBuf {
    match std::env::var_os("SHADOWGATE_NAB_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => vendored_nab_dir(),
    }
}

/// The NAB subset vendored with the crate (`test_data/nab`, MIT, see its LICENSE.txt).
pub fn vendored_nab_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/nab")
}

/// The directory the benchmarks read: the same as [`nab_dir`].
#[allow(dead_code)]
pub fn nab_dir_or_vendored() -> PathBuf {
    nab_dir()
}

/// Every data file as (path relative to `data/`, text), sorted by path.
pub fn read_data_files(nab_dir: &Path) -> Vec<(String, String)> {
    let data_dir = nab_dir.join("data");
    let mut files = Vec::new();
    let groups = std::fs::read_dir(&data_dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", data_dir.display()));
    for group in groups.flatten().filter(|entry| entry.path().is_dir()) {
        for file in std::fs::read_dir(group.path()).into_iter().flatten().flatten() {
            let path = file.path();
            if path.extension().is_some_and(|ext| ext == "csv") {
                let name = format!(
                    "{}/{}",
                    group.file_name().to_string_lossy(),
                    file.file_name().to_string_lossy()
                );
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
                files.push((name, text));
            }
        }
    }
    files.sort();
    files
}

/// The corpus with its windows from `labels/combined_windows.json`.
pub fn read_corpus(nab_dir: &Path) -> Vec<LabelledSeries> {
    let windows_path = nab_dir.join("labels/combined_windows.json");
    let windows_text = std::fs::read_to_string(&windows_path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", windows_path.display()));
    let limits = corpus::parse_windows_json(&windows_text).expect("valid windows file");
    corpus::build_corpus(&read_data_files(nab_dir), &limits).expect("valid corpus")
}
