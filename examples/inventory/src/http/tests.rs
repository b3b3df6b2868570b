//! Tests of query parsing and the error shape.

use http_body_util::BodyExt;

use super::*;

#[test]
fn decodes_query_pairs() {
    let query = Query::parse(Some("category=home%20garden&limit=5&flag&tag=a+b&empty="));
    assert_eq!(query.get("category"), Some("home garden"));
    assert_eq!(query.get("limit"), Some("5"));
    assert_eq!(query.get("flag"), Some(""));
    assert_eq!(query.get("tag"), Some("a b"));
    assert_eq!(query.get("empty"), Some(""));
    assert_eq!(query.get("missing"), None);
    assert_eq!(Query::parse(None), Query::default());
}

#[test]
fn keeps_malformed_escapes_literally() {
    assert_eq!(percent_decode("100%"), "100%");
    assert_eq!(percent_decode("%zz"), "%zz");
    assert_eq!(percent_decode("%4"), "%4");
    assert_eq!(percent_decode("%41%42"), "AB");
    assert_eq!(percent_decode("%e2%82%ac"), "\u{20ac}");
    assert_eq!(percent_decode("%ff"), "\u{fffd}");
}

#[test]
fn bounded_integers_name_the_parameter() {
    let query = Query::parse(Some("limit=500&offset=x"));
    let err = query.bounded_u32("limit", 20, 1, 100).unwrap_err();
    assert_eq!(err.status, StatusCode::BAD_REQUEST);
    assert_eq!(err.field.as_deref(), Some("limit"));
    assert!(err.message.contains("from 1 to 100"), "{}", err.message);
    assert_eq!(query.bounded_u32("offset", 0, 0, 10).unwrap_err().field.as_deref(), Some("offset"));
    assert_eq!(query.bounded_u32("absent", 20, 1, 100), Ok(20));
    assert_eq!(Query::parse(Some("limit=100")).bounded_u32("limit", 20, 1, 100), Ok(100));
}

#[test]
fn path_ids_must_be_positive_integers() {
    assert_eq!(path_id("42", "/items/{id}"), Ok(42));
    for raw in ["0", "-3", "abc", "1.5", "99999999999999999999"] {
        let err = path_id(raw, "/items/{id}").unwrap_err();
        assert!(err.message.contains("/items/{id}"), "{}", err.message);
    }
}

#[tokio::test]
async fn errors_are_json_with_field_and_help() {
    let response = ApiError::invalid("limit", "too big").with_help("use 100").into_response();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(value, serde_json::json!({"error": "too big", "field": "limit", "help": "use 100"}));
}
