//! Keyed hashing of identifying label values.
//!
//! A plain hash of a user id or an IPv4 address can be reversed by hashing every candidate, so
//! values are hashed with HMAC-SHA256 under a secret key that never leaves the machine. The
//! same value always maps to the same hash under one key, so series stay distinct and
//! joinable, but nobody without the key can tell which user or host they belong to. Hashed
//! values read `hmac-sha256:` followed by 32 hex digits (the first 128 bits), the same
//! notation the traffic recorder uses for redacted fields.

use std::{collections::HashMap, fmt};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// What every hashed value starts with.
pub const HASH_PREFIX: &str = "hmac-sha256:";

/// The fewest key bytes accepted.
pub const MIN_KEY_BYTES: usize = 16;

/// How many distinct values the hasher remembers before it starts over.
const CACHE_CAPACITY: usize = 100_000;

/// The secret key of the label hash, ready to use.
#[derive(Clone)]
pub struct HashKey {
    keyed: Hmac<Sha256>,
    len: usize,
}

/// A key that is too short to protect anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the label hash key has {found} bytes but needs at least {MIN_KEY_BYTES}; \
     write 32 random bytes (e.g. `head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'`) to the key file"
)]
pub struct HashKeyError {
    pub found: usize,
}

impl HashKey {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<HashKey, HashKeyError> {
        let bytes = bytes.into();
        if bytes.len() < MIN_KEY_BYTES {
            return Err(HashKeyError { found: bytes.len() });
        }
        // HMAC takes keys of any length, so this only fails if that ever changes.
        let keyed = Hmac::<Sha256>::new_from_slice(&bytes)
            .map_err(|_| HashKeyError { found: bytes.len() })?;
        Ok(HashKey { keyed, len: bytes.len() })
    }
}

impl fmt::Debug for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key itself must never reach a log.
        write!(f, "HashKey({} bytes)", self.len)
    }
}

/// Hashes label values under one key, remembering recent results.
pub struct LabelHasher {
    keyed: Hmac<Sha256>,
    cache: HashMap<String, String>,
}

impl LabelHasher {
    pub fn new(key: &HashKey) -> LabelHasher {
        LabelHasher { keyed: key.keyed.clone(), cache: HashMap::new() }
    }

    /// The hashed form of `value`.
    pub fn hash(&mut self, value: &str) -> String {
        if let Some(hashed) = self.cache.get(value) {
            return hashed.clone();
        }
        let mut mac = self.keyed.clone();
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut hashed = String::with_capacity(HASH_PREFIX.len() + 32);
        hashed.push_str(HASH_PREFIX);
        for byte in &digest[..16] {
            hashed.push(char::from(HEX[usize::from(byte >> 4)]));
            hashed.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        if self.cache.len() >= CACHE_CAPACITY {
            self.cache.clear();
        }
        self.cache.insert(value.to_string(), hashed.clone());
        hashed
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_keyed_stable_and_recognisable() {
        let key_a = HashKey::new(*b"0123456789abcdef").unwrap();
        let key_b = HashKey::new(*b"fedcba9876543210").unwrap();
        let mut hasher_a = LabelHasher::new(&key_a);
        let first = hasher_a.hash("alice@example.com");
        assert!(first.starts_with(HASH_PREFIX));
        assert_eq!(first.len(), HASH_PREFIX.len() + 32);
        assert_eq!(hasher_a.hash("alice@example.com"), first, "a cached result is the same");
        assert_eq!(
            LabelHasher::new(&key_a).hash("alice@example.com"),
            first,
            "stable across hashers"
        );
        assert_ne!(
            LabelHasher::new(&key_b).hash("alice@example.com"),
            first,
            "another key, another hash"
        );
        assert_ne!(hasher_a.hash("bob@example.com"), first);
    }

    #[test]
    fn the_hash_is_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?". The key is
        // shorter than this crate accepts, so the check goes through the same MAC type directly.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let digest = mac.finalize().into_bytes();
        assert_eq!(digest[..4], [0x5b, 0xdc, 0xc1, 0x46]);
        let key = HashKey::new(b"Jefe".repeat(4)).unwrap();
        let mut hasher = LabelHasher::new(&key);
        let mut mac = Hmac::<Sha256>::new_from_slice(&b"Jefe".repeat(4)).unwrap();
        mac.update(b"x");
        let expected: String =
            mac.finalize().into_bytes()[..16].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hasher.hash("x"), format!("{HASH_PREFIX}{expected}"));
    }

    #[test]
    fn short_keys_are_refused_and_keys_never_print() {
        let error = HashKey::new(*b"short").unwrap_err();
        assert_eq!(error.found, 5);
        assert!(error.to_string().contains("at least 16"));
        let key = HashKey::new(*b"super-secret-key-material").unwrap();
        assert_eq!(format!("{key:?}"), "HashKey(25 bytes)");
    }
}
