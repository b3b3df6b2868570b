//! The HTTP server: the shared state of a running service and the accept loop.
//!
//! Connections are served by hyper's HTTP/1.1 implementation with keep-alive, each on its own
//! task. On shutdown the listener closes at once and open connections get a grace period to
//! finish their requests; after it the process exits regardless, because a request stuck on a
//! stalled dependency (as v2's can be) must not keep a release from stopping.

use std::{convert::Infallible, future::Future, io, net::SocketAddr, sync::Arc, time::Duration};

use http::{Request, Response};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use tokio::net::TcpListener;

use bytes::Bytes;

use crate::{
    database::Database, handlers, http::Body, metrics::Metrics, outbox::Outbox,
    pricing::PricingClient, release::Release,
};

/// How long a client may take to send a request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long open connections may finish their requests after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long the accept loop backs off after a failed accept (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Everything a request handler can reach.
pub struct AppState<R: Release> {
    pub release: R,
    pub database: Database,
    pub cache: R::Cache,
    /// The pricing dependency, when `--pricing-url` was given.
    pub pricing: Option<PricingClient>,
    pub metrics: Metrics,
    /// Where new orders are published, when `--events` was given.
    pub events: Option<Outbox<Bytes>>,
    /// Where item views are counted, when `--views` was given.
    pub views: Option<Outbox<i64>>,
    /// The schema version found at startup, reported by `/healthz`.
    pub schema_version: u32,
}

impl<R: Release> AppState<R> {
    pub fn new(
        release: R,
        database: Database,
        pricing: Option<PricingClient>,
        schema_version: u32,
    ) -> AppState<R> {
        let cache = release.new_catalog_cache();
        AppState {
            release,
            database,
            cache,
            pricing,
            metrics: Metrics::default(),
            events: None,
            views: None,
            schema_version,
        }
    }
}

/// Serves the inventory API on `listener` until `shutdown` completes.
pub async fn serve<R: Release>(
    state: Arc<AppState<R>>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) {
    serve_with(
        listener,
        move |request| {
            let state = Arc::clone(&state);
            async move { handlers::handle(&state, request).await }
        },
        shutdown,
    )
    .await;
}

/// Serves HTTP/1.1 on `listener` with `handler` until `shutdown` completes, then waits up to
/// [`SHUTDOWN_GRACE`] for open connections.
pub async fn serve_with<H, F>(listener: TcpListener, handler: H, shutdown: impl Future<Output = ()>)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(err) => {
                eprintln!("accept failed: {err}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        // Responses are small and written whole; waiting for more bytes only adds latency.
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let service = service_fn(move |request| {
            let response = handler(request);
            async move { Ok::<_, Infallible>(response.await) }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A connection error (a reset, a malformed request) concerns that client only.
            let _ = connection.await;
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// Binds a listening socket, naming the flag to change when the address is unusable.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, BindError> {
    TcpListener::bind(address).await.map_err(|source| BindError { address, source })
}

/// The listening address could not be bound.
#[derive(Debug, thiserror::Error)]
#[error(
    "could not listen on {address}; pass a free address to --listen, e.g. 127.0.0.1:0 for any port"
)]
pub struct BindError {
    pub address: SocketAddr,
    #[source]
    pub source: io::Error,
}
