//! `check --conditions predicted|FILE`: the request rate and resource limits of a check taken
//! from a predicted-conditions document.
//!
//! Precedence: an explicit flag (`--rate`) wins over the document, and the document wins over
//! the manifest. Each value taken from the document is listed with the source `predicted`, and
//! the report's `conditions` section names the document, its age and what it changed. Data
//! volume is recorded with the run (the data generator that would act on it is separate).

use std::path::PathBuf;

use anyhow::{Result, bail};
use shadowgate_core::{
    conditions::PredictedConditions,
    manifest::conditions::{DependencyNetwork, Source, network_for, pick},
    scenario::Fault,
    traffic::Traffic,
    units::ByteSize,
};
use shadowgate_report::{ConditionsUsed, Setting as ReportSetting, SettingSource};
use shadowgate_sandbox::faults::Injector;

use super::Setting;
use crate::{
    cli::CheckArgs,
    cmd::analytics::{latest_conditions_path, read_conditions},
    context::Loaded,
};

/// Reads the document `--conditions` names, if any.
pub fn load(args: &CheckArgs, app: &str) -> Result<Option<(PredictedConditions, String, PathBuf)>> {
    let Some(spec) = &args.conditions else { return Ok(None) };
    let (origin, path) = if spec == "predicted" {
        let path = latest_conditions_path(app);
        if !path.exists() {
            bail!(
                "--conditions predicted: there is no prediction for app `{app}` yet ({} is missing); \
                 run `shadowgate predict --app {app}` first, or pass a file",
                path.display()
            );
        }
        ("predicted", path)
    } else {
        ("file", PathBuf::from(spec))
    };
    let document = read_conditions(&path).map_err(|e| anyhow::anyhow!("--conditions: {e:#}"))?;
    if document.app != app {
        bail!(
            "--conditions {}: the document predicts app `{}`, but the manifest is for `{app}`; \
             run `shadowgate predict --app {app}`",
            path.display(),
            document.app
        );
    }
    Ok(Some((document, origin.to_string(), path)))
}

/// Network conditions to put on one dependency's fault proxy for the whole run.
pub type NetworkPlan = Vec<(String, DependencyNetwork)>;

