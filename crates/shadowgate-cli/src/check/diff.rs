//! `[diff]` in `check`: responses of the baseline, a second baseline and the candidate,
//! compared field by field with Diffy's noise filter.
//!
//! How a check runs it:
//! 1. a third environment, the *secondary*, runs the baseline release again; it starts beside
//!    the baseline and the candidate, with the same limits, install steps and data;
//! 2. once all three are healthy and before the load, the first `[diff] requests` judged
//!    requests of the plan are sent to the three at the same instants (open model, at the
//!    plan's own pace) and their responses are compared: a field is reported only when it
//!    differs between baseline and candidate more often, beyond the thresholds, than between
//!    the two baselines (which is what ids, timestamps and other noise do);
//! 3. the secondary is stopped, and the judged load runs on baseline and candidate as usual
//!    (both received the same diff requests, so their histories stay alike).
//!
//! When `fail_on_difference` is set (the default), a field that differs beyond noise fails the
//! check (exit code 1) whatever the judge's verdict; otherwise it is reported only.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::Arc,
    thread::JoinHandle,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, anyhow};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use shadowgate_core::{
    diff::Diff,
    env::{EnvId, Role},
    traffic::{Phase, Plan, Traffic},
};
use shadowgate_mirror::{
    config::Upstream,
    diff::{DiffConfig, report::DiffReport},
    field_path::FieldPattern,
    http_message::{CapturedRequest, ExchangeFailure},
    recording::{RecordedExchange, Recording, RecordingHeader, RedactionSummary},
    replay::{ReplayConfig, replay},
    schedule::Pacing,
};
use shadowgate_report::{
    DiffEndpoint, DiffExample, DiffField, DiffRequest, DiffResponse, ResponseDiff,
};
use shadowgate_sandbox::EnvHandle;
use shadowgate_store::SqliteStore;

use crate::{
    cli::{CheckArgs, Global},
    cmd::env::{EnvOptions, env_spec},
    context::{self, Loaded},
    output,
};

/// The enabled `[diff]` section of a manifest, compiled.
pub struct Enabled {
    pub section: Diff,
    pub config: DiffConfig,
}

/// The `[diff]` section when it is present and enabled, with its rules compiled; an error
/// names the key of a bad pattern.
pub fn enabled(loaded: &Loaded) -> Result<Option<Enabled>> {
    let Some(section) = loaded.manifest.diff.clone().filter(|d| d.enabled) else {
        return Ok(None);
    };
    let config = compile(&section)?;
    Ok(Some(Enabled { section, config }))
}

fn compile(section: &Diff) -> Result<DiffConfig> {
    let regexes = |key: &str, list: &[String]| -> Result<Vec<regex_lite::Regex>> {
        list.iter()
            .enumerate()
            .map(|(idx, pattern)| {
                regex_lite::Regex::new(pattern).map_err(|e| {
                    anyhow!("[diff] {key}[{idx}]: `{pattern}` is not a valid regex: {e}")
                })
            })
            .collect()
    };
    let header = |key: &str, name: &str| -> Result<HeaderName> {
        HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| anyhow!("[diff] {key}: `{name}` is not a valid header name"))
    };
    let mut config = DiffConfig {
        relative_threshold_pct: section.relative_threshold,
        absolute_threshold_pct: section.absolute_threshold,
        ignore_fields: section
            .ignore_fields
            .iter()
            .enumerate()
            .map(|(idx, text)| {
                text.parse::<FieldPattern>().map_err(|e| {
                    anyhow!(
                        "[diff] ignore_fields[{idx}]: {e}; write a pattern such as `body.meta.**` or `body.items[*].id`"
                    )
                })
            })
            .collect::<Result<_>>()?,
        ignore_field_regexes: regexes("ignore_field_regexes", &section.ignore_field_regexes)?,
        equal_value_regexes: regexes("equal_value_regexes", &section.equal_value_regexes)?,
        compare_headers: section.compare_headers,
        max_examples_per_field: section.max_examples as usize,
        endpoint_header: section
            .endpoint_header
            .as_deref()
            .map(|name| header("endpoint_header", name))
            .transpose()?,
        ..DiffConfig::default()
    };
    for (idx, name) in section.ignore_headers.iter().enumerate() {
        config.ignore_headers.push(header(&format!("ignore_headers[{idx}]"), name)?);
    }
    config.validate().map_err(|e| anyhow!("[diff]: {e}"))?;
    Ok(config)
}

