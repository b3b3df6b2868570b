//! `shadowgate data generate`: the manifest's `[data]` into PostgreSQL (COPY) or SQLite.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use shadowgate_data::load::{Format, LoadOptions, load_url};
use shadowgate_data::{Plan, RowOverrides};

use crate::{
    EXIT_PASS,
    cli::ManifestArg,
    cmd::analytics::{latest_conditions_path, read_conditions},
    context::load_manifest,
    output,
};

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Generate the manifest's [data] tables into a database, parents before children.
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub manifest: ManifestArg,
    /// Where to load: postgres://USER@HOST:PORT/DB (or ?host=/socket/dir) or sqlite:FILE.
    #[arg(long, value_name = "URL")]
    pub into: String,
    /// The data seed (default: [data].seed, else 1). The same seed gives the same rows.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Row counts for rows = "predicted": a predicted-conditions file, or `predicted` for the
    /// application's latest prediction. Its data volumes replace the manifest's counts.
    #[arg(long, value_name = "FILE|predicted")]
    pub conditions: Option<String>,
    /// COPY encoding for PostgreSQL.
    #[arg(long, value_enum, default_value = "text")]
    pub format: FormatArg,
    /// Empty each table before loading it.
    #[arg(long)]
    pub truncate: bool,
    /// Do not create missing tables (they must exist with matching columns).
    #[arg(long)]
    pub no_create: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Text,
    Binary,
}

pub fn run(cmd: &DataCommand) -> Result<u8> {
    match cmd {
        DataCommand::Generate(args) => generate(args),
    }
}

fn generate(args: &GenerateArgs) -> Result<u8> {
    let loaded = load_manifest(&args.manifest.manifest)?;
    let Some(data) = &loaded.manifest.data else {
        bail!(
            "{} has no [data] section; add [[data.tables]] with columns (see the manifest reference in README.md)",
            loaded.path.display()
        );
    };
    let mut overrides = RowOverrides::new();
    if let Some(spec) = &args.conditions {
        let app = &loaded.manifest.app.name;
        let path =
            if spec == "predicted" { latest_conditions_path(app) } else { PathBuf::from(spec) };
        let document = read_conditions(&path).with_context(|| format!("--conditions {spec}"))?;
        for v in &document.data_volume {
            overrides.insert(v.table.clone(), v.rows.max(0.0).round() as u64);
        }
    }
    let seed = args.seed.or(data.seed).unwrap_or(1);
    let plan = Plan::new(data, seed, &overrides).map_err(|e| anyhow::anyhow!("{e}"))?;
    let opts = LoadOptions {
        format: match args.format {
            FormatArg::Text => Format::Text,
            FormatArg::Binary => Format::Binary,
        },
        create_tables: !args.no_create,
        truncate: args.truncate,
        ..LoadOptions::default()
    };
    let report = load_url(&args.into, &plan, &opts).map_err(|e| anyhow::anyhow!("{e}"))?;
    if args.json {
        output::json(&json!({
            "seed": seed,
            "rows": report.rows,
            "seconds": report.elapsed.as_secs_f64(),
            "rows_per_second": report.rows_per_second(),
            "tables": report.tables.iter().map(|(t, n)| json!({"table": t, "rows": n})).collect::<Vec<_>>(),
        }));
    } else {
        for (t, n) in &report.tables {
            println!("{t}: {n} rows");
        }
        println!(
            "{} {} rows in {:.2} s ({:.0} rows/s), seed {seed}",
            output::green("loaded"),
            report.rows,
            report.elapsed.as_secs_f64(),
            report.rows_per_second()
        );
    }
    Ok(EXIT_PASS)
}
