//! Tests of order validation.

use super::*;

fn order(customer_id: i64, lines: &[(i64, i64)]) -> NewOrder {
    NewOrder {
        customer_id,
        lines: lines
            .iter()
            .map(|&(item_id, quantity)| NewOrderLine { item_id, quantity })
            .collect(),
    }
}

fn rejected_field(new_order: &NewOrder) -> String {
    match new_order.validate() {
        Ok(()) => panic!("expected {new_order:?} to be rejected"),
        Err(err) => err.field,
    }
}

#[test]
fn accepts_a_well_formed_order() {
    assert_eq!(order(7, &[(1, 2), (3, 1)]).validate(), Ok(()));
}

#[test]
fn names_the_offending_field() {
    assert_eq!(rejected_field(&order(0, &[(1, 1)])), "customer_id");
    assert_eq!(rejected_field(&order(1, &[])), "lines");
    assert_eq!(rejected_field(&order(1, &[(1, 1), (-4, 1)])), "lines[1].item_id");
    assert_eq!(rejected_field(&order(1, &[(1, 0)])), "lines[0].quantity");
    assert_eq!(rejected_field(&order(1, &[(1, MAX_LINE_QUANTITY + 1)])), "lines[0].quantity");
    assert_eq!(rejected_field(&order(1, &[(5, 1), (6, 1), (5, 2)])), "lines[2].item_id");
    let too_many: Vec<(i64, i64)> = (1..=MAX_ORDER_LINES as i64 + 1).map(|id| (id, 1)).collect();
    assert_eq!(rejected_field(&order(1, &too_many)), "lines");
}

#[test]
fn duplicate_line_message_points_at_the_first_occurrence() {
    let err = order(1, &[(5, 1), (6, 1), (5, 2)]).validate().unwrap_err();
    assert!(err.message.contains("lines[0]"), "{}", err.message);
}
