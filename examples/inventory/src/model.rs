//! The records the service stores and returns, and the order a client may place.
//!
//! The JSON shapes of responses are these structs serialized as they are, so renaming a field
//! here changes the API. Request bodies are checked by [`NewOrder::validate`] before they reach
//! the database, so every rejection names the offending field.

use serde::{Deserialize, Serialize};

/// An article in the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Item {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub category: String,
    /// The list price in cents, used when no pricing dependency is configured or it fails.
    pub price_cents: i64,
    pub stock: i64,
}

/// A customer account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub email: String,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
}

/// An order without its lines, as listed for a customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderSummary {
    pub id: i64,
    pub customer_id: i64,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    pub status: String,
    pub total_cents: i64,
}

/// One line of an order: an item, how many, and the unit price charged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderLine {
    pub item_id: i64,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

/// An order with its lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Order {
    pub id: i64,
    pub customer_id: i64,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    pub status: String,
    pub total_cents: i64,
    pub lines: Vec<OrderLine>,
}

/// The statuses an order moves through. Seeded history uses all of them; new orders are paid.
pub const ORDER_STATUSES: &[&str] = &["pending", "paid", "shipped", "delivered", "cancelled"];

/// The status of an order placed through `POST /orders`.
pub const NEW_ORDER_STATUS: &str = "paid";

/// The most lines one order may have.
pub const MAX_ORDER_LINES: usize = 50;

/// The largest quantity of one line.
pub const MAX_LINE_QUANTITY: i64 = 1000;

/// The body of `POST /orders`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    pub customer_id: i64,
    pub lines: Vec<NewOrderLine>,
}

/// One requested line of a new order.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrderLine {
    pub item_id: i64,
    pub quantity: i64,
}

/// Why a new order was rejected before touching the database.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct InvalidOrder {
    /// The JSON path of the offending value, e.g. `lines[2].quantity`.
    pub field: String,
    pub message: String,
}

impl NewOrder {
    /// Checks the parts of an order that need no database: ids are positive, there is at least
    /// one line and not too many, quantities are in range and no item appears twice.
    pub fn validate(&self) -> Result<(), InvalidOrder> {
        let invalid = |field: String, message: String| Err(InvalidOrder { field, message });
        if self.customer_id <= 0 {
            return invalid(
                "customer_id".to_string(),
                format!("must be a positive customer id, got {}", self.customer_id),
            );
        }
        if self.lines.is_empty() {
            return invalid(
                "lines".to_string(),
                "must hold at least one line, e.g. [{\"item_id\": 1, \"quantity\": 1}]".to_string(),
            );
        }
        if self.lines.len() > MAX_ORDER_LINES {
            return invalid(
                "lines".to_string(),
                format!(
                    "holds {} lines; an order may have at most {MAX_ORDER_LINES}",
                    self.lines.len()
                ),
            );
        }
        for (line_idx, line) in self.lines.iter().enumerate() {
            if line.item_id <= 0 {
                return invalid(
                    format!("lines[{line_idx}].item_id"),
                    format!("must be a positive item id, got {}", line.item_id),
                );
            }
            if !(1..=MAX_LINE_QUANTITY).contains(&line.quantity) {
                return invalid(
                    format!("lines[{line_idx}].quantity"),
                    format!("must be between 1 and {MAX_LINE_QUANTITY}, got {}", line.quantity),
                );
            }
            if let Some(first_idx) =
                self.lines[..line_idx].iter().position(|earlier| earlier.item_id == line.item_id)
            {
                return invalid(
                    format!("lines[{line_idx}].item_id"),
                    format!(
                        "item {} already appears in lines[{first_idx}]; put the whole quantity on one line",
                        line.item_id
                    ),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
