//! Oracles for frame headers, frame decoding and close payloads.

use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

use super::input::Input;
use super::side::{Seen, Side, config};
use crate::close::{CloseCode, CloseFrame, StoredClose};
use crate::config::Config;
use crate::connection::Role;
use crate::error::ProtocolError;
use crate::frame::{DataKind, FrameHeader, MAX_HEADER_LEN, OpCode};
use crate::mask::MaskKey;
use crate::status::Status;
use crate::time::Instant;

/// A reference frame-header decoder, written apart from
/// [`FrameHeader::parse`] and straight from RFC 6455 §5.2 and §5.5:
/// `Ok(None)` means more bytes are needed. Errors are checked in wire order:
/// the opcode (first byte), the 64-bit length's top bit, then the
/// control-frame rules, which need the length.
pub fn reference_header(data: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
    if data.len() < 2 {
        return Ok(None);
    }
    let bits = data[0] & 0x0f;
    let opcode = match bits {
        0x0 => OpCode::Continuation,
        0x1 => OpCode::Text,
        0x2 => OpCode::Binary,
        0x8 => OpCode::Close,
        0x9 => OpCode::Ping,
        0xa => OpCode::Pong,
        _ => return Err(ProtocolError::ReservedOpcode(bits)),
    };
    let fin = data[0] & 0x80 == 0x80;
    let (payload_len, mut len) = match data[1] & 0x7f {
        126 if data.len() < 4 => return Ok(None),
        126 => (u64::from(data[2]) << 8 | u64::from(data[3]), 4),
        127 if data.len() < 10 => return Ok(None),
        127 => {
            let value = data[2..10]
                .iter()
                .fold(0u64, |acc, &byte| acc << 8 | u64::from(byte));
            if value > i64::MAX as u64 {
                return Err(ProtocolError::InvalidLength);
            }
            (value, 10)
        }
        short => (u64::from(short), 2),
    };
    if bits >= 0x8 && !fin {
        return Err(ProtocolError::FragmentedControlFrame);
    }
    if bits >= 0x8 && payload_len > 125 {
        return Err(ProtocolError::ControlFrameTooLong);
    }
    let mask = if data[1] & 0x80 == 0x80 {
        let Some(key) = data.get(len..len + 4) else {
            return Ok(None);
        };
        len += 4;
        Some(MaskKey::new([key[0], key[1], key[2], key[3]]))
    } else {
        None
    };
    let header = FrameHeader {
        fin,
        rsv: data[0] >> 4 & 0b111,
        opcode,
        mask,
        payload_len,
    };
    Ok(Some((header, len)))
}

