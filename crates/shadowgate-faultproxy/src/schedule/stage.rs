//! One toxic acting on one direction of one connection: when each event leaves it.
//!
//! A stage receives events at their arrival time and decides, at once, when each leaves and in
//! what shape. Departures never overtake each other, so a stage's queue is always ordered.
//! Toxics whose effect does not depend on data (the timeout's close, the reset after a delay)
//! use a timer instead, which the schedule fires at its time.

use std::{collections::VecDeque, time::Duration};

use shadowgate_core::rng::Rng;

use super::StreamEvent;
use crate::toxic::ToxicKind;

/// Events waiting to leave a stage, ordered by departure time, with their byte count.
#[derive(Debug, Default)]
pub(super) struct Departures {
    items: VecDeque<(Duration, StreamEvent)>,
    bytes: usize,
}

impl Departures {
    pub(super) fn front_time(&self) -> Option<Duration> {
        self.items.front().map(|(at, _)| *at)
    }

    pub(super) fn pop(&mut self) -> Option<(Duration, StreamEvent)> {
        let item = self.items.pop_front()?;
        self.bytes -= item.1.data_len();
        Some(item)
    }

    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(super) fn drain(self) -> impl Iterator<Item = StreamEvent> {
        self.items.into_iter().map(|(_, event)| event)
    }

    fn push(&mut self, at: Duration, event: StreamEvent) {
        self.bytes += event.data_len();
        self.items.push_back((at, event));
    }
}

/// What the toxic does to the events it lets through.
#[derive(Debug)]
enum Effect {
    /// The toxic does not act on this connection (its toxicity draw missed).
    PassThrough,
    Latency {
        latency: Duration,
        jitter: Duration,
    },
    Bandwidth {
        bytes_per_second: u64,
        busy_until: Duration,
    },
    SlowClose {
        delay: Duration,
    },
    Timeout {
        close_at: Option<Duration>,
    },
    ResetPeer {
        timeout: Duration,
        triggered_at: Option<Duration>,
    },
    Slicer {
        average_size: usize,
        size_variation: usize,
        delay: Duration,
        busy_until: Duration,
    },
    LimitData {
        limit: u64,
    },
}

/// One toxic's state on one direction of one connection.
#[derive(Debug)]
pub(super) struct Stage {
    effect: Effect,
    /// When the last event left; departures are never earlier than this.
    last_departure: Duration,
    /// Whether the stage has let an end-of-stream event through; it drops everything after.
    finished: bool,
    /// Data bytes let through so far. `limit_data` counts against it, across updates.
    bytes_sent: u64,
}

impl Stage {
    /// A stage for a toxic that starts acting at `now`. The toxicity is drawn here.
    pub(super) fn new(kind: &ToxicKind, toxicity: f64, now: Duration, rng: &mut Rng) -> Stage {
        Stage {
            effect: Effect::new(kind, toxicity, now, rng),
            last_departure: now,
            finished: false,
            bytes_sent: 0,
        }
    }

    /// Applies new attributes. The toxicity is drawn again, as Toxiproxy does on an update;
    /// what is already queued keeps its departure time, and `limit_data` keeps its count.
    pub(super) fn update(&mut self, kind: &ToxicKind, toxicity: f64, now: Duration, rng: &mut Rng) {
        let triggered_at = match self.effect {
            Effect::ResetPeer { triggered_at, .. } => triggered_at,
            _ => None,
        };
        let busy_until = match self.effect {
            Effect::Bandwidth { busy_until, .. } | Effect::Slicer { busy_until, .. } => busy_until,
            _ => now,
        };
        self.effect = Effect::new(kind, toxicity, now, rng);
        match &mut self.effect {
            Effect::ResetPeer { triggered_at: new_trigger, .. } => *new_trigger = triggered_at,
            Effect::Bandwidth { busy_until: new_busy, .. }
            | Effect::Slicer { busy_until: new_busy, .. } => *new_busy = busy_until,
            _ => {}
        }
    }

    /// The time at which [`Stage::fire_timer`] must run, if any.
    pub(super) fn timer(&self) -> Option<Duration> {
        if self.finished {
            return None;
        }
        match self.effect {
            Effect::Timeout { close_at } => close_at,
            Effect::ResetPeer { timeout, triggered_at } => triggered_at.map(|at| at + timeout),
            _ => None,
        }
    }

    /// Runs the timer that is due: the timeout's close or the delayed reset.
    pub(super) fn fire_timer(&mut self, out: &mut Departures) {
        let Some(at) = self.timer() else { return };
        match self.effect {
            Effect::Timeout { .. } => self.depart(at, StreamEvent::Close, out),
            Effect::ResetPeer { .. } => self.depart(at, StreamEvent::Reset, out),
            _ => {}
        }
    }

