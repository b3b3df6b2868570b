//! Configuration of the mirroring and recording proxies, with parsing and validation of the
//! values the command line passes in.

use std::{fmt, net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use http::{HeaderName, HeaderValue, Method, Uri, uri::Authority};

use crate::{
    diff::DiffConfig,
    redaction::RedactionRules,
    sampling::{SampleKey, SampleRate, Sampler},
};

/// A configuration value that cannot be used; the message names the option and the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MirrorConfigError(pub String);

/// An upstream service: `http://host:port[/base/path]`, or `h2c://host:port` for HTTP/2
/// without TLS (prior knowledge).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    authority: Authority,
    base_path: String,
    http2: bool,
}

impl Upstream {
    /// The absolute URI for a request target (`/path?query`) on this upstream.
    pub fn uri_for(&self, path_and_query: &str) -> Result<Uri, http::Error> {
        let target = if self.base_path.is_empty() {
            path_and_query.to_owned()
        } else {
            format!("{}{}", self.base_path, path_and_query)
        };
        Uri::builder()
            .scheme("http")
            .authority(self.authority.clone())
            .path_and_query(target)
            .build()
    }

    /// The URI to put in a request sent on a dedicated connection: origin-form (`/path?query`)
    /// for HTTP/1.1, absolute for HTTP/2, whose pseudo-headers need the scheme and authority.
    pub fn request_uri(&self, path_and_query: &str) -> Result<Uri, http::Error> {
        if self.http2 {
            return self.uri_for(path_and_query);
        }
        let target = format!("{}{}", self.base_path, path_and_query);
        Uri::builder().path_and_query(target).build()
    }

    /// The `host:port` to connect to (port 80 when the URL names none).
    pub fn socket_target(&self) -> String {
        format!("{}:{}", self.authority.host(), self.authority.port_u16().unwrap_or(80))
    }

    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// Whether requests to this upstream use HTTP/2 with prior knowledge.
    pub fn is_http2(&self) -> bool {
        self.http2
    }
}

impl FromStr for Upstream {
    type Err = MirrorConfigError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |problem: &str| {
            MirrorConfigError(format!(
                "upstream `{text}`: {problem}; write it as `http://host:port` (or `h2c://host:port` for HTTP/2 without TLS)"
            ))
        };
        let uri: Uri = text.trim().parse().map_err(|_| fail("this is not a URL"))?;
        let http2 = match uri.scheme_str() {
            Some("http") => false,
            Some("h2c") => true,
            Some("https") => {
                return Err(fail(
                    "TLS upstreams are not supported yet; terminate TLS in front of shadowgate",
                ));
            }
            Some(other) => return Err(fail(&format!("the scheme `{other}` is not supported"))),
            None => return Err(fail("the scheme is missing")),
        };
        let authority = uri.authority().cloned().ok_or_else(|| fail("the host is missing"))?;
        if authority.as_str().contains('@') {
            return Err(fail("credentials in the URL are not supported"));
        }
        if uri.query().is_some() {
            return Err(fail("a query string cannot be part of an upstream"));
        }
        let base_path = uri.path().trim_end_matches('/').to_owned();
        Ok(Upstream { authority, base_path, http2 })
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.http2 { "h2c" } else { "http" };
        write!(f, "{scheme}://{}{}", self.authority, self.base_path)
    }
}

/// Which methods are mirrored. Requests with other methods reach the primary only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MethodPolicy {
    /// The idempotent methods of RFC 9110 §9.2.2: GET, HEAD, OPTIONS, TRACE, PUT and DELETE.
    Idempotent,
    /// The idempotent methods plus the listed ones (for example POST against a sandboxed shadow).
    IdempotentAnd(Vec<Method>),
    /// Every method except CONNECT.
    All,
}

impl MethodPolicy {
    pub fn allows(&self, method: &Method) -> bool {
        if method == Method::CONNECT {
            return false;
        }
        let idempotent = matches!(
            *method,
            Method::GET
                | Method::HEAD
                | Method::OPTIONS
                | Method::TRACE
                | Method::PUT
                | Method::DELETE
        );
        match self {
            MethodPolicy::Idempotent => idempotent,
            MethodPolicy::IdempotentAnd(extra) => idempotent || extra.contains(method),
            MethodPolicy::All => true,
        }
    }
}

