//! The replay schedule: when each recorded request is sent again.
//!
//! A replay keeps the recording's inter-arrival pattern (its bursts and lulls), scaled in time:
//! `2x` halves every gap, and a target rate in requests per second stretches or compresses the
//! pattern so that its mean rate matches. With a duration the pattern is looped (and cut at the
//! duration); without one it plays once. The schedule is an iterator of intended send instants,
//! relative to the replay's start, so that the sender can run an open model: requests go out at
//! their intended times whatever the target's latency, and latency is measured from the intended
//! time (no coordinated omission).

use std::{fmt, str::FromStr, time::Duration};

/// How the recorded pattern is scaled in time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pacing {
    /// The recorded gaps, unchanged.
    Recorded,
    /// The recorded pattern played `factor` times as fast (`2x` halves the gaps).
    Speedup(f64),
    /// The recorded pattern scaled so that its mean rate is this many requests per second.
    RequestsPerSecond(f64),
}

/// A schedule that cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(String);

impl FromStr for Pacing {
    type Err = ScheduleError;

    /// Parses `recorded`, a speed-up such as `2x` or `0.5x`, or a rate such as `300rps`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let bad = || {
            ScheduleError(format!(
                "replay rate `{text}` is not understood; write a speed-up such as `2x`, a rate such as `300rps`, or `recorded`"
            ))
        };
        if trimmed == "recorded" {
            return Ok(Pacing::Recorded);
        }
        let (number, build): (&str, fn(f64) -> Pacing) =
            if let Some(number) = trimmed.strip_suffix("rps") {
                (number, Pacing::RequestsPerSecond)
            } else if let Some(number) = trimmed.strip_suffix(['x', 'X']) {
                (number, Pacing::Speedup)
            } else {
                return Err(bad());
            };
        let value: f64 = number.trim().parse().map_err(|_| bad())?;
        let pacing = build(value);
        pacing.validate()?;
        Ok(pacing)
    }
}

impl fmt::Display for Pacing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pacing::Recorded => f.write_str("recorded"),
            Pacing::Speedup(factor) => write!(f, "{factor}x"),
            Pacing::RequestsPerSecond(rate) => write!(f, "{rate}rps"),
        }
    }
}

impl Pacing {
    fn validate(self) -> Result<(), ScheduleError> {
        let (value, what) = match self {
            Pacing::Recorded => return Ok(()),
            Pacing::Speedup(factor) => (factor, "speed-up"),
            Pacing::RequestsPerSecond(rate) => (rate, "requests per second"),
        };
        if !value.is_finite() || value <= 0.0 || value > 1e7 {
            return Err(ScheduleError(format!(
                "replay {what} must be a positive number up to 1e7, not {value}"
            )));
        }
        Ok(())
    }
}

/// One intended send: which recorded exchange, and when relative to the replay's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedSend {
    /// The position of the exchange in the recording.
    pub exchange_index: usize,
    /// The intended send instant, relative to the replay's start.
    pub at: Duration,
    /// How many times the recording had been played before this send (0 on the first pass).
    pub pass: u64,
}

/// An iterator over the intended sends of a replay.
#[derive(Clone, Debug)]
pub struct ReplaySchedule {
    /// `(exchange index, scaled offset in seconds)`, sorted by offset, first offset zero.
    order: Vec<(usize, f64)>,
    /// The length of one pass in seconds, used when looping.
    period_secs: f64,
    limit: Option<Duration>,
    next_position: usize,
    pass: u64,
}

impl ReplaySchedule {
    /// Builds the schedule from the recorded arrival offsets (in recording order).
    pub fn new(
        offsets: &[Duration],
        pacing: Pacing,
        duration: Option<Duration>,
    ) -> Result<ReplaySchedule, ScheduleError> {
        pacing.validate()?;
        if offsets.is_empty() {
            return Err(ScheduleError(
                "the recording holds no exchanges, so there is nothing to replay".into(),
            ));
        }
        let mut order: Vec<(usize, f64)> =
            offsets.iter().map(|offset| offset.as_secs_f64()).enumerate().collect();
        order.sort_by(|left, right| left.1.total_cmp(&right.1));
        let first = order[0].1;
        let span = order[order.len() - 1].1 - first;
        let n_gaps = (order.len() - 1) as f64;
        let scale = match pacing {
            Pacing::Recorded => 1.0,
            Pacing::Speedup(factor) => 1.0 / factor,
            Pacing::RequestsPerSecond(rate) if span > 0.0 => n_gaps / (span * rate),
            Pacing::RequestsPerSecond(_) => 0.0,
        };
        for (position, entry) in order.iter_mut().enumerate() {
            entry.1 = match pacing {
                // Requests recorded at one instant are spread evenly at the requested rate.
                Pacing::RequestsPerSecond(rate) if span == 0.0 => position as f64 / rate,
                _ => (entry.1 - first) * scale,
            };
        }
        let scaled_span = order[order.len() - 1].1;
        let mean_gap = match pacing {
            Pacing::RequestsPerSecond(rate) => 1.0 / rate,
            _ if n_gaps > 0.0 => scaled_span / n_gaps,
            _ => 0.0,
        };
        let period_secs = scaled_span + mean_gap;
        if duration.is_some() && period_secs <= 0.0 {
            return Err(ScheduleError(
                "all recorded requests share one instant, so the recording cannot be looped at its recorded pace; give a rate in requests per second".into(),
            ));
        }
        Ok(ReplaySchedule { order, period_secs, limit: duration, next_position: 0, pass: 0 })
    }

