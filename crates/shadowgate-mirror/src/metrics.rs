//! The proxy's own metrics: lock-free counters and latency histograms, rendered in the
//! Prometheus text exposition format.
//!
//! Everything on the request path is a relaxed atomic increment, so that counting never slows
//! the primary. Rendering is pure: it reads the atomics and returns text.

use std::{
    fmt::Write as _,
    sync::atomic::{AtomicI64, AtomicU64, Ordering},
    time::Duration,
};

use serde::Serialize;

/// Upper bounds of the latency buckets, in seconds.
const LATENCY_BUCKETS_SECS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn increment(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub fn add(&self, delta: i64) {
        self.0.fetch_add(delta, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A latency histogram with fixed buckets.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_SECS.len()],
    overflow: AtomicU64,
    sum_micros: AtomicU64,
}

impl LatencyHistogram {
    pub fn observe(&self, latency: Duration) {
        let secs = latency.as_secs_f64();
        match LATENCY_BUCKETS_SECS.iter().position(|bound| secs <= *bound) {
            Some(idx) => self.buckets[idx].fetch_add(1, Ordering::Relaxed),
            None => self.overflow.fetch_add(1, Ordering::Relaxed),
        };
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|bucket| bucket.load(Ordering::Relaxed)).sum::<u64>()
            + self.overflow.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        let separator = if labels.is_empty() { "" } else { "," };
        for (bound, bucket) in LATENCY_BUCKETS_SECS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ =
                writeln!(out, "{name}_bucket{{{labels}{separator}le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.overflow.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{separator}le=\"+Inf\"}} {cumulative}");
        let sum_secs = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {sum_secs}");
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

/// The metrics of one shadow.
#[derive(Debug, Default)]
pub struct ShadowMetrics {
    /// The shadow's address, used as the `shadow` label.
    pub label: String,
    /// Mirrored requests that got a response (any status).
    pub responses: Counter,
    pub connect_errors: Counter,
    pub timeouts: Counter,
    pub protocol_errors: Counter,
    pub latency: LatencyHistogram,
}

/// All metrics of one mirroring proxy.
#[derive(Debug, Default)]
pub struct MirrorMetrics {
    pub requests: Counter,
    pub primary_errors: Counter,
    pub primary_latency: LatencyHistogram,
    pub sampled: Counter,
    pub skipped_method: Counter,
    pub enqueued: Counter,
    pub dropped_queue_full: Counter,
    pub dropped_body_too_large: Counter,
    pub dropped_body_incomplete: Counter,
    pub queue_depth: Gauge,
    pub diffed: Counter,
    pub recorded: Counter,
    pub record_dropped: Counter,
    pub record_write_errors: Counter,
    pub shadows: Vec<ShadowMetrics>,
}

/// A plain copy of the counters, for summaries and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MirrorStats {
    pub requests: u64,
    pub primary_errors: u64,
    pub sampled: u64,
    pub skipped_method: u64,
    pub enqueued: u64,
    pub dropped_queue_full: u64,
    pub dropped_body_too_large: u64,
    pub dropped_body_incomplete: u64,
    pub diffed: u64,
    pub recorded: u64,
    pub record_dropped: u64,
    pub record_write_errors: u64,
    pub shadows: Vec<ShadowStats>,
}

/// A plain copy of one shadow's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ShadowStats {
    pub shadow: String,
    pub responses: u64,
    pub connect_errors: u64,
    pub timeouts: u64,
    pub protocol_errors: u64,
}

impl MirrorMetrics {
    pub fn new(shadow_labels: &[String]) -> MirrorMetrics {
        MirrorMetrics {
            shadows: shadow_labels
                .iter()
                .map(|label| ShadowMetrics { label: label.clone(), ..ShadowMetrics::default() })
                .collect(),
            ..MirrorMetrics::default()
        }
    }

    pub fn stats(&self) -> MirrorStats {
        MirrorStats {
            requests: self.requests.get(),
            primary_errors: self.primary_errors.get(),
            sampled: self.sampled.get(),
            skipped_method: self.skipped_method.get(),
            enqueued: self.enqueued.get(),
            dropped_queue_full: self.dropped_queue_full.get(),
            dropped_body_too_large: self.dropped_body_too_large.get(),
            dropped_body_incomplete: self.dropped_body_incomplete.get(),
            diffed: self.diffed.get(),
            recorded: self.recorded.get(),
            record_dropped: self.record_dropped.get(),
            record_write_errors: self.record_write_errors.get(),
            shadows: self
                .shadows
                .iter()
                .map(|shadow| ShadowStats {
                    shadow: shadow.label.clone(),
                    responses: shadow.responses.get(),
                    connect_errors: shadow.connect_errors.get(),
                    timeouts: shadow.timeouts.get(),
                    protocol_errors: shadow.protocol_errors.get(),
                })
                .collect(),
        }
    }

