//! Distributions derived from production samples: noise of the right scale, shapes kept,
//! and no raw value of a sensitive column in the generated data.

use std::collections::HashMap;

use shadowgate_data::derive::{DeriveError, Privacy, categorical, laplace, numeric};
use shadowgate_data::encode::TextCopy;
use shadowgate_data::{ColumnConfig, DataConfig, GenKind, Plan, Rows, TableConfig};

/// A deterministic "production" sample.
struct Production {
    emails: Vec<String>,
    salaries: Vec<f64>,
    countries: Vec<String>,
}

fn production() -> Production {
    let mut s = 0x1234_5678_u64;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let n = 5000;
    let mut emails = Vec::new();
    let mut salaries = Vec::new();
    let mut countries = Vec::new();
    for i in 0..n {
        // A few heavy users and many one-off addresses.
        let who = if next() < 0.3 { i % 5 } else { i };
        emails.push(format!("person{who}.x@corp.example"));
        // Sum of uniforms: roughly normal around 60,000, with four decimals.
        let v: f64 = (0..6).map(|_| next()).sum::<f64>() / 6.0;
        salaries.push(((30_000.0 + 60_000.0 * v) * 10_000.0).round() / 10_000.0);
        let c = next();
        countries.push(
            if c < 0.5 {
                "DE"
            } else if c < 0.8 {
                "FR"
            } else {
                "US"
            }
            .to_string(),
        );
    }
    Production { emails, salaries, countries }
}

fn generate(columns: Vec<ColumnConfig>, rows: u64, seed: u64) -> String {
    let id = ColumnConfig {
        name: "id".into(),
        generator: Some(GenKind::Sequence),
        ..ColumnConfig::default()
    };
    let cfg = DataConfig {
        seed: None,
        tables: vec![TableConfig {
            name: "people".into(),
            rows: Rows::Count(rows),
            columns: [vec![id], columns].concat(),
        }],
    };
    let problems = shadowgate_data::validate(&cfg);
    assert!(problems.is_empty(), "{problems:?}");
    let plan = Plan::new(&cfg, seed, &HashMap::new()).unwrap();
    let mut out = Vec::new();
    plan.tables[0].write_rows(0..rows, &mut TextCopy::new(&mut out));
    String::from_utf8(out).unwrap()
}

#[test]
fn sensitive_columns_never_carry_a_raw_value() {
    let p = production();
    let privacy = Privacy { epsilon: 1.0, delta: 1e-6, noise_seed: 99 };
    let email = categorical("email", &p.emails, None, true, &privacy).unwrap();
    let salary = numeric("salary", &p.salaries, (0.0, 200_000.0), 50, true, &privacy).unwrap();
    let country = categorical("country", &p.countries, None, false, &privacy).unwrap();
    // The heavy users survive the threshold (as pseudonyms), the one-off addresses do not.
    let values = email.values.clone().unwrap();
    assert!((5..=10).contains(&values.len()), "{values:?}");
    assert!(values.iter().all(|v| v.starts_with("email_")), "{values:?}");
    let out = generate(vec![email, salary, country], 50_000, 3);
    assert!(out.len() > 1_000_000);
    // grep: no field of the output is a raw value, and no raw address appears inside any field
    // (every raw address ends in the same domain).
    let cells: std::collections::HashSet<&str> = out.lines().flat_map(|l| l.split('\t')).collect();
    assert!(!out.contains("@corp.example"), "a raw email is in the output");
    for raw in &p.emails {
        assert!(!cells.contains(raw.as_str()), "raw email {raw} in the output");
    }
    for raw in &p.salaries {
        let text = raw.to_string();
        assert!(!cells.contains(text.as_str()), "raw salary {text} in the output");
    }
    assert!(cells.len() > 50_000, "{}", cells.len());
    // The control: the same column not marked sensitive does carry the frequent raw addresses,
    // so the checks above can fail.
    let open = categorical("email", &p.emails, None, false, &privacy).unwrap();
    assert!(generate(vec![open], 1000, 3).contains("person0.x@corp.example"));
    // Not sensitive: the real categories, with shares close to the sample's.
    let rows: Vec<&str> = out.lines().collect();
    let share = |v: &str| {
        rows.iter().filter(|r| r.ends_with(&format!("\t{v}"))).count() as f64 / rows.len() as f64
    };
    for (v, want) in [("DE", 0.5), ("FR", 0.3), ("US", 0.2)] {
        assert!((share(v) - want).abs() < 0.03, "{v}: {}", share(v));
    }
    // The salary histogram keeps the centre and the spread.
    let salaries: Vec<f64> =
        rows.iter().map(|r| r.split('\t').nth(2).unwrap().parse().unwrap()).collect();
    let mean = salaries.iter().sum::<f64>() / salaries.len() as f64;
    let sample_mean = p.salaries.iter().sum::<f64>() / p.salaries.len() as f64;
    assert!((mean - sample_mean).abs() < 1_500.0, "{mean} vs {sample_mean}");
    assert!(salaries.iter().all(|s| (0.0..=200_000.0).contains(s)));
}

