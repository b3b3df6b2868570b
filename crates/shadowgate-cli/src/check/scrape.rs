//! The application's own Prometheus metrics during a check.
//!
//! When `[run] metrics` names a path, each environment's endpoint is scraped from inside its
//! network namespace at every sample interval while the load runs. [`fold`] turns the scrapes
//! into one series per metric name, which `[judge]` metrics read as `prom:<name>`:
//!
//! - gauges and untyped metrics: the sum over the metric's label sets at each scrape;
//! - counters (and the `_sum`/`_count` series of histograms and summaries): the per-second
//!   rate between consecutive scrapes, summed over label sets, a counter reset counting from
//!   zero;
//! - histogram buckets and summary quantiles are skipped: summing them over `le` or
//!   `quantile` means nothing.

use std::{collections::BTreeMap, net::SocketAddr, time::Duration};

use shadowgate_ingest::exposition::{self, MetricType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One scrape: when (ms since the load started) and each series' value, keyed by the metric
/// name and its labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scrape {
    pub at_ms: i64,
    pub series: BTreeMap<(String, String), (Kind, f64)>,
}

/// How a series' values are folded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Level,
    Counter,
}

/// What the scrapes of one arm gave.
#[derive(Clone, Debug, Default)]
pub struct Scraped {
    pub scrapes: Vec<Scrape>,
    /// The first failure, kept to explain an arm without data.
    pub first_error: Option<String>,
    pub failures: usize,
}

impl Scraped {
    /// The error to report when no scrape succeeded.
    pub fn error(&self) -> Option<String> {
        if self.scrapes.is_empty() {
            Some(self.first_error.clone().unwrap_or_else(|| "no scrape completed".into()))
        } else {
            None
        }
    }
}

/// Parses one exposition into a [`Scrape`].
pub fn parse(at_ms: i64, body: &str) -> Result<Scrape, String> {
    let samples = exposition::parse(body).map_err(|e| format!("malformed exposition: {e}"))?;
    let mut series = BTreeMap::new();
    for s in samples {
        if s.labels.iter().any(|(k, _)| *k == "le" || *k == "quantile") || !s.value.is_finite() {
            continue;
        }
        let kind = match s.metric_type {
            MetricType::Counter => Kind::Counter,
            MetricType::Histogram | MetricType::Summary => Kind::Counter,
            MetricType::Gauge | MetricType::Untyped => Kind::Level,
        };
        let labels =
            s.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect::<Vec<_>>().join(",");
        series.insert((s.name.to_string(), labels), (kind, s.value));
    }
    Ok(Scrape { at_ms, series })
}

/// One series per metric name: `(ms since the load started, value)`; see the module docs.
pub fn fold(scrapes: &[Scrape]) -> BTreeMap<String, Vec<(i64, f64)>> {
    let mut out: BTreeMap<String, BTreeMap<i64, f64>> = BTreeMap::new();
    for (i, scrape) in scrapes.iter().enumerate() {
        for ((name, labels), (kind, value)) in &scrape.series {
            let point = match kind {
                Kind::Level => Some(*value),
                Kind::Counter => i.checked_sub(1).and_then(|p| {
                    let prev = &scrapes[p];
                    let seconds = (scrape.at_ms - prev.at_ms) as f64 / 1000.0;
                    let before = prev.series.get(&(name.clone(), labels.clone()))?.1;
                    let increase = if *value >= before { value - before } else { *value };
                    (seconds > 0.0).then(|| increase / seconds)
                }),
            };
            if let Some(v) = point {
                *out.entry(name.clone()).or_default().entry(scrape.at_ms).or_default() += v;
            }
        }
    }
    out.into_iter().map(|(name, points)| (name, points.into_iter().collect())).collect()
}

/// Fetches and parses at every `interval` until `stopped` changes; times are ms since
/// `started`. A failed scrape is counted and the first failure kept, the next one goes on.
pub async fn every<F, Fut>(
    interval: Duration,
    started: std::time::Instant,
    stopped: &mut tokio::sync::watch::Receiver<bool>,
    fetch: F,
) -> Scraped
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let mut scraped = Scraped::default();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return scraped,
        }
        let at_ms = started.elapsed().as_millis() as i64;
        match fetch().await.and_then(|body| parse(at_ms, &body)) {
            Ok(s) => scraped.scrapes.push(s),
            Err(e) => {
                scraped.failures += 1;
                scraped.first_error.get_or_insert(e);
            }
        }
    }
}