/// Checks one frame header: parser against [`reference_header`], verdicts
/// stable as bytes are added, re-encoding (byte-exact when the input used
/// the minimal length form), and each role's connection failing exactly as
/// RFC 6455 §5.1–§5.4 predicts for this header alone.
pub fn check_frame_header(data: &[u8]) {
    let parsed = FrameHeader::parse(data);
    assert_eq!(
        parsed.map(Status::complete),
        reference_header(data),
        "parser and reference disagree on {data:02x?}"
    );
    // Partial, Partial, ..., then one verdict that more bytes never change.
    let mut verdict = None;
    for cut in 0..=data.len().min(MAX_HEADER_LEN) {
        match FrameHeader::parse(&data[..cut]) {
            Ok(Status::Partial) => assert!(verdict.is_none(), "Partial again at {cut}"),
            other => match verdict {
                None => verdict = Some(other),
                Some(first) => assert_eq!(first, other, "verdict changed at {cut}"),
            },
        }
    }
    match verdict {
        Some(first) => assert_eq!(first, parsed),
        None => {
            assert!(data.len() < MAX_HEADER_LEN, "no verdict after 14 bytes");
            assert_eq!(parsed, Ok(Status::Partial));
        }
    }
    match parsed {
        Ok(Status::Complete((header, len))) => {
            let mut out = [0u8; MAX_HEADER_LEN];
            let n = header.encode(&mut out).expect("14 bytes hold any header");
            assert_eq!(n, header.encoded_len());
            let minimal = match data[1] & 0x7f {
                126 => header.payload_len >= 126,
                127 => header.payload_len > 0xffff,
                _ => true,
            };
            if minimal {
                assert_eq!(&out[..n], &data[..len], "re-encoding differs");
            } else {
                // Accepted on purpose; the minimal form is shorter.
                assert!(n < len);
                assert_eq!(
                    FrameHeader::parse(&out[..n]),
                    Ok(Status::Complete((header, n)))
                );
            }
            for role in [Role::Client, Role::Server] {
                let expected = role_verdict(role, &Config::default(), &header, None);
                let mut side = Side::new(role, Config::default(), 256, 1);
                side.feed(Instant::ZERO, &data[..len], &mut Vec::new());
                assert_eq!(
                    side.failed.map(|f| f.error),
                    expected.err(),
                    "{role:?} verdict on {header:?}"
                );
            }
        }
        Err(error) => {
            assert!(
                matches!(
                    error,
                    ProtocolError::ReservedOpcode(_)
                        | ProtocolError::InvalidLength
                        | ProtocolError::FragmentedControlFrame
                        | ProtocolError::ControlFrameTooLong
                ),
                "undocumented header error {error:?}"
            );
            for role in [Role::Client, Role::Server] {
                let mut side = Side::new(role, Config::default(), 256, 1);
                side.feed(Instant::ZERO, data, &mut Vec::new());
                assert_eq!(side.failed.map(|f| f.error), Some(error));
                side.check_after_failure(true);
            }
        }
        Ok(Status::Partial) => {}
    }
}

/// The message being received, in the reference decoder.
#[derive(Debug, Clone)]
struct RefMessage {
    kind: DataKind,
    size: u64,
    fragments: u32,
    text: Vec<u8>,
}

