//! Where load goes: a target's address, its `Host`, and how to open a connection to it.

use std::{fmt, future::Future, io, net::SocketAddr, pin::Pin, sync::Arc};

use tokio::net::TcpStream;

/// The future a custom connector returns.
pub type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// Opens one TCP connection to a target. The default connects to the target's address; a
/// custom one can reach a target that the host cannot route to, e.g. through a socket created
/// inside another network namespace.
#[derive(Clone)]
pub struct Connector(Arc<dyn Fn() -> ConnectFuture + Send + Sync>);

impl Connector {
    pub fn new<F, Fut>(connect: F) -> Connector
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = io::Result<TcpStream>> + Send + 'static,
    {
        Connector(Arc::new(move || Box::pin(connect())))
    }

    pub(crate) fn connect(&self) -> ConnectFuture {
        (self.0)()
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Connector(custom)")
    }
}

/// One system under load, e.g. the baseline or the candidate.
#[derive(Clone, Debug)]
pub struct Target {
    /// A label for reports, e.g. `baseline`.
    pub name: String,
    pub address: SocketAddr,
    /// The `Host` header (the `:authority` in HTTP/2); the address when not set.
    pub host: String,
    connector: Option<Connector>,
}

impl Target {
    pub fn new(name: impl Into<String>, address: SocketAddr) -> Target {
        Target { name: name.into(), address, host: address.to_string(), connector: None }
    }

    /// Sends this `Host` header instead of the address.
    pub fn with_host(mut self, host: impl Into<String>) -> Target {
        self.host = host.into();
        self
    }

    /// Opens connections with `connector` instead of connecting to the address.
    pub fn with_connector(mut self, connector: Connector) -> Target {
        self.connector = Some(connector);
        self
    }

    /// Opens a new TCP connection with Nagle's algorithm off (requests are small and
    /// latency-bound).
    pub(crate) async fn connect(&self) -> io::Result<TcpStream> {
        let stream = match &self.connector {
            Some(connector) => connector.connect().await?,
            None => TcpStream::connect(self.address).await?,
        };
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}
