//! The service on PostgreSQL: the migration runner and the statements of [`crate::queries`],
//! over the small blocking client of `shadowgate-data` (simple query protocol, text results).
//!
//! Why that client and not the `postgres` crate: the example already depends on shadowgate's
//! crates, and this client adds no crate to the build (the `postgres` crate brings
//! tokio-postgres, its protocol, crypto and futures crates); the service needs nothing more
//! than simple queries. Values are sent inside the SQL text: numbers as numbers and the one
//! string a client chooses (a catalog category) as an escaped literal, see [`literal`].
//!
//! The statements are the SQLite ones, and what makes them fast or slow is again the schema
//! each release's migrations leave: v2's rebuild of `orders` loses `orders_by_customer` here
//! too, and `GET /customers/{id}/orders` scans the table.

use shadowgate_data::pg::{Client, PgConfig, PgError};

use crate::{
    model::{Item, NEW_ORDER_STATUS, NewOrder, Order, OrderLine, OrderSummary},
    queries::CreateOrderError,
    schema::{MigrateError, Migration, MigrationReport},
};

/// How long a statement may take before the connection gives up on it.
pub const STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether `url` names a PostgreSQL database rather than a data directory.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens one connection.
pub fn connect(config: &PgConfig) -> Result<Client, PgError> {
    Client::connect(config, STATEMENT_TIMEOUT)
}

/// `s` as an SQL string literal (standard-conforming strings: only `'` is special).
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\0', "").replace('\'', "''"))
}

fn int(value: &Option<String>) -> Result<i64, PgError> {
    value
        .as_deref()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| PgError::Protocol(format!("expected an integer, got {value:?}")))
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

/// The schema version: the highest row of `schema_migrations` (0 for a new database).
pub fn schema_version(client: &mut Client) -> Result<u32, PgError> {
    let rows = client.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL); \
         SELECT coalesce(max(version), 0) FROM schema_migrations",
    )?;
    Ok(rows.first().and_then(|r| r.first()).map(int).transpose()?.unwrap_or(0) as u32)
}

/// Applies the migrations the database has not seen, each in its own transaction, and
/// refuses a database migrated by a newer release (as [`crate::schema::migrate`] does).
pub fn migrate(
    client: &mut Client,
    migrations: &[Migration],
) -> Result<MigrationReport, MigrateError> {
    let from_version =
        schema_version(client).map_err(|e| MigrateError::PostgresVersion(Box::new(e)))?;
    let supported = migrations.last().map_or(0, |m| m.version);
    if from_version > supported {
        return Err(MigrateError::NewerSchema { found: from_version, supported });
    }
    let mut applied = Vec::new();
    for m in migrations.iter().filter(|m| m.version > from_version) {
        let sql = format!(
            "BEGIN; {} INSERT INTO schema_migrations (version, name) VALUES ({}, {}); COMMIT",
            m.postgres,
            m.version,
            literal(m.name)
        );
        if let Err(source) = client.query(&sql) {
            let _ = client.query("ROLLBACK");
            return Err(MigrateError::ApplyPostgres {
                version: m.version,
                name: m.name,
                source: Box::new(source),
            });
        }
        applied.push(m.name);
    }
    Ok(MigrationReport { from_version, to_version: supported.max(from_version), applied })
}

const ITEM_COLUMNS: &str = "id, sku, name, category, price_cents, stock";
const SUMMARY_COLUMNS: &str = "id, customer_id, created_at, status, total_cents";

fn item_from_row(row: &[Option<String>]) -> Result<Item, PgError> {
    Ok(Item {
        id: int(&row[0])?,
        sku: text(&row[1]),
        name: text(&row[2]),
        category: text(&row[3]),
        price_cents: int(&row[4])?,
        stock: int(&row[5])?,
    })
}

