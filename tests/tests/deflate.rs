//! permessage-deflate (RFC 7692) between two `ws-proto` connections:
//! negotiation, compressed messages with and without context takeover,
//! fragmentation, and hostile input (bombs, corrupt data, misplaced RSV1).

use ws_proto::deflate::{DeflateConfig, DeflateParams};
use ws_proto::handshake::Extensions;
use ws_proto::{
    CloseCode, Config, DataKind, Event, Instant, Lifecycle, Message, ProtocolError, RecvBuf, Role,
    Transmit,
};
use ws_tests::{Direction, Observed, Pair};

/// Counts live heap bytes and the peak, to bound a decompression bomb.
#[global_allocator]
static A: ws_tests::CountingAlloc = ws_tests::CountingAlloc::new();

/// Negotiates like a handshake would: the client's offer, the server's
/// choice, the client's validation of the answer.
fn negotiated(client: &DeflateConfig, server: &DeflateConfig) -> (DeflateParams, DeflateParams) {
    let offer = client.offer();
    let (server_params, answer) = server
        .accept_offers(Extensions::of_value(offer.as_str()))
        .expect("server accepts the offer");
    let answer = answer.as_str().to_owned();
    let response = Extensions::of_value(&answer).next().unwrap();
    let client_params = client
        .accept_response(response)
        .expect("client accepts the answer");
    assert_eq!(client_params, server_params);
    (client_params, server_params)
}

fn deflate_pair(client: DeflateConfig, server: DeflateConfig, server_config: Config) -> Pair {
    let (cp, sp) = negotiated(&client, &server);
    let mut pair = Pair::with_configs(Config::default(), server_config);
    pair.client.conn.enable_deflate(cp, &client);
    pair.server.conn.enable_deflate(sp, &server);
    pair
}

fn chat(i: usize) -> String {
    format!(
        "{{\"room\":\"lobby\",\"user\":\"user{}\",\"text\":\"hello everyone, message number {i}\"}}",
        i % 7
    )
}

#[test]
fn rfc7692_messages_round_trip_with_context_takeover() {
    let mut pair = deflate_pair(
        DeflateConfig::new(),
        DeflateConfig::new(),
        Config::default(),
    );
    let mut wire = 0usize;
    let counter = std::rc::Rc::new(std::cell::Cell::new(0usize));
    let c = counter.clone();
    pair.filter(move |dir, bytes| {
        if dir == Direction::ToServer {
            c.set(c.get() + bytes.len());
        }
    });
    let messages: Vec<String> = (0..200).map(chat).collect();
    for m in &messages {
        pair.client.conn.send_text(m).unwrap();
        pair.server.conn.send_text(m).unwrap();
        pair.settle(10);
    }
    pair.client.conn.send_binary(&[7u8; 100_000]).unwrap();
    pair.settle(100);
    wire += counter.get();
    let mut expect: Vec<Message> = messages.iter().cloned().map(Message::Text).collect();
    assert_eq!(pair.client.messages(), expect);
    expect.push(Message::Binary(vec![7; 100_000]));
    assert_eq!(pair.server.messages(), expect);
    let plain: usize = messages.iter().map(|m| m.len() + 6).sum::<usize>() + 100_000 + 14;
    assert!(wire * 4 < plain, "compressed {wire} bytes vs {plain} plain");
}

#[test]
fn rfc7692_no_context_takeover_and_small_windows() {
    let mut client = DeflateConfig::new();
    client
        .client_no_context_takeover(true)
        .client_max_window_bits(9);
    let mut server = DeflateConfig::new();
    server
        .server_no_context_takeover(true)
        .server_max_window_bits(10);
    let mut pair = deflate_pair(client, server, Config::default());
    let params = pair.server.conn.deflate_params().unwrap();
    assert!(params.server_no_context_takeover && params.client_no_context_takeover);
    assert_eq!(
        (params.server_max_window_bits, params.client_max_window_bits),
        (10, 9)
    );
    let big: String = (0..2000).map(chat).collect();
    for _ in 0..3 {
        pair.client.conn.send_text(&big).unwrap();
        pair.server.conn.send_text(&big).unwrap();
        pair.settle(200);
    }
    assert_eq!(pair.server.messages(), vec![Message::Text(big.clone()); 3]);
    assert_eq!(pair.client.messages(), vec![Message::Text(big); 3]);
}

#[test]
fn rfc7692_fragmented_compressed_messages_and_control_frames() {
    let mut pair = deflate_pair(
        DeflateConfig::new(),
        DeflateConfig::new(),
        Config::default(),
    );
    let text = chat(1).repeat(10);
    let (a, b) = text.split_at(100);
    let c = &mut pair.client.conn;
    c.send_fragment(DataKind::Text, a.as_bytes(), false)
        .unwrap();
    c.send_ping(b"between").unwrap();
    c.send_fragment(DataKind::Text, b.as_bytes(), false)
        .unwrap();
    c.send_fragment(DataKind::Text, b"", true).unwrap();
    // A short message below min_size goes out uncompressed, RSV1 clear.
    c.send_text("hi").unwrap();
    pair.settle(50);
    assert_eq!(
        pair.server.messages(),
        [Message::Text(text), Message::Text("hi".into())]
    );
    assert!(
        pair.client
            .observed
            .contains(&Observed::Pong(b"between".to_vec()))
    );
}

