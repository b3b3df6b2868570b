//! Tests of the exposition parser: the format's own example, every component kind, and the
//! position and wording of errors.

use std::borrow::Cow;

use super::{MetricType, ParsedSample, parse, parse_bytes};

/// The example exposition from the format's documentation, extended with escapes and blanks.
const EXAMPLE: &str = r#"# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# Finally a summary, which has a complex representation, too:
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.99"} NaN
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
  	spaced_gauge { a = "1" , b="2", } -Inf
"#;

fn labels<'a>(sample: &'a ParsedSample<'_>) -> Vec<(&'a str, &'a str)> {
    sample.labels.iter().map(|(name, value)| (*name, value.as_ref())).collect()
}

#[test]
fn the_documented_example_parses_completely() {
    let samples = parse(EXAMPLE).unwrap();
    let names: Vec<&str> = samples.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "http_requests_total",
            "http_requests_total",
            "msdos_file_access_time_seconds",
            "metric_without_timestamp_and_labels",
            "something_weird",
            "http_request_duration_seconds_bucket",
            "http_request_duration_seconds_bucket",
            "http_request_duration_seconds_bucket",
            "http_request_duration_seconds_sum",
            "http_request_duration_seconds_count",
            "rpc_duration_seconds",
            "rpc_duration_seconds",
            "rpc_duration_seconds_sum",
            "rpc_duration_seconds_count",
            "spaced_gauge",
        ]
    );

    assert_eq!(samples[0].metric_type, MetricType::Counter);
    assert_eq!(labels(&samples[0]), [("method", "post"), ("code", "200")]);
    assert_eq!(samples[0].value, 1027.0);
    assert_eq!(samples[0].timestamp_ms, Some(1_395_066_363_000));
    assert_eq!(samples[1].value, 3.0);

    assert_eq!(
        labels(&samples[2]),
        [("path", r"C:\DIR\FILE.TXT"), ("error", "Cannot find file:\n\"FILE.TXT\"")]
    );
    assert!(matches!(samples[2].labels[0].1, Cow::Owned(_)), "escaped values are unescaped copies");
    assert_eq!(samples[2].value, 1.458255915e9);
    assert_eq!(samples[2].metric_type, MetricType::Untyped);

    assert_eq!(samples[3].timestamp_ms, None);
    assert!(samples[3].labels.is_empty());
    assert!(matches!(samples[4].labels[0].1, Cow::Borrowed(_)), "plain values borrow the input");
    assert_eq!(samples[4].value, f64::INFINITY);
    assert_eq!(samples[4].timestamp_ms, Some(-3_982_045));

    for sample in &samples[5..10] {
        assert_eq!(sample.family, "http_request_duration_seconds");
        assert_eq!(sample.metric_type, MetricType::Histogram);
    }
    assert_eq!(labels(&samples[7]), [("le", "+Inf")]);
    for sample in &samples[10..14] {
        assert_eq!(sample.family, "rpc_duration_seconds");
        assert_eq!(sample.metric_type, MetricType::Summary);
    }
    assert!(samples[11].value.is_nan());
    assert_eq!(samples[12].value, 1.7560473e7);

    assert_eq!(labels(&samples[14]), [("a", "1"), ("b", "2")]);
    assert_eq!(samples[14].value, f64::NEG_INFINITY);
}

#[test]
fn values_accept_go_float_spellings() {
    let text = "a 1e3\nb .5\nc -0\nd +Inf\ne nan\nf Infinity\ng 5.\n";
    let values: Vec<f64> = parse(text).unwrap().iter().map(|s| s.value).collect();
    assert_eq!(values[..4], [1000.0, 0.5, -0.0, f64::INFINITY]);
    assert!(values[4].is_nan());
    assert_eq!(values[5..], [f64::INFINITY, 5.0]);
}

#[test]
fn crlf_line_endings_and_comments_are_tolerated() {
    let text = "# just a comment\r\n#TYPE x gauge\r\n# HELP\r\nx 1\r\n";
    let samples = parse(text).unwrap();
    assert_eq!(samples.len(), 1);
    assert_eq!(
        samples[0].metric_type,
        MetricType::Gauge,
        "`#TYPE` without a space is still a TYPE line"
    );
}

#[test]
fn samples_of_a_family_without_type_are_untyped_by_their_own_name() {
    let samples = parse("foo_bucket{le=\"1\"} 3\nfoo_sum 2\n").unwrap();
    assert_eq!(samples[0].family, "foo_bucket");
    assert_eq!(samples[0].metric_type, MetricType::Untyped);
    assert_eq!(samples[1].family, "foo_sum");
}

