//! Connection tests named after RFC 6455 sections: the §5.7 vectors fed
//! whole, byte by byte and split at every offset; failures and their close
//! codes; the closing handshake; timers on a fake clock.

extern crate std;

use std::vec;
use std::vec::Vec;

use super::*;
use crate::close::CloseCode;
use crate::error::SendError;
use crate::keys::NoMaskKeys;
use crate::recv_buf::RecvBuf;
use core::time::Duration;

type TestConn = Connection<fn() -> [u8; 4], Vec<u8>>;

fn fixed_key() -> [u8; 4] {
    [0x37, 0xfa, 0x21, 0x3d]
}

fn conn(role: Role, config: Config) -> TestConn {
    Connection::with_parts(
        role,
        config,
        Instant::ZERO,
        fixed_key as fn() -> [u8; 4],
        Vec::new(),
    )
}

/// An event in owned form, with data chunks of one frame merged, so runs
/// with different split points compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Frame {
        kind: DataKind,
        payload: Vec<u8>,
        end_of_message: bool,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, std::string::String),
    Life(Lifecycle),
}

/// Feeds `chunks` into a connection and records events, lifecycle changes
/// and every byte it transmits.
fn run(conn: &mut TestConn, chunks: &[&[u8]], buf_size: usize) -> (Vec<Seen>, Vec<u8>, bool) {
    let mut buf = RecvBuf::new(vec![0u8; buf_size]).unwrap();
    let mut seen = Vec::new();
    let mut partial: Option<(DataKind, Vec<u8>)> = None;
    let mut out = Vec::new();
    let mut shutdown = false;
    for chunk in chunks {
        let mut rest = *chunk;
        while !rest.is_empty() {
            let n = buf.extend_from_slice(rest);
            rest = &rest[n..];
            while let Some(event) = conn.receive(Instant::ZERO, &mut buf) {
                match event {
                    Event::Data {
                        kind,
                        payload,
                        end_of_frame,
                        end_of_message,
                    } => {
                        let entry = partial.get_or_insert_with(|| (kind, Vec::new()));
                        entry.1.extend_from_slice(payload);
                        if end_of_frame {
                            let (kind, payload) = partial.take().unwrap();
                            seen.push(Seen::Frame {
                                kind,
                                payload,
                                end_of_message,
                            });
                        }
                    }
                    Event::Ping(p) => seen.push(Seen::Ping(p.to_vec())),
                    Event::Pong(p) => seen.push(Seen::Pong(p.to_vec())),
                    Event::CloseReceived(f) => {
                        seen.push(Seen::Close(f.code.as_u16(), f.reason.into()))
                    }
                }
            }
            if n == 0 {
                break;
            }
        }
        drain(conn, &mut out, &mut shutdown, &mut seen);
    }
    (seen, out, shutdown)
}

fn drain(conn: &mut TestConn, out: &mut Vec<u8>, shutdown: &mut bool, seen: &mut Vec<Seen>) {
    while let Some(t) = conn.poll_transmit() {
        match t {
            Transmit::Bytes(b) => {
                let n = b.len();
                out.extend_from_slice(b);
                conn.consume_transmit(n);
            }
            Transmit::Shutdown => *shutdown = true,
        }
    }
    while let Some(life) = conn.poll_event() {
        seen.push(Seen::Life(life));
    }
}

/// Runs `input` whole, one byte at a time and split at every offset into a
/// server (or client) connection and checks all runs agree.
fn split_invariant(role: Role, input: &[u8]) -> (Vec<Seen>, Vec<u8>, bool) {
    let whole = run(&mut conn(role, Config::default()), &[input], 1024);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(
        run(&mut conn(role, Config::default()), &bytes, 1024),
        whole,
        "byte by byte"
    );
    for split in 0..=input.len() {
        let (a, b) = input.split_at(split);
        assert_eq!(
            run(&mut conn(role, Config::default()), &[a, b], 1024),
            whole,
            "split at {split}"
        );
    }
    // The smallest receive buffer gives the same result too.
    assert_eq!(
        run(&mut conn(role, Config::default()), &[input], 256),
        whole,
        "small buffer"
    );
    whole
}

fn frame(kind: DataKind, payload: &[u8], end_of_message: bool) -> Seen {
    Seen::Frame {
        kind,
        payload: payload.to_vec(),
        end_of_message,
    }
}

