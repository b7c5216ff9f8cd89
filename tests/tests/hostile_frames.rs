//! Hostile peers, frame layer: malformed frames, oversized lengths,
//! fragment floods, invalid UTF-8 and bad Close frames, written as raw
//! bytes over loopback TCP. Each attack runs against a `ws-app` server on
//! tokio (`app`) and a raw `ws-runtime-tokio` echo server (`raw`); each
//! asserts the close code the attacker receives, then that the server still
//! serves a well-behaved client. `docs/security.md` lists the defences.

mod hostile_common;

use std::net::SocketAddr;
use std::time::Duration;

use hostile_common::{
    AppServer, Peer, RawServer, assert_still_serves, client_frame, close_frame, echo_app, frame,
    header,
};
use ws_runtime_tokio::WebSocketConfig;

/// The message (and frame) limit of both servers in this suite.
const LIMIT: u64 = 1000;

/// The fragment cap of the raw server (the app uses ws-app's default, 4096).
const RAW_MAX_FRAGMENTS: u32 = 64;

/// Runs `attack` against both servers: a fresh connection to each, then a
/// check that the server still echoes for a well-behaved client.
fn against_both(attack: impl Fn(SocketAddr, &str)) {
    let app = AppServer::start(echo_app(|config| {
        config.max_message_size(LIMIT);
    }));
    attack(app.addr(), "/echo");
    assert_still_serves(app.addr(), "/echo");

    let mut config = WebSocketConfig::default();
    config
        .protocol_mut()
        .max_message_size(LIMIT)
        .max_frame_size(LIMIT)
        .max_fragments(RAW_MAX_FRAGMENTS);
    let raw = RawServer::start(config);
    attack(raw.addr(), "/");
    assert_still_serves(raw.addr(), "/");
}

/// Sends `bytes` on a fresh connection and asserts the Close code.
fn expect_code(addr: SocketAddr, path: &str, bytes: &[u8], code: u16, what: &str) {
    let mut peer = Peer::upgrade(addr, path);
    let _ = peer.write(bytes);
    assert_eq!(peer.expect_close(), code, "{what}");
}

// ------------------------------------------------------------------ 1002

#[test]
fn unmasked_client_frame_closes_1002() {
    against_both(|addr, path| {
        let bytes = frame(true, 0, 0x1, b"hello", false);
        expect_code(addr, path, &bytes, 1002, "unmasked text frame");
    });
}

#[test]
fn rsv_bits_without_extension_close_1002() {
    against_both(|addr, path| {
        for rsv in [0x40, 0x20, 0x10, 0x70] {
            let bytes = frame(true, rsv, 0x1, b"hello", true);
            expect_code(addr, path, &bytes, 1002, &format!("RSV {rsv:#x}"));
        }
    });
}

#[test]
fn reserved_opcodes_close_1002() {
    against_both(|addr, path| {
        for opcode in [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            let bytes = frame(true, 0, opcode, b"x", true);
            expect_code(addr, path, &bytes, 1002, &format!("opcode {opcode:#x}"));
        }
    });
}

#[test]
fn oversized_or_fragmented_control_frames_close_1002() {
    against_both(|addr, path| {
        let big_ping = client_frame(true, 0x9, &[b'p'; 126]);
        expect_code(addr, path, &big_ping, 1002, "126-byte Ping");
        let big_close = client_frame(true, 0x8, &[b'c'; 200]);
        expect_code(addr, path, &big_close, 1002, "200-byte Close");
        let fragmented_ping = client_frame(false, 0x9, b"p");
        expect_code(addr, path, &fragmented_ping, 1002, "Ping without FIN");
    });
}

#[test]
fn continuation_without_message_closes_1002() {
    against_both(|addr, path| {
        let bytes = client_frame(true, 0x0, b"orphan");
        expect_code(addr, path, &bytes, 1002, "continuation, no message");
    });
}

#[test]
fn new_message_inside_fragmented_one_closes_1002() {
    against_both(|addr, path| {
        for opcode in [0x1, 0x2] {
            let mut bytes = client_frame(false, 0x1, b"first half");
            bytes.extend(client_frame(true, opcode, b"intruder"));
            expect_code(
                addr,
                path,
                &bytes,
                1002,
                &format!("opcode {opcode:#x} inside"),
            );
        }
    });
}

#[test]
fn length_with_top_bit_set_closes_1002() {
    against_both(|addr, path| {
        let mut bytes = vec![0x82, 0x80 | 127];
        bytes.extend_from_slice(&(1u64 << 63).to_be_bytes());
        bytes.extend_from_slice(&hostile_common::MASK);
        expect_code(addr, path, &bytes, 1002, "64-bit length with the top bit");
    });
}

// ------------------------------------------------------------------ 1009

#[test]
fn frame_over_limit_closes_1009_from_header_alone() {
    against_both(|addr, path| {
        for len in [LIMIT + 1, 70_000, 1 << 40] {
            // Only the header: the verdict cannot wait for the payload.
            let bytes = header(0x82, len, true);
            expect_code(
                addr,
                path,
                &bytes,
                1009,
                &format!("header announcing {len}"),
            );
        }
    });
}

