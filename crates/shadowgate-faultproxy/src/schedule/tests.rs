//! Tests of the fault schedule with synthetic times: what leaves when, for every toxic.

use std::time::Duration;

use bytes::Bytes;
use shadowgate_core::rng::Rng;

use super::{ChainEntry, DirectionSchedule, StreamEvent, stage::slice_lengths};
use crate::toxic::ToxicKind;

fn ms(value: u64) -> Duration {
    Duration::from_millis(value)
}

fn chunk(length: usize) -> Bytes {
    Bytes::from((0..length).map(|index| (index % 251) as u8).collect::<Vec<u8>>())
}

fn entry(id: u64, kind: ToxicKind) -> ChainEntry {
    ChainEntry { id, revision: 1, kind, toxicity: 1.0 }
}

fn schedule_with(chain: &[ChainEntry]) -> DirectionSchedule {
    let mut schedule = DirectionSchedule::new(Rng::seed(7));
    schedule.sync(Duration::ZERO, chain);
    schedule
}

/// Everything ready after advancing to `now`.
fn ready_at(schedule: &mut DirectionSchedule, now: Duration) -> Vec<StreamEvent> {
    schedule.advance(now);
    std::iter::from_fn(|| schedule.pop_ready()).collect()
}

fn data_len(events: &[StreamEvent]) -> usize {
    events
        .iter()
        .map(|event| match event {
            StreamEvent::Data(data) => data.len(),
            _ => 0,
        })
        .sum()
}

#[test]
fn without_toxics_data_passes_at_once() {
    let mut schedule = DirectionSchedule::new(Rng::seed(1));
    assert!(schedule.is_idle());
    schedule.push(ms(5), StreamEvent::Data(chunk(10)));
    assert_eq!(schedule.next_deadline(), None);
    assert_eq!(schedule.pop_ready(), Some(StreamEvent::Data(chunk(10))));
    assert!(schedule.is_idle());
}

#[test]
fn latency_holds_each_chunk_and_keeps_the_end_behind_the_data() {
    let mut schedule =
        schedule_with(&[entry(1, ToxicKind::Latency { latency_ms: 50, jitter_ms: 0 })]);
    schedule.push(ms(10), StreamEvent::Data(chunk(3)));
    schedule.push(ms(20), StreamEvent::Eof);
    assert_eq!(schedule.next_deadline(), Some(ms(60)));
    assert_eq!(schedule.buffered_bytes(), 3);
    assert!(ready_at(&mut schedule, ms(59)).is_empty());
    assert_eq!(
        ready_at(&mut schedule, ms(60)),
        vec![StreamEvent::Data(chunk(3)), StreamEvent::Eof]
    );
    assert_eq!(schedule.buffered_bytes(), 0);
}

/// Sends 2000 numbered chunks `spacing` apart through a 100 ± 20 ms latency and returns each
/// chunk's delay in milliseconds, in the order the chunks left.
fn jittered_delays(spacing_ms: u64) -> Vec<(u64, f64)> {
    let mut schedule =
        schedule_with(&[entry(1, ToxicKind::Latency { latency_ms: 100, jitter_ms: 20 })]);
    let mut departures = Vec::new();
    for index in 0..2000u64 {
        schedule.push(
            ms(index * spacing_ms),
            StreamEvent::Data(Bytes::from(index.to_le_bytes().to_vec())),
        );
        // Follow the deadlines exactly, so each departure is seen at its own time.
        while let Some(deadline) = schedule.next_deadline() {
            if deadline >= ms((index + 1) * spacing_ms) {
                break;
            }
            departures.extend(ready_at(&mut schedule, deadline).into_iter().map(|e| (deadline, e)));
        }
    }
    while let Some(deadline) = schedule.next_deadline() {
        departures.extend(ready_at(&mut schedule, deadline).into_iter().map(|e| (deadline, e)));
    }
    departures
        .into_iter()
        .map(|(left_at, event)| {
            let StreamEvent::Data(data) = event else { panic!("unexpected {event:?}") };
            let index = u64::from_le_bytes(data[..8].try_into().unwrap());
            (index, left_at.as_secs_f64() * 1000.0 - (index * spacing_ms) as f64)
        })
        .collect()
}

