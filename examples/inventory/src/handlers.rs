//! The endpoint handlers.
//!
//! Handlers validate their input first and answer a precise 4xx for anything wrong, so that
//! a hostile or sloppy client costs no database work. Database calls run on the pool from
//! [`crate::database`]; the only other I/O is the optional pricing call in
//! `GET /items/{id}`, whose deadline (or lack of one) is the release's choice. Counting a view
//! (`--views`) and publishing a new order (`--events`) only queue a message for a background
//! writer: neither waits nor changes the response.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Serialize;

use crate::{
    cache::{CatalogCache, CatalogEntry, CatalogRequest},
    database::DatabaseError,
    http::{ApiError, Body, Query, json_response, json_value_response, path_id},
    metrics::{self, Gauges, PricingOutcome},
    model::{Item, NewOrder, OrderSummary},
    pricing::{PriceSource, PricingError},
    process,
    queries::CreateOrderError,
    release::Release,
    routes::{Endpoint, Routing, route},
    server::AppState,
};

/// The largest request body accepted (`POST /orders`).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The default and largest page of `GET /items` and `GET /customers/{id}/orders`.
pub const DEFAULT_PAGE: u32 = 20;
pub const MAX_PAGE: u32 = 100;

/// The largest `offset` of `GET /items`.
pub const MAX_OFFSET: u32 = 1_000_000;

/// Routes one request, answers it and records it in the metrics.
pub async fn handle<R: Release>(state: &AppState<R>, request: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let _in_flight = state.metrics.request_started();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let routing = route(&method, &path);
    let outcome = match routing {
        Routing::Endpoint(endpoint) => dispatch(state, endpoint, request).await,
        Routing::MethodNotAllowed { route } => {
            let allow =
                route.method().map_or_else(|| "GET".to_string(), |method| method.to_string());
            let mut response = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{} does not answer {method}", route.label()),
            )
            .with_help(format!("use {allow}"))
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&allow) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            Ok(response)
        }
        Routing::NotFound => Err(ApiError::not_found(format!("no endpoint at {path}")).with_help(
            "the endpoints are /items, /items/{id}, /orders, /orders/{id}, \
             /customers/{id}/orders, /healthz and /metrics",
        )),
    };
    let response = outcome.unwrap_or_else(ApiError::into_response);
    state.metrics.observe(routing.route(), &method, response.status().as_u16(), started.elapsed());
    response
}

async fn dispatch<R: Release>(
    state: &AppState<R>,
    endpoint: Endpoint<'_>,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let target = request.uri().path_and_query().map_or("/", |target| target.as_str()).to_string();
    let query = Query::parse(request.uri().query());
    match endpoint {
        Endpoint::Healthz => healthz(state).await,
        Endpoint::Metrics => Ok(render_metrics(state)),
        Endpoint::Item { id } => item(state, path_id(id, "/items/{id}")?, &target).await,
        Endpoint::Items => items(state, &query, &target).await,
        Endpoint::CreateOrder => create_order(state, request).await,
        Endpoint::Order { id } => order(state, path_id(id, "/orders/{id}")?).await,
        Endpoint::CustomerOrders { id } => {
            customer_orders(state, path_id(id, "/customers/{id}/orders")?, &query).await
        }
    }
}

fn database_error(err: DatabaseError) -> ApiError {
    ApiError::internal(&err)
}

async fn healthz<R: Release>(state: &AppState<R>) -> Result<Response<Body>, ApiError> {
    state.database.run(|connection| connection.ping()).await.map_err(database_error)?;
    #[derive(Serialize)]
    struct Health<'a> {
        status: &'a str,
        release: &'a str,
        schema_version: u32,
    }
    Ok(json_value_response(
        StatusCode::OK,
        &Health {
            status: "ok",
            release: state.release.name(),
            schema_version: state.schema_version,
        },
    ))
}