    /// The event the connection receives when this toxic is removed while it acts: a timeout
    /// that has been dropping data closes the connection, as in Toxiproxy, since the stream has
    /// lost bytes and cannot go on.
    pub(super) fn removal_event(&self) -> Option<StreamEvent> {
        match self.effect {
            Effect::Timeout { .. } if !self.finished => Some(StreamEvent::Close),
            _ => None,
        }
    }

    /// Takes an event arriving at `arrival` and queues what leaves, and when, on `out`.
    pub(super) fn accept(
        &mut self,
        arrival: Duration,
        event: StreamEvent,
        rng: &mut Rng,
        out: &mut Departures,
    ) {
        if self.finished {
            return;
        }
        let is_data = matches!(event, StreamEvent::Data(_));
        match &mut self.effect {
            Effect::PassThrough => self.depart(arrival, event, out),
            Effect::Latency { latency, jitter } => {
                let delay = if is_data { jittered(*latency, *jitter, rng) } else { Duration::ZERO };
                self.depart(arrival + delay, event, out);
            }
            Effect::Bandwidth { bytes_per_second, busy_until } => {
                let (rate, mut free_at) = (*bytes_per_second, *busy_until);
                match event {
                    StreamEvent::Data(mut data) if rate > 0 => {
                        // Pieces of about 10 ms each keep the flow smooth at low rates.
                        let piece_len = usize::try_from(rate / 100).unwrap_or(usize::MAX).max(1);
                        while !data.is_empty() {
                            let piece = data.split_to(piece_len.min(data.len()));
                            let start = arrival.max(free_at);
                            free_at = start + transmit_time(piece.len(), rate);
                            self.depart(free_at, StreamEvent::Data(piece), out);
                        }
                        if let Effect::Bandwidth { busy_until, .. } = &mut self.effect {
                            *busy_until = free_at;
                        }
                    }
                    other => self.depart(arrival.max(free_at), other, out),
                }
            }
            Effect::SlowClose { delay } => {
                let delay = if is_data { Duration::ZERO } else { *delay };
                let at = arrival.max(self.last_departure) + delay;
                self.depart(at, event, out);
            }
            Effect::Timeout { close_at } => {
                if !is_data {
                    // The stream ended (or an earlier toxic closed it) before the timeout did.
                    *close_at = None;
                    self.depart(arrival, event, out);
                }
            }
            Effect::ResetPeer { triggered_at, .. } => match event {
                StreamEvent::Data(_) | StreamEvent::Eof => {
                    triggered_at.get_or_insert(arrival);
                }
                StreamEvent::Close | StreamEvent::Reset => {
                    *triggered_at = None;
                    self.depart(arrival, event, out);
                }
            },
            Effect::Slicer { average_size, size_variation, delay, busy_until } => {
                let (average_size, size_variation, delay) =
                    (*average_size, *size_variation, *delay);
                match event {
                    StreamEvent::Data(mut data) => {
                        let lengths = slice_lengths(data.len(), average_size, size_variation, rng);
                        let start = arrival.max(*busy_until);
                        *busy_until =
                            start + delay * u32::try_from(lengths.len()).unwrap_or(u32::MAX);
                        for (index, length) in lengths.into_iter().enumerate() {
                            let at = start + delay * u32::try_from(index).unwrap_or(u32::MAX);
                            self.depart(at, StreamEvent::Data(data.split_to(length)), out);
                        }
                    }
                    other => {
                        let at = arrival.max(*busy_until);
                        self.depart(at, other, out);
                    }
                }
            }
            Effect::LimitData { limit } => {
                let limit = *limit;
                match event {
                    StreamEvent::Data(mut data) => {
                        let remaining = limit.saturating_sub(self.bytes_sent);
                        if (data.len() as u64) > remaining {
                            data.truncate(usize::try_from(remaining).unwrap_or(usize::MAX));
                        }
                        if !data.is_empty() {
                            self.depart(arrival, StreamEvent::Data(data), out);
                        }
                        if self.bytes_sent >= limit {
                            self.depart(arrival, StreamEvent::Close, out);
                        }
                    }
                    other => self.depart(arrival, other, out),
                }
            }
        }
    }

    /// Queues an event to leave at `at`, or later if an earlier event leaves later.
    fn depart(&mut self, at: Duration, event: StreamEvent, out: &mut Departures) {
        let at = at.max(self.last_departure);
        self.last_departure = at;
        if event.is_end() {
            self.finished = true;
        }
        self.bytes_sent += event.data_len() as u64;
        out.push(at, event);
    }
}

