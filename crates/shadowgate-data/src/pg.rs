//! A minimal PostgreSQL client: enough of the frontend/backend protocol (version 3.0) to
//! connect, run simple queries and stream `COPY ... FROM STDIN`.
//!
//! Why not the `postgres` crate: it brings tokio-postgres, its protocol and crypto crates and
//! futures into a crate that otherwise has no dependencies, for three message flows. This
//! client speaks the startup flow (trust, cleartext password and SCRAM-SHA-256 without channel
//! binding), the simple query flow, and the COPY-in flow; it refuses MD5 with an error saying
//! so. No TLS: use the Unix socket or a trusted network. The shadow environments' PostgreSQL
//! servers use trust on their Unix socket.

use std::io::{self, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

/// Why talking to PostgreSQL failed.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(
        "invalid PostgreSQL URL `{url}`: {reason}; expected postgres://USER[:PASSWORD]@HOST[:PORT]/DB (a Unix socket directory as HOST, percent-encoded, or ?host=/dir)"
    )]
    Url { url: String, reason: String },
    #[error("cannot connect to PostgreSQL at {target}: {source}")]
    Connect { target: String, source: io::Error },
    #[error("connection to PostgreSQL failed: {0}")]
    Io(#[from] io::Error),
    #[error("PostgreSQL {severity} {code}: {message}{}{}", .detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default(), .hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
    Server {
        severity: String,
        code: String,
        message: String,
        detail: Option<String>,
        hint: Option<String>,
    },
    #[error(
        "PostgreSQL asks for {method} authentication, which shadowgate's loader does not support; use trust (the default of the environments' servers, over their Unix socket), scram-sha-256 or password for this user"
    )]
    UnsupportedAuth { method: String },
    #[error(
        "PostgreSQL asked for a password, but the URL has none; add it as postgres://USER:PASSWORD@..."
    )]
    NoPassword,
    #[error("SCRAM authentication with PostgreSQL failed: {}", .0.0)]
    Scram(crate::scram::ScramError),
    #[error("unexpected message from PostgreSQL: {0}")]
    Protocol(String),
}

/// Where and as whom to connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgConfig {
    pub host: Host,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub dbname: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    Tcp(String),
    /// The directory holding the socket `.s.PGSQL.<port>`.
    Unix(PathBuf),
}

impl PgConfig {
    /// Parses `postgres://` / `postgresql://` URLs. A host that starts with `/` (percent-encoded
    /// in the authority, or given as `?host=`) is a Unix socket directory.
    pub fn parse(url: &str) -> Result<PgConfig, PgError> {
        let bad = |reason: &str| PgError::Url { url: url.to_string(), reason: reason.to_string() };
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or_else(|| bad("it does not start with postgres://"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((u, p)) => {
                    (decode(u).map_err(|e| bad(&e))?, Some(decode(p).map_err(|e| bad(&e))?))
                }
                None => (decode(u).map_err(|e| bad(&e))?, None),
            },
            None => (String::new(), None),
        };
        let hostport = decode(hostport).map_err(|e| bad(&e))?;
        let (mut host, mut port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() || !p.is_empty() => (
                h.to_string(),
                Some(p.parse::<u16>().map_err(|_| bad(&format!("port `{p}` is not a number")))?),
            ),
            _ => (hostport.clone(), None),
        };
        let mut user = user;
        let mut password = password;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) =
                pair.split_once('=').ok_or_else(|| bad(&format!("`{pair}` is not key=value")))?;
            let v = decode(v).map_err(|e| bad(&e))?;
            match k {
                "host" => host = v,
                "port" => {
                    port = Some(v.parse().map_err(|_| bad(&format!("port `{v}` is not a number")))?)
                }
                "user" => user = v,
                "password" => password = Some(v),
                // This client never speaks TLS; modes that allow plain text are fine.
                "sslmode" if matches!(v.as_str(), "disable" | "allow" | "prefer") => {}
                "sslmode" => {
                    return Err(bad(&format!(
                        "sslmode `{v}` needs TLS, which this client does not speak; use sslmode=disable"
                    )));
                }
                _ => {
                    return Err(bad(&format!(
                        "unknown parameter `{k}` (known: host, port, user, password, sslmode)"
                    )));
                }
            }
        }
        let user = if user.is_empty() { "postgres".to_string() } else { user };
        let dbname = decode(path).map_err(|e| bad(&e))?;
        let dbname = if dbname.is_empty() { user.clone() } else { dbname };
        let host = if host.is_empty() {
            Host::Unix(PathBuf::from("/var/run/postgresql"))
        } else if host.starts_with('/') {
            Host::Unix(PathBuf::from(host))
        } else {
            Host::Tcp(host)
        };
        Ok(PgConfig { host, port: port.unwrap_or(5432), user, password, dbname })
    }

    fn target(&self) -> String {
        match &self.host {
            Host::Tcp(h) => format!("{h}:{}", self.port),
            Host::Unix(dir) => dir.join(format!(".s.PGSQL.{}", self.port)).display().to_string(),
        }
    }
}

