//! The admin endpoint: `/metrics` (Prometheus text), `/diff` (the live diff as JSON) and
//! `/healthz`, on their own listener so that scrapes never share a port with client traffic.

use std::{
    convert::Infallible,
    sync::{Arc, Mutex},
};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, sync::watch};

use crate::{diff::collector::DiffCollector, metrics::MirrorMetrics};

pub(super) async fn serve(
    listener: TcpListener,
    metrics: Arc<MirrorMetrics>,
    diff: Option<Arc<Mutex<DiffCollector>>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = shutdown.changed() => return,
        };
        let metrics = metrics.clone();
        let diff = diff.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let response = route(&request, &metrics, diff.as_deref());
            async move { Ok::<_, Infallible>(response) }
        });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn route(
    request: &Request<Incoming>,
    metrics: &MirrorMetrics,
    diff: Option<&Mutex<DiffCollector>>,
) -> Response<Full<Bytes>> {
    if request.method() != Method::GET {
        return respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "only GET is served here\n".into(),
        );
    }
    match (request.uri().path(), diff) {
        ("/metrics", _) => {
            respond(StatusCode::OK, "text/plain; version=0.0.4", metrics.render_prometheus())
        }
        ("/healthz", _) => respond(StatusCode::OK, "text/plain", "ok\n".into()),
        ("/diff", Some(collector)) => {
            let report = super::report_of(collector);
            let json = serde_json::to_string_pretty(&report).unwrap_or_default();
            respond(StatusCode::OK, "application/json", json)
        }
        ("/diff", None) => respond(
            StatusCode::NOT_FOUND,
            "text/plain",
            "the live diff is off; start the proxy with --diff\n".into(),
        ),
        _ => respond(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found; try /metrics, /diff or /healthz\n".into(),
        ),
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
