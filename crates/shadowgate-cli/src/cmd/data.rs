//! `shadowgate data generate`: the manifest's `[data]` into PostgreSQL (COPY) or SQLite.
//! `shadowgate data derive`: a `[[data.tables]]` entry from a CSV sample of production rows,
//! with differentially private distributions.

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
    /// Derive a [[data.tables]] entry from a CSV sample (header row first) with noisy
    /// histograms and frequencies (Laplace mechanism); prints TOML to paste into [data].
    Derive(DeriveArgs),
}

#[derive(Debug, Args)]
pub struct DeriveArgs {
    /// The sample: CSV with a header row.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// The table's name in [data].
    #[arg(long)]
    pub table: String,
    /// Rows to generate: a number, or `predicted` (from the predicted conditions).
    #[arg(long, default_value = "predicted")]
    pub rows: String,
    /// A numeric column with its public range and bins: COLUMN=LO:HI[:BINS] (default 20 bins).
    /// Other columns are categorical. The range must not come from the sample.
    #[arg(long, value_name = "COLUMN=LO:HI[:BINS]")]
    pub numeric: Vec<String>,
    /// Columns whose raw values must never appear in generated data (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', value_name = "COLUMN")]
    pub sensitive: Vec<String>,
    /// Privacy budget per column (smaller: more private, noisier).
    #[arg(long, default_value_t = 1.0)]
    pub epsilon: f64,
    /// For categorical columns: the probability that a category held by one record is released.
    #[arg(long, default_value_t = 1e-6)]
    pub delta: f64,
    /// Write the TOML here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
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
        DataCommand::Derive(args) => derive(args),
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

fn derive(args: &DeriveArgs) -> Result<u8> {
    use shadowgate_data::derive::{Privacy, TableSpec, table_from_csv};
    let text = std::fs::read_to_string(&args.input)
        .with_context(|| format!("cannot read the sample {}", args.input.display()))?;
    let rows = match args.rows.as_str() {
        "predicted" => shadowgate_data::Rows::Predicted,
        n => shadowgate_data::Rows::Count(n.parse().map_err(|_| {
            anyhow::anyhow!("--rows {n}: give a whole number of rows or `predicted`")
        })?),
    };
    let mut numeric = std::collections::HashMap::new();
    for spec in &args.numeric {
        let bad = || {
            anyhow::anyhow!(
                "--numeric {spec}: expected COLUMN=LO:HI or COLUMN=LO:HI:BINS, e.g. salary=0:200000:50"
            )
        };
        let (column, range) = spec.split_once('=').ok_or_else(bad)?;
        let parts: Vec<&str> = range.split(':').collect();
        let (lo, hi, bins) = match parts.as_slice() {
            [lo, hi] => (lo.parse().map_err(|_| bad())?, hi.parse().map_err(|_| bad())?, 20),
            [lo, hi, bins] => (
                lo.parse().map_err(|_| bad())?,
                hi.parse().map_err(|_| bad())?,
                bins.parse().map_err(|_| bad())?,
            ),
            _ => return Err(bad()),
        };
        numeric.insert(column.to_string(), (lo, hi, bins));
    }
    let spec = TableSpec {
        table: args.table.clone(),
        rows,
        numeric,
        sensitive: args.sensitive.iter().cloned().collect(),
        // The noise seed is secret and fresh: whoever knew it could subtract the noise.
        privacy: Privacy {
            epsilon: args.epsilon,
            delta: args.delta,
            noise_seed: crate::context::entropy(),
        },
    };
    let derived = table_from_csv(&text, &spec)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.input.display()))?;
    for note in &derived.notes {
        eprintln!("{} {note}", output::yellow("note:"));
    }
    let table = derived.table;
    let problems = shadowgate_data::validate(&shadowgate_data::DataConfig {
        seed: None,
        tables: vec![table.clone()],
    });
    if let Some(p) = problems.first() {
        bail!("the derived table is not valid: data.{}: {} ({})", p.path, p.message, p.help);
    }
    let toml = format!(
        "# Derived from {} with epsilon = {} per column ({} columns).\n{}",
        args.input.display(),
        args.epsilon,
        table.columns.len(),
        shadowgate_data::render::table_toml(&table)
    );
    match &args.out {
        Some(path) => std::fs::write(path, toml)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{toml}"),
    }
    Ok(EXIT_PASS)
}