/// Applies the document and the manifest's `[conditions]` to the run's traffic and the
/// manifest's resources and data; returns the report's `conditions` section and the network
/// conditions for the dependencies' proxies.
pub fn apply(
    args: &CheckArgs,
    loaded: &mut Loaded,
    traffic: &mut Traffic,
    settings: &mut Vec<Setting>,
) -> Result<(Option<ConditionsUsed>, NetworkPlan)> {
    let app = loaded.manifest.app.name.clone();
    let document = load(args, &app)?;
    let manifest = loaded.manifest.conditions.clone();
    if document.is_none() && manifest.is_none() {
        return Ok((None, Vec::new()));
    }
    let c = manifest.as_ref();
    let doc = document.as_ref().map(|d| &d.0);
    let mut applied = Vec::new();
    let mut set = |settings: &mut Vec<Setting>, name: &str, value: String, source: Source| {
        match settings.iter_mut().find(|s| s.name == name) {
            Some(s) => {
                s.value = value.clone();
                s.source = source.as_str();
            }
            // A handful of names per run, kept for the life of the command.
            None => settings.push(Setting {
                name: Box::leak(name.to_string().into_boxed_str()),
                value: value.clone(),
                source: source.as_str(),
            }),
        }
        applied.push(ReportSetting {
            name: name.to_string(),
            value,
            source: if source == Source::Predicted {
                SettingSource::Predicted
            } else {
                SettingSource::Conditions
            },
        });
    };
    let mut recorded = Vec::new();
    let doc_rate = doc.and_then(|d| d.peak_request_rate.as_ref()).map(|e| e.expected);
    let (rate, source) = pick(args.rate, doc_rate, c.and_then(|c| c.rate), traffic.rate);
    if source == Source::Flag {
        if let Some(r) = doc_rate {
            recorded
                .push(format!("the predicted peak rate {r:.2}/s was not used: --rate was given"));
        }
        if let Some(r) = c.and_then(|c| c.rate) {
            recorded.push(format!("[conditions] rate {r}/s was not used: --rate was given"));
        }
    } else if source != Source::Manifest {
        traffic.rate = rate;
        set(settings, "rate", format!("{rate}/s"), source);
    }
    let doc_resources = doc.and_then(|d| d.resources.as_ref());
    let resources = &mut loaded.manifest.resources;
    let (cpu, source) =
        pick(None, doc_resources.map(|r| r.cpu_cores), c.and_then(|c| c.cpu), resources.cpu);
    if source != Source::Manifest {
        resources.cpu = cpu;
        set(settings, "cpu", format!("{cpu} cores"), source);
    }
    let (memory, source) = pick(
        None,
        doc_resources.map(|r| ByteSize(r.memory_bytes)),
        c.and_then(|c| c.memory),
        resources.memory,
    );
    if source != Source::Manifest {
        resources.memory = memory;
        set(settings, "memory", memory.to_string(), source);
    }
    if let Some(c) = doc.and_then(|d| d.peak_concurrency.as_ref()) {
        recorded.push(format!(
            "peak concurrency {:.1} (80% up to {:.1}) from `{}`",
            c.expected, c.upper80, c.metric
        ));
    }
    let into_postgres = loaded
        .manifest
        .dependencies
        .values()
        .any(|d| d.kind == shadowgate_core::manifest::DependencyKind::Postgres);
    let mut volumes: Vec<(String, u64, Source, String)> = doc
        .map(|d| &d.data_volume[..])
        .unwrap_or_default()
        .iter()
        .map(|t| {
            let rows = t.rows.max(0.0).round() as u64;
            (t.table.clone(), rows, Source::Predicted, format!("from `{}`", t.metric))
        })
        .collect();
    for (table, rows) in c.map(|c| &c.rows).into_iter().flatten() {
        if !volumes.iter().any(|v| &v.0 == table) {
            volumes.push((table.clone(), *rows, Source::Conditions, "from [conditions]".into()));
        }
    }
    for (table, rows, source, origin) in volumes {
        let generated = loaded.manifest.data.as_mut().and_then(|d| {
            d.tables.iter_mut().find(|t| t.name == table).map(|t| {
                t.rows = shadowgate_data::Rows::Count(rows);
            })
        });
        if generated.is_some() && into_postgres {
            set(settings, &format!("data.{table}"), format!("{table} = {rows} rows"), source);
        } else {
            recorded.push(format!(
                "data volume: table `{table}` at {rows} rows ({origin}); not generated by this run"
            ));
        }
    }
    let observed = doc.map(|d| &d.network);
    let mut network = Vec::new();
    let deps: Vec<String> = loaded.manifest.dependencies.keys().cloned().collect();
    for dep in &deps {
        let n = network_for(c, dep, observed);
        if let Some((latency, source)) = n.latency {
            set(settings, &format!("network.{dep}.latency"), format!("{latency:?}"), source);
        }
        if let Some((jitter, source)) = n.jitter {
            set(settings, &format!("network.{dep}.jitter"), format!("{jitter:?}"), source);
        }
        if let Some((b, source)) = n.bytes_per_second {
            set(
                settings,
                &format!("network.{dep}.bandwidth"),
                format!("{}/s", ByteSize(b)),
                source,
            );
        }
        if !n.is_empty() {
            network.push((dep.clone(), n));
        }
    }
    if deps.is_empty()
        && observed
            .is_some_and(|o| o.latency_ms.is_some() || o.bandwidth_bytes_per_second.is_some())
    {
        recorded.push(
            "observed network conditions: not applied, the manifest declares no dependencies"
                .into(),
        );
    }
    let used = match document {
        Some((document, origin, path)) => ConditionsUsed {
            origin,
            path: path.display().to_string(),
            version: document.version,
            generated_at_unix_ms: document.generated_at_unix_ms,
            horizon_seconds: document.horizon_seconds,
            applied,
            recorded,
            risks: document.risks.iter().map(|r| r.message.clone()).collect(),
        },
        None => ConditionsUsed {
            origin: "manifest".into(),
            path: loaded.path.display().to_string(),
            version: 0,
            generated_at_unix_ms: 0,
            horizon_seconds: 0,
            applied,
            recorded,
            risks: Vec::new(),
        },
    };
    Ok((Some(used), network))
}