impl FromStr for MethodPolicy {
    type Err = MirrorConfigError;

    /// Parses `idempotent`, `all`, or a comma-separated list of extra methods such as `POST,PATCH`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "idempotent" => Ok(MethodPolicy::Idempotent),
            "all" => Ok(MethodPolicy::All),
            list => list
                .split(',')
                .map(|name| {
                    let name = name.trim().to_ascii_uppercase();
                    match Method::from_bytes(name.as_bytes()) {
                        Ok(method) if !name.is_empty() && method != Method::CONNECT => Ok(method),
                        _ => Err(MirrorConfigError(format!(
                            "mirror methods `{text}`: `{name}` is not a method that can be mirrored; use `idempotent`, `all` or a list such as `POST,PATCH`"
                        ))),
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map(MethodPolicy::IdempotentAnd),
        }
    }
}

/// How the Host header of mirrored requests is set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostRewrite {
    /// The client's Host, unchanged.
    Keep,
    /// The shadow's own `host:port`.
    Upstream,
    /// The client's Host with a suffix appended, as Envoy appends `-shadow`.
    Suffix(String),
    /// A fixed value.
    Literal(HeaderValue),
}

impl HostRewrite {
    /// The Host header a request to `target` gets under this rule, or `None` to keep the
    /// original (`original` is the client's Host, if any).
    pub fn header_for(
        &self,
        target: &Upstream,
        original: Option<&HeaderValue>,
    ) -> Option<HeaderValue> {
        match self {
            HostRewrite::Keep => None,
            HostRewrite::Upstream => HeaderValue::from_str(target.authority().as_str()).ok(),
            HostRewrite::Suffix(suffix) => {
                let original = original.map(|value| value.as_bytes()).unwrap_or_default();
                HeaderValue::from_bytes(&[original, suffix.as_bytes()].concat()).ok()
            }
            HostRewrite::Literal(host) => Some(host.clone()),
        }
    }
}

impl FromStr for HostRewrite {
    type Err = MirrorConfigError;

    /// Parses `keep`, `upstream`, `suffix:<text>` or a literal host such as `shadow.internal`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let bad = || {
            MirrorConfigError(format!(
                "shadow host `{text}` is not a valid Host value; use `keep`, `upstream`, `suffix:-shadow` or a host name"
            ))
        };
        match trimmed {
            "keep" => Ok(HostRewrite::Keep),
            "upstream" => Ok(HostRewrite::Upstream),
            _ => match trimmed.strip_prefix("suffix:") {
                Some(suffix) if HeaderValue::from_str(suffix).is_ok() && !suffix.is_empty() => {
                    Ok(HostRewrite::Suffix(suffix.to_owned()))
                }
                Some(_) => Err(bad()),
                None if trimmed.parse::<Authority>().is_ok() => {
                    HeaderValue::from_str(trimmed).map(HostRewrite::Literal).map_err(|_| bad())
                }
                None => Err(bad()),
            },
        }
    }
}

/// Where and how exchanges are recorded.
#[derive(Clone, Debug)]
pub struct RecordSettings {
    /// The JSON-lines file to write; it is created or truncated.
    pub path: PathBuf,
    pub redaction: RedactionRules,
}

