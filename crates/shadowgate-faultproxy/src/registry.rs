//! The proxies of one fault-proxy server and the operations on them, callable in process.
//!
//! The HTTP API is a thin layer over [`FaultProxy`]; the orchestrator calls the same methods
//! directly to add and remove toxics on a timeline. All operations take one lock, so they apply
//! in a single order, and each returns only when its effect is in force: a proxy that was
//! disabled has stopped listening and cut its connections, and a toxic that was added is on its
//! way to every live connection.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::SocketAddr,
    sync::Arc,
};

use tokio::sync::{Mutex, watch};

use crate::{
    address::{check_address, check_name, check_not_itself},
    connection::{ConnectionSeeds, ConnectionSettings, ToxicChains},
    error::FaultProxyError,
    listener::RunningListener,
    schedule::ChainEntry,
    toxic::{Stream, Toxic, ToxicKind, validate_toxicity},
};

/// The listen address used when a proxy is created without one: loopback, any free port.
/// (Toxiproxy would listen on every interface; a fault proxy should not be reachable from
/// outside unless asked to be.)
pub const DEFAULT_LISTEN: &str = "127.0.0.1:0";

/// A proxy to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxySpec {
    pub name: String,
    /// `host:port` to listen on; port 0 picks a free port. Empty means [`DEFAULT_LISTEN`].
    pub listen: String,
    /// `host:port` of the server the proxy forwards to, resolved at each connection.
    pub upstream: String,
    /// Whether the proxy listens right away.
    pub enabled: bool,
}

/// A change to a proxy; fields left `None` keep their value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyUpdate {
    pub listen: Option<String>,
    pub upstream: Option<String>,
    pub enabled: Option<bool>,
}

/// A change to a toxic: attributes to set by name (the others keep their values), and
/// optionally a new toxicity.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ToxicUpdate {
    pub attributes: BTreeMap<String, u64>,
    pub toxicity: Option<f64>,
}

/// A proxy as it is now.
#[derive(Clone, Debug, PartialEq)]
pub struct ProxyInfo {
    pub name: String,
    /// The address the proxy listens on; once it has listened, the port actually bound.
    pub listen: String,
    pub upstream: String,
    pub enabled: bool,
    /// Upstream toxics first, then downstream ones, each in the order they were added.
    pub toxics: Vec<Toxic>,
}

#[derive(Debug)]
struct ToxicEntry {
    id: u64,
    revision: u64,
    toxic: Toxic,
}

#[derive(Debug)]
struct ProxyEntry {
    listen: String,
    upstream: String,
    toxics: Vec<ToxicEntry>,
    chains: watch::Sender<Arc<ToxicChains>>,
    listener: Option<RunningListener>,
}

#[derive(Debug, Default)]
struct Registry {
    proxies: BTreeMap<String, ProxyEntry>,
    /// Source of toxic ids and revisions; every create and update takes the next number.
    last_revision: u64,
}

#[derive(Debug)]
struct Shared {
    registry: Mutex<Registry>,
    seeds: Arc<ConnectionSeeds>,
}

/// A fault-proxy server's proxies and toxics. Cloning it gives another handle to the same
/// proxies. Dropping the last handle closes every proxy and connection.
#[derive(Clone, Debug)]
pub struct FaultProxy {
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// An empty server. `seed` determines every random choice (toxicity draws, jitter, slice
    /// sizes); connections take their generators in the order they are accepted.
    pub fn new(seed: u64) -> FaultProxy {
        FaultProxy {
            shared: Arc::new(Shared {
                registry: Mutex::new(Registry::default()),
                seeds: Arc::new(ConnectionSeeds::new(seed)),
            }),
        }
    }

    /// All proxies, by name.
    pub async fn proxies(&self) -> Vec<ProxyInfo> {
        let registry = self.shared.registry.lock().await;
        registry.proxies.iter().map(|(name, entry)| entry.info(name)).collect()
    }

    /// One proxy.
    pub async fn proxy(&self, name: &str) -> Result<ProxyInfo, FaultProxyError> {
        let registry = self.shared.registry.lock().await;
        Ok(registry.get(name)?.info(name))
    }

    /// Creates a proxy, listening at once if `spec.enabled`.
    pub async fn create_proxy(&self, spec: ProxySpec) -> Result<ProxyInfo, FaultProxyError> {
        let spec = checked_spec(spec)?;
        let mut registry = self.shared.registry.lock().await;
        if registry.proxies.contains_key(&spec.name) {
            return Err(FaultProxyError::ProxyAlreadyExists(spec.name));
        }
        let entry = self.new_entry(&spec)?;
        let info = entry.info(&spec.name);
        registry.proxies.insert(spec.name, entry);
        Ok(info)
    }