/// What the connection-level rules (RFC 6455 §5.1–§5.4 and the configured
/// limits) say about a header the parser accepted, in the order the
/// connection checks them. Returns the new message state for a data frame.
fn role_verdict(
    role: Role,
    config: &Config,
    header: &FrameHeader,
    message: Option<&RefMessage>,
) -> Result<Option<RefMessage>, ProtocolError> {
    if header.rsv != 0 {
        return Err(ProtocolError::ReservedBits);
    }
    match (role, header.mask) {
        (Role::Server, None) if !config.accept_unmasked_frames => {
            return Err(ProtocolError::UnmaskedFrame);
        }
        (Role::Client, Some(_)) => return Err(ProtocolError::MaskedFrame),
        _ => {}
    }
    if header.opcode.is_control() {
        return Ok(None);
    }
    if header.payload_len > config.max_frame_size {
        return Err(ProtocolError::FrameTooLarge);
    }
    let current = match (header.opcode, message) {
        (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
        (OpCode::Continuation, Some(message)) => message.clone(),
        (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
        (opcode, None) => RefMessage {
            kind: if opcode == OpCode::Text {
                DataKind::Text
            } else {
                DataKind::Binary
            },
            size: 0,
            fragments: 0,
            text: Vec::new(),
        },
    };
    let size = current.size.saturating_add(header.payload_len);
    if size > config.max_message_size {
        return Err(ProtocolError::MessageTooLarge);
    }
    if current.fragments >= config.max_fragments {
        return Err(ProtocolError::TooManyFragments);
    }
    Ok(Some(RefMessage {
        size,
        fragments: current.fragments + 1,
        ..current
    }))
}

/// A frame as it went over the wire, unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireFrame {
    /// FIN.
    pub fin: bool,
    /// RSV1–RSV3.
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The MASK bit.
    pub masked: bool,
    /// The length used the minimal encoding.
    pub minimal: bool,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

/// Splits `bytes` into whole frames (unmasking them naively, byte by byte)
/// and returns them with the bytes left over: an incomplete frame, or
/// everything from the first invalid header on. Used to read what a
/// connection wrote.
pub fn decode_frames(mut bytes: &[u8]) -> (Vec<WireFrame>, &[u8]) {
    let mut frames = Vec::new();
    while let Ok(Status::Complete((header, len))) = FrameHeader::parse(bytes) {
        let Some(payload) = usize::try_from(header.payload_len)
            .ok()
            .and_then(|n| bytes.get(len..len.checked_add(n)?))
        else {
            break;
        };
        frames.push(WireFrame {
            fin: header.fin,
            rsv: header.rsv,
            opcode: header.opcode,
            masked: header.mask.is_some(),
            minimal: header.encoded_len() == len,
            payload: unmask(payload, header.mask),
        });
        bytes = &bytes[len + payload.len()..];
    }
    (frames, bytes)
}

fn unmask(payload: &[u8], mask: Option<MaskKey>) -> Vec<u8> {
    let key = mask.map_or([0; 4], MaskKey::bytes);
    payload
        .iter()
        .enumerate()
        .map(|(i, byte)| byte ^ key[i % 4])
        .collect()
}

/// What a whole-buffer reference decoder expects from a fresh connection fed
/// `wire`: the events, the frames it writes (opcode and payload), and the
/// failure.
struct Expected {
    seen: Vec<Seen>,
    out: Vec<(OpCode, Vec<u8>)>,
    failure: Option<ProtocolError>,
    /// A server closes its write half after a failure or a received Close.
    shutdown: bool,
}

fn reference_decode(role: Role, config: &Config, mut wire: &[u8]) -> Expected {
    let mut expected = Expected {
        seen: Vec::new(),
        out: Vec::new(),
        failure: None,
        shutdown: false,
    };
    let mut message: Option<RefMessage> = None;
    let fail = |expected: &mut Expected, error: ProtocolError| {
        expected.failure = Some(error);
        let mut payload = CloseCode::from(error).as_u16().to_be_bytes().to_vec();
        payload.extend_from_slice(error.description().as_bytes());
        expected.out.push((OpCode::Close, payload));
        expected.shutdown = role == Role::Server;
    };
    loop {
        let (header, len) = match reference_header(wire) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return expected,
            Err(error) => {
                fail(&mut expected, error);
                return expected;
            }
        };
        let next = match role_verdict(role, config, &header, message.as_ref()) {
            Ok(next) => next,
            Err(error) => {
                fail(&mut expected, error);
                return expected;
            }
        };
        let available = &wire[len..];
        let whole = usize::try_from(header.payload_len)
            .ok()
            .filter(|&n| n <= available.len());
        let Some(n) = whole else {
            // An incomplete frame: a control frame waits for all of it; a
            // text frame's available bytes are validated as they arrive.
            if let Some(mut next) = next
                && next.kind == DataKind::Text
            {
                next.text.extend(unmask(available, header.mask));
                if core::str::from_utf8(&next.text).is_err_and(|e| e.error_len().is_some()) {
                    fail(&mut expected, ProtocolError::InvalidUtf8);
                }
            }
            return expected;
        };
        let payload = unmask(&available[..n], header.mask);
        wire = &available[n..];
        match header.opcode {
            OpCode::Ping => {
                expected.out.push((OpCode::Pong, payload.clone()));
                expected.seen.push(Seen::Ping(payload));
            }
            OpCode::Pong => expected.seen.push(Seen::Pong(payload)),
            OpCode::Close => match CloseFrame::parse(&payload) {
                Ok(frame) => {
                    let echo = if frame.code == CloseCode::NO_STATUS_RCVD {
                        Vec::new()
                    } else {
                        frame.code.as_u16().to_be_bytes().to_vec()
                    };
                    expected.out.push((OpCode::Close, echo));
                    expected
                        .seen
                        .push(Seen::Close(frame.code, frame.reason.to_string()));
                    expected.shutdown = role == Role::Server;
                    return expected;
                }
                Err(error) => {
                    fail(&mut expected, error);
                    return expected;
                }
            },
            _ => {
                let Some(mut next) = next else {
                    unreachable!("data frames have message state");
                };
                if next.kind == DataKind::Text {
                    next.text.extend_from_slice(&payload);
                    let valid = match core::str::from_utf8(&next.text) {
                        Ok(_) => true,
                        Err(e) => e.error_len().is_none() && !header.fin,
                    };
                    if !valid {
                        fail(&mut expected, ProtocolError::InvalidUtf8);
                        return expected;
                    }
                }
                expected.seen.push(Seen::Frame {
                    kind: next.kind,
                    payload,
                    fin: header.fin,
                });
                message = if header.fin { None } else { Some(next) };
            }
        }
    }
}

/// What one run of a connection over some input produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) seen: Vec<Seen>,
    pub(crate) messages: Vec<crate::message::Message>,
    pub(crate) out: Vec<u8>,
    pub(crate) shutdown: bool,
    pub(crate) failure: Option<ProtocolError>,
}

