//! Turning a planned request into an HTTP request for one target.

use std::str::FromStr;

use bytes::Bytes;
use http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, Uri,
    header::{CONTENT_LENGTH, HOST},
    uri::{Authority, PathAndQuery, Scheme},
};
use http_body_util::Full;
use shadowgate_core::traffic::{Protocol, RequestContent};

use crate::{LoadError, Target};

/// The body type of every request sent.
pub(crate) type RequestBody = Full<Bytes>;

/// Builds one target's requests. Request kinds without parameters are built once and cloned
/// after that, which keeps the closed-loop mode's per-request cost low.
#[derive(Clone, Debug)]
pub(crate) struct RequestBuilder {
    protocol: Protocol,
    authority: Authority,
    host: HeaderValue,
    fixed: Vec<Option<PreparedRequest>>,
    fixed_wire: Vec<Option<Bytes>>,
}

/// A request's parts, ready to be turned into a [`Request`] any number of times.
#[derive(Clone, Debug)]
struct PreparedRequest {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl PreparedRequest {
    /// The HTTP/1.1 message: request line, headers, a Content-Length when there is a body or
    /// the method usually carries one, and the body.
    fn to_wire(&self) -> Bytes {
        let mut wire = Vec::with_capacity(128 + self.body.len());
        wire.extend_from_slice(self.method.as_str().as_bytes());
        wire.push(b' ');
        wire.extend_from_slice(self.uri.path_and_query().map_or("/", |p| p.as_str()).as_bytes());
        wire.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in &self.headers {
            wire.extend_from_slice(name.as_str().as_bytes());
            wire.extend_from_slice(b": ");
            wire.extend_from_slice(value.as_bytes());
            wire.extend_from_slice(b"\r\n");
        }
        let usually_has_body = matches!(self.method, Method::POST | Method::PUT | Method::PATCH);
        if (!self.body.is_empty() || usually_has_body) && !self.headers.contains_key(CONTENT_LENGTH)
        {
            wire.extend_from_slice(format!("content-length: {}\r\n", self.body.len()).as_bytes());
        }
        wire.extend_from_slice(b"\r\n");
        wire.extend_from_slice(&self.body);
        Bytes::from(wire)
    }

    fn to_request(&self) -> Request<RequestBody> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

impl RequestBuilder {
    /// `kinds` is the number of request kinds in the plan.
    pub fn new(
        target: &Target,
        protocol: Protocol,
        kinds: usize,
    ) -> Result<RequestBuilder, LoadError> {
        let invalid = |reason: String| LoadError::InvalidHost {
            target: target.name.clone(),
            host: target.host.clone(),
            reason,
        };
        let authority = Authority::from_str(&target.host).map_err(|e| invalid(e.to_string()))?;
        let host = HeaderValue::from_str(&target.host).map_err(|e| invalid(e.to_string()))?;
        Ok(RequestBuilder {
            protocol,
            authority,
            host,
            fixed: vec![None; kinds],
            fixed_wire: vec![None; kinds],
        })
    }

    /// The request for `content`, or why it cannot be sent.
    pub fn build(&mut self, content: &RequestContent<'_>) -> Result<Request<RequestBody>, String> {
        if !content.varies
            && let Some(Some(prepared)) = self.fixed.get(content.kind)
        {
            return Ok(prepared.to_request());
        }
        let prepared = self.prepare(content)?;
        let request = prepared.to_request();
        if !content.varies
            && let Some(slot) = self.fixed.get_mut(content.kind)
        {
            *slot = Some(prepared);
        }
        Ok(request)
    }

    /// The request for `content` as HTTP/1.1 bytes ready to be written, and whether it is a
    /// HEAD request (whose response has no body).
    pub fn build_wire(&mut self, content: &RequestContent<'_>) -> Result<(Bytes, bool), String> {
        let head = content.method == "HEAD";
        if !content.varies
            && let Some(Some(bytes)) = self.fixed_wire.get(content.kind)
        {
            return Ok((bytes.clone(), head));
        }
        let bytes = self.prepare(content)?.to_wire();
        if !content.varies
            && let Some(slot) = self.fixed_wire.get_mut(content.kind)
        {
            *slot = Some(bytes.clone());
        }
        Ok((bytes, head))
    }

    fn prepare(&self, content: &RequestContent<'_>) -> Result<PreparedRequest, String> {
        let method = Method::from_bytes(content.method.as_bytes())
            .map_err(|_| format!("`{}` is not a valid HTTP method", content.method))?;
        let path = PathAndQuery::from_str(&content.path)
            .map_err(|e| format!("the path `{}` is not a valid URL path: {e}", content.path))?;
        let mut headers = HeaderMap::with_capacity(content.headers.len() + 1);
        let uri = match self.protocol {
            // HTTP/1.1 carries the origin form and a Host header.
            Protocol::Http1 => {
                headers.insert(HOST, self.host.clone());
                Uri::from(path)
            }
            // HTTP/2 carries the scheme and authority as pseudo-headers, taken from the URI.
            Protocol::Http2 => Uri::builder()
                .scheme(Scheme::HTTP)
                .authority(self.authority.clone())
                .path_and_query(path)
                .build()
                .map_err(|e| format!("cannot build the request URL: {e}"))?,
        };
        for (name, value) in content.headers.iter() {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{name}` is not a valid header name"))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("the value of header `{name}` is not valid: {value:?}"))?;
            headers.insert(name, value);
        }
        Ok(PreparedRequest {
            method,
            uri,
            headers,
            body: Bytes::copy_from_slice(content.body.as_bytes()),
        })
    }
}
