//! Usage traces for the recommendation replay: NAB's series mapped to container usage under
//! several memory mappings, and synthetic traces whose generating process is known.

use shadowgate_analytics::recommend::UsageSample;
use shadowgate_core::rng::Rng;

pub const MIB: f64 = 1024.0 * 1024.0;
const DAY: i64 = 86_400;

/// A named trace.
pub struct Trace {
    pub name: String,
    pub samples: Vec<UsageSample>,
}

/// A load series (NAB's taxi passengers) driving a service whose usage is known:
/// CPU = 0.2 + 1e-4 × load cores and memory = 400 MiB + 0.05 MiB × load, each with 3 % noise.
pub fn from_load(name: &str, rows: &[(i64, f64)], seed: u64) -> Trace {
    let mut rng = Rng::seed(seed);
    let samples = rows
        .iter()
        .map(|(timestamp, load)| UsageSample {
            timestamp: *timestamp,
            cpu_cores: (0.2 + 1e-4 * load) * (1.0 + 0.03 * rng.normal()),
            memory_bytes: (400.0 * MIB + 0.05 * MIB * load) * (1.0 + 0.03 * rng.normal()),
            load: Some(*load),
        })
        .collect();
    Trace { name: name.to_string(), samples }
}

/// A diurnal web service over `days` days at 5-minute steps: load 100 ± 80 over the day, 30 %
/// lower at weekends, 5 % noise; CPU = 0.1 + 0.01 × load cores, memory = 300 MiB + 4 MiB ×
/// load. From `step_day` on, every request costs 40 % more (a heavier release).
pub fn synthetic_diurnal(days: i64, step_day: Option<i64>, with_load: bool, seed: u64) -> Trace {
    let mut rng = Rng::seed(seed);
    let step = 300;
    let samples = (0..days * DAY / step)
        .map(|i| {
            let timestamp = i * step;
            let phase = std::f64::consts::TAU * (timestamp % DAY) as f64 / DAY as f64;
            let weekend = (timestamp / DAY) % 7 >= 5;
            let load = (100.0 - 80.0 * phase.cos()) * if weekend { 0.7 } else { 1.0 };
            let load = (load * (1.0 + 0.05 * rng.normal())).max(0.0);
            let heavier = step_day.is_some_and(|day| timestamp >= day * DAY);
            let cost = if heavier { 1.4 } else { 1.0 };
            UsageSample {
                timestamp,
                cpu_cores: (0.1 + 0.01 * load) * cost,
                memory_bytes: (300.0 * MIB + 4.0 * MIB * load) * cost,
                load: with_load.then_some(load),
            }
        })
        .collect();
    let name = match step_day {
        Some(day) => format!("synthetic diurnal, 40 % heavier from day {day}"),
        None => "synthetic diurnal".to_string(),
    };
    Trace { name, samples }
}

/// How a series' shape becomes a container's usage: with `share` in [0, 1], CPU is
/// `cpu_cores × share` and memory is `memory_offset + memory_bytes × share` (`share` is the
/// value / 100 for a percentage series, the min–max position otherwise).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mapping {
    pub cpu_cores: f64,
    pub memory_bytes: f64,
    pub memory_offset: f64,
}

impl Mapping {
    pub fn label(&self) -> String {
        let size = |bytes: f64| {
            if bytes >= 1024.0 * MIB {
                format!("{} GiB", bytes / (1024.0 * MIB))
            } else {
                format!("{} MiB", bytes / MIB)
            }
        };
        if self.memory_offset > 0.0 {
            format!("mem {} + {} × shape", size(self.memory_offset), size(self.memory_bytes))
        } else {
            format!("mem {} × shape", size(self.memory_bytes))
        }
    }
}

/// The memory mappings every real series is replayed under: the shape scaled to 512 MiB,
/// 2 GiB and 8 GiB, each without and with a baseline of a quarter of that size; CPU is the
/// shape on 2 cores.
pub fn mappings() -> Vec<Mapping> {
    let mut out = Vec::new();
    for size in [512.0 * MIB, 2048.0 * MIB, 8192.0 * MIB] {
        for offset in [0.0, size / 4.0] {
            out.push(Mapping { cpu_cores: 2.0, memory_bytes: size, memory_offset: offset });
        }
    }
    out
}

