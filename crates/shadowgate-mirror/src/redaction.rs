//! Redaction: what is removed or hashed from an exchange before it is written anywhere.
//!
//! Recordings leave the production boundary (they are replayed in CI and attached to reports),
//! so secrets must never reach them. By default the credentials that travel in headers
//! (`Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`) are dropped. JSON body fields
//! can be removed, or replaced by a keyed hash (HMAC-SHA256) so that equal values still compare
//! equal across a recording (the same user stays the same user) without the value being
//! recoverable by anyone who lacks the key.

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderName, HeaderValue, header};
use serde::Deserialize;
use sha2::Sha256;

use crate::{
    field_path::{FieldPattern, PathSegment},
    http_message::{CapturedRequest, CapturedResponse},
    recording::RedactionSummary,
};

/// The rules applied to every recorded exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedactionRules {
    /// Headers removed from requests and responses.
    pub drop_headers: Vec<HeaderName>,
    /// JSON body fields (requests and responses) replaced by `hmac-sha256:<hex>`.
    pub hash_fields: Vec<FieldPattern>,
    /// JSON body fields (requests and responses) removed.
    pub remove_fields: Vec<FieldPattern>,
    /// The HMAC key; required when `hash_fields` is not empty.
    pub hash_key: Vec<u8>,
}

impl Default for RedactionRules {
    fn default() -> Self {
        RedactionRules {
            drop_headers: vec![
                header::AUTHORIZATION,
                header::PROXY_AUTHORIZATION,
                header::COOKIE,
                header::SET_COOKIE,
            ],
            hash_fields: Vec::new(),
            remove_fields: Vec::new(),
            hash_key: Vec::new(),
        }
    }
}

/// Redaction rules that cannot be applied safely.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("redaction: {0}")]
pub struct RedactionConfigError(String);

/// The TOML form of the rules, for a `--redact FILE` option.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedactionFile {
    /// Replaces the default list of dropped headers when present.
    drop_headers: Option<Vec<String>>,
    #[serde(default)]
    hash_fields: Vec<FieldPattern>,
    #[serde(default)]
    remove_fields: Vec<FieldPattern>,
}

