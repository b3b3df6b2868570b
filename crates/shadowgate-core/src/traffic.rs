//! The `[traffic]` model and the deterministic request plan derived from it.
//!
//! `shadowgate check` loads a baseline and a candidate with the same traffic, and the verdict is
//! only fair if both see exactly the same requests at exactly the same intended instants. So the
//! traffic is not generated on the fly by the load generator: it is a *plan*, a pure function of
//! the `[traffic]` section and a seed. The plan is an iterator (a long run at a high rate would
//! not fit in memory as a list), and iterating it twice gives the same sequence twice.
//!
//! Two independent random streams feed a plan: one for arrival times and one for request
//! contents. Editing the request mix therefore never moves the arrival instants, and the same
//! seed keeps the same schedule across manifest edits that only touch paths or parameters.
//!
//! ```toml
//! [traffic]
//! rate = 200                 # requests per second
//! arrival = "poisson"        # or "constant"
//! warmup = "10s"             # sent but not judged
//! duration = "60s"           # judged, after the warm-up
//!
//! [[traffic.requests]]
//! path = "/items/{id}?sort={order}"
//! weight = 3
//! params.id = { zipf = [1, 10000], exponent = 1.1 }
//! params.order = { values = ["price", "name"], weights = [3, 1] }
//!
//! [[traffic.requests]]
//! method = "POST"
//! path = "/cart"
//! headers = { content-type = "application/json" }
//! body = '{{"item": {id}}}'
//! params.id = { range = [1, 10000] }
//! ```

use std::{borrow::Cow, collections::BTreeMap, fmt, sync::Arc, time::Duration};

use serde::Deserialize;

use crate::{manifest::KeyPath, rng::Rng, template::Template, units::HumanDuration};

// ---------------------------------------------------------------------------------------------
// The model.
// ---------------------------------------------------------------------------------------------

/// `[traffic]`: the load applied to an environment.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// Intended requests per second (a fraction is fine, e.g. `0.5`).
    #[serde(default = "defaults::rate")]
    pub rate: f64,
    /// How the intended send instants are spaced.
    #[serde(default)]
    pub arrival: Arrival,
    /// The judged part of the run, which starts after the warm-up.
    #[serde(default = "defaults::duration")]
    pub duration: HumanDuration,
    /// Requests sent before the judged part (caches, JIT, connection pools), reported apart.
    #[serde(default = "defaults::warmup")]
    pub warmup: HumanDuration,
    /// Give up on a request this long after its intended send instant.
    #[serde(default = "defaults::timeout")]
    pub timeout: HumanDuration,
    /// The most connections open to one target at once.
    #[serde(default = "defaults::max_connections")]
    pub max_connections: u32,
    /// The HTTP version spoken to the targets.
    #[serde(default)]
    pub protocol: Protocol,
    /// The seed of arrivals and request contents; the same seed gives the same plan.
    #[serde(default = "defaults::seed")]
    pub seed: u64,
    /// `[[traffic.requests]]`: the weighted request mix. One `GET /` when absent.
    #[serde(default = "defaults::requests")]
    pub requests: Vec<RequestSpec>,
    /// A recording (written by `shadowgate record`), relative to the manifest, whose requests
    /// replace the request mix: they are sent with their recorded inter-arrival pattern, looped
    /// over the warm-up and the duration, and scaled to `rate` when `rate` is written.
    #[serde(default)]
    pub replay: Option<String>,
    /// Whether `rate` was written in the manifest (set by the manifest parser), which decides
    /// whether a replay keeps its recorded pace or is scaled to `rate`.
    #[serde(skip)]
    pub rate_given: bool,
}

impl Default for Traffic {
    fn default() -> Self {
        Traffic {
            rate: defaults::rate(),
            arrival: Arrival::default(),
            duration: defaults::duration(),
            warmup: defaults::warmup(),
            timeout: defaults::timeout(),
            max_connections: defaults::max_connections(),
            protocol: Protocol::default(),
            seed: defaults::seed(),
            requests: defaults::requests(),
            replay: None,
            rate_given: false,
        }
    }
}

/// The arrival process of intended send instants.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Evenly spaced, `1/rate` apart.
    #[default]
    Constant,
    /// Independent exponential gaps with mean `1/rate`, as from many independent users.
    Poisson,
}

/// The HTTP version spoken to the targets (plain HTTP; HTTP/2 with prior knowledge).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP/1.1 with keep-alive: one request in flight per connection.
    #[default]
    Http1,
    /// HTTP/2 with prior knowledge: many requests multiplexed on each connection.
    Http2,
}

/// One `[[traffic.requests]]` entry: a kind of request and its share of the mix.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// A label for reports; the method and path when absent.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "defaults::method")]
    pub method: String,
    /// The path and query, a template whose `{placeholders}` name entries of `params`.
    pub path: String,
    /// Header values are templates too.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The request body, a template. `{{` and `}}` stand for literal braces.
    #[serde(default)]
    pub body: Option<String>,
    /// This request's share of the mix, relative to the other entries' weights.
    #[serde(default = "defaults::weight")]
    pub weight: f64,
    /// Where each placeholder's value is drawn from.
    #[serde(default)]
    pub params: BTreeMap<String, ParamSpec>,
}

/// How one parameter's value is drawn. Exactly one of `range`, `values` and `zipf` is set.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    /// Uniform integers in `[low, high]`, both ends included.
    #[serde(default)]
    pub range: Option<[i64; 2]>,
    /// One of these values, uniformly or by `weights`.
    #[serde(default)]
    pub values: Option<Vec<ParamValue>>,
    /// Relative weights of `values`, one each.
    #[serde(default)]
    pub weights: Option<Vec<f64>>,
    /// Integers in `[low, high]` where `low` is the most frequent: the k-th value has weight
    /// `1 / k^exponent` (a few hot keys and a long tail).
    #[serde(default)]
    pub zipf: Option<[i64; 2]>,
    /// The zipf exponent (1 when absent).
    #[serde(default)]
    pub exponent: Option<f64>,
}

/// A listed parameter value. Strings, integers, floats and booleans are all written as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamValue(pub String);

impl<'de> Deserialize<'de> for ParamValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ParamValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a number or a boolean")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

mod defaults {
    use super::RequestSpec;
    use crate::units::HumanDuration;

    pub fn rate() -> f64 {
        50.0
    }
    pub fn duration() -> HumanDuration {
        HumanDuration::from_secs(60)
    }
    pub fn warmup() -> HumanDuration {
        HumanDuration::from_secs(10)
    }
    pub fn timeout() -> HumanDuration {
        HumanDuration::from_secs(10)
    }
    pub fn max_connections() -> u32 {
        64
    }
    pub fn seed() -> u64 {
        1
    }
    pub fn method() -> String {
        "GET".to_string()
    }
    pub fn weight() -> f64 {
        1.0
    }
    pub fn requests() -> Vec<RequestSpec> {
        vec![RequestSpec {
            name: None,
            method: method(),
            path: "/".to_string(),
            headers: Default::default(),
            body: None,
            weight: weight(),
            params: Default::default(),
        }]
    }
}

