//! Toxiproxy's HTTP API over a [`FaultProxy`], so that every existing Toxiproxy client works.
//!
//! Routes, methods, status codes and JSON shapes are Toxiproxy's: `GET/POST /proxies`,
//! `POST /populate`, `POST /reset`, `GET /version`, `GET/POST/PATCH/DELETE /proxies/{proxy}`,
//! `GET/POST /proxies/{proxy}/toxics` and `GET/POST/PATCH/DELETE /proxies/{proxy}/toxics/{toxic}`.
//! Errors are `{"error": "...", "status": N}`. Like Toxiproxy, requests from browsers are
//! refused, so that a web page cannot drive the proxy through the user's browser.
//!
//! Where this server deliberately differs from Toxiproxy:
//! - A proxy created without `listen` listens on `127.0.0.1` with a free port, not on every
//!   interface.
//! - Toxic attributes are checked: an unknown attribute name, a negative or fractional value,
//!   or an impossible combination (a slicer's `size_variation` not below its `average_size`) is
//!   a 400 error naming the attribute, where Toxiproxy would ignore it or misbehave.
//! - Error messages keep Toxiproxy's wording at the start and then say which value was wrong.
//! - `/version` reports this crate's version, and `/metrics` is not served.

mod wire;

use std::{
    collections::BTreeMap,
    convert::Infallible,
    future::{Future, pending},
    io,
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use tokio::net::TcpListener;

use crate::{
    error::FaultProxyError,
    registry::{FaultProxy, ProxySpec},
};
use wire::{ErrorJson, PopulateJson, ProxyBody, ProxyJson, ToxicBody, ToxicJson, decode};

/// The largest request body accepted. Toxiproxy's bodies are a few hundred bytes.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);
/// The version `/version` reports.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Serves the API on `listener` until accepting fails for good.
pub async fn serve(listener: TcpListener, proxy: FaultProxy) -> io::Result<()> {
    serve_with_shutdown(listener, proxy, pending()).await
}

/// Serves the API on `listener` until `shutdown` completes. Proxies keep running; call
/// [`FaultProxy::shutdown`] to stop them too.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    proxy: FaultProxy,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            // Running out of file descriptors or memory passes; wait a little and go on.
            Err(error) if is_transient(&error) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            Err(error) => return Err(error),
        };
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let proxy = proxy.clone();
                async move { Ok::<_, Infallible>(handle(&proxy, request).await) }
            });
            let mut builder = http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
            // A client that goes away mid-request is no concern of the server's.
            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::OutOfMemory // ENFILE, EMFILE and ENOBUFS on Linux: out of file descriptors or buffers, for now.
    ) || matches!(error.raw_os_error(), Some(23 | 24 | 105))
}

/// One API request, answered.
async fn handle(proxy: &FaultProxy, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let from_browser = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|agent| agent.to_str().ok())
        .is_some_and(|agent| agent.starts_with("Mozilla/"));
    if from_browser {
        return error_response(
            StatusCode::FORBIDDEN,
            "user agent not allowed: the API refuses browsers so that web pages cannot drive it"
                .to_string(),
        );
    }
    let method = request.method().clone();
    let segments = match path_segments(request.uri().path()) {
        Ok(segments) => segments,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, message),
    };
    let Some((route, allowed)) = Route::parse(&segments) else {
        return error_response(
            StatusCode::NOT_FOUND,
            format!("not found: no API endpoint at {}", request.uri().path()),
        );
    };
    if !allowed.contains(&method) {
        let allow: Vec<&str> = allowed.iter().map(Method::as_str).collect();
        let mut response = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method not allowed: {} accepts {}", request.uri().path(), allow.join(", ")),
        );
        if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
            response.headers_mut().insert(header::ALLOW, value);
        }
        return response;
    }
    let body = if method == Method::POST || method == Method::PATCH {
        match Limited::new(request.into_body(), MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => {
                return error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("bad request body: larger than {MAX_BODY_BYTES} bytes"),
                );
            }
            Err(error) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    format!("bad request body: {error}"),
                );
            }
        }
    } else {
        Bytes::new()
    };
    match route.run(proxy, &method, &body).await {
        Ok(reply) => reply,
        Err(error) => api_error(&error),
    }
}

/// An endpoint, with the proxy and toxic names from its path.
enum Route {
    Proxies,
    Populate,
    Reset,
    Version,
    Proxy(String),
    Toxics(String),
    Toxic(String, String),
}

impl Route {
    /// The route for a path and the methods it accepts.
    fn parse(segments: &[String]) -> Option<(Route, &'static [Method])> {
        const GET_POST: &[Method] = &[Method::GET, Method::POST];
        const ONE: &[Method] = &[Method::GET, Method::POST, Method::PATCH, Method::DELETE];
        let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
        Some(match parts.as_slice() {
            ["proxies"] => (Route::Proxies, GET_POST),
            ["populate"] => (Route::Populate, &[Method::POST]),
            ["reset"] => (Route::Reset, &[Method::POST]),
            ["version"] => (Route::Version, &[Method::GET]),
            ["proxies", proxy] => (Route::Proxy(proxy.to_string()), ONE),
            ["proxies", proxy, "toxics"] => (Route::Toxics(proxy.to_string()), GET_POST),
            ["proxies", proxy, "toxics", toxic] => {
                (Route::Toxic(proxy.to_string(), toxic.to_string()), ONE)
            }
            _ => return None,
        })
    }