/// Everything `shadowgate mirror` needs.
#[derive(Clone, Debug)]
pub struct MirrorConfig {
    /// Where clients connect (HTTP/1.1, and HTTP/2 with prior knowledge, on one port).
    pub listen: SocketAddr,
    /// Where `/metrics`, `/diff` and `/healthz` are served, if anywhere.
    pub admin_listen: Option<SocketAddr>,
    pub primary: Upstream,
    /// The shadows every mirrored request is copied to. With `diff`, exactly two: the
    /// secondary (the old version again) first and the candidate second.
    pub shadows: Vec<Upstream>,
    pub sampler: Sampler,
    pub methods: MethodPolicy,
    /// A header added to every mirrored request, so shadows can tell copies from real traffic.
    pub marker_header: (HeaderName, HeaderValue),
    pub shadow_host: HostRewrite,
    /// The most request or response body held for mirroring, recording or diffing. A mirrored
    /// request whose body is longer is not mirrored (and counted), never sent cut.
    pub body_capture_limit: usize,
    /// Mirror jobs waiting for a free shadow slot; beyond this they are dropped and counted.
    pub queue_capacity: usize,
    /// Mirror jobs in flight at once, across all shadows.
    pub shadow_concurrency: usize,
    /// The longest a mirrored request may take, response body included.
    pub shadow_timeout: Duration,
    pub record: Option<RecordSettings>,
    /// Compare the primary's responses with the two shadows' (secondary, candidate).
    pub diff: Option<DiffConfig>,
}

/// The default marker header name.
pub const DEFAULT_MARKER_HEADER: &str = "x-shadowgate-mirror";

impl MirrorConfig {
    /// A configuration with the defaults: every request sampled by request, idempotent methods
    /// only, a 1 MiB body cap, a queue of 4096 jobs, 256 jobs in flight and a 5 s shadow timeout.
    pub fn new(listen: SocketAddr, primary: Upstream) -> MirrorConfig {
        MirrorConfig {
            listen,
            admin_listen: None,
            primary,
            shadows: Vec::new(),
            sampler: Sampler { rate: SampleRate::ALL, key: SampleKey::Request, salt: 0 },
            methods: MethodPolicy::Idempotent,
            marker_header: (
                HeaderName::from_static(DEFAULT_MARKER_HEADER),
                HeaderValue::from_static("1"),
            ),
            shadow_host: HostRewrite::Keep,
            body_capture_limit: 1 << 20,
            queue_capacity: 4096,
            shadow_concurrency: 256,
            shadow_timeout: Duration::from_secs(5),
            record: None,
            diff: None,
        }
    }

    /// Checks the combination of settings.
    pub fn validate(&self) -> Result<(), MirrorConfigError> {
        if self.shadows.is_empty() && self.record.is_none() {
            return Err(MirrorConfigError(
                "nothing to do: give at least one --shadow URL or --record FILE".into(),
            ));
        }
        if self.diff.is_some() && self.shadows.len() != 2 {
            return Err(MirrorConfigError(format!(
                "--diff needs exactly two shadows, the secondary (old version) then the candidate: --shadow SECONDARY --shadow CANDIDATE (got {})",
                self.shadows.len()
            )));
        }
        if let Some(diff) = &self.diff {
            diff.validate().map_err(|error| MirrorConfigError(error.to_string()))?;
        }
        if self.queue_capacity == 0 || self.shadow_concurrency == 0 {
            return Err(MirrorConfigError(
                "--queue-capacity and --shadow-concurrency must be at least 1".into(),
            ));
        }
        if self.shadow_timeout.is_zero() {
            return Err(MirrorConfigError(
                "--shadow-timeout must be longer than zero, for example `5s`".into(),
            ));
        }
        if let Some(record) = &self.record {
            record.redaction.validate().map_err(|error| MirrorConfigError(error.to_string()))?;
        }
        Ok(())
    }
}

/// Everything `shadowgate record` needs: a plain recording proxy in front of one upstream.
#[derive(Clone, Debug)]
pub struct RecordProxyConfig {
    pub listen: SocketAddr,
    pub admin_listen: Option<SocketAddr>,
    pub upstream: Upstream,
    pub out: PathBuf,
    pub sampler: Sampler,
    pub redaction: RedactionRules,
    pub body_capture_limit: usize,
}

impl RecordProxyConfig {
    /// A recording proxy that records every request with the default redaction and a 1 MiB cap.
    pub fn new(listen: SocketAddr, upstream: Upstream, out: PathBuf) -> RecordProxyConfig {
        RecordProxyConfig {
            listen,
            admin_listen: None,
            upstream,
            out,
            sampler: Sampler { rate: SampleRate::ALL, key: SampleKey::Request, salt: 0 },
            redaction: RedactionRules::default(),
            body_capture_limit: 1 << 20,
        }
    }
}