// ---------------------------------------------------------------------------------------------
// Validation.
// ---------------------------------------------------------------------------------------------

/// One problem: the key path relative to `[traffic]`, the message, and what to do about it.
pub type TrafficProblem = (String, String, Option<String>);

/// Checks what the types cannot: positive rates and weights, parameters that exist, well-formed
/// methods, paths and headers. Returns every problem found, in document order.
pub fn validate(traffic: &Traffic) -> Vec<TrafficProblem> {
    let mut problems = Vec::new();
    let mut problem = |path: KeyPath, message: String, help: &str| {
        let help = (!help.is_empty()).then(|| help.to_string());
        problems.push((path.to_string(), message, help));
    };
    let root = KeyPath::root();

    if traffic.replay.as_deref().is_some_and(|file| file.trim().is_empty()) {
        problem(
            root.clone().key("replay"),
            "the recording's path is empty".into(),
            "name a file written by `shadowgate record`, relative to the manifest",
        );
    }
    if !(traffic.rate.is_finite() && traffic.rate > 0.0) {
        problem(
            root.clone().key("rate"),
            format!(
                "the rate must be a positive number of requests per second, not {}",
                traffic.rate
            ),
            "use e.g. `rate = 100`; for less than one request per second write a fraction such as `rate = 0.5`",
        );
    } else if traffic.rate > MAX_RATE {
        problem(
            root.clone().key("rate"),
            format!(
                "a rate of {} requests per second is beyond what one load generator can send",
                traffic.rate
            ),
            "use at most 1000000; beyond that, split the load over several machines",
        );
    }
    if traffic.duration.0.is_zero() {
        problem(
            root.clone().key("duration"),
            "the duration is zero, so no request would be judged".into(),
            "use a positive duration such as \"60s\"",
        );
    }
    if traffic.timeout.0.is_zero() {
        problem(
            root.clone().key("timeout"),
            "the request timeout is zero, so every request would time out".into(),
            "use a positive duration such as \"10s\"",
        );
    }
    if traffic.max_connections == 0 {
        problem(
            root.clone().key("max_connections"),
            "at least one connection is needed".into(),
            "use a positive number such as `max_connections = 64`",
        );
    }
    if traffic.requests.is_empty() {
        problem(
            root.clone().key("requests"),
            "the request mix is empty".into(),
            "add at least one `[[traffic.requests]]` with a `path`, or remove `requests` to send `GET /`",
        );
    }
    for (idx, spec) in traffic.requests.iter().enumerate() {
        validate_request(&mut problem, root.clone().key("requests").index(idx), spec);
    }
    problems
}

/// The highest rate accepted: one request per microsecond.
const MAX_RATE: f64 = 1_000_000.0;

fn validate_request(
    problem: &mut impl FnMut(KeyPath, String, &str),
    path: KeyPath,
    spec: &RequestSpec,
) {
    if !(spec.weight.is_finite() && spec.weight > 0.0) {
        problem(
            path.clone().key("weight"),
            format!("the weight must be a positive number, not {}", spec.weight),
            "weights are relative shares of the mix, e.g. 3 and 1 for 75% and 25%; remove the request to send none of it",
        );
    }
    if !is_token(&spec.method) {
        problem(
            path.clone().key("method"),
            format!("`{}` is not an HTTP method", spec.method),
            "use a method such as GET, POST, PUT, PATCH or DELETE",
        );
    }

    let names: Vec<&str> = spec.params.keys().map(String::as_str).collect();
    let mut used = std::collections::BTreeSet::new();
    let mut check =
        |problem: &mut dyn FnMut(KeyPath, String, &str), key: KeyPath, source: &str, what: &str| {
            check_template(problem, &names, &mut used, key, source, what)
        };

    if let Some(template) = check(problem, path.clone().key("path"), &spec.path, "path") {
        let literal = template.expand_raw(
            &template.placeholders().map(|name| (name.to_string(), String::new())).collect(),
        );
        if !spec.path.starts_with('/') {
            problem(
                path.clone().key("path"),
                format!("the path `{}` does not start with `/`", spec.path),
                "write the path and query only, e.g. \"/items/{id}?page=2\"; the target's address is given elsewhere",
            );
        } else if let Ok(literal) = literal
            && let Some(bad) = literal.chars().find(|c| !is_uri_char(*c))
        {
            problem(
                path.clone().key("path"),
                format!("the path contains {bad:?}, which is not allowed in a URL"),
                "percent-encode it (a space is %20); parameter values are encoded automatically",
            );
        }
    }
    for (name, value) in &spec.headers {
        let key = path.clone().key("headers").key(name);
        if !is_token(name) {
            problem(
                key.clone(),
                format!("`{name}` is not a valid header name"),
                "use letters, digits and `-`, e.g. `content-type`",
            );
        }
        if value.chars().any(|c| c.is_control() && c != '\t') {
            problem(
                key.clone(),
                "the header value contains a control character (such as a line break)".into(),
                "header values are a single line of text",
            );
        }
        check(problem, key, value, "header");
    }
    if let Some(body) = &spec.body {
        check(problem, path.clone().key("body"), body, "body");
    }
    for (name, param) in &spec.params {
        let key = path.clone().key("params").key(name);
        validate_param(problem, key.clone(), param);
        if !used.contains(name) {
            problem(
                key,
                format!("parameter `{name}` is never used"),
                &format!("use `{{{name}}}` in the path, a header or the body, or remove it"),
            );
        }
    }
}

/// Parses a template and checks that its placeholders are declared parameters, noting the
/// ones it uses.
fn check_template(
    problem: &mut dyn FnMut(KeyPath, String, &str),
    names: &[&str],
    used: &mut std::collections::BTreeSet<String>,
    key: KeyPath,
    source: &str,
    what: &str,
) -> Option<Template> {
    let template = match Template::parse(source) {
        Ok(template) => template,
        Err(err) => {
            problem(key, format!("bad {what} template: {err}"), "");
            return None;
        }
    };
    for name in template.placeholders() {
        if names.contains(&name) {
            used.insert(name.to_string());
            continue;
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            problem(
                key.clone(),
                format!("`{{{name}}}` in the {what} is not a parameter name"),
                "write `{{` and `}}` for literal braces, e.g. body = '{{\"id\": {id}}}'",
            );
            continue;
        }
        let declared = if names.is_empty() {
            "this request declares no parameters".to_string()
        } else {
            format!("declared here: {}", names.join(", "))
        };
        let help = match crate::template::nearest(name, names.iter().copied()) {
            Some(near) => format!("did you mean `{{{near}}}`? {declared}"),
            None => {
                format!("declare it, e.g. `params.{name} = {{ range = [1, 100] }}`; {declared}")
            }
        };
        problem(key.clone(), format!("unknown parameter `{{{name}}}` in the {what}"), &help);
    }
    Some(template)
}