const MASKED_HELLO: &[u8] = &[
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

// ---------------------------------------------------------------- §5.7

#[test]
fn s5_7_unmasked_text_to_client() {
    let (seen, out, _) = split_invariant(Role::Client, &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(seen, [frame(DataKind::Text, b"Hello", true)]);
    assert!(out.is_empty());
}

#[test]
fn s5_7_masked_text_to_server() {
    let (seen, _, _) = split_invariant(Role::Server, MASKED_HELLO);
    assert_eq!(seen, [frame(DataKind::Text, b"Hello", true)]);
}

#[test]
fn s5_7_fragmented_text() {
    let input = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    let (seen, _, _) = split_invariant(Role::Client, &input);
    assert_eq!(
        seen,
        [
            frame(DataKind::Text, b"Hel", false),
            frame(DataKind::Text, b"lo", true)
        ]
    );
}

#[test]
fn s5_7_ping_is_answered_with_pong() {
    // Unmasked Ping "Hello" to a client; the client answers with a masked Pong.
    let (seen, out, _) = split_invariant(Role::Client, &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(seen, [Seen::Ping(b"Hello".to_vec())]);
    assert_eq!(
        out,
        [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
        ]
    );
}

#[test]
fn s5_7_masked_pong() {
    let input = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let (seen, out, _) = split_invariant(Role::Server, &input);
    assert_eq!(seen, [Seen::Pong(b"Hello".to_vec())]);
    assert!(out.is_empty());
}

#[test]
fn s5_7_binary_256_and_64k() {
    let mut input = vec![0x82, 0x7e, 0x01, 0x00];
    input.extend((0..256).map(|i| i as u8));
    let (seen, _, _) = run(&mut conn(Role::Client, Config::default()), &[&input], 256);
    assert_eq!(seen, [frame(DataKind::Binary, &input[4..], true)]);

    let mut big = vec![0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0];
    big.extend((0..65536).map(|i| (i % 251) as u8));
    let (seen, _, _) = run(&mut conn(Role::Client, Config::default()), &[&big], 300);
    assert_eq!(seen, [frame(DataKind::Binary, &big[10..], true)]);
}

#[test]
fn s5_7_encoded_frames_are_byte_exact() {
    let mut server = conn(Role::Server, Config::default());
    server.send_text("Hello").unwrap();
    assert_eq!(
        server.poll_transmit(),
        Some(Transmit::Bytes(
            &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f][..]
        ))
    );
    server.consume_transmit(7);
    server.send_fragment(DataKind::Text, b"Hel", false).unwrap();
    server.send_fragment(DataKind::Text, b"lo", true).unwrap();
    server.send_ping(b"Hello").unwrap();
    let Some(Transmit::Bytes(bytes)) = server.poll_transmit() else {
        panic!()
    };
    assert_eq!(
        bytes,
        [
            0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f, 0x89, 0x05, 0x48, 0x65, 0x6c,
            0x6c, 0x6f
        ]
    );

    let mut client = conn(Role::Client, Config::default());
    client.send_text("Hello").unwrap();
    assert_eq!(client.poll_transmit(), Some(Transmit::Bytes(MASKED_HELLO)));

    let mut server = conn(Role::Server, Config::default());
    server.send_binary(&[0u8; 256]).unwrap();
    let Some(Transmit::Bytes(bytes)) = server.poll_transmit() else {
        panic!()
    };
    assert_eq!(bytes[..4], [0x82, 0x7e, 0x01, 0x00]);
    let len = bytes.len();
    server.consume_transmit(len);
    server.send_binary(&[0u8; 65536]).unwrap();
    let Some(Transmit::Bytes(bytes)) = server.poll_transmit() else {
        panic!()
    };
    assert_eq!(bytes[..10], [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
}

// ---------------------------------------------------------------- failures

/// Feeds `input` to a server and returns the close code it sent and the
/// failure it reported.
fn server_failure(
    config: Config,
    input: &[u8],
) -> (Option<CloseCode>, Option<ProtocolError>, Vec<Seen>) {
    let mut server = conn(Role::Server, config);
    let (seen, out, shutdown) = run(&mut server, &[input], 1024);
    let failure = seen.iter().find_map(|s| match s {
        Seen::Life(Lifecycle::Failed(e)) => Some(*e),
        _ => None,
    });
    if failure.is_some() {
        // A server that fails the connection closes the transport at once.
        assert!(shutdown, "no shutdown after failure");
        assert!(server.is_closed());
        // Only a close frame comes out after the failure.
        assert_eq!(out[0], 0x88, "close frame expected, got {out:?}");
    }
    let code = server.close_sent();
    (code, failure, seen)
}

fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let key = [1, 2, 3, 4];
    let mut out = vec![first];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 65535 => {
            out.push(0x80 | 126);
            out.extend((n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend((n as u64).to_be_bytes());
        }
    }
    out.extend(key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

macro_rules! failures {
    ($($name:ident: $input:expr => $err:expr, $code:expr;)*) => {$(
        #[test]
        fn $name() {
            let (code, err, _) = server_failure(Config::default(), &$input);
            assert_eq!(err, Some($err));
            assert_eq!(code, Some(CloseCode::new($code)));
        }
    )*};
}

failures! {
    s5_1_unmasked_client_frame: [0x81, 0x00] => ProtocolError::UnmaskedFrame, 1002;
    s5_2_rsv1_without_extension: masked(0xc1, b"x") => ProtocolError::ReservedBits, 1002;
    s5_2_rsv3_without_extension: masked(0x91, b"x") => ProtocolError::ReservedBits, 1002;
    s5_2_reserved_data_opcode: masked(0x83, b"") => ProtocolError::ReservedOpcode(3), 1002;
    s5_2_reserved_control_opcode: masked(0x8b, b"") => ProtocolError::ReservedOpcode(0xb), 1002;
    s5_2_length_top_bit: [0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4] => ProtocolError::InvalidLength, 1002;
    s5_5_fragmented_ping: masked(0x09, b"") => ProtocolError::FragmentedControlFrame, 1002;
    s5_5_ping_over_125: masked(0x89, &[0; 126]) => ProtocolError::ControlFrameTooLong, 1002;
    s5_4_continuation_without_message: masked(0x80, b"x") => ProtocolError::UnexpectedContinuation, 1002;
    s5_4_new_message_inside_fragmented: [masked(0x01, b"a"), masked(0x81, b"b")].concat() => ProtocolError::ExpectedContinuation, 1002;
    s5_5_1_close_one_byte: masked(0x88, b"\x03") => ProtocolError::InvalidClosePayload, 1002;
    s7_4_close_code_1005: masked(0x88, b"\x03\xed") => ProtocolError::InvalidCloseCode(1005), 1002;
    s8_1_close_reason_not_utf8: masked(0x88, b"\x03\xe8\xc0") => ProtocolError::InvalidUtf8, 1007;
    s8_1_invalid_utf8_text: masked(0x81, b"\xce\xba\xed\xa0\x80") => ProtocolError::InvalidUtf8, 1007;
    s8_1_truncated_utf8_text: masked(0x81, b"\xce") => ProtocolError::InvalidUtf8, 1007;
    s8_1_invalid_utf8_across_fragments: [masked(0x01, b"\xf0\x9f"), masked(0x80, b"\x98\x28")].concat() => ProtocolError::InvalidUtf8, 1007;
}

#[test]
fn s8_1_utf8_fails_fast_before_message_end() {
    // The first fragment is already invalid; the message never finishes.
    let (code, err, seen) = server_failure(Config::default(), &masked(0x01, b"ok\xff"));
    assert_eq!(err, Some(ProtocolError::InvalidUtf8));
    assert_eq!(code, Some(CloseCode::INVALID_PAYLOAD));
    assert!(
        !seen.iter().any(|s| matches!(s, Seen::Frame { .. })),
        "invalid chunk delivered"
    );
}

#[test]
fn s10_4_frame_too_large_decided_from_header() {
    let mut config = Config::default();
    config.max_frame_size(1000);
    // Only the header of a 2^40-byte frame: rejected without its payload.
    let header = [0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    let (code, err, _) = server_failure(config, &header);
    assert_eq!(err, Some(ProtocolError::FrameTooLarge));
    assert_eq!(code, Some(CloseCode::MESSAGE_TOO_BIG));
}

#[test]
fn s10_4_message_limit_at_the_crossing_fragment() {
    let mut config = Config::default();
    config.max_message_size(10);
    let input = [
        masked(0x02, &[1; 6]),
        masked(0x00, &[2; 4]),
        masked(0x80, &[3; 1]),
    ]
    .concat();
    let (code, err, seen) = server_failure(config, &input);
    assert_eq!(err, Some(ProtocolError::MessageTooLarge));
    assert_eq!(code, Some(CloseCode::MESSAGE_TOO_BIG));
    // The two fragments within the limit were delivered.
    assert_eq!(
        seen.iter()
            .filter(|s| matches!(s, Seen::Frame { .. }))
            .count(),
        2
    );
}

#[test]
fn s10_4_fragment_count_cap() {
    let mut config = Config::default();
    config.max_fragments(3);
    let mut input = masked(0x02, b"");
    for _ in 0..5 {
        input.extend(masked(0x00, b""));
    }
    let (code, err, _) = server_failure(config, &input);
    assert_eq!(err, Some(ProtocolError::TooManyFragments));
    assert_eq!(code, Some(CloseCode::POLICY_VIOLATION));
}

#[test]
fn s5_1_client_rejects_masked_server_frame() {
    let mut client = conn(Role::Client, Config::default());
    let (seen, out, shutdown) = run(&mut client, &[MASKED_HELLO], 1024);
    assert_eq!(
        seen,
        [Seen::Life(Lifecycle::Failed(ProtocolError::MaskedFrame))]
    );
    // The client sends its (masked) close and waits for the server to close.
    assert_eq!(out[0], 0x88);
    assert!(!shutdown);
    assert_eq!(client.state(), State::Closing);
    client.receive_eof(Instant::ZERO);
    assert!(client.is_closed());
}

#[test]
fn input_after_failure_is_discarded() {
    let input = [vec![0x81, 0x00], masked(0x81, b"never seen")].concat();
    let (_, err, seen) = server_failure(Config::default(), &input);
    assert_eq!(err, Some(ProtocolError::UnmaskedFrame));
    assert!(!seen.iter().any(|s| matches!(s, Seen::Frame { .. })));
}

// ---------------------------------------------------------------- §5.4, §5.5 interleaving

#[test]
fn s5_4_control_frames_inside_fragmented_message() {
    let input = [
        masked(0x01, b"fra"),
        masked(0x89, b"p"),
        masked(0x80, b"gment"),
    ]
    .concat();
    let (seen, out, _) = split_invariant(Role::Server, &input);
    assert_eq!(
        seen,
        [
            frame(DataKind::Text, b"fra", false),
            Seen::Ping(b"p".to_vec()),
            frame(DataKind::Text, b"gment", true)
        ]
    );
    assert_eq!(out, [0x8a, 0x01, b'p']);
}

#[test]
fn empty_frames_are_events() {
    let input = [masked(0x81, b""), masked(0x02, b""), masked(0x80, b"")].concat();
    let (seen, _, _) = split_invariant(Role::Server, &input);
    assert_eq!(
        seen,
        [
            frame(DataKind::Text, b"", true),
            frame(DataKind::Binary, b"", false),
            frame(DataKind::Binary, b"", true)
        ]
    );
}

// ---------------------------------------------------------------- §7 closing handshake

#[test]
fn s7_1_remote_close_is_echoed_and_server_closes_first() {
    let (seen, out, shutdown) = split_invariant(Role::Server, &masked(0x88, b"\x03\xe8bye"));
    assert_eq!(seen[0], Seen::Close(1000, "bye".into()));
    let Seen::Life(Lifecycle::Closed(outcome)) = seen[1] else {
        panic!("{seen:?}")
    };
    assert_eq!(outcome.code, CloseCode::NORMAL);
    assert_eq!(outcome.sent, Some(CloseCode::NORMAL));
    assert_eq!(outcome.initiator, Initiator::Remote);
    assert!(outcome.clean);
    assert_eq!(out, [0x88, 0x02, 0x03, 0xe8]);
    assert!(shutdown);
}

#[test]
fn s7_1_5_empty_close_is_echoed_empty() {
    let (seen, out, _) = run(
        &mut conn(Role::Server, Config::default()),
        &[&masked(0x88, b"")],
        1024,
    );
    assert_eq!(seen[0], Seen::Close(1005, "".into()));
    assert_eq!(out, [0x88, 0x00]);
}

#[test]
fn s7_1_local_close_waits_for_the_peer() {
    let mut server = conn(Role::Server, Config::default());
    server
        .close(Instant::ZERO, CloseCode::GOING_AWAY, "shutdown")
        .unwrap();
    assert_eq!(server.state(), State::Closing);
    assert_eq!(server.send_text("late"), Err(SendError::InvalidState));
    assert_eq!(
        server.close(Instant::ZERO, CloseCode::NORMAL, ""),
        Err(SendError::InvalidState)
    );
    let (seen, out, shutdown) = run(&mut server, &[&masked(0x88, b"\x03\xe9")], 1024);
    assert_eq!(&out[..4], [0x88, 0x0a, 0x03, 0xe9]);
    assert_eq!(&out[4..], b"shutdown");
    assert!(shutdown);
    let Some(Seen::Life(Lifecycle::Closed(outcome))) = seen.last() else {
        panic!()
    };
    assert_eq!(outcome.initiator, Initiator::Local);
    assert!(outcome.clean);
    // Data after the close frame is discarded.
    let (seen, _, _) = run(&mut server, &[&masked(0x81, b"x")], 1024);
    assert!(seen.is_empty());
}

#[test]
fn s7_4_close_rejects_unsendable_codes_and_long_reasons() {
    let mut server = conn(Role::Server, Config::default());
    assert_eq!(
        server.close(Instant::ZERO, CloseCode::NO_STATUS_RCVD, ""),
        Err(SendError::InvalidCloseCode)
    );
    assert_eq!(
        server.close(Instant::ZERO, CloseCode::new(1004), ""),
        Err(SendError::InvalidCloseCode)
    );
    let long = "x".repeat(124);
    assert_eq!(
        server.close(Instant::ZERO, CloseCode::NORMAL, &long),
        Err(SendError::CloseReasonTooLong)
    );
    assert!(server.is_open());
    assert_eq!(server.send_ping(&[0; 126]), Err(SendError::FrameTooLarge));
}

#[test]
fn s7_1_7_eof_without_close_is_abnormal() {
    let mut server = conn(Role::Server, Config::default());
    server.receive_eof(Instant::ZERO);
    assert!(server.is_closed());
    let Some(Lifecycle::Closed(outcome)) = server.poll_event() else {
        panic!()
    };
    assert_eq!(outcome.code, CloseCode::ABNORMAL_CLOSURE);
    assert_eq!(outcome.initiator, Initiator::Transport);
    assert!(!outcome.clean);
    assert_eq!(server.poll_event(), None);
    server.receive_eof(Instant::ZERO);
    assert_eq!(server.poll_event(), None, "Closed is reported once");
}

// ---------------------------------------------------------------- send side

#[test]
fn fragment_rules_on_send() {
    let mut server = conn(Role::Server, Config::default());
    server.send_fragment(DataKind::Binary, b"a", false).unwrap();
    assert_eq!(server.send_text("x"), Err(SendError::FragmentInProgress));
    assert_eq!(
        server.send_fragment(DataKind::Text, b"b", true),
        Err(SendError::FragmentInProgress)
    );
    server.send_ping(b"").unwrap();
    server.send_fragment(DataKind::Binary, b"b", true).unwrap();
    server.send_text("x").unwrap();
}

#[test]
fn backpressure_watermark() {
    let mut config = Config::default();
    config.send_buffer_watermark(100);
    let mut server = conn(Role::Server, config);
    // One frame larger than the watermark fits an empty buffer.
    server.send_binary(&[0; 200]).unwrap();
    assert_eq!(
        server.send_binary(b"x"),
        Err(SendError::BufferFull { needed: 3 })
    );
    let before = server.send_buffered();
    assert_eq!(before, 204);
    server.consume_transmit(204);
    for _ in 0..33 {
        server.send_binary(b"x").unwrap();
    }
    assert_eq!(
        server.send_binary(b"x"),
        Err(SendError::BufferFull { needed: 3 })
    );
    assert_eq!(server.send_buffered(), 99);
}

#[test]
fn fixed_storage_without_alloc_semantics() {
    let mut server = Connection::with_parts(
        Role::Server,
        Config::default(),
        Instant::ZERO,
        NoMaskKeys,
        crate::send_buf::ArrayStorage::<16>::new(),
    );
    server.send_binary(&[1; 10]).unwrap();
    assert_eq!(
        server.send_binary(&[1; 10]),
        Err(SendError::BufferFull { needed: 12 })
    );
    // A ping flood while the storage is full: pongs coalesce to the latest.
    let mut buf = RecvBuf::new([0u8; 512]).unwrap();
    for i in 0..50u8 {
        buf.extend_from_slice(&masked(0x89, &[i]));
        while server.receive(Instant::ZERO, &mut buf).is_some() {}
    }
    // The first pong fitted; the other 49 pings left only the latest pending.
    assert_eq!(server.send_buffered(), 15);
    assert_eq!(server.send_storage().as_slice()[12..], [0x8a, 0x01, 0]);
    server.consume_transmit(15);
    let Some(Transmit::Bytes(bytes)) = server.poll_transmit() else {
        panic!()
    };
    assert_eq!(bytes, [0x8a, 0x01, 49]);
}

// ---------------------------------------------------------------- timers

fn secs(s: u64) -> Instant {
    Instant::from_millis(s * 1000)
}

#[test]
fn keepalive_ping_and_pong_deadline() {
    let mut config = Config::default();
    config
        .keepalive_interval(Some(Duration::from_secs(10)))
        .pong_timeout(Duration::from_secs(5));
    let mut server = conn(Role::Server, config);
    assert_eq!(server.poll_timeout(), Some(secs(10)));
    server.handle_timeout(secs(9)); // early: a no-op
    assert_eq!(server.send_buffered(), 0);
    server.handle_timeout(secs(10));
    let Some(Transmit::Bytes(bytes)) = server.poll_transmit() else {
        panic!()
    };
    assert_eq!(bytes[..2], [0x89, 0x08]);
    server.consume_transmit(10);
    assert_eq!(server.poll_timeout(), Some(secs(15)));
    // A pong within the deadline keeps the connection.
    let mut buf = RecvBuf::new([0u8; 512]).unwrap();
    buf.extend_from_slice(&masked(0x8a, &1u64.to_be_bytes()));
    assert!(matches!(
        server.receive(secs(12), &mut buf),
        Some(Event::Pong(_))
    ));
    assert_eq!(server.poll_timeout(), Some(secs(22)));
    // Silence: ping at 22, no answer by 27.
    server.handle_timeout(secs(22));
    server.handle_timeout(secs(27));
    assert!(server.is_closed());
    assert_eq!(server.poll_event(), Some(Lifecycle::KeepaliveTimedOut));
    let Some(Lifecycle::Closed(outcome)) = server.poll_event() else {
        panic!()
    };
    assert!(outcome.timed_out);
    assert_eq!(outcome.sent, Some(CloseCode::INTERNAL_ERROR));
}

/// Found while writing the `connection` fuzz target, whose send-buffer bound
/// flags `fuzz/corpus/connection/regression-keepalive-watermark`: keepalive
/// Pings ignored the watermark, so a peer that neither reads nor answers
/// made the send buffer grow by one Ping per interval until the pong
/// deadline.
#[test]
fn keepalive_pings_respect_the_watermark() {
    let mut config = Config::default();
    config
        .keepalive_interval(Some(Duration::from_millis(1)))
        .pong_timeout(Duration::from_secs(20))
        .send_buffer_watermark(100);
    let mut client = conn(Role::Client, config);
    for ms in 1..=2000 {
        client.handle_timeout(Instant::from_millis(ms));
    }
    assert!(client.is_open());
    assert!(
        client.send_buffered() <= 100 + 14,
        "{} bytes buffered",
        client.send_buffered()
    );
}

#[test]
fn close_timeout_ends_an_ignored_close() {
    let mut client = conn(Role::Client, Config::default());
    client.close(secs(1), CloseCode::NORMAL, "").unwrap();
    assert_eq!(client.poll_timeout(), Some(secs(11)));
    client.handle_timeout(secs(11));
    assert!(client.is_closed());
    let mut out = Vec::new();
    let mut shutdown = false;
    let mut seen = Vec::new();
    drain(&mut client, &mut out, &mut shutdown, &mut seen);
    assert!(shutdown);
    let Some(Seen::Life(Lifecycle::Closed(outcome))) = seen.last() else {
        panic!()
    };
    assert!(outcome.timed_out && !outcome.clean);
    assert_eq!(client.poll_timeout(), None);
}

#[test]
fn idle_timeout_closes_with_1001() {
    let mut config = Config::default();
    config.idle_timeout(Some(Duration::from_secs(30)));
    let mut server = conn(Role::Server, config);
    let mut buf = RecvBuf::new([0u8; 512]).unwrap();
    buf.extend_from_slice(&masked(0x81, b"hi"));
    while server.receive(secs(20), &mut buf).is_some() {}
    assert_eq!(server.poll_timeout(), Some(secs(50)));
    server.handle_timeout(secs(50));
    assert_eq!(server.close_sent(), Some(CloseCode::GOING_AWAY));
    assert_eq!(server.poll_timeout(), Some(secs(60)));
}

#[test]
fn prepared_frames_share_bytes_and_follow_the_rules() {
    let frame = crate::frame::PreparedFrame::text("Hello");
    let mut a = conn(Role::Server, Config::default());
    let mut b = conn(Role::Server, Config::default());
    a.send_prepared(&frame).unwrap();
    b.send_prepared(&frame).unwrap();
    assert_eq!(
        a.poll_transmit(),
        Some(Transmit::Bytes(
            &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f][..]
        ))
    );
    assert_eq!(b.send_buffered(), 7);
    // Not inside a fragmented message, not after Close, never from a client.
    b.send_fragment(DataKind::Text, b"x", false).unwrap();
    assert_eq!(b.send_prepared(&frame), Err(SendError::FragmentInProgress));
    a.close(Instant::ZERO, CloseCode::NORMAL, "").unwrap();
    assert_eq!(a.send_prepared(&frame), Err(SendError::InvalidState));
    let mut client = conn(Role::Client, Config::default());
    assert_eq!(client.send_prepared(&frame), Err(SendError::InvalidState));
    // The watermark applies.
    let mut config = Config::default();
    config.send_buffer_watermark(10);
    let mut c = conn(Role::Server, config);
    c.send_prepared(&frame).unwrap();
    assert_eq!(
        c.send_prepared(&frame),
        Err(SendError::BufferFull { needed: 7 })
    );
}

// ---------------------------------------------------------------- external payloads

/// Drains `conn` into `out`, writing owed external payload bytes from
/// `payload` (in pieces of `piece` bytes) where they belong.
fn drain_with_payload(conn: &mut TestConn, payload: &[u8], piece: usize, out: &mut Vec<u8>) {
    let mut written = payload.len() - conn.payload_owed();
    loop {
        if let Some(Transmit::Bytes(bytes)) = conn.poll_transmit() {
            let n = bytes.len();
            out.extend_from_slice(bytes);
            conn.consume_transmit(n);
        } else if conn.payload_owed() > 0 {
            let n = piece.min(conn.payload_owed());
            out.extend_from_slice(&payload[written..written + n]);
            written += n;
            conn.consume_payload(n);
        } else {
            return;
        }
    }
}

#[test]
fn s5_2_external_payload_goes_between_its_header_and_later_frames() {
    let mut server = conn(Role::Server, Config::default());
    let payload: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    assert_eq!(
        server.send_external(DataKind::Binary, payload.len()),
        Ok(true)
    );
    assert_eq!(server.send_buffered(), 4 + 300);
    // One external payload at a time; whole messages queue behind it.
    assert_eq!(
        server.send_external(DataKind::Binary, 10),
        Err(SendError::BufferFull { needed: 12 })
    );
    server.send_text("after").unwrap();
    assert_eq!(
        server.poll_transmit(),
        Some(Transmit::Bytes(&[0x82, 0x7e, 0x01, 0x2c][..]))
    );
    // Payload reports before the header is written are ignored.
    server.consume_payload(300);
    assert_eq!(server.payload_owed(), 300);
    server.consume_transmit(4);
    assert_eq!(server.poll_transmit(), None);
    let mut wire = vec![0x82, 0x7e, 0x01, 0x2c];
    drain_with_payload(&mut server, &payload, 7, &mut wire);
    assert_eq!(server.send_buffered(), 0);
    let (seen, _, _) = run(&mut conn(Role::Client, Config::default()), &[&wire], 256);
    assert_eq!(
        seen,
        vec![
            frame(DataKind::Binary, &payload, true),
            frame(DataKind::Text, b"after", true)
        ]
    );
}

#[test]
fn s5_5_pong_and_close_wait_for_the_external_payload() {
    let mut server = conn(Role::Server, Config::default());
    assert_eq!(server.send_external(DataKind::Text, 5), Ok(true));
    // A Ping arrives: its Pong is queued behind the payload.
    let mut buf = RecvBuf::new(vec![0u8; 256]).unwrap();
    buf.extend_from_slice(&[0x89, 0x80, 1, 2, 3, 4]);
    assert_eq!(
        server.receive(Instant::ZERO, &mut buf),
        Some(Event::Ping(&[][..]))
    );
    server.close(Instant::ZERO, CloseCode::NORMAL, "").unwrap();
    let mut wire = Vec::new();
    drain_with_payload(&mut server, b"hello", 2, &mut wire);
    assert_eq!(
        wire,
        [
            0x81, 0x05, b'h', b'e', b'l', b'l', b'o', 0x8a, 0x00, 0x88, 0x02, 0x03, 0xe8
        ]
    );
}

#[test]
fn s5_3_external_payloads_only_go_out_untouched() {
    // A client masks every payload: it has to copy.
    let mut client = conn(Role::Client, Config::default());
    assert_eq!(client.send_external(DataKind::Binary, 100), Ok(false));
    assert_eq!(client.send_buffered(), 0);
    // The usual rules apply.
    let mut server = conn(Role::Server, Config::default());
    server.send_fragment(DataKind::Text, b"x", false).unwrap();
    assert_eq!(
        server.send_external(DataKind::Text, 1),
        Err(SendError::FragmentInProgress)
    );
    let mut closed = conn(Role::Server, Config::default());
    closed.close(Instant::ZERO, CloseCode::NORMAL, "").unwrap();
    assert_eq!(
        closed.send_external(DataKind::Text, 1),
        Err(SendError::InvalidState)
    );
    // The payload counts against the watermark.
    let mut config = Config::default();
    config.send_buffer_watermark(100);
    let mut small = conn(Role::Server, config);
    small.send_binary(&[0; 10]).unwrap();
    assert_eq!(
        small.send_external(DataKind::Binary, 100),
        Err(SendError::BufferFull { needed: 102 })
    );
}

#[test]
fn s5_2_frame_remaining_counts_down_the_payload_still_to_come() {
    let mut server = conn(Role::Server, Config::default());
    assert_eq!(server.frame_remaining(), None);
    let payload = [7u8; 300];
    let frame = masked(0x82, &payload);
    let header = frame.len() - payload.len();
    let mut buf = RecvBuf::new(vec![0u8; 512]).unwrap();
    buf.extend_from_slice(&frame[..100]);
    match server.receive(Instant::ZERO, &mut buf) {
        Some(Event::Data { payload, .. }) => assert_eq!(payload.len(), 100 - header),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        server.frame_remaining(),
        Some((300 - (100 - header)) as u64)
    );
    buf.extend_from_slice(&frame[100..]);
    match server.receive(Instant::ZERO, &mut buf) {
        Some(Event::Data { end_of_frame, .. }) => assert!(end_of_frame),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(server.frame_remaining(), None);
    // A frame delivered whole never shows.
    buf.extend_from_slice(MASKED_HELLO);
    assert!(server.receive(Instant::ZERO, &mut buf).is_some());
    assert_eq!(server.frame_remaining(), None);
}

/// Feeds `wire` to a server `step` bytes at a time, handing the bytes of a
/// data frame's payload to `receive_in_place` whenever the receive buffer
/// is empty and a frame is under way (as a runtime that reads large
/// frames straight into the message buffer does); returns the messages
/// and control payloads in order, and how many bytes went in place.
fn drive_in_place(server: &mut TestConn, wire: &[u8], step: usize) -> (Vec<Seen>, usize) {
    fn record(seen: &mut Vec<Seen>, partial: &mut Vec<u8>, event: Event<'_>) {
        match event {
            Event::Data {
                kind,
                payload,
                end_of_message,
                ..
            } => {
                partial.extend_from_slice(payload);
                if end_of_message {
                    seen.push(Seen::Frame {
                        kind,
                        payload: core::mem::take(partial),
                        end_of_message,
                    });
                }
            }
            Event::Ping(p) => seen.push(Seen::Ping(p.to_vec())),
            Event::Pong(p) => seen.push(Seen::Pong(p.to_vec())),
            Event::CloseReceived(f) => seen.push(Seen::Close(f.code.as_u16(), f.reason.into())),
        }
    }
    let mut buf = RecvBuf::new(vec![0u8; 256]).unwrap();
    let (mut seen, mut partial, mut pos, mut in_place) = (Vec::new(), Vec::new(), 0, 0);
    loop {
        while let Some(event) = server.receive(Instant::ZERO, &mut buf) {
            record(&mut seen, &mut partial, event);
        }
        if pos == wire.len() || server.failure.is_some() {
            return (seen, in_place);
        }
        let end = (pos + step).min(wire.len());
        match server.frame_remaining() {
            Some(remaining) if buf.is_empty() => {
                let end = end.min(pos + remaining as usize);
                let mut bytes = wire[pos..end].to_vec();
                pos = end;
                in_place += bytes.len();
                match server.receive_in_place(Instant::ZERO, &mut bytes) {
                    Some(event) => record(&mut seen, &mut partial, event),
                    None => assert!(server.failure.is_some(), "in-place bytes refused"),
                }
            }
            _ => pos += buf.extend_from_slice(&wire[pos..end]),
        }
    }
}

#[test]
fn s5_2_receive_in_place_gives_the_messages_receive_gives() {
    let text = "grüße, 世界 — 🦀 ".repeat(40);
    let (first, second) = text.as_bytes().split_at(301); // inside a character
    let binary: Vec<u8> = (0..2000u32).map(|i| (i * 7) as u8).collect();
    let mut wire = Vec::new();
    wire.extend(masked(0x01, first));
    wire.extend(masked(0x89, b"ping"));
    wire.extend(masked(0x80, second));
    wire.extend(masked(0x82, &binary));
    wire.extend(masked(0x81, text.as_bytes()));
    wire.extend(masked(0x82, &[]));
    let (expected, _) = {
        let mut server = conn(Role::Server, Config::default());
        drive_in_place(&mut server, &wire, wire.len())
    };
    assert_eq!(expected.len(), 5, "{expected:?}");
    // The Ping comes between the text message's two frames.
    assert_eq!(expected[0], Seen::Ping(b"ping".to_vec()));
    for step in [1, 2, 3, 5, 7, 64, 255, 1000] {
        let mut server = conn(Role::Server, Config::default());
        let (seen, in_place) = drive_in_place(&mut server, &wire, step);
        assert_eq!(seen, expected, "step {step}");
        // Most payload bytes took the in-place path.
        assert!(
            in_place > wire.len() / 2,
            "step {step}: {in_place} in place"
        );
        assert!(server.failure.is_none());
    }
}

#[test]
fn s8_1_receive_in_place_fails_invalid_utf8_with_1007() {
    let mut payload = "a".repeat(600).into_bytes();
    payload[500] = 0xff;
    let wire = masked(0x81, &payload);
    let mut server = conn(Role::Server, Config::default());
    drive_in_place(&mut server, &wire, 100);
    assert!(server.failure.is_some());
    assert_eq!(server.failure, Some(ProtocolError::InvalidUtf8));
    assert_eq!(server.close_sent(), Some(CloseCode::INVALID_PAYLOAD));
}

#[test]
fn receive_in_place_refuses_bytes_outside_a_frame() {
    let mut server = conn(Role::Server, Config::default());
    // No frame under way.
    assert_eq!(server.receive_in_place(Instant::ZERO, &mut [1, 2, 3]), None);
    let wire = masked(0x82, &[9u8; 300]);
    let mut buf = RecvBuf::new(vec![0u8; 256]).unwrap();
    buf.extend_from_slice(&wire[..8]); // header only
    assert_eq!(server.receive(Instant::ZERO, &mut buf), None);
    assert_eq!(server.frame_remaining(), Some(300));
    // Longer than the frame: refused, nothing changed.
    assert_eq!(
        server.receive_in_place(Instant::ZERO, &mut [0u8; 301]),
        None
    );
    assert_eq!(server.frame_remaining(), Some(300));
    assert!(server.failure.is_none());
    let mut rest = wire[8..].to_vec();
    match server.receive_in_place(Instant::ZERO, &mut rest) {
        Some(Event::Data {
            payload,
            end_of_message: true,
            ..
        }) => assert_eq!(payload, &[9u8; 300][..]),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(server.frame_remaining(), None);
}

/// The short path for whole messages (a whole masked Text/Binary frame of
/// at most 65,535 bytes between messages) gives the same events as the
/// general one: every
/// run below also goes byte by byte and split at every offset, where no
/// frame is ever whole in the buffer.
#[test]
fn whole_messages_match_the_general_path() {
    let text125: alloc::string::String = "é".repeat(62) + "x";
    let input = [
        masked(0x81, b"hi"),
        masked(0x82, &[0, 255, 7]),
        masked(0x81, b""),
        masked(0x82, b""),
        masked(0x81, text125.as_bytes()),
        masked(0x82, &[9; 126]),
        masked(0x82, &[8; 300]),
        // 5 bytes with the 16-bit length form (not minimal, but accepted).
        [
            &[0x82, 0xfe, 0, 5, 1, 2, 3, 4][..],
            &[6 ^ 1, 7 ^ 2, 8 ^ 3, 9 ^ 4, 10 ^ 1][..],
        ]
        .concat(),
        // A fragmented message: its first frame is not FIN, so general.
        masked(0x01, b"frag"),
        masked(0x80, b"ment"),
        masked(0x89, b"ping"),
        masked(0x81, "€".as_bytes()),
    ]
    .concat();
    let (seen, _, _) = split_invariant(Role::Server, &input);
    let data: Vec<_> = seen
        .iter()
        .filter(|s| matches!(s, Seen::Frame { .. }))
        .cloned()
        .collect();
    assert_eq!(
        data,
        [
            frame(DataKind::Text, b"hi", true),
            frame(DataKind::Binary, &[0, 255, 7], true),
            frame(DataKind::Text, b"", true),
            frame(DataKind::Binary, b"", true),
            frame(DataKind::Text, text125.as_bytes(), true),
            frame(DataKind::Binary, &[9; 126], true),
            frame(DataKind::Binary, &[8; 300], true),
            frame(DataKind::Binary, &[6, 7, 8, 9, 10], true),
            frame(DataKind::Text, b"frag", false),
            frame(DataKind::Text, b"ment", true),
            frame(DataKind::Text, "€".as_bytes(), true),
        ]
    );
}

/// The default configuration, changed by `f`.
fn with(f: impl FnOnce(&mut Config) -> &mut Config) -> Config {
    let mut config = Config::default();
    f(&mut config);
    config
}

/// Its checks fail the connection as the general path does: bad UTF-8
/// (whole, and cut off inside a character), a continuation where a new
/// message is expected, and the frame and message limits (the fragment
/// limit is at least 1, so a one-frame message never reaches it).
#[test]
fn whole_messages_are_checked_like_the_general_path() {
    let cases: [(Config, Vec<u8>, ProtocolError, CloseCode); 7] = [
        (
            Config::default(),
            masked(0x81, &[b'a', 0xff]),
            ProtocolError::InvalidUtf8,
            CloseCode::INVALID_PAYLOAD,
        ),
        (
            Config::default(),
            masked(0x81, &"€".as_bytes()[..2]),
            ProtocolError::InvalidUtf8,
            CloseCode::INVALID_PAYLOAD,
        ),
        (
            Config::default(),
            [masked(0x01, b"a"), masked(0x81, b"b")].concat(),
            ProtocolError::ExpectedContinuation,
            CloseCode::PROTOCOL_ERROR,
        ),
        (
            with(|c| c.max_frame_size(3)),
            masked(0x82, b"four"),
            ProtocolError::FrameTooLarge,
            CloseCode::MESSAGE_TOO_BIG,
        ),
        (
            with(|c| c.max_message_size(3)),
            masked(0x81, b"four"),
            ProtocolError::MessageTooLarge,
            CloseCode::MESSAGE_TOO_BIG,
        ),
        (
            with(|c| c.max_frame_size(200)),
            masked(0x82, &[0; 300]),
            ProtocolError::FrameTooLarge,
            CloseCode::MESSAGE_TOO_BIG,
        ),
        (
            with(|c| c.max_message_size(200)),
            masked(0x81, &[b'a'; 300]),
            ProtocolError::MessageTooLarge,
            CloseCode::MESSAGE_TOO_BIG,
        ),
    ];
    for (config, input, error, close) in cases {
        let (code, err, seen) = server_failure(config, &input);
        assert_eq!((err, code), (Some(error), Some(close)), "{input:?}");
        assert!(
            !seen.iter().any(|s| matches!(
                s,
                Seen::Frame {
                    end_of_message: true,
                    ..
                }
            )),
            "a rejected message was delivered: {input:?}"
        );
    }
}
