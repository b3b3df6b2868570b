//! Replays usage traces through VPA, the naive rule and the forecast-aware recommender, and
//! prints OOM events, slack and throttled fraction for each, side by side.
//!
//! Run: `cargo bench -p shadowgate-analytics --bench recommendation_replay`
//!
//! The cases: every NAB CPU series of the subset (`$SHADOWGATE_NAB_DIR`, default the shared
//! subset; the vendored copies under `test_data/nab` when that is missing) under six memory
//! mappings (512 MiB, 2 GiB, 8 GiB × the shape, each without and with a baseline); the other
//! real NAB series of the subset as shapes; NAB's taxi series as load; NAB's artificial series
//! and our synthetic traces with known truth. `SHADOWGATE_REPLAY_FILTER=text` keeps the cases
//! whose name contains `text`. A case where ours has more OOM events than VPA, or more memory
//! or CPU slack, is marked `WORSE`.

#[path = "../tests/support/nab_files.rs"]
#[allow(dead_code)]
mod nab_files;
#[path = "../tests/support/traces.rs"]
#[allow(dead_code)]
mod traces;

use std::time::Instant;

use shadowgate_analytics::recommend::forecast_aware::{
    ForecastAwareConfig, ForecastAwareRecommender,
};
use shadowgate_analytics::recommend::naive::NaiveRecommender;
use shadowgate_analytics::recommend::replay::{self, ReplayConfig, ReplayReport};
use shadowgate_analytics::recommend::vpa::{VpaConfig, VpaRecommender};
use shadowgate_analytics::recommend::{Recommender, UsageSample};

fn main() {
    let traces = cases();
    let config = ReplayConfig::default();
    println!(
        "limits recomputed every {} s; the first {} s only train; limit = target (request = limit)",
        config.recompute_interval_seconds, config.warmup_seconds
    );
    println!("columns: VPA / naive / ours\n");
    println!(
        "{:<72} {:>16} {:>20} {:>20} {:>20} {:>6}",
        "case", "OOM events", "memory slack", "cpu slack", "throttled %", "time s"
    );
    let started = Instant::now();
    let results = run_all(&traces, &config);
    let mut worse = Vec::new();
    for (trace, (reports, seconds)) in traces.iter().zip(&results) {
        let [vpa, naive, ours] = reports;
        let flag = verdict(vpa, ours);
        println!(
            "{:<72} {:>16} {:>20} {:>20} {:>20} {:>6.1} {}",
            format!(
                "{} ({} samples{})",
                trace.name,
                trace.samples.len(),
                load_note(&trace.samples)
            ),
            format!("{} / {} / {}", vpa.oom_events, naive.oom_events, ours.oom_events),
            format!(
                "{:.3} / {:.3} / {:.3}",
                vpa.memory_slack, naive.memory_slack, ours.memory_slack
            ),
            format!("{:.3} / {:.3} / {:.3}", vpa.cpu_slack, naive.cpu_slack, ours.cpu_slack),
            format!(
                "{:.2} / {:.2} / {:.2}",
                100.0 * vpa.throttled_fraction,
                100.0 * naive.throttled_fraction,
                100.0 * ours.throttled_fraction
            ),
            seconds,
            flag
        );
        if !flag.is_empty() {
            worse.push(trace.name.clone());
            if ours.oom_events > vpa.oom_events {
                println!("    OOM at (s from start): VPA {:?}", offsets(trace, vpa));
                println!("                           ours {:?}", offsets(trace, ours));
            }
        }
    }
    let ratio = |pick: fn(&ReplayReport) -> f64| {
        let logs: Vec<f64> = results
            .iter()
            .filter(|(reports, _)| pick(&reports[0]) > 0.0 && pick(&reports[2]) > 0.0)
            .map(|(reports, _)| (pick(&reports[2]) / pick(&reports[0])).ln())
            .collect();
        (logs.iter().sum::<f64>() / logs.len().max(1) as f64).exp()
    };
    let total = |idx: usize| results.iter().map(|(r, _)| r[idx].oom_events).sum::<usize>();
    println!(
        "\n{} cases in {:.0} s; OOM events in all: VPA {}, naive {}, ours {}; ours/VPA slack \
         (geometric mean): memory ×{:.2}, cpu ×{:.2}",
        traces.len(),
        started.elapsed().as_secs_f64(),
        total(0),
        total(1),
        total(2),
        ratio(|r| r.memory_slack),
        ratio(|r| r.cpu_slack)
    );
    if worse.is_empty() {
        println!("ours has no more OOM events than VPA and no more slack in every case");
    } else {
        println!("ours is worse than VPA in {} case(s):", worse.len());
        for name in worse {
            println!("  {name}");
        }
    }
}