    /// Creates or replaces several proxies, as Toxiproxy's `/populate` does: every spec is
    /// checked before anything changes; a proxy that already exists with the same listen and
    /// upstream addresses is kept as it is (toxics included), and any other is replaced.
    pub async fn populate(&self, specs: Vec<ProxySpec>) -> Result<Vec<ProxyInfo>, FaultProxyError> {
        let mut names = BTreeSet::new();
        let mut checked = Vec::with_capacity(specs.len());
        for (index, spec) in specs.into_iter().enumerate() {
            let spec = checked_spec(spec).map_err(|error| match error {
                FaultProxyError::MissingField(field) => {
                    FaultProxyError::MissingField(format!("{field} at proxy {}", index + 1))
                }
                other => other,
            })?;
            if !names.insert(spec.name.clone()) {
                return Err(FaultProxyError::BadRequestBody(format!(
                    "proxy `{}` appears more than once; give each proxy its own name",
                    spec.name
                )));
            }
            checked.push(spec);
        }
        let mut registry = self.shared.registry.lock().await;
        let mut infos = Vec::with_capacity(checked.len());
        for spec in checked {
            if let Some(existing) = registry.proxies.get(&spec.name) {
                if same_address(&existing.listen, &spec.listen)
                    && existing.upstream == spec.upstream
                {
                    infos.push(existing.info(&spec.name));
                    continue;
                }
                if let Some(old) = registry.proxies.remove(&spec.name) {
                    old.stop().await;
                }
            }
            let entry = self.new_entry(&spec)?;
            infos.push(entry.info(&spec.name));
            registry.proxies.insert(spec.name, entry);
        }
        Ok(infos)
    }

    /// Changes a proxy's addresses or turns it on or off. A change of address restarts the
    /// listener and cuts open connections; disabling closes the listener and every connection.
    pub async fn update_proxy(
        &self,
        name: &str,
        update: ProxyUpdate,
    ) -> Result<ProxyInfo, FaultProxyError> {
        if let Some(listen) = &update.listen {
            check_address("listen", listen)?;
        }
        if let Some(upstream) = &update.upstream {
            check_address("upstream", upstream)?;
        }
        let mut registry = self.shared.registry.lock().await;
        let entry = registry.get_mut(name)?;
        let enabled = update.enabled.unwrap_or(entry.listener.is_some());
        let listen = update.listen.unwrap_or_else(|| entry.listen.clone());
        let upstream = update.upstream.unwrap_or_else(|| entry.upstream.clone());
        check_not_itself(&listen, &upstream)?;
        if !same_address(&entry.listen, &listen) || entry.upstream != upstream {
            if let Some(listener) = entry.listener.take() {
                listener.stop().await;
            }
            entry.listen = listen;
            entry.upstream = upstream;
        }
        if enabled {
            self.enable(entry)?;
        } else if let Some(listener) = entry.listener.take() {
            listener.stop().await;
        }
        Ok(entry.info(name))
    }

    /// Deletes a proxy, closing its listener and connections.
    pub async fn delete_proxy(&self, name: &str) -> Result<(), FaultProxyError> {
        let mut registry = self.shared.registry.lock().await;
        let entry = registry
            .proxies
            .remove(name)
            .ok_or_else(|| FaultProxyError::ProxyNotFound(name.to_string()))?;
        entry.stop().await;
        Ok(())
    }

    /// Enables every proxy and removes every toxic, as Toxiproxy's `/reset` does.
    pub async fn reset(&self) -> Result<(), FaultProxyError> {
        let mut registry = self.shared.registry.lock().await;
        for entry in registry.proxies.values_mut() {
            self.enable(entry)?;
            entry.toxics.clear();
            entry.publish_chains();
        }
        Ok(())
    }

    /// Disables every proxy: closes all listeners and connections. Proxies and toxics stay
    /// registered; [`FaultProxy::reset`] or an update enables them again.
    pub async fn shutdown(&self) {
        let mut registry = self.shared.registry.lock().await;
        for entry in registry.proxies.values_mut() {
            if let Some(listener) = entry.listener.take() {
                listener.stop().await;
            }
        }
    }

    /// A proxy's toxics: upstream ones first, then downstream ones, each in the order added.
    pub async fn toxics(&self, proxy: &str) -> Result<Vec<Toxic>, FaultProxyError> {
        let registry = self.shared.registry.lock().await;
        Ok(registry.get(proxy)?.ordered_toxics())
    }