fn decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("a `%` is not followed by two hex digits")?;
            out.push(
                u8::from_str_radix(hex, 16)
                    .map_err(|_| format!("`%{hex}` is not a percent-escape"))?,
            );
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "it is not UTF-8 after percent-decoding".to_string())
}

enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    fn try_clone(&self) -> io::Result<Conn> {
        Ok(match self {
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
        })
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One connection, after authentication, idle.
pub struct Client {
    reader: BufReader<Conn>,
    writer: Conn,
    out: Vec<u8>,
}

/// The rows of a simple query, as text (NULL is `None`).
pub type Rows = Vec<Vec<Option<String>>>;

impl Client {
    /// Connects and authenticates. `timeout` bounds the connect and every read.
    pub fn connect(cfg: &PgConfig, timeout: Duration) -> Result<Client, PgError> {
        let target = cfg.target();
        let conn = match &cfg.host {
            Host::Tcp(h) => {
                let addrs = std::net::ToSocketAddrs::to_socket_addrs(&(h.as_str(), cfg.port))
                    .map_err(|source| PgError::Connect { target: target.clone(), source })?;
                let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
                let mut conn = None;
                for a in addrs {
                    match TcpStream::connect_timeout(&a, timeout) {
                        Ok(s) => {
                            conn = Some(s);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                let s = conn.ok_or(PgError::Connect { target: target.clone(), source: last })?;
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(timeout))?;
                Conn::Tcp(s)
            }
            Host::Unix(_) => {
                let s = UnixStream::connect(&target)
                    .map_err(|source| PgError::Connect { target: target.clone(), source })?;
                s.set_read_timeout(Some(timeout))?;
                Conn::Unix(s)
            }
        };
        Client::start(conn, cfg)
    }

    /// Authenticates over a TCP connection the caller has already made (for example a socket
    /// created inside another network namespace). `timeout` bounds every read.
    pub fn over_tcp(
        stream: TcpStream,
        cfg: &PgConfig,
        timeout: Duration,
    ) -> Result<Client, PgError> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        Client::start(Conn::Tcp(stream), cfg)
    }

    fn start(conn: Conn, cfg: &PgConfig) -> Result<Client, PgError> {
        let writer = conn.try_clone()?;
        let mut client =
            Client { reader: BufReader::with_capacity(64 * 1024, conn), writer, out: Vec::new() };
        client.startup(cfg)?;
        Ok(client)
    }

    fn startup(&mut self, cfg: &PgConfig) -> Result<(), PgError> {
        let mut body = Vec::new();
        body.extend_from_slice(&196_608i32.to_be_bytes()); // protocol 3.0
        for (k, v) in [
            ("user", cfg.user.as_str()),
            ("database", cfg.dbname.as_str()),
            ("client_encoding", "UTF8"),
            ("DateStyle", "ISO"),
        ] {
            cstr(&mut body, k);
            cstr(&mut body, v);
        }
        body.push(0);
        self.out.clear();
        self.out.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        self.out.extend_from_slice(&body);
        self.flush_out()?;
        let mut scram: Option<crate::scram::Scram> = None;
        loop {
            let (tag, body) = self.read_message()?;
            match tag {
                b'R' => {
                    let code = be_i32(&body, 0)?;
                    match code {
                        0 => {}
                        3 => {
                            let pw = cfg.password.as_deref().ok_or(PgError::NoPassword)?;
                            let mut msg = Vec::new();
                            cstr(&mut msg, pw);
                            self.message(b'p', &msg);
                            self.flush_out()?;
                        }
                        5 => {
                            return Err(PgError::UnsupportedAuth { method: "MD5 password".into() });
                        }
                        10 => {
                            let mechanisms: Vec<&[u8]> =
                                body[4..].split(|&b| b == 0).filter(|m| !m.is_empty()).collect();
                            if !mechanisms.contains(&&b"SCRAM-SHA-256"[..]) {
                                let names: Vec<String> = mechanisms
                                    .iter()
                                    .map(|m| String::from_utf8_lossy(m).into_owned())
                                    .collect();
                                return Err(PgError::UnsupportedAuth {
                                    method: format!("SASL ({})", names.join(", ")),
                                });
                            }
                            let pw = cfg.password.as_deref().ok_or(PgError::NoPassword)?;
                            let exchange = crate::scram::Scram::new("", pw, &nonce()?);
                            let first = exchange.client_first();
                            let mut msg = Vec::new();
                            cstr(&mut msg, "SCRAM-SHA-256");
                            msg.extend_from_slice(&(first.len() as i32).to_be_bytes());
                            msg.extend_from_slice(first.as_bytes());
                            self.message(b'p', &msg);
                            self.flush_out()?;
                            scram = Some(exchange);
                        }
                        11 => {
                            let exchange = scram.as_mut().ok_or_else(|| {
                                PgError::Protocol("SASL continue without a SASL start".into())
                            })?;
                            let server_first = String::from_utf8_lossy(&body[4..]).into_owned();
                            let reply =
                                exchange.client_final(&server_first).map_err(PgError::Scram)?;
                            self.message(b'p', reply.as_bytes());
                            self.flush_out()?;
                        }
                        12 => {
                            let exchange = scram.as_ref().ok_or_else(|| {
                                PgError::Protocol("SASL final without a SASL start".into())
                            })?;
                            exchange
                                .verify(&String::from_utf8_lossy(&body[4..]))
                                .map_err(PgError::Scram)?;
                        }
                        other => {
                            return Err(PgError::UnsupportedAuth {
                                method: format!("method {other}"),
                            });
                        }
                    }
                }
                b'E' => return Err(server_error(&body)),
                b'Z' => return Ok(()),
                b'S' | b'K' | b'N' => {}
                other => {
                    return Err(PgError::Protocol(format!("`{}` during startup", other as char)));
                }
            }
        }
    }

    /// Runs one or more statements with the simple query protocol and returns the rows of the
    /// last result set.
    pub fn query(&mut self, sql: &str) -> Result<Rows, PgError> {
        self.send_query(sql)?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            let (tag, body) = self.read_message()?;
            match tag {
                b'T' => rows.clear(),
                b'D' => rows.push(data_row(&body)?),
                b'E' => error = Some(server_error(&body)),
                b'G' => {
                    self.message(
                        b'f',
                        b"COPY FROM STDIN is not supported by query(); use copy_in()\0",
                    );
                    self.flush_out()?;
                }
                b'Z' => break,
                b'C' | b'I' | b'N' | b'S' => {}
                other => {
                    return Err(PgError::Protocol(format!("`{}` after a query", other as char)));
                }
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(rows),
        }
    }

    /// Starts `COPY ... FROM STDIN`; write data with [`CopyIn::send`] and end with
    /// [`CopyIn::finish`].
    pub fn copy_in(&mut self, sql: &str) -> Result<CopyIn<'_>, PgError> {
        self.send_query(sql)?;
        loop {
            let (tag, body) = self.read_message()?;
            match tag {
                b'G' => return Ok(CopyIn { client: self }),
                b'E' => {
                    let err = server_error(&body);
                    self.wait_ready()?;
                    return Err(err);
                }
                b'N' | b'S' => {}
                other => {
                    return Err(PgError::Protocol(format!(
                        "`{}` instead of CopyInResponse",
                        other as char
                    )));
                }
            }
        }
    }

    fn send_query(&mut self, sql: &str) -> Result<(), PgError> {
        let mut body = Vec::with_capacity(sql.len() + 1);
        cstr(&mut body, sql);
        self.message(b'Q', &body);
        self.flush_out()
    }

    fn wait_ready(&mut self) -> Result<(), PgError> {
        loop {
            if self.read_message()?.0 == b'Z' {
                return Ok(());
            }
        }
    }

    fn message(&mut self, tag: u8, body: &[u8]) {
        self.out.push(tag);
        self.out.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        self.out.extend_from_slice(body);
    }

    fn flush_out(&mut self) -> Result<(), PgError> {
        self.writer.write_all(&self.out)?;
        self.out.clear();
        Ok(())
    }

    fn read_message(&mut self) -> Result<(u8, Vec<u8>), PgError> {
        let mut head = [0u8; 5];
        self.reader.read_exact(&mut head)?;
        let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]);
        if !(4..=1 << 30).contains(&len) {
            return Err(PgError::Protocol(format!("message length {len}")));
        }
        let mut body = vec![0u8; len as usize - 4];
        self.reader.read_exact(&mut body)?;
        Ok((head[0], body))
    }
}

