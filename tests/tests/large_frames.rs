//! Large frames read in place: `ws-runtime` reads the rest of a frame
//! larger than its receive buffer straight into the message buffer and has
//! `ws_proto::Connection::receive_in_place` unmask and validate it there.
//! These tests send such frames as raw bytes over loopback TCP, in pieces
//! of awkward sizes and back to back, to a `ws-runtime-tokio` echo server
//! (whose transport reads into spare capacity) and check every byte of the
//! echoes, the UTF-8 verdict inside the in-place part, and limits.

mod hostile_common;

use std::thread::sleep;
use std::time::Duration;

use hostile_common::{Peer, RawServer, client_frame};
use ws_runtime_tokio::WebSocketConfig;

/// Text whose characters are 1 to 4 bytes long, so that every read
/// boundary is likely to fall inside one.
fn mixed_text(bytes: usize) -> String {
    let unit = "aé€🦀 grüße 世界; ";
    let mut text = unit.repeat(bytes / unit.len() + 1);
    while text.len() > bytes {
        text.pop();
    }
    text
}

/// Writes `bytes` in pieces of the given sizes (cycled), pausing now and
/// then so that the server sees partial frames.
fn write_in_pieces(peer: &mut Peer, bytes: &[u8], sizes: &[usize]) {
    let mut at = 0;
    for (i, size) in sizes.iter().cycle().enumerate() {
        if at == bytes.len() {
            break;
        }
        let end = (at + size).min(bytes.len());
        assert!(peer.write(&bytes[at..end]), "the server hung up");
        at = end;
        if i % 3 == 0 {
            sleep(Duration::from_millis(1));
        }
    }
}

fn server() -> RawServer {
    RawServer::start(WebSocketConfig::default())
}

#[test]
fn large_text_frames_split_anywhere_echo_exactly() {
    let server = server();
    let mut peer = Peer::upgrade(server.addr(), "/");
    for (len, sizes) in [
        (100_000, &[7usize, 1000, 33_333][..]),
        (300_001, &[65_536, 3, 40_000][..]),
        (1 << 20, &[1 << 20][..]),
    ] {
        let text = mixed_text(len);
        write_in_pieces(&mut peer, &client_frame(true, 0x1, text.as_bytes()), sizes);
        let frame = peer.read_frame().expect("the echo");
        assert_eq!(frame.opcode, 0x1);
        assert!(
            frame.payload == text.as_bytes(),
            "echo of {len} bytes differs"
        );
    }
    peer.close_cleanly();
}

#[test]
fn large_fragments_with_a_ping_between_and_back_to_back_messages() {
    let server = server();
    let mut peer = Peer::upgrade(server.addr(), "/");
    let text = mixed_text(200_000);
    let (first, second) = text.as_bytes().split_at(123_457);
    let binary: Vec<u8> = (0..150_000u32).map(|i| (i * 131 % 251) as u8).collect();
    let mut wire = client_frame(false, 0x1, first);
    wire.extend(client_frame(true, 0x9, b"between"));
    wire.extend(client_frame(true, 0x0, second));
    // Three large binary messages and a small one in one burst: after a
    // frame read in place, the next header is read with a short read.
    for _ in 0..3 {
        wire.extend(client_frame(true, 0x2, &binary));
    }
    wire.extend(client_frame(true, 0x2, b"small"));
    write_in_pieces(&mut peer, &wire, &[50_000, 1, 90_001]);
    let mut data = Vec::new();
    while data.len() < 5 {
        let frame = peer.read_frame().expect("a frame");
        match frame.opcode {
            0xA => assert_eq!(frame.payload, b"between"),
            _ => data.push(frame),
        }
    }
    assert_eq!(data[0].opcode, 0x1);
    assert!(data[0].payload == text.as_bytes(), "the text differs");
    for frame in &data[1..4] {
        assert_eq!(frame.opcode, 0x2);
        assert!(frame.payload == binary, "a binary message differs");
    }
    assert_eq!(data[4].payload, b"small");
    peer.close_cleanly();
}

#[test]
fn invalid_utf8_deep_in_a_large_text_frame_closes_1007() {
    let server = server();
    for bad_at in [70_000, 199_999] {
        let mut peer = Peer::upgrade(server.addr(), "/");
        let mut payload = mixed_text(200_000).into_bytes();
        payload[bad_at] = 0xff;
        // The server closes with 1007 as soon as it sees the byte and may
        // reset the rest of the write: the result of the write is moot.
        let wire = client_frame(true, 0x1, &payload);
        let _ = peer.write(&wire[..wire.len() / 4]);
        sleep(Duration::from_millis(20));
        let _ = peer.write(&wire[wire.len() / 4..]);
        assert_eq!(peer.expect_close(), 1007, "invalid byte at {bad_at}");
    }
}

#[test]
fn a_large_frame_over_the_message_limit_closes_1009_before_its_payload() {
    let mut config = WebSocketConfig::default();
    config
        .protocol_mut()
        .max_message_size(100_000)
        .max_frame_size(100_000);
    let server = RawServer::start(config);
    let mut peer = Peer::upgrade(server.addr(), "/");
    let ok = vec![b'x'; 100_000];
    write_in_pieces(&mut peer, &client_frame(true, 0x2, &ok), &[4096, 60_000]);
    assert_eq!(peer.read_frame().expect("the echo").payload, ok);
    // Only the header of a frame one byte too large: refused at once.
    let over = client_frame(true, 0x2, &[0u8; 100_001]);
    let _ = peer.write(&over[..14]);
    assert_eq!(peer.expect_close(), 1009);
}
