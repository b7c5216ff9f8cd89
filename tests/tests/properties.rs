//! Properties over arbitrary inputs: encode→decode round trip, masking twice
//! is the identity, and chunking never changes what is received.

use proptest::prelude::*;
use ws_proto::frame::FrameHeader;
use ws_proto::mask::apply_mask;
use ws_proto::{Config, DataKind, Instant, MaskKey, OpCode, RecvBuf, Role, Status, Transmit};
use ws_tests::{Pair, connection, raw_client_frame};

fn opcode() -> impl Strategy<Value = OpCode> {
    prop_oneof![
        Just(OpCode::Continuation),
        Just(OpCode::Text),
        Just(OpCode::Binary),
        Just(OpCode::Close),
        Just(OpCode::Ping),
        Just(OpCode::Pong),
    ]
}

proptest! {
    #[test]
    fn header_round_trip(
        fin in any::<bool>(),
        rsv in 0u8..8,
        op in opcode(),
        mask in proptest::option::of(any::<[u8; 4]>()),
        len in prop_oneof![0u64..200, 60_000u64..70_000, (0u64..u64::MAX >> 1)],
    ) {
        let len = if op.is_control() { len % 126 } else { len };
        let fin = fin || op.is_control();
        let header = FrameHeader { fin, rsv, opcode: op, mask: mask.map(MaskKey::new), payload_len: len };
        let mut out = [0u8; 14];
        let n = header.encode(&mut out).unwrap();
        prop_assert_eq!(n, header.encoded_len());
        prop_assert_eq!(FrameHeader::parse(&out[..n]), Ok(Status::Complete((header, n))));
    }

    #[test]
    fn mask_twice_is_identity(data in proptest::collection::vec(any::<u8>(), 0..300), key in any::<[u8; 4]>(), offset in 0usize..8) {
        let mut buf = data.clone();
        apply_mask(&mut buf, MaskKey::new(key), offset);
        apply_mask(&mut buf, MaskKey::new(key), offset);
        prop_assert_eq!(buf, data);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_only_close_follows_failure(
        input in proptest::collection::vec(any::<u8>(), 0..600),
        splits in proptest::collection::vec(1usize..64, 1..20),
    ) {
        let mut server = connection(Role::Server, Config::default(), Instant::ZERO);
        let mut buf = RecvBuf::with_capacity(256);
        let mut rest = &input[..];
        let mut split = splits.iter().cycle();
        while !rest.is_empty() {
            let take = (*split.next().unwrap()).min(rest.len());
            let mut chunk = &rest[..take];
            rest = &rest[take..];
            while !chunk.is_empty() {
                let n = buf.extend_from_slice(chunk);
                chunk = &chunk[n..];
                while server.receive(Instant::ZERO, &mut buf).is_some() {}
                if n == 0 { break; }
            }
        }
        let mut out = Vec::new();
        while let Some(t) = server.poll_transmit() {
            if let Transmit::Bytes(b) = t { out.extend_from_slice(b); let n = b.len(); server.consume_transmit(n); }
        }
        // A server sends nothing unprompted but Pongs and at most one Close,
        // and the Close is the last frame it sends.
        let mut at = 0;
        let mut closes = 0;
        while at < out.len() {
            let Ok(Status::Complete((header, n))) = FrameHeader::parse(&out[at..]) else {
                return Err(TestCaseError::fail(format!("unparseable output at {at}: {out:?}")));
            };
            prop_assert!(header.mask.is_none());
            prop_assert!(matches!(header.opcode, OpCode::Pong | OpCode::Close), "{:?}", header.opcode);
            at += n + header.payload_len as usize;
            if header.opcode == OpCode::Close {
                closes += 1;
                prop_assert_eq!(at, out.len(), "frames after the Close");
            }
        }
        prop_assert_eq!(at, out.len());
        prop_assert!(closes <= 1);
        prop_assert_eq!(closes == 1, server.close_sent().is_some());
    }

    #[test]
    fn chunking_invariance(
        messages in proptest::collection::vec(("[a-zé€😀]{0,40}", any::<bool>()), 1..8),
        chunk in 1usize..40,
    ) {
        // The same frames, delivered in `chunk`-byte pieces, give the same messages.
        let mut wire = Vec::new();
        for (i, (text, fragmented)) in messages.iter().enumerate() {
            let key = [i as u8, 7, 9, 11];
            if *fragmented && text.len() > 1 {
                let (a, b) = text.as_bytes().split_at(text.len() / 2);
                wire.extend(raw_client_frame(0x01, a, key));
                wire.extend(raw_client_frame(0x80, b, key));
            } else {
                wire.extend(raw_client_frame(0x81, text.as_bytes(), key));
            }
        }
        let mut server = connection(Role::Server, Config::default(), Instant::ZERO);
        let mut buf = RecvBuf::with_capacity(256);
        let mut asm = ws_proto::MessageAssembler::new();
        let mut got = Vec::new();
        for piece in wire.chunks(chunk) {
            let mut piece = piece;
            while !piece.is_empty() {
                let n = buf.extend_from_slice(piece);
                piece = &piece[n..];
                while let Some(ev) = server.receive(Instant::ZERO, &mut buf) {
                    if let Some(m) = asm.push_event(&ev) { got.push(m); }
                }
            }
        }
        let expect: Vec<_> = messages.iter().map(|(t, _)| ws_proto::Message::Text(t.clone())).collect();
        prop_assert_eq!(got, expect);
        prop_assert!(server.is_open());
    }

    #[test]
    fn pair_round_trip(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..3000), 1..6)) {
        let mut pair = Pair::new(Config::default());
        for p in &payloads {
            pair.client.conn.send_binary(p).unwrap();
            pair.server.conn.send_fragment(DataKind::Binary, p, true).unwrap();
        }
        pair.settle(500);
        let expect: Vec<_> = payloads.iter().map(|p| ws_proto::Message::Binary(p.clone())).collect();
        prop_assert_eq!(pair.server.messages(), expect.clone());
        prop_assert_eq!(pair.client.messages(), expect);
    }
}
