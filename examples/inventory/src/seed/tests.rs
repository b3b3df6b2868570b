//! Tests of the data generator (the database side is tested in `tests/it/seeding.rs`).

use super::*;
use crate::model::ORDER_STATUSES;

fn plan(data_seed: u64) -> SeedPlan {
    SeedPlan { data_seed, items: 300, customers: 200, orders: 2_000 }
}

fn prices(plan: &SeedPlan) -> Vec<i64> {
    plan.items().map(|item| item.price_cents).collect()
}

#[test]
fn same_plan_same_rows() {
    let plan = plan(7);
    assert_eq!(plan.items().collect::<Vec<_>>(), plan.items().collect::<Vec<_>>());
    assert_eq!(plan.customers().collect::<Vec<_>>(), plan.customers().collect::<Vec<_>>());
    let prices = prices(&plan);
    assert_eq!(plan.orders(&prices).collect::<Vec<_>>(), plan.orders(&prices).collect::<Vec<_>>());
}

#[test]
fn another_seed_gives_other_rows() {
    let (first, second) = (plan(7), plan(8));
    assert_ne!(first.items().collect::<Vec<_>>(), second.items().collect::<Vec<_>>());
    assert_ne!(first.customers().collect::<Vec<_>>(), second.customers().collect::<Vec<_>>());
}

#[test]
fn more_orders_leave_items_and_customers_unchanged() {
    let small = plan(7);
    let large = SeedPlan { orders: 50_000, ..small };
    assert_eq!(small.items().collect::<Vec<_>>(), large.items().collect::<Vec<_>>());
    assert_eq!(small.customers().collect::<Vec<_>>(), large.customers().collect::<Vec<_>>());
}

#[test]
fn orders_are_consistent_with_the_catalog_and_customers() {
    let plan = plan(3);
    let prices = prices(&plan);
    let mut previous_created_at = i64::MIN;
    let mut count = 0;
    for order in plan.orders(&prices) {
        count += 1;
        assert!((1..=i64::from(plan.customers)).contains(&order.customer_id), "{order:?}");
        assert!((1..=4).contains(&order.lines.len()), "{order:?}");
        assert!(ORDER_STATUSES.contains(&order.status.as_str()), "{order:?}");
        assert!(order.created_at >= previous_created_at, "orders are in time order");
        assert!((SEED_EPOCH..SEED_EPOCH + HISTORY_SECONDS).contains(&order.created_at));
        previous_created_at = order.created_at;
        let mut total = 0;
        for (line_idx, line) in order.lines.iter().enumerate() {
            assert!((1..=i64::from(plan.items)).contains(&line.item_id));
            assert_eq!(line.unit_price_cents, prices[line.item_id as usize - 1]);
            assert!(!order.lines[..line_idx].iter().any(|other| other.item_id == line.item_id));
            total += line.quantity * line.unit_price_cents;
        }
        assert_eq!(order.total_cents, total);
    }
    assert_eq!(count, plan.orders);
}

#[test]
fn popular_items_are_ordered_more_often() {
    let plan = plan(11);
    let prices = prices(&plan);
    let mut counts = vec![0u32; plan.items as usize];
    for order in plan.orders(&prices) {
        for line in order.lines {
            counts[line.item_id as usize - 1] += 1;
        }
    }
    let first_tenth: u32 = counts[..30].iter().sum();
    let last_tenth: u32 = counts[270..].iter().sum();
    assert!(first_tenth > 5 * last_tenth, "first {first_tenth}, last {last_tenth}");
}

#[test]
fn items_and_customers_have_unique_keys() {
    let plan = plan(5);
    let skus: std::collections::HashSet<String> = plan.items().map(|item| item.sku).collect();
    assert_eq!(skus.len(), plan.items as usize);
    let emails: std::collections::HashSet<String> =
        plan.customers().map(|customer| customer.email).collect();
    assert_eq!(emails.len(), plan.customers as usize);
}

#[test]
fn orders_without_customers_or_items_are_rejected_with_the_flag_to_fix() {
    let no_customers = SeedPlan { data_seed: 1, items: 10, customers: 0, orders: 5 };
    assert_eq!(no_customers.validate().unwrap_err().flag, "--seed-customers");
    let no_items = SeedPlan { data_seed: 1, items: 0, customers: 10, orders: 5 };
    assert_eq!(no_items.validate().unwrap_err().flag, "--seed-items");
    assert!(SeedPlan { data_seed: 1, items: 0, customers: 0, orders: 0 }.is_empty());
}