/// Feeds `chunks` to a fresh connection, prepared by `setup`.
pub(crate) fn run_chunks<'a>(
    role: Role,
    config: &Config,
    capacity: usize,
    chunks: impl Iterator<Item = &'a [u8]>,
    setup: &dyn Fn(&mut Side),
) -> Run {
    let mut side = Side::new(role, config.clone(), capacity, 7);
    setup(&mut side);
    for chunk in chunks {
        side.feed(Instant::ZERO, chunk, &mut Vec::new());
    }
    side.check_after_failure(true);
    Run {
        seen: side.seen,
        messages: side.messages,
        out: side.out,
        shutdown: side.shutdown,
        failure: side.failed.map(|f| f.error),
    }
}

/// Runs `wire` through fresh connections whole, byte by byte (up to 4 KiB)
/// and in chunks of `chunk_sizes` (cycled; 0 counts as 1), checks that the
/// runs agree, and returns the whole run.
pub(crate) fn split_invariance(
    role: Role,
    config: &Config,
    capacity: usize,
    wire: &[u8],
    chunk_sizes: &[usize],
    setup: &dyn Fn(&mut Side),
) -> Run {
    let whole = run_chunks(role, config, capacity, core::iter::once(wire), setup);
    if wire.len() <= 4096 {
        let bytewise = run_chunks(role, config, capacity, wire.chunks(1), setup);
        assert_eq!(whole, bytewise, "whole and byte-at-a-time runs differ");
    }
    if !chunk_sizes.is_empty() {
        let chunks = || {
            let mut rest = wire;
            let mut sizes = chunk_sizes.iter().cycle();
            core::iter::from_fn(move || {
                if rest.is_empty() {
                    return None;
                }
                let size = (*sizes.next()?).clamp(1, rest.len());
                let (chunk, tail) = rest.split_at(size);
                rest = tail;
                Some(chunk)
            })
        };
        let split = run_chunks(role, config, capacity, chunks(), setup);
        assert_eq!(whole, split, "whole and split runs differ");
        // The same chunks, with the payload of a frame under way handed
        // to `receive_in_place` whenever the receive buffer is empty.
        let in_place = run_chunks(role, config, capacity, chunks(), &|side| {
            setup(side);
            side.in_place = true;
        });
        assert_eq!(whole, in_place, "whole and in-place runs differ");
    }
    whole
}

/// Feeds `wire` to a fresh `role` connection whole, one byte at a time
/// (inputs up to 4 KiB) and in chunks of the given sizes (cycled; 0 counts
/// as 1), and checks that all runs agree with each other and with the
/// reference decoder: same events, same lifecycle, same output bytes.
pub fn check_connection_bytes(
    role: Role,
    config: &Config,
    capacity: usize,
    wire: &[u8],
    chunk_sizes: &[usize],
) {
    let whole = split_invariance(role, config, capacity, wire, chunk_sizes, &|_| {});

    let expected = reference_decode(role, config, wire);
    let events: Vec<Seen> = whole
        .seen
        .iter()
        .filter(|seen| !matches!(seen, Seen::Life(_)))
        .cloned()
        .collect();
    assert_eq!(events, expected.seen, "events differ from the reference");
    assert_eq!(
        whole.failure, expected.failure,
        "failure differs from the reference"
    );
    assert_eq!(
        whole.shutdown, expected.shutdown,
        "shutdown differs from the reference"
    );
    let (frames, rest) = decode_frames(&whole.out);
    assert!(rest.is_empty(), "the connection wrote a partial frame");
    let out: Vec<(OpCode, Vec<u8>)> = frames
        .iter()
        .map(|frame| {
            assert_eq!(
                frame.masked,
                role == Role::Client,
                "wrong mask bit on output"
            );
            assert!(frame.fin && frame.rsv == 0 && frame.minimal);
            (frame.opcode, frame.payload.clone())
        })
        .collect();
    assert_eq!(out, expected.out, "output differs from the reference");
}