/// `WORSE(...)` naming what ours lost on, or empty.
fn verdict(vpa: &ReplayReport, ours: &ReplayReport) -> String {
    let mut lost = Vec::new();
    if ours.oom_events > vpa.oom_events {
        lost.push("OOM");
    }
    if ours.memory_slack > vpa.memory_slack {
        lost.push("mem slack");
    }
    if ours.cpu_slack > vpa.cpu_slack {
        lost.push("cpu slack");
    }
    if lost.is_empty() { String::new() } else { format!("WORSE({})", lost.join(", ")) }
}

fn cases() -> Vec<traces::Trace> {
    let nab_dir = nab_files::nab_dir_or_vendored();
    let files = nab_files::read_data_files(&nab_dir);
    let rows_of = |name: &str| -> Option<Vec<(i64, f64)>> {
        let (_, text) = files.iter().find(|(file, _)| file == name)?;
        Some(shadowgate_analytics::nab::corpus::parse_data_csv(text).expect("valid NAB file"))
    };
    let mut traces = Vec::new();
    for name in traces::NAB_CPU_SERIES {
        let Some(rows) = rows_of(name) else { continue };
        let shape = traces::shape(&rows, true);
        for mapping in traces::mappings() {
            traces.push(traces::from_shape(name, &shape, &mapping));
        }
    }
    let two_gib =
        traces::Mapping { cpu_cores: 2.0, memory_bytes: 2048.0 * traces::MIB, memory_offset: 0.0 };
    for (name, _) in &files {
        if traces::NAB_CPU_SERIES.contains(&name.as_str()) {
            continue;
        }
        let rows = rows_of(name).expect("listed");
        let percent = false;
        traces.push(traces::from_shape(name, &traces::shape(&rows, percent), &two_gib));
    }
    if let Some(rows) = rows_of("realKnownCause/nyc_taxi.csv") {
        traces.push(traces::from_load("realKnownCause/nyc_taxi.csv as load", &rows, 7));
    }
    traces.push(traces::synthetic_diurnal(28, None, true, 1));
    traces.push(traces::synthetic_diurnal(28, Some(14), true, 2));
    traces.push(traces::synthetic_diurnal(28, Some(14), false, 3));
    traces.extend(traces::synthetic_known_truth());
    if let Ok(filter) = std::env::var("SHADOWGATE_REPLAY_FILTER") {
        traces.retain(|trace| trace.name.contains(&filter));
    }
    traces
}

/// VPA's, naive's and our reports on one trace, and the seconds the three took.
type Outcome = ([ReplayReport; 3], f64);

/// Each trace through VPA, naive and ours, two traces at a time.
fn run_all(traces: &[traces::Trace], config: &ReplayConfig) -> Vec<Outcome> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(2);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Outcome>>> =
        traces.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let idx = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(trace) = traces.get(idx) else { break };
                    let started = Instant::now();
                    let reports = replay_three(&trace.samples, config);
                    *slots[idx].lock().expect("no panics") =
                        Some((reports, started.elapsed().as_secs_f64()));
                }
            });
        }
    });
    slots.into_iter().map(|slot| slot.into_inner().expect("no panics").expect("ran")).collect()
}

fn replay_three(samples: &[UsageSample], config: &ReplayConfig) -> [ReplayReport; 3] {
    let ours = ForecastAwareConfig {
        horizon_seconds: config.recompute_interval_seconds,
        ..ForecastAwareConfig::default()
    };
    let mut vpa = VpaRecommender::new(VpaConfig::default());
    let mut naive = NaiveRecommender::new(ours.history_seconds, ours.naive_margin);
    let mut ours = ForecastAwareRecommender::new(ours);
    let run = |recommender: &mut dyn Recommender| {
        replay::replay(samples, recommender, config).expect("valid trace")
    };
    [run(&mut vpa), run(&mut naive), run(&mut ours)]
}

fn offsets(trace: &traces::Trace, report: &ReplayReport) -> Vec<i64> {
    let start = trace.samples.first().map_or(0, |sample| sample.timestamp);
    report.oom_timestamps.iter().map(|t| t - start).collect()
}

fn load_note(samples: &[UsageSample]) -> &'static str {
    if samples.iter().all(|sample| sample.load.is_some()) { ", with load" } else { "" }
}
