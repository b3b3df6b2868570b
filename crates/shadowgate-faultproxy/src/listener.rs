//! A proxy's running listener: the socket it accepts on while it is enabled, and the switch
//! that cuts every connection it accepted.
//!
//! Disabling a proxy is an outage: the listening socket is closed, so new clients are refused,
//! and every open connection is closed. [`RunningListener::stop`] returns only once both have
//! happened, so a caller can rely on the outage being in force.

use std::{
    io,
    net::{SocketAddr, ToSocketAddrs},
    time::Duration,
};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

use crate::{
    address::bind_target,
    connection::{ConnectionSettings, run_connection},
    error::FaultProxyError,
};

/// How long [`RunningListener::stop`] waits for open connections to close.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The accept queue length of a proxy's listening socket.
const BACKLOG: i32 = 1024;
/// How long the accept loop pauses after an accept error (e.g. out of file descriptors).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(20);

/// A listening socket and the connections accepted on it.
#[derive(Debug)]
pub(crate) struct RunningListener {
    local_address: SocketAddr,
    cut: watch::Sender<bool>,
    accept_task: JoinHandle<()>,
}

impl RunningListener {
    /// Binds `listen` and starts accepting. Must be called within a Tokio runtime.
    pub(crate) fn start(
        listen: &str,
        settings: ConnectionSettings,
    ) -> Result<RunningListener, FaultProxyError> {
        let listener = bind(listen)
            .map_err(|source| FaultProxyError::Listen { address: listen.to_string(), source })?;
        let local_address = listener
            .local_addr()
            .map_err(|source| FaultProxyError::Listen { address: listen.to_string(), source })?;
        let (cut, cut_watch) = watch::channel(false);
        let accept_task = tokio::spawn(accept_loop(listener, settings, cut_watch));
        Ok(RunningListener { local_address, cut, accept_task })
    }

    /// The address listened on, with the port chosen when `listen` asked for 0.
    pub(crate) fn local_address(&self) -> SocketAddr {
        self.local_address
    }

    /// Closes the listening socket and every connection, and waits until they are closed.
    pub(crate) async fn stop(self) {
        self.cut.send_replace(true);
        // The accept loop drops the listening socket when it returns.
        let _ = self.accept_task.await;
        // Each connection holds a receiver until its sockets are closed.
        let _ = tokio::time::timeout(STOP_GRACE, self.cut.closed()).await;
    }
}

/// Opens a listening socket with `SO_REUSEADDR`, so that a proxy disabled and enabled again gets
/// its port back even while old connections linger in TIME_WAIT.
fn bind(listen: &str) -> io::Result<TcpListener> {
    let mut last_error = None;
    for address in bind_target(listen).to_socket_addrs()? {
        let attempt = (|| {
            let socket =
                Socket::new(Domain::for_address(address), Type::STREAM, Some(Protocol::TCP))?;
            socket.set_reuse_address(true)?;
            socket.set_nonblocking(true)?;
            socket.bind(&address.into())?;
            socket.listen(BACKLOG)?;
            TcpListener::from_std(socket.into())
        })();
        match attempt {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::AddrNotAvailable, "the host name resolved to no address")
    }))
}

async fn accept_loop(
    listener: TcpListener,
    settings: ConnectionSettings,
    mut cut: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = cut.wait_for(|cut| *cut) => return,
        };
        match accepted {
            Ok((client, _)) => {
                tokio::spawn(run_connection(client, settings.clone(), cut.clone()));
            }
            Err(_) => {
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                    _ = cut.wait_for(|cut| *cut) => return,
                }
            }
        }
    }
}
