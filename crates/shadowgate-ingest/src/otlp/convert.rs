//! OTLP metrics to points, in the Prometheus style the rest of shadowgate reads.
//!
//! The mapping follows the OpenTelemetry-to-Prometheus compatibility rules where they matter
//! here: metric and attribute names have characters outside `[a-zA-Z0-9_:]` replaced by `_`;
//! monotonic sums get a `_total` suffix; histograms become cumulative `_bucket{le}` series plus
//! `_count` and `_sum`; summaries become `{quantile}` series plus `_count` and `_sum`;
//! exponential histograms become `_count` and `_sum`. The resource attribute `service.name`
//! names the application (a default applies without it) and `service.instance.id` becomes the
//! `instance` label. Points flagged "no recorded value" are skipped; points that cannot be
//! converted are counted as rejected, with a reason, and the rest of the request still counts.

use std::fmt::Write;

use super::proto::{
    AnyValue, AnyValueKind, ExportMetricsServiceRequest, FLAG_NO_RECORDED_VALUE, KeyValue,
    MetricData, NumberValue,
};
use crate::processor::RawSample;

/// The points of one request, grouped by application.
#[derive(Debug, Default, PartialEq)]
pub struct Converted {
    pub batches: Vec<(String, Vec<RawSample>)>,
    /// Data points that could not be converted.
    pub rejected_points: u64,
    /// Why, for the first few of them.
    pub problems: Vec<String>,
}

/// How many distinct problems are reported back to the sender.
const MAX_PROBLEMS: usize = 5;

/// Converts a decoded request; `now_ms` stands in for missing point times.
pub fn convert(request: ExportMetricsServiceRequest, default_app: &str, now_ms: i64) -> Converted {
    let mut converted = Converted::default();
    for resource_metrics in request.resource_metrics {
        let attributes =
            resource_metrics.resource.map(|resource| resource.attributes).unwrap_or_default();
        let app = string_attribute(&attributes, "service.name")
            .filter(|name| !name.is_empty())
            .unwrap_or(default_app)
            .to_string();
        let instance = string_attribute(&attributes, "service.instance.id").map(str::to_string);
        let mut points = Vec::new();
        for scope in resource_metrics.scope_metrics {
            for metric in scope.metrics {
                let mut context =
                    PointContext { instance: instance.as_deref(), now_ms, points: &mut points };
                if let Err(problem) = context.metric(&metric.name, metric.data) {
                    converted.reject(problem.points, problem.reason);
                }
            }
        }
        if !points.is_empty() {
            match converted.batches.iter_mut().find(|(existing, _)| *existing == app) {
                Some((_, batch)) => batch.extend(points),
                None => converted.batches.push((app, points)),
            }
        }
    }
    converted
}

impl Converted {
    fn reject(&mut self, points: u64, reason: String) {
        self.rejected_points += points;
        if self.problems.len() < MAX_PROBLEMS && !self.problems.contains(&reason) {
            self.problems.push(reason);
        }
    }
}

/// Points of one metric that were rejected, and why.
struct Rejection {
    points: u64,
    reason: String,
}

struct PointContext<'a> {
    instance: Option<&'a str>,
    now_ms: i64,
    points: &'a mut Vec<RawSample>,
}