fn validate_param(problem: &mut impl FnMut(KeyPath, String, &str), key: KeyPath, p: &ParamSpec) {
    let kinds = [p.range.is_some(), p.values.is_some(), p.zipf.is_some()];
    if kinds.iter().filter(|k| **k).count() != 1 {
        problem(
            key.clone(),
            "a parameter needs exactly one of `range`, `values` and `zipf`".into(),
            "e.g. `{ range = [1, 100] }`, `{ values = [\"a\", \"b\"] }` or `{ zipf = [1, 1000], exponent = 1.1 }`",
        );
        return;
    }
    for (field, bounds) in [("range", p.range), ("zipf", p.zipf)] {
        if let Some([low, high]) = bounds
            && low > high
        {
            problem(
                key.clone().key(field),
                format!("the low end {low} is above the high end {high}"),
                &format!("write `{field} = [{high}, {low}]`"),
            );
        }
    }
    if p.exponent.is_some() && p.zipf.is_none() {
        problem(
            key.clone().key("exponent"),
            "`exponent` only applies to `zipf`".into(),
            "remove it, or draw the parameter with `zipf = [low, high]`",
        );
    }
    if let Some(exponent) = p.exponent
        && !(exponent.is_finite() && exponent > 0.0 && exponent <= 10.0)
    {
        problem(
            key.clone().key("exponent"),
            format!("the zipf exponent must be above 0 and at most 10, not {exponent}"),
            "1 is the classic zipf law; larger values concentrate on fewer keys",
        );
    }
    if p.weights.is_some() && p.values.is_none() {
        problem(
            key.clone().key("weights"),
            "`weights` only applies to `values`".into(),
            "remove it, or list the values with `values = [...]`",
        );
    }
    if let Some(values) = &p.values {
        if values.is_empty() {
            problem(
                key.clone().key("values"),
                "the list of values is empty".into(),
                "list at least one value",
            );
        }
        if values.iter().any(|v| v.0.chars().any(|c| c.is_control() && c != '\t')) {
            problem(
                key.clone().key("values"),
                "a value contains a control character (such as a line break)".into(),
                "values are placed in paths, headers and bodies as single-line text",
            );
        }
        if let Some(weights) = &p.weights {
            if weights.len() != values.len() {
                problem(
                    key.clone().key("weights"),
                    format!("{} weights for {} values", weights.len(), values.len()),
                    "give exactly one weight per value, in the same order",
                );
            } else if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
                || !weights.iter().any(|w| *w > 0.0)
            {
                problem(
                    key.clone().key("weights"),
                    "weights must be zero or positive numbers, and at least one positive".into(),
                    "e.g. `weights = [3, 1]` draws the first value three times as often",
                );
            }
        }
    }
}

/// An HTTP token (RFC 9110 `tchar`s): methods and header names.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

/// Characters that may appear as they are in a URL's path and query.
fn is_uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

// ---------------------------------------------------------------------------------------------
// The plan.
// ---------------------------------------------------------------------------------------------

/// Why a plan could not be made: the model has problems (see [`validate`]).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct PlanError(pub Vec<TrafficProblem>);

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (idx, (key, message, help)) in self.0.iter().enumerate() {
            if idx > 0 {
                writeln!(f)?;
            }
            write!(f, "`traffic.{key}`: {message}")?;
            if let Some(help) = help {
                write!(f, "\n  help: {help}")?;
            }
        }
        Ok(())
    }
}

/// Which part of a run a request belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Sent before the judged part; reported apart and never judged.
    Warmup,
    /// The judged part.
    Measured,
}

/// A validated `[traffic]` section, ready to produce request sequences.
#[derive(Clone, Debug)]
pub struct Plan {
    rate: f64,
    arrival: Arrival,
    warmup: Duration,
    total: Duration,
    seed: u64,
    requests: Vec<CompiledRequest>,
    /// Running sums of the request weights, for a draw by binary search.
    cumulative_weights: Vec<f64>,
    /// Fixed requests at fixed instants (a replayed recording) instead of the generated mix.
    replayed: Option<Arc<Replayed>>,
}

/// One request of a replayed plan, sent as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedRequest {
    /// The request kind (an index into the names given to [`Plan::replayed`]).
    pub kind: usize,
    pub method: String,
    /// The path and query.
    pub path: String,
    /// Lowercase header names with their values (no Host or Content-Length: the sender sets
    /// those).
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// One intended send of a replayed plan: which request, and when from the start of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedSend {
    pub offset: Duration,
    /// An index into the requests given to [`Plan::replayed`].
    pub request: usize,
}

#[derive(Debug)]
struct Replayed {
    names: Vec<String>,
    requests: Vec<FixedRequest>,
    /// Sorted by offset, all before the end of the run.
    sends: Vec<FixedSend>,
}

#[derive(Clone, Debug)]
struct CompiledRequest {
    name: String,
    method: String,
    path: Text,
    headers: Vec<(String, Text)>,
    body: Text,
    /// The parameters in name order; values are drawn in this order.
    params: Vec<(String, Distribution)>,
    /// The headers as they are when none of them has a placeholder.
    fixed_headers: Option<Vec<(String, String)>>,
}

/// A template, or its text when it has no placeholders.
#[derive(Clone, Debug)]
enum Text {
    Fixed(String),
    Template(Template),
}

impl Text {
    fn compile(source: &str) -> Text {
        match Template::parse(source) {
            Ok(template) if template.placeholders().next().is_some() => Text::Template(template),
            Ok(template) => Text::Fixed(template.expand_raw(&BTreeMap::new()).unwrap_or_default()),
            // Validation rejects unparsable templates before compilation.
            Err(_) => Text::Fixed(source.to_string()),
        }
    }

    fn render<'a>(&'a self, values: &BTreeMap<String, String>) -> Cow<'a, str> {
        match self {
            Text::Fixed(text) => Cow::Borrowed(text),
            // Every placeholder was checked against the declared parameters, and every declared
            // parameter has a value, so expansion cannot fail.
            Text::Template(template) => Cow::Owned(template.expand_raw(values).unwrap_or_default()),
        }
    }

    fn is_fixed(&self) -> bool {
        matches!(self, Text::Fixed(_))
    }
}

#[derive(Clone, Debug)]
enum Distribution {
    Range { low: i64, high: i64 },
    List { values: Vec<String>, cumulative: Vec<f64> },
    Zipf { low: i64, sampler: ZipfSampler },
}

impl Distribution {
    fn compile(spec: &ParamSpec) -> Distribution {
        if let Some([low, high]) = spec.zipf {
            let count = (high as i128 - low as i128 + 1).max(1) as f64;
            return Distribution::Zipf {
                low,
                sampler: ZipfSampler::new(count, spec.exponent.unwrap_or(1.0)),
            };
        }
        if let Some(values) = &spec.values {
            let weights = spec.weights.clone().unwrap_or_else(|| vec![1.0; values.len()]);
            return Distribution::List {
                values: values.iter().map(|v| v.0.clone()).collect(),
                cumulative: running_sums(&weights),
            };
        }
        let [low, high] = spec.range.unwrap_or([0, 0]);
        Distribution::Range { low, high }
    }

