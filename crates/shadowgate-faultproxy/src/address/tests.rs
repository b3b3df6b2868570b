//! Tests of address and name checks.

use super::*;

#[test]
fn addresses_need_a_host_and_a_port() {
    assert!(check_address("listen", "127.0.0.1:0").is_ok());
    assert!(check_address("listen", ":8474").is_ok());
    assert!(check_address("listen", "[::1]:80").is_ok());
    assert!(check_address("upstream", "redis:6379").is_ok());
    for (field, value) in [
        ("listen", "127.0.0.1"),
        ("listen", "127.0.0.1:http"),
        ("listen", "127.0.0.1:70000"),
        ("listen", "::1:80"),
        ("listen", "[zz]:80"),
        ("upstream", ":6379"),
        ("upstream", "redis:0"),
        ("upstream", "red is:6379"),
    ] {
        let error = check_address(field, value).unwrap_err().to_string();
        assert!(error.starts_with(&format!("bad request body: {field} `{value}`")), "{error}");
    }
    assert_eq!(bind_target(":80"), "0.0.0.0:80");
    assert_eq!(bind_target("localhost:80"), "localhost:80");
}

#[test]
fn a_proxy_cannot_forward_to_itself() {
    assert!(check_not_itself("127.0.0.1:8000", "127.0.0.1:8000").is_err());
    assert!(check_not_itself(":8000", "127.0.0.1:8000").is_err());
    assert!(check_not_itself("0.0.0.0:8000", "127.0.0.1:8000").is_err());
    assert!(check_not_itself("127.0.0.1:8000", "127.0.0.1:8001").is_ok());
    assert!(check_not_itself("127.0.0.1:0", "127.0.0.1:8000").is_ok());
    assert!(check_not_itself("127.0.0.1:8000", "db:8000").is_ok());
}

#[test]
fn names_must_fit_in_a_path_segment() {
    assert!(check_name("proxy", "redis:primary").is_ok());
    assert!(matches!(check_name("proxy", ""), Err(FaultProxyError::MissingField(_))));
    assert!(check_name("toxic", "a/b").unwrap_err().to_string().contains("contains `/`"));
    assert!(check_name("toxic", "a\nb").is_err());
    assert!(check_name("toxic", &"x".repeat(256)).is_err());
}
