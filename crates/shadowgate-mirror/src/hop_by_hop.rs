//! Hop-by-hop headers, which describe one connection and must not be forwarded (RFC 9110 §7.6.1).

use http::{HeaderMap, HeaderName, header};

/// The headers that are always connection-specific, besides those that `Connection` names.
const ALWAYS_HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
];

/// Removes hop-by-hop headers in place, including any header that `Connection` lists.
pub fn strip_hop_by_hop_headers(headers: &mut HeaderMap) {
    if headers.is_empty() {
        return;
    }
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed.iter().chain(ALWAYS_HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
}

/// Whether a header is connection-specific and therefore meaningless to compare or replay.
pub fn is_hop_by_hop(name: &HeaderName) -> bool {
    ALWAYS_HOP_BY_HOP.contains(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn removes_fixed_and_connection_listed_headers_only() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive, x-hop-only"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("x-hop-only", HeaderValue::from_static("1"));
        headers.insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        strip_hop_by_hop_headers(&mut headers);
        let names: Vec<&str> = headers.keys().map(|name| name.as_str()).collect();
        assert_eq!(names, ["content-type"]);
    }
}