#[test]
fn jitter_spreads_delays_uniformly_around_the_latency() {
    let delays: Vec<f64> = jittered_delays(50).into_iter().map(|(_, delay)| delay).collect();
    assert_eq!(delays.len(), 2000);
    assert!(delays.iter().all(|delay| (80.0..=120.0).contains(delay)), "{delays:?}");
    let mean = delays.iter().sum::<f64>() / delays.len() as f64;
    assert!((98.5..101.5).contains(&mean), "mean delay {mean}");
    let below_90 = delays.iter().filter(|&&delay| delay < 90.0).count();
    assert!((400..600).contains(&below_90), "{below_90} of 2000 delays below 90 ms");
}

#[test]
fn jitter_never_reorders_chunks() {
    let departures = jittered_delays(1);
    assert_eq!(departures.len(), 2000);
    for (position, (index, delay)) in departures.iter().enumerate() {
        assert_eq!(*index, position as u64, "chunks left out of order");
        assert!((80.0..=120.0).contains(delay), "chunk {index} delayed {delay} ms");
    }
}

#[test]
fn bandwidth_paces_data_at_the_rate() {
    // 100 KB/s is 100 bytes per millisecond.
    let mut schedule = schedule_with(&[entry(1, ToxicKind::Bandwidth { rate_kb_per_s: 100 })]);
    schedule.push(Duration::ZERO, StreamEvent::Data(chunk(50_000)));
    schedule.push(Duration::ZERO, StreamEvent::Eof);
    let halfway = ready_at(&mut schedule, ms(250));
    assert_eq!(data_len(&halfway), 25_000);
    assert!(
        halfway.iter().all(|event| matches!(event, StreamEvent::Data(data) if data.len() == 1000))
    );
    let almost = ready_at(&mut schedule, ms(499));
    assert_eq!(data_len(&almost), 24_000);
    assert_eq!(
        ready_at(&mut schedule, ms(500)),
        vec![StreamEvent::Data(chunk(50_000).slice(49_000..)), StreamEvent::Eof]
    );
}

#[test]
fn bandwidth_does_not_save_up_idle_time() {
    let mut schedule = schedule_with(&[entry(1, ToxicKind::Bandwidth { rate_kb_per_s: 1 })]);
    schedule.push(ms(1000), StreamEvent::Data(chunk(10)));
    assert_eq!(schedule.next_deadline(), Some(ms(1010)));
}

#[test]
fn bandwidth_rate_zero_is_unlimited() {
    let mut schedule = schedule_with(&[entry(1, ToxicKind::Bandwidth { rate_kb_per_s: 0 })]);
    schedule.push(ms(3), StreamEvent::Data(chunk(100_000)));
    assert_eq!(data_len(&ready_at(&mut schedule, ms(3))), 100_000);
}

#[test]
fn slow_close_delays_only_the_end() {
    let mut schedule = schedule_with(&[entry(1, ToxicKind::SlowClose { delay_ms: 300 })]);
    schedule.push(ms(1), StreamEvent::Data(chunk(5)));
    assert_eq!(ready_at(&mut schedule, ms(1)), vec![StreamEvent::Data(chunk(5))]);
    schedule.push(ms(2), StreamEvent::Eof);
    assert!(ready_at(&mut schedule, ms(301)).is_empty());
    assert_eq!(ready_at(&mut schedule, ms(302)), vec![StreamEvent::Eof]);
}

#[test]
fn timeout_drops_data_and_closes_when_it_expires() {
    let mut schedule = DirectionSchedule::new(Rng::seed(1));
    schedule.sync(ms(100), &[entry(1, ToxicKind::Timeout { timeout_ms: 200 })]);
    assert_eq!(schedule.next_deadline(), Some(ms(300)));
    schedule.push(ms(150), StreamEvent::Data(chunk(10)));
    assert!(ready_at(&mut schedule, ms(299)).is_empty());
    assert_eq!(ready_at(&mut schedule, ms(300)), vec![StreamEvent::Close]);
    assert_eq!(schedule.next_deadline(), None);
}

#[test]
fn timeout_zero_holds_until_removed_then_closes() {
    let timeout = entry(1, ToxicKind::Timeout { timeout_ms: 0 });
    let mut schedule = schedule_with(std::slice::from_ref(&timeout));
    schedule.push(ms(1), StreamEvent::Data(chunk(10)));
    assert_eq!(schedule.next_deadline(), None);
    assert!(ready_at(&mut schedule, ms(100_000)).is_empty());
    schedule.sync(ms(100_001), &[]);
    assert_eq!(ready_at(&mut schedule, ms(100_001)), vec![StreamEvent::Close]);
}