impl Effect {
    fn new(kind: &ToxicKind, toxicity: f64, now: Duration, rng: &mut Rng) -> Effect {
        // Toxicity 1 always acts and 0 never does; `next_f64` is in [0, 1).
        if rng.next_f64() >= toxicity {
            return Effect::PassThrough;
        }
        match *kind {
            ToxicKind::Latency { latency_ms, jitter_ms } => Effect::Latency {
                latency: Duration::from_millis(latency_ms),
                jitter: Duration::from_millis(jitter_ms),
            },
            ToxicKind::Bandwidth { rate_kb_per_s } => Effect::Bandwidth {
                bytes_per_second: rate_kb_per_s.saturating_mul(1000),
                busy_until: now,
            },
            ToxicKind::SlowClose { delay_ms } => {
                Effect::SlowClose { delay: Duration::from_millis(delay_ms) }
            }
            ToxicKind::Timeout { timeout_ms } => Effect::Timeout {
                close_at: (timeout_ms > 0).then(|| now + Duration::from_millis(timeout_ms)),
            },
            ToxicKind::ResetPeer { timeout_ms } => {
                Effect::ResetPeer { timeout: Duration::from_millis(timeout_ms), triggered_at: None }
            }
            ToxicKind::Slicer { average_size, size_variation, delay_us } => Effect::Slicer {
                average_size: usize::try_from(average_size).unwrap_or(usize::MAX),
                size_variation: usize::try_from(size_variation).unwrap_or(usize::MAX),
                delay: Duration::from_micros(delay_us),
                busy_until: now,
            },
            ToxicKind::LimitData { bytes } => Effect::LimitData { limit: bytes },
        }
    }
}

/// `latency` plus a uniform offset in `[-jitter, +jitter]`, at microsecond resolution, never
/// below zero.
fn jittered(latency: Duration, jitter: Duration, rng: &mut Rng) -> Duration {
    let jitter_us = i64::try_from(jitter.as_micros()).unwrap_or(i64::MAX);
    if jitter_us == 0 {
        return latency;
    }
    let latency_us = i64::try_from(latency.as_micros()).unwrap_or(i64::MAX);
    let delay_us = latency_us.saturating_add(rng.range_i64(-jitter_us, jitter_us));
    Duration::from_micros(u64::try_from(delay_us).unwrap_or(0))
}

/// The time `length` bytes take at `bytes_per_second` (which must be positive).
fn transmit_time(length: usize, bytes_per_second: u64) -> Duration {
    let nanos = (length as u128 * 1_000_000_000) / u128::from(bytes_per_second);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Splits `length` bytes into slices of about `average` bytes, plus or minus `variation`.
///
/// A span longer than `average + variation` is cut near its middle, the cut moved by a random
/// offset in `[-variation, variation)`, and both halves are split the same way. Cutting in the
/// middle rather than from the front keeps small and large slices spread evenly over a chunk.
/// Requires `variation < average`, which makes every cut fall strictly inside its span.
pub(super) fn slice_lengths(
    length: usize,
    average: usize,
    variation: usize,
    rng: &mut Rng,
) -> Vec<usize> {
    let mut lengths = Vec::new();
    // Spans still to split, as (start, end); the stack keeps them in stream order.
    let mut pending = vec![(0usize, length)];
    while let Some((start, end)) = pending.pop() {
        let span = end - start;
        if span <= average.saturating_add(variation) || span < 2 {
            if span > 0 {
                lengths.push(span);
            }
            continue;
        }
        let offset = if variation == 0 {
            0
        } else {
            let bound = i64::try_from(variation).unwrap_or(i64::MAX);
            rng.range_i64(-bound, bound - 1)
        };
        let middle = i64::try_from(start + span / 2).unwrap_or(i64::MAX).saturating_add(offset);
        let lowest = i64::try_from(start + 1).unwrap_or(i64::MAX);
        let highest = i64::try_from(end - 1).unwrap_or(i64::MAX);
        let cut = usize::try_from(middle.clamp(lowest, highest)).unwrap_or(start + 1);
        pending.push((cut, end));
        pending.push((start, cut));
    }
    lengths
}

impl StreamEvent {
    fn data_len(&self) -> usize {
        match self {
            StreamEvent::Data(data) => data.len(),
            _ => 0,
        }
    }

    fn is_end(&self) -> bool {
        !matches!(self, StreamEvent::Data(_))
    }
}
