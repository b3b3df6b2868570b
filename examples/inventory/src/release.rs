//! What makes a release: the code paths in which v1 and v2 differ.
//!
//! Everything else (routing, queries, seeding, metrics) is shared, so the difference between
//! the two binaries is exactly this trait's two implementations. Each lives in its own module
//! and is compiled into its own binary; neither is selected by a flag at run time.

pub mod v1;
pub mod v2;

use std::future::Future;

use crate::{
    cache::CatalogCache,
    database::{Conn, DatabaseError},
    model::OrderSummary,
    pricing::{PricingClient, PricingError},
    schema::Migration,
};

/// One release of the inventory service.
pub trait Release: Copy + Send + Sync + 'static {
    type Cache: CatalogCache;

    /// The release's name, e.g. `v1`: reported by `--version`, `/healthz` and
    /// `inventory_build_info`.
    fn name(&self) -> &'static str;

    /// The schema migrations this release knows, in version order.
    fn migrations(&self) -> &'static [Migration];

    /// A new, empty catalog cache.
    fn new_catalog_cache(&self) -> Self::Cache;

    /// Asks the pricing dependency for an item's price. An error makes the caller fall back to
    /// the catalog's list price.
    fn quote(
        &self,
        pricing: &PricingClient,
        item_id: i64,
    ) -> impl Future<Output = Result<i64, PricingError>> + Send;

    /// A customer's most recent orders, newest first, on a pooled database connection;
    /// `None` when the customer does not exist.
    fn customer_orders(
        &self,
        connection: &mut Conn,
        customer_id: i64,
        limit: u32,
    ) -> Result<Option<Vec<OrderSummary>>, DatabaseError>;
}