#[test]
fn timeout_lets_the_end_of_stream_through() {
    let mut schedule = schedule_with(&[entry(1, ToxicKind::Timeout { timeout_ms: 1000 })]);
    schedule.push(ms(10), StreamEvent::Eof);
    assert_eq!(ready_at(&mut schedule, ms(10)), vec![StreamEvent::Eof]);
    assert_eq!(schedule.next_deadline(), None);
}

#[test]
fn reset_peer_waits_for_data_then_resets_after_the_timeout() {
    let mut schedule = schedule_with(&[entry(1, ToxicKind::ResetPeer { timeout_ms: 40 })]);
    assert_eq!(schedule.next_deadline(), None);
    schedule.push(ms(10), StreamEvent::Data(chunk(4)));
    schedule.push(ms(20), StreamEvent::Data(chunk(4)));
    assert_eq!(schedule.next_deadline(), Some(ms(50)));
    assert!(ready_at(&mut schedule, ms(49)).is_empty());
    assert_eq!(ready_at(&mut schedule, ms(50)), vec![StreamEvent::Reset]);
}

#[test]
fn reset_peer_with_zero_timeout_resets_on_the_first_chunk() {
    let mut schedule = schedule_with(&[entry(1, ToxicKind::ResetPeer { timeout_ms: 0 })]);
    schedule.push(ms(10), StreamEvent::Data(chunk(4)));
    assert_eq!(ready_at(&mut schedule, ms(10)), vec![StreamEvent::Reset]);
}

#[test]
fn slicer_cuts_chunks_and_spaces_the_slices() {
    let kind = ToxicKind::Slicer { average_size: 100, size_variation: 20, delay_us: 1000 };
    let mut schedule = schedule_with(&[entry(1, kind)]);
    schedule.push(Duration::ZERO, StreamEvent::Data(chunk(1000)));
    let mut slices: Vec<_> =
        ready_at(&mut schedule, Duration::ZERO).into_iter().map(|e| (Duration::ZERO, e)).collect();
    while let Some(deadline) = schedule.next_deadline() {
        for event in ready_at(&mut schedule, deadline) {
            slices.push((deadline, event));
        }
    }
    let mut joined = Vec::new();
    for (index, (at, event)) in slices.iter().enumerate() {
        let StreamEvent::Data(data) = event else { panic!("unexpected {event:?}") };
        assert!((1..=120).contains(&data.len()), "slice of {} bytes", data.len());
        assert_eq!(*at, Duration::from_millis(index as u64), "slice {index} left at {at:?}");
        joined.extend_from_slice(data);
    }
    assert!(slices.len() >= 8, "only {} slices", slices.len());
    assert_eq!(joined, chunk(1000).to_vec());
}

#[test]
fn slice_lengths_cover_the_chunk_within_the_bounds() {
    let mut rng = Rng::seed(3);
    for (length, average, variation) in [(1, 1, 0), (4096, 1, 0), (65536, 700, 300), (10, 100, 5)] {
        let lengths = slice_lengths(length, average, variation, &mut rng);
        assert_eq!(lengths.iter().sum::<usize>(), length);
        assert!(lengths.iter().all(|&slice| slice > 0 && slice <= average + variation));
    }
    assert_eq!(slice_lengths(400, 100, 0, &mut rng), vec![100, 100, 100, 100]);
}

#[test]
fn limit_data_passes_the_limit_then_closes() {
    let mut schedule = schedule_with(&[entry(1, ToxicKind::LimitData { bytes: 25 })]);
    schedule.push(ms(1), StreamEvent::Data(chunk(10)));
    schedule.push(ms(2), StreamEvent::Data(chunk(10)));
    schedule.push(ms(3), StreamEvent::Data(chunk(10)));
    schedule.push(ms(4), StreamEvent::Data(chunk(10)));
    let events = ready_at(&mut schedule, ms(4));
    assert_eq!(data_len(&events), 25);
    assert_eq!(events.last(), Some(&StreamEvent::Close));
    assert_eq!(events.len(), 4);
}