/// Starts the secondary environment (the baseline release again) on its own thread, so that
/// it comes up while the baseline and the candidate do.
#[allow(clippy::too_many_arguments)]
pub fn start_secondary(
    global: &Global,
    loaded: &Loaded,
    run_id: &str,
    args: &CheckArgs,
    baseline_path: PathBuf,
    sample_interval: Duration,
    store: &Arc<SqliteStore>,
) -> Result<JoinHandle<Result<EnvHandle>>> {
    let backend = context::backend()?;
    let opts = EnvOptions {
        role: Role::Shadow { counterpart: "baseline".into() },
        run_id: Some(run_id.to_string()),
        host_port: 0,
        sample_interval,
        allow_degraded: args.allow_degraded,
        watch_starter: true,
    };
    let mut spec = env_spec(
        global,
        loaded,
        &EnvId::from_entropy(context::entropy()),
        &args.baseline,
        baseline_path,
        &opts,
    );
    // No fault is applied to it, so it needs no io_error file system.
    spec.io_error_paths.clear();
    let store = store.clone();
    Ok(std::thread::spawn(move || {
        backend.up(store.as_ref(), &spec, |_| {}).map_err(|e| {
            anyhow!(
                "secondary (baseline again, for [diff]) environment: {e}\n  logs: {}",
                spec.log_dir.display()
            )
        })
    }))
}

/// Sends the plan's first judged requests to baseline, secondary and candidate at the same
/// instants and diffs their responses; then stops the secondary.
pub fn run(
    enabled: &Enabled,
    plan: &Plan,
    traffic: &Traffic,
    baseline: SocketAddr,
    secondary: EnvHandle,
    candidate: SocketAddr,
) -> Result<ResponseDiff> {
    let secondary_id = secondary.id.clone();
    let result = compare(enabled, plan, traffic, [baseline, secondary.endpoint, candidate]);
    let stopped = secondary.stop().map_err(|e| anyhow!("stop the secondary environment: {e}"));
    let report = result?;
    stopped?;
    Ok(to_document(&report, enabled.section.fail_on_difference, secondary_id))
}

fn compare(
    enabled: &Enabled,
    plan: &Plan,
    traffic: &Traffic,
    endpoints: [SocketAddr; 3],
) -> Result<DiffReport> {
    let recording = judged_requests(plan, enabled.section.requests as usize)?;
    let targets = endpoints
        .iter()
        .map(|addr| format!("http://{addr}").parse::<Upstream>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("an environment's endpoint: {e}"))?;
    let mut config = ReplayConfig::new(targets);
    config.pacing = Pacing::Recorded;
    config.timeout = traffic.timeout.0;
    config.keep_samples = false;
    config.diff = Some(enabled.config.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let report = runtime
        .block_on(replay(&recording, &config))
        .map_err(|e| anyhow!("send the diff requests: {e}"))?;
    report.diff.ok_or_else(|| anyhow!("the replay returned no diff"))
}

/// The first `count` judged requests of the plan, with their planned gaps, as a recording.
fn judged_requests(plan: &Plan, count: usize) -> Result<Recording> {
    let mut exchanges = Vec::new();
    let mut first = None;
    for planned in plan.requests().filter(|p| p.phase == Phase::Measured).take(count) {
        let start = *first.get_or_insert(planned.offset);
        let content = &planned.content;
        let method = Method::from_bytes(content.method.as_bytes())
            .map_err(|_| anyhow!("`{}` is not an HTTP method", content.method))?;
        let mut headers = HeaderMap::new();
        for (name, value) in content.headers.iter() {
            if let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value))
            {
                headers.append(name, value);
            }
        }
        exchanges.push(RecordedExchange {
            sequence: planned.sequence,
            offset: planned.offset.saturating_sub(start),
            request: CapturedRequest {
                method,
                path_and_query: content.path.to_string(),
                headers,
                body: content.body.to_string().into(),
                body_truncated: false,
            },
            // Not used by the replayer: it sends requests, and only diffs what comes back.
            response: Err(ExchangeFailure::Connect),
            latency: Duration::ZERO,
        });
    }
    if exchanges.is_empty() {
        return Err(anyhow!(
            "[diff]: the plan has no judged request to compare; lengthen `[traffic] duration`"
        ));
    }
    let started_at_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    Ok(Recording {
        header: RecordingHeader {
            started_at_unix_ms,
            source: "shadowgate check [diff]".into(),
            redaction: RedactionSummary::default(),
        },
        exchanges,
    })
}

