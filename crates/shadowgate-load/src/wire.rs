//! A lean HTTP/1.1 exchange on a raw connection, for the closed-loop mode.
//!
//! The closed loop exists to find the highest rate a target sustains, so the generator's own
//! cost per request must stay well below the server's (on a shared machine every cycle the
//! generator spends is taken from the server). A general client pays for things this loop never
//! needs: a request object, a header map, a dispatcher task and body channels. Here a request is
//! a ready-made byte string written with one call, and the response head is parsed in place
//! with `httparse` (the parser hyper itself uses); the body is counted and discarded. Framing
//! follows RFC 9112 §6.3: no body for HEAD, 1xx, 204 and 304; chunked; Content-Length; or
//! until the server closes the connection.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::record::{ErrorKind, Failure};

/// The largest response head accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most headers a response head may have.
const MAX_HEADERS: usize = 64;
/// How much room to make before each read.
const READ_CHUNK: usize = 16 * 1024;

/// A complete response, its body discarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WireResponse {
    pub status: u16,
    /// Body bytes (after removing the chunked framing).
    pub bytes: u64,
    /// Whether the connection can carry another request.
    pub keep_alive: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// One keep-alive HTTP/1.1 connection with one request in flight at a time.
pub(crate) struct WireConnection<S> {
    stream: S,
    buffer: Vec<u8>,
    /// Bytes of `buffer` already parsed.
    consumed: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WireConnection<S> {
    pub fn new(stream: S) -> WireConnection<S> {
        WireConnection { stream, buffer: Vec::with_capacity(READ_CHUNK), consumed: 0 }
    }

    /// Writes `request` (a complete HTTP/1.1 request) and reads the whole response.
    /// `head_request` is true for HEAD, whose response never has a body.
    pub async fn exchange(
        &mut self,
        request: &[u8],
        head_request: bool,
    ) -> Result<WireResponse, Failure> {
        // Without pipelining nothing may precede the response; drop anything left over.
        self.buffer.clear();
        self.consumed = 0;
        self.stream.write_all(request).await.map_err(|e| io_failure(&e))?;
        loop {
            let (status, framing, keep_alive) = self.read_head(head_request).await?;
            // Interim responses (100 Continue, 103 Early Hints) precede the real one.
            if (100..200).contains(&status) && status != 101 {
                continue;
            }
            let bytes = match framing {
                Framing::Empty => 0,
                Framing::Length(length) => {
                    self.skip(length).await?;
                    length
                }
                Framing::Chunked => self.skip_chunked().await?,
                Framing::UntilClose => self.skip_to_end().await?,
            };
            let keep_alive = keep_alive && framing != Framing::UntilClose;
            return Ok(WireResponse { status, bytes, keep_alive });
        }
    }

    /// Parses the next response head: its status, body framing and connection persistence.
    async fn read_head(&mut self, head_request: bool) -> Result<(u16, Framing, bool), Failure> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            let parsed = response.parse(&self.buffer[self.consumed..]).map_err(|e| {
                Failure::new(ErrorKind::Other, format!("malformed response head: {e}"))
            })?;
            let httparse::Status::Complete(head_length) = parsed else {
                if self.buffer.len() - self.consumed > MAX_HEAD_BYTES {
                    return Err(Failure::new(
                        ErrorKind::Other,
                        format!("the response head is larger than {MAX_HEAD_BYTES} bytes"),
                    ));
                }
                self.read_more().await?;
                continue;
            };
            let status = response.code.unwrap_or_default();
            let mut keep_alive = response.version == Some(1);
            let mut length = None;
            let mut chunked = false;
            for header in response.headers.iter() {
                if header.name.eq_ignore_ascii_case("content-length") {
                    let value = std::str::from_utf8(header.value)
                        .ok()
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .ok_or_else(|| {
                            Failure::new(ErrorKind::Other, "malformed Content-Length header")
                        })?;
                    if length.is_some_and(|previous| previous != value) {
                        return Err(Failure::new(
                            ErrorKind::Other,
                            "conflicting Content-Length headers",
                        ));
                    }
                    length = Some(value);
                } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                    // Chunked must be the last coding when present.
                    chunked = last_token(header.value).eq_ignore_ascii_case(b"chunked");
                } else if header.name.eq_ignore_ascii_case("connection") {
                    for token in header.value.split(|b| *b == b',') {
                        let token = token.trim_ascii();
                        if token.eq_ignore_ascii_case(b"close") {
                            keep_alive = false;
                        } else if token.eq_ignore_ascii_case(b"keep-alive") {
                            keep_alive = true;
                        }
                    }
                }
            }
            self.consumed += head_length;
            let framing =
                if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
                    Framing::Empty
                } else if chunked {
                    Framing::Chunked
                } else if let Some(length) = length {
                    Framing::Length(length)
                } else {
                    Framing::UntilClose
                };
            return Ok((status, framing, keep_alive));
        }
    }

    /// Discards `length` body bytes.
    async fn skip(&mut self, mut length: u64) -> Result<(), Failure> {
        loop {
            let available = (self.buffer.len() - self.consumed) as u64;
            let taken = available.min(length);
            self.consumed += taken as usize;
            length -= taken;
            if length == 0 {
                return Ok(());
            }
            self.read_more().await?;
        }
    }

    /// Discards a chunked body and its trailers, returning the data bytes.
    async fn skip_chunked(&mut self) -> Result<u64, Failure> {
        let mut total = 0u64;
        loop {
            match httparse::parse_chunk_size(&self.buffer[self.consumed..]) {
                Ok(httparse::Status::Complete((used, 0))) => {
                    self.consumed += used;
                    self.skip_trailers().await?;
                    return Ok(total);
                }
                Ok(httparse::Status::Complete((used, size))) => {
                    self.consumed += used;
                    self.skip(size).await?;
                    self.expect_line_end().await?;
                    total += size;
                }
                Ok(httparse::Status::Partial) => self.read_more().await?,
                Err(_) => {
                    return Err(Failure::new(ErrorKind::Other, "malformed chunk size in the body"));
                }
            }
        }
    }

    /// Skips trailer lines up to and including the empty line that ends the message.
    async fn skip_trailers(&mut self) -> Result<(), Failure> {
        loop {
            let rest = &self.buffer[self.consumed..];
            match rest.windows(2).position(|pair| pair == b"\r\n") {
                Some(0) => {
                    self.consumed += 2;
                    return Ok(());
                }
                Some(line) => self.consumed += line + 2,
                None => self.read_more().await?,
            }
        }
    }

    async fn expect_line_end(&mut self) -> Result<(), Failure> {
        while self.buffer.len() - self.consumed < 2 {
            self.read_more().await?;
        }
        if &self.buffer[self.consumed..self.consumed + 2] != b"\r\n" {
            return Err(Failure::new(ErrorKind::Other, "a chunk does not end with CRLF"));
        }
        self.consumed += 2;
        Ok(())
    }

    /// Discards everything until the server closes the connection.
    async fn skip_to_end(&mut self) -> Result<u64, Failure> {
        let mut total = (self.buffer.len() - self.consumed) as u64;
        self.consumed = self.buffer.len();
        loop {
            self.buffer.clear();
            self.consumed = 0;
            match self.stream.read_buf(&mut self.buffer).await {
                Ok(0) => return Ok(total),
                Ok(read) => total += read as u64,
                Err(err) => return Err(io_failure(&err)),
            }
        }
    }

    /// Reads more bytes into the buffer; the end of the stream here is a premature close.
    async fn read_more(&mut self) -> Result<(), Failure> {
        if self.consumed == self.buffer.len() {
            self.buffer.clear();
            self.consumed = 0;
        } else if self.consumed > READ_CHUNK {
            self.buffer.drain(..self.consumed);
            self.consumed = 0;
        }
        self.buffer.reserve(READ_CHUNK);
        match self.stream.read_buf(&mut self.buffer).await {
            Ok(0) => Err(Failure::new(
                ErrorKind::Reset,
                "the connection closed before the response was complete",
            )),
            Ok(_) => Ok(()),
            Err(err) => Err(io_failure(&err)),
        }
    }
}

fn io_failure(err: &std::io::Error) -> Failure {
    Failure::new(ErrorKind::of_io(err, ErrorKind::Other), err)
}

/// The last comma-separated token of a header value.
fn last_token(value: &[u8]) -> &[u8] {
    value.rsplit(|b| *b == b',').next().unwrap_or_default().trim_ascii()
}

#[cfg(test)]
mod tests;