    /// The mean send rate of the schedule, in requests per second (infinite for one instant).
    pub fn mean_rate(&self) -> f64 {
        self.order.len() as f64 / self.period_secs
    }
}

impl Iterator for ReplaySchedule {
    type Item = PlannedSend;

    fn next(&mut self) -> Option<PlannedSend> {
        if self.next_position == self.order.len() {
            self.limit?;
            self.next_position = 0;
            self.pass += 1;
        }
        let (exchange_index, offset) = self.order[self.next_position];
        let at = Duration::from_secs_f64(offset + self.pass as f64 * self.period_secs);
        if self.limit.is_some_and(|limit| at >= limit) {
            return None;
        }
        self.next_position += 1;
        Some(PlannedSend { exchange_index, at, pass: self.pass })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|ms| Duration::from_millis(*ms)).collect()
    }

    fn instants(schedule: ReplaySchedule) -> Vec<(usize, u128)> {
        schedule.map(|send| (send.exchange_index, send.at.as_micros())).collect()
    }

    #[test]
    fn recorded_pace_keeps_gaps_and_sorts_by_arrival() {
        let schedule =
            ReplaySchedule::new(&millis(&[1_000, 1_300, 1_100, 2_000]), Pacing::Recorded, None)
                .unwrap();
        assert_eq!(instants(schedule), [(0, 0), (2, 100_000), (1, 300_000), (3, 1_000_000)]);
    }

    #[test]
    fn speedup_scales_every_gap() {
        let schedule =
            ReplaySchedule::new(&millis(&[0, 100, 400]), "2x".parse().unwrap(), None).unwrap();
        assert_eq!(instants(schedule), [(0, 0), (1, 50_000), (2, 200_000)]);
    }

    #[test]
    fn target_rate_keeps_the_pattern_and_matches_the_mean_rate() {
        // A burst then a lull: gaps 10, 10, 280 ms (mean 100 ms, i.e. 10 rps recorded).
        let schedule =
            ReplaySchedule::new(&millis(&[0, 10, 20, 300]), "40rps".parse().unwrap(), None)
                .unwrap();
        assert_eq!(schedule.mean_rate(), 40.0);
        assert_eq!(instants(schedule), [(0, 0), (1, 2_500), (2, 5_000), (3, 75_000)]);
    }

    #[test]
    fn a_duration_loops_the_pattern_and_cuts_it() {
        let schedule = ReplaySchedule::new(
            &millis(&[0, 100]),
            Pacing::Recorded,
            Some(Duration::from_millis(450)),
        )
        .unwrap();
        let sends: Vec<PlannedSend> = schedule.collect();
        let at: Vec<u128> = sends.iter().map(|send| send.at.as_millis()).collect();
        assert_eq!(at, [0, 100, 200, 300, 400]);
        assert_eq!(sends.last().unwrap().pass, 2);
    }

    #[test]
    fn simultaneous_requests_at_a_rate_are_spread_evenly() {
        let schedule =
            ReplaySchedule::new(&millis(&[5, 5, 5]), Pacing::RequestsPerSecond(10.0), None)
                .unwrap();
        assert_eq!(instants(schedule), [(0, 0), (1, 100_000), (2, 200_000)]);
        let error =
            ReplaySchedule::new(&millis(&[5]), Pacing::Recorded, Some(Duration::from_secs(1)))
                .unwrap_err();
        assert!(error.to_string().contains("requests per second"), "{error}");
    }

    #[test]
    fn bad_rates_and_empty_recordings_are_refused() {
        for bad in ["fast", "0x", "-2x", "infrps", "2"] {
            let error = bad.parse::<Pacing>().unwrap_err().to_string();
            assert!(error.contains("replay"), "{bad}: {error}");
        }
        assert!(
            ReplaySchedule::new(&[], Pacing::Recorded, None)
                .unwrap_err()
                .to_string()
                .contains("no exchanges")
        );
        assert_eq!("0.5x".parse::<Pacing>().unwrap(), Pacing::Speedup(0.5));
        assert_eq!("300rps".parse::<Pacing>().unwrap().to_string(), "300rps");
    }
}
