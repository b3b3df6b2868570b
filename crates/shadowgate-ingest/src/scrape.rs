//! The scrape loop: fetch a Prometheus endpoint every interval and ingest what it exposes.
//!
//! Each scrape is one HTTP GET with a deadline covering connection, headers and body, a cap on
//! the body size, a parse with the [`exposition`](crate::exposition) parser and one
//! [`Pipeline::ingest`]. A scrape counts as successful only once its points are committed; a
//! failed scrape (unreachable target, non-2xx status, oversized or malformed body, a failed
//! commit) is counted with its reason and the loop carries on. Points without a timestamp get
//! the time the scrape started, as Prometheus does.

use std::{
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{Request, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use tokio::time::MissedTickBehavior;

use crate::{
    batcher::WriteError,
    exposition::{self, ParseError},
    pipeline::{Pipeline, Receipt, unix_now_ms},
    processor::RawSample,
};

/// What to scrape and how.
#[derive(Clone, Debug)]
pub struct ScrapeTarget {
    /// An `http://` URL.
    pub url: Uri,
    /// The application the points belong to.
    pub app: String,
    pub every: Duration,
    /// The deadline of one scrape, from connecting to the last body byte.
    pub timeout: Duration,
    /// Larger bodies are refused.
    pub max_body_bytes: usize,
    /// Labels added to every scraped sample (a sample's own label of the same name wins).
    pub extra_labels: Vec<(String, String)>,
}

impl ScrapeTarget {
    /// A target with Prometheus's usual timeout (10 s, or the interval if shorter) and a
    /// 64 MiB body cap.
    pub fn new(url: Uri, app: impl Into<String>, every: Duration) -> ScrapeTarget {
        ScrapeTarget {
            url,
            app: app.into(),
            every,
            timeout: every.min(Duration::from_secs(10)),
            max_body_bytes: 64 << 20,
            extra_labels: Vec::new(),
        }
    }
}

/// Why one scrape stored nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScrapeError {
    #[error(
        "cannot scrape {url}: only http:// URLs are supported; put a local TLS-terminating proxy in front of https targets"
    )]
    UnsupportedScheme { url: String },
    #[error("cannot scrape {url}: {reason}")]
    Request { url: String, reason: String },
    #[error("scraping {url} took longer than {timeout:?}; raise the timeout or check the target")]
    Timeout { url: String, timeout: Duration },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} sent more than {limit} bytes; raise the body limit or trim the exposition")]
    TooLarge { url: String, limit: usize },
    #[error("{url} sent a malformed exposition: {source}")]
    Parse { url: String, source: ParseError },
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Counters of a scrape loop.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScrapeStats {
    /// Scrapes whose points were committed.
    pub scrapes: u64,
    pub failures: u64,
    /// Points committed over all scrapes.
    pub points: u64,
    /// The reason of the most recent failure.
    pub last_error: Option<String>,
}

/// Scrapes one target into a pipeline.
pub struct Scraper {
    target: ScrapeTarget,
    pipeline: Arc<Pipeline>,
    client: Client<HttpConnector, Empty<Bytes>>,
    scrapes: AtomicU64,
    failures: AtomicU64,
    points: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Scraper {
    pub fn new(target: ScrapeTarget, pipeline: Arc<Pipeline>) -> Result<Scraper, ScrapeError> {
        if target.url.scheme_str() != Some("http") || target.url.host().is_none() {
            return Err(ScrapeError::UnsupportedScheme { url: target.url.to_string() });
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(target.timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Scraper {
            target,
            pipeline,
            client,
            scrapes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            points: AtomicU64::new(0),
            last_error: Mutex::new(None),
        })
    }

    pub fn stats(&self) -> ScrapeStats {
        ScrapeStats {
            scrapes: self.scrapes.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            points: self.points.load(Ordering::Relaxed),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone(),
        }
    }

    /// Scrapes every interval until `shutdown` completes; a scrape in progress is finished
    /// first. Returns the final counters. Call [`Pipeline::finish`] afterwards to store the
    /// open rollups.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> ScrapeStats {
        let mut ticker = tokio::time::interval(self.target.every);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticker.tick() => {}
            }
            // A failure is counted by `scrape_once`; the loop goes on either way.
            let _ = self.scrape_once().await;
            if let Err(error) = self.pipeline.flush_idle_rollups().await {
                self.record_failure(&error.to_string());
            }
        }
        self.stats()
    }

    /// One scrape, counted in the stats.
    pub async fn scrape_once(&self) -> Result<Receipt, ScrapeError> {
        let started_ms = unix_now_ms();
        let outcome = match tokio::time::timeout(self.target.timeout, self.fetch()).await {
            Ok(fetched) => match fetched {
                Ok(body) => self.ingest(&body, started_ms).await,
                Err(error) => Err(error),
            },
            Err(_) => Err(ScrapeError::Timeout {
                url: self.target.url.to_string(),
                timeout: self.target.timeout,
            }),
        };
        match &outcome {
            Ok(receipt) => {
                self.scrapes.fetch_add(1, Ordering::Relaxed);
                self.points.fetch_add(receipt.points as u64, Ordering::Relaxed);
            }
            Err(error) => self.record_failure(&error.to_string()),
        }
        outcome
    }

    fn record_failure(&self, reason: &str) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some(reason.to_string());
    }

    async fn fetch(&self) -> Result<Bytes, ScrapeError> {
        let url = self.target.url.to_string();
        let request = Request::get(self.target.url.clone())
            .header(header::ACCEPT, "text/plain;version=0.0.4;q=1,*/*;q=0.1")
            .header(header::USER_AGENT, concat!("shadowgate/", env!("CARGO_PKG_VERSION")))
            .body(Empty::<Bytes>::new())
            .map_err(|error| ScrapeError::Request {
                url: url.clone(),
                reason: error.to_string(),
            })?;
        let response = self.client.request(request).await.map_err(|error| {
            ScrapeError::Request { url: url.clone(), reason: describe_client_error(&error) }
        })?;
        if !response.status().is_success() {
            return Err(ScrapeError::Status { url, status: response.status().as_u16() });
        }
        let limit = self.target.max_body_bytes;
        match Limited::new(response.into_body(), limit).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => {
                Err(ScrapeError::TooLarge { url, limit })
            }
            Err(error) => Err(ScrapeError::Request { url, reason: error.to_string() }),
        }
    }

    async fn ingest(&self, body: &[u8], started_ms: i64) -> Result<Receipt, ScrapeError> {
        let url = self.target.url.to_string();
        let parsed =
            exposition::parse_bytes(body).map_err(|source| ScrapeError::Parse { url, source })?;
        let points = parsed
            .into_iter()
            .map(|sample| {
                // A repeated name keeps its last value, so the sample's own labels go last.
                let mut labels = self.target.extra_labels.clone();
                labels.extend(
                    sample
                        .labels
                        .into_iter()
                        .map(|(name, value)| (name.to_string(), value.into_owned())),
                );
                RawSample {
                    metric: sample.name.to_string(),
                    labels,
                    ts_ms: sample.timestamp_ms.unwrap_or(started_ms),
                    value: sample.value,
                }
            })
            .collect();
        Ok(self.pipeline.ingest(&self.target.app, points).await?)
    }
}

/// The innermost cause of a client error, which names what actually went wrong.
fn describe_client_error(error: &hyper_util::client::legacy::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(error);
    let mut innermost = error.to_string();
    while let Some(cause) = source {
        innermost = cause.to_string();
        source = cause.source();
    }
    innermost
}
