//! Tests of the queue, the backoff and the dependency URLs.

use std::time::Duration;

use super::*;
use crate::{events, views};

#[test]
fn a_full_queue_drops_and_counts_instead_of_waiting() {
    let counters = Arc::new(DeliveryCounters::default());
    let (outbox, mut receiver) = Outbox::new(2, Arc::clone(&counters));
    for message in 1..=5 {
        outbox.offer(message);
    }
    assert_eq!(counters.snapshot(), Delivery { delivered: 0, dropped: 3, failed: 0 });
    assert_eq!(batch(&mut receiver, 0), [0, 1, 2]);
    outbox.offer(6);
    discard_queued(&mut receiver, &counters);
    assert_eq!(counters.snapshot(), Delivery { delivered: 0, dropped: 3, failed: 1 });
    drop(receiver);
    outbox.offer(7);
    assert_eq!(counters.snapshot().dropped, 4, "a stopped writer drops too");
}

#[test]
fn batches_stop_at_their_limit() {
    let (outbox, mut receiver) = Outbox::new(BATCH * 2, Arc::default());
    for message in 0..BATCH + 10 {
        outbox.offer(message);
    }
    let first = receiver.try_recv().unwrap();
    assert_eq!(batch(&mut receiver, first).len(), BATCH);
    let first = receiver.try_recv().unwrap();
    assert_eq!(batch(&mut receiver, first).len(), 10);
}

#[test]
fn backoff_doubles_up_to_its_limit_and_resets() {
    let mut backoff = Backoff::default();
    let waits: Vec<Duration> = (0..8).map(|_| backoff.next_wait()).collect();
    assert_eq!(waits[0], Duration::from_millis(100));
    assert_eq!(waits[1], Duration::from_millis(200));
    assert_eq!(waits[7], Duration::from_secs(5));
    backoff.reset();
    assert_eq!(backoff.next_wait(), Duration::from_millis(100));
}

#[test]
fn dependency_urls_name_host_port_and_path() {
    let nats = events::parse_url("nats://127.0.0.1:5222").unwrap();
    assert_eq!((nats.host.as_str(), nats.port, nats.path.as_str()), ("127.0.0.1", 5222, ""));
    assert_eq!(nats.to_string(), "nats://127.0.0.1:5222");
    assert_eq!(events::parse_url("nats://queue.internal").unwrap().port, 4222);
    let v6 = events::parse_url("nats://[::1]:4223").unwrap();
    assert_eq!((v6.host.as_str(), v6.to_string().as_str()), ("::1", "nats://[::1]:4223"));

    // The form shadowgate's {dep.NAME.url} takes for Redis.
    let redis = views::parse_url("redis://127.0.0.1:41234/0").unwrap();
    assert_eq!((redis.address.port, redis.database), (41234, 0));
    assert_eq!(redis.address.to_string(), "redis://127.0.0.1:41234/0");
    assert_eq!(views::parse_url("redis://cache:6380/3").unwrap().database, 3);
    assert_eq!(views::parse_url("redis://cache").unwrap().address.port, 6379);
}

#[test]
fn unusable_dependency_urls_say_what_to_change() {
    for (url, problem) in [
        ("http://127.0.0.1:4222", "only nats://"),
        ("127.0.0.1:4222", "only nats://"),
        ("nats://user:secret@127.0.0.1:4222", "credentials"),
        ("nats://127.0.0.1:4222?x=1", "query"),
        ("not a url", "not a URL"),
    ] {
        let err = events::parse_url(url).unwrap_err().to_string();
        assert!(err.starts_with("--events"), "{err}");
        assert!(err.contains(problem), "{url}: {err}");
    }
    let err = views::parse_url("redis://127.0.0.1:6379/cache").unwrap_err().to_string();
    assert!(err.starts_with("--views") && err.contains("database by number"), "{err}");
    let err = views::parse_url("nats://127.0.0.1:6379").unwrap_err().to_string();
    assert!(err.contains("only redis://"), "{err}");
}
