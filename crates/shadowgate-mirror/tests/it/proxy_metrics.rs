//! The admin endpoint serves the proxy's own metrics in Prometheus text format.

use std::{collections::HashMap, time::Duration};

use http::Method;
use shadowgate_mirror::{config::MirrorConfig, proxy::MirrorProxy};

use crate::support::{Backend, http1_client, refused_addr, send, wait_until_async};

/// Parses sample lines (`name{labels} value`) into a map from `name{labels}` to value.
fn parse_samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample line has a value");
            (series.to_owned(), value.parse::<f64>().expect("a numeric value"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_endpoint_counts_mirrored_dropped_errors_and_latencies() {
    let primary = Backend::echo("primary", Duration::ZERO).await;
    let shadow = Backend::echo("shadow", Duration::from_millis(30)).await;
    let dead = format!("http://{}", refused_addr().await);
    let mut config =
        MirrorConfig::new("127.0.0.1:0".parse().unwrap(), primary.url().parse().unwrap());
    config.shadows = vec![shadow.url().parse().unwrap(), dead.parse().unwrap()];
    config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
    let proxy = MirrorProxy::start(config).await.unwrap();
    let admin = proxy.admin_addr().unwrap();

    let client = http1_client();
    for idx in 0..20 {
        let url = format!("http://{}/m/{idx}", proxy.local_addr());
        send(&client, Method::GET, &url, &[], b"").await;
    }
    send(&client, Method::POST, &format!("http://{}/m/post", proxy.local_addr()), &[], b"x").await;

    let metrics_url = format!("http://{admin}/metrics");
    let shadow_label = format!("shadow=\"{}\"", shadow.url());
    let dead_label = format!("shadow=\"{dead}\"");
    let settled = wait_until_async(Duration::from_secs(10), || {
        let client = client.clone();
        let metrics_url = metrics_url.clone();
        let shadow_label = shadow_label.clone();
        async move {
            let (_, _, body) = send(&client, Method::GET, &metrics_url, &[], b"").await;
            let samples = parse_samples(&String::from_utf8_lossy(&body));
            samples.get(&format!("shadowgate_mirror_shadow_responses_total{{{shadow_label}}}"))
                == Some(&20.0)
        }
    })
    .await;
    assert!(settled, "the shadow's responses were never all counted");

    let (status, headers, body) = send(&client, Method::GET, &metrics_url, &[], b"").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/plain; version=0.0.4");
    let samples = parse_samples(&String::from_utf8_lossy(&body));
    let expect = |series: String, value: f64| {
        assert_eq!(samples.get(&series), Some(&value), "{series}");
    };
    expect("shadowgate_mirror_requests_total".into(), 21.0);
    expect("shadowgate_mirror_sampled_total".into(), 21.0);
    expect("shadowgate_mirror_skipped_total".into(), 1.0);
    expect("shadowgate_mirror_enqueued_total".into(), 20.0);
    expect("shadowgate_mirror_dropped_total{reason=\"queue_full\"}".into(), 0.0);
    expect(format!("shadowgate_mirror_shadow_errors_total{{{dead_label},kind=\"connect\"}}"), 20.0);
    expect(format!("shadowgate_mirror_shadow_latency_seconds_count{{{shadow_label}}}"), 20.0);
    // The shadow answers after 30 ms, so no response falls in the 25 ms bucket and all in 50 ms.
    expect(
        format!("shadowgate_mirror_shadow_latency_seconds_bucket{{{shadow_label},le=\"0.025\"}}"),
        0.0,
    );
    expect(
        format!("shadowgate_mirror_shadow_latency_seconds_bucket{{{shadow_label},le=\"+Inf\"}}"),
        20.0,
    );
    expect("shadowgate_mirror_primary_latency_seconds_count".into(), 21.0);
    let shadow_seconds =
        samples[&format!("shadowgate_mirror_shadow_latency_seconds_sum{{{shadow_label}}}")];
    assert!(shadow_seconds >= 20.0 * 0.03, "{shadow_seconds}");

    let (health, _, _) =
        send(&client, Method::GET, &format!("http://{admin}/healthz"), &[], b"").await;
    assert_eq!(health, 200);
    let (diff_status, _, diff_body) =
        send(&client, Method::GET, &format!("http://{admin}/diff"), &[], b"").await;
    assert_eq!(diff_status, 404);
    assert!(String::from_utf8_lossy(&diff_body).contains("--diff"));
    proxy.shutdown(Duration::from_secs(2)).await.unwrap();
}