    /// One toxic of a proxy.
    pub async fn toxic(&self, proxy: &str, name: &str) -> Result<Toxic, FaultProxyError> {
        let registry = self.shared.registry.lock().await;
        let entry = registry.get(proxy)?;
        Ok(entry.find_toxic(proxy, name)?.toxic.clone())
    }

    /// Adds a toxic at the end of its stream's chain. It acts on live connections at once.
    pub async fn add_toxic(&self, proxy: &str, toxic: Toxic) -> Result<Toxic, FaultProxyError> {
        check_name("toxic", &toxic.name)?;
        validate_toxicity(toxic.toxicity).map_err(FaultProxyError::BadRequestBody)?;
        toxic
            .kind
            .validate()
            .map_err(|error| FaultProxyError::BadRequestBody(error.to_string()))?;
        let mut registry = self.shared.registry.lock().await;
        let revision = registry.next_revision();
        let entry = registry.get_mut(proxy)?;
        if entry.toxics.iter().any(|existing| existing.toxic.name == toxic.name) {
            return Err(FaultProxyError::ToxicAlreadyExists {
                proxy: proxy.to_string(),
                toxic: toxic.name,
            });
        }
        entry.toxics.push(ToxicEntry { id: revision, revision, toxic: toxic.clone() });
        entry.publish_chains();
        Ok(toxic)
    }

    /// Changes a toxic's attributes or toxicity. Its type, stream and place in the chain stay.
    pub async fn update_toxic(
        &self,
        proxy: &str,
        name: &str,
        update: ToxicUpdate,
    ) -> Result<Toxic, FaultProxyError> {
        let mut registry = self.shared.registry.lock().await;
        let revision = registry.next_revision();
        let entry = registry.get_mut(proxy)?;
        let toxic_entry = entry.find_toxic_mut(proxy, name)?;
        let current = &toxic_entry.toxic;
        let type_name = current.kind.type_name();
        let known = ToxicKind::attribute_names(type_name).unwrap_or(&[]);
        if let Some(unknown) = update.attributes.keys().find(|key| !known.contains(&key.as_str())) {
            return Err(unknown_attribute(type_name, unknown));
        }
        let current_values: BTreeMap<&str, u64> = current.kind.attributes().into_iter().collect();
        let kind = ToxicKind::from_attributes(type_name, |attribute| {
            update.attributes.get(attribute).or(current_values.get(attribute)).copied()
        })
        .map_err(|error| FaultProxyError::BadRequestBody(error.to_string()))?
        .ok_or_else(|| FaultProxyError::InvalidToxicType(type_name.to_string()))?;
        let toxicity = update.toxicity.unwrap_or(current.toxicity);
        validate_toxicity(toxicity).map_err(FaultProxyError::BadRequestBody)?;
        toxic_entry.toxic.kind = kind;
        toxic_entry.toxic.toxicity = toxicity;
        toxic_entry.revision = revision;
        let updated = toxic_entry.toxic.clone();
        entry.publish_chains();
        Ok(updated)
    }

    /// Removes a toxic. Data it was holding on live connections is released at once; a
    /// `timeout` that was dropping data closes the connections it acted on.
    pub async fn remove_toxic(&self, proxy: &str, name: &str) -> Result<(), FaultProxyError> {
        let mut registry = self.shared.registry.lock().await;
        let entry = registry.get_mut(proxy)?;
        let index =
            entry.toxics.iter().position(|existing| existing.toxic.name == name).ok_or_else(
                || FaultProxyError::ToxicNotFound {
                    proxy: proxy.to_string(),
                    toxic: name.to_string(),
                },
            )?;
        entry.toxics.remove(index);
        entry.publish_chains();
        Ok(())
    }

    /// A new, possibly listening, entry for a checked spec.
    fn new_entry(&self, spec: &ProxySpec) -> Result<ProxyEntry, FaultProxyError> {
        let (chains, _) = watch::channel(Arc::new(ToxicChains::default()));
        let mut entry = ProxyEntry {
            listen: spec.listen.clone(),
            upstream: spec.upstream.clone(),
            toxics: Vec::new(),
            chains,
            listener: None,
        };
        if spec.enabled {
            self.enable(&mut entry)?;
        }
        Ok(entry)
    }

