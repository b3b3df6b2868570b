//! Dedicated upstream connections, and a stack of idle ones for reuse.
//!
//! The proxy keeps one upstream connection per client connection (and one per mirror lane and
//! shadow) instead of checking a connection out of a shared pool for every request. An HTTP/1.1
//! client sends one request at a time, so its upstream connection is always free when the next
//! request comes; no pool lookup, lock or connect race is paid per request. When a client
//! connection closes, its upstream connection goes to the idle stack for the next client.

use std::{sync::Mutex, time::Duration};

use http::Request;
use hyper::{
    body::{Body, Incoming},
    client::conn::{http1, http2},
};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::{config::Upstream, http_message::ExchangeFailure};

/// One connection to an upstream.
pub(crate) struct UpstreamConnection<B> {
    sender: Sender<B>,
}

enum Sender<B> {
    Http1(http1::SendRequest<B>),
    Http2(http2::SendRequest<B>),
}

/// Why a request did not get a response on a connection.
pub(crate) enum SendFailure<B> {
    /// The connection was closed before the request was written; the request comes back
    /// untouched and may be sent on another connection.
    NotSent(Box<Request<B>>),
    /// The exchange failed after the request was (at least partly) written.
    Failed,
}

impl<B> UpstreamConnection<B>
where
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// Opens a connection: TCP within `connect_timeout`, then the HTTP handshake.
    pub(crate) async fn connect(
        upstream: &Upstream,
        connect_timeout: Duration,
    ) -> Result<Self, ExchangeFailure> {
        let stream = match tokio::time::timeout(
            connect_timeout,
            TcpStream::connect(upstream.socket_target()),
        )
        .await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(_)) => return Err(ExchangeFailure::Connect),
            Err(_) => return Err(ExchangeFailure::Timeout),
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(stream);
        let sender = if upstream.is_http2() {
            let (sender, connection) = http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(|_| ExchangeFailure::Protocol)?;
            tokio::spawn(connection);
            Sender::Http2(sender)
        } else {
            let (sender, connection) =
                http1::handshake(io).await.map_err(|_| ExchangeFailure::Protocol)?;
            tokio::spawn(connection);
            Sender::Http1(sender)
        };
        Ok(UpstreamConnection { sender })
    }

    pub(crate) fn is_closed(&self) -> bool {
        match &self.sender {
            Sender::Http1(sender) => sender.is_closed(),
            Sender::Http2(sender) => sender.is_closed(),
        }
    }

    /// Sends a request once the connection is free (an HTTP/1.1 connection is busy until the
    /// previous response body has been read).
    pub(crate) async fn send(
        &mut self,
        request: Request<B>,
    ) -> Result<http::Response<Incoming>, SendFailure<B>> {
        let ready = match &mut self.sender {
            Sender::Http1(sender) => sender.ready().await,
            Sender::Http2(sender) => sender.ready().await,
        };
        if ready.is_err() {
            return Err(SendFailure::NotSent(Box::new(request)));
        }
        let sent = match &mut self.sender {
            Sender::Http1(sender) => sender.try_send_request(request).await,
            Sender::Http2(sender) => sender.try_send_request(request).await,
        };
        sent.map_err(|mut error| match error.take_message() {
            Some(request) => SendFailure::NotSent(Box::new(request)),
            None => SendFailure::Failed,
        })
    }
}

/// Sends a request on `slot`'s connection (opening one if there is none or it has closed), and
/// retries once on a fresh connection when the old one turns out to be closed before the request
/// was written. The connection is left in `slot` for reuse unless the exchange failed.
pub(crate) async fn send_on<B>(
    slot: &mut Option<UpstreamConnection<B>>,
    upstream: &Upstream,
    connect_timeout: Duration,
    request: Request<B>,
) -> Result<http::Response<Incoming>, ExchangeFailure>
where
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut request = request;
    for _attempt in 0..2 {
        let mut connection = match slot.take().filter(|connection| !connection.is_closed()) {
            Some(connection) => connection,
            None => UpstreamConnection::connect(upstream, connect_timeout).await?,
        };
        match connection.send(request).await {
            Ok(response) => {
                *slot = Some(connection);
                return Ok(response);
            }
            Err(SendFailure::NotSent(returned)) => request = *returned,
            Err(SendFailure::Failed) => return Err(ExchangeFailure::Protocol),
        }
    }
    Err(ExchangeFailure::Protocol)
}

/// Idle connections to one upstream, most recently used on top.
pub(crate) struct IdleConnections<B> {
    idle: Mutex<Vec<UpstreamConnection<B>>>,
    max_idle: usize,
}

impl<B> IdleConnections<B>
where
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    pub(crate) fn new(max_idle: usize) -> IdleConnections<B> {
        IdleConnections { idle: Mutex::new(Vec::new()), max_idle }
    }

    /// An idle connection that is still open, if there is one.
    pub(crate) fn take(&self) -> Option<UpstreamConnection<B>> {
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while let Some(connection) = idle.pop() {
            if !connection.is_closed() {
                return Some(connection);
            }
        }
        None
    }

    /// Keeps a connection for reuse, unless it has closed or the stack is full.
    pub(crate) fn give_back(&self, connection: UpstreamConnection<B>) {
        if connection.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(connection);
        }
    }
}