fn render_metrics<R: Release>(state: &AppState<R>) -> Response<Body> {
    let text = state.metrics.render(&Gauges {
        release: state.release.name(),
        cache: state.cache.stats(),
        process: process::sample(),
    });
    let mut response = Response::new(Body::new(Bytes::from(text)));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(metrics::CONTENT_TYPE));
    response
}

/// `GET /items/{id}`: `{"item": {...}, "price": {"cents": 1234, "source": "catalog"}}`.
async fn item<R: Release>(
    state: &AppState<R>,
    item_id: i64,
    target: &str,
) -> Result<Response<Body>, ApiError> {
    let cache_key = CatalogRequest::Item { item_id, target };
    let entry = match state.cache.get(&cache_key) {
        Some(entry) => entry,
        None => {
            let Some(item) = state
                .database
                .run(move |connection| connection.item(item_id))
                .await
                .map_err(database_error)?
            else {
                return Err(ApiError::not_found(format!("item {item_id} does not exist")));
            };
            let entry = CatalogEntry {
                rendered: Bytes::from(
                    serde_json::to_vec(&item).map_err(|err| ApiError::internal(&err))?,
                ),
                list_price_cents: Some(item.price_cents),
            };
            state.cache.put(&cache_key, entry.clone());
            entry
        }
    };
    let list_price_cents = entry.list_price_cents.unwrap_or(0);
    let (price_cents, source) = match &state.pricing {
        None => (list_price_cents, PriceSource::Catalog),
        Some(pricing) => {
            let outcome = {
                let _waiting = state.metrics.pricing_started();
                state.release.quote(pricing, item_id).await
            };
            match outcome {
                Ok(price_cents) => {
                    state.metrics.pricing_finished(PricingOutcome::Ok);
                    (price_cents, PriceSource::Pricing)
                }
                Err(err) => {
                    let outcome = match err {
                        PricingError::TimedOut(_) => PricingOutcome::Timeout,
                        _ => PricingOutcome::Error,
                    };
                    state.metrics.pricing_finished(outcome);
                    (list_price_cents, PriceSource::Fallback)
                }
            }
        }
    };
    if let Some(views) = &state.views {
        views.offer(item_id);
    }
    let mut body = BytesMut::with_capacity(entry.rendered.len() + 64);
    body.put_slice(b"{\"item\":");
    body.put_slice(&entry.rendered);
    body.put_slice(
        format!(",\"price\":{{\"cents\":{price_cents},\"source\":\"{}\"}}}}", source.as_str())
            .as_bytes(),
    );
    Ok(json_response(StatusCode::OK, body.freeze()))
}

/// `GET /items?category=&limit=&offset=`: a page of the catalog in id order.
async fn items<R: Release>(
    state: &AppState<R>,
    query: &Query<'_>,
    target: &str,
) -> Result<Response<Body>, ApiError> {
    let limit = query.bounded_u32("limit", DEFAULT_PAGE, 1, MAX_PAGE)?;
    let offset = query.bounded_u32("offset", 0, 0, MAX_OFFSET)?;
    let category = match query.get("category") {
        None | Some("") => None,
        Some(category) => Some(category.to_string()),
    };
    let cache_key = CatalogRequest::Listing { target };
    if let Some(entry) = state.cache.get(&cache_key) {
        return Ok(json_response(StatusCode::OK, entry.rendered));
    }
    #[derive(Serialize)]
    struct Listing {
        items: Vec<Item>,
        category: Option<String>,
        limit: u32,
        offset: u32,
    }
    let listing_category = category.clone();
    let items = state
        .database
        .run(move |connection| connection.items(listing_category.as_deref(), limit, offset))
        .await
        .map_err(database_error)?;
    let rendered = serde_json::to_vec(&Listing { items, category, limit, offset })
        .map_err(|err| ApiError::internal(&err))?;
    let rendered = Bytes::from(rendered);
    state
        .cache
        .put(&cache_key, CatalogEntry { rendered: rendered.clone(), list_price_cents: None });
    Ok(json_response(StatusCode::OK, rendered))
}

