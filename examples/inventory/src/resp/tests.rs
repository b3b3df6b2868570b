//! Tests of RESP2 command encoding and reply parsing.

use super::*;

fn parsed(input: &[u8]) -> (Reply, usize) {
    parse_reply(input).unwrap().unwrap_or_else(|| panic!("incomplete: {input:?}"))
}

#[test]
fn commands_are_arrays_of_bulk_strings() {
    let mut out = Vec::new();
    encode_command(&mut out, &[b"INCR", b"inventory:views:17"]);
    encode_command(&mut out, &[b"PING"]);
    assert_eq!(out, b"*2\r\n$4\r\nINCR\r\n$18\r\ninventory:views:17\r\n*1\r\n$4\r\nPING\r\n");
    let mut binary = Vec::new();
    encode_command(&mut binary, &[b"SET", b"k", b"a\r\nb", b""]);
    assert_eq!(binary, b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n$0\r\n\r\n");
}

#[test]
fn every_reply_type_parses_with_its_length() {
    assert_eq!(parsed(b"+PONG\r\nrest"), (Reply::Simple("PONG".into()), 7));
    assert_eq!(parsed(b":42\r\n"), (Reply::Integer(42), 5));
    assert_eq!(parsed(b":-3\r\n"), (Reply::Integer(-3), 5));
    assert_eq!(parsed(b"$3\r\nabc\r\n"), (Reply::Bulk(Some(b"abc".to_vec())), 9));
    assert_eq!(parsed(b"$0\r\n\r\n"), (Reply::Bulk(Some(Vec::new())), 6));
    assert_eq!(parsed(b"$-1\r\n"), (Reply::Bulk(None), 5));
    assert_eq!(parsed(b"*-1\r\n"), (Reply::Array(None), 5));
    assert_eq!(
        parsed(b"*3\r\n:1\r\n$2\r\nhi\r\n*1\r\n+OK\r\n"),
        (
            Reply::Array(Some(vec![
                Reply::Integer(1),
                Reply::Bulk(Some(b"hi".to_vec())),
                Reply::Array(Some(vec![Reply::Simple("OK".into())])),
            ])),
            25
        )
    );
}

#[test]
fn error_replies_are_replies_not_protocol_errors() {
    let line = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    let (reply, used) = parsed(&[&line[..], b":1\r\n"].concat());
    assert_eq!(
        reply,
        Reply::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into())
    );
    assert_eq!(used, line.len(), "the next reply is left for later");
    assert_eq!(parsed(b"-ERR\r\n"), (Reply::Error("ERR".into()), 6));
}

#[test]
fn a_reply_split_anywhere_waits_for_more_bytes() {
    let whole = b"*2\r\n$5\r\nhello\r\n:7\r\n";
    for cut in 0..whole.len() {
        assert_eq!(parse_reply(&whole[..cut]), Ok(None), "cut at {cut}");
    }
    assert_eq!(parsed(whole).1, whole.len());
}

#[test]
fn pipelined_replies_parse_one_after_another() {
    let input = b":1\r\n:2\r\n-ERR no\r\n:3\r\n";
    let mut at = 0;
    let mut replies = Vec::new();
    while let Some((reply, used)) = parse_reply(&input[at..]).unwrap() {
        replies.push(reply);
        at += used;
    }
    assert_eq!(
        replies,
        [Reply::Integer(1), Reply::Integer(2), Reply::Error("ERR no".into()), Reply::Integer(3)]
    );
    assert_eq!(at, input.len());
}

#[test]
fn malformed_replies_are_protocol_errors() {
    for bad in [
        &b"?what\r\n"[..],
        b"\r\n",
        b":12x\r\n",
        b"$abc\r\n",
        b"$-2\r\n",
        b"$3\r\nabcd\r\n",
        b"*-5\r\n",
        b"$99999999999\r\n",
        b"HTTP/1.1 400 Bad Request\r\n",
    ] {
        assert!(parse_reply(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
    let endless = vec![b'+'; MAX_LINE + 10];
    assert!(parse_reply(&endless).is_err(), "a line without end is refused once too long");
    let deep = b"*1\r\n".repeat(20);
    assert!(parse_reply(&deep).is_err(), "deep nesting is refused");
}
