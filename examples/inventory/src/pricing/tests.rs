//! Tests of `--pricing-url` validation.

use super::*;

#[test]
fn accepts_http_urls_with_a_port_and_optional_path() {
    let plain = PricingUrl::parse("http://127.0.0.1:9000").unwrap();
    assert_eq!(plain.price_uri(42).unwrap(), "http://127.0.0.1:9000/prices/42");
    let with_path = PricingUrl::parse("http://localhost:8080/api/v3/").unwrap();
    assert_eq!(with_path.price_uri(7).unwrap(), "http://localhost:8080/api/v3/prices/7");
}

#[test]
fn refuses_what_it_cannot_call_and_says_what_to_pass() {
    for (url, hint) in [
        ("https://127.0.0.1:9000", "only plain http://"),
        ("127.0.0.1:9000", "only plain http://"),
        ("http://127.0.0.1", "port"),
        ("http://127.0.0.1:9000/?x=1", "query"),
        ("http://exa mple:80", "not a URL"),
    ] {
        let err = PricingUrl::parse(url).unwrap_err();
        assert!(err.to_string().contains(hint), "{url}: {err}");
        assert!(err.to_string().contains("--pricing-url"), "{url}: {err}");
    }
}
