//! The client of the optional pricing dependency.
//!
//! With `--pricing-url`, `GET /items/{id}` asks `GET {pricing-url}/prices/{id}` for the current
//! price (`{"price_cents": 1234}`) and falls back to the catalog's list price when the
//! dependency fails. Whether a *slow* dependency counts as failed is up to the release: the
//! client itself sets no deadline (see [`crate::release::Release::quote`]).

use std::{error::Error as StdError, time::Duration};

use bytes::Bytes;
use http::{Uri, uri::Scheme};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde::Deserialize;

/// The largest pricing response body accepted.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Where a price came from, as reported in the item response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceSource {
    /// No pricing dependency is configured: the catalog's list price.
    Catalog,
    /// The pricing dependency answered.
    Pricing,
    /// The pricing dependency failed or timed out: the catalog's list price.
    Fallback,
}

impl PriceSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PriceSource::Catalog => "catalog",
            PriceSource::Pricing => "pricing",
            PriceSource::Fallback => "fallback",
        }
    }
}

/// A validated `--pricing-url`: an `http://` URL with a host, a port and an optional path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricingUrl {
    authority: String,
    base_path: String,
}

/// Why a `--pricing-url` was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--pricing-url {url:?}: {problem}")]
pub struct PricingUrlError {
    pub url: String,
    pub problem: String,
}

impl PricingUrl {
    pub fn parse(url: &str) -> Result<PricingUrl, PricingUrlError> {
        let refuse = |problem: &str| {
            Err(PricingUrlError { url: url.to_string(), problem: problem.to_string() })
        };
        let Ok(uri) = url.parse::<Uri>() else {
            return refuse("not a URL; expected e.g. http://127.0.0.1:9000");
        };
        if uri.scheme() != Some(&Scheme::HTTP) {
            return refuse("only plain http:// URLs are supported, e.g. http://127.0.0.1:9000");
        }
        let Some(authority) = uri.authority() else {
            return refuse("the URL has no host; expected e.g. http://127.0.0.1:9000");
        };
        if authority.port_u16().is_none() {
            return refuse("give the port explicitly, e.g. http://127.0.0.1:9000");
        }
        if uri.query().is_some() {
            return refuse("remove the query string; the client appends /prices/{id} to the path");
        }
        Ok(PricingUrl {
            authority: authority.as_str().to_string(),
            base_path: uri.path().trim_end_matches('/').to_string(),
        })
    }

    fn price_uri(&self, item_id: i64) -> Result<Uri, http::uri::InvalidUri> {
        format!("http://{}{}/prices/{item_id}", self.authority, self.base_path).parse()
    }
}

/// Why the pricing dependency gave no usable price.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PricingError {
    #[error("pricing request URI is invalid")]
    Uri(#[from] http::uri::InvalidUri),
    #[error("pricing request failed")]
    Request(#[source] hyper_util::client::legacy::Error),
    #[error("pricing answered with status {0}")]
    Status(http::StatusCode),
    #[error("pricing response body could not be read")]
    Body(#[source] Box<dyn StdError + Send + Sync>),
    #[error("pricing response is not a price")]
    Json(#[source] serde_json::Error),
    #[error("pricing answered with a negative price ({0} cents)")]
    NegativePrice(i64),
    #[error("pricing did not answer within {0:?}")]
    TimedOut(Duration),
}

#[derive(Deserialize)]
struct PriceResponse {
    price_cents: i64,
}

/// An HTTP client of the pricing dependency, with pooled keep-alive connections.
#[derive(Clone, Debug)]
pub struct PricingClient {
    url: PricingUrl,
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl PricingClient {
    pub fn new(url: PricingUrl) -> PricingClient {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        PricingClient { url, client }
    }

    /// Asks for the current price of one item, waiting as long as the dependency takes.
    pub async fn fetch(&self, item_id: i64) -> Result<i64, PricingError> {
        let uri = self.url.price_uri(item_id)?;
        let response = self.client.get(uri).await.map_err(PricingError::Request)?;
        if !response.status().is_success() {
            return Err(PricingError::Status(response.status()));
        }
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(PricingError::Body)?
            .to_bytes();
        let quote: PriceResponse = serde_json::from_slice(&body).map_err(PricingError::Json)?;
        if quote.price_cents < 0 {
            return Err(PricingError::NegativePrice(quote.price_cents));
        }
        Ok(quote.price_cents)
    }
}

#[cfg(test)]
mod tests;