#[test]
fn laplace_noise_has_the_documented_scale() {
    // E|Laplace(0, b)| = b and the median is 0.
    for (epsilon, n) in [(0.5, 200_000u64), (2.0, 200_000)] {
        let b = 1.0 / epsilon;
        let draws: Vec<f64> = (0..n).map(|i| laplace(17, i, b)).collect();
        let mean_abs = draws.iter().map(|x| x.abs()).sum::<f64>() / n as f64;
        assert!((mean_abs - b).abs() < 0.02 * b, "eps {epsilon}: {mean_abs}");
        let positive = draws.iter().filter(|x| **x > 0.0).count() as f64 / n as f64;
        assert!((positive - 0.5).abs() < 0.01, "{positive}");
        // P(|X| > 3b) = exp(-3)
        let tail = draws.iter().filter(|x| x.abs() > 3.0 * b).count() as f64 / n as f64;
        assert!((tail - (-3.0f64).exp()).abs() < 0.005, "{tail}");
    }
}

#[test]
fn smaller_epsilon_means_more_noise_in_the_counts() {
    let sample: Vec<f64> = (0..1000).map(|i| (i % 10) as f64 + 0.5).collect(); // 100 per bin
    let error = |epsilon: f64| {
        (0..50u64)
            .map(|seed| {
                let p = Privacy { epsilon, delta: 1e-6, noise_seed: seed };
                let c = numeric("x", &sample, (0.0, 10.0), 10, false, &p).unwrap();
                c.weights.unwrap().iter().map(|w| (w - 100.0).abs()).sum::<f64>() / 10.0
            })
            .sum::<f64>()
            / 50.0
    };
    let (loose, tight) = (error(10.0), error(0.1));
    assert!(loose < 0.2, "{loose}");
    assert!((tight - 10.0).abs() < 1.5, "{tight}");
}

#[test]
fn a_public_domain_keeps_its_categories_and_drops_others() {
    let sample = ["a", "a", "b", "zzz-secret"];
    let domain = vec!["a".to_string(), "b".to_string(), "c".to_string()];
    let p = Privacy { epsilon: 1000.0, ..Privacy::default() };
    let c = categorical("k", &sample, Some(&domain), false, &p).unwrap();
    assert_eq!(c.values.unwrap(), ["a", "b"]);
}

#[test]
fn bad_parameters_are_errors_naming_the_column() {
    let p = Privacy { epsilon: 0.0, ..Privacy::default() };
    let err = numeric("age", &[1.0], (0.0, 100.0), 10, false, &p).unwrap_err();
    assert_eq!(err, DeriveError::Epsilon { column: "age".into(), epsilon: 0.0 });
    assert!(err.to_string().contains("give a privacy budget above 0"));
    let p = Privacy::default();
    assert!(matches!(
        numeric("age", &[1.0], (5.0, 5.0), 10, false, &p),
        Err(DeriveError::Bounds { .. })
    ));
    assert!(matches!(
        numeric("age", &[1.0, f64::NAN], (0.0, 9.0), 10, false, &p),
        Err(DeriveError::NotFinite { index: 1, .. })
    ));
    assert!(matches!(
        numeric("age", &[1.0], (0.0, 9.0), 0, false, &p),
        Err(DeriveError::Bins { .. })
    ));
    let p = Privacy { delta: 0.0, ..Privacy::default() };
    assert!(matches!(categorical("c", &["x"], None, false, &p), Err(DeriveError::Delta { .. })));
}

