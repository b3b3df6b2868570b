//! `[conditions]`: the production conditions a check rehearses under when no predicted-conditions
//! document is given, and the precedence that decides which value a run uses.
//!
//! ```toml
//! [conditions]
//! cpu = 0.5              # cores; overrides [resources] cpu
//! memory = "256MiB"      # overrides [resources] memory
//! rate = 80              # requests per second; overrides [traffic] rate
//!
//! [conditions.network]   # every dependency's fault proxy
//! latency = "20ms"
//! jitter = "2ms"
//! bandwidth = "1MiB"     # bytes per second
//!
//! [conditions.dependencies.db]   # one dependency; its keys win over [conditions.network]
//! latency = "40ms"
//!
//! [conditions.rows]
//! orders = 200000        # rows of a [data] table
//! ```
//!
//! Precedence, highest first: a command-line flag, the `--conditions` document, `[conditions]`,
//! and then `[resources]`/`[traffic]`/`[data]`.

use std::{collections::BTreeMap, time::Duration};

use serde::Deserialize;

use super::KeyPath;
use crate::{
    conditions::NetworkObserved,
    units::{ByteSize, HumanDuration},
};

/// `[conditions]`, as written.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// CPU limit in cores.
    #[serde(default)]
    pub cpu: Option<f64>,
    /// Memory limit.
    #[serde(default)]
    pub memory: Option<ByteSize>,
    /// Request rate of `[traffic]`, per second.
    #[serde(default)]
    pub rate: Option<f64>,
    /// `[conditions.network]`: applied to every dependency's fault proxy.
    #[serde(default)]
    pub network: Option<Network>,
    /// `[conditions.dependencies.NAME]`: applied to one dependency's fault proxy.
    #[serde(default)]
    pub dependencies: BTreeMap<String, Network>,
    /// `[conditions.rows]`: `TABLE = N` rows for `[data]` tables.
    #[serde(default)]
    pub rows: BTreeMap<String, u64>,
}

/// Network conditions of one fault proxy, constant for the whole run.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Delay added to the dependency's responses.
    #[serde(default)]
    pub latency: Option<HumanDuration>,
    /// Random variation around `latency`.
    #[serde(default)]
    pub jitter: Option<HumanDuration>,
    /// Bytes per second in each direction.
    #[serde(default)]
    pub bandwidth: Option<ByteSize>,
}

/// Where a value a run uses came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// The `--conditions` document.
    Predicted,
    /// The manifest's `[conditions]`.
    Conditions,
    /// The rest of the manifest (`[resources]`, `[traffic]`, `[data]`) or its defaults.
    Manifest,
}

impl Source {
    /// The name used in a run's settings and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::Predicted => "predicted",
            Source::Conditions => "conditions",
            Source::Manifest => "manifest",
        }
    }
}

/// Picks the value of highest precedence: flag, document, `[conditions]`, then the default.
pub fn pick<T>(
    flag: Option<T>,
    predicted: Option<T>,
    conditions: Option<T>,
    default: T,
) -> (T, Source) {
    flag.map(|v| (v, Source::Flag))
        .or_else(|| predicted.map(|v| (v, Source::Predicted)))
        .or_else(|| conditions.map(|v| (v, Source::Conditions)))
        .unwrap_or((default, Source::Manifest))
}

/// The network conditions one dependency's proxy is given, each value with its source.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DependencyNetwork {
    pub latency: Option<(Duration, Source)>,
    pub jitter: Option<(Duration, Source)>,
    pub bytes_per_second: Option<(u64, Source)>,
}

impl DependencyNetwork {
    pub fn is_empty(&self) -> bool {
        self.latency.is_none() && self.jitter.is_none() && self.bytes_per_second.is_none()
    }
}