/// `POST /orders` with `{"customer_id": 1, "lines": [{"item_id": 2, "quantity": 3}]}`.
async fn create_order<R: Release>(
    state: &AppState<R>,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let body = match Limited::new(request.into_body(), MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
            ));
        }
        Err(err) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("the request body could not be read: {err}"),
            ));
        }
    };
    let new_order = parse_new_order(&body)?;
    new_order.validate().map_err(|err| ApiError::invalid(err.field, err.message))?;
    let created_at =
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs() as i64);
    let placed = state
        .database
        .run(move |connection| Ok(connection.create_order(&new_order, created_at)))
        .await
        .map_err(database_error)?;
    match placed {
        Ok(order) => {
            for line in &order.lines {
                state.cache.invalidate_item(line.item_id);
            }
            if let Some(events) = &state.events
                && let Ok(json) = serde_json::to_vec(&order)
            {
                events.offer(Bytes::from(json));
            }
            let mut response = json_value_response(StatusCode::CREATED, &order);
            if let Ok(location) = HeaderValue::from_str(&format!("/orders/{}", order.id)) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            Ok(response)
        }
        Err(err) => Err(order_refusal(err)),
    }
}

fn parse_new_order(body: &[u8]) -> Result<NewOrder, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed: Result<NewOrder, _> = serde_path_to_error::deserialize(&mut deserializer);
    let new_order = parsed.map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." { "body".to_string() } else { path };
        ApiError::invalid(
            field,
            format!("the order is not valid JSON of the expected shape: {}", err.inner()),
        )
        .with_help(r#"send {"customer_id": 1, "lines": [{"item_id": 2, "quantity": 1}]}"#)
    })?;
    deserializer.end().map_err(|err| {
        ApiError::invalid("body", format!("unexpected data after the order: {err}"))
    })?;
    Ok(new_order)
}

fn order_refusal(err: CreateOrderError) -> ApiError {
    match err {
        CreateOrderError::UnknownCustomer { customer_id } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("customer {customer_id} does not exist"),
        )
        .with_field("customer_id"),
        CreateOrderError::UnknownItem { line_idx, item_id } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("item {item_id} does not exist"),
        )
        .with_field(format!("lines[{line_idx}].item_id")),
        CreateOrderError::OutOfStock { line_idx, item_id, requested, available } => ApiError::new(
            StatusCode::CONFLICT,
            format!("item {item_id} has {available} in stock, {requested} requested"),
        )
        .with_field(format!("lines[{line_idx}].quantity"))
        .with_help(format!("order at most {available}")),
        CreateOrderError::Database(err) => ApiError::internal(&err),
        CreateOrderError::Postgres(err) => ApiError::internal(&err),
    }
}

/// `GET /orders/{id}`: one order with its lines.
async fn order<R: Release>(state: &AppState<R>, order_id: i64) -> Result<Response<Body>, ApiError> {
    match state
        .database
        .run(move |connection| connection.order(order_id))
        .await
        .map_err(database_error)?
    {
        Some(order) => Ok(json_value_response(StatusCode::OK, &order)),
        None => Err(ApiError::not_found(format!("order {order_id} does not exist"))),
    }
}

/// `GET /customers/{id}/orders?limit=`: the customer's latest orders, newest first.
async fn customer_orders<R: Release>(
    state: &AppState<R>,
    customer_id: i64,
    query: &Query<'_>,
) -> Result<Response<Body>, ApiError> {
    let limit = query.bounded_u32("limit", DEFAULT_PAGE, 1, MAX_PAGE)?;
    let release = state.release;
    let Some(orders) = state
        .database
        .run(move |connection| release.customer_orders(connection, customer_id, limit))
        .await
        .map_err(database_error)?
    else {
        return Err(ApiError::not_found(format!("customer {customer_id} does not exist")));
    };
    #[derive(Serialize)]
    struct CustomerOrders {
        customer_id: i64,
        orders: Vec<OrderSummary>,
    }
    Ok(json_value_response(StatusCode::OK, &CustomerOrders { customer_id, orders }))
}
