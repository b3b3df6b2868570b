//! `[dependencies.NAME]`: services started fresh beside the application in each environment.
//!
//! ```toml
//! [dependencies.db]
//! kind = "postgres"
//! database = "inventory"   # default: the dependency's name
//! user = "app"             # default: "shadowgate"
//!
//! [dependencies.cache]
//! kind = "redis"
//! ```
//!
//! The options are the ones every server version understands; what the server is (which
//! binary, which version) is the machine's business. The application reaches each dependency
//! through `{dep.NAME.url}`, `{dep.NAME.host}` and `{dep.NAME.port}` in its command, and through
//! `SHADOWGATE_DEP_<NAME>_URL` (and `_HOST`, `_PORT`) in its environment.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::KeyPath;
use crate::units::HumanDuration;

/// The kinds of service shadowgate can start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DependencyKind {
    Postgres,
    Redis,
    Nats,
}

impl DependencyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DependencyKind::Postgres => "postgres",
            DependencyKind::Redis => "redis",
            DependencyKind::Nats => "nats",
        }
    }
}

/// `[dependencies.NAME]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    pub kind: DependencyKind,
    /// PostgreSQL only: the database created for the application. Default: the dependency's name.
    #[serde(default)]
    pub database: Option<String>,
    /// PostgreSQL only: the role the application connects as (no password, trust on loopback).
    /// Default: `shadowgate`.
    #[serde(default)]
    pub user: Option<String>,
    /// How long the service may take to answer its protocol probe.
    #[serde(default = "default_ready_timeout")]
    pub ready_timeout: HumanDuration,
}

fn default_ready_timeout() -> HumanDuration {
    HumanDuration::from_secs(30)
}

/// The PostgreSQL user when none is given.
pub const DEFAULT_POSTGRES_USER: &str = "shadowgate";

impl Dependency {
    /// The database name (PostgreSQL): the given one, or the dependency's name.
    pub fn database_or<'a>(&'a self, name: &'a str) -> &'a str {
        self.database.as_deref().unwrap_or(name)
    }

    /// The user name (PostgreSQL): the given one, or [`DEFAULT_POSTGRES_USER`].
    pub fn user_or_default(&self) -> &str {
        self.user.as_deref().unwrap_or(DEFAULT_POSTGRES_USER)
    }
}

/// The placeholders a declared dependency adds to run and install templates.
pub fn placeholders(deps: &BTreeMap<String, Dependency>) -> Vec<String> {
    deps.keys()
        .flat_map(|name| {
            crate::template::DEP_FIELDS.iter().map(move |field| format!("dep.{name}.{field}"))
        })
        .collect()
}

/// The environment variable that carries `field` (`url`, `host`, `port`) of dependency `name`.
pub fn env_var(name: &str, field: &str) -> String {
    format!("SHADOWGATE_DEP_{}_{}", name.to_ascii_uppercase(), field.to_ascii_uppercase())
}

/// Semantic checks of `[dependencies]`.
pub(crate) fn validate(
    deps: &BTreeMap<String, Dependency>,
    problem: &mut impl FnMut(KeyPath, String, Option<String>),
) {
    for (name, dep) in deps {
        let path = KeyPath::root().key("dependencies").key(name);
        if !is_dependency_name(name) {
            problem(
                path.clone(),
                format!("`{name}` is not a valid dependency name"),
                Some(
                    "use 1 to 32 lowercase letters, digits and `_`, starting with a letter \
                     (it becomes `{dep.NAME.url}` and SHADOWGATE_DEP_NAME_URL)"
                        .into(),
                ),
            );
        }
        if dep.kind != DependencyKind::Postgres {
            for (key, set) in [("database", dep.database.is_some()), ("user", dep.user.is_some())] {
                if set {
                    problem(
                        path.clone().key(key),
                        format!(
                            "`{key}` applies only to kind = \"postgres\", not to \"{}\"",
                            dep.kind.as_str()
                        ),
                        Some(format!("remove `{key}` from [dependencies.{name}]")),
                    );
                }
            }
        }
        for (key, value) in [("database", &dep.database), ("user", &dep.user)] {
            if let Some(value) = value
                && !is_sql_name(value)
            {
                problem(
                    path.clone().key(key),
                    format!("`{value}` is not a usable PostgreSQL {key} name"),
                    Some(
                        "use 1 to 63 lowercase letters, digits and `_`, starting with a letter or `_`"
                            .into(),
                    ),
                );
            }
        }
        if dep.ready_timeout.0.is_zero() {
            problem(
                path.key("ready_timeout"),
                "the ready timeout is zero".into(),
                Some("use a positive duration such as \"30s\"".into()),
            );
        }
    }
}

fn is_dependency_name(s: &str) -> bool {
    matches!(s.chars().next(), Some(c) if c.is_ascii_lowercase())
        && s.len() <= 32
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_sql_name(s: &str) -> bool {
    matches!(s.chars().next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
[app]
name = "shop"

[releases.v1]
path = "dist/v1"

[[install]]
name = "migrate"
command = "./shop migrate --db {dep.db.url}"

[run]
command = "./shop --port {port} --db {dep.db.url} --cache {dep.cache.host}:{dep.cache.port}"
env = { EVENTS = "{dep.events.url}" }

[dependencies.db]
kind = "postgres"
user = "app"

[dependencies.cache]
kind = "redis"

[dependencies.events]
kind = "nats"
ready_timeout = "5s"
"#;

    #[test]
    fn dependencies_parse_with_defaults_and_their_placeholders_are_accepted() {
        let m = crate::manifest::parse(MANIFEST, "shadowgate.toml").unwrap();
        let db = &m.dependencies["db"];
        assert_eq!(db.kind, DependencyKind::Postgres);
        assert_eq!(db.database_or("db"), "db");
        assert_eq!(db.user_or_default(), "app");
        assert_eq!(db.ready_timeout.0.as_secs(), 30);
        assert_eq!(m.dependencies["cache"].user_or_default(), DEFAULT_POSTGRES_USER);
        assert_eq!(m.dependencies["events"].kind, DependencyKind::Nats);
        assert_eq!(m.dependencies["events"].ready_timeout.0.as_secs(), 5);
        assert_eq!(env_var("db", "url"), "SHADOWGATE_DEP_DB_URL");
        assert!(placeholders(&m.dependencies).contains(&"dep.events.url".to_string()));
    }

    #[test]
    fn a_placeholder_for_an_undeclared_dependency_is_an_error() {
        let text = MANIFEST
            .replace("[dependencies.events]\nkind = \"nats\"\nready_timeout = \"5s\"\n", "");
        let err = crate::manifest::parse(&text, "shadowgate.toml").unwrap_err().to_string();
        assert!(err.contains("unknown placeholder `{dep.events.url}`"), "{err}");
    }
}
