//! shadowgate's local sandbox backend: environments on this machine, without a daemon.
//!
//! An environment runs one release of an application with
//! - resource limits enforced by cgroups (v1 or v2, detected: [`cgroup`]),
//! - its own network namespace holding only loopback ([`netns`]), reached from the host through
//!   an endpoint the supervisor forwards, or directly through [`netns::NetnsSockets`],
//! - a copy-on-write view of the release (overlayfs) whose writes land in a size-limited layer
//!   ([`changes`] lists them), with the rest of the host visible read-only,
//! - a supervisor process that starts it, checks its health, samples its resources into the
//!   store, records events (exits, OOM kills) and removes it ([`supervisor`], [`init`]),
//! - a journal of every host object, written before the object exists, so that
//!   [`LocalBackend::gc`] can remove whatever a crashed run left behind ([`journal`]).
//!
//! Every host object is named with the `shadowgate` prefix.

pub mod cgroup;
pub mod changes;
pub mod data;
pub mod deps;
pub mod doctor;
pub mod faults;
pub mod init;
pub mod iofs;
pub mod journal;
pub mod netns;
pub mod oneshot;
pub mod probe;
pub mod spec;
pub mod supervisor;

mod backend;

pub use backend::{
    EnvHandle, GcReport, LocalBackend, Progress, UpError, default_state_root, live_supervisors,
};
