//! `shadowgate runs` and `shadowgate report`: past runs, from the store.

use anyhow::{Context, Result, bail};
use serde_json::json;
use shadowgate_store::{Run, RunStatus, Store};

use crate::{
    EXIT_PASS,
    cli::{Global, ReportArgs, RunShowArgs, RunsCommand, RunsLsArgs},
    context, output,
};

pub fn run(global: &Global, cmd: RunsCommand) -> Result<u8> {
    match cmd {
        RunsCommand::Ls(args) => ls(global, &args),
        RunsCommand::Show(args) => show(global, &args),
    }
}

fn status_text(status: RunStatus) -> String {
    match status {
        RunStatus::Passed => output::green("passed"),
        RunStatus::Marginal => output::yellow("marginal"),
        RunStatus::Failed => output::red("failed"),
        RunStatus::Errored => output::red("errored"),
        RunStatus::Running => output::yellow("running"),
    }
}

fn ls(global: &Global, args: &RunsLsArgs) -> Result<u8> {
    let store = context::open_store(global)?;
    let runs = store.runs(args.limit)?;
    if args.out.json {
        let list: Vec<_> = runs
            .iter()
            .map(|r| {
                json!({
                    "id": r.id, "app": r.app, "kind": r.kind, "baseline": r.baseline, "candidate": r.candidate,
                    "status": r.status.name(), "score": r.score, "started_ms": r.started_ms, "finished_ms": r.finished_ms,
                })
            })
            .collect();
        output::json(&json!({"runs": list}));
        return Ok(EXIT_PASS);
    }
    if runs.is_empty() {
        println!("no runs yet (start one with `shadowgate check`)");
        return Ok(EXIT_PASS);
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.app.clone(),
                format!("{} → {}", r.baseline, r.candidate),
                status_text(r.status),
                r.score.map(|s| format!("{s:.1}")).unwrap_or_else(|| "-".into()),
                r.finished_ms
                    .map(|f| format!("{:.1} s", (f - r.started_ms) as f64 / 1000.0))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    output::table(&["RUN", "APP", "RELEASES", "STATUS", "SCORE", "TOOK"], &rows);
    Ok(EXIT_PASS)
}

fn load_run(global: &Global, id: &str) -> Result<Run> {
    let store = context::open_store(global)?;
    store.run(id)?.with_context(|| format!("no run `{id}` (see `shadowgate runs ls`)"))
}

fn report_of(run: &Run) -> Result<shadowgate_report::CheckReport> {
    let Some(result) = &run.result else {
        bail!("run {} has no report: it is {}", run.id, run.status.name());
    };
    if let Some(error) = result.get("error") {
        bail!("run {} could not be carried out: {}", run.id, error.as_str().unwrap_or_default());
    }
    shadowgate_report::from_json(&result.to_string())
        .map_err(|e| anyhow::anyhow!("run {}: {e}", run.id))
}

fn show(global: &Global, args: &RunShowArgs) -> Result<u8> {
    let run = load_run(global, &args.id)?;
    if args.out.json {
        output::json(&json!({
            "id": run.id, "app": run.app, "status": run.status.name(), "score": run.score,
            "baseline": run.baseline, "candidate": run.candidate, "started_ms": run.started_ms,
            "finished_ms": run.finished_ms, "config": run.config, "result": run.result,
        }));
        return Ok(EXIT_PASS);
    }
    println!("{} {} ({})", output::bold("run"), run.id, status_text(run.status));
    let report = report_of(&run)?;
    crate::check::print_summary(&report, None);
    Ok(EXIT_PASS)
}

pub fn report(global: &Global, args: &ReportArgs) -> Result<u8> {
    let run = load_run(global, &args.id)?;
    let report = report_of(&run)?;
    let text = match args.format.as_str() {
        "json" => shadowgate_report::to_json(&report),
        "junit" => shadowgate_report::to_junit(&report),
        _ => shadowgate_report::to_html(&report),
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(EXIT_PASS)
}