/// Puts the network conditions on both environments' dependency proxies as constant toxics,
/// alike on both arms; they stay until the returned injectors are dropped.
pub fn shape(
    network: &NetworkPlan,
    handles: &[shadowgate_sandbox::EnvHandle; 2],
    store: &shadowgate_store::SqliteStore,
) -> Result<Vec<Injector>> {
    if network.is_empty() {
        return Ok(Vec::new());
    }
    let mut injectors = super::scenarios::injectors(handles, store)?;
    for injector in &mut injectors {
        for (dep, n) in network {
            if n.latency.is_some() || n.jitter.is_some() {
                let fault = Fault::Latency {
                    dependency: dep.clone(),
                    latency: n.latency.map(|l| l.0).unwrap_or_default(),
                    jitter: n.jitter.map(|j| j.0).unwrap_or_default(),
                };
                injector
                    .start(&format!("conditions-latency-{dep}"), &fault)
                    .map_err(|e| anyhow::anyhow!("[conditions] latency on `{dep}`: {e}"))?;
            }
            if let Some((bytes_per_second, _)) = n.bytes_per_second {
                let fault = Fault::Bandwidth { dependency: dep.clone(), bytes_per_second };
                injector
                    .start(&format!("conditions-bandwidth-{dep}"), &fault)
                    .map_err(|e| anyhow::anyhow!("[conditions] bandwidth on `{dep}`: {e}"))?;
            }
        }
    }
    Ok(injectors)
}

/// The terminal lines of the report's `conditions` section.
pub fn lines(used: &ConditionsUsed) -> Vec<String> {
    let origin = if used.origin == "predicted" { "the latest prediction" } else { "file" };
    let mut out = vec![if used.origin == "manifest" {
        format!("conditions: the manifest's [conditions] in {}", used.path)
    } else {
        format!(
            "conditions: {origin} {} (version {}, made at Unix ms {}, horizon {} s)",
            used.path, used.version, used.generated_at_unix_ms, used.horizon_seconds
        )
    }];
    for s in &used.applied {
        let source =
            if s.source == SettingSource::Conditions { "[conditions]" } else { "predicted" };
        out.push(format!("  {} = {} ({source})", s.name, s.value));
    }
    for r in &used.recorded {
        out.push(format!("  recorded: {r}"));
    }
    for r in &used.risks {
        out.push(format!("  risk: {r}"));
    }
    out
}

/// Prints the conditions a run used under the check's summary.
pub fn print(used: &ConditionsUsed) {
    for line in lines(used) {
        println!("  {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_the_document_and_every_applied_value() {
        let used = ConditionsUsed {
            origin: "predicted".into(),
            path: "/home/x/conditions/shop/latest.json".into(),
            version: 1,
            generated_at_unix_ms: 5,
            horizon_seconds: 604_800,
            applied: vec![ReportSetting {
                name: "rate".into(),
                value: "42/s".into(),
                source: SettingSource::Predicted,
            }],
            recorded: vec!["data volume: table `orders` at 10 rows".into()],
            risks: vec!["memory grows".into()],
        };
        let text = lines(&used).join("\n");
        assert!(
            text.starts_with(
                "conditions: the latest prediction /home/x/conditions/shop/latest.json"
            )
        );
        assert!(text.contains("rate = 42/s (predicted)"), "{text}");
        assert!(text.contains("recorded: data volume"), "{text}");
        assert!(text.contains("risk: memory grows"), "{text}");
    }
}
