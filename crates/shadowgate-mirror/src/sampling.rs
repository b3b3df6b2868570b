//! Consistent sampling: which requests are mirrored or recorded.
//!
//! A request is sampled when a hash of its key falls below the rate. Hashing (rather than drawing
//! a random number) keeps a key's decision stable, so every request of a user goes to the
//! shadow or none does, and a key sampled at 10% is also sampled at 20%. The key is a header, a
//! cookie, the path, or the request's sequence number; requests that lack the configured header
//! or cookie fall back to their sequence number, so the overall rate still holds.
//!
//! The hash is 64-bit FNV-1a (as GoReplay's header limiter uses) followed by the SplitMix64
//! finalizer, whose avalanche makes similar keys (`user-1`, `user-2`) land in unrelated buckets.

use std::{fmt, str::FromStr};

use http::{HeaderMap, HeaderName, header};

/// The resolution of a sampling rate: one part per million.
const PARTS: u64 = 1_000_000;

/// A sampling rate between 0% and 100%, with a resolution of 0.0001%.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SampleRate {
    parts_per_million: u32,
}

impl SampleRate {
    pub const ALL: SampleRate = SampleRate { parts_per_million: PARTS as u32 };
    pub const NONE: SampleRate = SampleRate { parts_per_million: 0 };

    /// The rate as a fraction in [0, 1].
    pub fn fraction(self) -> f64 {
        self.parts_per_million as f64 / PARTS as f64
    }

    /// Builds a rate from a fraction in [0, 1]; other values are an error.
    pub fn from_fraction(fraction: f64) -> Result<SampleRate, SampleConfigError> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(SampleConfigError(format!(
                "sample rate {fraction} is outside 0..1; write a percentage such as `10%`"
            )));
        }
        Ok(SampleRate { parts_per_million: (fraction * PARTS as f64).round() as u32 })
    }
}

/// A sampling rate or key that could not be understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SampleConfigError(String);

impl FromStr for SampleRate {
    type Err = SampleConfigError;

    /// Parses `10%`, `0.5%` or a fraction such as `0.1`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let (number, scale) = match trimmed.strip_suffix('%') {
            Some(number) => (number.trim(), 100.0),
            None => (trimmed, 1.0),
        };
        let value: f64 = number.parse().map_err(|_| {
            SampleConfigError(format!(
                "sample rate `{text}` is not a number; write a percentage such as `10%` or `100%`"
            ))
        })?;
        if !value.is_finite() || value < 0.0 || value > scale {
            return Err(SampleConfigError(format!(
                "sample rate `{text}` must lie between 0% and 100%"
            )));
        }
        SampleRate::from_fraction(value / scale)
    }
}

impl fmt::Display for SampleRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let percent = self.parts_per_million as f64 / (PARTS as f64 / 100.0);
        write!(f, "{percent}%")
    }
}

/// What identifies the requests that must be sampled together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SampleKey {
    /// Each request on its own (its sequence number is the key).
    Request,
    /// The value of a request header, for example a user or visitor id header.
    Header(HeaderName),
    /// The value of a cookie.
    Cookie(String),
    /// The path, without the query string.
    Path,
}

impl FromStr for SampleKey {
    type Err = SampleConfigError;

    /// Parses `request`, `path`, `header:<name>` or `cookie:<name>`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let bad = || {
            SampleConfigError(format!(
                "sample key `{text}` is not understood; use `request`, `path`, `header:<name>` or `cookie:<name>`"
            ))
        };
        match trimmed.split_once(':') {
            None if trimmed == "request" => Ok(SampleKey::Request),
            None if trimmed == "path" => Ok(SampleKey::Path),
            Some(("header", name)) => HeaderName::from_bytes(name.trim().as_bytes())
                .map(SampleKey::Header)
                .map_err(|_| {
                    SampleConfigError(format!(
                        "sample key `{text}`: `{name}` is not a valid header name"
                    ))
                }),
            Some(("cookie", name)) if !name.trim().is_empty() => {
                Ok(SampleKey::Cookie(name.trim().to_owned()))
            }
            _ => Err(bad()),
        }
    }
}

/// The sampling decision for one proxy or recorder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sampler {
    pub rate: SampleRate,
    pub key: SampleKey,
    /// Mixed into every hash, so that a different salt picks a different set of users.
    pub salt: u64,
}

impl Sampler {
    /// Decides whether the request is sampled. `sequence` is the request's arrival number, used
    /// when the key is [`SampleKey::Request`] or when the request lacks the configured key.
    pub fn decide(&self, path: &str, headers: &HeaderMap, sequence: u64) -> bool {
        if self.rate == SampleRate::ALL {
            return true;
        }
        if self.rate == SampleRate::NONE {
            return false;
        }
        let key_hash = match &self.key {
            SampleKey::Request => None,
            SampleKey::Path => {
                Some(hash_key(self.salt, path.split('?').next().unwrap_or(path).as_bytes()))
            }
            SampleKey::Header(name) => {
                headers.get(name).map(|value| hash_key(self.salt, value.as_bytes()))
            }
            SampleKey::Cookie(name) => {
                cookie_value(headers, name).map(|value| hash_key(self.salt, value.as_bytes()))
            }
        };
        let hash =
            key_hash.unwrap_or_else(|| hash_key(self.salt ^ 0x5EED_5EED, &sequence.to_le_bytes()));
        bucket(hash) < self.rate.parts_per_million as u64
    }
}

/// Finds a cookie's value among all `Cookie` headers.
fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(cookie_name, _)| *cookie_name == name)
        .map(|(_, value)| value)
}

