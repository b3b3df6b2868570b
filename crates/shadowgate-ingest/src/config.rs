//! The `[ingest]` settings: privacy rules, cardinality limit, rollups, retention and batching.
//!
//! Every field has a default that is safe for production telemetry: identifying labels are
//! hashed, high-cardinality labels are dropped, raw points are rolled up. A configuration
//! names only what it changes.

use std::path::PathBuf;

use serde::Deserialize;
use shadowgate_core::units::HumanDuration;

/// Label names whose values identify a person or a machine, hashed unless configured otherwise.
/// OpenTelemetry attribute names arrive with dots turned into underscores (`client.address`
/// becomes `client_address`).
pub const DEFAULT_HASHED_LABELS: &[&str] = &[
    "user",
    "user_id",
    "username",
    "email",
    "client_ip",
    "client_address",
    "ip",
    "remote_addr",
    "instance",
    "host",
    "hostname",
    "host_name",
    "enduser_id",
];

/// Labels that give histogram buckets and summary quantiles their meaning. They are never
/// subject to the allow-list or the cardinality limit, because dropping them would merge
/// buckets into nonsense; an explicit deny still removes them.
pub const STRUCTURAL_LABELS: &[&str] = &["le", "quantile"];

/// The `[ingest]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// When set, only these labels (and `le`, `quantile`) are kept; all others are removed.
    #[serde(default)]
    pub label_allow: Option<Vec<String>>,
    /// Labels removed from every sample.
    #[serde(default)]
    pub label_deny: Vec<String>,
    /// Labels whose values are replaced by a keyed hash. Replaces [`DEFAULT_HASHED_LABELS`].
    #[serde(default = "default_hash_labels")]
    pub hash_labels: Vec<String>,
    /// A file holding the secret key of the label hash (at least 16 bytes). When unset, the
    /// caller chooses a location beside the store and creates a random key there.
    #[serde(default)]
    pub hash_key_file: Option<PathBuf>,
    /// A label with more distinct values than this for one metric is dropped from that
    /// metric from then on.
    #[serde(default = "default_max_label_values")]
    pub max_label_values: usize,
    /// Whether 1-minute rollups are computed and stored.
    #[serde(default = "default_rollups")]
    pub rollups: bool,
    /// How long after the end of its minute a rollup waits for late points.
    #[serde(default = "default_rollup_lateness")]
    pub rollup_lateness: HumanDuration,
    /// How long raw points are kept; rollups are kept. Unset keeps raw points forever.
    #[serde(default)]
    pub raw_retention: Option<HumanDuration>,
    /// The most samples one store transaction takes.
    #[serde(default = "default_batch_max_samples")]
    pub batch_max_samples: usize,
    /// How long a write may wait for others to share its transaction.
    #[serde(default = "default_batch_max_delay")]
    pub batch_max_delay: HumanDuration,
}

fn default_hash_labels() -> Vec<String> {
    DEFAULT_HASHED_LABELS.iter().map(|name| name.to_string()).collect()
}

fn default_max_label_values() -> usize {
    1000
}

fn default_rollups() -> bool {
    true
}

fn default_rollup_lateness() -> HumanDuration {
    HumanDuration::from_secs(60)
}

fn default_batch_max_samples() -> usize {
    50_000
}

fn default_batch_max_delay() -> HumanDuration {
    HumanDuration::from_millis(5)
}

impl Default for IngestConfig {
    fn default() -> IngestConfig {
        IngestConfig {
            label_allow: None,
            label_deny: Vec::new(),
            hash_labels: default_hash_labels(),
            hash_key_file: None,
            max_label_values: default_max_label_values(),
            rollups: default_rollups(),
            rollup_lateness: default_rollup_lateness(),
            raw_retention: None,
            batch_max_samples: default_batch_max_samples(),
            batch_max_delay: default_batch_max_delay(),
        }
    }
}

/// A setting that cannot be used, with the field at fault and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[ingest] {field}: {problem}")]
pub struct IngestConfigError {
    /// The field's path, such as `label_deny[2]`.
    pub field: String,
    pub problem: String,
}