#[test]
fn header_announcing_2_pow_62_then_trickle_closes_1009() {
    against_both(|addr, path| {
        let mut peer = Peer::upgrade(addr, path);
        assert!(peer.write(&header(0x82, 1 << 62, true)));
        // A trickle of payload; the server may already have closed.
        for _ in 0..5 {
            if !peer.write(&[0xAA; 16]) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(peer.expect_close(), 1009);
    });
}

#[test]
fn fragments_adding_past_limit_close_1009_at_crossing_fragment() {
    against_both(|addr, path| {
        let mut peer = Peer::upgrade(addr, path);
        let part = [b'a'; 400];
        assert!(peer.write(&client_frame(false, 0x1, &part)));
        assert!(peer.write(&client_frame(false, 0x0, &part)));
        // 800 of 1000 bytes: nothing wrong yet.
        peer.expect_nothing(Duration::from_millis(200));
        // The crossing fragment's header alone (no payload) decides.
        assert!(peer.write(&header(0x80, 400, true)));
        assert_eq!(peer.expect_close(), 1009);
    });
}

#[test]
fn empty_continuation_flood_hits_fragment_cap() {
    against_both(|addr, path| {
        let mut peer = Peer::upgrade(addr, path);
        let mut bytes = client_frame(false, 0x1, b"a");
        let empty = client_frame(false, 0x0, b"");
        // More than either cap (64 raw, 4096 app), and nothing else: the
        // message never grows, only the fragment count does.
        for _ in 0..5000 {
            bytes.extend_from_slice(&empty);
        }
        let _ = peer.write(&bytes);
        assert_eq!(peer.expect_close(), 1008, "fragment cap (policy violation)");
    });
}

// ------------------------------------------------------------------ UTF-8

#[test]
fn invalid_utf8_closes_1007() {
    against_both(|addr, path| {
        let cases: [(&str, &[u8]); 5] = [
            ("overlong '/'", b"ab\xC0\xAF"),
            ("overlong NUL, 3 bytes", b"\xE0\x80\x80"),
            ("UTF-16 surrogate", b"\xED\xA0\x80"),
            ("beyond U+10FFFF", b"\xF4\x90\x80\x80"),
            ("truncated at the end", b"euro \xE2\x82"),
        ];
        for (what, payload) in cases {
            expect_code(addr, path, &client_frame(true, 0x1, payload), 1007, what);
        }
    });
}

#[test]
fn invalid_utf8_closes_1007_before_message_completes() {
    against_both(|addr, path| {
        // The first fragment is already invalid; the message never ends.
        let first = client_frame(false, 0x1, b"ok so far \xF5 then junk");
        expect_code(addr, path, &first, 1007, "invalid in the first fragment");
        // A surrogate split across fragments, neither of them final.
        let mut split = client_frame(false, 0x1, b"abc\xED");
        split.extend(client_frame(false, 0x0, b"\xA0\x80 more"));
        expect_code(addr, path, &split, 1007, "surrogate split across fragments");
        // A sequence cut by the final fragment.
        let mut cut = client_frame(false, 0x1, b"abc\xF0\x9F");
        cut.extend(client_frame(true, 0x0, b"\x98"));
        expect_code(addr, path, &cut, 1007, "sequence cut by FIN");
    });
}

// ------------------------------------------------------------------ Close

#[test]
fn bad_close_payloads_close_1002_or_1007() {
    against_both(|addr, path| {
        let one_byte = client_frame(true, 0x8, &[0x03]);
        expect_code(addr, path, &one_byte, 1002, "1-byte Close payload");
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            let bytes = close_frame(code, b"");
            expect_code(addr, path, &bytes, 1002, &format!("Close code {code}"));
        }
        let bytes = close_frame(1000, b"bye \xC0\xAF");
        expect_code(addr, path, &bytes, 1007, "Close reason not UTF-8");
    });
}

#[test]
fn valid_close_codes_are_echoed() {
    // The counterpart of the above: registered and private codes are fine.
    against_both(|addr, path| {
        for code in [1000, 1001, 3000, 4999] {
            let mut peer = Peer::upgrade(addr, path);
            assert!(peer.write(&close_frame(code, "bye".as_bytes())));
            assert_eq!(peer.expect_close(), code);
        }
    });
}

// ------------------------------------------------------------------ smol

/// One smoke test of the limits with ws-app on smol.
#[test]
fn smol_app_enforces_limits() {
    let app = echo_app(|config| {
        config.max_message_size(LIMIT);
    });
    let handle = smol::block_on(async {
        ws_app::Server::<ws_app::rt::Smol>::bind(app, "127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0")
            .spawn()
    });
    let addr = handle.local_addr();
    expect_code(
        addr,
        "/echo",
        &header(0x82, 1 << 40, true),
        1009,
        "smol: size",
    );
    let unmasked = frame(true, 0, 0x1, b"x", false);
    expect_code(addr, "/echo", &unmasked, 1002, "smol: unmasked");
    let bad = client_frame(true, 0x1, b"\xED\xA0\x80");
    expect_code(addr, "/echo", &bad, 1007, "smol: UTF-8");
    assert_still_serves(addr, "/echo");
    handle.shutdown();
}
