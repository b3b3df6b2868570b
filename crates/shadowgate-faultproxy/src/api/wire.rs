//! Toxiproxy's JSON shapes: request bodies in, proxies, toxics and errors out.
//!
//! Decoding follows Toxiproxy's lenient rules where clients depend on them (unknown top-level
//! fields are ignored, missing fields take defaults, `null` means "not given") and is strict
//! where a mistake would silently change a test (an unknown or non-numeric attribute is an
//! error naming the attribute).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::{
    error::FaultProxyError,
    registry::{ProxyInfo, ProxySpec, ProxyUpdate, ToxicUpdate, unknown_attribute},
    toxic::{Stream, Toxic, ToxicKind},
};

/// A proxy in a create, populate or update body.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ProxyBody {
    name: Option<String>,
    listen: Option<String>,
    upstream: Option<String>,
    enabled: Option<bool>,
}

impl ProxyBody {
    /// The proxy to create; `enabled` defaults to true, as in Toxiproxy.
    pub(super) fn into_spec(self) -> ProxySpec {
        ProxySpec {
            name: self.name.unwrap_or_default(),
            listen: self.listen.unwrap_or_default(),
            upstream: self.upstream.unwrap_or_default(),
            enabled: self.enabled.unwrap_or(true),
        }
    }

    /// The change to make; the name in the body, if any, is ignored (the path names the proxy).
    pub(super) fn into_update(self) -> ProxyUpdate {
        ProxyUpdate { listen: self.listen, upstream: self.upstream, enabled: self.enabled }
    }
}

/// A toxic in a create or update body.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ToxicBody {
    name: Option<String>,
    #[serde(rename = "type")]
    type_name: Option<String>,
    stream: Option<String>,
    toxicity: Option<f64>,
    attributes: Option<Map<String, Value>>,
}

impl ToxicBody {
    /// The toxic to add, with Toxiproxy's defaults: stream `downstream`, toxicity 1, and name
    /// `<type>_<stream>`.
    pub(super) fn into_toxic(self) -> Result<Toxic, FaultProxyError> {
        let stream = match self.stream.as_deref() {
            None => Stream::Downstream,
            Some(text) => Stream::parse(text)
                .ok_or_else(|| FaultProxyError::InvalidStream(text.to_string()))?,
        };
        let type_name =
            self.type_name.ok_or_else(|| FaultProxyError::MissingField("type".into()))?;
        let Some(known) = ToxicKind::attribute_names(&type_name) else {
            return Err(FaultProxyError::InvalidToxicType(type_name));
        };
        let attributes = attribute_values(self.attributes)?;
        if let Some(unknown) = attributes.keys().find(|key| !known.contains(&key.as_str())) {
            return Err(unknown_attribute(&type_name, unknown));
        }
        let kind = ToxicKind::from_attributes(&type_name, |name| attributes.get(name).copied())
            .map_err(|error| FaultProxyError::BadRequestBody(error.to_string()))?
            .ok_or_else(|| FaultProxyError::InvalidToxicType(type_name.clone()))?;
        let name = self.name.unwrap_or_else(|| format!("{type_name}_{stream}"));
        Ok(Toxic { name, kind, stream, toxicity: self.toxicity.unwrap_or(1.0) })
    }

    /// The change to make. As in Toxiproxy only the attributes and the toxicity can change;
    /// a client that sends the whole toxic back has its name, type and stream ignored.
    pub(super) fn into_update(self) -> Result<ToxicUpdate, FaultProxyError> {
        Ok(ToxicUpdate { attributes: attribute_values(self.attributes)?, toxicity: self.toxicity })
    }
}

/// Reads attribute values, which must be whole numbers of zero or more. `null` counts as not
/// given.
fn attribute_values(
    attributes: Option<Map<String, Value>>,
) -> Result<BTreeMap<String, u64>, FaultProxyError> {
    let mut values = BTreeMap::new();
    for (name, value) in attributes.unwrap_or_default() {
        let number = match &value {
            Value::Null => continue,
            Value::Number(number) => number.as_u64(),
            _ => None,
        };
        let Some(number) = number else {
            let why = if value.as_i64().is_some_and(|number| number < 0) {
                "must not be negative"
            } else {
                "must be a whole number"
            };
            return Err(FaultProxyError::BadRequestBody(format!(
                "attributes.{name}: {why}, got {value}"
            )));
        };
        values.insert(name, number);
    }
    Ok(values)
}

/// Decodes a JSON body, naming the path of the value that failed.
pub(super) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, FaultProxyError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path.is_empty() || path == "." {
            FaultProxyError::BadRequestBody(inner.to_string())
        } else {
            FaultProxyError::BadRequestBody(format!("{path}: {inner}"))
        }
    })?;
    deserializer.end().map_err(|error| FaultProxyError::BadRequestBody(error.to_string()))?;
    Ok(value)
}

#[derive(Serialize)]
pub(super) struct ToxicJson {
    attributes: Map<String, Value>,
    name: String,
    #[serde(rename = "type")]
    type_name: &'static str,
    stream: &'static str,
    toxicity: f64,
}

impl From<&Toxic> for ToxicJson {
    fn from(toxic: &Toxic) -> ToxicJson {
        ToxicJson {
            attributes: toxic
                .kind
                .attributes()
                .into_iter()
                .map(|(name, value)| (name.to_string(), Value::from(value)))
                .collect(),
            name: toxic.name.clone(),
            type_name: toxic.kind.type_name(),
            stream: toxic.stream.as_str(),
            toxicity: toxic.toxicity,
        }
    }
}

#[derive(Serialize)]
pub(super) struct ProxyJson {
    name: String,
    listen: String,
    upstream: String,
    enabled: bool,
    toxics: Vec<ToxicJson>,
}

impl From<&ProxyInfo> for ProxyJson {
    fn from(proxy: &ProxyInfo) -> ProxyJson {
        ProxyJson {
            name: proxy.name.clone(),
            listen: proxy.listen.clone(),
            upstream: proxy.upstream.clone(),
            enabled: proxy.enabled,
            toxics: proxy.toxics.iter().map(ToxicJson::from).collect(),
        }
    }
}

/// The body of `/populate`'s answer; on failure Toxiproxy adds the error fields to it.
#[derive(Serialize)]
pub(super) struct PopulateJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) status: Option<u16>,
    pub(super) proxies: Vec<ProxyJson>,
}

/// Toxiproxy's error body.
#[derive(Serialize)]
pub(super) struct ErrorJson {
    pub(super) error: String,
    pub(super) status: u16,
}

#[cfg(test)]
mod tests;