#[derive(serde::Deserialize)]
struct Wrapper {
    data: DataConfig,
}

#[test]
fn a_csv_sample_becomes_a_manifest_table_without_raw_sensitive_values() {
    let p = production();
    let mut csv = String::from("email,salary,country,note\n");
    for i in 0..p.emails.len() {
        csv.push_str(&format!(
            "{},{},{},\"said \"\"hi\"\", then, left\"\n",
            p.emails[i], p.salaries[i], p.countries[i]
        ));
    }
    let spec = shadowgate_data::derive::TableSpec {
        table: "people".into(),
        rows: Rows::Count(20_000),
        numeric: HashMap::from([("salary".to_string(), (0.0, 200_000.0, 40))]),
        sensitive: ["email".to_string(), "salary".to_string()].into(),
        privacy: Privacy { epsilon: 0.5, delta: 1e-6, noise_seed: 5 },
    };
    let derived = shadowgate_data::derive::table_from_csv(&csv, &spec).unwrap();
    assert!(derived.notes.is_empty(), "{:?}", derived.notes);
    let table = derived.table;
    let toml_text = shadowgate_data::render::table_toml(&table);
    assert!(!toml_text.contains("@corp.example"), "{toml_text}");
    // The rendering reads back as the same table.
    let back: Wrapper = toml::from_str(&toml_text).unwrap();
    assert_eq!(back.data.tables[0], table);
    assert!(shadowgate_data::validate(&back.data).is_empty());
    let note = table.columns.iter().find(|c| c.name == "note").unwrap();
    assert_eq!(note.values.as_deref().unwrap(), ["said \"hi\", then, left"]);

    let plan = Plan::new(&back.data, 1, &HashMap::new()).unwrap();
    let mut out = Vec::new();
    plan.tables[0].write_rows(0..20_000, &mut TextCopy::new(&mut out));
    let out = String::from_utf8(out).unwrap();
    let cells: std::collections::HashSet<&str> = out.lines().flat_map(|l| l.split('\t')).collect();
    assert!(!out.contains("@corp.example"));
    assert!(p.salaries.iter().all(|s| !cells.contains(s.to_string().as_str())));
}

#[test]
fn csv_problems_name_the_line_and_column() {
    use shadowgate_data::derive::{SampleError, table_from_csv};
    let spec = |numeric: &[(&str, (f64, f64, usize))]| shadowgate_data::derive::TableSpec {
        table: "t".into(),
        rows: Rows::Count(1),
        numeric: numeric.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        sensitive: Default::default(),
        privacy: Privacy::default(),
    };
    let err = table_from_csv("a,b\n1,2\n3\n", &spec(&[])).unwrap_err();
    assert_eq!(err, SampleError::Csv { line: 3, problem: "1 fields, but the header has 2".into() });
    let err = table_from_csv("a,b\n1,2\nx,4\n", &spec(&[("a", (0.0, 9.0, 3))])).unwrap_err();
    assert!(err.to_string().contains("sample line 3, column `a`: `x` is not a number"), "{err}");
    let err = table_from_csv("a\n\"open\n", &spec(&[])).unwrap_err();
    assert!(err.to_string().contains("not closed"), "{err}");
    let err = table_from_csv("a\n1\n", &spec(&[("z", (0.0, 1.0, 1))])).unwrap_err();
    assert_eq!(err, SampleError::UnknownColumn("z".into()));
    assert_eq!(table_from_csv("", &spec(&[])).unwrap_err(), SampleError::NoHeader);
    // Too few records for any category to pass the threshold: a placeholder and a note.
    let derived = table_from_csv("plan\nfree\npro\nfree\n", &spec(&[])).unwrap();
    assert_eq!(derived.table.columns[0].values.as_deref().unwrap(), ["plan_0"]);
    let note = &derived.notes[0];
    assert!(note.contains("column `plan`: no category reached the release threshold"), "{note}");
}
