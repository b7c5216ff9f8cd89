//! RFC 6455 §10.4: size limits decided from frame headers.

use ws_proto::{CloseCode, Config, Lifecycle, ProtocolError};
use ws_tests::{Direction, Observed, Pair};

#[test]
fn s10_4_message_over_the_limit_closes_with_1009() {
    let mut server = Config::default();
    server.max_message_size(1000);
    let mut pair = Pair::with_configs(Config::default(), server);
    pair.client.conn.send_binary(&[0; 1001]).unwrap();
    pair.drive(50);
    assert!(
        pair.server
            .observed
            .contains(&Observed::Life(Lifecycle::Failed(
                ProtocolError::MessageTooLarge
            )))
    );
    assert_eq!(
        pair.client.outcome().unwrap().code,
        CloseCode::MESSAGE_TOO_BIG
    );
}

#[test]
fn s10_4_huge_declared_length_with_a_trickle_of_data() {
    let mut pair = Pair::new(Config::default());
    // Replace the client's frame by a header announcing 2^62 bytes.
    pair.filter(|dir, bytes| {
        if dir == Direction::ToServer && bytes.first() == Some(&0x82) {
            let mut out = vec![0x82, 0xff];
            out.extend((1u64 << 62).to_be_bytes());
            out.extend([1, 2, 3, 4]);
            out.extend([0u8; 10]);
            *bytes = out;
        }
    });
    pair.client.conn.send_binary(b"tiny").unwrap();
    pair.drive(50);
    assert!(
        pair.server
            .observed
            .contains(&Observed::Life(Lifecycle::Failed(
                ProtocolError::FrameTooLarge
            )))
    );
    assert_eq!(
        pair.client.outcome().unwrap().code,
        CloseCode::MESSAGE_TOO_BIG
    );
}
