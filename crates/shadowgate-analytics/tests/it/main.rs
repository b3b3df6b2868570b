//! Integration tests of shadowgate-analytics against the NAB data (a NAB-layout directory at
//! `$SHADOWGATE_NAB_DIR`, by default `shared/data/nab` beside the repository).

#[path = "../support/nab_files.rs"]
mod nab_files;
#[path = "../support/traces.rs"]
mod traces;

mod nab_corpus;
mod recommend_replay;
