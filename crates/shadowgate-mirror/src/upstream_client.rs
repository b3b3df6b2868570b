//! HTTP clients for upstreams (primary, shadows, replay targets), each with its own connection
//! pool, and helpers to read a response body under a cap.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioTimer},
};

use crate::{config::Upstream, http_message::ExchangeFailure};

/// Builds a pooled client for one upstream. A separate client per upstream keeps a slow
/// shadow's connections from ever competing with the primary's.
pub fn build_client<B>(upstream: &Upstream, max_idle_connections: usize) -> Client<HttpConnector, B>
where
    B: Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(max_idle_connections)
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .http2_only(upstream.is_http2())
        .build(connector)
}

/// Maps a client error onto the failure kinds that metrics and reports use.
pub fn classify_client_error(error: &hyper_util::client::legacy::Error) -> ExchangeFailure {
    if error.is_connect() { ExchangeFailure::Connect } else { ExchangeFailure::Protocol }
}

/// Reads a whole body, keeping at most `keep_limit` bytes. Returns the kept bytes and whether
/// anything was left out. The rest is still read, so the connection can be reused.
pub async fn read_body_capped(
    mut body: Incoming,
    keep_limit: usize,
) -> Result<(Bytes, bool), hyper::Error> {
    let mut kept = BytesMut::new();
    let mut truncated = false;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        let room = keep_limit.saturating_sub(kept.len());
        if data.len() > room {
            truncated = true;
        }
        kept.extend_from_slice(&data[..data.len().min(room)]);
    }
    Ok((kept.freeze(), truncated))
}
