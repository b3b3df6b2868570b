//! The cardinality limit: a label with too many distinct values is dropped from its metric.
//!
//! A label such as a request id or a user id multiplies a metric into one series per value,
//! which bloats the store and makes every query slow, while carrying no signal the judge or
//! the forecasts can use. Each (application, metric, label) keeps the hashes of the values it
//! has seen, up to the limit; the first value past the limit drops the label from that metric
//! for good (the set is freed), and the drop is reported once.

use std::{
    collections::{HashMap, HashSet},
    hash::{DefaultHasher, Hash, Hasher},
};

/// A label that exceeded the limit and is no longer stored for one metric.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DroppedLabel {
    pub app: String,
    pub metric: String,
    pub label: String,
    /// The limit it exceeded.
    pub limit: usize,
}

enum LabelValues {
    Tracking(HashSet<u64>),
    Dropped,
}

/// Distinct values per application, metric and label.
pub struct CardinalityLimit {
    limit: usize,
    apps: HashMap<String, HashMap<String, HashMap<String, LabelValues>>>,
}

/// What the limit decided about one label value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Keep,
    /// The label was already dropped from this metric.
    Drop,
    /// This value is the one past the limit: the label is dropped from now on.
    DropFromNowOn,
}

impl CardinalityLimit {
    pub fn new(limit: usize) -> CardinalityLimit {
        CardinalityLimit { limit, apps: HashMap::new() }
    }

    /// The most distinct values a label may have per metric.
    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn admit(&mut self, app: &str, metric: &str, label: &str, value: &str) -> Admission {
        let metrics = match self.apps.get_mut(app) {
            Some(metrics) => metrics,
            None => self.apps.entry(app.to_string()).or_default(),
        };
        let labels = match metrics.get_mut(metric) {
            Some(labels) => labels,
            None => metrics.entry(metric.to_string()).or_default(),
        };
        let values = match labels.get_mut(label) {
            Some(values) => values,
            None => labels
                .entry(label.to_string())
                .or_insert_with(|| LabelValues::Tracking(HashSet::new())),
        };
        let LabelValues::Tracking(seen) = values else {
            return Admission::Drop;
        };
        let mut hasher = DefaultHasher::new();
        value.hash(&mut hasher);
        let fingerprint = hasher.finish();
        if seen.contains(&fingerprint) {
            return Admission::Keep;
        }
        if seen.len() >= self.limit {
            *values = LabelValues::Dropped;
            return Admission::DropFromNowOn;
        }
        seen.insert(fingerprint);
        Admission::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_is_dropped_after_the_limit_and_stays_dropped() {
        let mut limit = CardinalityLimit::new(3);
        for value in ["a", "b", "c", "a", "b"] {
            assert_eq!(limit.admit("app", "m", "user", value), Admission::Keep);
        }
        assert_eq!(limit.admit("app", "m", "user", "d"), Admission::DropFromNowOn);
        assert_eq!(limit.admit("app", "m", "user", "a"), Admission::Drop, "even a known value");
        assert_eq!(limit.admit("app", "other", "user", "d"), Admission::Keep, "per metric");
        assert_eq!(limit.admit("app2", "m", "user", "d"), Admission::Keep, "per application");
        assert_eq!(limit.admit("app", "m", "method", "GET"), Admission::Keep, "per label");
    }
}
