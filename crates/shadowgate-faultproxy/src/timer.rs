//! A timer with sub-millisecond precision for the fault schedule's deadlines.
//!
//! Tokio's timer wheel works in whole milliseconds and rounds every deadline up, so a sleep
//! ends up to two milliseconds late. A 50 ms latency toxic must be accurate to better than
//! that, so each direction that holds data back waits on its own Linux `timerfd` (nanosecond
//! resolution) registered with Tokio's reactor. If the kernel refuses a timerfd (out of file
//! descriptors), the direction falls back to Tokio's sleep.

use std::{
    io,
    os::fd::{AsFd, AsRawFd, RawFd},
};

use nix::{
    sys::{
        time::TimeSpec,
        timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags},
    },
    unistd::read,
};
use tokio::{
    io::{Interest, unix::AsyncFd},
    time::Instant,
};

/// Sleeps until a deadline, as precisely as the kernel allows.
#[derive(Debug, Default)]
pub(crate) struct PreciseTimer {
    /// Created on the first sleep.
    timer_fd: Option<AsyncFd<RegisteredTimerFd>>,
    /// Set when the kernel refused a timerfd; Tokio's sleep is used instead.
    unavailable: bool,
}

impl PreciseTimer {
    /// Waits until `deadline`.
    pub(crate) async fn sleep_until(&mut self, deadline: Instant) {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return;
        }
        if self.timer_fd.is_none() && !self.unavailable {
            match new_timer_fd() {
                Ok(timer_fd) => self.timer_fd = Some(timer_fd),
                Err(_) => self.unavailable = true,
            }
        }
        let Some(timer_fd) = &self.timer_fd else {
            tokio::time::sleep_until(deadline).await;
            return;
        };
        let armed = timer_fd.get_ref().0.set(
            Expiration::OneShot(TimeSpec::from_duration(remaining)),
            TimerSetTimeFlags::empty(),
        );
        if armed.is_err() {
            tokio::time::sleep_until(deadline).await;
            return;
        }
        loop {
            let Ok(mut ready) = timer_fd.readable().await else {
                tokio::time::sleep_until(deadline).await;
                return;
            };
            // Reading the expiration count clears the timer's readiness; a stale readiness
            // left from an earlier, abandoned sleep reads nothing and waits again.
            let expired = ready.try_io(|inner| {
                let mut count = [0u8; 8];
                read(&inner.get_ref().0, &mut count).map_err(io::Error::from)
            });
            if matches!(expired, Ok(Ok(_))) || Instant::now() >= deadline {
                return;
            }
        }
    }
}

/// A timerfd in the form Tokio's reactor registers.
#[derive(Debug)]
struct RegisteredTimerFd(TimerFd);

impl AsRawFd for RegisteredTimerFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

fn new_timer_fd() -> io::Result<AsyncFd<RegisteredTimerFd>> {
    let timer_fd =
        TimerFd::new(ClockId::CLOCK_MONOTONIC, TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC)?;
    // SAFETY: the `TimerFd` owns its descriptor, keeps it open until it is dropped together
    // with the `AsyncFd`, and `as_raw_fd` always returns that same descriptor.
    let registered =
        unsafe { AsyncFd::register_with_interest(RegisteredTimerFd(timer_fd), Interest::READABLE) };
    registered.map_err(io::Error::from)
}

#[cfg(test)]
mod tests;