    fn draw(&self, rng: &mut Rng) -> String {
        match self {
            Distribution::Range { low, high } => rng.range_i64(*low, *high).to_string(),
            Distribution::List { values, cumulative } => {
                values[pick_weighted(cumulative, rng)].clone()
            }
            Distribution::Zipf { low, sampler } => {
                let rank = sampler.sample(rng);
                (*low as i128 + rank as i128 - 1).to_string()
            }
        }
    }
}

fn running_sums(weights: &[f64]) -> Vec<f64> {
    weights
        .iter()
        .scan(0.0, |sum, w| {
            *sum += w.max(0.0);
            Some(*sum)
        })
        .collect()
}

/// An index drawn with probability proportional to its weight (`cumulative` holds running sums).
fn pick_weighted(cumulative: &[f64], rng: &mut Rng) -> usize {
    let total = cumulative.last().copied().unwrap_or(0.0);
    let point = rng.next_f64() * total;
    cumulative.partition_point(|sum| *sum <= point).min(cumulative.len().saturating_sub(1))
}

impl Plan {
    /// Validates `traffic` and compiles its templates. `seed` is usually `traffic.seed`; the
    /// caller may override it (e.g. from the command line).
    ///
    /// A `[traffic]` that names a `replay` recording is refused: its plan comes from the
    /// recording (see [`Plan::replayed`]), which only `check` reads, and generating the mix
    /// instead would silently send other requests than asked.
    pub fn new(traffic: &Traffic, seed: u64) -> Result<Plan, PlanError> {
        let mut problems = validate(traffic);
        if let Some(file) = &traffic.replay {
            problems.push((
                "replay".to_string(),
                format!("this command cannot replay `{file}`"),
                Some(format!(
                    "`shadowgate check` replays it; to send it to a URL, use `shadowgate replay {file} --target URL`"
                )),
            ));
        }
        if !problems.is_empty() {
            return Err(PlanError(problems));
        }
        let requests: Vec<CompiledRequest> = traffic.requests.iter().map(compile_request).collect();
        Ok(Plan {
            rate: traffic.rate,
            arrival: traffic.arrival,
            warmup: traffic.warmup.0,
            total: traffic.warmup.0 + traffic.duration.0,
            seed,
            cumulative_weights: running_sums(
                &traffic.requests.iter().map(|r| r.weight).collect::<Vec<_>>(),
            ),
            requests,
            replayed: None,
        })
    }

    /// A plan of fixed requests at fixed instants, e.g. a recording turned into sends by the
    /// replay schedule. Sends at or after `warmup + duration` are dropped; the others keep their
    /// order by offset. `names` name the request kinds that `requests` refer to.
    pub fn replayed(
        names: Vec<String>,
        requests: Vec<FixedRequest>,
        mut sends: Vec<FixedSend>,
        warmup: Duration,
        duration: Duration,
    ) -> Result<Plan, PlanError> {
        let total = warmup + duration;
        let mut problems = Vec::new();
        if total.is_zero() {
            problems.push((
                "duration".to_string(),
                "the run is empty".to_string(),
                Some("give a duration longer than zero".to_string()),
            ));
        }
        if let Some(r) = requests.iter().find(|r| r.kind >= names.len()) {
            problems.push((
                "replay".to_string(),
                format!("request kind {} has no name", r.kind),
                None,
            ));
        }
        sends.retain(|s| s.offset < total && s.request < requests.len());
        if sends.is_empty() {
            problems.push((
                "replay".to_string(),
                "the replay holds no request to send within the run".to_string(),
                Some("record some traffic first, or lengthen `duration`".to_string()),
            ));
        }
        if !problems.is_empty() {
            return Err(PlanError(problems));
        }
        sends.sort_by_key(|s| s.offset);
        Ok(Plan {
            rate: sends.len() as f64 / total.as_secs_f64(),
            arrival: Arrival::Constant,
            warmup,
            total,
            seed: 0,
            requests: Vec::new(),
            cumulative_weights: Vec::new(),
            replayed: Some(Arc::new(Replayed { names, requests, sends })),
        })
    }

    /// Whether this plan replays fixed requests (see [`Plan::replayed`]).
    pub fn is_replayed(&self) -> bool {
        self.replayed.is_some()
    }

    /// The planned requests in order of their intended send instants.
    pub fn requests(&self) -> PlanIter<'_> {
        PlanIter {
            arrivals: self.arrivals(),
            contents: self.contents(0),
            replayed: self.replayed.as_deref(),
            position: 0,
        }
    }

    /// The intended send offsets alone, from the start of the run.
    pub fn arrivals(&self) -> Arrivals {
        Arrivals {
            rng: Rng::seed(self.seed).fork(ARRIVAL_STREAM),
            arrival: self.arrival,
            rate: self.rate,
            warmup: self.warmup,
            total: self.total,
            sequence: 0,
            seconds: 0.0,
            replayed: self.replayed.clone(),
        }
    }

    /// An endless sequence of request contents, without times (for closed-loop runs). Stream 0
    /// is the one [`Plan::requests`] uses; other streams are independent of it and of each other.
    pub fn contents(&self, stream: u64) -> Contents<'_> {
        Contents { plan: self, rng: Rng::seed(self.seed).fork(CONTENT_STREAM.wrapping_add(stream)) }
    }

    /// How many requests the plan holds (exact for constant arrivals, the mean for Poisson).
    pub fn expected_requests(&self) -> u64 {
        if let Some(replayed) = &self.replayed {
            return replayed.sends.len() as u64;
        }
        match self.arrival {
            // Requests i with i / rate < total; the small margin absorbs floating-point error
            // when total * rate is a whole number.
            Arrival::Constant => (self.total.as_secs_f64() * self.rate - 1e-9).ceil() as u64,
            Arrival::Poisson => (self.total.as_secs_f64() * self.rate).round() as u64,
        }
    }

    /// The warm-up length; requests intended before it are in [`Phase::Warmup`].
    pub fn warmup(&self) -> Duration {
        self.warmup
    }

    /// Warm-up plus the judged duration.
    pub fn total_duration(&self) -> Duration {
        self.total
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The names of the request kinds, indexed by [`RequestContent::kind`].
    pub fn request_names(&self) -> impl Iterator<Item = &str> {
        let replayed = self.replayed.iter().flat_map(|r| r.names.iter().map(String::as_str));
        self.requests.iter().map(|r| r.name.as_str()).chain(replayed)
    }

    fn content(&self, rng: &mut Rng) -> RequestContent<'_> {
        if let Some(replayed) = self.replayed.as_deref() {
            return fixed_content(&replayed.requests[rng.below(replayed.requests.len())]);
        }
        let kind =
            if self.requests.len() == 1 { 0 } else { pick_weighted(&self.cumulative_weights, rng) };
        let spec = &self.requests[kind];
        if spec.params.is_empty() {
            let empty = BTreeMap::new();
            return RequestContent {
                kind,
                method: &spec.method,
                path: spec.path.render(&empty),
                headers: spec.fixed_headers.as_deref().map(Cow::Borrowed).unwrap_or_default(),
                body: spec.body.render(&empty),
                varies: false,
            };
        }
        let raw: BTreeMap<String, String> =
            spec.params.iter().map(|(name, dist)| (name.clone(), dist.draw(rng))).collect();
        let path = match &spec.path {
            Text::Fixed(text) => Cow::Borrowed(text.as_str()),
            Text::Template(_) => {
                let encoded =
                    raw.iter().map(|(name, value)| (name.clone(), percent_encode(value))).collect();
                spec.path.render(&encoded)
            }
        };
        let headers = match &spec.fixed_headers {
            Some(fixed) => Cow::Borrowed(fixed.as_slice()),
            None => Cow::Owned(
                spec.headers
                    .iter()
                    .map(|(name, value)| (name.clone(), value.render(&raw).into_owned()))
                    .collect(),
            ),
        };
        RequestContent {
            kind,
            method: &spec.method,
            path,
            headers,
            body: spec.body.render(&raw),
            varies: true,
        }
    }
}

