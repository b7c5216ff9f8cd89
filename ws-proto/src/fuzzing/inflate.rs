//! Oracles for permessage-deflate (RFC 7692): negotiation, inflation of
//! arbitrary bytes, and compressed round trips.

use alloc::string::String;
use alloc::vec::Vec;

use super::frames::split_invariance;
use super::input::Input;
use super::script::Pair;
use super::side::config;
use crate::config::Config;
use crate::connection::Role;
use crate::deflate::{DeflateConfig, DeflateParams, EXTENSION_NAME};
use crate::frame::DataKind;
use crate::handshake::{Extensions, Header};

/// A fuzzer-chosen permessage-deflate configuration.
fn deflate_config(input: &mut Input<'_>) -> DeflateConfig {
    let flags = input.u8();
    let mut config = DeflateConfig::new();
    config
        .server_no_context_takeover(flags & 1 != 0)
        .client_no_context_takeover(flags & 2 != 0)
        .server_max_window_bits(8 + (flags >> 2 & 7))
        .client_max_window_bits(8 + (flags >> 5 & 7))
        .level(input.u8() % 11)
        .min_size(input.choose(&[0, 1, 32, 1000]));
    config
}

/// Our client's offer, our server's choice and our client's reading of the
/// answer must agree, and stay within what each side asked for.
fn negotiate(client: &DeflateConfig, server: &DeflateConfig) -> DeflateParams {
    let offer = client.offer();
    let (params, answer) = server
        .accept_offers(Extensions::of_value(offer.as_str()))
        .unwrap_or_else(|| panic!("our server declined our client's offer {offer}"));
    let item = Extensions::of_value(answer.as_str())
        .next()
        .expect("an answer with one item");
    assert_eq!(item.name(), EXTENSION_NAME);
    let accepted = client
        .accept_response(item)
        .unwrap_or_else(|e| panic!("our client refused {answer}: {e:?}"));
    assert_eq!(accepted, params, "client and server disagree on {answer}");
    for bits in [params.server_max_window_bits, params.client_max_window_bits] {
        assert!((8..=15).contains(&bits));
    }
    assert!(params.server_max_window_bits <= server.server_max_window_bits);
    assert!(params.server_max_window_bits <= client.server_max_window_bits);
    assert!(params.client_max_window_bits <= client.client_max_window_bits);
    assert!(params.server_no_context_takeover >= client.server_no_context_takeover);
    params
}

/// Offers from fuzzer-made `Sec-WebSocket-Extensions` headers: whatever a
/// server answers, a client with the default configuration accepts, with
/// the same parameters.
pub(crate) fn check_offers(headers: &[Header<'_>]) {
    let server = DeflateConfig::new();
    if let Some((params, answer)) = server.accept_offers(Extensions::new(headers)) {
        let item = Extensions::of_value(answer.as_str())
            .next()
            .expect("an answer with one item");
        assert_eq!(
            DeflateConfig::new().accept_response(item),
            Ok(params),
            "the answer {answer} to a fuzzed offer"
        );
    }
}

/// The `inflate` target: two fuzzer-chosen permessage-deflate
/// configurations are negotiated (client offer, server choice, client
/// check must agree); then the wire bytes go into a client and a server
/// with compression on, whole, byte by byte and in fuzzer-chosen chunks
/// (same events, output and failure), and every message stays within the
/// message limit, with corrupt compressed data failing as an extension
/// error; finally the same bytes, as messages, make a compressed round
/// trip both ways.
pub fn check_inflate(data: &[u8]) {
    let mut input = Input::new(data);
    let client = deflate_config(&mut input);
    let server = deflate_config(&mut input);
    let params = negotiate(&client, &server);
    let limits = config(&mut input);
    let capacity = input.choose(&[256, 300, 4096, 65_536]);
    let count = usize::from(input.u8() % 8);
    let sizes: Vec<usize> = (0..count).map(|_| usize::from(input.u8())).collect();
    let wire = input.rest();

    for (role, ours) in [(Role::Client, &client), (Role::Server, &server)] {
        let setup = |side: &mut super::side::Side| side.conn.enable_deflate(params, ours);
        let run = split_invariance(role, &limits, capacity, wire, &sizes, &setup);
        let max = limits.max_message_size;
        for message in &run.messages {
            assert!(message.len() as u64 <= max, "a message over the limit");
        }
    }

    // The bytes as messages, compressed both ways.
    let mut pair = Pair::new([Config::default(), Config::default()], [capacity, capacity]);
    pair.sides[0].conn.enable_deflate(params, &client);
    pair.sides[1].conn.enable_deflate(params, &server);
    for (n, chunk) in wire.chunks(wire.len() / 3 + 1).enumerate() {
        let i = n % 2;
        if n % 3 == 2 {
            pair.send(i, DataKind::Binary, chunk.to_vec(), None);
        } else {
            let text = String::from_utf8_lossy(chunk).into_owned();
            pair.send(i, DataKind::Text, text.into_bytes(), None);
        }
        // A fragmented message, compressed as one.
        pair.send(i, DataKind::Binary, chunk.to_vec(), Some(false));
        pair.send(i, DataKind::Binary, chunk.to_vec(), Some(true));
        pair.deliver_all();
        pair.check();
    }
    assert!(
        pair.sent.iter().all(|s| s.is_empty()),
        "compressed messages were lost"
    );
    pair.finish();
}
