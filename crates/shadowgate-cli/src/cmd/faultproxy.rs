//! `shadowgate faultproxy`: the Toxiproxy-compatible fault proxy as a server.
//!
//! The server runs on one thread (a current-thread runtime): a fault proxy moves few bytes per
//! connection and its timing matters more than its parallelism. It stops on SIGINT or SIGTERM,
//! closing every proxy and connection first.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use shadowgate_faultproxy::{FaultProxy, proxy_specs_from_json, serve_with_shutdown};
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::Global;

#[derive(Debug, Args)]
pub struct FaultproxyArgs {
    /// Address of the HTTP API (Toxiproxy's default port is 8474; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8474", value_name = "HOST:PORT")]
    pub listen: String,
    /// Proxies to create at start, in Toxiproxy's `-config` format:
    /// `[{"name": "db", "listen": "127.0.0.1:25432", "upstream": "127.0.0.1:5432"}]`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Seed for every random choice (toxicity draws, jitter, slice sizes).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn run(_global: &Global, args: &FaultproxyArgs) -> Result<u8> {
    let listen: SocketAddr = args.listen.parse().with_context(|| {
        format!(
            "--listen `{}` is not an address; write host:port, e.g. 127.0.0.1:8474",
            args.listen
        )
    })?;
    let specs = match &args.config {
        Some(path) => {
            let text = std::fs::read(path)
                .with_context(|| format!("--config: cannot read {}", path.display()))?;
            let specs = proxy_specs_from_json(&text).with_context(|| {
                format!(
                    "--config {}: expected a JSON list of proxies, \
                     e.g. [{{\"name\": \"db\", \"listen\": \"127.0.0.1:25432\", \"upstream\": \"127.0.0.1:5432\"}}]",
                    path.display()
                )
            })?;
            Some(specs)
        }
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(async move {
        let mut interrupt = signal(SignalKind::interrupt()).context("watch SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("watch SIGTERM")?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("--listen {listen}: cannot listen there"))?;
        let bound = listener.local_addr().context("read the bound address")?;
        let proxy = FaultProxy::new(args.seed);
        if let Some(specs) = specs {
            let count = specs.len();
            proxy
                .populate(specs)
                .await
                .with_context(|| format!("--config: cannot create the {count} proxies it lists"))?;
        }
        // One line on stdout once the API answers, so that a caller can wait for it (and learn
        // the port when it asked for port 0).
        println!("shadowgate faultproxy: API listening on http://{bound}");
        let shutdown = async {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        };
        let served = serve_with_shutdown(listener, proxy.clone(), shutdown).await;
        proxy.shutdown().await;
        served.context("serve the fault proxy's API")?;
        Ok(0)
    })
}
