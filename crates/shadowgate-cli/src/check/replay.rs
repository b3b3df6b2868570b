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
