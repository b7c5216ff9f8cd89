//! RFC 6455 §5.1 masking rules, with bytes altered in flight.

use ws_proto::{CloseCode, Config, Lifecycle, ProtocolError};
use ws_tests::{Direction, Observed, Pair};

#[test]
fn s5_1_server_fails_on_an_unmasked_client_frame() {
    let mut pair = Pair::new(Config::default());
    // Clear the MASK bit of the client's frame and remove its key.
    pair.filter(|dir, bytes| {
        if dir == Direction::ToServer && bytes.len() >= 6 && bytes[1] & 0x80 != 0 {
            let key = [bytes[2], bytes[3], bytes[4], bytes[5]];
            let mut out = vec![bytes[0], bytes[1] & 0x7f];
            out.extend(bytes[6..].iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            *bytes = out;
        }
    });
    pair.client.conn.send_text("hi").unwrap();
    pair.drive(50);
    assert!(
        pair.server
            .observed
            .contains(&Observed::Life(Lifecycle::Failed(
                ProtocolError::UnmaskedFrame
            )))
    );
    assert!(
        pair.client
            .observed
            .contains(&Observed::Close(1002, "client frame not masked".into()))
    );
    assert_eq!(
        pair.client.outcome().unwrap().code,
        CloseCode::PROTOCOL_ERROR
    );
    assert!(pair.server.messages().is_empty());
}

#[test]
fn s5_1_client_fails_on_a_masked_server_frame() {
    let mut pair = Pair::new(Config::default());
    pair.filter(|dir, bytes| {
        if dir == Direction::ToClient && bytes.len() >= 2 && bytes[0] == 0x81 {
            // Set MASK with an all-zero key: the payload stays readable.
            let mut out = vec![bytes[0], bytes[1] | 0x80, 0, 0, 0, 0];
            out.extend(&bytes[2..]);
            *bytes = out;
        }
    });
    pair.server.conn.send_text("hi").unwrap();
    pair.drive(50);
    assert!(
        pair.client
            .observed
            .contains(&Observed::Life(Lifecycle::Failed(
                ProtocolError::MaskedFrame
            )))
    );
    assert_eq!(
        pair.server.outcome().unwrap().code,
        CloseCode::PROTOCOL_ERROR
    );
}

#[test]
fn flipped_payload_bit_in_text_is_caught_as_utf8_error() {
    let mut pair = Pair::new(Config::default());
    pair.filter(|dir, bytes| {
        if dir == Direction::ToServer && bytes.len() > 6 {
            // Turn the first payload byte into 0xff under the mask.
            bytes[6] = 0xff ^ bytes[2];
        }
    });
    pair.client.conn.send_text("hello").unwrap();
    pair.drive(50);
    assert!(
        pair.server
            .observed
            .contains(&Observed::Life(Lifecycle::Failed(
                ProtocolError::InvalidUtf8
            )))
    );
    assert_eq!(
        pair.client.outcome().unwrap().code,
        CloseCode::INVALID_PAYLOAD
    );
}