#[test]
fn rfc7692_8_decompression_bomb_stops_at_the_limit() {
    // A client compresses 256 MiB of zeros (about 1.2 MiB on the wire at level 1).
    let config = DeflateConfig::new();
    let (client_params, server_params) = negotiated(&config, &config);
    let mut client = ws_tests::connection(Role::Client, Config::default(), Instant::ZERO);
    client.enable_deflate(client_params, &config);
    let zeros = vec![0u8; 16 << 20];
    let mut wire = Vec::new();
    for i in 0..16 {
        client
            .send_fragment(DataKind::Binary, &zeros, i == 15)
            .unwrap();
        while let Some(Transmit::Bytes(bytes)) = client.poll_transmit() {
            wire.extend_from_slice(bytes);
            let n = bytes.len();
            client.consume_transmit(n);
        }
    }
    drop((zeros, client));
    assert!(
        wire.len() < 2 << 20,
        "bomb is {} bytes on the wire",
        wire.len()
    );

    // A server with a 1 MiB message limit receives it.
    let mut server_config = Config::default();
    server_config.max_message_size(1 << 20);
    let mut server = ws_tests::connection(Role::Server, server_config, Instant::ZERO);
    server.enable_deflate(server_params, &config);
    let mut buf = RecvBuf::with_capacity(16 * 1024);
    let base = A.live();
    A.reset_peak(base);
    let mut delivered = 0usize;
    let mut rest = &wire[..];
    while !rest.is_empty() && !server.is_closed() {
        let n = buf.extend_from_slice(rest);
        rest = &rest[n..];
        while let Some(event) = server.receive(Instant::ZERO, &mut buf) {
            if let Event::Data { payload, .. } = event {
                delivered += payload.len();
            }
        }
    }
    let peak = A.peak() - base;
    let mut failure = None;
    while let Some(event) = server.poll_event() {
        if let Lifecycle::Failed(err) = event {
            failure = Some(err);
        }
    }
    assert_eq!(failure, Some(ProtocolError::MessageTooLarge));
    assert_eq!(server.close_sent(), Some(CloseCode::MESSAGE_TOO_BIG));
    // Stopped at the limit: at most one chunk past it was inflated ...
    assert!(delivered <= (1 << 20) + 16 * 1024, "delivered {delivered}");
    // ... and the receiver's memory is the inflater and one output chunk,
    // not the 256 MiB the bomb expands to.
    assert!(peak < 256 * 1024, "receiver heap peak grew by {peak} bytes");
}

#[test]
fn rfc7692_corrupt_data_closes_with_1007() {
    let mut pair = deflate_pair(
        DeflateConfig::new(),
        DeflateConfig::new(),
        Config::default(),
    );
    pair.filter(|dir, bytes| {
        if dir == Direction::ToServer && bytes.len() > 8 {
            // Unmask, corrupt the deflate block type to the reserved 11, remask.
            let key = [bytes[2], bytes[3], bytes[4], bytes[5]];
            bytes[6] = 0xff ^ key[0];
        }
    });
    pair.client.conn.send_text(&chat(3)).unwrap();
    pair.drive(50);
    assert!(
        pair.server
            .observed
            .contains(&Observed::Life(Lifecycle::Failed(
                ProtocolError::CorruptCompressedData
            )))
    );
    assert_eq!(
        pair.client.outcome().unwrap().code,
        CloseCode::INVALID_PAYLOAD
    );
}

#[test]
fn rfc7692_6_rsv1_only_on_the_first_data_frame() {
    // RSV1 on a continuation frame, on a control frame, and without deflate.
    let cases: [(bool, Vec<u8>); 3] = [
        (
            true,
            [
                ws_tests::raw_client_frame(0x01, b"a", [1, 2, 3, 4]),
                ws_tests::raw_client_frame(0xc0, b"b", [1, 2, 3, 4]),
            ]
            .concat(),
        ),
        (true, ws_tests::raw_client_frame(0xc9, b"", [1, 2, 3, 4])),
        (false, ws_tests::raw_client_frame(0xc1, b"x", [1, 2, 3, 4])),
    ];
    for (deflate, bytes) in cases {
        let mut pair = if deflate {
            deflate_pair(
                DeflateConfig::new(),
                DeflateConfig::new(),
                Config::default(),
            )
        } else {
            Pair::new(Config::default())
        };
        pair.filter(move |dir, b| {
            if dir == Direction::ToServer {
                *b = bytes.clone();
            }
        });
        pair.client.conn.send_text("x").unwrap();
        pair.drive(50);
        assert!(
            pair.server
                .observed
                .contains(&Observed::Life(Lifecycle::Failed(
                    ProtocolError::ReservedBits
                )))
        );
    }
}

