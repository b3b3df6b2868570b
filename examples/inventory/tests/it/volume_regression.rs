//! v2's volume regression, measured on real SQLite files: the customer-orders query costs the
//! same on a small and a production-sized database in v1, and grows with the table in v2.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use rusqlite::Connection;
use shadowgate_example_inventory::{
    database,
    queries::{self, orders_of_customer_plan},
    release::{Release, v1::V1, v2::V2},
    schema,
    seed::SeedPlan,
    seeding,
};

const SMALL: SeedPlan = SeedPlan { data_seed: 3, items: 500, customers: 200, orders: 2_000 };
const PRODUCTION: SeedPlan =
    SeedPlan { data_seed: 3, items: 5_000, customers: 20_000, orders: 200_000 };

/// The customers each measurement asks for.
const CUSTOMERS: [i64; 10] = [1, 17, 42, 77, 99, 123, 150, 171, 188, 200];

/// Minimum measuring time per database, and the bounds on batches.
const MEASURE_FOR: Duration = Duration::from_millis(400);
const MIN_BATCHES: usize = 3;
const MAX_BATCHES: usize = 50;

fn seeded(dir: &Path, release: &impl Release, plan: &SeedPlan) -> Connection {
    let mut connection = database::open_connection(&database::database_path(dir)).unwrap();
    schema::migrate(&mut connection, release.migrations()).unwrap();
    seeding::seed(&mut connection, plan).unwrap();
    connection
}

/// The cost of one query: the fastest batch over the customers, divided by its size. The
/// minimum discards batches slowed by other work on the machine.
fn query_cost(connection: &Connection) -> Duration {
    let started = Instant::now();
    let mut fastest = Duration::MAX;
    let mut batches = 0;
    while batches < MIN_BATCHES || (started.elapsed() < MEASURE_FOR && batches < MAX_BATCHES) {
        let batch_started = Instant::now();
        for customer_id in CUSTOMERS {
            let orders = queries::orders_of_customer(connection, customer_id, 20).unwrap();
            assert!(orders.is_some(), "customer {customer_id} exists");
        }
        fastest = fastest.min(batch_started.elapsed());
        batches += 1;
    }
    fastest / CUSTOMERS.len() as u32
}

#[test]
fn customer_orders_slow_down_with_volume_in_v2_only() {
    let small_v1 = tempfile::tempdir().unwrap();
    let small_v2 = tempfile::tempdir().unwrap();
    let large_v1 = tempfile::tempdir().unwrap();
    let large_v2 = tempfile::tempdir().unwrap();
    let small_v1 = seeded(small_v1.path(), &V1, &SMALL);
    let small_v2 = seeded(small_v2.path(), &V2, &SMALL);
    let large_v1_connection = seeded(large_v1.path(), &V1, &PRODUCTION);
    // The production-sized v2 database is the v1 one upgraded, as a real rollout would do it;
    // a fresh v2 database has the same schema (see `seeding.rs`).
    large_v1_connection.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    std::fs::copy(
        database::database_path(large_v1.path()),
        database::database_path(large_v2.path()),
    )
    .unwrap();
    let mut large_v2 =
        database::open_connection(&database::database_path(large_v2.path())).unwrap();
    let upgrade = schema::migrate(&mut large_v2, V2.migrations()).unwrap();
    assert_eq!((upgrade.from_version, upgrade.to_version), (1, 2));

    assert!(
        orders_of_customer_plan(&large_v1_connection)
            .unwrap()
            .contains("USING INDEX orders_by_customer")
    );
    assert!(orders_of_customer_plan(&large_v2).unwrap().contains("SCAN orders"));

    let v1_small = query_cost(&small_v1);
    let v1_large = query_cost(&large_v1_connection);
    let v2_small = query_cost(&small_v2);
    let v2_large = query_cost(&large_v2);
    let v1_ratio = v1_large.as_secs_f64() / v1_small.as_secs_f64();
    let v2_ratio = v2_large.as_secs_f64() / v2_small.as_secs_f64();
    let report = format!(
        "v1 {v1_small:?} -> {v1_large:?} (x{v1_ratio:.1}), v2 {v2_small:?} -> {v2_large:?} (x{v2_ratio:.1})"
    );
    eprintln!("customer orders query: {report}");
    assert!(v2_ratio > 10.0, "v2 should degrade with volume: {report}");
    assert!(v1_ratio < 3.0, "v1 should not: {report}");
    assert!(v2_large > 5 * v1_large, "at production volume v2 is far slower than v1: {report}");
}