/// The report document's `diff` section.
fn to_document(report: &DiffReport, fail_on_difference: bool, secondary: String) -> ResponseDiff {
    let endpoints: Vec<DiffEndpoint> = report
        .endpoints
        .iter()
        .filter(|e| !e.differing_fields.is_empty() || !e.noise_fields.is_empty())
        .map(|e| DiffEndpoint {
            endpoint: e.endpoint.clone(),
            requests: e.requests,
            differing_fields: e
                .differing_fields
                .iter()
                .map(|f| DiffField {
                    field: f.field.clone(),
                    raw_differences: f.raw_differences,
                    noise_differences: f.noise_differences,
                    examples: f
                        .examples
                        .iter()
                        .map(|x| DiffExample {
                            baseline_value: x.primary_value.clone(),
                            candidate_value: x.candidate_value.clone(),
                            request: DiffRequest {
                                method: x.request.method.clone(),
                                target: x.request.target.clone(),
                                headers: x.request.headers.clone(),
                                body: x.request.body.clone(),
                            },
                            baseline: response(&x.primary),
                            candidate: response(&x.candidate),
                        })
                        .collect(),
                })
                .collect(),
            noise_fields: e.noise_fields.iter().map(|f| f.field.clone()).collect(),
        })
        .collect();
    let differs = endpoints.iter().any(|e| !e.differing_fields.is_empty());
    ResponseDiff {
        secondary_environment_id: secondary,
        requests_compared: report.requests_compared,
        noise_filtered: report.noise_filtered,
        relative_threshold_pct: report.relative_threshold_pct,
        absolute_threshold_pct: report.absolute_threshold_pct,
        fail_on_difference,
        passed: !(differs && fail_on_difference),
        endpoints,
    }
}

fn response(r: &shadowgate_mirror::diff::report::ExampleResponse) -> DiffResponse {
    DiffResponse {
        status: r.status,
        failure: r.failure.clone(),
        headers: r.headers.clone(),
        body: r.body.clone(),
    }
}

/// The terminal lines of the diff, after the metrics table.
pub fn print(diff: &ResponseDiff) {
    println!();
    let count = diff.differing_field_count();
    let head = format!(
        "response diff: {} requests compared, {count} field{} differ{} beyond noise",
        diff.requests_compared,
        if count == 1 { "" } else { "s" },
        if count == 1 { "s" } else { "" }
    );
    if count == 0 {
        println!("  {}", output::green(&head));
        return;
    }
    let head = if diff.passed {
        format!("{head} (reported only: fail_on_difference = false)")
    } else {
        head
    };
    println!("  {}", if diff.passed { output::yellow(&head) } else { output::red(&head) });
    for endpoint in &diff.endpoints {
        for field in &endpoint.differing_fields {
            println!(
                "    {} {}: {} of {} requests differ (noise {})",
                endpoint.endpoint,
                output::bold(&field.field),
                field.raw_differences,
                endpoint.requests,
                field.noise_differences
            );
            if let Some(x) = field.examples.first() {
                println!(
                    "      e.g. {} {}: baseline {} → candidate {}",
                    x.request.method,
                    x.request.target,
                    x.baseline_value.as_deref().unwrap_or("(absent)"),
                    x.candidate_value.as_deref().unwrap_or("(absent)")
                );
            }
        }
    }
}

/// The diff step of a check, between the start of the environments and the load: waits for
/// the secondary, compares, stops the secondary. Nothing without `[diff]`.
pub(super) fn phase(
    enabled: Option<&Enabled>,
    secondary: Option<JoinHandle<Result<EnvHandle>>>,
    plan: &Plan,
    traffic: &Traffic,
    handles: &[EnvHandle; 2],
    ui: &super::Ui,
) -> Result<Option<ResponseDiff>> {
    let (Some(enabled), Some(secondary)) = (enabled, secondary) else {
        return Ok(None);
    };
    let step = ui.step("comparing the responses of baseline, secondary and candidate");
    let secondary = secondary
        .join()
        .unwrap_or_else(|_| Err(anyhow!("the secondary environment's start thread panicked")))?;
    let diff = run(enabled, plan, traffic, handles[0].endpoint, secondary, handles[1].endpoint)?;
    step.done(&format!(
        "responses compared on {} requests (secondary {}): {} field(s) differ beyond noise",
        diff.requests_compared,
        diff.secondary_environment_id,
        diff.differing_field_count()
    ));
    Ok(Some(diff))
}