impl RedactionRules {
    /// Parses rules from TOML such as
    /// `drop_headers = ["authorization"]`, `hash_fields = ["user.email"]`,
    /// `remove_fields = ["card.number"]`. The key comes separately, so that it is never stored
    /// beside the rules.
    pub fn from_toml(
        text: &str,
        hash_key: Vec<u8>,
    ) -> Result<RedactionRules, RedactionConfigError> {
        let deserializer = toml::Deserializer::parse(text).map_err(|error| {
            RedactionConfigError(format!("not valid TOML: {}", error.message()))
        })?;
        let file: RedactionFile =
            serde_path_to_error::deserialize(deserializer).map_err(|error| {
                RedactionConfigError(format!(
                    "field `{}`: {}",
                    error.path(),
                    error.inner().message()
                ))
            })?;
        let drop_headers = match file.drop_headers {
            None => RedactionRules::default().drop_headers,
            Some(names) => names
                .iter()
                .map(|name| {
                    HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                        RedactionConfigError(format!(
                            "field `drop_headers`: `{name}` is not a valid header name"
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let rules = RedactionRules {
            drop_headers,
            hash_fields: file.hash_fields,
            remove_fields: file.remove_fields,
            hash_key,
        };
        rules.validate()?;
        Ok(rules)
    }

    /// Checks that the rules can be applied: hashing needs a key of at least 16 bytes.
    pub fn validate(&self) -> Result<(), RedactionConfigError> {
        if !self.hash_fields.is_empty() && self.hash_key.len() < 16 {
            return Err(RedactionConfigError(format!(
                "`hash_fields` needs a hash key of at least 16 bytes (got {}); pass one with --redact-key-file",
                self.hash_key.len()
            )));
        }
        Ok(())
    }

    /// What these rules do, for the recording's header.
    pub fn summary(&self) -> RedactionSummary {
        RedactionSummary {
            dropped_headers: self
                .drop_headers
                .iter()
                .map(|name| name.as_str().to_owned())
                .collect(),
            hashed_fields: self.hash_fields.iter().map(|pattern| pattern.to_string()).collect(),
            removed_fields: self.remove_fields.iter().map(|pattern| pattern.to_string()).collect(),
        }
    }

    pub fn redact_request(&self, request: &mut CapturedRequest) {
        self.redact_message(&mut request.headers, &mut request.body, request.body_truncated);
    }

    pub fn redact_response(&self, response: &mut CapturedResponse) {
        self.redact_message(&mut response.headers, &mut response.body, response.body_truncated);
    }

    fn redact_message(&self, headers: &mut HeaderMap, body: &mut Bytes, body_truncated: bool) {
        for name in &self.drop_headers {
            headers.remove(name);
        }
        if self.hash_fields.is_empty() && self.remove_fields.is_empty() {
            return;
        }
        let looks_like_json = body
            .iter()
            .find(|byte| !byte.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{' || *b == b'[');
        if !looks_like_json {
            return;
        }
        if body_truncated {
            // A cut JSON document cannot be parsed, so field rules cannot be trusted on it.
            *body = Bytes::from_static(b"");
            set_content_length(headers, 0);
            return;
        }
        let Ok(mut document) = serde_json::from_slice::<serde_json::Value>(body) else {
            return;
        };
        let mut path = Vec::new();
        self.redact_value(&mut document, &mut path);
        let rewritten = serde_json::to_vec(&document).unwrap_or_default();
        set_content_length(headers, rewritten.len());
        *body = Bytes::from(rewritten);
    }

    fn redact_value(&self, value: &mut serde_json::Value, path: &mut Vec<PathSegment>) {
        let may_apply = |path: &[PathSegment]| {
            self.hash_fields
                .iter()
                .chain(&self.remove_fields)
                .any(|pattern| pattern.may_match_below(path))
        };
        match value {
            serde_json::Value::Object(map) => {
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in keys {
                    path.push(PathSegment::Key(key.clone()));
                    if self.remove_fields.iter().any(|pattern| pattern.matches(path)) {
                        map.remove(&key);
                    } else if let Some(child) = map.get_mut(&key) {
                        self.redact_child(child, path, &may_apply);
                    }
                    path.pop();
                }
            }
            serde_json::Value::Array(items) => {
                // Removing array items would shift every later index, so removal rules that
                // point at an item replace it with null instead.
                for (idx, child) in items.iter_mut().enumerate() {
                    path.push(PathSegment::Index(idx));
                    if self.remove_fields.iter().any(|pattern| pattern.matches(path)) {
                        *child = serde_json::Value::Null;
                    } else {
                        self.redact_child(child, path, &may_apply);
                    }
                    path.pop();
                }
            }
            _ => {}
        }
    }

    fn redact_child(
        &self,
        child: &mut serde_json::Value,
        path: &mut Vec<PathSegment>,
        may_apply: &dyn Fn(&[PathSegment]) -> bool,
    ) {
        if self.hash_fields.iter().any(|pattern| pattern.matches(path)) {
            *child = serde_json::Value::String(self.keyed_hash(child));
        } else if may_apply(path) {
            self.redact_value(child, path);
        }
    }

    /// `hmac-sha256:` and the first 16 bytes of the HMAC of the value's JSON text, in hex.
    fn keyed_hash(&self, value: &serde_json::Value) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.hash_key) else {
            // HMAC accepts keys of every length; this arm exists only to avoid a panic path.
            return "hmac-sha256:unavailable".to_owned();
        };
        mac.update(value.to_string().as_bytes());
        let digest = mac.finalize().into_bytes();
        let hex: String = digest.iter().take(16).map(|byte| format!("{byte:02x}")).collect();
        format!("hmac-sha256:{hex}")
    }
}

fn set_content_length(headers: &mut HeaderMap, length: usize) {
    if headers.contains_key(header::CONTENT_LENGTH) {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn request(body: &str) -> CapturedRequest {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer secret-token"));
        headers.insert(header::COOKIE, HeaderValue::from_static("sid=abc"));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        CapturedRequest {
            method: Method::POST,
            path_and_query: "/signup".into(),
            headers,
            body: Bytes::from(body.to_owned()),
            body_truncated: false,
        }
    }

    fn rules(hash: &[&str], remove: &[&str]) -> RedactionRules {
        RedactionRules {
            hash_fields: hash.iter().map(|text| text.parse().unwrap()).collect(),
            remove_fields: remove.iter().map(|text| text.parse().unwrap()).collect(),
            hash_key: b"0123456789abcdef-test-key".to_vec(),
            ..RedactionRules::default()
        }
    }

    #[test]
    fn default_rules_drop_credentials_and_keep_the_body() {
        let mut captured = request(r#"{"email":"a@example.com"}"#);
        RedactionRules::default().redact_request(&mut captured);
        assert!(captured.headers.get(header::AUTHORIZATION).is_none());
        assert!(captured.headers.get(header::COOKIE).is_none());
        assert_eq!(captured.headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(captured.body, r#"{"email":"a@example.com"}"#);
    }

    #[test]
    fn hashed_fields_are_keyed_stable_and_removed_fields_are_gone() {
        let body = r#"{"user":{"email":"a@example.com","name":"Ann"},"cards":[{"number":"4111","exp":"12/30"}],"note":"x"}"#;
        let redaction = rules(&["user.email"], &["cards[*].number", "note"]);
        let mut first = request(body);
        redaction.redact_request(&mut first);
        let document: serde_json::Value = serde_json::from_slice(&first.body).unwrap();
        let hashed = document["user"]["email"].as_str().unwrap();
        assert!(
            hashed.starts_with("hmac-sha256:") && hashed.len() == "hmac-sha256:".len() + 32,
            "{hashed}"
        );
        assert_eq!(document["user"]["name"], "Ann");
        assert_eq!(document["cards"][0], serde_json::json!({"exp": "12/30"}));
        assert!(document.get("note").is_none());
        assert!(!String::from_utf8_lossy(&first.body).contains("a@example.com"));
        assert_eq!(first.headers[header::CONTENT_LENGTH], first.body.len().to_string().as_str());

        let mut second = request(body);
        redaction.redact_request(&mut second);
        assert_eq!(first.body, second.body, "the same value hashes the same way");
        let other_key =
            RedactionRules { hash_key: b"another-key-of-16-bytes".to_vec(), ..redaction };
        let mut third = request(body);
        other_key.redact_request(&mut third);
        assert_ne!(first.body, third.body, "the hash depends on the key");
    }

    #[test]
    fn non_json_and_truncated_json_bodies_are_handled_without_leaking() {
        let redaction = rules(&["email"], &[]);
        let mut text = request("email=a@example.com");
        redaction.redact_request(&mut text);
        assert_eq!(text.body, "email=a@example.com", "form bodies are outside JSON field rules");
        let mut truncated = request(r#"{"email":"a@exa"#);
        truncated.body_truncated = true;
        redaction.redact_request(&mut truncated);
        assert!(truncated.body.is_empty());
    }

    #[test]
    fn rules_parse_from_toml_with_clear_errors() {
        let key = b"0123456789abcdef".to_vec();
        let parsed = RedactionRules::from_toml(
            "drop_headers = [\"authorization\", \"x-api-key\"]\nhash_fields = [\"user.email\"]\n",
            key.clone(),
        )
        .unwrap();
        assert_eq!(parsed.drop_headers.len(), 2);
        assert_eq!(parsed.summary().hashed_fields, ["user.email"]);
        for (text, expected) in [
            ("hash_field = []", "unknown field `hash_field`"),
            ("hash_fields = [\"a..b\"]", "hash_fields"),
            ("drop_headers = [\"bad header\"]", "not a valid header name"),
            ("hash_fields = 3", "hash_fields"),
        ] {
            let error = RedactionRules::from_toml(text, key.clone()).unwrap_err().to_string();
            assert!(error.contains(expected), "expected `{expected}` in `{error}`");
        }
        let error =
            RedactionRules::from_toml("hash_fields = [\"email\"]", b"short".to_vec()).unwrap_err();
        assert!(error.to_string().contains("at least 16 bytes"), "{error}");
    }
}
