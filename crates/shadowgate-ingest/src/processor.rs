//! The one place every ingested point passes before it is stored.
//!
//! Scrapes, OTLP pushes and imports all hand their points to a [`Processor`], so the privacy
//! rules cannot be bypassed by choosing another path. For each point it, in order: drops `NaN`
//! (SQLite cannot store it, and Prometheus uses it only as a staleness marker); removes denied
//! labels and, when an allow-list is set, every label not on it; drops labels past the
//! cardinality limit; replaces the values of identifying labels by their keyed hash; and feeds
//! the point to the 1-minute rollups. The result is ready for the store. The processor is pure:
//! the current time comes in as an argument.

use std::collections::{BTreeMap, HashSet};

use shadowgate_store::{Sample, SeriesKey};

use crate::{
    anonymize::{HashKey, LabelHasher},
    cardinality::{Admission, CardinalityLimit, DroppedLabel},
    config::{IngestConfig, STRUCTURAL_LABELS},
    rollup::{Rollups, is_rollup_metric},
};

/// A point as a source delivers it, before the privacy rules.
#[derive(Clone, Debug, PartialEq)]
pub struct RawSample {
    pub metric: String,
    /// Label names and values; a repeated name keeps its last value.
    pub labels: Vec<(String, String)>,
    /// Milliseconds since the Unix epoch.
    pub ts_ms: i64,
    pub value: f64,
}

/// What the processor has done so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessorStats {
    /// Points received from sources.
    pub points_in: u64,
    /// Raw points handed on for storage.
    pub points_out: u64,
    /// Points dropped because their value was `NaN`.
    pub nan_dropped: u64,
    /// Label occurrences removed by the allow- and deny-lists.
    pub labels_removed: u64,
    /// Label values replaced by their hash.
    pub values_hashed: u64,
    /// Label occurrences removed because their label exceeded the cardinality limit.
    pub labels_over_limit: u64,
    /// Labels dropped for exceeding the cardinality limit, in the order it happened.
    pub dropped_labels: Vec<DroppedLabel>,
    /// Rollup points handed on for storage.
    pub rollup_points: u64,
    /// Points left out of rollups because their minute had already been written.
    pub late_for_rollup: u64,
}

/// Applies the privacy rules and computes rollups.
pub struct Processor {
    allow: Option<HashSet<String>>,
    deny: HashSet<String>,
    hashed: HashSet<String>,
    hasher: LabelHasher,
    cardinality: CardinalityLimit,
    rollups: Option<Rollups>,
    stats: ProcessorStats,
}

impl Processor {
    pub fn new(config: &IngestConfig, key: &HashKey) -> Processor {
        let lateness_ms =
            i64::try_from(config.rollup_lateness.as_duration().as_millis()).unwrap_or(i64::MAX);
        Processor {
            allow: config.label_allow.as_ref().map(|names| names.iter().cloned().collect()),
            deny: config.label_deny.iter().cloned().collect(),
            hashed: config.hash_labels.iter().cloned().collect(),
            hasher: LabelHasher::new(key),
            cardinality: CardinalityLimit::new(config.max_label_values),
            rollups: config.rollups.then(|| Rollups::new(lateness_ms)),
            stats: ProcessorStats::default(),
        }
    }

    pub fn stats(&self) -> ProcessorStats {
        let mut stats = self.stats.clone();
        if let Some(rollups) = &self.rollups {
            stats.rollup_points = rollups.points_written();
            stats.late_for_rollup = rollups.late_points();
        }
        stats
    }

    /// Processes points of one application; appends what should be stored to `out`
    /// (the raw points and any rollups they complete).
    pub fn process(
        &mut self,
        app: &str,
        points: impl IntoIterator<Item = RawSample>,
        now_ms: i64,
        out: &mut Vec<Sample>,
    ) {
        for point in points {
            self.stats.points_in += 1;
            if point.value.is_nan() {
                self.stats.nan_dropped += 1;
                continue;
            }
            let labels = self.apply_label_rules(app, &point.metric, point.labels);
            let key = SeriesKey {
                app: app.to_string(),
                env_id: String::new(),
                metric: point.metric,
                labels,
            };
            if let Some(rollups) = &mut self.rollups
                && !is_rollup_metric(&key.metric)
            {
                rollups.add(&key, point.ts_ms, point.value, now_ms, out);
            }
            out.push(Sample { series: key, ts_ms: point.ts_ms, value: point.value });
            self.stats.points_out += 1;
        }
    }

    /// Emits the rollups of series idle for the configured lateness.
    pub fn flush_idle(&mut self, now_ms: i64, out: &mut Vec<Sample>) {
        if let Some(rollups) = &mut self.rollups {
            rollups.flush_idle(now_ms, out);
        }
    }

    /// Emits every open rollup, at shutdown or at the end of an import.
    pub fn finish(&mut self, out: &mut Vec<Sample>) {
        if let Some(rollups) = &mut self.rollups {
            rollups.finish(out);
        }
    }

    fn apply_label_rules(
        &mut self,
        app: &str,
        metric: &str,
        labels: Vec<(String, String)>,
    ) -> BTreeMap<String, String> {
        let mut kept = BTreeMap::new();
        for (name, value) in labels {
            if self.deny.contains(&name) {
                self.stats.labels_removed += 1;
                continue;
            }
            let structural = STRUCTURAL_LABELS.contains(&name.as_str());
            if !structural {
                if let Some(allow) = &self.allow
                    && !allow.contains(&name)
                {
                    self.stats.labels_removed += 1;
                    continue;
                }
                match self.cardinality.admit(app, metric, &name, &value) {
                    Admission::Keep => {}
                    Admission::Drop => {
                        self.stats.labels_over_limit += 1;
                        continue;
                    }
                    Admission::DropFromNowOn => {
                        self.stats.labels_over_limit += 1;
                        self.stats.dropped_labels.push(DroppedLabel {
                            app: app.to_string(),
                            metric: metric.to_string(),
                            label: name,
                            limit: self.cardinality.limit(),
                        });
                        continue;
                    }
                }
            }
            let value = if self.hashed.contains(&name) {
                self.stats.values_hashed += 1;
                self.hasher.hash(&value)
            } else {
                value
            };
            kept.insert(name, value);
        }
        kept
    }
}

#[cfg(test)]
mod tests;
