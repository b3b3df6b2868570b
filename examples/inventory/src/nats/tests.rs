//! Tests of the NATS framing.

use super::*;

fn parsed(input: &[u8]) -> (ServerOp, usize) {
    parse_op(input).unwrap().unwrap_or_else(|| panic!("incomplete: {input:?}"))
}

#[test]
fn the_client_lines_are_what_the_server_expects() {
    assert_eq!(
        connect_line("inventory"),
        b"CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"inventory\"}\r\n"
    );
    let mut out = Vec::new();
    encode_pub(&mut out, "inventory.orders.created", b"{\"id\":7}");
    encode_pub(&mut out, "a.b", b"");
    assert_eq!(out, b"PUB inventory.orders.created 8\r\n{\"id\":7}\r\nPUB a.b 0\r\n\r\n");
    assert_eq!(PING, b"PING\r\n");
    assert_eq!(PONG, b"PONG\r\n");
}

#[test]
fn ping_pong_ok_and_err_parse() {
    assert_eq!(parsed(b"PING\r\n"), (ServerOp::Ping, 6));
    assert_eq!(parsed(b"ping\r\nPONG\r\n"), (ServerOp::Ping, 6), "names are case-insensitive");
    assert_eq!(parsed(b"PONG\r\n"), (ServerOp::Pong, 6));
    assert_eq!(parsed(b"+OK\r\n"), (ServerOp::Ok, 5));
    assert_eq!(
        parsed(b"-ERR 'Authorization Violation'\r\n"),
        (ServerOp::Err("Authorization Violation".into()), 32)
    );
}

#[test]
fn info_carries_the_servers_json_and_its_payload_limit() {
    let line = b"INFO {\"server_id\":\"x\",\"version\":\"2.9.10\",\"max_payload\":1048576}\r\n";
    let (op, used) = parsed(line);
    assert_eq!(used, line.len());
    let ServerOp::Info(json) = op else { panic!("{op:?}") };
    assert_eq!(max_payload(&json), Some(1_048_576));
    assert_eq!(max_payload("{}"), None);
    assert_eq!(max_payload("not json"), None);
}

#[test]
fn messages_carry_their_payload_even_when_it_holds_crlf() {
    let input = b"MSG inventory.orders.created 1 5\r\na\r\nbc\r\nPING\r\n";
    let (op, used) = parsed(input);
    assert_eq!(
        op,
        ServerOp::Msg { subject: "inventory.orders.created".into(), payload: b"a\r\nbc".to_vec() }
    );
    assert_eq!(parsed(&input[used..]), (ServerOp::Ping, 6));
    let (op, _) = parsed(b"MSG s 1 reply.to 2\r\nhi\r\n");
    assert_eq!(op, ServerOp::Msg { subject: "s".into(), payload: b"hi".to_vec() });
}

#[test]
fn an_operation_split_anywhere_waits_for_more_bytes() {
    for whole in [&b"INFO {\"max_payload\":10}\r\n"[..], b"MSG s 1 3\r\nabc\r\n", b"PING\r\n"] {
        for cut in 0..whole.len() {
            assert_eq!(parse_op(&whole[..cut]), Ok(None), "{whole:?} cut at {cut}");
        }
        assert_eq!(parsed(whole).1, whole.len());
    }
}

#[test]
fn malformed_operations_are_protocol_errors() {
    for bad in [
        &b"HELLO\r\n"[..],
        b"MSG s\r\n",
        b"MSG s 1 x\r\n",
        b"MSG s 1 3\r\nabcd\r\n",
        b"\xff\xfe\r\n",
    ] {
        assert!(parse_op(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
    let endless = vec![b'I'; MAX_LINE + 10];
    assert!(parse_op(&endless).is_err(), "a line without end is refused once too long");
}
