//! The service's Prometheus metrics and their text exposition.
//!
//! The request path records into fixed arrays of atomics (one histogram per route), so
//! recording never allocates and never contends on a lock except for the small map of
//! status-code counters. Rendering writes the text exposition format 0.0.4 by hand: it is a
//! few lines per family, and a client library would cost more to build than this file.

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use http::Method;

use crate::{cache::CacheStats, outbox::DeliveryCounters, process::ProcessStats, routes::Route};

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the latency histogram buckets, in seconds (`+Inf` is implied).
pub const LATENCY_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// How a call to the pricing dependency ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PricingOutcome {
    Ok,
    Error,
    Timeout,
}

impl PricingOutcome {
    const ALL: [PricingOutcome; 3] =
        [PricingOutcome::Ok, PricingOutcome::Error, PricingOutcome::Timeout];

    fn label(self) -> &'static str {
        match self {
            PricingOutcome::Ok => "ok",
            PricingOutcome::Error => "error",
            PricingOutcome::Timeout => "timeout",
        }
    }
}

#[derive(Debug, Default)]
struct Histogram {
    /// Observations per bucket (not cumulative); the last slot counts those above every bound.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket_idx = LATENCY_BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[bucket_idx].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// Everything the service counts.
#[derive(Debug, Default)]
pub struct Metrics {
    latency: [Histogram; Route::ALL.len()],
    responses: Mutex<BTreeMap<(Route, &'static str, u16), u64>>,
    pricing: [AtomicU64; PricingOutcome::ALL.len()],
    in_flight: AtomicI64,
    pricing_in_flight: AtomicI64,
    /// Orders published on NATS (`--events`), shared with the publisher's writer.
    pub events: Arc<DeliveryCounters>,
    /// Item views counted in Redis (`--views`), shared with the counter's writer.
    pub views: Arc<DeliveryCounters>,
}

/// The values rendered beside the counters, read when `/metrics` is scraped.
#[derive(Clone, Copy, Debug)]
pub struct Gauges<'a> {
    pub release: &'a str,
    pub cache: CacheStats,
    pub process: ProcessStats,
}

/// Decrements a gauge when dropped, so a request abandoned mid-way is still counted out.
#[derive(Debug)]
pub struct InFlight<'a>(&'a AtomicI64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl Metrics {
    /// Counts a request in until the returned guard is dropped.
    pub fn request_started(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.in_flight)
    }