#[test]
fn toxicity_decides_per_connection_with_the_seed() {
    let latency = ChainEntry {
        id: 1,
        revision: 1,
        kind: ToxicKind::Latency { latency_ms: 10, jitter_ms: 0 },
        toxicity: 0.3,
    };
    let affected = (0..1000u64)
        .filter(|&connection| {
            let mut schedule = DirectionSchedule::new(Rng::seed(11).fork(connection));
            schedule.sync(Duration::ZERO, std::slice::from_ref(&latency));
            schedule.push(Duration::ZERO, StreamEvent::Data(chunk(1)));
            schedule.pop_ready().is_none()
        })
        .count();
    assert!((250..350).contains(&affected), "{affected} of 1000 connections affected");

    let never = ChainEntry { toxicity: 0.0, ..latency };
    let mut schedule = schedule_with(&[never]);
    schedule.push(Duration::ZERO, StreamEvent::Data(chunk(1)));
    assert_eq!(schedule.pop_ready(), Some(StreamEvent::Data(chunk(1))));
}

#[test]
fn removing_a_toxic_releases_what_it_holds() {
    let latency = entry(1, ToxicKind::Latency { latency_ms: 5000, jitter_ms: 0 });
    let mut schedule = schedule_with(&[latency]);
    schedule.push(ms(10), StreamEvent::Data(chunk(7)));
    assert!(ready_at(&mut schedule, ms(20)).is_empty());
    schedule.sync(ms(30), &[]);
    assert_eq!(schedule.pop_ready(), Some(StreamEvent::Data(chunk(7))));
    assert!(schedule.is_idle());
}

#[test]
fn removing_a_middle_toxic_hands_its_data_to_the_next_one() {
    let first = entry(1, ToxicKind::Latency { latency_ms: 1000, jitter_ms: 0 });
    let second = entry(2, ToxicKind::Latency { latency_ms: 100, jitter_ms: 0 });
    let mut schedule = schedule_with(&[first, second.clone()]);
    schedule.push(Duration::ZERO, StreamEvent::Data(chunk(3)));
    schedule.sync(ms(500), &[second]);
    assert_eq!(schedule.next_deadline(), Some(ms(600)));
    assert_eq!(ready_at(&mut schedule, ms(600)), vec![StreamEvent::Data(chunk(3))]);
}

#[test]
fn a_toxic_added_later_acts_on_later_data() {
    let mut schedule = DirectionSchedule::new(Rng::seed(1));
    schedule.push(ms(1), StreamEvent::Data(chunk(1)));
    assert_eq!(schedule.pop_ready(), Some(StreamEvent::Data(chunk(1))));
    schedule.sync(ms(2), &[entry(1, ToxicKind::Latency { latency_ms: 30, jitter_ms: 0 })]);
    schedule.push(ms(3), StreamEvent::Data(chunk(2)));
    assert!(ready_at(&mut schedule, ms(32)).is_empty());
    assert_eq!(ready_at(&mut schedule, ms(33)), vec![StreamEvent::Data(chunk(2))]);
}

#[test]
fn an_update_changes_later_delays_and_keeps_the_data_count() {
    let mut latency = entry(1, ToxicKind::Latency { latency_ms: 10, jitter_ms: 0 });
    let mut schedule = schedule_with(std::slice::from_ref(&latency));
    latency.revision = 2;
    latency.kind = ToxicKind::Latency { latency_ms: 70, jitter_ms: 0 };
    schedule.sync(ms(1), std::slice::from_ref(&latency));
    schedule.push(ms(5), StreamEvent::Data(chunk(1)));
    assert_eq!(schedule.next_deadline(), Some(ms(75)));

    let mut limit = entry(1, ToxicKind::LimitData { bytes: 100 });
    let mut schedule = schedule_with(std::slice::from_ref(&limit));
    schedule.push(ms(1), StreamEvent::Data(chunk(60)));
    limit.revision = 2;
    limit.kind = ToxicKind::LimitData { bytes: 80 };
    schedule.sync(ms(2), std::slice::from_ref(&limit));
    schedule.push(ms(3), StreamEvent::Data(chunk(60)));
    let events = ready_at(&mut schedule, ms(3));
    assert_eq!(data_len(&events), 80);
    assert_eq!(events.last(), Some(&StreamEvent::Close));
}

#[test]
fn chained_toxics_add_up() {
    let chain = [
        entry(1, ToxicKind::Latency { latency_ms: 20, jitter_ms: 0 }),
        entry(2, ToxicKind::Latency { latency_ms: 30, jitter_ms: 0 }),
        entry(3, ToxicKind::Bandwidth { rate_kb_per_s: 1000 }),
    ];
    let mut schedule = schedule_with(&chain);
    schedule.push(Duration::ZERO, StreamEvent::Data(chunk(5000)));
    // 20 + 30 ms of latency, then 5000 bytes at 1 MB/s take 5 ms more.
    assert!(ready_at(&mut schedule, ms(54)).is_empty());
    assert_eq!(data_len(&ready_at(&mut schedule, ms(55))), 5000);
}

