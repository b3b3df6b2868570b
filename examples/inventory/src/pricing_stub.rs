//! A stand-in for the pricing dependency, so the demo needs nothing outside this package.
//!
//! `inventory pricing-stub --listen ADDR` answers `GET /prices/{id}` with a price that is a
//! fixed function of the id. shadowgate puts its fault proxy between the service and this
//! stub to show what a slow or failing dependency does to each release.

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Serialize;
use shadowgate_core::rng::Rng;
use std::future::Future;
use tokio::net::TcpListener;

use crate::{
    http::{ApiError, Body, json_value_response, path_id},
    server::serve_with,
};

/// The stub's price of an item: between $1 and $2,000, the same on every run.
pub fn stub_price_cents(item_id: i64) -> i64 {
    100 + (Rng::seed(item_id as u64).next_u64() % 199_901) as i64
}

#[derive(Serialize)]
struct PriceBody {
    item_id: i64,
    price_cents: i64,
}

/// Answers one request to the stub.
pub fn answer(method: &Method, path: &str) -> Response<Body> {
    let outcome = match path.strip_prefix("/prices/") {
        Some(id) if *method == Method::GET => path_id(id, "/prices/{id}").map(|item_id| {
            json_value_response(
                StatusCode::OK,
                &PriceBody { item_id, price_cents: stub_price_cents(item_id) },
            )
        }),
        Some(_) => Err(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "use GET")),
        None => Err(ApiError::not_found(format!("no endpoint at {path}; try /prices/{{id}}"))),
    };
    outcome.unwrap_or_else(ApiError::into_response)
}

/// Serves the stub on `listener` until `shutdown` completes.
pub async fn serve(listener: TcpListener, shutdown: impl Future<Output = ()>) {
    serve_with(
        listener,
        |request: Request<Incoming>| {
            let response = answer(request.method(), request.uri().path());
            async move { response }
        },
        shutdown,
    )
    .await;
}

#[cfg(test)]
mod tests;
