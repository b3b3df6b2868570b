//! The mirroring reverse proxy: start it, ask it for metrics and the live diff, stop it.
//!
//! Composition, in one place: [`forward`] serves each client request from the primary and tees
//! what it needs, [`dispatch`] copies sampled requests to the shadows from a bounded queue (and
//! feeds the live diff), the recorder writes sampled exchanges, and [`admin`] serves metrics.

mod admin;
mod dispatch;
mod forward;
mod tee_body;

use std::{
    future::Future,
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::{conn::auto, graceful::GracefulShutdown},
};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

use crate::{
    config::{MirrorConfig, MirrorConfigError, RecordProxyConfig},
    diff::{collector::DiffCollector, report::DiffReport},
    metrics::{MirrorMetrics, MirrorStats},
    recorder::{RecordFileError, RecordWriter},
    recording::RecordingHeader,
};

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MirrorStartError {
    #[error(transparent)]
    Config(#[from] MirrorConfigError),
    #[error("cannot listen on {addr}: {source}; choose a free address with --listen")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Record(#[from] RecordFileError),
}

/// What a finished proxy run did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MirrorSummary {
    pub stats: MirrorStats,
    pub diff: Option<DiffReport>,
    /// The recording's path, when one was written.
    pub recording: Option<PathBuf>,
}

/// A running mirroring (or recording) proxy.
pub struct MirrorProxy {
    local_addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    metrics: Arc<MirrorMetrics>,
    diff: Option<Arc<Mutex<DiffCollector>>>,
    shutdown_sender: watch::Sender<bool>,
    accept_task: JoinHandle<()>,
    admin_task: Option<JoinHandle<()>>,
    dispatch: Option<dispatch::Dispatcher>,
    recorder: Option<(RecordWriter, PathBuf)>,
}

impl MirrorProxy {
    /// Validates the configuration, binds the listeners and starts serving.
    pub async fn start(config: MirrorConfig) -> Result<MirrorProxy, MirrorStartError> {
        config.validate()?;
        let started_at = Instant::now();
        let shadow_labels: Vec<String> =
            config.shadows.iter().map(|shadow| shadow.to_string()).collect();
        let metrics = Arc::new(MirrorMetrics::new(&shadow_labels));
        let diff = config
            .diff
            .clone()
            .map(|diff_config| Arc::new(Mutex::new(DiffCollector::new(diff_config))));

        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| MirrorStartError::Listen { addr: config.listen, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| MirrorStartError::Listen { addr: config.listen, source })?;
        let admin_listener = match config.admin_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| MirrorStartError::Listen { addr, source })?,
            ),
            None => None,
        };

        let recorder = match &config.record {
            Some(settings) => {
                let header = RecordingHeader {
                    started_at_unix_ms: unix_millis(),
                    source: format!("shadowgate proxy in front of {}", config.primary),
                    redaction: settings.redaction.summary(),
                };
                let writer = RecordWriter::start(
                    &settings.path,
                    header,
                    settings.redaction.clone(),
                    metrics.clone(),
                )
                .await?;
                Some((writer, settings.path.clone()))
            }
            None => None,
        };

        let dispatch = (!config.shadows.is_empty())
            .then(|| dispatch::Dispatcher::start(&config, metrics.clone(), diff.clone()));
        let forwarder = Arc::new(forward::Forwarder::new(
            &config,
            metrics.clone(),
            dispatch.as_ref().map(|dispatcher| dispatcher.sender()),
            recorder.as_ref().map(|(writer, _)| writer.sender()),
            started_at,
        ));

        let (shutdown_sender, shutdown_receiver) = watch::channel(false);
        let accept_task = tokio::spawn(accept_loop(listener, forwarder, shutdown_receiver.clone()));
        let mut admin_addr = None;
        let mut admin_task = None;
        if let Some(admin_listener) = admin_listener {
            admin_addr = admin_listener.local_addr().ok();
            admin_task = Some(tokio::spawn(admin::serve(
                admin_listener,
                metrics.clone(),
                diff.clone(),
                shutdown_receiver,
            )));
        }
        Ok(MirrorProxy {
            local_addr,
            admin_addr,
            metrics,
            diff,
            shutdown_sender,
            accept_task,
            admin_task,
            dispatch,
            recorder,
        })
    }

    /// Where clients connect.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where `/metrics` is served, if an admin address was configured.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    pub fn stats(&self) -> MirrorStats {
        self.metrics.stats()
    }

    /// The metrics in Prometheus text format, as `/metrics` serves them.
    pub fn metrics_text(&self) -> String {
        self.metrics.render_prometheus()
    }

    /// The live diff so far, when the proxy compares two shadows.
    pub fn diff_report(&self) -> Option<DiffReport> {
        self.diff.as_deref().map(report_of)
    }

    /// Stops accepting, lets open exchanges finish for up to `grace`, drains the mirror queue
    /// for up to `grace` more, and flushes the recording.
    pub async fn shutdown(self, grace: Duration) -> Result<MirrorSummary, RecordFileError> {
        let _ = self.shutdown_sender.send(true);
        // Past the grace period, connections that are still open keep being served by their own
        // tasks; only the waiting stops.
        let _ = tokio::time::timeout(grace, self.accept_task).await;
        if let Some(admin_task) = self.admin_task {
            admin_task.abort();
        }
        if let Some(dispatcher) = self.dispatch {
            dispatcher.drain(grace).await;
        }
        let recording = match self.recorder {
            Some((writer, path)) => {
                writer.finish(&path).await?;
                Some(path)
            }
            None => None,
        };
        let diff = self.diff.as_deref().map(report_of);
        Ok(MirrorSummary { stats: self.metrics.stats(), diff, recording })
    }
}

/// Runs a mirroring proxy until `stop` completes, then shuts it down with a 5 s grace period.
/// This is the entry point of `shadowgate mirror`.
pub async fn run_mirror(
    config: MirrorConfig,
    stop: impl Future<Output = ()>,
) -> Result<MirrorSummary, MirrorRunError> {
    let proxy = MirrorProxy::start(config).await?;
    stop.await;
    Ok(proxy.shutdown(Duration::from_secs(5)).await?)
}

/// Runs a plain recording proxy until `stop` completes. This is the entry point of
/// `shadowgate record`.
pub async fn run_record(
    config: RecordProxyConfig,
    stop: impl Future<Output = ()>,
) -> Result<MirrorSummary, MirrorRunError> {
    run_mirror(config.into(), stop).await
}

/// Why a proxy run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MirrorRunError {
    #[error(transparent)]
    Start(#[from] MirrorStartError),
    #[error(transparent)]
    Record(#[from] RecordFileError),
}

/// The report of a shared collector. A panic elsewhere cannot leave the counts inconsistent
/// (each observation is one locked call), so a poisoned lock is still read.
pub(crate) fn report_of(collector: &Mutex<DiffCollector>) -> DiffReport {
    collector.lock().unwrap_or_else(PoisonError::into_inner).report()
}

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

async fn accept_loop(
    listener: TcpListener,
    forwarder: Arc<forward::Forwarder>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // A transparent proxy adds no Date header of its own; the primary's headers pass unchanged.
    builder.http1().auto_date_header(false);
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(_) => {
                        // Accept fails transiently when file descriptors run out; back off briefly
                        // instead of spinning.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = forwarder.connection_service();
                let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                let watched = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = watched.await;
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
}