/// Resolves the network conditions of `dependency`: the document's observed percentiles (the
/// median latency, the spread from median to p90 as jitter, the median bandwidth) win over
/// `[conditions.dependencies.NAME]`, which wins over `[conditions.network]`.
pub fn network_for(
    conditions: Option<&Conditions>,
    dependency: &str,
    predicted: Option<&NetworkObserved>,
) -> DependencyNetwork {
    let own = conditions.and_then(|c| c.dependencies.get(dependency));
    let all = conditions.and_then(|c| c.network.as_ref());
    let manifest = |get: fn(&Network) -> Option<Duration>| {
        own.and_then(get).or_else(|| all.and_then(get)).map(|v| (v, Source::Conditions))
    };
    let ms = |v: f64| Duration::from_micros((v.max(0.0) * 1000.0).round() as u64);
    let observed_latency = predicted.and_then(|p| p.latency_ms.as_ref());
    let latency = observed_latency
        .map(|l| (ms(l.p50), Source::Predicted))
        .or_else(|| manifest(|n| n.latency.map(|d| d.0)));
    let jitter = observed_latency
        .map(|l| (ms(l.p90 - l.p50), Source::Predicted))
        .or_else(|| manifest(|n| n.jitter.map(|d| d.0)));
    let bytes_per_second = predicted
        .and_then(|p| p.bandwidth_bytes_per_second.as_ref())
        .map(|b| (b.p50.max(0.0).round() as u64, Source::Predicted))
        .or_else(|| {
            own.and_then(|n| n.bandwidth)
                .or_else(|| all.and_then(|n| n.bandwidth))
                .map(|b| (b.0, Source::Conditions))
        });
    DependencyNetwork { latency, jitter, bytes_per_second }
}

/// The smallest bandwidth a fault proxy can shape (its unit is 1 KB/s).
const MIN_BANDWIDTH: u64 = 1024;
/// The largest latency or jitter that still lets a dependency answer within a check.
const MAX_DELAY: Duration = Duration::from_secs(60);

