use std::collections::HashMap;

use crate::encode::TextCopy;
use crate::*;

pub(crate) const SHOP: &str = r#"
[[tables]]
name = "orders"
rows = "predicted"

[[tables.columns]]
name = "id"
gen = "sequence"
start = 1000
step = 2

[[tables.columns]]
name = "customer_id"
gen = "foreign_key"
references = "customers.id"
s = 1.1

[[tables.columns]]
name = "placed_at"
gen = "timestamp"
from = "2026-01-01T00:00:00Z"
to = "2026-02-01T00:00:00Z"
increasing = true

[[tables.columns]]
name = "amount"
gen = "normal"
mean = 50.0
stddev = 10.0
min = 0.0
decimals = 2

[[tables.columns]]
name = "note"
gen = "text"
min_words = 2
max_words = 4
nulls = 0.25

[[tables]]
name = "customers"
rows = 500

[[tables.columns]]
name = "id"
gen = "sequence"

[[tables.columns]]
name = "country"
gen = "categorical"
values = ["DE", "FR", "US", "a\tb"]
weights = [3, 1, 5, 1]

[[tables.columns]]
name = "tier"
gen = "zipf"
n = 20
s = 1.0

[[tables.columns]]
name = "age"
gen = "uniform_int"
min = 18
max = 90
"#;

fn config(text: &str) -> DataConfig {
    toml::from_str(text).unwrap()
}

fn rows(table: &str, n: u64) -> RowOverrides {
    HashMap::from([(table.to_string(), n)])
}

/// All tables in text COPY format, one after the other.
pub(crate) fn render(plan: &Plan) -> Vec<u8> {
    let mut out = Vec::new();
    for t in &plan.tables {
        out.extend_from_slice(format!("-- {}\n", t.name).as_bytes());
        t.write_rows(0..t.rows, &mut TextCopy::new(&mut out));
    }
    out
}

fn column(plan: &Plan, table: &str, col: &str) -> Vec<String> {
    let t = plan.table(table).unwrap();
    let idx = t.columns.iter().position(|c| c.name == col).unwrap();
    let mut out = Vec::new();
    t.write_rows(0..t.rows, &mut TextCopy::new(&mut out));
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').nth(idx).unwrap().to_string())
        .collect()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let cfg = config(SHOP);
    let a = render(&Plan::new(&cfg, 7, &rows("orders", 3000)).unwrap());
    let b = render(&Plan::new(&cfg, 7, &rows("orders", 3000)).unwrap());
    let c = render(&Plan::new(&cfg, 8, &rows("orders", 3000)).unwrap());
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.len() > 50_000, "{}", a.len());
}

#[test]
fn chunks_in_any_order_give_the_same_rows() {
    let plan = Plan::new(&config(SHOP), 3, &rows("orders", 1000)).unwrap();
    let t = plan.table("orders").unwrap();
    let mut whole = Vec::new();
    t.write_rows(0..1000, &mut TextCopy::new(&mut whole));
    let mut tail = Vec::new();
    t.write_rows(600..1000, &mut TextCopy::new(&mut tail));
    let mut head = Vec::new();
    t.write_rows(0..600, &mut TextCopy::new(&mut head));
    head.extend_from_slice(&tail);
    assert_eq!(whole, head);
}

#[test]
fn parents_come_first_and_keys_exist() {
    let plan = Plan::new(&config(SHOP), 1, &rows("orders", 2000)).unwrap();
    let names: Vec<&str> = plan.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["customers", "orders"]);
    let ids: std::collections::HashSet<String> =
        column(&plan, "customers", "id").into_iter().collect();
    assert_eq!(ids.len(), 500);
    let fks = column(&plan, "orders", "customer_id");
    assert!(fks.iter().all(|k| ids.contains(k)));
    // Zipf-skewed parent choice: the first customer is the most frequent.
    let first = fks.iter().filter(|k| *k == "1").count();
    assert!(first > 2000 / 20, "{first}");
    // Sequence with start and step.
    let order_ids = column(&plan, "orders", "id");
    assert_eq!(&order_ids[..3], ["1000", "1002", "1004"]);
}

