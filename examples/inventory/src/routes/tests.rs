//! Tests of routing.

use super::*;

#[test]
fn routes_every_endpoint() {
    let get = Method::GET;
    assert_eq!(route(&get, "/healthz"), Routing::Endpoint(Endpoint::Healthz));
    assert_eq!(route(&get, "/metrics"), Routing::Endpoint(Endpoint::Metrics));
    assert_eq!(route(&get, "/items"), Routing::Endpoint(Endpoint::Items));
    assert_eq!(route(&get, "/items/42"), Routing::Endpoint(Endpoint::Item { id: "42" }));
    assert_eq!(route(&Method::POST, "/orders"), Routing::Endpoint(Endpoint::CreateOrder));
    assert_eq!(route(&get, "/orders/9"), Routing::Endpoint(Endpoint::Order { id: "9" }));
    assert_eq!(
        route(&get, "/customers/7/orders"),
        Routing::Endpoint(Endpoint::CustomerOrders { id: "7" })
    );
}

#[test]
fn keeps_bad_ids_for_the_handler_to_explain() {
    assert_eq!(route(&Method::GET, "/items/abc"), Routing::Endpoint(Endpoint::Item { id: "abc" }));
}

#[test]
fn wrong_method_is_not_a_missing_path() {
    assert_eq!(route(&Method::GET, "/orders"), Routing::MethodNotAllowed { route: Route::Orders });
    assert_eq!(
        route(&Method::DELETE, "/items/1"),
        Routing::MethodNotAllowed { route: Route::Item }
    );
}

#[test]
fn unknown_paths_are_not_found() {
    for path in ["/", "", "/items/", "/items/1/2", "/customers/1", "/customers//orders", "/x"] {
        assert_eq!(route(&Method::GET, path), Routing::NotFound, "{path:?}");
    }
}

#[test]
fn route_indexes_are_dense() {
    for (idx, route) in Route::ALL.iter().enumerate() {
        assert_eq!(route.index(), idx);
    }
}
