//! `shadowgate load`: the load generator on its own.

use std::{net::ToSocketAddrs, time::Duration};

use anyhow::{Context, Result, bail};
use serde_json::json;
use shadowgate_core::traffic::{Phase, Plan, Protocol, Traffic};
use shadowgate_load::{LoadConfig, MaxRateConfig, Target};

use crate::{EXIT_PASS, cli::LoadArgs, context, output};

pub fn run(args: &LoadArgs) -> Result<u8> {
    let (host, port, base_path) = parse_url(&args.url)?;
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("resolve {host}"))?
        .next()
        .with_context(|| format!("{host} has no address"))?;
    let mut traffic = match &args.manifest {
        Some(path) => context::load_manifest(path)?.manifest.traffic.unwrap_or_default(),
        None => Traffic::default(),
    };
    if !base_path.is_empty() && base_path != "/" {
        for r in &mut traffic.requests {
            r.path = format!("{}{}", base_path.trim_end_matches('/'), r.path);
        }
    }
    if let Some(r) = args.rate {
        traffic.rate = r;
    }
    if let Some(d) = &args.duration {
        traffic.duration = d.parse().map_err(|e| anyhow::anyhow!("--duration: {e}"))?;
    }
    if let Some(w) = &args.warmup {
        traffic.warmup = w.parse().map_err(|e| anyhow::anyhow!("--warmup: {e}"))?;
    }
    if let Some(c) = args.connections {
        traffic.max_connections = c;
    }
    if args.http2 {
        traffic.protocol = Protocol::Http2;
    }
    let seed = args.seed.unwrap_or(traffic.seed);
    let plan = Plan::new(&traffic, seed).map_err(|e| anyhow::anyhow!("[traffic]: {e}"))?;
    let target = Target::new(args.url.clone(), addr).with_host(format!("{host}:{port}"));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let cancel = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if args.max_rate {
        let config = MaxRateConfig {
            connections: traffic.max_connections,
            threads: args.threads.max(1),
            duration: traffic.duration.0,
            timeout: traffic.timeout.0,
            protocol: traffic.protocol,
        };
        let spinner =
            output::spinner(&format!("max rate against {} for {}", args.url, traffic.duration));
        let report =
            runtime.block_on(shadowgate_load::run_max_rate(&plan, &target, &config, cancel))?;
        spinner.finish_and_clear();
        let s = report.summary();
        if args.out.json {
            output::json(&serde_json::to_value(&s)?);
        } else {
            println!(
                "{:.0} responses/s over {:.1} s with {} connections",
                s.rate, s.seconds, s.connections
            );
            println!(
                "service time p50 {} p99 {} max {} (closed loop: not user-perceived latency)",
                us(s.service_time_us.p50),
                us(s.service_time_us.p99),
                us(s.service_time_us.max)
            );
            println!("errors: {}", s.errors.total());
        }
        return Ok(EXIT_PASS);
    }
    let bar = output::spinner(&format!("{} requests to {}", plan.expected_requests(), args.url));
    let report = runtime.block_on(shadowgate_load::run_open_model(
        &plan,
        std::slice::from_ref(&target),
        &LoadConfig::from_traffic(&traffic),
        |p| {
            bar.set_message(format!(
                "{:.0} s, {} sent, {} failed",
                p.elapsed.as_secs_f64(),
                p.issued,
                p.failed
            ))
        },
        cancel,
    ))?;
    bar.finish_and_clear();
    let s = report.targets[0].summary(Phase::Measured);
    if args.out.json {
        output::json(
            &json!({"measured": s, "warmup": report.targets[0].summary(Phase::Warmup), "cancelled": report.cancelled}),
        );
        return Ok(EXIT_PASS);
    }
    if report.cancelled {
        eprintln!("{}", output::yellow("cancelled: the figures cover only what was sent"));
    }
    println!(
        "{} requests, {} responses, {:.1}/s achieved (asked {}/s) over {:.1} s after a {} warm-up",
        s.requests, s.responses, s.achieved_rate, traffic.rate, s.seconds, traffic.warmup
    );
    let p = &s.latency_us;
    output::table(
        &["LATENCY", "p50", "p90", "p99", "p99.9", "max"],
        &[vec![
            "from intended send".into(),
            us(p.p50),
            us(p.p90),
            us(p.p99),
            us(p.p999),
            us(p.max),
        ]],
    );
    if s.errors.total() > 0 {
        println!("errors: {}", serde_json::to_string(&s.errors)?);
        for (kind, example) in &s.error_examples {
            println!("  {}: {example}", kind.as_str());
        }
    }
    Ok(EXIT_PASS)
}

fn us(v: u64) -> String {
    let d = Duration::from_micros(v);
    if v >= 1_000_000 {
        format!("{:.2} s", d.as_secs_f64())
    } else if v >= 1000 {
        format!("{:.2} ms", v as f64 / 1000.0)
    } else {
        format!("{v} µs")
    }
}

/// Splits `http://host:port/path` into its parts (plain HTTP only).
fn parse_url(url: &str) -> Result<(String, u16, String)> {
    let Some(rest) = url.strip_prefix("http://") else {
        if url.starts_with("https://") {
            bail!(
                "`{url}`: TLS is not supported by the load generator; target the plain HTTP port"
            );
        }
        bail!("`{url}` is not an http:// URL (e.g. http://127.0.0.1:8080)");
    };
    let (authority, path) =
        rest.split_once('/').map(|(a, p)| (a, format!("/{p}"))).unwrap_or((rest, String::new()));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h.to_string(),
            p.parse::<u16>().map_err(|_| anyhow::anyhow!("`{url}`: bad port `{p}`"))?,
        ),
        None => (authority.to_string(), 80),
    };
    if host.is_empty() {
        bail!("`{url}` has no host");
    }
    Ok((host.trim_matches(['[', ']']).to_string(), port, path))
}
