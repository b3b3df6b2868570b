//! PostgreSQL COPY encodings of generated rows, into memory (no I/O).
//!
//! Text format: tab-separated, `\N` for NULL, backslash escapes for `\`, tab, newline and
//! carriage return. Binary format: the `PGCOPY` header, then per row a 16-bit field count and
//! per field a 32-bit length and the value in network byte order (int8, float8, text as UTF-8,
//! timestamptz as microseconds since 2000-01-01). Binary needs the columns to have the default
//! types (`bigint`, `double precision`, `text`, `timestamptz`).

use crate::plan::Sink;

/// Seconds between 1970-01-01 and 2000-01-01, PostgreSQL's epoch.
const PG_EPOCH: i64 = 946_684_800;

/// Text COPY rows appended to `out`.
pub struct TextCopy<'a> {
    pub out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> TextCopy<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        TextCopy { out, first: true }
    }

    fn sep(&mut self) {
        if !self.first {
            self.out.push(b'\t');
        }
        self.first = false;
    }
}

impl Sink for TextCopy<'_> {
    fn begin_row(&mut self, _columns: usize) {
        self.first = true;
    }
    fn null(&mut self) {
        self.sep();
        self.out.extend_from_slice(b"\\N");
    }
    fn int(&mut self, v: i64) {
        self.sep();
        write_int(self.out, v);
    }
    fn float(&mut self, v: f64) {
        self.sep();
        write_float(self.out, v);
    }
    fn text(&mut self, v: &str) {
        self.sep();
        for &b in v.as_bytes() {
            match b {
                b'\\' => self.out.extend_from_slice(b"\\\\"),
                b'\t' => self.out.extend_from_slice(b"\\t"),
                b'\n' => self.out.extend_from_slice(b"\\n"),
                b'\r' => self.out.extend_from_slice(b"\\r"),
                _ => self.out.push(b),
            }
        }
    }
    fn timestamp(&mut self, secs: i64) {
        self.sep();
        crate::time::format(secs, self.out);
        self.out.extend_from_slice(b"+00");
    }
    fn end_row(&mut self) {
        self.out.push(b'\n');
    }
}

/// Binary COPY rows appended to `out`; write [`BinaryCopy::HEADER`] first and
/// [`BinaryCopy::TRAILER`] last.
pub struct BinaryCopy<'a> {
    pub out: &'a mut Vec<u8>,
}

impl BinaryCopy<'_> {
    pub const HEADER: &'static [u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
    pub const TRAILER: &'static [u8] = &[0xff, 0xff];
}

impl Sink for BinaryCopy<'_> {
    fn begin_row(&mut self, columns: usize) {
        self.out.extend_from_slice(&(columns as i16).to_be_bytes());
    }
    fn null(&mut self) {
        self.out.extend_from_slice(&(-1i32).to_be_bytes());
    }
    fn int(&mut self, v: i64) {
        self.out.extend_from_slice(&8i32.to_be_bytes());
        self.out.extend_from_slice(&v.to_be_bytes());
    }
    fn float(&mut self, v: f64) {
        self.out.extend_from_slice(&8i32.to_be_bytes());
        self.out.extend_from_slice(&v.to_bits().to_be_bytes());
    }
    fn text(&mut self, v: &str) {
        self.out.extend_from_slice(&(v.len() as i32).to_be_bytes());
        self.out.extend_from_slice(v.as_bytes());
    }
    fn timestamp(&mut self, secs: i64) {
        self.out.extend_from_slice(&8i32.to_be_bytes());
        self.out.extend_from_slice(&((secs - PG_EPOCH) * 1_000_000).to_be_bytes());
    }
    fn end_row(&mut self) {}
}

pub(crate) fn write_int(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

pub(crate) fn write_float(out: &mut Vec<u8>, v: f64) {
    use std::io::Write;
    // Rust's shortest round-trip representation, never in exponent form.
    let _ = write!(out, "{v}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_and_nulls() {
        let mut out = Vec::new();
        let mut s = TextCopy::new(&mut out);
        s.begin_row(4);
        s.int(-42);
        s.text("a\tb\\c\nd");
        s.null();
        s.timestamp(946_684_800);
        s.end_row();
        assert_eq!(out, b"-42\ta\\tb\\\\c\\nd\t\\N\t2000-01-01 00:00:00+00\n");
        let mut out = Vec::new();
        write_int(&mut out, i64::MIN);
        assert_eq!(out, i64::MIN.to_string().as_bytes());
    }

    #[test]
    fn binary_fields() {
        let mut out = Vec::new();
        let mut s = BinaryCopy { out: &mut out };
        s.begin_row(3);
        s.int(1);
        s.null();
        s.timestamp(946_684_801);
        assert_eq!(
            out,
            [
                &[0, 3][..],
                &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1],
                &[255, 255, 255, 255],
                &[0, 0, 0, 8],
                &1_000_000i64.to_be_bytes()
            ]
            .concat()
        );
    }
}