/// FNV-1a over the salt and the key, then the SplitMix64 finalizer.
pub fn hash_key(salt: u64, key: &[u8]) -> u64 {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = FNV_OFFSET;
    for byte in salt.to_le_bytes().iter().chain(key) {
        hash ^= *byte as u64;
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    hash ^ (hash >> 31)
}

/// Maps a hash uniformly onto [0, 1 000 000) with Lemire's multiply-shift.
fn bucket(hash: u64) -> u64 {
    ((hash as u128 * PARTS as u128) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn sampler(rate: &str, key: &str) -> Sampler {
        Sampler { rate: rate.parse().unwrap(), key: key.parse().unwrap(), salt: 0 }
    }

    fn headers_with(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn rates_parse_from_percentages_and_fractions() {
        assert_eq!("10%".parse::<SampleRate>().unwrap().fraction(), 0.1);
        assert_eq!("0.5 %".parse::<SampleRate>().unwrap().fraction(), 0.005);
        assert_eq!("0.25".parse::<SampleRate>().unwrap().fraction(), 0.25);
        assert_eq!("100%".parse::<SampleRate>().unwrap(), SampleRate::ALL);
        assert_eq!("12.5%".parse::<SampleRate>().unwrap().to_string(), "12.5%");
        for bad in ["", "ten", "101%", "-1%", "1.5", "NaN%"] {
            let error = bad.parse::<SampleRate>().unwrap_err().to_string();
            assert!(error.contains("sample rate"), "{bad}: {error}");
        }
    }

    #[test]
    fn keys_parse_and_reject_unknown_forms() {
        assert_eq!("path".parse::<SampleKey>().unwrap(), SampleKey::Path);
        assert_eq!("request".parse::<SampleKey>().unwrap(), SampleKey::Request);
        assert_eq!(
            "header:X-Visitor".parse::<SampleKey>().unwrap(),
            SampleKey::Header(HeaderName::from_static("x-visitor"))
        );
        assert_eq!("cookie:sid".parse::<SampleKey>().unwrap(), SampleKey::Cookie("sid".into()));
        assert!("cookie:".parse::<SampleKey>().is_err());
        assert!(
            "header:bad name".parse::<SampleKey>().unwrap_err().to_string().contains("header name")
        );
        assert!("ip".parse::<SampleKey>().unwrap_err().to_string().contains("`request`, `path`"));
    }

    #[test]
    fn header_sampling_is_within_one_percent_over_100k_keys_and_consistent() {
        for (rate_text, rate) in [("1%", 0.01), ("10%", 0.10), ("50%", 0.50), ("90%", 0.90)] {
            let by_header = sampler(rate_text, "header:x-user");
            let n_keys = 100_000u64;
            let n_sampled = (0..n_keys)
                .filter(|idx| {
                    by_header.decide("/", &headers_with("x-user", &format!("user-{idx}")), 0)
                })
                .count() as f64;
            let observed = n_sampled / n_keys as f64;
            assert!((observed - rate).abs() <= 0.01, "{rate_text}: observed {observed}");
            // A uniform hash also stays within four binomial standard deviations.
            let sigma = (rate * (1.0 - rate) / n_keys as f64).sqrt();
            assert!(
                (observed - rate).abs() <= 4.0 * sigma,
                "{rate_text}: observed {observed}, sigma {sigma}"
            );
        }
    }

    #[test]
    fn a_key_gets_the_same_decision_whatever_else_differs() {
        let by_cookie = sampler("30%", "cookie:sid");
        for idx in 0..2_000 {
            let cookie = format!("theme=dark; sid=s{idx}; lang=en");
            let first = by_cookie.decide("/a", &headers_with("cookie", &cookie), idx);
            for (path, sequence) in [("/b?x=1", idx + 1), ("/c", 999_999)] {
                assert_eq!(
                    first,
                    by_cookie.decide(path, &headers_with("cookie", &cookie), sequence)
                );
            }
        }
    }

    #[test]
    fn a_key_sampled_at_a_low_rate_is_sampled_at_every_higher_rate() {
        let low = sampler("5%", "path");
        let high = sampler("20%", "path");
        let n_low_only = (0..20_000)
            .map(|idx| format!("/item/{idx}"))
            .filter(|path| {
                low.decide(path, &HeaderMap::new(), 0) && !high.decide(path, &HeaderMap::new(), 0)
            })
            .count();
        assert_eq!(n_low_only, 0);
    }

    #[test]
    fn path_key_ignores_the_query_and_missing_keys_fall_back_to_the_sequence() {
        let by_path = sampler("50%", "path");
        for idx in 0..500 {
            let path = format!("/p/{idx}");
            let with_query = format!("{path}?page={idx}");
            assert_eq!(
                by_path.decide(&path, &HeaderMap::new(), 1),
                by_path.decide(&with_query, &HeaderMap::new(), 2)
            );
        }
        let by_header = sampler("25%", "header:x-user");
        let n_sampled = (0..100_000)
            .filter(|sequence| by_header.decide("/", &HeaderMap::new(), *sequence))
            .count();
        assert!((24_000..26_000).contains(&n_sampled), "{n_sampled}");
    }

    #[test]
    fn salt_changes_which_keys_are_picked() {
        let plain = sampler("50%", "path");
        let salted = Sampler { salt: 42, ..plain.clone() };
        let n_disagree = (0..1_000)
            .map(|idx| format!("/k/{idx}"))
            .filter(|path| {
                plain.decide(path, &HeaderMap::new(), 0)
                    != salted.decide(path, &HeaderMap::new(), 0)
            })
            .count();
        assert!(n_disagree > 300, "{n_disagree}");
    }
}