fn summary_from_row(row: &[Option<String>]) -> Result<OrderSummary, PgError> {
    Ok(OrderSummary {
        id: int(&row[0])?,
        customer_id: int(&row[1])?,
        created_at: int(&row[2])?,
        status: text(&row[3]),
        total_cents: int(&row[4])?,
    })
}

/// One item by id.
pub fn item(client: &mut Client, item_id: i64) -> Result<Option<Item>, PgError> {
    let rows = client.query(&format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = {item_id}"))?;
    rows.first().map(|r| item_from_row(r)).transpose()
}

/// A page of the catalog in id order, optionally of one category.
pub fn items(
    client: &mut Client,
    category: Option<&str>,
    limit: u32,
    offset: u32,
) -> Result<Vec<Item>, PgError> {
    let filter = category.map(|c| format!("WHERE category = {}", literal(c))).unwrap_or_default();
    client
        .query(&format!(
            "SELECT {ITEM_COLUMNS} FROM items {filter} ORDER BY id LIMIT {limit} OFFSET {offset}"
        ))?
        .iter()
        .map(|r| item_from_row(r))
        .collect()
}

fn customer_exists(client: &mut Client, customer_id: i64) -> Result<bool, PgError> {
    Ok(!client.query(&format!("SELECT 1 FROM customers WHERE id = {customer_id}"))?.is_empty())
}

/// A customer's most recent orders, newest first; `None` when the customer does not exist.
pub fn orders_of_customer(
    client: &mut Client,
    customer_id: i64,
    limit: u32,
) -> Result<Option<Vec<OrderSummary>>, PgError> {
    if !customer_exists(client, customer_id)? {
        return Ok(None);
    }
    client
        .query(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM orders WHERE customer_id = {customer_id} \
             ORDER BY created_at DESC, id DESC LIMIT {limit}"
        ))?
        .iter()
        .map(|r| summary_from_row(r))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The ids of a customer's most recent orders, newest first; `None` when the customer does not
/// exist.
pub fn order_ids_of_customer(
    client: &mut Client,
    customer_id: i64,
    limit: u32,
) -> Result<Option<Vec<i64>>, PgError> {
    if !customer_exists(client, customer_id)? {
        return Ok(None);
    }
    client
        .query(&format!(
            "SELECT id FROM orders WHERE customer_id = {customer_id} \
             ORDER BY created_at DESC, id DESC LIMIT {limit}"
        ))?
        .iter()
        .map(|r| int(&r[0]))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// One order's summary (no lines).
pub fn order_summary(client: &mut Client, order_id: i64) -> Result<Option<OrderSummary>, PgError> {
    let rows =
        client.query(&format!("SELECT {SUMMARY_COLUMNS} FROM orders WHERE id = {order_id}"))?;
    rows.first().map(|r| summary_from_row(r)).transpose()
}

/// One order with its lines.
pub fn order(client: &mut Client, order_id: i64) -> Result<Option<Order>, PgError> {
    let Some(summary) = order_summary(client, order_id)? else {
        return Ok(None);
    };
    let lines = client
        .query(&format!(
            "SELECT item_id, quantity, unit_price_cents FROM order_lines \
             WHERE order_id = {order_id} ORDER BY line_no"
        ))?
        .iter()
        .map(|r| {
            Ok(OrderLine {
                item_id: int(&r[0])?,
                quantity: int(&r[1])?,
                unit_price_cents: int(&r[2])?,
            })
        })
        .collect::<Result<Vec<_>, PgError>>()?;
    Ok(Some(Order {
        id: summary.id,
        customer_id: summary.customer_id,
        created_at: summary.created_at,
        status: summary.status,
        total_cents: summary.total_cents,
        lines,
    }))
}

/// Places an order like [`crate::queries::create_order`]: one transaction that locks the
/// items it takes out of stock.
pub fn create_order(
    client: &mut Client,
    new_order: &NewOrder,
    created_at: i64,
) -> Result<Order, CreateOrderError> {
    client.query("BEGIN").map_err(CreateOrderError::Postgres)?;
    let outcome = create_order_in_transaction(client, new_order, created_at);
    let end = if outcome.is_ok() { "COMMIT" } else { "ROLLBACK" };
    match (outcome, client.query(end)) {
        (Ok(order), Ok(_)) => Ok(order),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(CreateOrderError::Postgres(e)),
    }
}

fn create_order_in_transaction(
    client: &mut Client,
    new_order: &NewOrder,
    created_at: i64,
) -> Result<Order, CreateOrderError> {
    let pg = CreateOrderError::Postgres;
    if !customer_exists(client, new_order.customer_id).map_err(pg)? {
        return Err(CreateOrderError::UnknownCustomer { customer_id: new_order.customer_id });
    }
    let mut lines = Vec::with_capacity(new_order.lines.len());
    for (line_idx, requested) in new_order.lines.iter().enumerate() {
        let rows = client
            .query(&format!(
                "SELECT {ITEM_COLUMNS} FROM items WHERE id = {} FOR UPDATE",
                requested.item_id
            ))
            .map_err(pg)?;
        let Some(item) = rows.first().map(|r| item_from_row(r)).transpose().map_err(pg)? else {
            return Err(CreateOrderError::UnknownItem { line_idx, item_id: requested.item_id });
        };
        if item.stock < requested.quantity {
            return Err(CreateOrderError::OutOfStock {
                line_idx,
                item_id: item.id,
                requested: requested.quantity,
                available: item.stock,
            });
        }
        client
            .query(&format!(
                "UPDATE items SET stock = stock - {} WHERE id = {}",
                requested.quantity, item.id
            ))
            .map_err(pg)?;
        lines.push(OrderLine {
            item_id: item.id,
            quantity: requested.quantity,
            unit_price_cents: item.price_cents,
        });
    }
    let total_cents: i64 = lines.iter().map(|line| line.quantity * line.unit_price_cents).sum();
    let rows = client
        .query(&format!(
            "INSERT INTO orders (id, customer_id, created_at, status, total_cents) \
             VALUES (nextval('orders_id_seq'), {}, {created_at}, {}, {total_cents}) RETURNING id",
            new_order.customer_id,
            literal(NEW_ORDER_STATUS)
        ))
        .map_err(pg)?;
    let order_id = rows.first().and_then(|r| r.first()).map(int).transpose().map_err(pg)?.ok_or(
        CreateOrderError::Postgres(PgError::Protocol(
            "INSERT ... RETURNING id returned no row".into(),
        )),
    )?;
    if !lines.is_empty() {
        let values: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(n, l)| {
                format!(
                    "({order_id}, {}, {}, {}, {})",
                    n + 1,
                    l.item_id,
                    l.quantity,
                    l.unit_price_cents
                )
            })
            .collect();
        client
            .query(&format!(
                "INSERT INTO order_lines (order_id, line_no, item_id, quantity, unit_price_cents) \
                 VALUES {}",
                values.join(", ")
            ))
            .map_err(pg)?;
    }
    Ok(Order {
        id: order_id,
        customer_id: new_order.customer_id,
        created_at,
        status: NEW_ORDER_STATUS.to_string(),
        total_cents,
        lines,
    })
}

/// PostgreSQL's plan for the customer-orders statement (`EXPLAIN`, one line per node), e.g.
/// `Index Scan using orders_by_customer on orders` in v1 and `Seq Scan on orders` in v2.
pub fn orders_of_customer_plan(client: &mut Client) -> Result<String, PgError> {
    let rows = client.query(&format!(
        "EXPLAIN SELECT {SUMMARY_COLUMNS} FROM orders WHERE customer_id = 1 \
         ORDER BY created_at DESC, id DESC LIMIT 20"
    ))?;
    Ok(rows.iter().map(|r| text(&r[0])).collect::<Vec<_>>().join("\n"))
}