/// An open `COPY ... FROM STDIN`.
pub struct CopyIn<'a> {
    client: &'a mut Client,
}

impl CopyIn<'_> {
    /// Sends a piece of COPY data (any split of the stream is allowed).
    pub fn send(&mut self, data: &[u8]) -> Result<(), PgError> {
        let mut head = [0u8; 5];
        head[0] = b'd';
        head[1..].copy_from_slice(&(data.len() as i32 + 4).to_be_bytes());
        self.client.writer.write_all(&head)?;
        self.client.writer.write_all(data)?;
        Ok(())
    }

    /// Ends the COPY and returns the number of rows the server stored.
    pub fn finish(self) -> Result<u64, PgError> {
        self.client.message(b'c', &[]);
        self.client.flush_out()?;
        let mut copied = None;
        let mut error = None;
        loop {
            let (tag, body) = self.client.read_message()?;
            match tag {
                b'C' => {
                    let tag = String::from_utf8_lossy(body.strip_suffix(b"\0").unwrap_or(&body))
                        .into_owned();
                    copied = tag.strip_prefix("COPY ").and_then(|n| n.parse().ok());
                }
                b'E' => error = Some(server_error(&body)),
                b'Z' => break,
                b'N' | b'S' => {}
                other => {
                    return Err(PgError::Protocol(format!("`{}` after CopyDone", other as char)));
                }
            }
        }
        match (error, copied) {
            (Some(e), _) => Err(e),
            (None, Some(n)) => Ok(n),
            (None, None) => Err(PgError::Protocol("COPY ended without a row count".into())),
        }
    }
}

