//! Real local servers for the tests: a hyper server (HTTP/1.1 and HTTP/2) with configurable
//! behaviour, and raw TCP peers that misbehave on purpose.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{Request, Response, StatusCode, Version};
use http_body_util::Full;
use hyper::{body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::{
    io::AsyncReadExt,
    net::{TcpListener, TcpStream},
    time::Instant,
};

/// What the hyper server does with each request.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// Answers at once.
    Fast,
    /// Answers after this delay.
    Delay(Duration),
    /// Once the given number of requests has arrived, holds every request that arrives during
    /// the next `length` until that period ends, then answers all of them: a one-off stall such
    /// as a garbage-collection pause.
    StallOnce { after_requests: u64, length: Duration },
}

/// What the server saw.
#[derive(Default)]
pub struct Seen {
    pub connections: AtomicU64,
    pub requests: AtomicU64,
    in_flight: AtomicU64,
    pub max_in_flight: AtomicU64,
    pub paths: Mutex<Vec<String>>,
    pub versions: Mutex<Vec<Version>>,
    stall_until: Mutex<Option<Instant>>,
}

impl Seen {
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
    pub fn max_in_flight(&self) -> u64 {
        self.max_in_flight.load(Ordering::SeqCst)
    }
    pub fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }
    pub fn versions(&self) -> Vec<Version> {
        self.versions.lock().unwrap().clone()
    }
}

pub struct TestServer {
    pub address: SocketAddr,
    pub seen: Arc<Seen>,
}

/// The body every successful response carries.
pub const BODY: &[u8] = b"hello from the test server\n";

/// Starts a hyper server on a free loopback port. It speaks HTTP/1.1 and, with prior
/// knowledge, HTTP/2. It runs until the test's runtime shuts down.
pub async fn start(behaviour: Behaviour) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let state = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            state.connections.fetch_add(1, Ordering::SeqCst);
            let state = state.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| answer(state.clone(), behaviour, request));
                let _closed = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    TestServer { address, seen }
}

async fn answer(
    seen: Arc<Seen>,
    behaviour: Behaviour,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let count = seen.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let in_flight = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    seen.max_in_flight.fetch_max(in_flight, Ordering::SeqCst);
    let path = request.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
    seen.paths.lock().unwrap().push(path.clone());
    seen.versions.lock().unwrap().push(request.version());
    match behaviour {
        Behaviour::Fast => {}
        Behaviour::Delay(delay) => tokio::time::sleep(delay).await,
        Behaviour::StallOnce { after_requests, length } => {
            let until = {
                let mut stall = seen.stall_until.lock().unwrap();
                if count == after_requests {
                    *stall = Some(Instant::now() + length);
                }
                *stall
            };
            if let Some(until) = until {
                tokio::time::sleep_until(until).await;
            }
        }
    }
    let status = path
        .strip_prefix("/status/")
        .and_then(|code| code.parse().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK);
    seen.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut response = Response::new(Full::new(Bytes::from_static(BODY)));
    *response.status_mut() = status;
    Ok(response)
}

/// How a raw peer treats a connection once the request has arrived.
#[derive(Clone, Copy, Debug)]
pub enum Rude {
    /// Resets the connection (RST, through SO_LINGER 0).
    Reset,
    /// Closes it cleanly (FIN) without answering.
    Close,
}

/// Starts a TCP peer that reads a request and then resets or closes the connection.
pub async fn start_rude(rude: Rude) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _read = stream.read(&mut buffer).await;
                if let Rude::Reset = rude {
                    stream.set_zero_linger().unwrap();
                }
                drop(stream);
            });
        }
    });
    address
}

/// An address where nothing listens: a port that was just bound and released.
pub async fn dead_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    address
}

/// An address whose listener never accepts and has a full backlog: new connection attempts
/// hang (the kernel drops their SYNs) instead of failing. The listener lives as long as the
/// returned value.
pub async fn unresponsive_listener() -> (SocketAddr, Vec<TcpStream>, tokio::net::TcpListener) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let address = listener.local_addr().unwrap();
    // Fill the accept queue; connections past it stop completing.
    let mut fillers = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(address)).await {
            Ok(Ok(stream)) => fillers.push(stream),
            Ok(Err(err)) => panic!("unexpected connect error {err}"),
            Err(_) => break,
        }
        assert!(fillers.len() < 64, "the accept queue never filled up");
    }
    (address, fillers, listener)
}
