//! Release v1, the baseline: indexed customer orders listed in one statement, a bounded cache
//! and a pricing deadline.

use std::{sync::Mutex, time::Duration};

use crate::{
    cache::{CacheStats, CatalogCache, CatalogEntry, CatalogRequest, ClockCache},
    database::{Conn, DatabaseError},
    model::OrderSummary,
    pricing::{PricingClient, PricingError},
    release::Release,
    schema::{INITIAL_SCHEMA, Migration},
};

/// How many items v1 keeps rendered in memory.
pub const ITEM_CACHE_CAPACITY: usize = 2048;

/// How long v1 waits for the pricing dependency before using the list price.
pub const PRICING_TIMEOUT: Duration = Duration::from_millis(200);

const MIGRATIONS: &[Migration] = &[INITIAL_SCHEMA];

/// The v1 release.
#[derive(Clone, Copy, Debug, Default)]
pub struct V1;

impl Release for V1 {
    type Cache = ItemCache;

    fn name(&self) -> &'static str {
        "v1"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn new_catalog_cache(&self) -> ItemCache {
        ItemCache { items: Mutex::new(ClockCache::new(ITEM_CACHE_CAPACITY)) }
    }

    async fn quote(&self, pricing: &PricingClient, item_id: i64) -> Result<i64, PricingError> {
        match tokio::time::timeout(PRICING_TIMEOUT, pricing.fetch(item_id)).await {
            Ok(outcome) => outcome,
            Err(_elapsed) => Err(PricingError::TimedOut(PRICING_TIMEOUT)),
        }
    }

    /// One statement (two round trips with the existence check), whatever the page size.
    fn customer_orders(
        &self,
        connection: &mut Conn,
        customer_id: i64,
        limit: u32,
    ) -> Result<Option<Vec<OrderSummary>>, DatabaseError> {
        connection.orders_of_customer(customer_id, limit)
    }
}

/// v1's cache: single items keyed by item id, at most [`ITEM_CACHE_CAPACITY`] of them.
/// Listings are not cached; their indexed query is cheap.
#[derive(Debug)]
pub struct ItemCache {
    items: Mutex<ClockCache<i64, CatalogEntry>>,
}

impl CatalogCache for ItemCache {
    fn get(&self, request: &CatalogRequest<'_>) -> Option<CatalogEntry> {
        match request {
            CatalogRequest::Item { item_id, .. } => {
                self.items.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(item_id)
            }
            CatalogRequest::Listing { .. } => None,
        }
    }

    fn put(&self, request: &CatalogRequest<'_>, entry: CatalogEntry) {
        if let CatalogRequest::Item { item_id, .. } = request {
            let bytes = entry.weight() + std::mem::size_of::<i64>();
            self.items
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(*item_id, entry, bytes);
        }
    }

    fn invalidate_item(&self, item_id: i64) {
        self.items.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&item_id);
    }

    fn stats(&self) -> CacheStats {
        let items = self.items.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        CacheStats { entries: items.len(), bytes: items.value_bytes() }
    }
}
