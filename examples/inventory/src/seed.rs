//! The deterministic data set: items, customers and a year of order history from a seed.
//!
//! A baseline and a candidate are only comparable when they serve the same data, so every row
//! is a function of the [`SeedPlan`] alone: the same plan gives byte-identical databases, on
//! any machine, for either release. Each table draws from its own random stream, so growing
//! the number of orders does not change the items or customers. Nothing here touches the
//! database; [`crate::seeding`] writes the rows.

use shadowgate_core::rng::Rng;

use crate::model::{Customer, Item, Order, OrderLine};

/// How much data to generate, and from which seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedPlan {
    pub data_seed: u64,
    pub items: u32,
    pub customers: u32,
    pub orders: u32,
}

/// A plan that cannot be generated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SeedPlanError {
    /// The command-line flag to change.
    pub flag: &'static str,
    pub message: String,
}

/// The start of the seeded history: 2025-01-01T00:00:00Z. A constant, not the clock, so that
/// seeding is reproducible.
pub const SEED_EPOCH: i64 = 1_735_689_600;

/// The seeded order history spans one year from [`SEED_EPOCH`].
pub const HISTORY_SECONDS: i64 = 365 * 24 * 3600;

/// The categories items are spread over (uniformly).
pub const CATEGORIES: &[&str] = &[
    "automotive",
    "beauty",
    "books",
    "clothing",
    "electronics",
    "garden",
    "grocery",
    "health",
    "kitchen",
    "music",
    "office",
    "outdoor",
    "pets",
    "sports",
    "tools",
    "toys",
];

const ADJECTIVES: &[&str] = &[
    "Compact",
    "Deluxe",
    "Durable",
    "Ergonomic",
    "Foldable",
    "Handmade",
    "Lightweight",
    "Modular",
    "Portable",
    "Rugged",
    "Sleek",
    "Smart",
    "Sturdy",
    "Vintage",
    "Waterproof",
    "Wireless",
];

const NOUNS: &[&str] = &[
    "Backpack",
    "Blender",
    "Bottle",
    "Cable",
    "Chair",
    "Clock",
    "Headphones",
    "Kettle",
    "Lamp",
    "Notebook",
    "Pan",
    "Planter",
    "Scarf",
    "Speaker",
    "Tent",
    "Toolkit",
];

const FIRST_NAMES: &[&str] = &[
    "Ada", "Bruno", "Chen", "Dalia", "Emeka", "Farah", "Goran", "Hana", "Ines", "Jonas", "Kemal",
    "Lena", "Mateo", "Nia", "Omar", "Priya",
];

const LAST_NAMES: &[&str] = &[
    "Andersen", "Becker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito",
    "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Petrov",
];

const ITEM_STREAM: u64 = 1;
const CUSTOMER_STREAM: u64 = 2;
const ORDER_STREAM: u64 = 3;

impl SeedPlan {
    /// True when the plan generates no rows at all.
    pub fn is_empty(&self) -> bool {
        self.items == 0 && self.customers == 0 && self.orders == 0
    }

    /// Orders refer to customers and items, so they need both.
    pub fn validate(&self) -> Result<(), SeedPlanError> {
        if self.orders > 0 && self.customers == 0 {
            return Err(SeedPlanError {
                flag: "--seed-customers",
                message: format!(
                    "--seed-orders {} needs customers to place them: pass --seed-customers with \
                     a positive count",
                    self.orders
                ),
            });
        }
        if self.orders > 0 && self.items == 0 {
            return Err(SeedPlanError {
                flag: "--seed-items",
                message: format!(
                    "--seed-orders {} needs items to order: pass --seed-items with a positive count",
                    self.orders
                ),
            });
        }
        Ok(())
    }

    /// The catalog, ids 1 to `items`.
    pub fn items(&self) -> impl Iterator<Item = Item> + use<> {
        let mut rng = Rng::seed(self.data_seed).fork(ITEM_STREAM);
        (1..=i64::from(self.items)).map(move |id| {
            let adjective = ADJECTIVES[rng.below(ADJECTIVES.len())];
            let noun = NOUNS[rng.below(NOUNS.len())];
            // Prices are log-uniform between $2 and $2,000, like a general store's catalog.
            let price_cents = (200.0 * 1000f64.powf(rng.next_f64())).round() as i64;
            Item {
                id,
                sku: format!("SKU-{id:06}"),
                name: format!("{adjective} {noun} {}", 100 + rng.below(900)),
                category: CATEGORIES[rng.below(CATEGORIES.len())].to_string(),
                price_cents,
                stock: rng.range_i64(0, 500),
            }
        })
    }

    /// The customers, ids 1 to `customers`, who signed up in the three years before the history.
    pub fn customers(&self) -> impl Iterator<Item = Customer> + use<> {
        let mut rng = Rng::seed(self.data_seed).fork(CUSTOMER_STREAM);
        (1..=i64::from(self.customers)).map(move |id| {
            let first = FIRST_NAMES[rng.below(FIRST_NAMES.len())];
            let last = LAST_NAMES[rng.below(LAST_NAMES.len())];
            Customer {
                id,
                name: format!("{first} {last}"),
                email: format!("{}.{}.{id}@example.com", first.to_lowercase(), last.to_lowercase()),
                created_at: SEED_EPOCH - rng.range_i64(0, 3 * HISTORY_SECONDS),
            }
        })
    }

    /// The order history, ids 1 to `orders` in time order over [`HISTORY_SECONDS`].
    ///
    /// `item_prices[i]` must be the price of item `i + 1`, as generated by [`SeedPlan::items`].
    /// Customers are drawn uniformly; items are skewed towards low ids, as real catalogs have
    /// best sellers.
    pub fn orders<'a>(&self, item_prices: &'a [i64]) -> impl Iterator<Item = Order> + use<'a> {
        let mut rng = Rng::seed(self.data_seed).fork(ORDER_STREAM);
        let orders = i64::from(self.orders);
        let customers = self.customers as usize;
        let spacing = HISTORY_SECONDS as f64 / orders.max(1) as f64;
        (1..=orders).map(move |id| {
            let created_at = SEED_EPOCH + ((id - 1) as f64 * spacing) as i64;
            let age_fraction = 1.0 - (id as f64 / orders as f64);
            let line_count = 1 + rng.below(4);
            let mut lines: Vec<OrderLine> = Vec::with_capacity(line_count);
            while lines.len() < line_count {
                let skewed = rng.next_f64() * rng.next_f64();
                let item_idx =
                    ((skewed * item_prices.len() as f64) as usize).min(item_prices.len() - 1);
                let item_id = item_idx as i64 + 1;
                if lines.iter().any(|line| line.item_id == item_id) {
                    continue;
                }
                lines.push(OrderLine {
                    item_id,
                    quantity: 1 + rng.below(3) as i64,
                    unit_price_cents: item_prices[item_idx],
                });
            }
            Order {
                id,
                customer_id: 1 + rng.below(customers) as i64,
                created_at,
                status: status_for(age_fraction, rng.next_f64()).to_string(),
                total_cents: lines.iter().map(|line| line.quantity * line.unit_price_cents).sum(),
                lines,
            }
        })
    }
}

/// Old orders are delivered (or cancelled); the most recent ones are still on their way.
fn status_for(age_fraction: f64, draw: f64) -> &'static str {
    if draw < 0.04 {
        "cancelled"
    } else if age_fraction > 0.02 {
        "delivered"
    } else if age_fraction > 0.005 {
        "shipped"
    } else if draw < 0.5 {
        "paid"
    } else {
        "pending"
    }
}

#[cfg(test)]
mod tests;
