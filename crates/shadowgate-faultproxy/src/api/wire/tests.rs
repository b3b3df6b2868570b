//! Tests of decoding Toxiproxy's JSON bodies.

use super::*;

#[test]
fn toxic_bodies_take_toxiproxy_defaults() {
    let body: ToxicBody = decode(br#"{"type":"latency","attributes":{"latency":5}}"#).unwrap();
    let toxic = body.into_toxic().unwrap();
    assert_eq!(toxic.name, "latency_downstream");
    assert_eq!(toxic.stream, Stream::Downstream);
    assert_eq!(toxic.toxicity, 1.0);
    assert_eq!(toxic.kind, ToxicKind::Latency { latency_ms: 5, jitter_ms: 0 });
}

#[test]
fn bad_attributes_are_named() {
    let cases = [
        (
            r#"{"type":"latency","attributes":{"latancy":5}}"#,
            "attributes.latancy: a latency toxic has no such attribute; it takes latency, jitter",
        ),
        (
            r#"{"type":"latency","attributes":{"latency":-5}}"#,
            "attributes.latency: must not be negative, got -5",
        ),
        (
            r#"{"type":"latency","attributes":{"latency":"5"}}"#,
            "attributes.latency: must be a whole number, got \"5\"",
        ),
        (
            r#"{"type":"latency","attributes":{"latency":2.5}}"#,
            "attributes.latency: must be a whole number, got 2.5",
        ),
    ];
    for (body, expected) in cases {
        let error = decode::<ToxicBody>(body.as_bytes()).unwrap().into_toxic().unwrap_err();
        assert_eq!(error.to_string(), format!("bad request body: {expected}"));
    }
}

#[test]
fn malformed_json_names_the_field() {
    let error = decode::<ProxyBody>(br#"{"name":"a","enabled":"yes"}"#).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(
            "bad request body: enabled: invalid type: string \"yes\", expected a boolean"
        ),
        "{message}"
    );
    let error = decode::<ProxyBody>(b"{\"name\":").unwrap_err();
    assert!(error.to_string().starts_with("bad request body: name: EOF while parsing"), "{error}");
    assert!(decode::<ProxyBody>(b"{} {}").is_err());
}
