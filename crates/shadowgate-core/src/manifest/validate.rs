//! Semantic checks that the type system cannot express: names, ranges, placeholders.

use super::{KeyPath, Manifest, Problem};
use crate::{
    template::{Template, TemplateError},
    units::ByteSize,
};

/// Placeholders available to `run.command`, `run.env` and `run.workdir`.
pub const RUN_PLACEHOLDERS: &[&str] =
    &["port", "release_dir", "artifact", "data_dir", "tmp_dir", "env_id", "app", "release"];

/// Placeholders available to `[[install]]` commands (the application has no port yet).
pub const INSTALL_PLACEHOLDERS: &[&str] =
    &["release_dir", "artifact", "data_dir", "tmp_dir", "env_id", "app", "release"];

pub(crate) fn validate(m: &Manifest) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut problem = |path: KeyPath, message: String, help: Option<String>| {
        out.push(Problem { path, message, help });
    };
    let root = KeyPath::root();
    super::dependencies::validate(&m.dependencies, &mut problem);
    let dep_placeholders = super::dependencies::placeholders(&m.dependencies);
    let with_deps = |base: &[&'static str]| -> Vec<String> {
        base.iter().map(|s| s.to_string()).chain(dep_placeholders.iter().cloned()).collect()
    };
    let (run_known, install_known) = (with_deps(RUN_PLACEHOLDERS), with_deps(INSTALL_PLACEHOLDERS));
    let run_known: Vec<&str> = run_known.iter().map(String::as_str).collect();
    let install_known: Vec<&str> = install_known.iter().map(String::as_str).collect();

    let name = &m.app.name;
    if !is_app_name(name) {
        problem(
            root.clone().key("app").key("name"),
            format!("`{name}` is not a valid application name"),
            Some("use 1 to 40 lowercase letters, digits and dashes, starting with a letter".into()),
        );
    }

    if m.releases.is_empty() {
        problem(
            root.clone().key("releases"),
            "no releases are declared".into(),
            Some("add at least one `[releases.NAME]` table with a `path`".into()),
        );
    }
    for (rel_name, rel) in &m.releases {
        let path = root.clone().key("releases").key(rel_name);
        if !is_release_name(rel_name) {
            problem(
                path.clone(),
                format!("`{rel_name}` is not a valid release name"),
                Some("use letters, digits, `.`, `_` and `-`, starting with a letter or digit (at most 64)".into()),
            );
        }
        if rel.path.trim().is_empty() {
            problem(
                path.clone().key("path"),
                "the release path is empty".into(),
                Some(
                    "give the directory or file that holds this release, relative to the manifest"
                        .into(),
                ),
            );
        }
        if matches!(&rel.build, Some(b) if b.trim().is_empty()) {
            problem(
                path.key("build"),
                "the build command is empty".into(),
                Some("remove `build` or give a shell command".into()),
            );
        }
    }

    let mut seen_steps = std::collections::BTreeSet::new();
    for (idx, step) in m.install.iter().enumerate() {
        let path = root.clone().key("install").index(idx);
        if step.name.trim().is_empty() {
            problem(path.clone().key("name"), "the step name is empty".into(), None);
        } else if !seen_steps.insert(step.name.as_str()) {
            problem(
                path.clone().key("name"),
                format!("a step named `{}` already exists", step.name),
                Some("give each install step a unique name".into()),
            );
        }
        check_template(
            &mut problem,
            path.clone().key("command"),
            &step.command,
            &install_known,
            true,
        );
        if step.timeout.0.is_zero() {
            problem(
                path.key("timeout"),
                "the timeout is zero".into(),
                Some("use a positive duration such as \"5m\"".into()),
            );
        }
    }

    let run = root.clone().key("run");
    if let Some(t) =
        check_template(&mut problem, run.clone().key("command"), &m.run.command, &run_known, true)
        && m.run.port.is_none()
        && !t.mentions("port")
    {
        problem(
            run.clone().key("command"),
            "the command never uses `{port}`, and no fixed `run.port` is set".into(),
            Some("pass `{port}` to the application (e.g. `--listen 127.0.0.1:{port}`) or set `port = 8080` in [run]".into()),
        );
    }
    if m.run.port == Some(0) {
        problem(
            run.clone().key("port"),
            "port 0 is not a port the application can be reached on".into(),
            Some("remove `port` to let shadowgate choose, or give 1-65535".into()),
        );
    }
    for (key, value) in &m.run.env {
        let path = run.clone().key("env").key(key);
        if !is_env_name(key) {
            problem(
                path.clone(),
                format!("`{key}` is not a valid environment variable name"),
                Some("use letters, digits and `_`, not starting with a digit".into()),
            );
        }
        check_template(&mut problem, path, value, &run_known, false);
    }
    if let Some(workdir) = &m.run.workdir {
        check_template(&mut problem, run.clone().key("workdir"), workdir, &run_known, false);
    }

    if let Some(path) = &m.run.metrics
        && !is_http_path(path)
    {
        problem(
            run.clone().key("metrics"),
            format!("`{path}` is not an HTTP path"),
            Some("write an absolute path such as \"/metrics\"".into()),
        );
    }

    let health = run.clone().key("health");
    let h = &m.run.health;
    match (&h.http, h.tcp) {
        (Some(_), Some(true)) => problem(
            health.clone().key("tcp"),
            "both `http` and `tcp` probes are set".into(),
            Some("keep one: `http = \"/healthz\"` or `tcp = true`".into()),
        ),
        (None, Some(false)) => problem(
            health.clone().key("tcp"),
            "`tcp = false` leaves no health probe".into(),
            Some("set `http = \"/healthz\"`, or `tcp = true`".into()),
        ),
        _ => {}
    }
    if let Some(path) = &h.http
        && !is_http_path(path)
    {
        problem(
            health.clone().key("http"),
            format!("`{path}` is not an HTTP path"),
            Some("write an absolute path such as \"/healthz\"".into()),
        );
    }
    if h.timeout.0.is_zero() {
        problem(
            health.clone().key("timeout"),
            "the health timeout is zero".into(),
            Some("use a positive duration such as \"30s\"".into()),
        );
    }
    if h.interval.0.is_zero() {
        problem(
            health.clone().key("interval"),
            "the probe interval is zero".into(),
            Some("use a positive duration such as \"100ms\"".into()),
        );
    } else if h.interval.0 > h.timeout.0 {
        problem(
            health.key("interval"),
            format!(
                "the probe interval ({}) is longer than the timeout ({})",
                h.interval, h.timeout
            ),
            Some("make the interval shorter than the timeout".into()),
        );
    }

    let res = root.clone().key("resources");
    let r = &m.resources;
    if !(r.cpu.is_finite() && r.cpu >= 0.01 && r.cpu <= 1024.0) {
        problem(
            res.clone().key("cpu"),
            format!("{} cores is not a usable CPU limit", r.cpu),
            Some("give cores as a number between 0.01 and 1024, e.g. 0.5 or 2".into()),
        );
    }
    if r.memory.0 < 4 * ByteSize::MIB {
        problem(
            res.clone().key("memory"),
            format!("{} is too little memory to start a process", r.memory),
            Some("give at least \"4MiB\"".into()),
        );
    }
    if r.pids == 0 {
        problem(
            res.clone().key("pids"),
            "a pids limit of 0 cannot even start the application".into(),
            Some("give at least 1 (16 or more is sensible)".into()),
        );
    }
    if r.disk.0 < ByteSize::MIB {
        problem(
            res.clone().key("disk"),
            format!("{} is too small for a writable layer", r.disk),
            Some("give at least \"1MiB\"".into()),
        );
    }
    for (key, value) in [("io_read_bps", r.io_read_bps), ("io_write_bps", r.io_write_bps)] {
        if let Some(v) = value
            && v.0 < 4096
        {
            problem(
                res.clone().key(key),
                format!("{v} per second would stall the application"),
                Some("give at least \"4KiB\" or remove the limit".into()),
            );
        }
    }

    for (key, value) in &m.labels {
        let path = root.clone().key("labels").key(key);
        if key.starts_with("shadowgate.") {
            problem(
                path.clone(),
                format!("label `{key}` uses the reserved `shadowgate.` prefix"),
                Some("shadowgate sets those labels itself; choose another key".into()),
            );
        } else if !is_label_key(key) {
            problem(
                path.clone(),
                format!("`{key}` is not a valid label key"),
                Some("use 1 to 63 letters, digits, `.`, `_`, `/` and `-`".into()),
            );
        }
        if value.len() > 256 || value.chars().any(char::is_control) {
            problem(
                path,
                "the label value is longer than 256 characters or contains control characters"
                    .into(),
                None,
            );
        }
    }

    if let Some(traffic) = &m.traffic {
        for (path, message, help) in crate::traffic::validate(traffic) {
            problem(KeyPath::parse_under(root.clone().key("traffic"), &path), message, help);
        }
    }
    if let Some(diff) = &m.diff {
        for (path, message, help) in crate::diff::validate(diff) {
            problem(KeyPath::parse_under(root.clone().key("diff"), &path), message, help);
        }
    }
    if let Some(judge) = &m.judge {
        for p in shadowgate_judge::validate(judge) {
            problem(
                KeyPath::parse_under(root.clone().key("judge"), &p.path),
                p.message,
                Some(p.help),
            );
        }
    }
    // A replayed recording names its own request kinds; only the generated mix is checked here.
    if let Some(judge) =
        m.judge.as_ref().filter(|_| m.traffic.as_ref().is_none_or(|t| t.replay.is_none()))
    {
        let named: Vec<&str> = m
            .traffic
            .iter()
            .flat_map(|t| t.requests.iter().filter_map(|r| r.name.as_deref()))
            .collect();
        for (i, metric) in judge.metrics.iter().enumerate() {
            use shadowgate_judge::source::MetricSource::{RequestErrorsOf, RequestLatencyOf};
            let (RequestLatencyOf { request } | RequestErrorsOf { request }) = &metric.source
            else {
                continue;
            };
            if !named.contains(&request.as_str()) {
                problem(
                    KeyPath::parse_under(
                        root.clone().key("judge"),
                        &format!("metrics[{i}].source"),
                    ),
                    format!("no [[traffic.requests]] entry is named `{request}`"),
                    Some(if named.is_empty() {
                        format!("give a [[traffic.requests]] entry `name = \"{request}\"`")
                    } else {
                        format!("use one of the named requests: {}", named.join(", "))
                    }),
                );
            }
        }
    }
    if let Some(data) = &m.data {
        for p in shadowgate_data::validate(data) {
            problem(
                KeyPath::parse_under(root.clone().key("data"), &p.path),
                p.message,
                Some(p.help),
            );
        }
    }
    let dep_names: Vec<&str> = m.dependencies.keys().map(String::as_str).collect();
    for (path, message, help) in crate::scenario::validate(&m.scenarios, &m.tests, &dep_names) {
        problem(KeyPath::parse_under(root.clone(), &path), message, help);
    }
    if let Some(conditions) = &m.conditions {
        let tables = m.data.as_ref().map(|d| d.tables.iter().map(|t| t.name.as_str()).collect());
        super::conditions::validate(conditions, &dep_names, tables, &mut problem);
    }
    out
}

