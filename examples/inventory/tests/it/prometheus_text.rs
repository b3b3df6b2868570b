//! A strict reader of the Prometheus text exposition format (version 0.0.4), for checking
//! what `/metrics` serves.
//!
//! It rejects what Prometheus itself would reject, and a few things Prometheus tolerates but
//! that make series ambiguous: a family's samples split apart, a `TYPE` after its samples or
//! given twice, duplicate series, and histograms whose buckets are not cumulative or do not
//! end in `+Inf` equal to `_count`.

use std::collections::{BTreeMap, HashSet};

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A metric family: its `TYPE`, `HELP` and samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    pub name: String,
    pub kind: String,
    pub help: Option<String>,
    pub samples: Vec<Sample>,
}

/// A whole parsed exposition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exposition {
    pub families: Vec<Family>,
}

impl Exposition {
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|family| family.name == name)
    }

    /// The value of the sample with exactly this name and these labels.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> =
            labels.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect();
        self.families
            .iter()
            .flat_map(|family| &family.samples)
            .find(|sample| sample.name == name && sample.labels == wanted)
            .map(|sample| sample.value)
    }
}

const KINDS: &[&str] = &["counter", "gauge", "histogram", "summary", "untyped"];

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The family a sample name belongs to, given the declared families.
fn family_of<'a>(sample_name: &'a str, declared: &BTreeMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = sample_name.strip_suffix(suffix)
            && matches!(declared.get(base).map(String::as_str), Some("histogram" | "summary"))
        {
            return base;
        }
    }
    sample_name
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => text.parse::<f64>().map_err(|_| format!("{text:?} is not a float")),
    }
}

/// Parses `name{a="x",b="y"} value [timestamp]`.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("a sample needs a value")?;
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(format!("{name:?} is not a valid metric name"));
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after_brace) = rest.strip_prefix('{') {
        let mut chars = after_brace.char_indices().peekable();
        loop {
            let Some(&(start, first)) = chars.peek() else {
                return Err("unterminated label set".to_string());
            };
            if first == '}' {
                rest = &after_brace[start + 1..];
                break;
            }
            let eq = after_brace[start..].find('=').ok_or("a label needs =")? + start;
            let label = &after_brace[start..eq];
            if !is_label_name(label) {
                return Err(format!("{label:?} is not a valid label name"));
            }
            if !after_brace[eq + 1..].starts_with('"') {
                return Err(format!("the value of label {label} must be quoted"));
            }
            while chars.peek().is_some_and(|&(idx, _)| idx <= eq + 1) {
                chars.next();
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => return Err(format!("invalid escape {other:?} in label {label}")),
                    },
                    Some((_, '"')) => break,
                    Some((_, '\n')) | None => {
                        return Err(format!("unterminated value of label {label}"));
                    }
                    Some((_, c)) => value.push(c),
                }
            }
            if labels.insert(label.to_string(), value).is_some() {
                return Err(format!("label {label} appears twice"));
            }
            match chars.peek() {
                Some(&(_, ',')) => {
                    chars.next();
                }
                Some(&(_, '}')) => {}
                other => {
                    return Err(format!("expected , or }} after a label value, got {other:?}"));
                }
            }
        }
    }
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if !rest.starts_with(' ') || fields.is_empty() || fields.len() > 2 {
        return Err("expected ` value [timestamp]` after the name and labels".to_string());
    }
    let value = parse_value(fields[0])?;
    if let Some(timestamp) = fields.get(1) {
        timestamp.parse::<i64>().map_err(|_| format!("{timestamp:?} is not a timestamp"))?;
    }
    Ok(Sample { name: name.to_string(), labels, value })
}

/// Parses and checks a whole exposition.
pub fn parse(text: &str) -> Result<Exposition, String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the exposition must end with a newline".to_string());
    }
    let mut exposition = Exposition::default();
    let mut declared: BTreeMap<String, String> = BTreeMap::new();
    let mut helped: HashSet<String> = HashSet::new();
    let mut closed: HashSet<String> = HashSet::new();
    let mut series: HashSet<(String, BTreeMap<String, String>)> = HashSet::new();
    for (line_idx, line) in text.lines().enumerate() {
        let fail = |message: String| format!("line {}: {message}: {line:?}", line_idx + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let words: Vec<&str> = comment.trim_start().splitn(3, ' ').collect();
            match words.as_slice() {
                ["TYPE", name, kind] => {
                    if !is_metric_name(name) || !KINDS.contains(kind) {
                        return Err(fail("invalid TYPE line".to_string()));
                    }
                    if declared.insert(name.to_string(), kind.to_string()).is_some() {
                        return Err(fail(format!("TYPE of {name} given twice")));
                    }
                    if exposition
                        .families
                        .iter()
                        .any(|family| family.name == *name && !family.samples.is_empty())
                    {
                        return Err(fail(format!("TYPE of {name} after its samples")));
                    }
                    open_family(&mut exposition, &mut closed, name, kind, None).map_err(&fail)?;
                    exposition.families.last_mut().expect("a family is open").kind =
                        kind.to_string();
                }
                ["HELP", name, help] => {
                    if !is_metric_name(name) {
                        return Err(fail("invalid HELP line".to_string()));
                    }
                    if !helped.insert(name.to_string()) {
                        return Err(fail(format!("HELP of {name} given twice")));
                    }
                    let kind =
                        declared.get(*name).cloned().unwrap_or_else(|| "untyped".to_string());
                    open_family(&mut exposition, &mut closed, name, &kind, Some(help))
                        .map_err(&fail)?;
                }
                _ => {}
            }
            continue;
        }
        let sample = parse_sample(line).map_err(&fail)?;
        let family_name = family_of(&sample.name, &declared).to_string();
        if !series.insert((sample.name.clone(), sample.labels.clone())) {
            return Err(fail("duplicate series".to_string()));
        }
        let kind = declared.get(&family_name).cloned().unwrap_or_else(|| "untyped".to_string());
        open_family(&mut exposition, &mut closed, &family_name, &kind, None).map_err(&fail)?;
        exposition.families.last_mut().expect("a family is open").samples.push(sample);
    }
    for family in &exposition.families {
        if family.kind == "histogram" {
            check_histogram(family)?;
        }
    }
    Ok(exposition)
}

