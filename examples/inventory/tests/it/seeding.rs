//! Seeding on real database files: deterministic, identical for both releases, equal to the
//! generator's rows, and written at most once.

use std::{
    collections::hash_map::DefaultHasher,
    hash::{Hash, Hasher},
    path::Path,
};

use rusqlite::{Connection, types::ValueRef};
use shadowgate_example_inventory::{
    database, queries,
    release::{Release, v1::V1, v2::V2},
    schema,
    seed::SeedPlan,
    seeding::{self, SeedError, SeedOutcome},
};

const PLAN: SeedPlan = SeedPlan { data_seed: 21, items: 400, customers: 300, orders: 3_000 };

fn seeded(dir: &Path, release: &impl Release, plan: &SeedPlan) -> (Connection, SeedOutcome) {
    let mut connection = database::open_connection(&database::database_path(dir)).unwrap();
    schema::migrate(&mut connection, release.migrations()).unwrap();
    let outcome = seeding::seed(&mut connection, plan).unwrap();
    (connection, outcome)
}

/// A digest of every row of every data table, in key order.
fn digest(connection: &Connection) -> u64 {
    let mut hasher = DefaultHasher::new();
    for (table, order) in [
        ("items", "id"),
        ("customers", "id"),
        ("orders", "id"),
        ("order_lines", "order_id, line_no"),
    ] {
        let mut statement =
            connection.prepare(&format!("SELECT * FROM {table} ORDER BY {order}")).unwrap();
        let columns = statement.column_count();
        let mut rows = statement.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for column in 0..columns {
                match row.get_ref(column).unwrap() {
                    ValueRef::Null => 0u8.hash(&mut hasher),
                    ValueRef::Integer(value) => value.hash(&mut hasher),
                    ValueRef::Real(value) => value.to_bits().hash(&mut hasher),
                    ValueRef::Text(value) | ValueRef::Blob(value) => value.hash(&mut hasher),
                }
            }
        }
    }
    hasher.finish()
}

fn count(connection: &Connection, table: &str) -> u64 {
    let rows: i64 = connection
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0))
        .unwrap();
    rows as u64
}

#[test]
fn the_same_plan_gives_the_same_database_in_both_releases() {
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let (first, outcome) = seeded(dirs[0].path(), &V1, &PLAN);
    let (second, _) = seeded(dirs[1].path(), &V1, &PLAN);
    let (v2, _) = seeded(dirs[2].path(), &V2, &PLAN);
    let (other_seed, _) = seeded(dirs[3].path(), &V1, &SeedPlan { data_seed: 22, ..PLAN });
    assert_eq!(digest(&first), digest(&second));
    assert_eq!(digest(&first), digest(&v2));
    assert_ne!(digest(&first), digest(&other_seed));

    let SeedOutcome::Seeded(counts) = outcome else { panic!("a fresh database is seeded") };
    assert_eq!(counts.items, u64::from(PLAN.items));
    assert_eq!(counts.customers, u64::from(PLAN.customers));
    assert_eq!(counts.orders, u64::from(PLAN.orders));
    assert_eq!(count(&first, "items"), counts.items);
    assert_eq!(count(&first, "order_lines"), counts.order_lines);
    assert!(counts.order_lines >= 2 * counts.orders, "about 2.5 lines per order");
    assert_eq!(seeding::recorded_plan(&first).unwrap(), Some(PLAN));
}

#[test]
fn the_database_holds_exactly_the_generated_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (connection, _) = seeded(dir.path(), &V1, &PLAN);
    for item in PLAN.items() {
        assert_eq!(queries::item(&connection, item.id).unwrap(), Some(item));
    }
    let prices: Vec<i64> = PLAN.items().map(|item| item.price_cents).collect();
    for order in PLAN.orders(&prices).step_by(97) {
        assert_eq!(queries::order(&connection, order.id).unwrap(), Some(order));
    }
}

#[test]
fn seeding_again_is_a_no_op_with_the_same_plan_and_an_error_with_another() {
    let dir = tempfile::tempdir().unwrap();
    let (mut connection, _) = seeded(dir.path(), &V1, &PLAN);
    let before = digest(&connection);
    assert_eq!(seeding::seed(&mut connection, &PLAN).unwrap(), SeedOutcome::AlreadySeeded);
    let other = SeedPlan { orders: 10, ..PLAN };
    let err = seeding::seed(&mut connection, &other).unwrap_err();
    assert!(matches!(err, SeedError::DifferentPlan { .. }), "{err}");
    assert!(err.to_string().contains("--seed-orders 3000"), "{err}");
    assert!(err.to_string().contains("--seed-orders 10"), "{err}");
    assert_eq!(digest(&connection), before, "a refused seed changes nothing");
}

#[test]
fn seeding_refuses_a_database_with_unseeded_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut connection = database::open_connection(&database::database_path(dir.path())).unwrap();
    schema::migrate(&mut connection, V1.migrations()).unwrap();
    connection
        .execute(
            "INSERT INTO customers (id, name, email, created_at) VALUES (1, 'A', 'a@x', 0)",
            [],
        )
        .unwrap();
    let err = seeding::seed(&mut connection, &PLAN).unwrap_err();
    assert!(matches!(err, SeedError::NotEmpty { rows: 1 }), "{err}");
}

#[test]
fn v1_refuses_a_database_migrated_by_v2() {
    let dir = tempfile::tempdir().unwrap();
    let (mut connection, _) = seeded(dir.path(), &V2, &SeedPlan { orders: 0, ..PLAN });
    let err = schema::migrate(&mut connection, V1.migrations()).unwrap_err();
    assert!(matches!(err, schema::MigrateError::NewerSchema { found: 2, supported: 1 }), "{err}");
    assert!(err.to_string().contains("newer release"), "{err}");
}