    /// Starts listening if the proxy is not, recording the address actually bound.
    fn enable(&self, entry: &mut ProxyEntry) -> Result<(), FaultProxyError> {
        if entry.listener.is_some() {
            return Ok(());
        }
        let settings = ConnectionSettings {
            upstream: Arc::from(entry.upstream.as_str()),
            chains: entry.chains.subscribe(),
            seeds: Arc::clone(&self.shared.seeds),
        };
        let listener = RunningListener::start(&entry.listen, settings)?;
        entry.listen = listener.local_address().to_string();
        entry.listener = Some(listener);
        Ok(())
    }
}

impl Registry {
    fn get(&self, name: &str) -> Result<&ProxyEntry, FaultProxyError> {
        self.proxies.get(name).ok_or_else(|| FaultProxyError::ProxyNotFound(name.to_string()))
    }

    fn get_mut(&mut self, name: &str) -> Result<&mut ProxyEntry, FaultProxyError> {
        self.proxies.get_mut(name).ok_or_else(|| FaultProxyError::ProxyNotFound(name.to_string()))
    }

    fn next_revision(&mut self) -> u64 {
        self.last_revision += 1;
        self.last_revision
    }
}

impl ProxyEntry {
    fn info(&self, name: &str) -> ProxyInfo {
        ProxyInfo {
            name: name.to_string(),
            listen: self.listen.clone(),
            upstream: self.upstream.clone(),
            enabled: self.listener.is_some(),
            toxics: self.ordered_toxics(),
        }
    }

    fn ordered_toxics(&self) -> Vec<Toxic> {
        let of_stream =
            |stream: Stream| self.toxics.iter().filter(move |entry| entry.toxic.stream == stream);
        of_stream(Stream::Upstream)
            .chain(of_stream(Stream::Downstream))
            .map(|entry| entry.toxic.clone())
            .collect()
    }

    fn find_toxic(&self, proxy: &str, name: &str) -> Result<&ToxicEntry, FaultProxyError> {
        self.toxics.iter().find(|entry| entry.toxic.name == name).ok_or_else(|| {
            FaultProxyError::ToxicNotFound { proxy: proxy.to_string(), toxic: name.to_string() }
        })
    }

    fn find_toxic_mut(
        &mut self,
        proxy: &str,
        name: &str,
    ) -> Result<&mut ToxicEntry, FaultProxyError> {
        self.toxics.iter_mut().find(|entry| entry.toxic.name == name).ok_or_else(|| {
            FaultProxyError::ToxicNotFound { proxy: proxy.to_string(), toxic: name.to_string() }
        })
    }

    /// Sends the current chains to every live connection of this proxy.
    fn publish_chains(&self) {
        let chain_of = |stream: Stream| {
            self.toxics
                .iter()
                .filter(|entry| entry.toxic.stream == stream)
                .map(|entry| ChainEntry {
                    id: entry.id,
                    revision: entry.revision,
                    kind: entry.toxic.kind,
                    toxicity: entry.toxic.toxicity,
                })
                .collect()
        };
        self.chains.send_replace(Arc::new(ToxicChains {
            upstream: chain_of(Stream::Upstream),
            downstream: chain_of(Stream::Downstream),
        }));
    }

    async fn stop(self) {
        if let Some(listener) = self.listener {
            listener.stop().await;
        }
    }
}

/// Checks a spec's name and addresses, filling in the default listen address.
fn checked_spec(mut spec: ProxySpec) -> Result<ProxySpec, FaultProxyError> {
    check_name("proxy", &spec.name)?;
    if spec.upstream.is_empty() {
        return Err(FaultProxyError::MissingField("upstream".to_string()));
    }
    check_address("upstream", &spec.upstream)?;
    if spec.listen.is_empty() {
        spec.listen = DEFAULT_LISTEN.to_string();
    }
    check_address("listen", &spec.listen)?;
    check_not_itself(&spec.listen, &spec.upstream)?;
    Ok(spec)
}

/// Whether two listen addresses are the same, comparing IP addresses by value.
fn same_address(left: &str, right: &str) -> bool {
    match (left.parse::<SocketAddr>(), right.parse::<SocketAddr>()) {
        (Ok(left), Ok(right)) => left == right,
        _ => left == right,
    }
}

/// The error for an attribute a toxic type does not have.
pub(crate) fn unknown_attribute(type_name: &str, attribute: &str) -> FaultProxyError {
    let known = ToxicKind::attribute_names(type_name).unwrap_or(&[]).join(", ");
    FaultProxyError::BadRequestBody(format!(
        "attributes.{attribute}: a {type_name} toxic has no such attribute; it takes {known}"
    ))
}