/// GET `path` from `addr` over a stream from `connect`, with HTTP/1.0 so that the body
/// ends with the connection.
pub async fn fetch<F, Fut>(connect: F, addr: SocketAddr, path: &str) -> Result<String, String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = std::io::Result<tokio::net::TcpStream>>,
{
    let work = async {
        let mut stream = connect().await.map_err(|e| format!("connect to {addr}: {e}"))?;
        let request = format!(
            "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: text/plain\r\nUser-Agent: shadowgate\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.map_err(|e| format!("send: {e}"))?;
        let mut raw = Vec::new();
        stream.take(64 << 20).read_to_end(&mut raw).await.map_err(|e| format!("read: {e}"))?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) =
            text.split_once("\r\n\r\n").ok_or("the response has no end of headers")?;
        let status = head.split_whitespace().nth(1).unwrap_or("?");
        if !status.starts_with('2') {
            return Err(format!("GET {path} answered {status}"));
        }
        Ok(body.to_string())
    };
    tokio::time::timeout(Duration::from_secs(5), work)
        .await
        .unwrap_or_else(|_| Err(format!("GET {path} took longer than 5 s")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(at_ms: i64, text: &str) -> Scrape {
        parse(at_ms, text).unwrap()
    }

    #[test]
    fn gauges_sum_over_labels_and_counters_become_rates() {
        let text = |n: f64, a: f64, b: f64| {
            format!(
                "# TYPE mem gauge\nmem {n}\n# TYPE req_total counter\n\
                 req_total{{code=\"200\"}} {a}\nreq_total{{code=\"500\"}} {b}\n"
            )
        };
        let scrapes = [
            scrape(0, &text(10.0, 100.0, 1.0)),
            scrape(1000, &text(12.0, 150.0, 1.0)),
            scrape(3000, &text(11.0, 250.0, 5.0)),
        ];
        let folded = fold(&scrapes);
        assert_eq!(folded["mem"], [(0, 10.0), (1000, 12.0), (3000, 11.0)]);
        // 50/s then (100 + 4) / 2 s.
        assert_eq!(folded["req_total"], [(1000, 50.0), (3000, 52.0)]);
    }

    #[test]
    fn a_counter_reset_counts_from_zero() {
        let scrapes =
            [scrape(0, "# TYPE c counter\nc 100\n"), scrape(1000, "# TYPE c counter\nc 7\n")];
        assert_eq!(fold(&scrapes)["c"], [(1000, 7.0)]);
    }

    #[test]
    fn buckets_and_quantiles_are_skipped_but_sums_and_counts_are_rates() {
        let text = |count: f64| {
            format!(
                "# TYPE d histogram\nd_bucket{{le=\"0.1\"}} {count}\nd_bucket{{le=\"+Inf\"}} {count}\n\
                 d_sum {}\nd_count {count}\n",
                count / 10.0
            )
        };
        let folded = fold(&[scrape(0, &text(0.0)), scrape(2000, &text(20.0))]);
        assert!(!folded.contains_key("d_bucket"));
        assert_eq!(folded["d_count"], [(2000, 10.0)]);
        assert_eq!(folded["d_sum"], [(2000, 1.0)]);
    }

    #[test]
    fn malformed_text_is_an_error_with_its_line() {
        let e = parse(0, "ok 1\nbroken{ 2\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn every_keeps_scraping_after_a_failure_until_stopped() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let scraped =
            runtime.block_on(async {
                let (stop, mut stopped) = tokio::sync::watch::channel(false);
                let calls = std::cell::Cell::new(0);
                let fetch = || {
                    calls.set(calls.get() + 1);
                    let n = calls.get();
                    if n == 3 {
                        let _ = stop.send(true);
                    }
                    async move {
                        if n == 1 { Err("refused".to_string()) } else { Ok(format!("g {n}\n")) }
                    }
                };
                every(Duration::from_millis(1), std::time::Instant::now(), &mut stopped, fetch)
                    .await
            });
        assert_eq!(scraped.failures, 1);
        assert_eq!(scraped.first_error.as_deref(), Some("refused"));
        assert_eq!(scraped.scrapes.len(), 2);
        assert_eq!(fold(&scraped.scrapes)["g"].iter().map(|p| p.1).collect::<Vec<_>>(), [2.0, 3.0]);
    }

    #[test]
    fn no_scrape_is_explained() {
        let s = Scraped { first_error: Some("connect: refused".into()), ..Default::default() };
        assert_eq!(s.error().as_deref(), Some("connect: refused"));
        assert_eq!(Scraped::default().error().as_deref(), Some("no scrape completed"));
    }
}
