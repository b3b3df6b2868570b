//! Tests of the API's path handling and config parsing.

use super::*;

#[test]
fn config_files_use_the_populate_format() {
    let specs = proxy_specs_from_json(
        br#"[{"name": "db", "listen": "127.0.0.1:5433", "upstream": "127.0.0.1:5432"},
             {"name": "cache", "upstream": "127.0.0.1:6379", "enabled": false}]"#,
    )
    .unwrap();
    assert_eq!(specs.len(), 2);
    assert_eq!((specs[0].name.as_str(), specs[0].enabled), ("db", true));
    assert_eq!((specs[1].listen.as_str(), specs[1].enabled), ("", false));
    let error = proxy_specs_from_json(br#"[{"name": 5}]"#).unwrap_err().to_string();
    assert!(error.starts_with("bad request body: [0].name: invalid type"), "{error}");
}

#[test]
fn paths_are_split_and_decoded() {
    assert_eq!(path_segments("/proxies/my%20db/toxics").unwrap(), ["proxies", "my db", "toxics"]);
    assert!(path_segments("/proxies/%zz").is_err());
    assert!(path_segments("/proxies/%ff").is_err());
    assert!(Route::parse(&path_segments("/proxies/a/toxics/b/c").unwrap()).is_none());
    assert!(Route::parse(&path_segments("/proxies/").unwrap()).is_some());
}
