//! Writing a [`SeedPlan`]'s rows into the database, fast and exactly once.
//!
//! All rows go in one transaction through prepared statements, with a page cache large enough
//! that SQLite does not spill half-built B-trees to disk, which is what makes 200,000 orders a
//! matter of seconds. The plan is recorded in `seed_info`, so that seeding the same directory
//! again with the same flags is a no-op (the install step and the run command may both pass
//! them) while different flags are an error instead of a silently mixed data set.

use rusqlite::{Connection, OptionalExtension, params};

use crate::seed::SeedPlan;

/// The page cache used while seeding, in KiB (SQLite's negative `cache_size` convention).
const SEEDING_CACHE_KIB: i64 = 64 * 1024;

/// What [`seed`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedOutcome {
    /// The rows were written.
    Seeded(SeedCounts),
    /// The database already held exactly this plan's data.
    AlreadySeeded,
}

/// How many rows of each table were written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeedCounts {
    pub items: u64,
    pub customers: u64,
    pub orders: u64,
    pub order_lines: u64,
}

impl SeedCounts {
    pub fn total(&self) -> u64 {
        self.items + self.customers + self.orders + self.order_lines
    }
}

/// Why the database could not be seeded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    #[error(
        "the database was seeded with --data-seed {} --seed-items {} --seed-customers {} \
         --seed-orders {}, and these flags ask for --data-seed {} --seed-items {} \
         --seed-customers {} --seed-orders {}; pass the original flags, or use an empty --data \
         directory",
        found.data_seed, found.items, found.customers, found.orders,
        requested.data_seed, requested.items, requested.customers, requested.orders
    )]
    DifferentPlan { found: SeedPlan, requested: SeedPlan },
    #[error(
        "the database already holds {rows} rows that were not seeded; seed only into an empty \
         --data directory"
    )]
    NotEmpty { rows: i64 },
    #[error("writing the seed data failed")]
    Database(#[from] rusqlite::Error),
}

/// Writes `plan`'s rows into a migrated database, unless it already holds them.
pub fn seed(connection: &mut Connection, plan: &SeedPlan) -> Result<SeedOutcome, SeedError> {
    if let Some(found) = recorded_plan(connection)? {
        return if found == *plan {
            Ok(SeedOutcome::AlreadySeeded)
        } else {
            Err(SeedError::DifferentPlan { found, requested: *plan })
        };
    }
    let rows: i64 = connection.query_row(
        "SELECT (SELECT count(*) FROM items) + (SELECT count(*) FROM customers) \
         + (SELECT count(*) FROM orders)",
        [],
        |row| row.get(0),
    )?;
    if rows > 0 {
        return Err(SeedError::NotEmpty { rows });
    }
    let previous_cache: i64 =
        connection.pragma_query_value(None, "cache_size", |row| row.get(0))?;
    connection.pragma_update(None, "cache_size", -SEEDING_CACHE_KIB)?;
    let outcome = write_rows(connection, plan);
    connection.pragma_update(None, "cache_size", previous_cache)?;
    outcome.map(SeedOutcome::Seeded)
}

/// The plan recorded by an earlier [`seed`], if any.
pub fn recorded_plan(connection: &Connection) -> Result<Option<SeedPlan>, rusqlite::Error> {
    connection
        .query_row(
            "SELECT data_seed, items, customers, orders FROM seed_info WHERE singleton = 1",
            [],
            |row| {
                Ok(SeedPlan {
                    data_seed: row.get::<_, i64>(0)? as u64,
                    items: row.get(1)?,
                    customers: row.get(2)?,
                    orders: row.get(3)?,
                })
            },
        )
        .optional()
}

fn write_rows(connection: &mut Connection, plan: &SeedPlan) -> Result<SeedCounts, SeedError> {
    let transaction = connection.transaction()?;
    let mut counts = SeedCounts::default();
    let mut item_prices = Vec::with_capacity(plan.items as usize);
    {
        let mut insert_item = transaction.prepare(
            "INSERT INTO items (id, sku, name, category, price_cents, stock) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for item in plan.items() {
            insert_item.execute(params![
                item.id,
                item.sku,
                item.name,
                item.category,
                item.price_cents,
                item.stock
            ])?;
            item_prices.push(item.price_cents);
            counts.items += 1;
        }
        let mut insert_customer = transaction.prepare(
            "INSERT INTO customers (id, name, email, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for customer in plan.customers() {
            insert_customer.execute(params![
                customer.id,
                customer.name,
                customer.email,
                customer.created_at
            ])?;
            counts.customers += 1;
        }
        let mut insert_order = transaction.prepare(
            "INSERT INTO orders (id, customer_id, created_at, status, total_cents) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut insert_line = transaction.prepare(
            "INSERT INTO order_lines (order_id, line_no, item_id, quantity, unit_price_cents) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for order in plan.orders(&item_prices) {
            insert_order.execute(params![
                order.id,
                order.customer_id,
                order.created_at,
                order.status,
                order.total_cents
            ])?;
            counts.orders += 1;
            for (line_no, line) in order.lines.iter().enumerate() {
                insert_line.execute(params![
                    order.id,
                    line_no as i64 + 1,
                    line.item_id,
                    line.quantity,
                    line.unit_price_cents
                ])?;
                counts.order_lines += 1;
            }
        }
        transaction.execute(
            "INSERT INTO seed_info (singleton, data_seed, items, customers, orders) \
             VALUES (1, ?1, ?2, ?3, ?4)",
            params![plan.data_seed as i64, plan.items, plan.customers, plan.orders],
        )?;
    }
    transaction.commit()?;
    Ok(counts)
}
