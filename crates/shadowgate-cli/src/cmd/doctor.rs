//! `shadowgate doctor`: which isolation features work here.

use anyhow::Result;
use serde_json::json;
use shadowgate_sandbox::doctor;

use crate::{EXIT_ERROR, EXIT_PASS, cli::JsonArgs, output};

pub fn run(args: &JsonArgs) -> Result<u8> {
    let checks = doctor::run();
    let ok = doctor::all_required_ok(&checks);
    if args.json {
        let list: Vec<_> = checks
            .iter()
            .map(|c| json!({"name": c.name, "ok": c.ok, "required": c.required, "detail": c.detail, "fix": c.fix}))
            .collect();
        output::json(&json!({"ready": ok, "checks": list}));
    } else {
        for c in &checks {
            let mark = if c.ok {
                output::green("ok  ")
            } else if c.required {
                output::red("MISSING")
            } else {
                output::yellow("missing")
            };
            println!("{mark} {:<18} {}", c.name, c.detail);
            if let (false, Some(fix)) = (c.ok, &c.fix) {
                println!("        {} {fix}", output::dim("fix:"));
            }
        }
        if ok {
            println!("\n{}", output::green("This machine can run isolated environments."));
        } else {
            println!(
                "\n{}",
                output::red(
                    "Some required features are missing: environments will not start unless you pass --allow-degraded."
                )
            );
        }
    }
    Ok(if ok { EXIT_PASS } else { EXIT_ERROR })
}
