//! Tests of the precise timer.

use std::{future::Future, task::Poll, time::Duration};

use super::*;

#[tokio::test]
async fn sleeps_until_the_deadline_and_not_much_longer() {
    let mut timer = PreciseTimer::default();
    let mut lateness = Vec::new();
    for _ in 0..20 {
        let deadline = Instant::now() + Duration::from_micros(2500);
        timer.sleep_until(deadline).await;
        let now = Instant::now();
        assert!(now >= deadline, "woke {:?} early", deadline - now);
        lateness.push(now - deadline);
    }
    lateness.sort();
    // Tokio's own sleep is typically 1 ms late; the timerfd is typically well under that.
    assert!(lateness[10] < Duration::from_micros(900), "median lateness {:?}", lateness[10]);
}

#[tokio::test]
async fn an_abandoned_sleep_does_not_end_the_next_one_early() {
    let mut timer = PreciseTimer::default();
    let mut abandoned = Box::pin(timer.sleep_until(Instant::now() + Duration::from_millis(1)));
    // Polled once and dropped, leaving its timer armed.
    let first = std::future::poll_fn(|context| Poll::Ready(abandoned.as_mut().poll(context)));
    assert!(first.await.is_pending());
    drop(abandoned);
    // Let the abandoned timer expire, so that its readiness is stale.
    tokio::time::sleep(Duration::from_millis(3)).await;
    let deadline = Instant::now() + Duration::from_millis(20);
    timer.sleep_until(deadline).await;
    assert!(Instant::now() >= deadline);
}
