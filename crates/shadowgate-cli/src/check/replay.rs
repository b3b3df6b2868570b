//! `[traffic] replay = "FILE"`: a recording turned into the load generator's plan.
//!
//! The recording's requests replace the generated request mix, and the replay schedule of the
//! mirror crate decides when each is sent: the recorded inter-arrival pattern, looped over the
//! warm-up and the judged duration, at its recorded pace or scaled to a mean rate (`--rate`,
//! or `[traffic] rate` when the manifest writes it). The result is an ordinary [`Plan`] of
//! requests with intended send instants, so the same open-model, interleaved load generator
//! sends it to baseline and candidate, with latency measured from the intended instants.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};
use shadowgate_core::traffic::{FixedRequest, FixedSend, Plan, Traffic};
use shadowgate_mirror::{
    diff::{DiffConfig, collector::endpoint_name},
    hop_by_hop::strip_hop_by_hop_headers,
    recorder::read_recording_file,
    schedule::{Pacing, ReplaySchedule},
};

use super::Setting;
use crate::context::Loaded;

/// The plan of a check: generated from `[traffic]`, or the replayed recording it names.
/// Adds the replay's settings to `settings` and returns warnings about what was left out.
pub fn plan(
    loaded: &Loaded,
    traffic: &Traffic,
    seed: u64,
    rate_flag: Option<f64>,
    settings: &mut Vec<Setting>,
) -> Result<(Plan, Vec<String>)> {
    let Some(file) = &traffic.replay else {
        let plan = Plan::new(traffic, seed).map_err(|e| anyhow!("[traffic]: {e}"))?;
        return Ok((plan, Vec::new()));
    };
    let path = loaded.dir.join(file);
    let recording = read_recording_file(&path).map_err(|e| {
        anyhow!("[traffic] replay = \"{file}\": {e}\n  help: write one with `shadowgate record --listen ADDR --upstream URL --out FILE`")
    })?;
    let (pacing, source) = match rate_flag {
        Some(rate) => (Pacing::RequestsPerSecond(rate), "flag"),
        None if traffic.rate_given => (Pacing::RequestsPerSecond(traffic.rate), "manifest"),
        None => (Pacing::Recorded, "manifest"),
    };
    settings.retain(|s| s.name != "rate" && s.name != "arrival");
    settings.push(Setting {
        name: "replay",
        value: path.display().to_string(),
        source: "manifest",
    });
    settings.push(Setting { name: "replay pace", value: pacing.to_string(), source });

    let mut warnings = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    // Exchange index → request index (None: left out).
    let mut index: Vec<Option<usize>> = Vec::with_capacity(recording.exchanges.len());
    let mut requests = Vec::new();
    let mut left_out = 0usize;
    let name_config = DiffConfig::default();
    for exchange in &recording.exchanges {
        let request = &exchange.request;
        let body = match std::str::from_utf8(&request.body) {
            Ok(body) if !request.body_truncated => body.to_string(),
            _ => {
                left_out += 1;
                index.push(None);
                continue;
            }
        };
        let name = endpoint_name(request, &name_config);
        let next = names.len();
        let kind = *kinds.entry(name.clone()).or_insert(next);
        if kind == next {
            names.push(name);
        }
        let mut headers = request.headers.clone();
        strip_hop_by_hop_headers(&mut headers);
        for name in [http::header::HOST, http::header::CONTENT_LENGTH] {
            headers.remove(name);
        }
        let headers = headers
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
            })
            .collect();
        index.push(Some(requests.len()));
        requests.push(FixedRequest {
            kind,
            method: request.method.to_string(),
            path: request.path_and_query.clone(),
            headers,
            body,
        });
    }
    if left_out > 0 {
        warnings.push(format!(
            "{left_out} of {} recorded requests were left out of the replay: their bodies are binary or were cut at the recording's capture limit",
            recording.exchanges.len()
        ));
    }
    if requests.is_empty() {
        bail!("[traffic] replay = \"{file}\": the recording holds no request that can be replayed");
    }
    let total = traffic.warmup.0 + traffic.duration.0;
    let offsets: Vec<_> = recording.exchanges.iter().map(|e| e.offset).collect();
    let schedule = ReplaySchedule::new(&offsets, pacing, Some(total))
        .map_err(|e| anyhow!("[traffic] replay = \"{file}\": {e}"))?;
    let sends: Vec<FixedSend> = schedule
        .filter_map(|send| {
            let request = index.get(send.exchange_index).copied().flatten()?;
            Some(FixedSend { offset: send.at, request })
        })
        .collect();
    let plan = Plan::replayed(names, requests, sends, traffic.warmup.0, traffic.duration.0)
        .map_err(|e| anyhow!("[traffic] replay = \"{file}\": {e}"))?;
    settings.push(Setting {
        name: "rate",
        value: format!("{:.1}/s (replayed)", plan.rate()),
        source: "manifest",
    });
    Ok((plan, warnings))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use shadowgate_core::traffic::Phase;

    use super::*;

    /// A manifest with `traffic` as its `[traffic]`, beside a recording of four exchanges
    /// 100 ms apart; the third has a binary body.
    fn loaded(traffic: &str) -> (tempfile::TempDir, Loaded) {
        let dir = tempfile::tempdir().unwrap();
        let manifest = format!(
            "[app]\nname = \"shop\"\n\n[releases.v1]\npath = \"v1\"\n\n[run]\ncommand = \"./shop {{port}}\"\n\n[traffic]\nreplay = \"prod.jsonl\"\nwarmup = \"1s\"\nduration = \"2s\"\n{traffic}"
        );
        std::fs::write(dir.path().join("shadowgate.toml"), manifest).unwrap();
        let exchange = |seq: u64, request: &str| {
            format!(
                r#"{{"record":"exchange","seq":{seq},"offset_us":{},"request":{request},"response":{{"status":200,"headers":[],"body":""}},"latency_us":900}}"#,
                seq * 100_000
            )
        };
        let lines = [
            r#"{"record":"header","format":"shadowgate-recording","version":1,"started_at_unix_ms":1,"source":"test","redaction":{"dropped_headers":[],"hashed_fields":[],"removed_fields":[]}}"#.to_string(),
            exchange(0, r#"{"method":"GET","target":"/items/1","headers":[["host","shop.example"],["accept","text/plain"]]}"#),
            exchange(1, r#"{"method":"POST","target":"/orders","headers":[["content-length","2"],["connection","close"]],"body":"{}"}"#),
            exchange(2, r#"{"method":"PUT","target":"/blob","headers":[],"body":{"base64":"AJ+Slgo="}}"#),
            exchange(3, r#"{"method":"GET","target":"/items/22","headers":[]}"#),
        ];
        std::fs::write(dir.path().join("prod.jsonl"), lines.join("\n")).unwrap();
        let loaded = crate::context::load_manifest(&dir.path().join("shadowgate.toml")).unwrap();
        (dir, loaded)
    }

    fn plan_of(traffic: &str, rate_flag: Option<f64>) -> (Plan, Vec<String>, Vec<Setting>) {
        let (_dir, loaded) = loaded(traffic);
        let section = loaded.manifest.traffic.clone().unwrap();
        let mut settings = Vec::new();
        let (plan, warnings) = plan(&loaded, &section, 1, rate_flag, &mut settings).unwrap();
        (plan, warnings, settings)
    }

    fn pace(settings: &[Setting]) -> (String, &'static str) {
        let s = settings.iter().find(|s| s.name == "replay pace").unwrap();
        (s.value.clone(), s.source)
    }

    #[test]
    fn a_recording_becomes_a_plan_at_its_recorded_pace() {
        let (plan, warnings, settings) = plan_of("", None);
        assert_eq!(pace(&settings), ("recorded".to_string(), "manifest"));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("1 of 4 recorded requests were left out"));
        assert_eq!(plan.request_names().collect::<Vec<_>>(), ["GET /items/{id}", "POST /orders"]);
        let sends: Vec<_> = plan.requests().collect();
        // Three requests at 0, 100 and 300 ms (the left-out one keeps its slot empty), looped
        // every 400 ms over the 3 s run: 7 whole passes, and 2800 and 2900 ms of the eighth.
        assert_eq!(sends.len(), 7 * 3 + 2);
        assert_eq!(sends[0].offset, Duration::ZERO);
        assert_eq!(sends[1].offset, Duration::from_millis(100));
        assert_eq!(sends[2].offset, Duration::from_millis(300));
        assert_eq!(sends[3].offset, Duration::from_millis(400));
        assert_eq!(sends.iter().filter(|s| s.phase == Phase::Warmup).count(), 8, "before 1 s");
        let first = &sends[0].content;
        assert_eq!((first.method, first.path.as_ref()), ("GET", "/items/1"));
        assert_eq!(first.headers.as_ref(), [("accept".to_string(), "text/plain".to_string())]);
        let post = &sends[1].content;
        assert_eq!((post.method, post.body.as_ref()), ("POST", "{}"));
        assert!(post.headers.is_empty(), "Content-Length and hop-by-hop headers are the sender's");
    }

    #[test]
    fn a_written_rate_or_the_flag_scales_the_pattern() {
        let (plan, _, settings) = plan_of("rate = 20\n", None);
        assert_eq!(pace(&settings), ("20rps".to_string(), "manifest"));
        assert!(
            (plan.rate() - 15.0).abs() < 1.5,
            "20/s minus the left-out quarter: {}",
            plan.rate()
        );
        let (_, _, settings) = plan_of("rate = 20\n", Some(5.0));
        assert_eq!(pace(&settings), ("5rps".to_string(), "flag"));
    }

    #[test]
    fn a_missing_recording_says_how_to_make_one() {
        let (dir, loaded) = loaded("");
        std::fs::remove_file(dir.path().join("prod.jsonl")).unwrap();
        let section = loaded.manifest.traffic.clone().unwrap();
        let error = plan(&loaded, &section, 1, None, &mut Vec::new()).err().unwrap().to_string();
        assert!(error.starts_with("[traffic] replay = \"prod.jsonl\""), "{error}");
        assert!(error.contains("shadowgate record"), "{error}");
    }
}