impl From<RecordProxyConfig> for MirrorConfig {
    fn from(config: RecordProxyConfig) -> MirrorConfig {
        MirrorConfig {
            admin_listen: config.admin_listen,
            sampler: config.sampler,
            body_capture_limit: config.body_capture_limit,
            record: Some(RecordSettings { path: config.out, redaction: config.redaction }),
            ..MirrorConfig::new(config.listen, config.upstream)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_parse_and_join_paths() {
        let plain: Upstream = "http://127.0.0.1:8080".parse().unwrap();
        assert_eq!(plain.uri_for("/a?b=1").unwrap().to_string(), "http://127.0.0.1:8080/a?b=1");
        assert!(!plain.is_http2());
        let based: Upstream = "h2c://svc.internal:9000/api/".parse().unwrap();
        assert!(based.is_http2());
        assert_eq!(
            based.uri_for("/v1/x").unwrap().to_string(),
            "http://svc.internal:9000/api/v1/x"
        );
        assert_eq!(based.to_string(), "h2c://svc.internal:9000/api");
        assert_eq!(based.request_uri("/x").unwrap().to_string(), "http://svc.internal:9000/api/x");
        let no_port: Upstream = "http://svc.internal/base".parse().unwrap();
        assert_eq!(no_port.socket_target(), "svc.internal:80");
        assert_eq!(no_port.request_uri("/x?y=1").unwrap().to_string(), "/base/x?y=1");
        for (text, expected) in [
            ("https://x:1", "TLS upstreams are not supported"),
            ("ftp://x:1", "`ftp` is not supported"),
            ("localhost:80", "write it as `http://host:port`"),
            ("http://x:1/?q=1", "query string"),
            ("http://user:pw@x:1", "credentials"),
            ("http://exa mple", "not a URL"),
        ] {
            let error = text.parse::<Upstream>().unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn method_policies_follow_rfc_9110_idempotency() {
        let idempotent = MethodPolicy::Idempotent;
        for method in [Method::GET, Method::HEAD, Method::PUT, Method::DELETE, Method::OPTIONS] {
            assert!(idempotent.allows(&method), "{method}");
        }
        assert!(!idempotent.allows(&Method::POST));
        assert!(!idempotent.allows(&Method::PATCH));
        let with_post: MethodPolicy = "post, PATCH".parse().unwrap();
        assert!(with_post.allows(&Method::POST) && with_post.allows(&Method::PATCH));
        assert!(!MethodPolicy::All.allows(&Method::CONNECT));
        assert!("GET,CONNECT".parse::<MethodPolicy>().unwrap_err().to_string().contains("CONNECT"));
        assert!("GET,,PUT".parse::<MethodPolicy>().is_err());
    }

    #[test]
    fn host_rewrites_parse() {
        assert_eq!("keep".parse::<HostRewrite>().unwrap(), HostRewrite::Keep);
        assert_eq!(
            "suffix:-shadow".parse::<HostRewrite>().unwrap(),
            HostRewrite::Suffix("-shadow".into())
        );
        assert_eq!(
            "shadow.internal:8080".parse::<HostRewrite>().unwrap(),
            HostRewrite::Literal(HeaderValue::from_static("shadow.internal:8080"))
        );
        assert!("bad host/x".parse::<HostRewrite>().is_err());
    }

    #[test]
    fn validation_names_the_option_to_fix() {
        let primary: Upstream = "http://127.0.0.1:1".parse().unwrap();
        let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut config = MirrorConfig::new(listen, primary.clone());
        assert!(config.validate().unwrap_err().to_string().contains("--shadow"));
        config.shadows.push(primary.clone());
        config.validate().unwrap();
        config.diff = Some(DiffConfig::default());
        assert!(config.validate().unwrap_err().to_string().contains("exactly two shadows"));
        config.shadows.push(primary);
        config.validate().unwrap();
        config.shadow_timeout = Duration::ZERO;
        assert!(config.validate().unwrap_err().to_string().contains("--shadow-timeout"));
    }
}
