//! OTLP/JSON: the JSON encoding of the metrics messages, decoded into the protobuf types.
//!
//! The encoding is protobuf's JSON mapping with OTLP's rules: keys in lowerCamelCase, 64-bit
//! integers as decimal strings (numbers are accepted too), doubles as numbers or the strings
//! `NaN`, `Infinity` and `-Infinity`, `bytes` in base64, `null` for a default value, and
//! unknown keys ignored. A malformed field is reported with its path, such as
//! `resourceMetrics[0].scopeMetrics[0].metrics[1].sum.dataPoints[0].asInt`.

use std::{fmt, marker::PhantomData};

use base64::Engine;
use serde::{
    Deserialize, Deserializer,
    de::{self, Visitor},
};

use super::proto;

/// Decodes an OTLP/JSON `ExportMetricsServiceRequest`.
pub fn decode_request(body: &[u8]) -> Result<proto::ExportMetricsServiceRequest, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let request: Request =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if path == "." { inner.to_string() } else { format!("{path}: {inner}") }
        })?;
    deserializer.end().map_err(|error| format!("trailing data after the request: {error}"))?;
    Ok(request.into_proto())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    #[serde(default, deserialize_with = "nullable")]
    resource_metrics: Vec<ResourceMetrics>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceMetrics {
    #[serde(default)]
    resource: Option<Resource>,
    #[serde(default, deserialize_with = "nullable")]
    scope_metrics: Vec<ScopeMetrics>,
}

#[derive(Deserialize)]
struct Resource {
    #[serde(default, deserialize_with = "nullable")]
    attributes: Vec<KeyValue>,
}

