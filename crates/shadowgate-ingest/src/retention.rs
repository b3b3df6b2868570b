//! Retention of raw points: delete what is older than the configured age, keep the rollups.
//!
//! Raw points answer questions about recent windows; the 1-minute rollups carry the history
//! that forecasts need. Retention applies to ingested production telemetry only (series
//! without an environment), never to measurements of shadow environments, and never to the
//! `:1m_*` rollup series. Each metric is deleted in its own transaction, so ingestion waits at
//! most for one metric's delete at a time.

use std::time::Duration;

use shadowgate_store::{SampleQuery, Store, StoreError};

use crate::rollup::is_rollup_metric;

/// What one retention pass deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Points older than this were deleted (milliseconds since the Unix epoch).
    pub cutoff_ms: i64,
    pub metrics: usize,
    pub points_deleted: usize,
}

/// Deletes raw points of ingested telemetry older than `keep` before `now_ms`, for one
/// application or all of them.
pub fn delete_expired_raw_points(
    store: &dyn Store,
    app: Option<&str>,
    keep: Duration,
    now_ms: i64,
) -> Result<RetentionReport, StoreError> {
    let keep_ms = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
    let cutoff_ms = now_ms.saturating_sub(keep_ms);
    let scope = SampleQuery {
        app: app.map(str::to_string),
        env_id: Some(String::new()),
        ..SampleQuery::default()
    };
    let mut metrics: Vec<String> = store
        .series(&scope)?
        .into_iter()
        .map(|series| series.metric)
        .filter(|metric| !is_rollup_metric(metric))
        .collect();
    metrics.sort();
    metrics.dedup();
    let mut report = RetentionReport { cutoff_ms, metrics: metrics.len(), points_deleted: 0 };
    for metric in metrics {
        let expired = SampleQuery { metric: Some(metric), to_ms: Some(cutoff_ms), ..scope.clone() };
        report.points_deleted += store.delete_samples(&expired)?;
    }
    Ok(report)
}