/// A series' shape in [0, 1]: value / 100 for a percentage, the min–max position otherwise.
pub fn shape(rows: &[(i64, f64)], percent: bool) -> Vec<(i64, f64)> {
    let (low, high) = rows
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| (lo.min(*v), hi.max(*v)));
    let mut out: Vec<(i64, f64)> = Vec::with_capacity(rows.len());
    for (timestamp, value) in rows {
        if out.last().is_some_and(|last| last.0 >= *timestamp) {
            continue;
        }
        let share = if percent {
            value / 100.0
        } else if high > low {
            (value - low) / (high - low)
        } else {
            0.5
        };
        out.push((*timestamp, share.clamp(0.0, 1.0)));
    }
    out
}

/// A shape (from [`shape`]) as container usage under `mapping`.
pub fn from_shape(name: &str, shape: &[(i64, f64)], mapping: &Mapping) -> Trace {
    let samples = shape
        .iter()
        .map(|(timestamp, share)| UsageSample {
            timestamp: *timestamp,
            cpu_cores: mapping.cpu_cores * share,
            memory_bytes: mapping.memory_offset + mapping.memory_bytes * share,
            load: None,
        })
        .collect();
    Trace { name: format!("{name}, {}", mapping.label()), samples }
}

/// NAB's CPU-utilisation series in the subset (percent). The subset has no network series.
pub const NAB_CPU_SERIES: [&str; 2] = [
    "realKnownCause/cpu_utilization_asg_misconfiguration.csv",
    "realKnownCause/ec2_request_latency_system_failure.csv",
];

/// Synthetic traces whose generating process is known, beyond the smooth diurnal one: bursts
/// at random times, a leak cleared by a daily restart, and a level step without load.
pub fn synthetic_known_truth() -> Vec<Trace> {
    let step = 300;
    let days = 21;
    let mut bursty = Rng::seed(21);
    let mut leak = Rng::seed(22);
    let mut stepped = Rng::seed(23);
    let mut burst_left = 0;
    let mut traces = vec![
        Trace {
            name: "synthetic bursts: diurnal + random 30-min bursts (+60 %)".into(),
            samples: vec![],
        },
        Trace { name: "synthetic leak: +1 GiB a day, restart at 04:00".into(), samples: vec![] },
        Trace {
            name: "synthetic level step: usage ×1.5 from day 10, no load".into(),
            samples: vec![],
        },
    ];
    for i in 0..days * DAY / step {
        let timestamp = i * step;
        let day_phase = (timestamp % DAY) as f64 / DAY as f64;
        let diurnal = 0.5 - 0.4 * (std::f64::consts::TAU * day_phase).cos();
        // Bursts: on average two a day, each six samples long.
        if burst_left == 0 && bursty.next_f64() < 2.0 / 288.0 {
            burst_left = 6;
        }
        let burst = if burst_left > 0 {
            burst_left -= 1;
            1.6
        } else {
            1.0
        };
        let share = (diurnal * burst * (1.0 + 0.03 * bursty.normal())).max(0.0);
        traces[0].samples.push(UsageSample {
            timestamp,
            cpu_cores: 2.0 * share,
            memory_bytes: 256.0 * MIB + 2048.0 * MIB * share,
            load: None,
        });
        let since_restart = ((timestamp - 4 * 3600).rem_euclid(DAY)) as f64 / DAY as f64;
        traces[1].samples.push(UsageSample {
            timestamp,
            cpu_cores: (0.3 + 0.2 * diurnal) * (1.0 + 0.05 * leak.normal()),
            memory_bytes: (512.0 * MIB + 1024.0 * MIB * since_restart)
                * (1.0 + 0.01 * leak.normal()),
            load: None,
        });
        let level = if timestamp >= 10 * DAY { 1.5 } else { 1.0 };
        let share = (diurnal * level * (1.0 + 0.05 * stepped.normal())).max(0.0);
        traces[2].samples.push(UsageSample {
            timestamp,
            cpu_cores: share,
            memory_bytes: 200.0 * MIB + 1024.0 * MIB * share,
            load: None,
        });
    }
    traces
}