#[test]
fn distributions_are_what_was_asked() {
    let plan = Plan::new(
        &config(SHOP),
        11,
        &rows("customers", 40_000).into_iter().chain(rows("orders", 40_000)).collect(),
    )
    .unwrap();
    let country = column(&plan, "customers", "country");
    let share = |v: &str| country.iter().filter(|c| *c == v).count() as f64 / country.len() as f64;
    for (v, want) in [("DE", 0.3), ("FR", 0.1), ("US", 0.5), ("a\\tb", 0.1)] {
        assert!((share(v) - want).abs() < 0.01, "{v}: {}", share(v));
    }
    // Zipf(20, 1): rank 1 has 1 / H(20) = 0.2773 of the mass.
    let tier = column(&plan, "customers", "tier");
    let rank1 = tier.iter().filter(|t| *t == "1").count() as f64 / tier.len() as f64;
    assert!((rank1 - 0.2773).abs() < 0.01, "{rank1}");
    let ages: Vec<i64> =
        column(&plan, "customers", "age").iter().map(|a| a.parse().unwrap()).collect();
    assert_eq!(*ages.iter().min().unwrap(), 18);
    assert_eq!(*ages.iter().max().unwrap(), 90);
    let amounts: Vec<f64> =
        column(&plan, "orders", "amount").iter().map(|a| a.parse().unwrap()).collect();
    let mean = amounts.iter().sum::<f64>() / amounts.len() as f64;
    let sd =
        (amounts.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / amounts.len() as f64).sqrt();
    assert!((mean - 50.0).abs() < 0.2 && (sd - 10.0).abs() < 0.2, "{mean} {sd}");
    assert!(
        column(&plan, "orders", "amount")
            .iter()
            .all(|a| a.split_once('.').is_none_or(|(_, f)| f.len() <= 2))
    );
    let notes = column(&plan, "orders", "note");
    let nulls = notes.iter().filter(|n| *n == "\\N").count() as f64 / notes.len() as f64;
    assert!((nulls - 0.25).abs() < 0.01, "{nulls}");
    assert!(notes.iter().filter(|n| *n != "\\N").all(|n| (2..=4).contains(&n.split(' ').count())));
    let times = column(&plan, "orders", "placed_at");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "not increasing");
    assert!(times[0].starts_with("2026-01-01") && times.last().unwrap().starts_with("2026-01-31"));
}

#[test]
fn predicted_rows_need_a_prediction() {
    let err = Plan::new(&config(SHOP), 1, &HashMap::new()).unwrap_err();
    assert!(matches!(&err, PlanError::MissingPrediction { table } if table == "orders"), "{err}");
    assert!(err.to_string().contains("give rows a number"));
}

#[test]
fn foreign_key_cycles_are_errors() {
    let text = r#"
[[tables]]
name = "a"
rows = 1
[[tables.columns]]
name = "id"
gen = "sequence"
[[tables.columns]]
name = "b_id"
gen = "foreign_key"
references = "b.id"
[[tables]]
name = "b"
rows = 1
[[tables.columns]]
name = "id"
gen = "sequence"
[[tables.columns]]
name = "a_id"
gen = "foreign_key"
references = "a.id"
"#;
    let problems = validate(&config(text));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "tables");
    assert!(problems[0].message.contains("a -> b -> a"), "{}", problems[0].message);
}

#[test]
fn validation_names_the_key_and_the_fix() {
    let text = r#"
[[tables]]
name = "t"
rows = 1
[[tables.columns]]
name = "x"
gen = "uniform_int"
min = 5
values = ["a"]
[[tables.columns]]
name = "y"
gen = "foreign_key"
references = "t.x"
[[tables.columns]]
name = "z"
gen = "categorical"
values = ["a", "b"]
weights = [1]
"#;
    let problems = validate(&config(text));
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "tables[0].columns[0].values",
            "tables[0].columns[0].max",
            "tables[0].columns[1].references",
            "tables[0].columns[2].weights",
            "tables"
        ],
        "{problems:#?}"
    );
    assert!(problems[0].help.contains("keys for gen = \"uniform_int\": min, max"));
    assert!(problems[2].message.contains("is not a key"));
    // A table referencing itself is a cycle too: its rows would need keys not yet generated.
    assert!(problems[4].message.contains("t -> t"), "{}", problems[4].message);
}

#[test]
fn strict_serde_model() {
    let err = toml::from_str::<DataConfig>("[[tables]]\nname = \"t\"\nrows = 1\n[[tables.columns]]\nname = \"x\"\ngen = \"sequense\"\n").unwrap_err();
    assert!(err.to_string().contains("unknown variant `sequense`"), "{err}");
    let err =
        toml::from_str::<DataConfig>("[[tables]]\nname = \"t\"\nrows = \"lots\"\ncolumns = []\n")
            .unwrap_err();
    assert!(err.to_string().contains("\"predicted\""), "{err}");
    let err = toml::from_str::<DataConfig>("[[tables]]\nname = \"t\"\nrow = 1\n").unwrap_err();
    assert!(err.to_string().contains("unknown field `row`"), "{err}");
}

#[test]
fn overrides_replace_counts_and_edge_cases_are_errors() {
    let cfg = config(SHOP);
    let mut rows = rows("orders", 10);
    rows.insert("customers".into(), 3);
    let plan = Plan::new(&cfg, 1, &rows).unwrap();
    assert_eq!(plan.table("customers").unwrap().rows, 3);
    assert_eq!(plan.total_rows(), 13);
    // Children of an empty parent cannot get keys.
    rows.insert("customers".into(), 0);
    let err = Plan::new(&cfg, 1, &rows).unwrap_err().to_string();
    assert!(err.contains("`customers` has 0 rows"), "{err}");
    // A Zipf-skewed foreign key over too many parents.
    rows.insert("customers".into(), crate::model::MAX_ZIPF_N + 1);
    let err = Plan::new(&cfg, 1, &rows).unwrap_err();
    assert!(matches!(err, PlanError::SkewTooLarge { .. }), "{err}");
    // Zero rows everywhere is fine and produces nothing.
    let plan = Plan::new(&cfg, 1, &HashMap::from([("orders".into(), 0), ("customers".into(), 0)]))
        .unwrap();
    assert!(render(&plan).iter().filter(|&&b| b == b'\t').count() == 0);
}
