//! Usage traces for the recommendation replay: NAB's CPU series mapped to container usage, and
//! synthetic traces whose generating process is known.

use shadowgate_analytics::recommend::UsageSample;
use shadowgate_core::rng::Rng;

pub const MIB: f64 = 1024.0 * 1024.0;
const DAY: i64 = 86_400;

/// A named trace.
pub struct Trace {
    pub name: String,
    pub samples: Vec<UsageSample>,
}

/// A NAB CPU-utilisation series (percent) as a container on 4 cores whose memory follows the
/// same driver (512 MiB plus up to 2 GiB). NAB has no memory series, so memory borrows the
/// CPU series' shape: real burstiness and drift, not real memory behaviour.
pub fn from_cpu_percent(name: &str, rows: &[(i64, f64)]) -> Trace {
    let mut samples: Vec<UsageSample> = Vec::with_capacity(rows.len());
    for (timestamp, percent) in rows {
        if samples.last().is_some_and(|last| last.timestamp >= *timestamp) {
            continue;
        }
        let share = (percent / 100.0).clamp(0.0, 1.0);
        samples.push(UsageSample {
            timestamp: *timestamp,
            cpu_cores: 4.0 * share,
            memory_bytes: 512.0 * MIB + 2048.0 * MIB * share,
            load: None,
        });
    }
    Trace { name: name.to_string(), samples }
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