/// Incompressible-ish bytes: a simple LCG.
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect()
}

#[test]
fn rfc7692_large_incompressible_messages_and_small_windows() {
    for bits in [15, 9] {
        let mut server = DeflateConfig::new();
        server.server_max_window_bits(bits);
        let mut pair = deflate_pair(DeflateConfig::new(), server, Config::default());
        let payloads: Vec<Vec<u8>> = (0..5)
            .map(|i| match i % 2 {
                0 => noise(65536, i),
                _ => chat(i as usize).repeat(2000).into_bytes(),
            })
            .collect();
        for p in &payloads {
            pair.client.conn.send_binary(p).unwrap();
            pair.server.conn.send_binary(p).unwrap();
            pair.settle(1000);
        }
        let expect: Vec<Message> = payloads.into_iter().map(Message::Binary).collect();
        assert_eq!(pair.server.messages().len(), expect.len(), "bits {bits}");
        assert!(pair.server.messages() == expect, "server, bits {bits}");
        assert!(pair.client.messages() == expect, "client, bits {bits}");
    }
}

/// Image-like bytes: smooth gradients with a little noise, the kind of data
/// that exercises long back-references and mixed block types.
fn image_like(len: usize) -> Vec<u8> {
    let mut x = 7u32;
    (0..len)
        .map(|i| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let (row, col) = (i / 512, i % 512);
            ((row * 3 + col / 2) as u8).wrapping_add(((x >> 16) % 5) as u8)
        })
        .collect()
}

/// Splits unmasked server frames into (compressed, payload) pairs.
fn server_payloads(mut wire: &[u8]) -> Vec<(bool, Vec<u8>)> {
    let mut out = Vec::new();
    while !wire.is_empty() {
        let Ok(ws_proto::Status::Complete((h, n))) = ws_proto::FrameHeader::parse(wire) else {
            panic!("bad frame")
        };
        let len = h.payload_len as usize;
        out.push((h.rsv & 0b100 != 0, wire[n..n + len].to_vec()));
        wire = &wire[n + len..];
    }
    out
}

#[test]
fn rfc7692_output_decodes_with_an_independent_inflater() {
    // Regression: with context takeover, large messages used to make
    // miniz_oxide resume a sync flush into a fresh output buffer and emit a
    // stream zlib rejects ("invalid stored block lengths").
    //
    // And: a peer that limits our window (here 9 and 12 bits) must get a
    // stream that an inflater with that window accepts.
    let image = image_like(263_222);
    for (no_context_takeover, bits) in [(false, 15), (true, 15), (false, 9), (false, 12), (true, 9)]
    {
        let mut config = DeflateConfig::new();
        config
            .server_no_context_takeover(no_context_takeover)
            .server_max_window_bits(bits);
        let (_, server_params) = negotiated(&DeflateConfig::new(), &config);
        let mut server = ws_tests::connection(Role::Server, Config::default(), Instant::ZERO);
        server.enable_deflate(server_params, &config);
        let mut messages = Vec::new();
        let mut wire = Vec::new();
        let mut at = 0;
        for len in [
            65536usize, 131_072, 16, 65536, 32768, 65536, 65536, 65536, 65536, 65536, 100_000,
        ] {
            let msg: Vec<u8> = (0..len).map(|i| image[(at + i) % image.len()]).collect();
            at = (at + len) % image.len();
            server.send_binary(&msg).unwrap();
            while let Some(Transmit::Bytes(b)) = server.poll_transmit() {
                wire.extend_from_slice(b);
                let n = b.len();
                server.consume_transmit(n);
            }
            messages.push(msg);
        }
        let mut inflater = flate2::Decompress::new_with_window_bits(false, bits);
        let frames = server_payloads(&wire);
        assert_eq!(frames.len(), messages.len());
        for (i, ((compressed, payload), msg)) in frames.iter().zip(&messages).enumerate() {
            if !compressed {
                assert!(
                    msg.len() < 32 && payload == msg,
                    "message {i} sent uncompressed"
                );
                continue;
            }
            if no_context_takeover {
                inflater.reset(false);
            }
            let input = [&payload[..], &[0, 0, 0xff, 0xff]].concat();
            let mut out = Vec::with_capacity(msg.len() + 1024);
            inflater
                .decompress_vec(&input, &mut out, flate2::FlushDecompress::Sync)
                .unwrap_or_else(|e| panic!("window {bits}, message {i}: {e}"));
            assert!(
                out == *msg,
                "window {bits}, message {i}: {} bytes instead of {}",
                out.len(),
                msg.len()
            );
        }
    }
}
