//! The errors of the proxy's control operations, with the HTTP status Toxiproxy gives each.

use std::io;

/// Why a control operation (create, update, delete a proxy or a toxic) failed.
///
/// The messages begin with Toxiproxy's own wording (`proxy not found`, `bad request body`, ...)
/// and go on to say which value was wrong and what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FaultProxyError {
    /// The request body or one of its values is malformed.
    #[error("bad request body: {0}")]
    BadRequestBody(String),
    /// A field that has no default was not given.
    #[error("missing required field: {0}")]
    MissingField(String),
    #[error("proxy not found: no proxy is named `{0}`")]
    ProxyNotFound(String),
    #[error("proxy already exists: a proxy named `{0}` exists; delete it first or use /populate")]
    ProxyAlreadyExists(String),
    #[error("toxic not found: proxy `{proxy}` has no toxic named `{toxic}`")]
    ToxicNotFound { proxy: String, toxic: String },
    #[error(
        "toxic already exists: proxy `{proxy}` already has a toxic named `{toxic}`; give the new one another `name`"
    )]
    ToxicAlreadyExists { proxy: String, toxic: String },
    #[error("stream was invalid, can be either upstream or downstream (got `{0}`)")]
    InvalidStream(String),
    #[error(
        "invalid toxic type: `{0}`; use one of latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data"
    )]
    InvalidToxicType(String),
    /// The proxy's listening socket could not be opened.
    #[error("listen {address}: {source}; choose another address, or port 0 for a free one")]
    Listen {
        address: String,
        #[source]
        source: io::Error,
    },
}

impl FaultProxyError {
    /// The HTTP status Toxiproxy answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            FaultProxyError::BadRequestBody(_)
            | FaultProxyError::MissingField(_)
            | FaultProxyError::InvalidStream(_)
            | FaultProxyError::InvalidToxicType(_) => 400,
            FaultProxyError::ProxyNotFound(_) | FaultProxyError::ToxicNotFound { .. } => 404,
            FaultProxyError::ProxyAlreadyExists(_) | FaultProxyError::ToxicAlreadyExists { .. } => {
                409
            }
            // Toxiproxy has no status of its own for a failed bind and answers 500.
            FaultProxyError::Listen { .. } => 500,
        }
    }
}