impl PointContext<'_> {
    fn metric(&mut self, raw_name: &str, data: Option<MetricData>) -> Result<(), Rejection> {
        let point_count = data.as_ref().map_or(0, count_points);
        let Some(base) = metric_name(raw_name) else {
            return Err(Rejection {
                points: point_count,
                reason: "a metric has an empty name".to_string(),
            });
        };
        let Some(data) = data else {
            return Ok(());
        };
        let mut rejected = 0u64;
        let mut reason = String::new();
        match data {
            MetricData::Gauge(gauge) => {
                for point in gauge.data_points {
                    if let Err(why) = self.number(
                        &base,
                        &point.attributes,
                        point.time_unix_nano,
                        point.flags,
                        point.value,
                    ) {
                        rejected += 1;
                        reason = why;
                    }
                }
            }
            MetricData::Sum(sum) => {
                let name = if sum.is_monotonic && !base.ends_with("_total") {
                    format!("{base}_total")
                } else {
                    base.clone()
                };
                for point in sum.data_points {
                    if let Err(why) = self.number(
                        &name,
                        &point.attributes,
                        point.time_unix_nano,
                        point.flags,
                        point.value,
                    ) {
                        rejected += 1;
                        reason = why;
                    }
                }
            }
            MetricData::Histogram(histogram) => {
                for point in histogram.data_points {
                    if point.flags & FLAG_NO_RECORDED_VALUE != 0 {
                        continue;
                    }
                    let has_buckets = !point.bucket_counts.is_empty();
                    if has_buckets && point.bucket_counts.len() != point.explicit_bounds.len() + 1 {
                        rejected += 1;
                        reason = format!(
                            "histogram `{raw_name}` has {} bucket counts for {} bounds; it needs one more count than bounds",
                            point.bucket_counts.len(),
                            point.explicit_bounds.len()
                        );
                        continue;
                    }
                    let labels = self.labels(&point.attributes);
                    let ts_ms = self.time(point.time_unix_nano);
                    let mut cumulative = 0u64;
                    for (idx, count) in point.bucket_counts.iter().enumerate() {
                        cumulative = cumulative.saturating_add(*count);
                        let bound = point
                            .explicit_bounds
                            .get(idx)
                            .map_or_else(|| "+Inf".to_string(), |b| format_float(*b));
                        let mut bucket_labels = labels.clone();
                        bucket_labels.push(("le".to_string(), bound));
                        self.push(
                            format!("{base}_bucket"),
                            bucket_labels,
                            ts_ms,
                            cumulative as f64,
                        );
                    }
                    self.push(format!("{base}_count"), labels.clone(), ts_ms, point.count as f64);
                    if let Some(sum) = point.sum {
                        self.push(format!("{base}_sum"), labels, ts_ms, sum);
                    }
                }
            }
            MetricData::ExponentialHistogram(histogram) => {
                for point in histogram.data_points {
                    if point.flags & FLAG_NO_RECORDED_VALUE != 0 {
                        continue;
                    }
                    let labels = self.labels(&point.attributes);
                    let ts_ms = self.time(point.time_unix_nano);
                    self.push(format!("{base}_count"), labels.clone(), ts_ms, point.count as f64);
                    if let Some(sum) = point.sum {
                        self.push(format!("{base}_sum"), labels, ts_ms, sum);
                    }
                }
            }
            MetricData::Summary(summary) => {
                for point in summary.data_points {
                    if point.flags & FLAG_NO_RECORDED_VALUE != 0 {
                        continue;
                    }
                    let labels = self.labels(&point.attributes);
                    let ts_ms = self.time(point.time_unix_nano);
                    for quantile in &point.quantile_values {
                        let mut quantile_labels = labels.clone();
                        quantile_labels
                            .push(("quantile".to_string(), format_float(quantile.quantile)));
                        self.push(base.clone(), quantile_labels, ts_ms, quantile.value);
                    }
                    self.push(format!("{base}_count"), labels.clone(), ts_ms, point.count as f64);
                    self.push(format!("{base}_sum"), labels, ts_ms, point.sum);
                }
            }
        }
        if rejected > 0 { Err(Rejection { points: rejected, reason }) } else { Ok(()) }
    }

    fn number(
        &mut self,
        name: &str,
        attributes: &[KeyValue],
        time_unix_nano: u64,
        flags: u32,
        value: Option<NumberValue>,
    ) -> Result<(), String> {
        if flags & FLAG_NO_RECORDED_VALUE != 0 {
            return Ok(());
        }
        let value = match value {
            Some(NumberValue::AsDouble(double)) => double,
            Some(NumberValue::AsInt(int)) => int as f64,
            None => return Err(format!("a data point of `{name}` has neither asDouble nor asInt")),
        };
        let labels = self.labels(attributes);
        let ts_ms = self.time(time_unix_nano);
        self.push(name.to_string(), labels, ts_ms, value);
        Ok(())
    }

    fn labels(&self, attributes: &[KeyValue]) -> Vec<(String, String)> {
        let mut labels: Vec<(String, String)> = attributes
            .iter()
            .filter_map(|pair| Some((label_name(&pair.key)?, render_value(pair.value.as_ref()))))
            .collect();
        if let Some(instance) = self.instance {
            labels.push(("instance".to_string(), instance.to_string()));
        }
        labels
    }

    fn time(&self, time_unix_nano: u64) -> i64 {
        if time_unix_nano == 0 {
            self.now_ms
        } else {
            i64::try_from(time_unix_nano / 1_000_000).unwrap_or(i64::MAX)
        }
    }

    fn push(&mut self, metric: String, labels: Vec<(String, String)>, ts_ms: i64, value: f64) {
        self.points.push(RawSample { metric, labels, ts_ms, value });
    }
}

