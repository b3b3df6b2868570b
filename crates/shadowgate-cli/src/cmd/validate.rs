//! `shadowgate validate`: check a manifest.

use anyhow::Result;
use serde_json::json;
use shadowgate_core::manifest;

use crate::{EXIT_ERROR, EXIT_PASS, cli::ValidateArgs, output};

pub fn run(args: &ValidateArgs) -> Result<u8> {
    let path = &args.manifest.manifest;
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            anyhow::bail!("cannot read the manifest {}: {e} (pass --manifest PATH)", path.display())
        }
    };
    match manifest::parse(&text, &path.display().to_string()) {
        Ok(m) => {
            if args.out.json {
                output::json(&json!({
                    "valid": true,
                    "file": path.display().to_string(),
                    "app": m.app.name,
                    "releases": m.releases.keys().collect::<Vec<_>>(),
                    "errors": [],
                }));
            } else {
                println!(
                    "{} {} is valid: application `{}`, releases {}",
                    output::green("ok"),
                    path.display(),
                    m.app.name,
                    m.releases.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                );
            }
            Ok(EXIT_PASS)
        }
        Err(errors) => {
            if args.out.json {
                let list: Vec<_> = errors
                    .0
                    .iter()
                    .map(|e| json!({"file": e.file, "line": e.line, "column": e.column, "key": e.key, "message": e.message, "help": e.help}))
                    .collect();
                output::json(
                    &json!({"valid": false, "file": path.display().to_string(), "errors": list}),
                );
            } else {
                for e in &errors.0 {
                    eprintln!("{} {e}", output::red("error:"));
                }
                eprintln!("{} problem(s) in {}", errors.0.len(), path.display());
            }
            Ok(EXIT_ERROR)
        }
    }
}
