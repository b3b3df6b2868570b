//! Environment identity: ids, roles, lifecycle states and the labels every environment carries.

use std::{collections::BTreeMap, fmt, str::FromStr};

/// Every host object shadowgate creates (cgroups, namespaces, mounts, directories, processes'
/// titles) is named with this prefix, so that `env gc` and a human can recognise them.
pub const HOST_PREFIX: &str = "shadowgate";

/// An environment id: 10 characters of lowercase base-32, e.g. `k3v9q2m7xa`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvId(String);

const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

impl EnvId {
    /// Builds an id from 50 bits of entropy supplied by the caller (the core has no randomness).
    pub fn from_entropy(bits: u64) -> EnvId {
        let mut s = String::with_capacity(10);
        for idx in 0..10 {
            s.push(ALPHABET[((bits >> (idx * 5)) & 31) as usize] as char);
        }
        EnvId(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name of host objects that belong to this environment: `shadowgate-<id>`.
    pub fn host_name(&self) -> String {
        format!("{HOST_PREFIX}-{}", self.0)
    }
}

impl fmt::Display for EnvId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for EnvId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.strip_prefix("shadowgate-").unwrap_or(s);
        if s.len() == 10 && s.bytes().all(|b| ALPHABET.contains(&b)) {
            Ok(EnvId(s.to_string()))
        } else {
            Err(format!("`{s}` is not an environment id (10 characters such as `k3v9q2m7xa`)"))
        }
    }
}

/// What an environment is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// The release currently in production, run for comparison.
    Baseline,
    /// The release under test.
    Candidate,
    /// A shadow of a named production counterpart.
    Shadow { counterpart: String },
    /// Started by hand (`env up`), not part of a comparison.
    Standalone,
}

impl Role {
    pub fn name(&self) -> &'static str {
        match self {
            Role::Baseline => "baseline",
            Role::Candidate => "candidate",
            Role::Shadow { .. } => "shadow",
            Role::Standalone => "standalone",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Shadow { counterpart } => write!(f, "shadow of {counterpart}"),
            other => f.write_str(other.name()),
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "baseline" => Ok(Role::Baseline),
            "candidate" => Ok(Role::Candidate),
            "standalone" => Ok(Role::Standalone),
            other => match other.strip_prefix("shadow:") {
                Some(c) if !c.is_empty() => Ok(Role::Shadow { counterpart: c.to_string() }),
                _ => Err(format!(
                    "`{other}` is not a role; use baseline, candidate, standalone or shadow:<production name>"
                )),
            },
        }
    }
}

/// Lifecycle of an environment, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EnvState {
    Creating,
    Installing,
    Starting,
    Running,
    Stopping,
    /// The application exited or was stopped; host objects are gone.
    Stopped,
    /// Creation or start failed; host objects are gone.
    Failed,
    /// The supervising process died; `env gc` cleaned up after it.
    Collected,
}

impl EnvState {
    pub const ALL: [EnvState; 8] = [
        EnvState::Creating,
        EnvState::Installing,
        EnvState::Starting,
        EnvState::Running,
        EnvState::Stopping,
        EnvState::Stopped,
        EnvState::Failed,
        EnvState::Collected,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EnvState::Creating => "creating",
            EnvState::Installing => "installing",
            EnvState::Starting => "starting",
            EnvState::Running => "running",
            EnvState::Stopping => "stopping",
            EnvState::Stopped => "stopped",
            EnvState::Failed => "failed",
            EnvState::Collected => "collected",
        }
    }

    /// Whether the environment may still hold host objects.
    pub fn is_live(self) -> bool {
        !matches!(self, EnvState::Stopped | EnvState::Failed | EnvState::Collected)
    }
}

impl fmt::Display for EnvState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EnvState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EnvState::ALL
            .into_iter()
            .find(|st| st.name() == s)
            .ok_or_else(|| format!("unknown state `{s}`"))
    }
}

/// The labels shadowgate puts on an environment, plus the manifest's own.
pub fn labels(
    id: &EnvId,
    app: &str,
    release: &str,
    role: &Role,
    created_unix_ms: i64,
    user: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = user.clone();
    out.insert("shadowgate.env".into(), id.to_string());
    out.insert("shadowgate.app".into(), app.into());
    out.insert("shadowgate.release".into(), release.into());
    out.insert("shadowgate.role".into(), role.name().into());
    out.insert("shadowgate.created".into(), created_unix_ms.to_string());
    if let Role::Shadow { counterpart } = role {
        out.insert("shadowgate.counterpart".into(), counterpart.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let id = EnvId::from_entropy(0x0123_4567_89ab_cdef);
        assert_eq!(id.as_str().len(), 10);
        assert_eq!(id.as_str().parse::<EnvId>().unwrap(), id);
        assert_eq!(id.host_name().parse::<EnvId>().unwrap(), id);
        assert!("../../etc".parse::<EnvId>().is_err());
        assert_ne!(EnvId::from_entropy(1), EnvId::from_entropy(2));
    }

    #[test]
    fn roles_parse() {
        assert_eq!(
            "shadow:checkout-prod".parse::<Role>().unwrap(),
            Role::Shadow { counterpart: "checkout-prod".into() }
        );
        assert!("shadow:".parse::<Role>().is_err());
        let l = labels(
            &EnvId::from_entropy(7),
            "inv",
            "v1",
            &Role::Shadow { counterpart: "prod".into() },
            5,
            &BTreeMap::new(),
        );
        assert_eq!(l["shadowgate.counterpart"], "prod");
        assert_eq!(l["shadowgate.role"], "shadow");
    }
}