#[cfg(test)]
mod tests {
    use shadowgate_mirror::diff::report::{
        DiffExample as MirrorExample, EndpointDiff, ExampleRequest, ExampleResponse, FieldDiff,
    };

    use super::*;

    #[test]
    fn bad_rules_name_their_key() {
        let bad = |section: Diff| compile(&section).err().map(|e| e.to_string()).unwrap();
        let regex =
            bad(Diff { ignore_field_regexes: vec!["ok".into(), "(".into()], ..Diff::default() });
        assert!(regex.starts_with("[diff] ignore_field_regexes[1]: `(`"), "{regex}");
        let field = bad(Diff { ignore_fields: vec!["body..x".into()], ..Diff::default() });
        assert!(
            field.starts_with("[diff] ignore_fields[0]:") && field.contains("body.meta.**"),
            "{field}"
        );
        let header = bad(Diff { endpoint_header: Some("bad header".into()), ..Diff::default() });
        assert!(header.starts_with("[diff] endpoint_header:"), "{header}");
        let config = compile(&Diff {
            ignore_headers: vec!["x-served-by".into()],
            max_examples: 2,
            ..Diff::default()
        })
        .unwrap();
        assert!(config.ignore_headers.iter().any(|h| h == "x-served-by"));
        assert!(config.ignore_headers.iter().any(|h| h == "date"), "the defaults stay");
        assert_eq!(config.max_examples_per_field, 2);
    }

    fn report(differing: bool) -> DiffReport {
        let response = ExampleResponse {
            status: Some(200),
            failure: None,
            headers: vec![],
            body: "{}".into(),
        };
        let field = FieldDiff {
            field: "body.price".into(),
            raw_differences: 9,
            noise_differences: 0,
            relative_difference_pct: 100.0,
            absolute_difference_pct: 90.0,
            examples: vec![MirrorExample {
                kind: shadowgate_mirror::diff::report::DifferenceKind::Changed,
                primary_value: Some("1".into()),
                candidate_value: Some("2".into()),
                request: ExampleRequest {
                    method: "GET".into(),
                    target: "/p/1".into(),
                    headers: vec![],
                    body: String::new(),
                },
                primary: response.clone(),
                candidate: response,
            }],
        };
        DiffReport {
            requests_compared: 10,
            noise_filtered: true,
            relative_threshold_pct: 20.0,
            absolute_threshold_pct: 0.03,
            endpoints: vec![
                EndpointDiff {
                    endpoint: "GET /p/{id}".into(),
                    requests: 10,
                    requests_with_raw_differences: 9,
                    differing_fields: if differing { vec![field.clone()] } else { vec![] },
                    noise_fields: vec![FieldDiff { field: "body.at".into(), ..field.clone() }],
                },
                EndpointDiff {
                    endpoint: "GET /quiet".into(),
                    requests: 3,
                    requests_with_raw_differences: 0,
                    differing_fields: vec![],
                    noise_fields: vec![],
                },
            ],
        }
    }

    #[test]
    fn a_difference_fails_only_when_configured_to() {
        let failing = to_document(&report(true), true, "s".into());
        assert!(!failing.passed);
        assert_eq!(failing.differing_field_count(), 1);
        assert_eq!(failing.endpoints.len(), 1, "endpoints without findings are left out");
        let example = &failing.endpoints[0].differing_fields[0].examples[0];
        assert_eq!(example.baseline_value.as_deref(), Some("1"));
        assert_eq!(example.candidate_value.as_deref(), Some("2"));
        assert_eq!(failing.endpoints[0].noise_fields, ["body.at"]);
        assert!(to_document(&report(true), false, "s".into()).passed, "reported only");
        assert!(to_document(&report(false), true, "s".into()).passed, "noise alone never fails");
    }
}
