//! The fault schedule of one direction of one connection, free of I/O.
//!
//! The proxy's socket code reads a chunk, hands it to [`DirectionSchedule::push`] with the
//! current time, and writes whatever [`DirectionSchedule::pop_ready`] returns once
//! [`DirectionSchedule::advance`] has been told that time has reached
//! [`DirectionSchedule::next_deadline`]. Everything a toxic decides (how long a chunk waits, how
//! it is sliced, when the stream is closed or reset) happens here, as a function of the times
//! passed in and a seeded random generator, so it is tested without sockets or clocks.
//!
//! The toxics form a chain in the order they were added, as in Toxiproxy. Each stage keeps the
//! events that have not yet left it; when a toxic is removed from a live connection, what it
//! held is released to the next stage at once, and a toxic added later acts on data that has
//! not yet passed the end of the chain.

mod stage;

use std::{collections::VecDeque, time::Duration};

use bytes::Bytes;
use shadowgate_core::rng::Rng;

use crate::toxic::ToxicKind;
use stage::{Departures, Stage};

/// What flows through one direction of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// Bytes to write to the destination.
    Data(Bytes),
    /// The source has finished sending: shut down the destination's write side.
    Eof,
    /// A toxic ends the connection: close both sockets.
    Close,
    /// A toxic resets the connection: close both sockets with a TCP RST.
    Reset,
}

/// One toxic of the chain, as the schedule needs it. `id` identifies the toxic for its whole
/// life and `revision` changes whenever it is updated.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainEntry {
    pub id: u64,
    pub revision: u64,
    pub kind: ToxicKind,
    pub toxicity: f64,
}

#[derive(Debug)]
struct Slot {
    id: u64,
    revision: u64,
    stage: Stage,
    departures: Departures,
}

/// The toxics acting on one direction of one connection, and the events they hold.
///
/// Times are durations since an epoch the caller chooses; they only need to be consistent.
#[derive(Debug)]
pub struct DirectionSchedule {
    slots: Vec<Slot>,
    ready: VecDeque<StreamEvent>,
    ready_bytes: usize,
    rng: Rng,
}

impl DirectionSchedule {
    /// An empty chain. `rng` draws toxicity, jitter and slice sizes for this direction only.
    pub fn new(rng: Rng) -> DirectionSchedule {
        DirectionSchedule { slots: Vec::new(), ready: VecDeque::new(), ready_bytes: 0, rng }
    }

    /// Whether no toxic acts on this direction and nothing is waiting, so data can be copied
    /// straight through.
    pub fn is_idle(&self) -> bool {
        self.slots.is_empty() && self.ready.is_empty()
    }

    /// Makes the chain match `chain` at time `now`: removed toxics release what they hold to the
    /// next stage, updated ones take their new attributes, and new ones join the end.
    pub fn sync(&mut self, now: Duration, chain: &[ChainEntry]) {
        self.advance(now);
        let mut index = 0;
        while index < self.slots.len() {
            let Some(entry) = chain.iter().find(|entry| entry.id == self.slots[index].id) else {
                let slot = self.slots.remove(index);
                let removal_event = slot.stage.removal_event();
                for event in slot.departures.drain().chain(removal_event) {
                    self.deliver(index, now, event);
                }
                continue;
            };
            let slot = &mut self.slots[index];
            if slot.revision != entry.revision {
                slot.stage.update(&entry.kind, entry.toxicity, now, &mut self.rng);
                slot.revision = entry.revision;
            }
            index += 1;
        }
        for entry in chain {
            if self.slots.iter().all(|slot| slot.id != entry.id) {
                let stage = Stage::new(&entry.kind, entry.toxicity, now, &mut self.rng);
                self.slots.push(Slot {
                    id: entry.id,
                    revision: entry.revision,
                    stage,
                    departures: Departures::default(),
                });
            }
        }
        self.advance(now);
    }

    /// Takes an event read from the source at `now`.
    pub fn push(&mut self, now: Duration, event: StreamEvent) {
        self.deliver(0, now, event);
        self.advance(now);
    }

    /// Moves every event whose time has come through the chain, up to `now`.
    pub fn advance(&mut self, now: Duration) {
        for index in 0..self.slots.len() {
            self.fire_timer_due(index, now);
            while let Some(at) = self.slots[index].departures.front_time() {
                if at > now {
                    break;
                }
                let Some((at, event)) = self.slots[index].departures.pop() else { break };
                self.deliver(index + 1, at, event);
            }
        }
    }

    /// The next time at which [`DirectionSchedule::advance`] has something to do.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.slots
            .iter()
            .flat_map(|slot| [slot.departures.front_time(), slot.stage.timer()])
            .flatten()
            .min()
    }

    /// The next event to act on, in order.
    pub fn pop_ready(&mut self) -> Option<StreamEvent> {
        let event = self.ready.pop_front()?;
        if let StreamEvent::Data(data) = &event {
            self.ready_bytes -= data.len();
        }
        Some(event)
    }

    /// Bytes held anywhere in the chain or ready to write; the caller stops reading above a
    /// bound so that a slow toxic cannot make the proxy buffer without limit.
    pub fn buffered_bytes(&self) -> usize {
        self.ready_bytes + self.slots.iter().map(|slot| slot.departures.bytes()).sum::<usize>()
    }

    /// Hands `event`, arriving at `at`, to the stage at `index`, or to the ready queue past the
    /// end of the chain. A timer of that stage that is due by `at` fires first, so that events
    /// keep their order in time.
    fn deliver(&mut self, index: usize, at: Duration, event: StreamEvent) {
        if index >= self.slots.len() {
            if let StreamEvent::Data(data) = &event {
                self.ready_bytes += data.len();
            }
            self.ready.push_back(event);
            return;
        }
        self.fire_timer_due(index, at);
        let slot = &mut self.slots[index];
        slot.stage.accept(at, event, &mut self.rng, &mut slot.departures);
    }

    fn fire_timer_due(&mut self, index: usize, now: Duration) {
        let slot = &mut self.slots[index];
        if slot.stage.timer().is_some_and(|at| at <= now) {
            slot.stage.fire_timer(&mut slot.departures);
        }
    }
}

#[cfg(test)]
mod tests;