#[derive(Deserialize)]
struct ScopeMetrics {
    #[serde(default, deserialize_with = "nullable")]
    metrics: Vec<Metric>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metric {
    #[serde(default, deserialize_with = "nullable")]
    name: String,
    #[serde(default)]
    gauge: Option<NumberPoints>,
    #[serde(default)]
    sum: Option<Sum>,
    #[serde(default)]
    histogram: Option<Points<HistogramDataPoint>>,
    #[serde(default)]
    exponential_histogram: Option<Points<ExponentialHistogramDataPoint>>,
    #[serde(default)]
    summary: Option<Points<SummaryDataPoint>>,
}

type NumberPoints = Points<NumberDataPoint>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "T: Deserialize<'de>"))]
struct Points<T> {
    #[serde(default = "Vec::new", deserialize_with = "nullable")]
    data_points: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sum {
    #[serde(default, deserialize_with = "nullable")]
    data_points: Vec<NumberDataPoint>,
    #[serde(default, deserialize_with = "nullable")]
    is_monotonic: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NumberDataPoint {
    #[serde(default, deserialize_with = "nullable")]
    attributes: Vec<KeyValue>,
    #[serde(default, deserialize_with = "lenient_u64")]
    time_unix_nano: u64,
    #[serde(default, deserialize_with = "nullable")]
    flags: u32,
    #[serde(default, deserialize_with = "lenient_optional_f64")]
    as_double: Option<f64>,
    #[serde(default, deserialize_with = "lenient_optional_i64")]
    as_int: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistogramDataPoint {
    #[serde(default, deserialize_with = "nullable")]
    attributes: Vec<KeyValue>,
    #[serde(default, deserialize_with = "lenient_u64")]
    time_unix_nano: u64,
    #[serde(default, deserialize_with = "lenient_u64")]
    count: u64,
    #[serde(default, deserialize_with = "lenient_optional_f64")]
    sum: Option<f64>,
    #[serde(default, deserialize_with = "lenient_u64_list")]
    bucket_counts: Vec<u64>,
    #[serde(default, deserialize_with = "lenient_f64_list")]
    explicit_bounds: Vec<f64>,
    #[serde(default, deserialize_with = "nullable")]
    flags: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExponentialHistogramDataPoint {
    #[serde(default, deserialize_with = "nullable")]
    attributes: Vec<KeyValue>,
    #[serde(default, deserialize_with = "lenient_u64")]
    time_unix_nano: u64,
    #[serde(default, deserialize_with = "lenient_u64")]
    count: u64,
    #[serde(default, deserialize_with = "lenient_optional_f64")]
    sum: Option<f64>,
    #[serde(default, deserialize_with = "nullable")]
    flags: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SummaryDataPoint {
    #[serde(default, deserialize_with = "nullable")]
    attributes: Vec<KeyValue>,
    #[serde(default, deserialize_with = "lenient_u64")]
    time_unix_nano: u64,
    #[serde(default, deserialize_with = "lenient_u64")]
    count: u64,
    #[serde(default, deserialize_with = "lenient_optional_f64")]
    sum: Option<f64>,
    #[serde(default, deserialize_with = "nullable")]
    quantile_values: Vec<ValueAtQuantile>,
    #[serde(default, deserialize_with = "nullable")]
    flags: u32,
}

#[derive(Deserialize)]
struct ValueAtQuantile {
    #[serde(default, deserialize_with = "lenient_optional_f64")]
    quantile: Option<f64>,
    #[serde(default, deserialize_with = "lenient_optional_f64")]
    value: Option<f64>,
}

#[derive(Deserialize)]
struct KeyValue {
    #[serde(default, deserialize_with = "nullable")]
    key: String,
    #[serde(default)]
    value: Option<AnyValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnyValue {
    #[serde(default)]
    string_value: Option<String>,
    #[serde(default)]
    bool_value: Option<bool>,
    #[serde(default, deserialize_with = "lenient_optional_i64")]
    int_value: Option<i64>,
    #[serde(default, deserialize_with = "lenient_optional_f64")]
    double_value: Option<f64>,
    #[serde(default)]
    array_value: Option<ArrayValue>,
    #[serde(default)]
    kvlist_value: Option<KeyValueList>,
    #[serde(default)]
    bytes_value: Option<Base64Bytes>,
}

#[derive(Deserialize)]
struct ArrayValue {
    #[serde(default, deserialize_with = "nullable")]
    values: Vec<AnyValue>,
}

#[derive(Deserialize)]
struct KeyValueList {
    #[serde(default, deserialize_with = "nullable")]
    values: Vec<KeyValue>,
}

struct Base64Bytes(Vec<u8>);

impl<'de> Deserialize<'de> for Base64Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        // Protobuf's JSON mapping accepts the standard and the URL-safe alphabet, padded or not.
        let unpadded = text.trim_end_matches('=');
        [
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ]
        .iter()
        .find_map(|engine| engine.decode(unpadded).ok())
        .map(Base64Bytes)
        .ok_or_else(|| de::Error::custom("expected base64 bytes"))
    }
}

impl Request {
    fn into_proto(self) -> proto::ExportMetricsServiceRequest {
        proto::ExportMetricsServiceRequest {
            resource_metrics: self
                .resource_metrics
                .into_iter()
                .map(|resource_metrics| proto::ResourceMetrics {
                    resource: resource_metrics.resource.map(|resource| proto::Resource {
                        attributes: key_values(resource.attributes),
                    }),
                    scope_metrics: resource_metrics
                        .scope_metrics
                        .into_iter()
                        .map(|scope| proto::ScopeMetrics {
                            metrics: scope.metrics.into_iter().map(Metric::into_proto).collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

impl Metric {
    fn into_proto(self) -> proto::Metric {
        // A metric carries one kind of data; if a sender set several, the first one wins.
        let data = if let Some(gauge) = self.gauge {
            Some(proto::MetricData::Gauge(proto::Gauge {
                data_points: number_points(gauge.data_points),
            }))
        } else if let Some(sum) = self.sum {
            Some(proto::MetricData::Sum(proto::Sum {
                data_points: number_points(sum.data_points),
                is_monotonic: sum.is_monotonic,
            }))
        } else if let Some(histogram) = self.histogram {
            Some(proto::MetricData::Histogram(proto::Histogram {
                data_points: histogram
                    .data_points
                    .into_iter()
                    .map(|point| proto::HistogramDataPoint {
                        attributes: key_values(point.attributes),
                        time_unix_nano: point.time_unix_nano,
                        count: point.count,
                        sum: point.sum,
                        bucket_counts: point.bucket_counts,
                        explicit_bounds: point.explicit_bounds,
                        flags: point.flags,
                    })
                    .collect(),
            }))
        } else if let Some(histogram) = self.exponential_histogram {
            Some(proto::MetricData::ExponentialHistogram(proto::ExponentialHistogram {
                data_points: histogram
                    .data_points
                    .into_iter()
                    .map(|point| proto::ExponentialHistogramDataPoint {
                        attributes: key_values(point.attributes),
                        time_unix_nano: point.time_unix_nano,
                        count: point.count,
                        sum: point.sum,
                        flags: point.flags,
                    })
                    .collect(),
            }))
        } else {
            self.summary.map(|summary| {
                proto::MetricData::Summary(proto::Summary {
                    data_points: summary
                        .data_points
                        .into_iter()
                        .map(|point| proto::SummaryDataPoint {
                            attributes: key_values(point.attributes),
                            time_unix_nano: point.time_unix_nano,
                            count: point.count,
                            sum: point.sum.unwrap_or(0.0),
                            quantile_values: point
                                .quantile_values
                                .into_iter()
                                .map(|quantile| proto::ValueAtQuantile {
                                    quantile: quantile.quantile.unwrap_or(0.0),
                                    value: quantile.value.unwrap_or(0.0),
                                })
                                .collect(),
                            flags: point.flags,
                        })
                        .collect(),
                })
            })
        };
        proto::Metric { name: self.name, data }
    }
}

fn number_points(points: Vec<NumberDataPoint>) -> Vec<proto::NumberDataPoint> {
    points
        .into_iter()
        .map(|point| proto::NumberDataPoint {
            attributes: key_values(point.attributes),
            time_unix_nano: point.time_unix_nano,
            flags: point.flags,
            value: match (point.as_double, point.as_int) {
                (Some(double), _) => Some(proto::NumberValue::AsDouble(double)),
                (None, Some(int)) => Some(proto::NumberValue::AsInt(int)),
                (None, None) => None,
            },
        })
        .collect()
}

fn key_values(pairs: Vec<KeyValue>) -> Vec<proto::KeyValue> {
    pairs
        .into_iter()
        .map(|pair| proto::KeyValue { key: pair.key, value: pair.value.map(AnyValue::into_proto) })
        .collect()
}

impl AnyValue {
    fn into_proto(self) -> proto::AnyValue {
        let value = if let Some(text) = self.string_value {
            Some(proto::AnyValueKind::StringValue(text))
        } else if let Some(flag) = self.bool_value {
            Some(proto::AnyValueKind::BoolValue(flag))
        } else if let Some(int) = self.int_value {
            Some(proto::AnyValueKind::IntValue(int))
        } else if let Some(double) = self.double_value {
            Some(proto::AnyValueKind::DoubleValue(double))
        } else if let Some(array) = self.array_value {
            Some(proto::AnyValueKind::ArrayValue(proto::ArrayValue {
                values: array.values.into_iter().map(AnyValue::into_proto).collect(),
            }))
        } else if let Some(list) = self.kvlist_value {
            Some(proto::AnyValueKind::KvlistValue(proto::KeyValueList {
                values: key_values(list.values),
            }))
        } else {
            self.bytes_value.map(|bytes| proto::AnyValueKind::BytesValue(bytes.0))
        };
        proto::AnyValue { value }
    }
}

/// A field whose `null` means its default value.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A number written as a JSON number or as a decimal string.
trait LenientNumber: Sized {
    const EXPECTED: &'static str;
    fn from_u64(value: u64) -> Option<Self>;
    fn from_i64(value: i64) -> Option<Self>;
    fn from_f64(value: f64) -> Option<Self>;
    fn from_text(text: &str) -> Option<Self>;
}

impl LenientNumber for u64 {
    const EXPECTED: &'static str = "an unsigned 64-bit integer (a number or a decimal string)";
    fn from_u64(value: u64) -> Option<Self> {
        Some(value)
    }
    fn from_i64(value: i64) -> Option<Self> {
        u64::try_from(value).ok()
    }
    fn from_f64(value: f64) -> Option<Self> {
        // Some encoders write large integers in exponent form; accept them when exact.
        (value.fract() == 0.0 && (0.0..1.8e19).contains(&value)).then_some(value as u64)
    }
    fn from_text(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

impl LenientNumber for i64 {
    const EXPECTED: &'static str = "a 64-bit integer (a number or a decimal string)";
    fn from_u64(value: u64) -> Option<Self> {
        i64::try_from(value).ok()
    }
    fn from_i64(value: i64) -> Option<Self> {
        Some(value)
    }
    fn from_f64(value: f64) -> Option<Self> {
        (value.fract() == 0.0 && (-9.2e18..9.2e18).contains(&value)).then_some(value as i64)
    }
    fn from_text(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

impl LenientNumber for f64 {
    const EXPECTED: &'static str = "a number, or \"NaN\", \"Infinity\" or \"-Infinity\"";
    fn from_u64(value: u64) -> Option<Self> {
        Some(value as f64)
    }
    fn from_i64(value: i64) -> Option<Self> {
        Some(value as f64)
    }
    fn from_f64(value: f64) -> Option<Self> {
        Some(value)
    }
    fn from_text(text: &str) -> Option<Self> {
        match text {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            other => other.parse().ok().filter(|value: &f64| value.is_finite()),
        }
    }
}

struct LenientVisitor<T>(PhantomData<T>);

impl<T: LenientNumber> Visitor<'_> for LenientVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(T::EXPECTED)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        T::from_u64(value)
            .map(Some)
            .ok_or_else(|| E::custom(format!("{value} is out of range; expected {}", T::EXPECTED)))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        T::from_i64(value)
            .map(Some)
            .ok_or_else(|| E::custom(format!("{value} is out of range; expected {}", T::EXPECTED)))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        T::from_f64(value).map(Some).ok_or_else(|| {
            E::custom(format!("{value} is not valid here; expected {}", T::EXPECTED))
        })
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        T::from_text(text).map(Some).ok_or_else(|| {
            E::custom(format!("\"{text}\" is not valid here; expected {}", T::EXPECTED))
        })
    }
}

fn lenient<'de, D: Deserializer<'de>, T: LenientNumber>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    deserializer.deserialize_any(LenientVisitor(PhantomData))
}

fn lenient_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    Ok(lenient(deserializer)?.unwrap_or(0))
}

fn lenient_optional_i64<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    lenient(deserializer)
}

fn lenient_optional_f64<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<f64>, D::Error> {
    lenient(deserializer)
}

/// A list of numbers written as JSON numbers or strings.
struct LenientList<T>(Vec<T>);

impl<'de, T: LenientNumber> Deserialize<'de> for LenientList<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Element<T>(T);
        impl<'de, T: LenientNumber> Deserialize<'de> for Element<T> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                lenient(deserializer)?.map(Element).ok_or_else(|| {
                    de::Error::custom(format!("null in a list; expected {}", T::EXPECTED))
                })
            }
        }
        let elements: Option<Vec<Element<T>>> = Option::deserialize(deserializer)?;
        Ok(LenientList(elements.unwrap_or_default().into_iter().map(|element| element.0).collect()))
    }
}

fn lenient_u64_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u64>, D::Error> {
    Ok(LenientList::<u64>::deserialize(deserializer)?.0)
}

fn lenient_f64_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f64>, D::Error> {
    Ok(LenientList::<f64>::deserialize(deserializer)?.0)
}
