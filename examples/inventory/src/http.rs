//! HTTP plumbing shared by the handlers: response bodies, the error shape clients see, and
//! query-string parsing.
//!
//! Every error response has the same JSON shape, `{"error": ..., "field": ..., "help": ...}`,
//! where `field` names the parameter or body field at fault and `help` says what to send
//! instead, so a client (or a person reading a diff of baseline and candidate responses) can
//! act on it without reading the source.

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;

/// The body type of every response.
pub type Body = Full<Bytes>;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A response with a JSON body.
pub fn json_response(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, JSON);
    response
}

/// Serializes `value` as a JSON response.
pub fn json_value_response(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(body) => json_response(status, body),
        Err(err) => ApiError::internal(&err).into_response(),
    }
}

/// An error answered to the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// The query parameter, path parameter or body field at fault.
    pub field: Option<String>,
    /// What to send instead.
    pub help: Option<String>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), field: None, help: None }
    }

    /// A 400 about one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message).with_field(field)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// A 500. The cause is written to standard error; the client learns only that it failed.
    pub fn internal(cause: &dyn std::error::Error) -> ApiError {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(err) = source {
            chain.push_str(": ");
            chain.push_str(&err.to_string());
            source = err.source();
        }
        eprintln!("internal error: {chain}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server's log")
    }

    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> ApiError {
        self.help = Some(help.into());
        self
    }

    pub fn into_response(self) -> Response<Body> {
        let body = ErrorBody {
            error: &self.message,
            field: self.field.as_deref(),
            help: self.help.as_deref(),
        };
        // Serializing three strings cannot fail; the fallback keeps this path panic-free.
        let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"error\":\"error\"}".to_vec());
        json_response(self.status, bytes)
    }
}

/// The decoded `name=value` pairs of a query string, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Query<'a> {
    /// Parses `a=1&b=two%20words`. Malformed escapes are kept literally rather than rejected.
    pub fn parse(query: Option<&'a str>) -> Query<'a> {
        let pairs = query
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(name), percent_decode(value))
            })
            .collect();
        Query { pairs }
    }

    /// The first value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_ref())
    }

    /// An integer parameter within `min..=max`, `default` when absent.
    pub fn bounded_u32(
        &self,
        name: &str,
        default: u32,
        min: u32,
        max: u32,
    ) -> Result<u32, ApiError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        match raw.parse::<u32>() {
            Ok(value) if (min..=max).contains(&value) => Ok(value),
            _ => Err(ApiError::invalid(
                name,
                format!(
                    "query parameter `{name}` must be an integer from {min} to {max}, got {raw:?}"
                ),
            )
            .with_help(format!("omit `{name}` for the default of {default}"))),
        }
    }
}

/// Decodes `%XX` escapes and `+` (a space in form encoding), borrowing when nothing changes.
pub fn percent_decode(text: &str) -> Cow<'_, str> {
    if !text.contains(['%', '+']) {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut idx = 0;
    while idx < bytes.len() {
        match bytes[idx] {
            b'+' => decoded.push(b' '),
            b'%' if idx + 2 < bytes.len() => {
                match (hex_value(bytes[idx + 1]), hex_value(bytes[idx + 2])) {
                    (Some(high), Some(low)) => {
                        decoded.push(high << 4 | low);
                        idx += 2;
                    }
                    _ => decoded.push(b'%'),
                }
            }
            other => decoded.push(other),
        }
        idx += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&decoded).into_owned())
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Parses a positive id from a path segment such as the `42` of `/items/42`.
pub fn path_id(raw: &str, template: &str) -> Result<i64, ApiError> {
    match raw.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ApiError::invalid(
            "id",
            format!("`{{id}}` in {template} must be a positive integer, got {raw:?}"),
        )),
    }
}

#[cfg(test)]
mod tests;
