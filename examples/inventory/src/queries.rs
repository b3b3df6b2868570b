//! The SQL behind each endpoint, as plain blocking functions over one connection.
//!
//! Both releases run exactly these statements. Whether a statement is fast depends on the
//! indexes the release's migrations created, which is the point of v2's volume regression:
//! [`orders_of_customer`] is the same query in both, and only v2's schema lacks the index it
//! relies on. Statements go through rusqlite's prepared-statement cache.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::model::{Item, NEW_ORDER_STATUS, NewOrder, Order, OrderLine, OrderSummary};

/// The statement behind `GET /customers/{id}/orders`, exposed so that tests and benchmarks
/// can ask SQLite how it plans it.
pub const ORDERS_OF_CUSTOMER_SQL: &str = "SELECT id, customer_id, created_at, status, total_cents \
     FROM orders WHERE customer_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2";

const ITEM_COLUMNS: &str = "id, sku, name, category, price_cents, stock";

fn item_from_row(row: &Row<'_>) -> Result<Item, rusqlite::Error> {
    Ok(Item {
        id: row.get(0)?,
        sku: row.get(1)?,
        name: row.get(2)?,
        category: row.get(3)?,
        price_cents: row.get(4)?,
        stock: row.get(5)?,
    })
}

fn summary_from_row(row: &Row<'_>) -> Result<OrderSummary, rusqlite::Error> {
    Ok(OrderSummary {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        created_at: row.get(2)?,
        status: row.get(3)?,
        total_cents: row.get(4)?,
    })
}

/// One item by id.
pub fn item(connection: &Connection, item_id: i64) -> Result<Option<Item>, rusqlite::Error> {
    connection
        .prepare_cached(&format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = ?1"))?
        .query_row([item_id], item_from_row)
        .optional()
}

/// A page of the catalog in id order, optionally of one category.
pub fn items(
    connection: &Connection,
    category: Option<&str>,
    limit: u32,
    offset: u32,
) -> Result<Vec<Item>, rusqlite::Error> {
    match category {
        Some(category) => connection
            .prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS} FROM items WHERE category = ?1 ORDER BY id LIMIT ?2 OFFSET ?3"
            ))?
            .query_map(params![category, limit, offset], item_from_row)?
            .collect(),
        None => connection
            .prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS} FROM items ORDER BY id LIMIT ?1 OFFSET ?2"
            ))?
            .query_map(params![limit, offset], item_from_row)?
            .collect(),
    }
}