#[test]
fn the_same_seed_gives_the_same_schedule() {
    let kind = ToxicKind::Slicer { average_size: 50, size_variation: 40, delay_us: 10 };
    let run = || {
        let mut schedule = DirectionSchedule::new(Rng::seed(99));
        schedule.sync(Duration::ZERO, &[entry(1, kind)]);
        schedule.push(Duration::ZERO, StreamEvent::Data(chunk(4000)));
        let mut lengths = Vec::new();
        while let Some(deadline) = schedule.next_deadline() {
            lengths.extend(ready_at(&mut schedule, deadline).iter().map(|e| match e {
                StreamEvent::Data(data) => data.len(),
                _ => 0,
            }));
        }
        lengths
    };
    assert_eq!(run(), run());
}

/// A random toxic that delays or reshapes data but never drops it.
fn random_lossless_kind(rng: &mut Rng) -> ToxicKind {
    match rng.below(4) {
        0 => {
            ToxicKind::Latency { latency_ms: rng.below(50) as u64, jitter_ms: rng.below(20) as u64 }
        }
        1 => ToxicKind::Bandwidth { rate_kb_per_s: 1 + rng.below(500) as u64 },
        2 => ToxicKind::SlowClose { delay_ms: rng.below(100) as u64 },
        _ => {
            let average_size = 1 + rng.below(300) as u64;
            ToxicKind::Slicer {
                average_size,
                size_variation: rng.below(average_size as usize) as u64,
                delay_us: rng.below(3000) as u64,
            }
        }
    }
}

#[test]
fn lossless_toxics_changed_at_random_keep_every_byte_in_order() {
    for seed in 0..200 {
        let mut rng = Rng::seed(seed);
        let mut schedule = DirectionSchedule::new(Rng::seed(seed + 1000));
        let mut chain: Vec<ChainEntry> = Vec::new();
        let (mut sent, mut received) = (Vec::new(), Vec::new());
        let mut ended = false;
        let mut next_id = 1;
        let mut now = Duration::ZERO;
        for _ in 0..60 {
            now += Duration::from_micros(rng.below(20_000) as u64);
            match rng.below(5) {
                0 if chain.len() < 4 => {
                    chain.push(entry(next_id, random_lossless_kind(&mut rng)));
                    next_id += 1;
                    schedule.sync(now, &chain);
                }
                1 if !chain.is_empty() => {
                    chain.remove(rng.below(chain.len()));
                    schedule.sync(now, &chain);
                }
                2 if !chain.is_empty() => {
                    let index = rng.below(chain.len());
                    chain[index].revision += 1;
                    chain[index].toxicity = rng.next_f64();
                    schedule.sync(now, &chain);
                }
                _ => {
                    let data: Vec<u8> =
                        (0..1 + rng.below(5000)).map(|_| rng.below(256) as u8).collect();
                    sent.extend_from_slice(&data);
                    schedule.push(now, StreamEvent::Data(Bytes::from(data)));
                }
            }
            for event in ready_at(&mut schedule, now) {
                match event {
                    StreamEvent::Data(data) => received.extend_from_slice(&data),
                    other => panic!("seed {seed}: unexpected {other:?} mid-stream"),
                }
            }
        }
        schedule.push(now, StreamEvent::Eof);
        while !ended {
            let deadline = schedule.next_deadline().unwrap_or(now).max(now);
            now = deadline;
            let events = ready_at(&mut schedule, deadline);
            assert!(
                !events.is_empty() || schedule.next_deadline().is_some(),
                "seed {seed}: stalled"
            );
            for event in events {
                assert!(!ended, "seed {seed}: an event after the end of the stream");
                match event {
                    StreamEvent::Data(data) => received.extend_from_slice(&data),
                    StreamEvent::Eof => ended = true,
                    other => panic!("seed {seed}: unexpected {other:?}"),
                }
            }
        }
        assert!(
            received == sent,
            "seed {seed}: {} bytes sent, {} received or reordered",
            sent.len(),
            received.len()
        );
    }
}