fn count_points(data: &MetricData) -> u64 {
    let count = match data {
        MetricData::Gauge(gauge) => gauge.data_points.len(),
        MetricData::Sum(sum) => sum.data_points.len(),
        MetricData::Histogram(histogram) => histogram.data_points.len(),
        MetricData::ExponentialHistogram(histogram) => histogram.data_points.len(),
        MetricData::Summary(summary) => summary.data_points.len(),
    };
    count as u64
}

fn string_attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attributes.iter().find(|pair| pair.key == key).and_then(|pair| {
        match pair.value.as_ref()?.value.as_ref()? {
            AnyValueKind::StringValue(text) => Some(text.as_str()),
            _ => None,
        }
    })
}

/// A Prometheus metric name for an OTLP one, or `None` when there is nothing to name.
pub fn metric_name(raw: &str) -> Option<String> {
    sanitize(raw, true)
}

/// A Prometheus label name for an attribute key, or `None` for an empty key.
pub fn label_name(raw: &str) -> Option<String> {
    sanitize(raw, false)
}

fn sanitize(raw: &str, allow_colon: bool) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    let mut name = String::with_capacity(raw.len() + 4);
    if raw.starts_with(|c: char| c.is_ascii_digit()) {
        name.push_str(if allow_colon { "_" } else { "key_" });
    }
    for c in raw.chars() {
        let keep = c.is_ascii_alphanumeric() || c == '_' || (allow_colon && c == ':');
        name.push(if keep { c } else { '_' });
    }
    Some(name)
}

fn format_float(value: f64) -> String {
    if value == f64::INFINITY {
        "+Inf".to_string()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        value.to_string()
    }
}

/// Attribute values as label text: strings as they are, other scalars in their usual form,
/// bytes in hex, arrays and maps as JSON.
fn render_value(value: Option<&AnyValue>) -> String {
    match value.and_then(|any| any.value.as_ref()) {
        None => String::new(),
        Some(AnyValueKind::StringValue(text)) => text.clone(),
        Some(AnyValueKind::BytesValue(bytes)) => {
            bytes.iter().fold(String::new(), |mut hex, byte| {
                let _ = write!(hex, "{byte:02x}");
                hex
            })
        }
        Some(other) => to_json(other).to_string(),
    }
}

fn to_json(value: &AnyValueKind) -> serde_json::Value {
    use serde_json::Value;
    match value {
        AnyValueKind::StringValue(text) => Value::String(text.clone()),
        AnyValueKind::BoolValue(flag) => Value::Bool(*flag),
        AnyValueKind::IntValue(int) => Value::from(*int),
        AnyValueKind::DoubleValue(double) => serde_json::Number::from_f64(*double)
            .map_or_else(|| Value::String(format_float(*double)), Value::Number),
        AnyValueKind::BytesValue(_) => {
            Value::String(render_value(Some(&AnyValue { value: Some(value.clone()) })))
        }
        AnyValueKind::ArrayValue(array) => Value::Array(
            array
                .values
                .iter()
                .map(|item| item.value.as_ref().map_or(Value::Null, to_json))
                .collect(),
        ),
        AnyValueKind::KvlistValue(list) => Value::Object(
            list.values
                .iter()
                .map(|pair| {
                    let item = pair
                        .value
                        .as_ref()
                        .and_then(|any| any.value.as_ref())
                        .map_or(Value::Null, to_json);
                    (pair.key.clone(), item)
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests;
