//! Rows per second into PostgreSQL: shadowgate's COPY loader (text and binary) against
//! `psql \copy` of the same rows pre-generated into files, on the same throw-away server.
//!
//! `cargo bench -p shadowgate-data --bench pg_load` (ORDERS=N changes the size).

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use shadowgate_data::encode::TextCopy;
use shadowgate_data::load::{Format, LoadOptions, load_postgres_url};
use support::{TempPg, shop_plan};

const ROUNDS: usize = 3;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn fresh_db(pg: &TempPg, name: &str) -> String {
    pg.client("postgres").query(&format!("DROP DATABASE IF EXISTS \"{name}\"")).unwrap();
    pg.create_db(name)
}

fn main() {
    let orders: u64 = std::env::var("ORDERS").ok().and_then(|v| v.parse().ok()).unwrap_or(978_000);
    let plan = shop_plan(42, orders);
    let rows = plan.total_rows();
    let tables: Vec<String> =
        plan.tables.iter().map(|t| format!("{} {}", t.name, t.rows)).collect();
    println!("schema: {} ({rows} rows)", tables.join(", "));

    // Generation alone, into memory.
    let start = Instant::now();
    let mut bytes = 0;
    let mut buf = Vec::with_capacity(1 << 20);
    for t in &plan.tables {
        let mut row = 0;
        while row < t.rows {
            let end = (row + 8192).min(t.rows);
            buf.clear();
            t.write_rows(row..end, &mut TextCopy::new(&mut buf));
            bytes += buf.len();
            row = end;
        }
    }
    let generated = start.elapsed();
    println!(
        "generate (text, in memory): {:.0} rows/s, {:.1} MB",
        rows as f64 / generated.as_secs_f64(),
        bytes as f64 / 1e6
    );

    let pg = TempPg::start();
    let dir = tempfile::tempdir().unwrap();
    // The reference's input: the same rows as COPY text files, and one psql script.
    let mut script = String::from("\\set ON_ERROR_STOP on\nBEGIN;\n");
    for t in &plan.tables {
        let path = dir.path().join(format!("{}.copy", t.name));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut row = 0;
        while row < t.rows {
            let end = (row + 8192).min(t.rows);
            buf.clear();
            t.write_rows(row..end, &mut TextCopy::new(&mut buf));
            f.write_all(&buf).unwrap();
            row = end;
        }
        f.flush().unwrap();
        script.push_str(&format!(
            "{};\n\\copy \"{}\" ({}) from '{}'\n",
            t.create_sql(),
            t.name,
            t.column_list(),
            path.display()
        ));
    }
    script.push_str("COMMIT;\n");
    let script_path = dir.path().join("load.sql");
    std::fs::write(&script_path, script).unwrap();
    let psql = pg.bin.join("psql");

    let (mut text, mut binary, mut reference) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let url = fresh_db(&pg, "bench");
        let r = load_postgres_url(&url, &plan, &LoadOptions::default()).unwrap();
        assert_eq!(r.rows, rows);
        text.push(r.elapsed);

        let url = fresh_db(&pg, "bench");
        let r = load_postgres_url(
            &url,
            &plan,
            &LoadOptions { format: Format::Binary, ..LoadOptions::default() },
        )
        .unwrap();
        binary.push(r.elapsed);

        fresh_db(&pg, "bench");
        let start = Instant::now();
        let out = Command::new(&psql)
            .args([
                "-X",
                "-q",
                "-h",
                pg.socket_dir().to_str().unwrap(),
                "-p",
                &pg.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "bench",
                "-f",
            ])
            .arg(&script_path)
            .output()
            .expect("run psql");
        let took = start.elapsed();
        assert!(out.status.success(), "psql failed: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(pg.scalar("bench", "SELECT count(*) FROM orders"), orders.to_string());
        reference.push(took);
        println!(
            "round {}: shadowgate text {:.2} s, binary {:.2} s, psql \\copy {:.2} s",
            round + 1,
            text[round].as_secs_f64(),
            binary[round].as_secs_f64(),
            took.as_secs_f64()
        );
    }
    let rate = |d: Duration| rows as f64 / d.as_secs_f64();
    let (t, b, r) = (median(text), median(binary), median(reference));
    println!("median of {ROUNDS} rounds, {rows} rows:");
    println!(
        "  shadowgate COPY text   {:>10.0} rows/s  ({:.2}x psql \\copy)",
        rate(t),
        r.as_secs_f64() / t.as_secs_f64()
    );
    println!(
        "  shadowgate COPY binary {:>10.0} rows/s  ({:.2}x psql \\copy)",
        rate(b),
        r.as_secs_f64() / b.as_secs_f64()
    );
    println!("  psql \\copy (reference) {:>10.0} rows/s  (rows pre-generated into files)", rate(r));
}