    /// Renders every metric in the Prometheus text exposition format (version 0.0.4).
    pub fn render_prometheus(&self) -> String {
        let mut out = String::with_capacity(4096);
        let simple = |out: &mut String, name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        simple(
            &mut out,
            "shadowgate_mirror_requests_total",
            "counter",
            "Requests received by the proxy.",
            self.requests.get().to_string(),
        );
        simple(
            &mut out,
            "shadowgate_mirror_primary_errors_total",
            "counter",
            "Requests the primary did not answer (answered 502 by the proxy).",
            self.primary_errors.get().to_string(),
        );
        let _ = writeln!(
            out,
            "# HELP shadowgate_mirror_primary_latency_seconds Time from request arrival to the primary's response headers.\n# TYPE shadowgate_mirror_primary_latency_seconds histogram"
        );
        self.primary_latency.render(&mut out, "shadowgate_mirror_primary_latency_seconds", "");
        simple(
            &mut out,
            "shadowgate_mirror_sampled_total",
            "counter",
            "Requests selected by sampling.",
            self.sampled.get().to_string(),
        );
        simple(
            &mut out,
            "shadowgate_mirror_skipped_total",
            "counter",
            "Sampled requests not mirrored because their method is not idempotent and not allowed.",
            self.skipped_method.get().to_string(),
        );
        simple(
            &mut out,
            "shadowgate_mirror_enqueued_total",
            "counter",
            "Mirror jobs accepted by the queue.",
            self.enqueued.get().to_string(),
        );
        let _ = writeln!(
            out,
            "# HELP shadowgate_mirror_dropped_total Mirror jobs dropped, by reason.\n# TYPE shadowgate_mirror_dropped_total counter"
        );
        for (reason, counter) in [
            ("queue_full", &self.dropped_queue_full),
            ("body_too_large", &self.dropped_body_too_large),
            ("body_incomplete", &self.dropped_body_incomplete),
        ] {
            let _ = writeln!(
                out,
                "shadowgate_mirror_dropped_total{{reason=\"{reason}\"}} {}",
                counter.get()
            );
        }
        simple(
            &mut out,
            "shadowgate_mirror_queue_depth",
            "gauge",
            "Mirror jobs waiting in the queue.",
            self.queue_depth.get().to_string(),
        );
        let _ = writeln!(
            out,
            "# HELP shadowgate_mirror_shadow_responses_total Mirrored requests answered by a shadow.\n# TYPE shadowgate_mirror_shadow_responses_total counter"
        );
        for shadow in &self.shadows {
            let _ = writeln!(
                out,
                "shadowgate_mirror_shadow_responses_total{{shadow=\"{}\"}} {}",
                escape_label(&shadow.label),
                shadow.responses.get()
            );
        }
        let _ = writeln!(
            out,
            "# HELP shadowgate_mirror_shadow_errors_total Mirrored requests a shadow did not answer, by kind.\n# TYPE shadowgate_mirror_shadow_errors_total counter"
        );
        for shadow in &self.shadows {
            for (kind, counter) in [
                ("connect", &shadow.connect_errors),
                ("timeout", &shadow.timeouts),
                ("protocol", &shadow.protocol_errors),
            ] {
                let _ = writeln!(
                    out,
                    "shadowgate_mirror_shadow_errors_total{{shadow=\"{}\",kind=\"{kind}\"}} {}",
                    escape_label(&shadow.label),
                    counter.get()
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP shadowgate_mirror_shadow_latency_seconds Time from sending a mirrored request to the end of the shadow's response.\n# TYPE shadowgate_mirror_shadow_latency_seconds histogram"
        );
        for shadow in &self.shadows {
            let labels = format!("shadow=\"{}\"", escape_label(&shadow.label));
            shadow.latency.render(&mut out, "shadowgate_mirror_shadow_latency_seconds", &labels);
        }
        simple(
            &mut out,
            "shadowgate_mirror_diffed_total",
            "counter",
            "Exchanges fed to the live diff.",
            self.diffed.get().to_string(),
        );
        simple(
            &mut out,
            "shadowgate_mirror_recorded_total",
            "counter",
            "Exchanges written to the recording.",
            self.recorded.get().to_string(),
        );
        simple(
            &mut out,
            "shadowgate_mirror_record_dropped_total",
            "counter",
            "Exchanges not recorded because the recorder's queue was full or the body was incomplete.",
            self.record_dropped.get().to_string(),
        );
        simple(
            &mut out,
            "shadowgate_mirror_record_write_errors_total",
            "counter",
            "Failed writes to the recording file.",
            self.record_write_errors.get().to_string(),
        );
        out
    }
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_counters_render() {
        let metrics = MirrorMetrics::new(&["http://shadow:1".to_owned()]);
        metrics.requests.increment();
        metrics.requests.increment();
        metrics.dropped_queue_full.increment();
        let shadow = &metrics.shadows[0];
        shadow.latency.observe(Duration::from_micros(300));
        shadow.latency.observe(Duration::from_millis(30));
        shadow.latency.observe(Duration::from_secs(60));
        shadow.timeouts.increment();
        let text = metrics.render_prometheus();
        for line in [
            "shadowgate_mirror_requests_total 2",
            "shadowgate_mirror_dropped_total{reason=\"queue_full\"} 1",
            "shadowgate_mirror_shadow_errors_total{shadow=\"http://shadow:1\",kind=\"timeout\"} 1",
            "shadowgate_mirror_shadow_latency_seconds_bucket{shadow=\"http://shadow:1\",le=\"0.0005\"} 1",
            "shadowgate_mirror_shadow_latency_seconds_bucket{shadow=\"http://shadow:1\",le=\"0.05\"} 2",
            "shadowgate_mirror_shadow_latency_seconds_bucket{shadow=\"http://shadow:1\",le=\"10\"} 2",
            "shadowgate_mirror_shadow_latency_seconds_bucket{shadow=\"http://shadow:1\",le=\"+Inf\"} 3",
            "shadowgate_mirror_shadow_latency_seconds_count{shadow=\"http://shadow:1\"} 3",
            "shadowgate_mirror_primary_latency_seconds_count 0",
        ] {
            assert!(text.lines().any(|candidate| candidate == line), "missing `{line}` in\n{text}");
        }
        // Every sample line is `name{labels} value` with a numeric value.
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
        assert_eq!(metrics.stats().shadows[0].timeouts, 1);
    }
}
