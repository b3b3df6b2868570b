//! Retention deletes old raw points of ingested telemetry and keeps rollups and shadow data.

use std::{collections::BTreeMap, time::Duration};

use shadowgate_ingest::{
    config::IngestConfig, pipeline::unix_now_ms, processor::RawSample,
    retention::delete_expired_raw_points,
};
use shadowgate_store::{Sample, SeriesKey, Store};

use crate::support::TempStore;

const DAY_MS: i64 = 86_400_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_raw_points_go_and_rollups_recent_points_and_shadow_runs_stay() {
    let temp = TempStore::new();
    let pipeline = temp.pipeline(&IngestConfig::default());
    let now = unix_now_ms();
    let point =
        |ts_ms: i64, value: f64| RawSample { metric: "rps".into(), labels: vec![], ts_ms, value };
    let old: Vec<RawSample> =
        (0..5).map(|idx| point(now - 3 * DAY_MS + idx * 20_000, idx as f64)).collect();
    let recent: Vec<RawSample> =
        (0..5).map(|idx| point(now - 60 * 60_000 + idx * 20_000, idx as f64)).collect();
    pipeline.ingest("shop", old).await.unwrap();
    pipeline.ingest("shop", recent).await.unwrap();
    pipeline.finish().await.unwrap();
    let shadow = SeriesKey {
        app: "shop".into(),
        env_id: "shadow-1".into(),
        metric: "rps".into(),
        labels: BTreeMap::new(),
    };
    temp.store
        .append_samples(&[Sample { series: shadow, ts_ms: now - 3 * DAY_MS, value: 1.0 }])
        .unwrap();
    let rollups_before = temp.samples("rps:1m_count").len();
    assert!(rollups_before >= 2, "the old and the recent minutes were rolled up");

    let report = delete_expired_raw_points(
        temp.store.as_ref(),
        Some("shop"),
        Duration::from_secs(86_400),
        now,
    )
    .unwrap();
    assert_eq!(report.points_deleted, 5);
    assert_eq!(report.metrics, 1, "only `rps`; the rollup series are not candidates");
    assert_eq!(report.cutoff_ms, now - DAY_MS);
    let rps = temp.samples("rps");
    assert_eq!(
        rps.iter().filter(|s| s.series.env_id.is_empty()).count(),
        5,
        "the recent raw points stay"
    );
    assert!(rps.iter().filter(|s| s.series.env_id.is_empty()).all(|s| s.ts_ms >= now - DAY_MS));
    assert_eq!(
        rps.iter().filter(|s| s.series.env_id == "shadow-1").count(),
        1,
        "shadow measurements stay"
    );
    assert_eq!(temp.samples("rps:1m_count").len(), rollups_before, "rollups stay");

    let again =
        delete_expired_raw_points(temp.store.as_ref(), None, Duration::from_secs(86_400), now)
            .unwrap();
    assert_eq!(again.points_deleted, 0);
}
