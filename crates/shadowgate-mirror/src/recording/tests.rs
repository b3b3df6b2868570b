//! Round trips and error messages of the recording format.

use super::*;

fn sample_exchange(sequence: u64) -> RecordedExchange {
    let mut request_headers = HeaderMap::new();
    request_headers.insert("content-type", HeaderValue::from_static("application/json"));
    request_headers.append("x-multi", HeaderValue::from_static("one"));
    request_headers.append("x-multi", HeaderValue::from_static("two"));
    request_headers.insert("x-binary", HeaderValue::from_bytes(&[0x80, 0xff, b'a']).unwrap());
    let mut response_headers = HeaderMap::new();
    response_headers.insert("content-type", HeaderValue::from_static("application/octet-stream"));
    RecordedExchange {
        sequence,
        offset: Duration::from_micros(1_500_000 + sequence),
        request: CapturedRequest {
            method: Method::POST,
            path_and_query: "/cart/items?coupon=%20x".into(),
            headers: request_headers,
            body: Bytes::from_static(br#"{"sku":"A-1","qty":2}"#),
            body_truncated: false,
        },
        response: Ok(CapturedResponse {
            status: StatusCode::CREATED,
            headers: response_headers,
            body: Bytes::from_static(&[0, 159, 146, 150, 10]),
            body_truncated: true,
        }),
        latency: Duration::from_micros(2_345),
    }
}

fn sample_header() -> RecordingHeader {
    RecordingHeader {
        started_at_unix_ms: 1_700_000_000_000,
        source: "shadowgate record http://127.0.0.1:8080".into(),
        redaction: RedactionSummary {
            dropped_headers: vec!["authorization".into()],
            hashed_fields: vec!["user.email".into()],
            removed_fields: vec![],
        },
    }
}

#[test]
fn exchanges_round_trip_with_text_and_binary_bodies_and_repeated_headers() {
    let failed = RecordedExchange { response: Err(ExchangeFailure::Timeout), ..sample_exchange(1) };
    let text = [
        encode_header(&sample_header()),
        encode_exchange(&sample_exchange(0)),
        encode_exchange(&failed),
    ]
    .join("\n");
    let recording = decode_recording(&text).unwrap();
    assert_eq!(recording.header, sample_header());
    assert_eq!(recording.exchanges, vec![sample_exchange(0), failed]);
}

#[test]
fn lines_are_readable_json_with_base64_only_where_needed() {
    let line = encode_exchange(&sample_exchange(0));
    let value: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["record"], "exchange");
    assert_eq!(value["request"]["body"], r#"{"sku":"A-1","qty":2}"#);
    assert_eq!(value["response"]["body"]["base64"], "AJ+Slgo=");
    assert_eq!(value["request"]["headers"][1], serde_json::json!(["x-multi", "one"]));
    assert_eq!(value["response"]["body_truncated"], true);
    assert!(value["request"].get("body_truncated").is_none());
    let header: serde_json::Value = serde_json::from_str(&encode_header(&sample_header())).unwrap();
    assert_eq!(header["format"], FORMAT_NAME);
    assert_eq!(header["version"], FORMAT_VERSION);
}

#[test]
fn a_newer_version_is_refused_with_advice() {
    let text = encode_header(&sample_header()).replace("\"version\":1", "\"version\":7");
    let error = decode_recording(&text).unwrap_err().to_string();
    assert!(error.contains("version 7") && error.contains("upgrade shadowgate"), "{error}");
}

#[test]
fn corrupt_lines_are_reported_with_line_and_field() {
    let header = encode_header(&sample_header());
    let good = encode_exchange(&sample_exchange(0));
    let cases = [
        (String::new(), "empty"),
        ("{\"format\":\"har\"}".to_owned(), "is this a shadowgate recording"),
        (
            format!("{header}\n{}", good.replace("\"POST\"", "\"PO ST\"")),
            "line 2: field `request.method`",
        ),
        (format!("{header}\n{}", good.replace("\"/cart", "\"cart")), "origin-form"),
        (
            format!(
                "{header}\n{}",
                good.replace("\"offset_us\":1500000", "\"offset_us\":\"soon\"")
            ),
            "offset_us",
        ),
        (
            format!("{header}\n\n{}", good.replace("AJ+Slgo=", "%%%")),
            "line 3: field `response.body`: invalid base64",
        ),
        (
            format!("{header}\n{}", good.replace("\"status\":201", "\"status\":42")),
            "not an HTTP status",
        ),
        (format!("{header}\n{header}"), "second header"),
        (format!("{header}\n{{not json"), "line 2: not a valid record"),
    ];
    for (text, expected) in cases {
        let error = decode_recording(&text).unwrap_err().to_string();
        assert!(error.contains(expected), "expected `{expected}` in `{error}`");
    }
}