fn check_template(
    problem: &mut impl FnMut(KeyPath, String, Option<String>),
    path: KeyPath,
    source: &str,
    known: &[&str],
    must_be_non_empty: bool,
) -> Option<Template> {
    if must_be_non_empty && source.trim().is_empty() {
        problem(path, "the command is empty".into(), Some("give the shell command to run".into()));
        return None;
    }
    let template = match Template::parse(source) {
        Ok(t) => t,
        Err(e) => {
            problem(path, format!("bad template: {e}"), None);
            return None;
        }
    };
    match template.check(known, &[]) {
        Ok(()) => Some(template),
        Err(TemplateError::Unknown { name, suggestion, .. }) => {
            let list = known.iter().map(|k| format!("{{{k}}}")).collect::<Vec<_>>().join(", ");
            let help = match suggestion {
                Some(s) => format!("did you mean `{{{s}}}`? available here: {list}"),
                None => format!("available here: {list}"),
            };
            problem(path, format!("unknown placeholder `{{{name}}}`"), Some(help));
            None
        }
        Err(e) => {
            problem(path, format!("bad template: {e}"), None);
            None
        }
    }
}

fn is_app_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && s.len() <= 40
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_release_name(s: &str) -> bool {
    matches!(s.chars().next(), Some(c) if c.is_ascii_alphanumeric())
        && s.len() <= 64
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

fn is_env_name(s: &str) -> bool {
    matches!(s.chars().next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_label_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
}

/// An absolute HTTP path without blanks or control characters.
fn is_http_path(path: &str) -> bool {
    path.starts_with('/') && !path.chars().any(|c| c.is_whitespace() || c.is_control())
}
