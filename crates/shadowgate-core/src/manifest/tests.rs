//! Manifest tests: a good manifest, and golden files of bad manifests with their messages.
//!
//! Each `test_data/manifests/bad/NAME.toml` is parsed and its error output compared with
//! `NAME.err`. Run with `UPDATE_GOLDEN=1` to rewrite the `.err` files after a deliberate change.

use std::{fs, path::Path};

use super::*;

const GOOD: &str = r#"
[app]
name = "inventory"

[releases.v1]
path = "dist/v1"
build = "./build.sh v1"

[releases.v2]
path = "dist/v2"

[[install]]
name = "migrate"
command = "{release_dir}/inventory migrate --data {data_dir}"

[run]
command = "{release_dir}/inventory serve --listen 127.0.0.1:{port} --data {data_dir}"
env = { RUST_LOG = "warn", DATA = "{data_dir}" }

[run.health]
http = "/healthz"
timeout = "20s"

[resources]
cpu = 0.5
memory = "256MiB"
pids = 128
disk = "64MiB"
io_write_bps = "50MiB"

[labels]
team = "shop"
"#;

#[test]
fn good_manifest_parses_with_defaults() {
    let m = parse(GOOD, "shadowgate.toml").unwrap();
    assert_eq!(m.app.name, "inventory");
    assert_eq!(m.releases.len(), 2);
    assert_eq!(m.releases["v1"].build.as_deref(), Some("./build.sh v1"));
    assert_eq!(m.install[0].timeout.0.as_secs(), 600);
    assert_eq!(m.run.health.probe(), Probe::Http { path: "/healthz".into() });
    assert_eq!(m.run.health.interval.0.as_millis(), 50);
    assert_eq!(m.resources.memory.0, 256 << 20);
    assert_eq!(m.resources.io_write_bps.unwrap().0, 50 << 20);
    assert_eq!(m.run.stop_timeout.0.as_secs(), 10);
}

#[test]
fn minimal_manifest_gets_defaults() {
    let m = parse(
        "[app]\nname = \"a\"\n[releases.r]\npath = \".\"\n[run]\ncommand = \"serve {port}\"\n",
        "m.toml",
    )
    .unwrap();
    assert_eq!(m.resources, Resources::default());
    assert_eq!(m.run.health.probe(), Probe::Tcp);
}

#[test]
fn bad_manifests_match_golden_messages() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/manifests/bad");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut cases: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 8, "expected at least eight bad manifests, found {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let text = fs::read_to_string(case).unwrap();
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let actual = match parse(&text, &name) {
            Ok(_) => "(parsed without error)\n".to_string(),
            Err(e) => format!("{e}\n"),
        };
        let golden = case.with_extension("err");
        if update {
            fs::write(&golden, &actual).unwrap();
            continue;
        }
        let expected = fs::read_to_string(&golden).unwrap_or_default();
        if expected != actual {
            failures.push(format!("{name}\n--- expected\n{expected}--- actual\n{actual}"));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches (UPDATE_GOLDEN=1 to accept):\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_error_names_a_position_and_key() {
    let text = "[app]\nname = \"Bad Name\"\n[releases.v1]\npath = \"\"\n[run]\ncommand = \"x {port}\"\n[resources]\ncpu = 0\n";
    let errs = parse(text, "m.toml").unwrap_err().0;
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert_eq!((errs[0].line, errs[0].key.as_str()), (2, "app.name"));
    assert_eq!((errs[1].line, errs[1].key.as_str()), (4, "releases.v1.path"));
    assert_eq!((errs[2].line, errs[2].key.as_str()), (8, "resources.cpu"));
}

#[test]
fn data_section_is_parsed_into_the_data_model() {
    let text = "[app]\nname = \"inventory\"\n[releases.v1]\npath = \"dist/v1\"\n[run]\ncommand = \"x {port}\"\n\
                [data]\nseed = 9\n[[data.tables]]\nname = \"items\"\nrows = \"predicted\"\n\
                [[data.tables.columns]]\nname = \"id\"\ngen = \"sequence\"\n";
    let m = parse(text, "m.toml").unwrap();
    let data = m.data.expect("[data] parsed");
    assert_eq!(data.seed, Some(9));
    assert_eq!(data.tables[0].name, "items");
    assert_eq!(data.tables[0].rows, shadowgate_data::Rows::Predicted);
}

#[test]
fn conditions_section_is_parsed_and_checked_against_dependencies_and_data() {
    let text = "[app]\nname = \"inventory\"\n[releases.v1]\npath = \"dist/v1\"\n[run]\ncommand = \"x {port}\"\n\
                [dependencies.db]\nkind = \"postgres\"\n\
                [[data.tables]]\nname = \"orders\"\nrows = 10\n[[data.tables.columns]]\nname = \"id\"\ngen = \"sequence\"\n\
                [conditions]\ncpu = 0.25\nmemory = \"128MiB\"\nrate = 40\n\
                [conditions.network]\nbandwidth = \"2MiB\"\n\
                [conditions.dependencies.db]\nlatency = \"30ms\"\njitter = \"5ms\"\n\
                [conditions.rows]\norders = 5000\n";
    let m = parse(text, "m.toml").unwrap();
    let c = m.conditions.expect("[conditions] parsed");
    assert_eq!((c.cpu, c.memory.map(|b| b.0), c.rate), (Some(0.25), Some(128 << 20), Some(40.0)));
    assert_eq!(c.rows["orders"], 5000);
    let db = conditions::network_for(Some(&c), "db", None);
    assert_eq!(db.latency.unwrap().0.as_millis(), 30);
    assert_eq!(db.jitter.unwrap().0.as_millis(), 5);
    assert_eq!(db.bytes_per_second.unwrap().0, 2 << 20);
}

#[test]
fn a_per_request_judge_metric_must_name_a_traffic_request() {
    let base = "[app]\nname = \"inventory\"\n[releases.v1]\npath = \"dist/v1\"\n[run]\ncommand = \"x {port}\"\n\
                [traffic]\nrate = 10\n[[traffic.requests]]\nname = \"item\"\npath = \"/items/1\"\n\
                [[traffic.requests]]\npath = \"/healthz\"\n";
    let metric = |source: &str| {
        format!(
            "{base}[[judge.metrics]]\nname = \"m\"\nsource = \"{source}\"\ndirection = \"increase\"\n"
        )
    };
    let m = parse(&metric("request.latency.item"), "m.toml").unwrap();
    let source = &m.judge.unwrap().metrics[0].source;
    assert_eq!(source.to_string(), "request.latency.item");

    let errors = parse(&metric("request.errors.checkout"), "m.toml").unwrap_err().to_string();
    assert!(errors.contains("judge.metrics[0].source"), "{errors}");
    assert!(errors.contains("no [[traffic.requests]] entry is named `checkout`"), "{errors}");
    assert!(errors.contains("use one of the named requests: item"), "{errors}");
}