/// The `frame_decode` target: a configuration, a receive-buffer size and
/// chunk sizes chosen by the fuzzer, then wire bytes fed to a client and a
/// server connection through [`check_connection_bytes`].
pub fn check_frame_decode(data: &[u8]) {
    let mut input = Input::new(data);
    let config = config(&mut input);
    let capacity = input.choose(&[256, 257, 300, 1024, 4096]);
    let count = usize::from(input.u8() % 8);
    let sizes: Vec<usize> = (0..count).map(|_| usize::from(input.u8())).collect();
    let wire = input.rest();
    for role in [Role::Client, Role::Server] {
        check_connection_bytes(role, &config, capacity, wire, &sizes);
    }
}

/// Checks a close frame payload (RFC 6455 §5.5.1, §7.4): the parser
/// against a reference, re-encoding, and the payload's trip through a
/// server connection (as a client's masked Close) and, when sendable,
/// through `Connection::close` on a client.
pub fn check_close_payload(data: &[u8]) {
    let parsed = CloseFrame::parse(data);
    let reference = match data {
        [] => Ok((1005, "")),
        [_] => Err(ProtocolError::InvalidClosePayload),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
                Err(ProtocolError::InvalidCloseCode(code))
            } else {
                core::str::from_utf8(reason)
                    .map(|reason| (code, reason))
                    .map_err(|_| ProtocolError::InvalidUtf8)
            }
        }
    };
    assert_eq!(
        parsed.map(|f| (f.code.as_u16(), f.reason)),
        reference,
        "close payload {data:02x?}"
    );
    if let Ok(frame) = parsed {
        assert_eq!(frame.encoded_len(), data.len());
        if !data.is_empty() {
            let mut encoded = frame.code.as_u16().to_be_bytes().to_vec();
            encoded.extend_from_slice(frame.reason.as_bytes());
            assert_eq!(encoded, data);
            assert!(frame.code.is_sendable() && frame.code.is_valid_received());
        }
        if frame.reason.len() <= crate::close::MAX_REASON_LEN {
            assert_eq!(StoredClose::new(&frame).get(), frame);
        }
    }
    if data.len() > 125 {
        return;
    }
    // As the payload of a client's Close frame, masked, into a server.
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut wire = vec![0x88, 0x80 | data.len() as u8];
    wire.extend_from_slice(&key);
    wire.extend(data.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    check_connection_bytes(Role::Server, &Config::default(), 256, &wire, &[1, 3]);
    let mut server = Side::new(Role::Server, Config::default(), 256, 1);
    server.feed(Instant::ZERO, &wire, &mut Vec::new());
    match parsed {
        Ok(frame) => assert_eq!(
            server.seen.first(),
            Some(&Seen::Close(frame.code, frame.reason.to_string()))
        ),
        Err(error) => assert_eq!(server.failed.map(|f| f.error), Some(error)),
    }
    // Sent with `close` by a client.
    if let Ok(frame) = parsed
        && !data.is_empty()
        && frame.reason.len() <= crate::close::MAX_REASON_LEN
    {
        let mut client = Side::new(Role::Client, Config::default(), 256, 3);
        let mut wire = Vec::new();
        let mark = client.mark();
        client
            .conn
            .close(Instant::ZERO, frame.code, frame.reason)
            .expect("a valid received close is sendable");
        client.drain(mark, &mut wire);
        let mut server = Side::new(Role::Server, Config::default(), 256, 1);
        server.feed(Instant::ZERO, &wire, &mut Vec::new());
        assert_eq!(
            server.seen.first(),
            Some(&Seen::Close(frame.code, frame.reason.to_string()))
        );
    }
}
