//! Tests of the pricing stub.

use super::*;

#[test]
fn prices_are_stable_and_in_range() {
    for item_id in 1..2_000 {
        let price = stub_price_cents(item_id);
        assert_eq!(price, stub_price_cents(item_id));
        assert!((100..=200_000).contains(&price), "{item_id}: {price}");
    }
    assert_ne!(stub_price_cents(1), stub_price_cents(2));
}

#[test]
fn answers_prices_and_refuses_the_rest() {
    assert_eq!(answer(&Method::GET, "/prices/12").status(), StatusCode::OK);
    assert_eq!(answer(&Method::GET, "/prices/x").status(), StatusCode::BAD_REQUEST);
    assert_eq!(answer(&Method::POST, "/prices/12").status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer(&Method::GET, "/other").status(), StatusCode::NOT_FOUND);
}