#[test]
fn a_summary_does_not_claim_bucket_samples() {
    let samples = parse("# TYPE s summary\ns_bucket 1\ns_count 2\n").unwrap();
    assert_eq!((samples[0].family, samples[0].metric_type), ("s_bucket", MetricType::Untyped));
    assert_eq!((samples[1].family, samples[1].metric_type), ("s", MetricType::Summary));
}

/// Each malformed input, with the line and column of the error and words the message must hold.
const MALFORMED: &[(&str, usize, usize, &str)] = &[
    ("0abc 1", 1, 1, "expected a metric name"),
    ("ok 1\nfoo{bar=\"x\" 1", 2, 13, "expected `,` or `}` after the label value, found `1`"),
    ("foo{bar=x} 1", 1, 9, "expected `\"` to open the label value, found `x`"),
    ("foo{bar} 1", 1, 8, "expected `=` after the label name, found `}`"),
    ("foo{1a=\"x\"} 1", 1, 5, "expected a label name"),
    ("foo{a=\"x\",a=\"y\"} 1", 1, 11, "label `a` appears twice"),
    ("foo{a=\"unterminated} 1", 1, 23, "expected `\"` to close the label value, found end of line"),
    ("foo{a=\"bad\\tescape\"} 1", 1, 12, "expected `\\`, `\"` or `n` after a backslash"),
    ("foo", 1, 4, "expected a sample value, found end of line"),
    ("foo{} ", 1, 7, "expected a sample value"),
    ("foo abc", 1, 5, "expected a sample value (a number, NaN, +Inf or -Inf), found `abc`"),
    ("foo 1 12.5", 1, 7, "expected a timestamp in integer milliseconds, found `12.5`"),
    ("foo 1 2 3", 1, 9, "expected end of line after the timestamp, found `3`"),
    ("foo$ 1", 1, 4, "expected `{`, a space or a tab after the metric name, found `$`"),
    (
        "# TYPE foo gauges",
        1,
        12,
        "expected a metric type (counter, gauge, histogram, summary or untyped), found `gauges`",
    ),
    (
        "# TYPE foo",
        1,
        11,
        "expected a space and a metric type after the metric name, found end of line",
    ),
    ("# TYPE foo gauge extra", 1, 18, "expected end of line after the metric type, found `e`"),
    ("# TYPE foo gauge\n# TYPE foo counter", 2, 8, "a second TYPE line for `foo`"),
    ("# HELP foo a\n# HELP foo b", 2, 8, "a second HELP line for `foo`"),
    ("# HELP foo bad \\x escape", 1, 17, "expected `\\` or `n` after a backslash in help text"),
    ("foo 1\n# TYPE foo gauge", 2, 8, "comes after its samples; move it before them"),
    ("# TYPE h histogram\nh_bucket 1", 2, 1, "the histogram bucket `h_bucket` needs an `le` label"),
    (
        "# TYPE h histogram\nh_bucket{le=\"x\"} 1",
        2,
        1,
        "the `le` label of `h_bucket` must be a number, found `x`",
    ),
    (
        "# TYPE h histogram\nh 1",
        2,
        1,
        "`h` is a histogram; its samples must be named `h_bucket`, `h_sum` or `h_count`",
    ),
    ("# TYPE s summary\ns 1", 2, 1, "the summary quantile `s` needs an `quantile` label"),
    ("ünïcode{a=\"é\"} 1", 1, 1, "expected a metric name (a letter, `_` or `:` first), found `ü`"),
    ("a{é=\"x\"} 1", 1, 3, "expected a label name (a letter or `_` first) or `}`, found `é`"),
    ("a{b=\"é\",c} 1", 1, 10, "expected `=` after the label name, found `}`"),
];

#[test]
fn malformed_input_is_rejected_with_its_position() {
    let mut mismatches = Vec::new();
    for &(input, line, column, words) in MALFORMED {
        match parse(input) {
            Ok(samples) => mismatches.push(format!("{input:?} was accepted: {samples:?}")),
            Err(error) => {
                let prefix = format!("line {line}, column {column}: ");
                if !error.message.contains(words) || !error.to_string().starts_with(&prefix) {
                    mismatches
                        .push(format!("{input:?}: got `{error}`, wanted `{prefix}...{words}...`"));
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn invalid_utf8_is_reported_at_its_line_and_column() {
    let error = parse_bytes(b"ok 1\nab{c=\"\xff\"} 1\n").unwrap_err();
    assert_eq!((error.line, error.column), (2, 7));
    assert!(error.message.contains("expected UTF-8 text"));
    assert_eq!(parse_bytes(b"ok 1\n").unwrap().len(), 1);
}

#[test]
fn blank_input_has_no_samples() {
    assert!(parse("").unwrap().is_empty());
    assert!(parse("\n \t\n# comment only\n").unwrap().is_empty());
}
