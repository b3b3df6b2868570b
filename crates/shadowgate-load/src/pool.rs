//! Connections to one target: a bounded HTTP/1.1 keep-alive pool, or multiplexed HTTP/2.
//!
//! HTTP/1.1 carries one request at a time per connection, so the pool holds at most
//! `max_connections` connections and a request that finds them all busy waits for one (FIFO).
//! The wait is part of the request's latency, because latency is counted from the intended send
//! instant by the caller. HTTP/2 spreads requests over up to `max_connections` connections, each
//! carrying many at once.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Instant,
};

use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::{
    body::Incoming,
    client::conn::{http1, http2},
};
use hyper_util::rt::{TokioExecutor, TokioIo};
use shadowgate_core::traffic::Protocol;
use tokio::sync::Semaphore;

use crate::{
    Target,
    record::{ErrorKind, Failure},
    request::RequestBody,
};

/// How an exchange ended.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub status: Option<u16>,
    pub bytes: u64,
    pub failure: Option<Failure>,
}

impl Outcome {
    pub fn failed(failure: Failure) -> Outcome {
        Outcome { failure: Some(failure), ..Outcome::default() }
    }
}

/// How far a request got, so that a caller that gives up on it knows why.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Waiting for a free connection.
    #[default]
    Queued,
    /// Opening a new connection.
    Connecting,
    /// Handed to a connection at this instant.
    Sent(Instant),
}

/// How often one request may find its connection closed under it before it counts as reset.
const CONNECTION_ATTEMPTS: usize = 3;

pub(crate) struct ConnectionPool {
    target: Target,
    protocol: Protocol,
    /// One permit per HTTP/1.1 connection that may be busy at once.
    permits: Semaphore,
    idle: Mutex<Vec<http1::SendRequest<RequestBody>>>,
    multiplexed: Vec<tokio::sync::Mutex<Option<http2::SendRequest<RequestBody>>>>,
    next_slot: AtomicUsize,
    opened: AtomicU64,
}

impl ConnectionPool {
    pub fn new(target: Target, protocol: Protocol, max_connections: u32) -> ConnectionPool {
        let slots = match protocol {
            Protocol::Http1 => 0,
            Protocol::Http2 => max_connections as usize,
        };
        ConnectionPool {
            target,
            protocol,
            permits: Semaphore::new(max_connections as usize),
            idle: Mutex::new(Vec::new()),
            multiplexed: (0..slots).map(|_| tokio::sync::Mutex::new(None)).collect(),
            next_slot: AtomicUsize::new(0),
            opened: AtomicU64::new(0),
        }
    }

    pub fn connections_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// Sends `request` and reads the whole response. `stage` follows the request's progress,
    /// so that a caller that gives up early still knows how far it got.
    pub async fn send(&self, request: Request<RequestBody>, stage: &mut Stage) -> Outcome {
        match self.protocol {
            Protocol::Http1 => self.send_http1(request, stage).await,
            Protocol::Http2 => self.send_http2(request, stage).await,
        }
    }

    async fn send_http1(&self, mut request: Request<RequestBody>, stage: &mut Stage) -> Outcome {
        // The semaphore is never closed, so acquiring only waits.
        let Ok(_permit) = self.permits.acquire().await else {
            return Outcome::failed(Failure::new(ErrorKind::Other, "the connection pool closed"));
        };
        let mut last_failure = None;
        for _ in 0..CONNECTION_ATTEMPTS {
            let idle = self.idle.lock().map(|mut idle| idle.pop()).unwrap_or_default();
            let mut sender = match idle {
                Some(sender) => sender,
                None => match self.open_http1(stage).await {
                    Ok(sender) => sender,
                    Err(failure) => return Outcome::failed(failure),
                },
            };
            if let Err(err) = sender.ready().await {
                // An idle connection that the server closed: try another one.
                last_failure = Some(Failure::exchange(&err));
                continue;
            }
            *stage = Stage::Sent(Instant::now());
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let outcome = read_response(response).await;
                    if outcome.failure.is_none()
                        && let Ok(mut idle) = self.idle.lock()
                    {
                        idle.push(sender);
                    }
                    return outcome;
                }
                Err(mut err) => match err.take_message() {
                    // The request never left: the connection closed just before. Nothing was
                    // sent, so sending it on another connection is safe for any method.
                    Some(unsent) => {
                        request = unsent;
                        last_failure = Some(Failure::exchange(err.error()));
                    }
                    None => return Outcome::failed(Failure::exchange(err.error())),
                },
            }
        }
        Outcome::failed(last_failure.unwrap_or_else(|| {
            Failure::new(ErrorKind::Reset, "every connection closed before the request was sent")
        }))
    }

    async fn send_http2(&self, request: Request<RequestBody>, stage: &mut Stage) -> Outcome {
        let slot_index = self.next_slot.fetch_add(1, Ordering::Relaxed) % self.multiplexed.len();
        let mut sender = {
            // Holding the slot while connecting makes the other requests of this slot wait for
            // the one connection instead of each opening their own.
            let mut slot = self.multiplexed[slot_index].lock().await;
            match slot.as_ref() {
                Some(sender) if !sender.is_closed() => sender.clone(),
                _ => match self.open_http2(stage).await {
                    Ok(sender) => {
                        *slot = Some(sender.clone());
                        sender
                    }
                    Err(failure) => return Outcome::failed(failure),
                },
            }
        };
        if let Err(err) = sender.ready().await {
            return Outcome::failed(Failure::exchange(&err));
        }
        *stage = Stage::Sent(Instant::now());
        match sender.send_request(request).await {
            Ok(response) => read_response(response).await,
            Err(err) => Outcome::failed(Failure::exchange(&err)),
        }
    }

    async fn open_http1(
        &self,
        stage: &mut Stage,
    ) -> Result<http1::SendRequest<RequestBody>, Failure> {
        *stage = Stage::Connecting;
        let stream = self.target.connect().await.map_err(|e| Failure::connect(&e))?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        let (sender, connection) =
            http1::handshake(TokioIo::new(stream)).await.map_err(|e| Failure::connect(&e))?;
        // The connection task ends when the connection closes; its errors reach the request
        // that was in flight, so the task's own result carries nothing new.
        tokio::spawn(async move {
            let _closed = connection.await;
        });
        Ok(sender)
    }

    async fn open_http2(
        &self,
        stage: &mut Stage,
    ) -> Result<http2::SendRequest<RequestBody>, Failure> {
        *stage = Stage::Connecting;
        let stream = self.target.connect().await.map_err(|e| Failure::connect(&e))?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        let (sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(|e| Failure::connect(&e))?;
        tokio::spawn(async move {
            let _closed = connection.await;
        });
        Ok(sender)
    }
}

/// Reads a response to its end, counting body bytes.
pub(crate) async fn read_response(response: Response<Incoming>) -> Outcome {
    let status = Some(response.status().as_u16());
    let mut body = response.into_body();
    let mut bytes = 0u64;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => bytes += frame.data_ref().map_or(0, |data| data.len() as u64),
            Err(err) => return Outcome { status, bytes, failure: Some(Failure::exchange(&err)) },
        }
    }
    Outcome { status, bytes, failure: None }
}
