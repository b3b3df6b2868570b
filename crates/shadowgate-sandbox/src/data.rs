//! The manifest's `[data]` loaded into an environment's PostgreSQL before its install steps run.
//!
//! The supervisor connects from the host through the environment's network namespace (a socket
//! made there with [`NetnsSockets`]) straight to the server's own port, not through its fault
//! proxy: the load is preparation, and conditions or faults on the proxy must neither slow it
//! nor change what is loaded. The server keeps listening on loopback only, with no Unix socket.
//!
//! Tables are created with `CREATE TABLE IF NOT EXISTS` from the columns' types, so an
//! application's migration that runs afterwards (an install step) finds them, keeps them, and
//! adds its indexes and constraints on top of the loaded rows.

use std::{collections::BTreeMap, net::SocketAddr, time::Duration};

use serde::{Deserialize, Serialize};
use shadowgate_data::{
    DataConfig, Plan, RowOverrides,
    load::{LoadOptions, load_postgres},
    pg::{Client, Host, PgConfig},
};

use crate::{
    deps::{DepInfo, DepSpec, postgres_database, postgres_user},
    netns::NetnsSockets,
};

/// What to load into which dependency.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DataSpec {
    /// The PostgreSQL dependency to load into.
    pub dependency: String,
    pub seed: u64,
    /// Row counts that replace the manifest's (from predicted conditions).
    #[serde(default)]
    pub rows: BTreeMap<String, u64>,
    pub config: DataConfig,
}

/// What a load did.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Loaded {
    pub dependency: String,
    pub seed: u64,
    pub tables: BTreeMap<String, u64>,
    pub rows: u64,
    pub seconds: f64,
}

/// Builds the plan, connects through the namespace as the application's user and loads it in
/// one transaction.
pub fn load(
    spec: &DataSpec,
    specs: &[DepSpec],
    deps: &[DepInfo],
    sockets: &NetnsSockets,
) -> Result<Loaded, String> {
    let dep = deps.iter().find(|d| d.name == spec.dependency).ok_or_else(|| {
        format!(
            "[data] is to be loaded into dependency `{}`, which is not running",
            spec.dependency
        )
    })?;
    let dep_spec = specs.iter().find(|d| d.name == spec.dependency).ok_or_else(|| {
        format!(
            "[data] is to be loaded into dependency `{}`, which is not declared",
            spec.dependency
        )
    })?;
    let overrides: RowOverrides = spec.rows.iter().map(|(k, v)| (k.clone(), *v)).collect();
    let plan = Plan::new(&spec.config, spec.seed, &overrides).map_err(|e| e.to_string())?;
    let addr: SocketAddr = ([127, 0, 0, 1], dep.service_port).into();
    let timeout = Duration::from_secs(60);
    let stream = sockets
        .connect_std(addr, timeout)
        .map_err(|e| format!("connect to dependency `{}` at {addr}: {e}", dep.name))?;
    let cfg = PgConfig {
        host: Host::Tcp(addr.ip().to_string()),
        port: addr.port(),
        user: postgres_user(dep_spec).to_string(),
        password: None,
        dbname: postgres_database(dep_spec).to_string(),
    };
    let mut client = Client::over_tcp(stream, &cfg, timeout)
        .map_err(|e| format!("dependency `{}`: {e}", dep.name))?;
    let report = load_postgres(&mut client, &plan, &LoadOptions::default())
        .map_err(|e| format!("load [data] into dependency `{}`: {e}", dep.name))?;
    Ok(Loaded {
        dependency: dep.name.clone(),
        seed: spec.seed,
        tables: report.tables.into_iter().collect(),
        rows: report.rows,
        seconds: report.elapsed.as_secs_f64(),
    })
}