fn fixed_content(request: &FixedRequest) -> RequestContent<'_> {
    RequestContent {
        kind: request.kind,
        method: &request.method,
        path: Cow::Borrowed(&request.path),
        headers: Cow::Borrowed(&request.headers),
        body: Cow::Borrowed(&request.body),
        varies: true,
    }
}

const ARRIVAL_STREAM: u64 = 1;
const CONTENT_STREAM: u64 = 2;

fn compile_request(spec: &RequestSpec) -> CompiledRequest {
    let headers: Vec<(String, Text)> = spec
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), Text::compile(value)))
        .collect();
    let fixed_headers = headers.iter().all(|(_, value)| value.is_fixed()).then(|| {
        headers
            .iter()
            .map(|(name, value)| (name.clone(), value.render(&BTreeMap::new()).into_owned()))
            .collect()
    });
    CompiledRequest {
        name: spec.name.clone().unwrap_or_else(|| format!("{} {}", spec.method, spec.path)),
        method: spec.method.clone(),
        path: Text::compile(&spec.path),
        headers,
        body: Text::compile(spec.body.as_deref().unwrap_or_default()),
        params: spec
            .params
            .iter()
            .map(|(name, p)| (name.clone(), Distribution::compile(p)))
            .collect(),
        fixed_headers,
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so that a parameter value
/// can never change the structure of the path or query it is placed in.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// What to send: one draw from the request mix.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestContent<'a> {
    /// The index of the `[[traffic.requests]]` entry this request was drawn from.
    pub kind: usize,
    pub method: &'a str,
    /// The path and query, parameters percent-encoded.
    pub path: Cow<'a, str>,
    /// Lowercase header names with their values.
    pub headers: Cow<'a, [(String, String)]>,
    /// Empty when the request has no body.
    pub body: Cow<'a, str>,
    /// False when every request of this kind is identical (no parameters), so a caller may
    /// cache whatever it builds from it by `kind`.
    pub varies: bool,
}

/// One planned request: what to send and when.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedRequest<'a> {
    /// 0, 1, 2, ... in order of intended send instants.
    pub sequence: u64,
    /// The intended send instant, from the start of the run.
    pub offset: Duration,
    pub phase: Phase,
    pub content: RequestContent<'a>,
}

/// The intended send offsets of a plan, in order.
#[derive(Clone, Debug)]
pub struct Arrivals {
    rng: Rng,
    arrival: Arrival,
    rate: f64,
    warmup: Duration,
    total: Duration,
    sequence: u64,
    /// The Poisson process's clock, in seconds.
    seconds: f64,
    replayed: Option<Arc<Replayed>>,
}

impl Iterator for Arrivals {
    /// The sequence number, the offset and the phase.
    type Item = (u64, Duration, Phase);

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(replayed) = &self.replayed {
            let send = replayed.sends.get(self.sequence as usize)?;
            let phase = if send.offset < self.warmup { Phase::Warmup } else { Phase::Measured };
            self.sequence += 1;
            return Some((self.sequence - 1, send.offset, phase));
        }
        let seconds = match self.arrival {
            // Multiplying (rather than adding up gaps) keeps rounding from drifting.
            Arrival::Constant => self.sequence as f64 / self.rate,
            Arrival::Poisson => {
                self.seconds += self.rng.exponential(self.rate);
                self.seconds
            }
        };
        if seconds >= self.total.as_secs_f64() {
            return None;
        }
        let offset = Duration::from_secs_f64(seconds).min(self.total);
        let phase = if offset < self.warmup { Phase::Warmup } else { Phase::Measured };
        let sequence = self.sequence;
        self.sequence += 1;
        Some((sequence, offset, phase))
    }
}

/// The planned requests: arrivals joined with contents.
#[derive(Clone, Debug)]
pub struct PlanIter<'a> {
    arrivals: Arrivals,
    contents: Contents<'a>,
    replayed: Option<&'a Replayed>,
    position: usize,
}

impl<'a> Iterator for PlanIter<'a> {
    type Item = PlannedRequest<'a>;

    fn next(&mut self) -> Option<PlannedRequest<'a>> {
        let (sequence, offset, phase) = self.arrivals.next()?;
        if let Some(replayed) = self.replayed {
            let send = replayed.sends.get(self.position)?;
            self.position += 1;
            let content = fixed_content(&replayed.requests[send.request]);
            return Some(PlannedRequest { sequence, offset, phase, content });
        }
        let content = self.contents.next()?;
        Some(PlannedRequest { sequence, offset, phase, content })
    }
}

/// An endless sequence of request contents drawn from the mix.
#[derive(Clone, Debug)]
pub struct Contents<'a> {
    plan: &'a Plan,
    rng: Rng,
}

impl<'a> Iterator for Contents<'a> {
    type Item = RequestContent<'a>;

    fn next(&mut self) -> Option<RequestContent<'a>> {
        Some(self.plan.content(&mut self.rng))
    }
}

// ---------------------------------------------------------------------------------------------
// Zipf sampling.
// ---------------------------------------------------------------------------------------------

/// Draws ranks `1..=count` with probability proportional to `1 / rank^exponent`, in constant
/// time and memory whatever the count, by rejection-inversion (W. Hörmann and G. Derflinger,
/// "Rejection-inversion to generate variates from monotone discrete distributions", ACM TOMACS
/// 6(3), 1996). The continuous hat function `x^-exponent` is inverted, and a draw is rejected
/// only in the small areas where the hat exceeds the discrete distribution.
#[derive(Clone, Debug)]
struct ZipfSampler {
    count: f64,
    exponent: f64,
    hat_integral_first: f64,
    hat_integral_last: f64,
    /// Draws within this distance below a rank are accepted without the exact check.
    squeeze: f64,
}

