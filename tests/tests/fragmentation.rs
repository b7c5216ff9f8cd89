//! RFC 6455 §5.4: fragmented messages between two connections.

use ws_proto::{Config, DataKind, Message};
use ws_tests::Pair;

#[test]
fn s5_4_fragments_with_interleaved_control_frames() {
    let mut pair = Pair::new(Config::default());
    let c = &mut pair.client.conn;
    c.send_fragment(DataKind::Text, "κό".as_bytes(), false)
        .unwrap();
    c.send_ping(b"mid").unwrap();
    // A multi-byte character split across fragments is fine.
    let bytes = "σμε".as_bytes();
    c.send_fragment(DataKind::Text, &bytes[..1], false).unwrap();
    c.send_fragment(DataKind::Text, &bytes[1..], true).unwrap();
    c.send_fragment(DataKind::Binary, &[1, 2], false).unwrap();
    c.send_fragment(DataKind::Binary, &[], false).unwrap();
    c.send_fragment(DataKind::Binary, &[3], true).unwrap();
    pair.settle(20);
    assert_eq!(
        pair.server.messages(),
        [
            Message::Text("κόσμε".into()),
            Message::Binary(vec![1, 2, 3])
        ]
    );
    assert!(
        pair.client
            .observed
            .contains(&ws_tests::Observed::Pong(b"mid".to_vec()))
    );
}

#[test]
fn large_message_through_a_small_receive_buffer() {
    // 1 MiB through 4 KiB receive buffers, both directions.
    let mut pair = Pair::new(Config::default());
    let big: Vec<u8> = (0..1 << 20).map(|i| (i * 31 % 251) as u8).collect();
    pair.client.conn.send_binary(&big).unwrap();
    pair.server.conn.send_binary(&big).unwrap();
    pair.settle(1000);
    assert_eq!(pair.server.messages(), [Message::Binary(big.clone())]);
    assert_eq!(pair.client.messages(), [Message::Binary(big)]);
}
