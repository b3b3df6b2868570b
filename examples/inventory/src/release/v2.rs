//! Release v2, the candidate, with four deliberate regressions that only production-like
//! conditions reveal.
//!
//! 1. Migration 2 adds CHECK constraints to `orders`. SQLite cannot add a constraint to an
//!    existing table, so the migration rebuilds it, the documented way: create, copy, drop,
//!    rename. Dropping the old table drops its indexes too, and the migration does not create
//!    `orders_by_customer` again. `GET /customers/{id}/orders` still returns the right rows,
//!    but by scanning every order.
//! 2. The catalog cache keys rendered responses by the full request target, query string
//!    included, and never evicts: every distinct URL a client sends (pagination, tracking
//!    parameters, cache busters) stays in memory for the life of the process. (A side effect:
//!    when an order changes an item's stock, only the entry under the canonical URL
//!    `/items/{id}` can be found and dropped; the others keep serving the old stock.)
//! 3. The pricing call has no deadline. When the dependency stalls, `GET /items/{id}` waits
//!    with it, for ever, instead of falling back to the list price.
//! 4. `GET /customers/{id}/orders` was refactored to list the order ids and then load each
//!    order by id, reusing the single-order lookup: one round trip to the database per order
//!    on the page (22 for a page of 20) where v1 makes two. On SQLite, in the process, the
//!    extra statements cost microseconds; on PostgreSQL each is a round trip over the network,
//!    so the endpoint's latency is the database link's latency times the page size, and while
//!    the link is slow every request holds a pooled connection 11 times as long. A test on a
//!    laptop with the database on loopback does not see it.

use std::{collections::HashMap, sync::Mutex};

use crate::{
    cache::{CacheStats, CatalogCache, CatalogEntry, CatalogRequest},
    database::{Conn, DatabaseError},
    model::OrderSummary,
    pricing::{PricingClient, PricingError},
    release::Release,
    schema::{INITIAL_SCHEMA, Migration},
};

/// Regression 1: the rebuilt `orders` table comes back without `orders_by_customer`.
pub const ORDERS_CONSTRAINTS: Migration = Migration {
    version: 2,
    name: "enforce valid order statuses and totals",
    sql: r#"
CREATE TABLE orders_rebuilt (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    created_at  INTEGER NOT NULL,
    status      TEXT NOT NULL
                CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled')),
    total_cents INTEGER NOT NULL CHECK (total_cents >= 0)
);
INSERT INTO orders_rebuilt (id, customer_id, created_at, status, total_cents)
    SELECT id, customer_id, created_at, status, total_cents FROM orders;
DROP TABLE orders;
ALTER TABLE orders_rebuilt RENAME TO orders;
"#,
    postgres: ORDERS_CONSTRAINTS_POSTGRES,
};

/// The same migration ported to PostgreSQL as it was written for SQLite (rebuild, copy, drop,
/// rename), with the same loss: the new `orders` has its primary key but no
/// `orders_by_customer`.
const ORDERS_CONSTRAINTS_POSTGRES: &str = r#"
CREATE TABLE orders_rebuilt (
    id          BIGINT PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    status      TEXT NOT NULL
                CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled')),
    total_cents BIGINT NOT NULL CHECK (total_cents >= 0)
);
INSERT INTO orders_rebuilt (id, customer_id, created_at, status, total_cents)
    SELECT id, customer_id, created_at, status, total_cents FROM orders;
DROP TABLE orders;
ALTER TABLE orders_rebuilt RENAME TO orders;
ANALYZE orders;
"#;

const MIGRATIONS: &[Migration] = &[INITIAL_SCHEMA, ORDERS_CONSTRAINTS];

/// The v2 release.
#[derive(Clone, Copy, Debug, Default)]
pub struct V2;

impl Release for V2 {
    type Cache = ResponseCache;

    fn name(&self) -> &'static str {
        "v2"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn new_catalog_cache(&self) -> ResponseCache {
        ResponseCache::default()
    }

    /// Regression 3: no deadline around the call.
    async fn quote(&self, pricing: &PricingClient, item_id: i64) -> Result<i64, PricingError> {
        pricing.fetch(item_id).await
    }

    /// Regression 4: one statement per order on the page.
    fn customer_orders(
        &self,
        connection: &mut Conn,
        customer_id: i64,
        limit: u32,
    ) -> Result<Option<Vec<OrderSummary>>, DatabaseError> {
        let Some(ids) = connection.order_ids_of_customer(customer_id, limit)? else {
            return Ok(None);
        };
        let mut orders = Vec::with_capacity(ids.len());
        for id in ids {
            // An order deleted between the two statements is left out, as a join would.
            orders.extend(connection.order_summary(id)?);
        }
        Ok(Some(orders))
    }
}

/// Regression 2: rendered catalog responses keyed by request target, never evicted.
#[derive(Debug, Default)]
pub struct ResponseCache {
    state: Mutex<ResponseCacheState>,
}

#[derive(Debug, Default)]
struct ResponseCacheState {
    responses: HashMap<String, CatalogEntry>,
    bytes: usize,
}

fn target<'a>(request: &CatalogRequest<'a>) -> &'a str {
    match *request {
        CatalogRequest::Item { target, .. } | CatalogRequest::Listing { target } => target,
    }
}

impl ResponseCache {
    fn state(&self) -> std::sync::MutexGuard<'_, ResponseCacheState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl CatalogCache for ResponseCache {
    fn get(&self, request: &CatalogRequest<'_>) -> Option<CatalogEntry> {
        self.state().responses.get(target(request)).cloned()
    }

    fn put(&self, request: &CatalogRequest<'_>, entry: CatalogEntry) {
        let key = target(request);
        let mut state = self.state();
        state.bytes += key.len() + entry.weight();
        if let Some(replaced) = state.responses.insert(key.to_string(), entry) {
            state.bytes -= key.len() + replaced.weight();
        }
    }

    /// Only the canonical URL is found: entries under other targets (with a query string,
    /// and every listing) keep serving the old stock.
    fn invalidate_item(&self, item_id: i64) {
        let mut state = self.state();
        let key = format!("/items/{item_id}");
        if let Some(removed) = state.responses.remove(&key) {
            state.bytes -= key.len() + removed.weight();
        }
    }

    fn stats(&self) -> CacheStats {
        let state = self.state();
        CacheStats { entries: state.responses.len(), bytes: state.bytes }
    }
}