impl ZipfSampler {
    fn new(count: f64, exponent: f64) -> ZipfSampler {
        let mut sampler = ZipfSampler {
            count,
            exponent,
            hat_integral_first: 0.0,
            hat_integral_last: 0.0,
            squeeze: 0.0,
        };
        sampler.hat_integral_first = sampler.hat_integral(1.5) - 1.0;
        sampler.hat_integral_last = sampler.hat_integral(count + 0.5);
        sampler.squeeze =
            2.0 - sampler.hat_integral_inverse(sampler.hat_integral(2.5) - sampler.hat(2.0));
        sampler
    }

    fn sample(&self, rng: &mut Rng) -> u64 {
        loop {
            let u = self.hat_integral_last
                + rng.next_f64() * (self.hat_integral_first - self.hat_integral_last);
            let x = self.hat_integral_inverse(u);
            let rank = (x + 0.5).floor().clamp(1.0, self.count);
            if rank - x <= self.squeeze || u >= self.hat_integral(rank + 0.5) - self.hat(rank) {
                return rank as u64;
            }
        }
    }

    /// The hat function `x^-exponent`.
    fn hat(&self, x: f64) -> f64 {
        (-self.exponent * x.ln()).exp()
    }

    /// An antiderivative of the hat: `(x^(1-e) - 1) / (1-e)`, or `ln x` when `e = 1`.
    fn hat_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        expm1_over_x((1.0 - self.exponent) * log_x) * log_x
    }

    fn hat_integral_inverse(&self, y: f64) -> f64 {
        let t = (y * (1.0 - self.exponent)).max(-1.0);
        (ln1p_over_x(t) * y).exp()
    }
}

/// `(e^x - 1) / x`, continuous at 0.
fn expm1_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 { x.exp_m1() / x } else { 1.0 + x / 2.0 * (1.0 + x / 3.0 * (1.0 + x / 4.0)) }
}

