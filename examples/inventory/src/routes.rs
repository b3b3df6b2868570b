//! Routing: which endpoint a method and path name.
//!
//! Routes are matched by hand over path segments; with seven endpoints a table of `match`
//! arms is clearer and cheaper than a router dependency. Every route has a fixed label (the
//! path template), which is what metrics are keyed by, so that ids in paths never become
//! label values.

use http::Method;

/// A route template, the unit metrics are reported by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    Healthz,
    Metrics,
    Item,
    Items,
    Orders,
    Order,
    CustomerOrders,
    /// Any path that is not one of the above.
    Unmatched,
}

impl Route {
    /// Every route, in the order metrics list them.
    pub const ALL: [Route; 8] = [
        Route::Healthz,
        Route::Metrics,
        Route::Item,
        Route::Items,
        Route::Orders,
        Route::Order,
        Route::CustomerOrders,
        Route::Unmatched,
    ];

    /// The `route` label value: the path template.
    pub fn label(self) -> &'static str {
        match self {
            Route::Healthz => "/healthz",
            Route::Metrics => "/metrics",
            Route::Item => "/items/{id}",
            Route::Items => "/items",
            Route::Orders => "/orders",
            Route::Order => "/orders/{id}",
            Route::CustomerOrders => "/customers/{id}/orders",
            Route::Unmatched => "unmatched",
        }
    }

    /// The one method the route answers.
    pub fn method(self) -> Option<Method> {
        match self {
            Route::Orders => Some(Method::POST),
            Route::Unmatched => None,
            _ => Some(Method::GET),
        }
    }

    /// A dense index, for per-route arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// An endpoint with its raw path parameter, still unparsed so the handler can explain a bad one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint<'a> {
    Healthz,
    Metrics,
    Item { id: &'a str },
    Items,
    CreateOrder,
    Order { id: &'a str },
    CustomerOrders { id: &'a str },
}

/// The outcome of routing one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routing<'a> {
    Endpoint(Endpoint<'a>),
    /// The path exists but not for this method.
    MethodNotAllowed {
        route: Route,
    },
    NotFound,
}

impl Endpoint<'_> {
    pub fn route(&self) -> Route {
        match self {
            Endpoint::Healthz => Route::Healthz,
            Endpoint::Metrics => Route::Metrics,
            Endpoint::Item { .. } => Route::Item,
            Endpoint::Items => Route::Items,
            Endpoint::CreateOrder => Route::Orders,
            Endpoint::Order { .. } => Route::Order,
            Endpoint::CustomerOrders { .. } => Route::CustomerOrders,
        }
    }
}

impl Routing<'_> {
    pub fn route(&self) -> Route {
        match self {
            Routing::Endpoint(endpoint) => endpoint.route(),
            Routing::MethodNotAllowed { route } => *route,
            Routing::NotFound => Route::Unmatched,
        }
    }
}

/// Routes a request by method and path (without the query string).
pub fn route<'a>(method: &Method, path: &'a str) -> Routing<'a> {
    let Some(rest) = path.strip_prefix('/') else {
        return Routing::NotFound;
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let endpoint = match segments.as_slice() {
        ["healthz"] => Endpoint::Healthz,
        ["metrics"] => Endpoint::Metrics,
        ["items"] => Endpoint::Items,
        ["items", id] if !id.is_empty() => Endpoint::Item { id },
        ["orders"] => Endpoint::CreateOrder,
        ["orders", id] if !id.is_empty() => Endpoint::Order { id },
        ["customers", id, "orders"] if !id.is_empty() => Endpoint::CustomerOrders { id },
        _ => return Routing::NotFound,
    };
    let route = endpoint.route();
    if route.method().as_ref() == Some(method) {
        Routing::Endpoint(endpoint)
    } else {
        Routing::MethodNotAllowed { route }
    }
}

#[cfg(test)]
mod tests;