/// Whether a customer exists.
pub fn customer_exists(connection: &Connection, customer_id: i64) -> Result<bool, rusqlite::Error> {
    connection
        .prepare_cached("SELECT 1 FROM customers WHERE id = ?1")?
        .query_row([customer_id], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
}

/// A customer's most recent orders, newest first; `None` when the customer does not exist.
pub fn orders_of_customer(
    connection: &Connection,
    customer_id: i64,
    limit: u32,
) -> Result<Option<Vec<OrderSummary>>, rusqlite::Error> {
    if !customer_exists(connection, customer_id)? {
        return Ok(None);
    }
    connection
        .prepare_cached(ORDERS_OF_CUSTOMER_SQL)?
        .query_map(params![customer_id, limit], summary_from_row)?
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The ids of a customer's most recent orders, newest first; `None` when the customer does not
/// exist. (v2 lists orders this way and then loads each with [`order_summary`].)
pub fn order_ids_of_customer(
    connection: &Connection,
    customer_id: i64,
    limit: u32,
) -> Result<Option<Vec<i64>>, rusqlite::Error> {
    if !customer_exists(connection, customer_id)? {
        return Ok(None);
    }
    connection
        .prepare_cached(
            "SELECT id FROM orders WHERE customer_id = ?1 \
             ORDER BY created_at DESC, id DESC LIMIT ?2",
        )?
        .query_map(params![customer_id, limit], |row| row.get(0))?
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// One order's summary (no lines).
pub fn order_summary(
    connection: &Connection,
    order_id: i64,
) -> Result<Option<OrderSummary>, rusqlite::Error> {
    connection
        .prepare_cached(
            "SELECT id, customer_id, created_at, status, total_cents FROM orders WHERE id = ?1",
        )?
        .query_row([order_id], summary_from_row)
        .optional()
}

/// One order with its lines.
pub fn order(connection: &Connection, order_id: i64) -> Result<Option<Order>, rusqlite::Error> {
    let Some(summary) = order_summary(connection, order_id)? else {
        return Ok(None);
    };
    let lines = connection
        .prepare_cached(
            "SELECT item_id, quantity, unit_price_cents FROM order_lines \
             WHERE order_id = ?1 ORDER BY line_no",
        )?
        .query_map([order_id], |row| {
            Ok(OrderLine {
                item_id: row.get(0)?,
                quantity: row.get(1)?,
                unit_price_cents: row.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Order {
        id: summary.id,
        customer_id: summary.customer_id,
        created_at: summary.created_at,
        status: summary.status,
        total_cents: summary.total_cents,
        lines,
    }))
}

/// Why an order that passed [`NewOrder::validate`] was still refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreateOrderError {
    #[error("customer {customer_id} does not exist")]
    UnknownCustomer { customer_id: i64 },
    #[error("item {item_id} does not exist")]
    UnknownItem { line_idx: usize, item_id: i64 },
    #[error("item {item_id} has {available} in stock, {requested} requested")]
    OutOfStock { line_idx: usize, item_id: i64, requested: i64, available: i64 },
    #[error("database query failed")]
    Database(#[from] rusqlite::Error),
    #[error("PostgreSQL query failed")]
    Postgres(#[source] shadowgate_data::pg::PgError),
}

/// Places an order: checks the customer and every item, takes the items out of stock at their
/// current list price and records the order, all in one write transaction.
pub fn create_order(
    connection: &mut Connection,
    new_order: &NewOrder,
    created_at: i64,
) -> Result<Order, CreateOrderError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !customer_exists(&transaction, new_order.customer_id)? {
        return Err(CreateOrderError::UnknownCustomer { customer_id: new_order.customer_id });
    }
    let mut lines = Vec::with_capacity(new_order.lines.len());
    for (line_idx, requested) in new_order.lines.iter().enumerate() {
        let Some(item) = item(&transaction, requested.item_id)? else {
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
        transaction
            .prepare_cached("UPDATE items SET stock = stock - ?2 WHERE id = ?1")?
            .execute(params![item.id, requested.quantity])?;
        lines.push(OrderLine {
            item_id: item.id,
            quantity: requested.quantity,
            unit_price_cents: item.price_cents,
        });
    }
    let total_cents = lines.iter().map(|line| line.quantity * line.unit_price_cents).sum();
    transaction
        .prepare_cached(
            "INSERT INTO orders (customer_id, created_at, status, total_cents) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![new_order.customer_id, created_at, NEW_ORDER_STATUS, total_cents])?;
    let order_id = transaction.last_insert_rowid();
    {
        let mut insert_line = transaction.prepare_cached(
            "INSERT INTO order_lines (order_id, line_no, item_id, quantity, unit_price_cents) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (line_no, line) in lines.iter().enumerate() {
            insert_line.execute(params![
                order_id,
                line_no as i64 + 1,
                line.item_id,
                line.quantity,
                line.unit_price_cents
            ])?;
        }
    }
    transaction.commit()?;
    Ok(Order {
        id: order_id,
        customer_id: new_order.customer_id,
        created_at,
        status: NEW_ORDER_STATUS.to_string(),
        total_cents,
        lines,
    })
}

/// SQLite's plan for [`ORDERS_OF_CUSTOMER_SQL`], one `EXPLAIN QUERY PLAN` detail per line, e.g.
/// `SEARCH orders USING INDEX orders_by_customer (customer_id=?)`.
pub fn orders_of_customer_plan(connection: &Connection) -> Result<String, rusqlite::Error> {
    let mut statement =
        connection.prepare(&format!("EXPLAIN QUERY PLAN {ORDERS_OF_CUSTOMER_SQL}"))?;
    let details = statement
        .query_map(params![1, 20], |row| row.get::<_, String>(3))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(details.join("\n"))
}