    /// Counts a call to the pricing dependency in until the returned guard is dropped.
    pub fn pricing_started(&self) -> InFlight<'_> {
        self.pricing_in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.pricing_in_flight)
    }

    /// Records a finished request.
    pub fn observe(&self, route: Route, method: &Method, status: u16, elapsed: Duration) {
        self.latency[route.index()].observe(elapsed);
        let mut responses = self.responses.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *responses.entry((route, method_label(method), status)).or_insert(0) += 1;
    }

    pub fn pricing_finished(&self, outcome: PricingOutcome) {
        let idx = PricingOutcome::ALL.iter().position(|&o| o == outcome).unwrap_or(0);
        self.pricing[idx].fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition of every metric.
    pub fn render(&self, gauges: &Gauges<'_>) -> String {
        let mut out = String::with_capacity(8 * 1024);
        self.render_requests(&mut out);
        self.render_latency(&mut out);
        family(&mut out, "inventory_in_flight_requests", "gauge", "Requests being served now.");
        sample(
            &mut out,
            "inventory_in_flight_requests",
            &[],
            self.in_flight.load(Ordering::Relaxed),
        );
        family(
            &mut out,
            "inventory_pricing_requests_total",
            "counter",
            "Calls to the pricing dependency, by outcome.",
        );
        for (outcome, counter) in PricingOutcome::ALL.iter().zip(&self.pricing) {
            sample(
                &mut out,
                "inventory_pricing_requests_total",
                &[("outcome", outcome.label())],
                counter.load(Ordering::Relaxed),
            );
        }
        family(
            &mut out,
            "inventory_pricing_in_flight_requests",
            "gauge",
            "Calls to the pricing dependency waiting for an answer now.",
        );
        sample(
            &mut out,
            "inventory_pricing_in_flight_requests",
            &[],
            self.pricing_in_flight.load(Ordering::Relaxed),
        );
        delivery(
            &mut out,
            "inventory_events_total",
            "New orders offered to NATS (--events), by outcome.",
            "published",
            &self.events,
        );
        delivery(
            &mut out,
            "inventory_views_total",
            "Item views offered to Redis (--views), by outcome.",
            "counted",
            &self.views,
        );
        family(&mut out, "inventory_cache_entries", "gauge", "Entries in the catalog cache.");
        sample(&mut out, "inventory_cache_entries", &[], gauges.cache.entries);
        family(
            &mut out,
            "inventory_cache_bytes",
            "gauge",
            "Bytes of keys and values held by the catalog cache.",
        );
        sample(&mut out, "inventory_cache_bytes", &[], gauges.cache.bytes);
        family(&mut out, "inventory_build_info", "gauge", "The running release; always 1.");
        sample(&mut out, "inventory_build_info", &[("release", gauges.release)], 1);
        render_process(&mut out, &gauges.process);
        out
    }

    fn render_requests(&self, out: &mut String) {
        family(
            out,
            "http_requests_total",
            "counter",
            "Requests answered, by route, method and status code.",
        );
        let responses = self.responses.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for ((route, method, status), count) in responses.iter() {
            let status = status.to_string();
            sample(
                out,
                "http_requests_total",
                &[("route", route.label()), ("method", method), ("status", &status)],
                count,
            );
        }
    }

    fn render_latency(&self, out: &mut String) {
        family(
            out,
            "http_request_duration_seconds",
            "histogram",
            "Time from request head to response head, by route.",
        );
        for route in Route::ALL {
            let histogram = &self.latency[route.index()];
            let mut cumulative = 0u64;
            for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&histogram.buckets) {
                cumulative += bucket.load(Ordering::Relaxed);
                let le = bound.to_string();
                sample(
                    out,
                    "http_request_duration_seconds_bucket",
                    &[("route", route.label()), ("le", &le)],
                    cumulative,
                );
            }
            cumulative += histogram.buckets[LATENCY_BUCKETS.len()].load(Ordering::Relaxed);
            sample(
                out,
                "http_request_duration_seconds_bucket",
                &[("route", route.label()), ("le", "+Inf")],
                cumulative,
            );
            let sum_seconds = histogram.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            sample(
                out,
                "http_request_duration_seconds_sum",
                &[("route", route.label())],
                sum_seconds,
            );
            sample(
                out,
                "http_request_duration_seconds_count",
                &[("route", route.label())],
                cumulative,
            );
        }
    }
}

/// A delivery counter family: `delivered` names the success outcome; `dropped` counts
/// messages the full queue refused and `failed` those the server never accepted.
fn delivery(
    out: &mut String,
    name: &str,
    help: &str,
    delivered: &str,
    counters: &DeliveryCounters,
) {
    family(out, name, "counter", help);
    let counts = counters.snapshot();
    for (outcome, count) in
        [(delivered, counts.delivered), ("dropped", counts.dropped), ("failed", counts.failed)]
    {
        sample(out, name, &[("outcome", outcome)], count);
    }
}

fn render_process(out: &mut String, process: &ProcessStats) {
    if let Some(resident_bytes) = process.resident_bytes {
        family(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        sample(out, "process_resident_memory_bytes", &[], resident_bytes);
    }
    if let Some(cpu_seconds) = process.cpu_seconds {
        family(
            out,
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time in seconds.",
        );
        sample(out, "process_cpu_seconds_total", &[], cpu_seconds);
    }
    if let Some(open_fds) = process.open_fds {
        family(out, "process_open_fds", "gauge", "Number of open file descriptors.");
        sample(out, "process_open_fds", &[], open_fds);
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (idx, (label, value)) in labels.iter().enumerate() {
            if idx > 0 {
                out.push(',');
            }
            out.push_str(label);
            out.push_str("=\"");
            escape_label_value(out, value);
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

fn escape_label_value(out: &mut String, value: &str) {
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests;