/// Makes `name` the current family, refusing to reopen one whose samples were interrupted.
fn open_family(
    exposition: &mut Exposition,
    closed: &mut HashSet<String>,
    name: &str,
    kind: &str,
    help: Option<&str>,
) -> Result<(), String> {
    if let Some(current) = exposition.families.last_mut() {
        if current.name == name {
            if let Some(help) = help {
                current.help = Some(help.to_string());
            }
            return Ok(());
        }
        closed.insert(current.name.clone());
    }
    if closed.contains(name) {
        return Err(format!("the samples of {name} are not contiguous"));
    }
    exposition.families.push(Family {
        name: name.to_string(),
        kind: kind.to_string(),
        help: help.map(str::to_string),
        samples: Vec::new(),
    });
    Ok(())
}

fn check_histogram(family: &Family) -> Result<(), String> {
    let mut groups: BTreeMap<BTreeMap<String, String>, Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts: BTreeMap<BTreeMap<String, String>, f64> = BTreeMap::new();
    for sample in &family.samples {
        let mut labels = sample.labels.clone();
        if sample.name.ends_with("_bucket") {
            let le = labels.remove("le").ok_or(format!("{} bucket without le", family.name))?;
            groups.entry(labels).or_default().push((parse_value(&le)?, sample.value));
        } else if sample.name.ends_with("_count") {
            counts.insert(labels, sample.value);
        } else if !sample.name.ends_with("_sum") {
            return Err(format!("{} is not a histogram sample of {}", sample.name, family.name));
        }
    }
    for (labels, buckets) in &groups {
        for pair in buckets.windows(2) {
            if pair[1].0 <= pair[0].0 || pair[1].1 < pair[0].1 {
                return Err(format!(
                    "{} {labels:?}: buckets not increasing: {pair:?}",
                    family.name
                ));
            }
        }
        let Some(&(last_bound, last_count)) = buckets.last() else { continue };
        if last_bound != f64::INFINITY {
            return Err(format!("{} {labels:?}: no +Inf bucket", family.name));
        }
        if counts.get(labels) != Some(&last_count) {
            return Err(format!("{} {labels:?}: +Inf bucket differs from _count", family.name));
        }
    }
    Ok(())
}

#[test]
fn accepts_a_valid_exposition() {
    let text = "# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"\"} 3\n\
                # TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.7\nh_count 2\n";
    let exposition = parse(text).unwrap();
    assert_eq!(exposition.value("a_total", &[("x", "1"), ("y", "q\"")]), Some(3.0));
    assert_eq!(exposition.family("a_total").unwrap().kind, "counter");
    assert_eq!(exposition.family("a_total").unwrap().help.as_deref(), Some("Things."));
    assert_eq!(exposition.family("h").unwrap().samples.len(), 4);
}

#[test]
fn rejects_what_prometheus_would_reject() {
    for (text, problem) in [
        ("a 1", "newline"),
        ("1a 1\n", "metric name"),
        ("a{1x=\"v\"} 1\n", "label name"),
        ("a{x=v} 1\n", "quoted"),
        ("a{x=\"\\t\"} 1\n", "escape"),
        ("a one\n", "float"),
        ("a 1\na 2\n", "duplicate"),
        ("a 1\nb 1\na{x=\"y\"} 1\n", "contiguous"),
        ("# TYPE a counter\n# TYPE a gauge\n", "twice"),
        ("a 1\n# TYPE a counter\n", "after its samples"),
        (
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
            "increasing",
        ),
        ("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n", "+Inf"),
        ("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 1\n", "_count"),
    ] {
        let err = parse(text).expect_err(text);
        assert!(err.contains(problem), "{text:?}: {err}");
    }
}