/// Checks `[conditions]` against the rest of the manifest.
pub(crate) fn validate(
    c: &Conditions,
    dependencies: &[&str],
    data_tables: Option<Vec<&str>>,
    problem: &mut impl FnMut(KeyPath, String, Option<String>),
) {
    let root = KeyPath::root().key("conditions");
    if let Some(cpu) = c.cpu
        && !(cpu.is_finite() && (0.01..=1024.0).contains(&cpu))
    {
        problem(
            root.clone().key("cpu"),
            format!("{cpu} cores is not a usable CPU limit"),
            Some("give cores as a number between 0.01 and 1024, e.g. 0.5 or 2".into()),
        );
    }
    if let Some(memory) = c.memory
        && memory.0 < 4 * ByteSize::MIB
    {
        problem(
            root.clone().key("memory"),
            format!("{memory} is too little memory to start a process"),
            Some("give at least \"4MiB\"".into()),
        );
    }
    if let Some(rate) = c.rate
        && !(rate.is_finite() && rate > 0.0)
    {
        problem(
            root.clone().key("rate"),
            format!("{rate} is not a usable request rate"),
            Some("give requests per second as a positive number, e.g. 50".into()),
        );
    }
    let mut networks: Vec<(KeyPath, &Network)> = Vec::new();
    if let Some(n) = &c.network {
        networks.push((root.clone().key("network"), n));
        if dependencies.is_empty() {
            problem(
                root.clone().key("network"),
                "there are no dependencies whose fault proxies could carry these conditions".into(),
                Some("declare a `[dependencies.NAME]`, or remove `[conditions.network]`".into()),
            );
        }
    }
    for (name, n) in &c.dependencies {
        let path = root.clone().key("dependencies").key(name);
        if !dependencies.contains(&name.as_str()) {
            let known = if dependencies.is_empty() {
                "none are declared".to_string()
            } else {
                format!("declared: {}", dependencies.join(", "))
            };
            problem(
                path.clone(),
                format!("`{name}` is not a declared dependency"),
                Some(format!("name a `[dependencies.NAME]` ({known})")),
            );
        }
        networks.push((path, n));
    }
    for (path, n) in networks {
        if *n == Network::default() {
            problem(
                path.clone(),
                "the table sets no network condition".into(),
                Some("set `latency`, `jitter` or `bandwidth`, or remove the table".into()),
            );
        }
        for (key, value) in [("latency", n.latency), ("jitter", n.jitter)] {
            if let Some(d) = value
                && d.0 > MAX_DELAY
            {
                problem(
                    path.clone().key(key),
                    format!("{d} is longer than a dependency can be delayed"),
                    Some("give at most \"60s\", e.g. \"20ms\"".into()),
                );
            }
        }
        if let Some(b) = n.bandwidth
            && b.0 < MIN_BANDWIDTH
        {
            problem(
                path.clone().key("bandwidth"),
                format!("{b} per second is below what a fault proxy can shape"),
                Some("give at least \"1KiB\" (bytes per second)".into()),
            );
        }
    }
    // Jitter varies the latency; where no latency applies to a dependency it has nothing to vary.
    for dep in dependencies {
        let resolved = network_for(Some(c), dep, None);
        if resolved.jitter.is_some() && resolved.latency.is_none() {
            let own = c.dependencies.get(*dep).is_some_and(|n| n.jitter.is_some());
            let at = if own {
                root.clone().key("dependencies").key(dep)
            } else {
                root.clone().key("network")
            };
            problem(
                at.key("jitter"),
                format!("dependency `{dep}` is given a jitter but no latency"),
                Some("add `latency = \"...\"` beside `jitter`".into()),
            );
        }
    }
    for (table, rows) in &c.rows {
        let path = root.clone().key("rows").key(table);
        match &data_tables {
            None => problem(
                path,
                format!("there is no `[data]` section to give table `{table}` {rows} rows"),
                Some("declare the table under `[[data.tables]]`, or remove the entry".into()),
            ),
            Some(tables) if !tables.contains(&table.as_str()) => problem(
                path,
                format!("`{table}` is not a `[data]` table"),
                Some(format!("name one of: {}", tables.join(", "))),
            ),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conditions::Percentiles;

    fn ms(v: u64) -> Option<HumanDuration> {
        Some(HumanDuration(Duration::from_millis(v)))
    }

    #[test]
    fn a_flag_wins_over_the_document_which_wins_over_conditions() {
        assert_eq!(pick(Some(1), Some(2), Some(3), 4), (1, Source::Flag));
        assert_eq!(pick(None, Some(2), Some(3), 4), (2, Source::Predicted));
        assert_eq!(pick(None, None, Some(3), 4), (3, Source::Conditions));
        assert_eq!(pick(None::<i32>, None, None, 4), (4, Source::Manifest));
    }

    #[test]
    fn a_dependency_table_wins_key_by_key_over_the_network_table() {
        let c = Conditions {
            network: Some(Network {
                latency: ms(10),
                jitter: ms(1),
                bandwidth: Some(ByteSize(4096)),
            }),
            dependencies: [("db".to_string(), Network { latency: ms(40), ..Default::default() })]
                .into(),
            ..Default::default()
        };
        let db = network_for(Some(&c), "db", None);
        assert_eq!(db.latency, Some((Duration::from_millis(40), Source::Conditions)));
        assert_eq!(db.jitter, Some((Duration::from_millis(1), Source::Conditions)));
        assert_eq!(db.bytes_per_second, Some((4096, Source::Conditions)));
        let cache = network_for(Some(&c), "cache", None);
        assert_eq!(cache.latency, Some((Duration::from_millis(10), Source::Conditions)));
        assert!(network_for(None, "db", None).is_empty());
    }

    #[test]
    fn observed_network_percentiles_win_over_the_manifest() {
        let c = Conditions {
            network: Some(Network {
                latency: ms(10),
                bandwidth: Some(ByteSize(4096)),
                ..Default::default()
            }),
            ..Default::default()
        };
        let observed = NetworkObserved {
            latency_ms: Some(Percentiles {
                p50: 12.5,
                p90: 15.0,
                p99: 30.0,
                max: 80.0,
                metric: "db_rtt".into(),
            }),
            bandwidth_bytes_per_second: None,
        };
        let db = network_for(Some(&c), "db", Some(&observed));
        assert_eq!(db.latency, Some((Duration::from_micros(12_500), Source::Predicted)));
        assert_eq!(db.jitter, Some((Duration::from_micros(2_500), Source::Predicted)));
        // The document says nothing of bandwidth: the manifest's stands.
        assert_eq!(db.bytes_per_second, Some((4096, Source::Conditions)));
    }
}