    async fn run(
        self,
        proxy: &FaultProxy,
        method: &Method,
        body: &[u8],
    ) -> Result<Response<Full<Bytes>>, FaultProxyError> {
        let reading = *method == Method::GET;
        let deleting = *method == Method::DELETE;
        Ok(match self {
            Route::Proxies if reading => {
                let proxies: BTreeMap<String, ProxyJson> = proxy
                    .proxies()
                    .await
                    .iter()
                    .map(|info| (info.name.clone(), ProxyJson::from(info)))
                    .collect();
                json_response(StatusCode::OK, &proxies)
            }
            Route::Proxies => {
                let spec = decode::<ProxyBody>(body)?.into_spec();
                let created = proxy.create_proxy(spec).await?;
                json_response(StatusCode::CREATED, &ProxyJson::from(&created))
            }
            Route::Populate => return Ok(populate(proxy, body).await),
            Route::Reset => {
                proxy.reset().await?;
                empty_response()
            }
            Route::Version => {
                let mut response =
                    json_response(StatusCode::OK, &BTreeMap::from([("version", VERSION)]));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json;charset=utf-8"),
                );
                response
            }
            Route::Proxy(name) if reading => {
                json_response(StatusCode::OK, &ProxyJson::from(&proxy.proxy(&name).await?))
            }
            Route::Proxy(name) if deleting => {
                proxy.delete_proxy(&name).await?;
                empty_response()
            }
            Route::Proxy(name) => {
                // The proxy must exist before its body is judged, as in Toxiproxy.
                proxy.proxy(&name).await?;
                let update = decode::<ProxyBody>(body)?.into_update();
                let updated = proxy.update_proxy(&name, update).await?;
                json_response(StatusCode::OK, &ProxyJson::from(&updated))
            }
            Route::Toxics(name) if reading => {
                let toxics: Vec<ToxicJson> =
                    proxy.toxics(&name).await?.iter().map(ToxicJson::from).collect();
                json_response(StatusCode::OK, &toxics)
            }
            Route::Toxics(name) => {
                proxy.proxy(&name).await?;
                let toxic = decode::<ToxicBody>(body)?.into_toxic()?;
                let added = proxy.add_toxic(&name, toxic).await?;
                // Toxiproxy answers 200, not 201, to a new toxic.
                json_response(StatusCode::OK, &ToxicJson::from(&added))
            }
            Route::Toxic(name, toxic) if reading => {
                json_response(StatusCode::OK, &ToxicJson::from(&proxy.toxic(&name, &toxic).await?))
            }
            Route::Toxic(name, toxic) if deleting => {
                proxy.remove_toxic(&name, &toxic).await?;
                empty_response()
            }
            Route::Toxic(name, toxic) => {
                proxy.toxic(&name, &toxic).await?;
                let update = decode::<ToxicBody>(body)?.into_update()?;
                let updated = proxy.update_toxic(&name, &toxic, update).await?;
                json_response(StatusCode::OK, &ToxicJson::from(&updated))
            }
        })
    }
}

/// Reads a list of proxies in `/populate`'s JSON format, which is also the format of
/// Toxiproxy's `-config` file: `[{"name": ..., "listen": ..., "upstream": ..., "enabled": ...}]`.
pub fn proxy_specs_from_json(json: &[u8]) -> Result<Vec<ProxySpec>, FaultProxyError> {
    Ok(decode::<Vec<ProxyBody>>(json)?.into_iter().map(ProxyBody::into_spec).collect())
}

async fn populate(proxy: &FaultProxy, body: &[u8]) -> Response<Full<Bytes>> {
    let result = match proxy_specs_from_json(body) {
        Ok(specs) => proxy.populate(specs).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(infos) => json_response(
            StatusCode::CREATED,
            &PopulateJson {
                error: None,
                status: None,
                proxies: infos.iter().map(ProxyJson::from).collect(),
            },
        ),
        Err(error) => json_response(
            status_of(&error),
            &PopulateJson {
                error: Some(error.to_string()),
                status: Some(error.status()),
                proxies: Vec::new(),
            },
        ),
    }
}

/// The path's segments, percent-decoded.
fn path_segments(path: &str) -> Result<Vec<String>, String> {
    path.strip_prefix('/')
        .unwrap_or(path)
        .split('/')
        .map(|segment| {
            percent_decode(segment).ok_or_else(|| {
                format!("bad request path: `{segment}` is not valid percent-encoded UTF-8")
            })
        })
        .collect()
}

fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = segment.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

fn status_of(error: &FaultProxyError) -> StatusCode {
    StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn api_error(error: &FaultProxyError) -> Response<Full<Bytes>> {
    error_response(status_of(error), error.to_string())
}

fn error_response(status: StatusCode, message: String) -> Response<Full<Bytes>> {
    json_response(status, &ErrorJson { error: message, status: status.as_u16() })
}

fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Full<Bytes>> {
    // The bodies are plain structs, maps with string keys and numbers, which always encode.
    let (status, bytes) = match serde_json::to_vec(body) {
        Ok(bytes) => (status, bytes),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"error":"encoding the answer failed","status":500}"#.to_vec(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn empty_response() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

#[cfg(test)]
mod tests;
