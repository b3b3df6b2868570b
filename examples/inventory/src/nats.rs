//! The framing of NATS's text protocol, as much of it as the event publisher needs: the
//! client's `CONNECT`, `PUB`, `PING` and `PONG`, and every operation a server sends (`INFO`,
//! `MSG`, `PING`, `PONG`, `+OK`, `-ERR`).

/// The longest control line accepted (an `INFO` line lists the cluster's URLs, so it can be
/// long), and the largest message payload.
const MAX_LINE: usize = 64 * 1024;
const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

/// The client's answer to a server `PING`, and its own keep-alive / flush marker.
pub const PING: &[u8] = b"PING\r\n";
pub const PONG: &[u8] = b"PONG\r\n";

/// One operation from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerOp {
    /// `INFO {...}`: the server's description (JSON), sent on connect and on cluster changes.
    Info(String),
    /// `MSG subject sid [reply-to] size` and the payload (or `HMSG` with headers, kept whole).
    Msg {
        subject: String,
        payload: Vec<u8>,
    },
    Ping,
    Pong,
    /// `+OK`, sent only to verbose clients.
    Ok,
    /// `-ERR 'message'`: the server refused something and usually closes the connection.
    Err(String),
}

/// The server sent something that is not NATS: the connection cannot be trusted further.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed NATS operation: {0}")]
pub struct ProtocolError(pub String);

/// The `CONNECT` line of a quiet client (no `+OK` per message) named `name`.
pub fn connect_line(name: &str) -> Vec<u8> {
    let name = serde_json::Value::from(name);
    format!("CONNECT {{\"verbose\":false,\"pedantic\":false,\"name\":{name}}}\r\n").into_bytes()
}

/// Appends `PUB subject size` and the payload to `out`.
pub fn encode_pub(out: &mut Vec<u8>, subject: &str, payload: &[u8]) {
    out.extend_from_slice(format!("PUB {subject} {}\r\n", payload.len()).as_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

/// The largest payload the server accepts, from its `INFO` JSON.
pub fn max_payload(info: &str) -> Option<usize> {
    let info: serde_json::Value = serde_json::from_str(info).ok()?;
    usize::try_from(info.get("max_payload")?.as_u64()?).ok()
}

/// Parses the first operation in `buf`: `Ok(None)` when more bytes are needed, otherwise the
/// operation and how many bytes it took.
pub fn parse_op(buf: &[u8]) -> Result<Option<(ServerOp, usize)>, ProtocolError> {
    let window = &buf[..buf.len().min(MAX_LINE + 2)];
    let Some(end) = window.windows(2).position(|pair| pair == b"\r\n") else {
        if window.len() >= MAX_LINE + 2 {
            return Err(ProtocolError(format!("a line longer than {MAX_LINE} bytes")));
        }
        return Ok(None);
    };
    let line = std::str::from_utf8(&buf[..end])
        .map_err(|_| ProtocolError("a control line that is not UTF-8".into()))?;
    let after_line = end + 2;
    let (name, args) = match line.find([' ', '\t']) {
        Some(at) => (&line[..at], line[at..].trim_start_matches([' ', '\t'])),
        None => (line, ""),
    };
    let op = match name.to_ascii_uppercase().as_str() {
        "PING" => ServerOp::Ping,
        "PONG" => ServerOp::Pong,
        "+OK" => ServerOp::Ok,
        "-ERR" => ServerOp::Err(args.trim().trim_matches('\'').to_string()),
        "INFO" => ServerOp::Info(args.trim().to_string()),
        "MSG" | "HMSG" => {
            let fields: Vec<&str> = args.split_ascii_whitespace().collect();
            let expected = if name.eq_ignore_ascii_case("MSG") { 3..=4 } else { 4..=5 };
            if !expected.contains(&fields.len()) {
                return Err(ProtocolError(format!("{name} with arguments {args:?}")));
            }
            let size = fields[fields.len() - 1]
                .parse::<usize>()
                .ok()
                .filter(|&size| size <= MAX_PAYLOAD)
                .ok_or_else(|| ProtocolError(format!("{name} with payload size {args:?}")))?;
            let payload_end = after_line + size;
            if buf.len() < payload_end + 2 {
                return Ok(None);
            }
            if &buf[payload_end..payload_end + 2] != b"\r\n" {
                return Err(ProtocolError(format!("a {name} payload not followed by CRLF")));
            }
            let payload = buf[after_line..payload_end].to_vec();
            return Ok(Some((
                ServerOp::Msg { subject: fields[0].to_string(), payload },
                payload_end + 2,
            )));
        }
        _ => return Err(ProtocolError(format!("unknown operation {line:?}"))),
    };
    Ok(Some((op, after_line)))
}

#[cfg(test)]
mod tests;
