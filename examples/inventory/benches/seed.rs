//! Seeding throughput: the production-sized data set of the demo, written by the seeder,
//! against SQLite inserting the same number of rows into the same schema from a recursive
//! query inside the engine (no per-row calls across the API: the ceiling for these tables
//! and indexes).
//!
//! Run with `cargo bench -p shadowgate-example-inventory --bench seed`.

use std::time::{Duration, Instant};

use rusqlite::Connection;
use shadowgate_example_inventory::{
    database::{database_path, open_connection},
    release::{Release, v1::V1},
    schema,
    seed::SeedPlan,
    seeding::{self, SeedCounts, SeedOutcome},
};

const PLAN: SeedPlan = SeedPlan { data_seed: 1, items: 5_000, customers: 20_000, orders: 200_000 };
const RUNS: usize = 5;

fn fresh_database() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut connection = open_connection(&database_path(dir.path())).expect("the database opens");
    schema::migrate(&mut connection, V1.migrations()).expect("the schema is created");
    (dir, connection)
}

fn seed_once() -> (Duration, SeedCounts) {
    let (_dir, mut connection) = fresh_database();
    let started = Instant::now();
    let outcome = seeding::seed(&mut connection, &PLAN).expect("seeding succeeds");
    let elapsed = started.elapsed();
    let SeedOutcome::Seeded(counts) = outcome else { panic!("a fresh database is seeded") };
    (elapsed, counts)
}

/// Inserts the same row counts with `INSERT ... SELECT` over recursive queries, one
/// transaction, the same page cache size as the seeder.
fn engine_insert_once(counts: &SeedCounts) -> Duration {
    let (_dir, connection) = fresh_database();
    let sql = format!(
        "PRAGMA cache_size = -65536;
         BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {items})
         INSERT INTO items (id, sku, name, category, price_cents, stock)
           SELECT i, printf('SKU-%06d', i), printf('Item %d', i), printf('category-%d', i % 16),
                  200 + (i * 7919) % 200000, i % 500 FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {customers})
         INSERT INTO customers (id, name, email, created_at)
           SELECT i, printf('Customer %d', i), printf('customer.%d@example.com', i), 1700000000 - i FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {orders})
         INSERT INTO orders (id, customer_id, created_at, status, total_cents)
           SELECT i, 1 + (i * 7919) % {customers}, 1735689600 + i * 157, 'delivered', i % 100000 FROM n;
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {lines} - 1)
         INSERT INTO order_lines (order_id, line_no, item_id, quantity, unit_price_cents)
           SELECT 1 + (i * {orders}) / {lines}, i + 1, 1 + (i * 31) % {items}, 1 + i % 3, 999 FROM n;
         COMMIT;",
        items = counts.items,
        customers = counts.customers,
        orders = counts.orders,
        lines = counts.order_lines,
    );
    let started = Instant::now();
    connection.execute_batch(&sql).expect("the engine-side insert succeeds");
    started.elapsed()
}

fn main() {
    // Interleaved runs, best of each, so that other work on the machine hits both alike.
    let mut seeder = Duration::MAX;
    let mut engine = Duration::MAX;
    let mut counts = SeedCounts::default();
    for _ in 0..RUNS {
        let (elapsed, run_counts) = seed_once();
        seeder = seeder.min(elapsed);
        counts = run_counts;
        engine = engine.min(engine_insert_once(&counts));
    }
    let rows = counts.total() as f64;
    let seeder_rate = rows / seeder.as_secs_f64();
    let engine_rate = rows / engine.as_secs_f64();
    println!(
        "rows: {} items, {} customers, {} orders, {} order lines = {rows} (best of {RUNS} interleaved runs each)",
        counts.items, counts.customers, counts.orders, counts.order_lines
    );
    println!("seeder (generate + prepared inserts): {seeder:>10.2?}  {seeder_rate:>10.0} rows/s");
    println!("SQLite INSERT ... SELECT (reference):  {engine:>10.2?}  {engine_rate:>10.0} rows/s");
    println!("seeder / reference throughput: {:.2}", seeder_rate / engine_rate);
}