/// A fresh SCRAM client nonce: 18 bytes from the operating system's random source, base64.
fn nonce() -> Result<String, PgError> {
    let mut bytes = [0u8; 18];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes))?;
    Ok(crate::scram::base64_encode(&bytes))
}

fn cstr(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

fn be_i32(b: &[u8], at: usize) -> Result<i32, PgError> {
    b.get(at..at + 4)
        .map(|s| i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| PgError::Protocol("truncated message".into()))
}

fn data_row(body: &[u8]) -> Result<Vec<Option<String>>, PgError> {
    let n = body.get(0..2).map(|s| i16::from_be_bytes([s[0], s[1]])).unwrap_or(0);
    let mut at = 2;
    let mut row = Vec::with_capacity(n.max(0) as usize);
    for _ in 0..n {
        let len = be_i32(body, at)?;
        at += 4;
        if len < 0 {
            row.push(None);
        } else {
            let v = body
                .get(at..at + len as usize)
                .ok_or_else(|| PgError::Protocol("truncated row".into()))?;
            row.push(Some(String::from_utf8_lossy(v).into_owned()));
            at += len as usize;
        }
    }
    Ok(row)
}

fn server_error(body: &[u8]) -> PgError {
    let (mut severity, mut code, mut message, mut detail, mut hint) =
        (String::new(), String::new(), String::new(), None, None);
    for field in body.split(|&b| b == 0).filter(|f| !f.is_empty()) {
        let v = String::from_utf8_lossy(&field[1..]).into_owned();
        match field[0] {
            b'S' => severity = v,
            b'C' => code = v,
            b'M' => message = v,
            b'D' => detail = Some(v),
            b'H' => hint = Some(v),
            _ => {}
        }
    }
    PgError::Server { severity, code, message, detail, hint }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let c = PgConfig::parse("postgres://app:s%40cret@db.local:6543/shop").unwrap();
        assert_eq!(
            c,
            PgConfig {
                host: Host::Tcp("db.local".into()),
                port: 6543,
                user: "app".into(),
                password: Some("s@cret".into()),
                dbname: "shop".into()
            }
        );
        let c = PgConfig::parse("postgresql://postgres@%2Ftmp%2Fpg:5433/postgres").unwrap();
        assert_eq!(c.host, Host::Unix("/tmp/pg".into()));
        assert_eq!(c.port, 5433);
        let c = PgConfig::parse("postgres:///shop?host=/run/x&port=7").unwrap();
        assert_eq!(
            (c.host, c.port, c.user.as_str(), c.dbname.as_str()),
            (Host::Unix("/run/x".into()), 7, "postgres", "shop")
        );
        for bad in [
            "mysql://x",
            "postgres://h:port/db",
            "postgres://h/db?sslmode=require",
            "postgres://h/%zz",
        ] {
            let err = PgConfig::parse(bad).unwrap_err().to_string();
            assert!(err.contains("expected postgres://"), "{bad}: {err}");
        }
    }
}
