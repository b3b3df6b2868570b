//! Checks of `host:port` addresses and of proxy and toxic names, before anything is opened.

use std::net::SocketAddr;

use crate::error::FaultProxyError;

/// The longest proxy or toxic name accepted, in bytes.
const MAX_NAME_BYTES: usize = 255;

/// Checks a `listen` or `upstream` address: `host:port`, `[ipv6]:port`, or `:port` (all
/// interfaces, as in Toxiproxy). The host is resolved only when the address is used.
pub(crate) fn check_address(field: &str, value: &str) -> Result<(), FaultProxyError> {
    let bad = |why: &str| {
        FaultProxyError::BadRequestBody(format!(
            "{field} `{value}` {why}; write host:port, e.g. 127.0.0.1:6379"
        ))
    };
    let Some((host, port)) = value.rsplit_once(':') else {
        return Err(bad("has no port"));
    };
    if port.parse::<u16>().is_err() {
        return Err(bad("does not end in a port number from 0 to 65535"));
    }
    if field == "upstream" && (host.is_empty() || port == "0") {
        return Err(bad("needs a host and a non-zero port to connect to"));
    }
    let inner = host.strip_prefix('[').and_then(|rest| rest.strip_suffix(']'));
    if let Some(ipv6) = inner {
        if ipv6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad("has an invalid IPv6 address in brackets"));
        }
    } else if host.contains(':') {
        return Err(bad("has an IPv6 address without brackets"));
    } else if host.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/') {
        return Err(bad("has an invalid host name"));
    }
    Ok(())
}

/// Refuses an upstream that is the proxy's own listen address: every connection would connect
/// to the proxy again, without end.
pub(crate) fn check_not_itself(listen: &str, upstream: &str) -> Result<(), FaultProxyError> {
    let (Ok(listen_address), Ok(upstream_address)) =
        (bind_target(listen).parse::<SocketAddr>(), upstream.parse::<SocketAddr>())
    else {
        return Ok(());
    };
    let same_host = listen_address.ip() == upstream_address.ip()
        || (listen_address.ip().is_unspecified() && upstream_address.ip().is_loopback());
    if listen_address.port() != 0 && listen_address.port() == upstream_address.port() && same_host {
        return Err(FaultProxyError::BadRequestBody(format!(
            "upstream `{upstream}` is the proxy's own listen address `{listen}`; point the \
             upstream at the real server"
        )));
    }
    Ok(())
}

/// The address to bind for a `listen` value; an empty host means all IPv4 interfaces.
pub(crate) fn bind_target(listen: &str) -> String {
    match listen.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => listen.to_string(),
    }
}

/// Checks a proxy or toxic name: it must be usable as one segment of an API path.
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), FaultProxyError> {
    if name.is_empty() {
        return Err(FaultProxyError::MissingField("name".to_string()));
    }
    let why = if name.len() > MAX_NAME_BYTES {
        format!("is longer than {MAX_NAME_BYTES} bytes")
    } else if name.contains('/') {
        "contains `/`, which cannot appear in an API path segment".to_string()
    } else if name.chars().any(char::is_control) {
        "contains control characters".to_string()
    } else {
        return Ok(());
    };
    let shown: String = name.chars().take(40).collect();
    Err(FaultProxyError::BadRequestBody(format!(
        "{what} name `{shown}` {why}; choose another name"
    )))
}

#[cfg(test)]
mod tests;
