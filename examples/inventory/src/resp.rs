//! The framing of Redis's protocol (RESP2), as much of it as the view counter needs: commands
//! are encoded as arrays of bulk strings, and replies of every RESP2 type are parsed, so that
//! an unexpected reply is recognised as such rather than misread.

/// The longest simple-string, error or integer line accepted, and the largest bulk string or
/// array: the view counter only ever expects short replies.
const MAX_LINE: usize = 64 * 1024;
const MAX_BULK: usize = 1024 * 1024;
const MAX_ARRAY: usize = 64 * 1024;

/// One reply from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Simple(String),
    /// `-ERR ...`: the command failed; the connection is still usable.
    Error(String),
    /// `:42`
    Integer(i64),
    /// `$3\r\nabc`, or `$-1` (none).
    Bulk(Option<Vec<u8>>),
    /// `*2\r\n...`, or `*-1` (none).
    Array(Option<Vec<Reply>>),
}

/// The server sent something that is not RESP2: the connection cannot be trusted further.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed Redis reply: {0}")]
pub struct ProtocolError(pub String);

/// Appends `args` as one command (an array of bulk strings) to `out`.
pub fn encode_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Parses the first reply in `buf`: `Ok(None)` when more bytes are needed, otherwise the reply
/// and how many bytes it took.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, ProtocolError> {
    parse_at(buf, 0, 0)
}

fn parse_at(
    buf: &[u8],
    start: usize,
    depth: usize,
) -> Result<Option<(Reply, usize)>, ProtocolError> {
    if depth > 8 {
        return Err(ProtocolError("arrays nested more than 8 deep".into()));
    }
    let Some((line, after_line)) = line_at(buf, start)? else {
        return Ok(None);
    };
    let Some((&kind, rest)) = line.split_first() else {
        return Err(ProtocolError("an empty line".into()));
    };
    let text = || {
        std::str::from_utf8(rest)
            .map(str::to_string)
            .map_err(|_| ProtocolError("a status line that is not UTF-8".into()))
    };
    match kind {
        b'+' => Ok(Some((Reply::Simple(text()?), after_line - start))),
        b'-' => Ok(Some((Reply::Error(text()?), after_line - start))),
        b':' => Ok(Some((Reply::Integer(number(rest)?), after_line - start))),
        b'$' => {
            let len = number(rest)?;
            if len == -1 {
                return Ok(Some((Reply::Bulk(None), after_line - start)));
            }
            let len = length(len, MAX_BULK, "bulk string")?;
            let end = after_line + len;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(ProtocolError("a bulk string not followed by CRLF".into()));
            }
            Ok(Some((Reply::Bulk(Some(buf[after_line..end].to_vec())), end + 2 - start)))
        }
        b'*' => {
            let len = number(rest)?;
            if len == -1 {
                return Ok(Some((Reply::Array(None), after_line - start)));
            }
            let len = length(len, MAX_ARRAY, "array")?;
            let mut items = Vec::with_capacity(len.min(64));
            let mut at = after_line;
            for _ in 0..len {
                let Some((item, used)) = parse_at(buf, at, depth + 1)? else {
                    return Ok(None);
                };
                items.push(item);
                at += used;
            }
            Ok(Some((Reply::Array(Some(items)), at - start)))
        }
        other => Err(ProtocolError(format!("unknown reply type {:?}", char::from(other)))),
    }
}

/// The CRLF-terminated line starting at `start` (without the CRLF) and the offset after it.
fn line_at(buf: &[u8], start: usize) -> Result<Option<(&[u8], usize)>, ProtocolError> {
    let window = &buf[start..buf.len().min(start + MAX_LINE + 2)];
    match window.windows(2).position(|pair| pair == b"\r\n") {
        Some(end) => Ok(Some((&window[..end], start + end + 2))),
        None if window.len() >= MAX_LINE + 2 => {
            Err(ProtocolError(format!("a line longer than {MAX_LINE} bytes")))
        }
        None => Ok(None),
    }
}

fn number(digits: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(digits).ok().and_then(|s| s.parse().ok()).ok_or_else(|| {
        ProtocolError(format!("{:?} is not a number", String::from_utf8_lossy(digits)))
    })
}

fn length(len: i64, max: usize, what: &str) -> Result<usize, ProtocolError> {
    usize::try_from(len)
        .ok()
        .filter(|&len| len <= max)
        .ok_or_else(|| ProtocolError(format!("{what} length {len} (at most {max} accepted)")))
}

#[cfg(test)]
mod tests;