/// `ln(1 + x) / x`, continuous at 0.
fn ln1p_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 { x.ln_1p() / x } else { 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Traffic {
        toml::from_str(text).unwrap()
    }

    fn keys(traffic: &Traffic) -> Vec<String> {
        validate(traffic).into_iter().map(|(key, _, _)| key).collect()
    }

    fn find<'a>(problems: &'a [TrafficProblem], key: &str) -> &'a TrafficProblem {
        problems
            .iter()
            .find(|p| p.0 == key)
            .unwrap_or_else(|| panic!("no problem at {key}: {problems:?}"))
    }

    #[test]
    fn defaults_fill_an_empty_section() {
        let traffic = parse("");
        assert_eq!(traffic, Traffic::default());
        assert_eq!(traffic.requests.len(), 1);
        assert_eq!(traffic.requests[0].method, "GET");
        assert_eq!(traffic.requests[0].path, "/");
        assert!(validate(&traffic).is_empty());
    }

    #[test]
    fn full_section_parses() {
        let traffic = parse(
            r#"
            rate = 12.5
            arrival = "poisson"
            duration = "2m"
            warmup = "5s"
            timeout = "750ms"
            max_connections = 8
            protocol = "http2"
            seed = 99

            [[requests]]
            name = "item"
            path = "/items/{id}?sort={order}"
            weight = 3
            headers = { x-tenant = "{order}" }
            params.id = { zipf = [1, 1000], exponent = 1.2 }
            params.order = { values = ["price", 7, true], weights = [1, 2, 0] }

            [[requests]]
            method = "POST"
            path = "/cart"
            body = '{{"item": {id}}}'
            params.id = { range = [-5, 5] }
            "#,
        );
        assert!(validate(&traffic).is_empty(), "{:?}", validate(&traffic));
        assert_eq!(traffic.arrival, Arrival::Poisson);
        assert_eq!(traffic.protocol, Protocol::Http2);
        assert_eq!(traffic.timeout.0, Duration::from_millis(750));
        let order = &traffic.requests[0].params["order"];
        let values: Vec<&str> =
            order.values.as_ref().unwrap().iter().map(|v| v.0.as_str()).collect();
        assert_eq!(values, ["price", "7", "true"]);
    }

    #[test]
    fn unknown_keys_and_arrivals_are_rejected_by_serde() {
        let err = toml::from_str::<Traffic>("rte = 5").unwrap_err();
        assert!(err.message().contains("unknown field `rte`"), "{err}");
        let err = toml::from_str::<Traffic>("arrival = \"bursty\"").unwrap_err();
        assert!(err.message().contains("unknown variant `bursty`"), "{err}");
        let err =
            toml::from_str::<Traffic>("[[requests]]\npath = \"/\"\nparams.x = { rnage = [1, 2] }")
                .unwrap_err();
        assert!(err.message().contains("unknown field `rnage`"), "{err}");
    }

    #[test]
    fn validation_names_the_key_and_the_fix() {
        let traffic = parse(
            r#"
            rate = 0
            duration = "0s"
            max_connections = 0

            [[requests]]
            path = "/users/{usr}"
            weight = 0
            method = "GE T"
            params.user = { range = [1, 10] }

            [[requests]]
            path = "items"
            headers = { "bad header" = "x" }
            params.a = { range = [10, 1] }
            params.b = { values = [], weights = [1] }
            params.c = { range = [1, 2], values = ["x"] }
            params.d = { range = [1, 2], exponent = 2 }
            params.e = { values = ["two\nlines"] }
            "#,
        );
        let problems = validate(&traffic);
        let rate = find(&problems, "rate");
        assert!(rate.1.contains("positive"), "{rate:?}");
        assert!(rate.2.as_deref().unwrap().contains("rate = 0.5"));
        find(&problems, "duration");
        find(&problems, "max_connections");
        let unknown = find(&problems, "requests[0].path");
        assert_eq!(unknown.1, "unknown parameter `{usr}` in the path");
        assert!(unknown.2.as_deref().unwrap().starts_with("did you mean `{user}`?"), "{unknown:?}");
        assert!(find(&problems, "requests[0].weight").1.contains("positive"));
        find(&problems, "requests[0].method");
        assert!(find(&problems, "requests[0].params.user").1.contains("never used"));
        assert!(find(&problems, "requests[1].path").1.contains("does not start with `/`"));
        find(&problems, "requests[1].headers.\"bad header\"");
        assert!(
            find(&problems, "requests[1].params.a.range").2.as_deref().unwrap().contains("[1, 10]")
        );
        assert!(find(&problems, "requests[1].params.b.values").1.contains("empty"));
        assert!(
            find(&problems, "requests[1].params.b.weights").1.contains("1 weights for 0 values")
        );
        assert!(find(&problems, "requests[1].params.c").1.contains("exactly one"));
        assert!(
            find(&problems, "requests[1].params.d.exponent").1.contains("only applies to `zipf`")
        );
    }

    #[test]
    fn validation_checks_templates_in_headers_and_body() {
        let traffic = parse(
            r#"
            [[requests]]
            path = "/a b"
            headers = { authorization = "Bearer {tokn}" }
            body = '{"id": 1}'
            "#,
        );
        let problems = validate(&traffic);
        assert!(find(&problems, "requests[0].path").1.contains("' '"), "{problems:?}");
        let header = find(&problems, "requests[0].headers.authorization");
        assert_eq!(header.1, "unknown parameter `{tokn}` in the header");
        assert!(header.2.as_deref().unwrap().contains("declares no parameters"));
        let body = find(&problems, "requests[0].body");
        assert_eq!(body.1, "`{\"id\": 1}` in the body is not a parameter name");
        assert!(body.2.as_deref().unwrap().contains("literal braces"));
        let empty = Traffic { requests: vec![], ..Traffic::default() };
        assert_eq!(keys(&empty), ["requests"]);
    }

    #[test]
    fn plan_refuses_an_invalid_model() {
        let traffic = Traffic { rate: -1.0, ..Traffic::default() };
        let err = Plan::new(&traffic, 1).unwrap_err();
        assert!(
            err.to_string().starts_with("`traffic.rate`: the rate must be a positive"),
            "{err}"
        );
    }

    fn mixed_traffic(arrival: Arrival) -> Traffic {
        let mut traffic = parse(
            r#"
            rate = 1000
            duration = "20s"
            warmup = "2s"

            [[requests]]
            path = "/a/{id}?q={word}"
            weight = 3
            params.id = { range = [1, 1000000] }
            params.word = { values = ["x y", "z"], weights = [1, 3] }

            [[requests]]
            method = "POST"
            path = "/b"
            body = '{{"n": {n}}}'
            params.n = { zipf = [1, 100] }
            "#,
        );
        traffic.arrival = arrival;
        traffic
    }

    #[test]
    fn the_same_seed_gives_the_same_plan_and_another_seed_does_not() {
        for arrival in [Arrival::Constant, Arrival::Poisson] {
            let traffic = mixed_traffic(arrival);
            let first = Plan::new(&traffic, 7).unwrap();
            let again = Plan::new(&traffic, 7).unwrap();
            let other = Plan::new(&traffic, 8).unwrap();
            assert!(first.requests().eq(again.requests()));
            assert!(first.requests().eq(first.requests()));
            let differs = first.requests().zip(other.requests()).filter(|(a, b)| a != b).count();
            assert!(differs > 1000, "{arrival:?}: only {differs} requests differ between seeds");
        }
    }

    #[test]
    fn changing_the_mix_keeps_the_arrival_instants() {
        let traffic = mixed_traffic(Arrival::Poisson);
        let mut edited = traffic.clone();
        edited.requests[0].weight = 1.0;
        let a = Plan::new(&traffic, 3).unwrap();
        let b = Plan::new(&edited, 3).unwrap();
        assert!(a.requests().map(|r| r.offset).eq(b.requests().map(|r| r.offset)));
    }

    #[test]
    fn constant_arrivals_are_evenly_spaced_with_phases() {
        let plan = Plan::new(&mixed_traffic(Arrival::Constant), 1).unwrap();
        let offsets: Vec<(u64, Duration, Phase)> = plan.arrivals().collect();
        assert_eq!(offsets.len() as u64, plan.expected_requests());
        assert_eq!(offsets.len(), 22_000);
        for (idx, (sequence, offset, phase)) in offsets.iter().enumerate() {
            assert_eq!(*sequence, idx as u64);
            let expected = Duration::from_micros(idx as u64 * 1000);
            assert!(offset.abs_diff(expected) < Duration::from_nanos(2), "{idx}: {offset:?}");
            let warm = *offset < Duration::from_secs(2);
            assert_eq!(*phase == Phase::Warmup, warm);
        }
        assert_eq!(offsets.iter().filter(|o| o.2 == Phase::Warmup).count(), 2000);
    }

    #[test]
    fn a_replayed_plan_sends_fixed_requests_at_their_instants() {
        let request = |kind: usize, path: &str| FixedRequest {
            kind,
            method: "GET".into(),
            path: path.into(),
            headers: vec![("accept".into(), "text/plain".into())],
            body: String::new(),
        };
        let ms = Duration::from_millis;
        let sends = vec![
            FixedSend { offset: ms(1500), request: 1 },
            FixedSend { offset: ms(0), request: 0 },
            FixedSend { offset: ms(900), request: 0 },
            FixedSend { offset: ms(3000), request: 1 },
        ];
        let plan = Plan::replayed(
            vec!["GET /a".into(), "GET /b".into()],
            vec![request(0, "/a"), request(1, "/b")],
            sends,
            ms(1000),
            ms(1000),
        )
        .unwrap();
        assert!(plan.is_replayed());
        assert_eq!(plan.expected_requests(), 3, "the send at 3 s is after the run");
        assert_eq!(plan.request_names().collect::<Vec<_>>(), ["GET /a", "GET /b"]);
        let planned: Vec<_> = plan
            .requests()
            .map(|r| (r.sequence, r.offset, r.phase, r.content.path.into_owned()))
            .collect();
        assert_eq!(
            planned,
            [
                (0, ms(0), Phase::Warmup, "/a".to_string()),
                (1, ms(900), Phase::Warmup, "/a".to_string()),
                (2, ms(1500), Phase::Measured, "/b".to_string()),
            ]
        );
        assert_eq!(plan.arrivals().count(), 3);
        assert!(plan.contents(0).take(20).all(|c| c.path == "/a" || c.path == "/b"));
        let empty = Plan::replayed(vec!["x".into()], vec![request(0, "/a")], vec![], ms(0), ms(1));
        assert!(empty.unwrap_err().to_string().contains("no request to send"));
    }

    #[test]
    fn a_generated_plan_refuses_a_replay() {
        let traffic = Traffic { replay: Some("prod.jsonl".into()), ..Traffic::default() };
        let error = Plan::new(&traffic, 1).unwrap_err().to_string();
        assert!(
            error.contains("`traffic.replay`") && error.contains("shadowgate replay"),
            "{error}"
        );
    }

    #[test]
    fn the_expected_count_matches_the_constant_schedule() {
        for (rate, duration) in [(30.0, "100ms"), (200.0, "1s"), (7.0, "2500ms"), (0.5, "3s")] {
            let traffic = Traffic {
                rate,
                duration: duration.parse().unwrap(),
                warmup: HumanDuration::from_secs(0),
                ..Traffic::default()
            };
            let plan = Plan::new(&traffic, 1).unwrap();
            assert_eq!(
                plan.arrivals().count() as u64,
                plan.expected_requests(),
                "{rate}/s for {duration}"
            );
        }
    }

    #[test]
    fn poisson_arrivals_have_the_rate_and_exponential_gaps() {
        let plan = Plan::new(&mixed_traffic(Arrival::Poisson), 11).unwrap();
        let offsets: Vec<f64> = plan.arrivals().map(|a| a.1.as_secs_f64()).collect();
        // 22 s at 1000/s: the count is Poisson with mean 22000 and standard deviation ~148.
        let count = offsets.len() as f64;
        assert!((count - 22_000.0).abs() < 600.0, "{count} requests");
        let gaps: Vec<f64> = offsets.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| *g >= 0.0));
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        assert!((mean - 0.001).abs() < 0.00003, "mean gap {mean}");
        // Exponential gaps: the standard deviation equals the mean, and P(gap > mean) = 1/e.
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        assert!(
            (var.sqrt() / mean - 1.0).abs() < 0.05,
            "coefficient of variation {}",
            var.sqrt() / mean
        );
        let longer = gaps.iter().filter(|g| **g > mean).count() as f64 / gaps.len() as f64;
        assert!((longer - (-1.0f64).exp()).abs() < 0.02, "{longer}");
    }

    #[test]
    fn the_mix_and_list_weights_hold_within_tolerance() {
        let plan = Plan::new(&mixed_traffic(Arrival::Constant), 5).unwrap();
        let requests: Vec<PlannedRequest<'_>> = plan.requests().collect();
        let n = requests.len() as f64;
        let share_a = requests.iter().filter(|r| r.content.kind == 0).count() as f64 / n;
        // 22000 draws with p = 0.75: the standard deviation of the share is ~0.003.
        assert!((share_a - 0.75).abs() < 0.015, "share of the first request {share_a}");
        let first: Vec<&PlannedRequest<'_>> =
            requests.iter().filter(|r| r.content.kind == 0).collect();
        let z = first.iter().filter(|r| r.content.path.ends_with("?q=z")).count() as f64;
        let spaced = first.iter().filter(|r| r.content.path.ends_with("?q=x%20y")).count() as f64;
        assert_eq!(z + spaced, first.len() as f64, "every value is encoded in the query");
        assert!(
            (z / first.len() as f64 - 0.75).abs() < 0.02,
            "share of `z` {}",
            z / first.len() as f64
        );
        for r in &requests {
            match r.content.kind {
                0 => {
                    assert_eq!(r.content.method, "GET");
                    let id: i64 =
                        r.content.path["/a/".len()..].split('?').next().unwrap().parse().unwrap();
                    assert!((1..=1_000_000).contains(&id));
                    assert!(r.content.body.is_empty());
                }
                _ => {
                    assert_eq!(r.content.method, "POST");
                    let n: i64 = r
                        .content
                        .body
                        .trim_start_matches("{\"n\": ")
                        .trim_end_matches('}')
                        .parse()
                        .unwrap();
                    assert!((1..=100).contains(&n), "{}", r.content.body);
                }
            }
        }
    }

    #[test]
    fn a_weight_of_zero_in_a_list_is_never_drawn() {
        let traffic = parse(
            "[[requests]]\npath = \"/{v}\"\nparams.v = { values = [\"a\", \"b\", \"c\"], weights = [1, 0, 1] }",
        );
        let plan = Plan::new(&traffic, 3).unwrap();
        let mut seen = BTreeMap::new();
        for content in plan.contents(0).take(5000) {
            *seen.entry(content.path.into_owned()).or_insert(0) += 1;
        }
        assert_eq!(seen.keys().collect::<Vec<_>>(), ["/a", "/c"]);
    }

    #[test]
    fn fixed_requests_are_marked_and_shared() {
        let traffic =
            parse("[[requests]]\npath = \"/ping\"\nheaders = { Accept = \"text/plain\" }");
        let plan = Plan::new(&traffic, 1).unwrap();
        let content = plan.contents(0).next().unwrap();
        assert!(!content.varies);
        assert!(matches!(content.path, Cow::Borrowed("/ping")));
        assert_eq!(content.headers.as_ref(), [("accept".to_string(), "text/plain".to_string())]);
        assert_eq!(plan.request_names().collect::<Vec<_>>(), ["GET /ping"]);
    }

    #[test]
    fn content_streams_are_independent() {
        let plan = Plan::new(&mixed_traffic(Arrival::Constant), 5).unwrap();
        let same = plan
            .contents(1)
            .take(1000)
            .zip(plan.contents(2).take(1000))
            .filter(|(a, b)| a == b)
            .count();
        assert!(same < 50, "{same} of 1000 identical");
        assert!(plan.contents(0).take(100).eq(plan.requests().take(100).map(|r| r.content)));
    }

    fn zipf_frequencies(count: u64, exponent: f64, draws: usize) -> Vec<f64> {
        let sampler = ZipfSampler::new(count as f64, exponent);
        let mut rng = Rng::seed(17);
        let mut hits = vec![0usize; count as usize];
        for _ in 0..draws {
            let rank = sampler.sample(&mut rng);
            assert!((1..=count).contains(&rank), "rank {rank} outside 1..={count}");
            hits[rank as usize - 1] += 1;
        }
        hits.into_iter().map(|h| h as f64 / draws as f64).collect()
    }

    #[test]
    fn zipf_matches_the_exact_distribution() {
        for exponent in [0.5, 1.0, 1.5, 3.0] {
            let count = 20;
            let norm: f64 = (1..=count).map(|k| (k as f64).powf(-exponent)).sum();
            let observed = zipf_frequencies(count, exponent, 400_000);
            for (idx, freq) in observed.iter().enumerate() {
                let expected = ((idx + 1) as f64).powf(-exponent) / norm;
                // Four standard deviations of a binomial share over 400000 draws, plus a floor.
                let tolerance = 4.0 * (expected * (1.0 - expected) / 400_000.0).sqrt() + 1e-4;
                assert!(
                    (freq - expected).abs() < tolerance,
                    "exponent {exponent}, rank {}: {freq} vs {expected}",
                    idx + 1
                );
            }
        }
    }

    #[test]
    fn zipf_over_a_huge_range_stays_in_range_and_favours_the_low_end() {
        let traffic =
            parse("[[requests]]\npath = \"/{k}\"\nparams.k = { zipf = [1000, 9000000000] }");
        let plan = Plan::new(&traffic, 2).unwrap();
        let keys: Vec<i64> =
            plan.contents(0).take(20_000).map(|c| c.path[1..].parse().unwrap()).collect();
        assert!(keys.iter().all(|k| (1000..=9_000_000_000).contains(k)));
        let first = keys.iter().filter(|k| **k == 1000).count() as f64 / keys.len() as f64;
        // P(rank 1) = 1 / H(n) with n ~ 9e9: about 1 / 23.5.
        assert!((first - 1.0 / 23.5).abs() < 0.008, "{first}");
    }

    #[test]
    fn values_are_percent_encoded_in_paths_only() {
        assert_eq!(percent_encode("a b/c?d=é"), "a%20b%2Fc%3Fd%3D%C3%A9");
        let traffic = parse(
            "[[requests]]\npath = \"/s?q={q}\"\nheaders = { x-q = \"{q}\" }\nbody = \"{q}\"\nparams.q = { values = [\"a&b\"] }",
        );
        let plan = Plan::new(&traffic, 1).unwrap();
        let content = plan.contents(0).next().unwrap();
        assert_eq!(content.path, "/s?q=a%26b");
        assert_eq!(content.headers.as_ref(), [("x-q".to_string(), "a&b".to_string())]);
        assert_eq!(content.body, "a&b");
    }
}
