//! The HTTP API: Toxiproxy's routes, JSON shapes, status codes and error bodies.

use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::support::{Harness, connect, echo_server, round_trip};

fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_else(|| panic!("no error message in {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_are_created_listed_read_updated_and_deleted() {
    let harness = Harness::start().await;
    let upstream = echo_server().await.to_string();
    let body = json!({"name": "redis", "listen": "127.0.0.1:0", "upstream": upstream}).to_string();
    let (status, created) = harness.call("POST", "/proxies", Some(&body)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["name"], "redis");
    assert_eq!(created["upstream"], upstream.as_str());
    assert_eq!(created["enabled"], true);
    assert_eq!(created["toxics"], json!([]));
    let listen = created["listen"].as_str().expect("listen").to_string();
    assert!(!listen.ends_with(":0"), "the bound port is reported, not 0: {listen}");
    round_trip(&mut connect(listen.parse().expect("address")).await, b"through").await;

    let (status, listed) = harness.call("GET", "/proxies", None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["redis"], created);

    let (status, shown) = harness.call("GET", "/proxies/redis", None).await;
    assert_eq!((status, &shown), (200, &created));

    let (status, updated) =
        harness.call("POST", "/proxies/redis", Some(r#"{"enabled": false}"#)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["enabled"], false);
    assert_eq!(updated["listen"], listen.as_str());
    assert!(TcpStream::connect(&listen).await.is_err(), "disabled proxy still listens");
    let (status, updated) =
        harness.call("PATCH", "/proxies/redis", Some(r#"{"enabled": true}"#)).await;
    assert_eq!((status, &updated["enabled"]), (200, &json!(true)));
    round_trip(&mut connect(listen.parse().expect("address")).await, b"again").await;

    let (status, body) = harness.call("DELETE", "/proxies/redis", None).await;
    assert_eq!((status, body), (204, json!("")));
    let (status, body) = harness.call("GET", "/proxies/redis", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], 404);
    assert!(error_of(&body).starts_with("proxy not found"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_validation_errors_follow_toxiproxy() {
    let harness = Harness::start().await;
    let upstream = echo_server().await.to_string();
    let good = json!({"name": "db", "upstream": upstream}).to_string();
    let cases = [
        (json!({"upstream": upstream}).to_string(), 400, "missing required field: name"),
        (json!({"name": "db"}).to_string(), 400, "missing required field: upstream"),
        ("{\"name\": ".to_string(), 400, "bad request body: "),
        (
            json!({"name": "db", "upstream": upstream, "enabled": "yes"}).to_string(),
            400,
            "bad request body: enabled: invalid type",
        ),
        (
            json!({"name": "db", "upstream": "nowhere"}).to_string(),
            400,
            "bad request body: upstream `nowhere` has no port",
        ),
        (
            json!({"name": "db", "upstream": upstream, "listen": "127.0.0.1:99999"}).to_string(),
            400,
            "bad request body: listen `127.0.0.1:99999`",
        ),
        (
            json!({"name": "a/b", "upstream": upstream}).to_string(),
            400,
            "bad request body: proxy name `a/b` contains `/`",
        ),
    ];
    for (body, status, message) in cases {
        let (got_status, got) = harness.call("POST", "/proxies", Some(&body)).await;
        assert_eq!(got_status, status, "{body} -> {got}");
        assert_eq!(got["status"], status, "{got}");
        assert!(error_of(&got).starts_with(message), "{body} -> {got}");
    }

    let (status, _) = harness.call("POST", "/proxies", Some(&good)).await;
    assert_eq!(status, 201);
    let (status, again) = harness.call("POST", "/proxies", Some(&good)).await;
    assert_eq!(status, 409);
    assert!(error_of(&again).starts_with("proxy already exists"), "{again}");

    // A port that is taken cannot be listened on; Toxiproxy answers 500.
    let taken = harness.proxy.proxy("db").await.expect("db").listen;
    let clash = json!({"name": "clash", "upstream": upstream, "listen": taken}).to_string();
    let (status, body) = harness.call("POST", "/proxies", Some(&clash)).await;
    assert_eq!(status, 500, "{body}");
    assert!(error_of(&body).starts_with(&format!("listen {taken}:")), "{body}");
    let (status, _) = harness.call("GET", "/proxies/clash", None).await;
    assert_eq!(status, 404, "a proxy that failed to listen must not be created");

    let (status, body) = harness.call("POST", "/proxies/nope", Some("{}")).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxics_are_created_listed_read_updated_and_deleted() {
    let harness = Harness::start().await;
    harness.proxy_to("web", echo_server().await).await;
    let (status, toxic) = harness
        .call(
            "POST",
            "/proxies/web/toxics",
            Some(r#"{"type": "latency", "attributes": {"latency": 120}}"#),
        )
        .await;
    assert_eq!(status, 200, "{toxic}");
    assert_eq!(
        toxic,
        json!({"name": "latency_downstream", "type": "latency", "stream": "downstream",
               "toxicity": 1.0, "attributes": {"latency": 120, "jitter": 0}})
    );
    let body = r#"{"name": "cap", "type": "limit_data", "stream": "upstream", "toxicity": 0.5,
                   "attributes": {"bytes": 64}}"#;
    let (status, _) = harness.call("POST", "/proxies/web/toxics", Some(body)).await;
    assert_eq!(status, 200);

    let (status, listed) = harness.call("GET", "/proxies/web/toxics", None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> =
        listed.as_array().expect("array").iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["cap", "latency_downstream"], "upstream toxics are listed first");
    let (_, proxy) = harness.call("GET", "/proxies/web", None).await;
    assert_eq!(proxy["toxics"], listed);

    let (status, shown) = harness.call("GET", "/proxies/web/toxics/cap", None).await;
    assert_eq!((status, &shown["attributes"]["bytes"]), (200, &json!(64)));

    // Updates change only the attributes given, and the toxicity.
    let (status, updated) = harness
        .call(
            "POST",
            "/proxies/web/toxics/latency_downstream",
            Some(r#"{"attributes": {"jitter": 7}}"#),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["attributes"], json!({"latency": 120, "jitter": 7}));
    let (status, updated) = harness
        .call(
            "PATCH",
            "/proxies/web/toxics/cap",
            Some(r#"{"toxicity": 0.25, "type": "ignored", "name": "ignored"}"#),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        (&updated["toxicity"], &updated["name"], &updated["type"]),
        (&json!(0.25), &json!("cap"), &json!("limit_data"))
    );

    let (status, _) = harness.call("DELETE", "/proxies/web/toxics/cap", None).await;
    assert_eq!(status, 204);
    let (status, body) = harness.call("DELETE", "/proxies/web/toxics/cap", None).await;
    assert_eq!(status, 404);
    assert!(error_of(&body).starts_with("toxic not found"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxic_validation_errors_follow_toxiproxy() {
    let harness = Harness::start().await;
    harness.proxy_to("svc", echo_server().await).await;
    let cases = [
        (
            r#"{"type": "latency", "stream": "sideways"}"#,
            400,
            "stream was invalid, can be either upstream or downstream",
        ),
        (r#"{"type": "packet_storm"}"#, 400, "invalid toxic type: `packet_storm`"),
        (r#"{"attributes": {}}"#, 400, "missing required field: type"),
        (
            r#"{"type": "latency", "toxicity": 1.5}"#,
            400,
            "bad request body: toxicity must be between 0 and 1",
        ),
        (
            r#"{"type": "latency", "attributes": {"latency": -1}}"#,
            400,
            "bad request body: attributes.latency: must not be negative",
        ),
        (
            r#"{"type": "latency", "attributes": {"latancy": 10}}"#,
            400,
            "bad request body: attributes.latancy: a latency toxic has no such attribute",
        ),
        (
            r#"{"type": "slicer", "attributes": {"average_size": 0}}"#,
            400,
            "bad request body: attributes.average_size: must be at least 1",
        ),
        (
            r#"{"type": "latency", "attributes": []}"#,
            400,
            "bad request body: attributes: invalid type",
        ),
        (r#"[1, 2"#, 400, "bad request body: "),
    ];
    for (body, status, message) in cases {
        let (got_status, got) = harness.call("POST", "/proxies/svc/toxics", Some(body)).await;
        assert_eq!((got_status, &got["status"]), (status, &json!(status)), "{body} -> {got}");
        assert!(error_of(&got).starts_with(message), "{body} -> {got}");
    }
    let (status, _) =
        harness.call("POST", "/proxies/svc/toxics", Some(r#"{"type": "timeout"}"#)).await;
    assert_eq!(status, 200);
    let (status, body) =
        harness.call("POST", "/proxies/svc/toxics", Some(r#"{"type": "timeout"}"#)).await;
    assert_eq!(status, 409);
    assert!(error_of(&body).starts_with("toxic already exists"), "{body}");
    let (status, body) = harness
        .call(
            "POST",
            "/proxies/svc/toxics/timeout_downstream",
            Some(r#"{"attributes": {"timeout": "soon"}}"#),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        error_of(&body).starts_with("bad request body: attributes.timeout: must be a whole number"),
        "{body}"
    );
    let (status, body) =
        harness.call("POST", "/proxies/ghost/toxics", Some(r#"{"type": "timeout"}"#)).await;
    assert_eq!(status, 404);
    assert!(error_of(&body).starts_with("proxy not found"), "{body}");
    let (status, _) = harness.call("GET", "/proxies/svc/toxics/ghost", None).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn populate_creates_keeps_and_replaces() {
    let harness = Harness::start().await;
    let upstream = echo_server().await.to_string();
    let other = echo_server().await.to_string();
    let body = json!([
        {"name": "one", "listen": "127.0.0.1:0", "upstream": upstream},
        {"name": "two", "listen": "127.0.0.1:0", "upstream": upstream, "enabled": false},
    ])
    .to_string();
    let (status, populated) = harness.call("POST", "/populate", Some(&body)).await;
    assert_eq!(status, 201, "{populated}");
    let proxies = populated["proxies"].as_array().expect("proxies");
    assert_eq!(proxies.len(), 2);
    assert_eq!((&proxies[0]["enabled"], &proxies[1]["enabled"]), (&json!(true), &json!(false)));
    let one_listen = proxies[0]["listen"].as_str().expect("listen").to_string();
    harness.call("POST", "/proxies/one/toxics", Some(r#"{"type": "latency"}"#)).await;

    // The same addresses keep the proxy and its toxics; a new upstream replaces it.
    let body = json!([
        {"name": "one", "listen": one_listen, "upstream": upstream},
        {"name": "two", "listen": "127.0.0.1:0", "upstream": other},
    ])
    .to_string();
    let (status, populated) = harness.call("POST", "/populate", Some(&body)).await;
    assert_eq!(status, 201, "{populated}");
    assert_eq!(populated["proxies"][0]["toxics"].as_array().map(Vec::len), Some(1));
    assert_eq!(populated["proxies"][1]["upstream"], other.as_str());

    let body = json!([{"name": "three", "upstream": upstream}, {"name": "four"}]).to_string();
    let (status, failed) = harness.call("POST", "/populate", Some(&body)).await;
    assert_eq!(status, 400, "{failed}");
    assert_eq!(failed["status"], 400);
    assert_eq!(failed["error"], "missing required field: upstream at proxy 2");
    let (status, _) = harness.call("GET", "/proxies/three", None).await;
    assert_eq!(status, 404, "nothing is created when any proxy is invalid");

    let (status, failed) = harness.call("POST", "/populate", Some(r#"{"name": "x"}"#)).await;
    assert_eq!(status, 400, "{failed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_and_version() {
    let harness = Harness::start().await;
    harness.proxy_to("a", echo_server().await).await;
    harness.call("POST", "/proxies/a/toxics", Some(r#"{"type": "timeout"}"#)).await;
    harness.call("POST", "/proxies/a", Some(r#"{"enabled": false}"#)).await;
    let (status, _) = harness.call("POST", "/reset", None).await;
    assert_eq!(status, 204);
    let (_, proxy) = harness.call("GET", "/proxies/a", None).await;
    assert_eq!((&proxy["enabled"], &proxy["toxics"]), (&json!(true), &json!([])));

    let (status, version) = harness.call("GET", "/version", None).await;
    assert_eq!(status, 200);
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_and_stray_requests_get_clear_errors() {
    let harness = Harness::start().await;
    let (status, body) = harness.call("GET", "/nothing/here", None).await;
    assert_eq!(status, 404);
    assert!(error_of(&body).starts_with("not found: no API endpoint at /nothing/here"), "{body}");

    let (status, body) = harness.call("DELETE", "/proxies", None).await;
    assert_eq!(status, 405);
    assert!(error_of(&body).contains("accepts GET, POST"), "{body}");

    let browser = [("user-agent", "Mozilla/5.0 (X11; Linux x86_64)")];
    let (status, body) = harness.call_with("GET", "/proxies", None, &browser).await;
    assert_eq!(status, 403);
    assert!(error_of(&body).starts_with("user agent not allowed"), "{body}");

    let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let (status, body) = harness.call("POST", "/proxies", Some(&huge)).await;
    assert_eq!(status, 413, "{body}");

    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let (status, body) = harness.call("POST", "/populate", Some(&deep)).await;
    assert_eq!(status, 400, "{body}");

    let (status, body) = harness.call("GET", "/proxies/%ff", None).await;
    assert_eq!(status, 400, "{body}");

    // The server is still healthy after all that.
    let (status, _) = harness.call("GET", "/proxies", None).await;
    assert_eq!(status, 200);
}
