//! `shadowgate demo`: the whole loop on the bundled example application.
//!
//! Two checks of the example inventory service: v1 against itself (an A/A check, which must
//! pass: it shows that the judge does not cry wolf) and v1 against v2 (which carries real
//! regressions that only show under production's conditions — its data volume, its database
//! link's latency and a latency spike — and must fail). The example runs on PostgreSQL, a
//! server per environment; `--sqlite` runs the lighter variant without one.

use std::{path::PathBuf, time::Instant};

use anyhow::{Result, bail};
use serde_json::json;
use shadowgate_judge::verdict::{Decision, Outcome};
use shadowgate_report::CheckReport;

use crate::{
    EXIT_FAIL, EXIT_PASS,
    cli::{CheckArgs, DemoArgs, Global, JsonArgs, ManifestArg},
    context, output,
};

/// Where the example lives in the source tree this binary was built from.
fn example_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/inventory"))
}

pub fn run(global: &Global, args: &DemoArgs) -> Result<u8> {
    let started = Instant::now();
    let manifest = example_dir().join(if args.sqlite {
        "shadowgate.toml"
    } else {
        "shadowgate.postgres.toml"
    });
    if !manifest.exists() {
        bail!(
            "the demo needs the example application from shadowgate's source tree ({} is missing); \
             run it from a clone with `cargo xtask demo`",
            manifest.display()
        );
    }
    if !args.sqlite && shadowgate_sandbox::deps::postgres_bin_dir().is_none() {
        bail!(
            "the demo runs the example on PostgreSQL, and no PostgreSQL server was found \
             (/usr/lib/postgresql/*/bin/postgres); install it (apt-get install postgresql, or \
             `cargo xtask deps`), or run the SQLite variant with `shadowgate demo --sqlite`"
        );
    }
    let stamp = context::now_ms();
    let out =
        args.out.clone().unwrap_or_else(|| context::home().join("demo").join(stamp.to_string()));
    let quiet = args.out_format.json || output::quiet();
    let say = |text: &str| {
        if !quiet {
            eprintln!("\n{}", output::bold(text));
        }
    };
    let check =
        |baseline: &str, candidate: &str, dir: &str, no_build: bool| -> Result<(CheckReport, u8)> {
            crate::check::execute(
                global,
                &CheckArgs {
                    manifest: ManifestArg { manifest: manifest.clone() },
                    baseline: baseline.into(),
                    candidate: candidate.into(),
                    duration: args.duration.clone(),
                    warmup: None,
                    rate: None,
                    seed: None,
                    conditions: None,
                    out: Some(out.join(dir)),
                    marginal: None,
                    sample_interval: "1s".into(),
                    no_build,
                    allow_degraded: false,
                    all_tests: false,
                    out_format: JsonArgs { json: false },
                    silent: args.out_format.json,
                },
            )
        };

    say("1/2  A/A check: v1 against itself (must pass)");
    let (aa, _) = check("v1", "v1", "v1-vs-v1", args.no_build)?;
    say("2/2  v1 against v2 (must fail)");
    // Builds again unless --no-build: v2 has not been built yet, and v1's build is a no-op.
    let (ab, _) = check("v1", "v2", "v1-vs-v2", args.no_build)?;

    let aa_ok = aa.verdict.decision == Decision::Pass;
    let ab_ok = ab.verdict.decision == Decision::Fail;
    let regressed: Vec<_> =
        ab.verdict.metrics.iter().filter(|m| m.outcome == Outcome::Fail).collect();
    let wall = started.elapsed().as_secs_f64();
    if args.out_format.json {
        output::json(&json!({
            "aa": {"run_id": aa.run_id, "decision": aa.verdict.decision, "expected": "pass", "as_expected": aa_ok},
            "ab": {"run_id": ab.run_id, "decision": ab.verdict.decision, "expected": "fail", "as_expected": ab_ok,
                   "regressed": regressed.iter().map(|m| json!({"metric": m.name, "why": m.explanation})).collect::<Vec<_>>()},
            "reports": out.display().to_string(),
            "wall_seconds": wall,
        }));
    } else {
        println!("\n{}", output::bold("demo summary"));
        let mark = |ok: bool| {
            if ok { output::green("as expected") } else { output::red("NOT as expected") }
        };
        println!("  v1 vs v1: {:?} ({})", aa.verdict.decision, mark(aa_ok));
        println!("  v1 vs v2: {:?} ({})", ab.verdict.decision, mark(ab_ok));
        if !regressed.is_empty() {
            println!("  v2 regressed:");
            for m in &regressed {
                println!("    - {}: {}", m.name, m.explanation);
            }
        }
        println!("  reports: {}", out.display());
        println!("    {}", out.join("v1-vs-v1/report.html").display());
        println!("    {}", out.join("v1-vs-v2/report.html").display());
        println!("  total wall time: {wall:.1} s");
    }
    Ok(if aa_ok && ab_ok { EXIT_PASS } else { EXIT_FAIL })
}