impl IngestConfig {
    /// Reads the `[ingest]` table of a TOML document (other tables are left to their owners)
    /// and validates it. A document without the table gives the defaults.
    pub fn from_toml(text: &str) -> Result<IngestConfig, IngestConfigError> {
        let document: toml::Table = toml::from_str(text).map_err(|error| IngestConfigError {
            field: "(document)".into(),
            problem: error.to_string(),
        })?;
        let Some(table) = document.get("ingest") else {
            return Ok(IngestConfig::default());
        };
        let config: IngestConfig =
            serde_path_to_error::deserialize(table.clone()).map_err(|error| {
                let field = error.path().to_string();
                IngestConfigError { field, problem: error.into_inner().to_string() }
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that the types alone allow but that cannot work.
    pub fn validate(&self) -> Result<(), IngestConfigError> {
        let lists = [
            ("label_allow", self.label_allow.as_deref().unwrap_or_default()),
            ("label_deny", self.label_deny.as_slice()),
            ("hash_labels", self.hash_labels.as_slice()),
        ];
        for (list, names) in lists {
            for (idx, name) in names.iter().enumerate() {
                if !is_label_name(name) {
                    return Err(IngestConfigError {
                        field: format!("{list}[{idx}]"),
                        problem: format!(
                            "`{name}` is not a label name; use letters, digits and `_`, not starting with a digit \
                             (OpenTelemetry's `a.b` is written `a_b`)"
                        ),
                    });
                }
            }
        }
        if self.max_label_values == 0 {
            return Err(IngestConfigError {
                field: "max_label_values".into(),
                problem: "must be at least 1; to remove a label everywhere, list it in label_deny"
                    .into(),
            });
        }
        if self.batch_max_samples == 0 {
            return Err(IngestConfigError {
                field: "batch_max_samples".into(),
                problem: "must be at least 1 (50000 is a good size)".into(),
            });
        }
        if let Some(retention) = self.raw_retention
            && retention.as_duration() < std::time::Duration::from_secs(120)
        {
            return Err(IngestConfigError {
                field: "raw_retention".into(),
                problem: format!(
                    "{retention} would delete raw points before their 1-minute rollups are written; use at least 2m"
                ),
            });
        }
        Ok(())
    }
}

/// Whether `name` is a valid Prometheus label name.
pub fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_document_gives_the_defaults() {
        assert_eq!(IngestConfig::from_toml("").unwrap(), IngestConfig::default());
        assert_eq!(IngestConfig::from_toml("[other]\nx = 1\n").unwrap(), IngestConfig::default());
    }

    #[test]
    fn fields_override_the_defaults() {
        let config = IngestConfig::from_toml(
            "[ingest]\nlabel_deny = [\"path\"]\nhash_labels = [\"tenant\"]\nmax_label_values = 50\n\
             raw_retention = \"14d\"\nrollups = false\n",
        )
        .unwrap();
        assert_eq!(config.label_deny, ["path"]);
        assert_eq!(config.hash_labels, ["tenant"]);
        assert_eq!(config.max_label_values, 50);
        assert_eq!(config.raw_retention, Some(HumanDuration::from_secs(14 * 86_400)));
        assert!(!config.rollups);
    }

    #[test]
    fn errors_name_the_field_and_the_fix() {
        let unknown = IngestConfig::from_toml("[ingest]\nlabel_denny = []\n").unwrap_err();
        assert!(unknown.problem.contains("unknown field `label_denny`"), "{unknown}");

        let bad_name =
            IngestConfig::from_toml("[ingest]\nlabel_deny = [\"ok\", \"client.address\"]\n")
                .unwrap_err();
        assert_eq!(bad_name.field, "label_deny[1]");
        assert!(bad_name.to_string().contains("written `a_b`"), "{bad_name}");

        let wrong_type =
            IngestConfig::from_toml("[ingest]\nmax_label_values = \"many\"\n").unwrap_err();
        assert_eq!(wrong_type.field, "max_label_values");

        let zero = IngestConfig::from_toml("[ingest]\nmax_label_values = 0\n").unwrap_err();
        assert!(zero.problem.contains("label_deny"), "{zero}");

        let short = IngestConfig::from_toml("[ingest]\nraw_retention = \"30s\"\n").unwrap_err();
        assert_eq!(short.field, "raw_retention");
    }
}
