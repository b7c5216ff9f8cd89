//! Differential: our frame-header verdicts and connection-level verdicts
//! against tungstenite 0.30 (a fuzz-only dependency).
//!
//! Two comparisons on the same bytes:
//!
//! 1. `ws_proto::FrameHeader::parse` against
//!    `tungstenite::protocol::frame::FrameHeader::parse`: the same fields and
//!    header length when both decode a header, "need more bytes" together.
//! 2. A fresh `ws_proto::Connection` and a `tungstenite::WebSocket` of the
//!    same role, both with the default limits (16 MiB frames, 64 MiB
//!    messages), read the whole input: they must deliver the same messages
//!    (text, binary, ping, pong, close), and when tungstenite rejects the
//!    input with a protocol, UTF-8 or capacity error, we must have failed too.
//!
//! Intended differences (each one is handled below, and listed in
//! `fuzz/README.md`):
//!
//! * **Control-frame rules in the header parser.** We reject a fragmented
//!   control frame, a control frame over 125 bytes and a 64-bit length with
//!   the top bit set (RFC 6455 §5.2, §5.5) in `FrameHeader::parse`;
//!   tungstenite's header parser accepts them and its `WebSocket` rejects
//!   them later (the length as a capacity error).
//! * **Earlier verdicts.** We reject a reserved opcode from the first two
//!   bytes and the control rules before the mask key has arrived;
//!   tungstenite needs the whole header. At the connection level we check
//!   every header rule (RSV bits, mask direction, sizes) when the header
//!   arrives and validate UTF-8 as payload arrives; tungstenite waits for
//!   the whole frame. So on input that ends inside a frame, we may have
//!   failed where tungstenite still waits for more bytes.
//! * **The reported cause** of a frame that breaks several rules may
//!   differ, as the checks run in a different order; only the verdict
//!   (reject) is compared.
//! * **Close codes.** We fail the connection (1002) on a Close frame whose
//!   code may not appear on the wire (RFC 6455 §7.4.1/§7.4.2);
//!   tungstenite delivers that Close as `1002 "Protocol violation"`. We
//!   accept 1014 (Bad Gateway, IANA registry); tungstenite treats it as
//!   not allowed and also reports `1002 "Protocol violation"`.

#![no_main]

use std::io::{self, Cursor, Read, Write};

use libfuzzer_sys::fuzz_target;
use tungstenite::error::{Error, ProtocolError as TError};
use tungstenite::protocol::frame::FrameHeader as THeader;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode as TOpCode};
use tungstenite::protocol::{Message as TMessage, Role as TRole, WebSocket};
use ws_proto::{
    Config, Connection, Event, FrameHeader, Instant, Lifecycle, Message, MessageAssembler,
    NoMaskKeys, OpCode, ProtocolError, RecvBuf, Role, Status,
};

fn same_opcode(ours: OpCode, theirs: TOpCode) -> bool {
    matches!(
        (ours, theirs),
        (OpCode::Continuation, TOpCode::Data(Data::Continue))
            | (OpCode::Text, TOpCode::Data(Data::Text))
            | (OpCode::Binary, TOpCode::Data(Data::Binary))
            | (OpCode::Close, TOpCode::Control(Control::Close))
            | (OpCode::Ping, TOpCode::Control(Control::Ping))
            | (OpCode::Pong, TOpCode::Control(Control::Pong))
    )
}

fn is_control(op: TOpCode) -> bool {
    matches!(op, TOpCode::Control(_))
}

/// Comparison 1: the header parsers.
fn compare_headers(data: &[u8]) {
    let ours = FrameHeader::parse(data);
    let mut cursor = Cursor::new(data);
    let theirs = THeader::parse(&mut cursor);
    let consumed = cursor.position() as usize;
    match (ours, theirs) {
        (Ok(Status::Partial), Ok(None)) => {}
        (Ok(Status::Complete((ours, len))), Ok(Some((theirs, payload_len)))) => {
            assert_eq!(len, consumed, "header length");
            assert_eq!(ours.payload_len, payload_len, "payload length");
            assert_eq!(ours.fin, theirs.is_final);
            assert_eq!(
                ours.rsv,
                u8::from(theirs.rsv1) << 2 | u8::from(theirs.rsv2) << 1 | u8::from(theirs.rsv3)
            );
            assert!(same_opcode(ours.opcode, theirs.opcode), "opcode");
            assert_eq!(ours.mask.map(|k| k.bytes()), theirs.mask, "mask key");
        }
        // Reserved opcodes: we decide from two bytes, they from the header.
        (Err(ProtocolError::ReservedOpcode(op)), Ok(None)) => assert!(op & 0x7 > 2),
        (
            Err(ProtocolError::ReservedOpcode(op)),
            Err(Error::Protocol(TError::InvalidOpcode(theirs))),
        ) => assert_eq!(op, theirs),
        // Control-frame rules and the 64-bit length: ours in the parser.
        (Err(ProtocolError::FragmentedControlFrame), Ok(header)) => {
            if let Some((header, _)) = header {
                assert!(is_control(header.opcode) && !header.is_final);
            }
        }
        (Err(ProtocolError::ControlFrameTooLong), Ok(header)) => {
            if let Some((header, len)) = header {
                assert!(is_control(header.opcode) && len > 125);
            }
        }
        (Err(ProtocolError::InvalidLength), Ok(header)) => {
            if let Some((_, len)) = header {
                assert!(len >> 63 == 1);
            }
        }
        (ours, theirs) => panic!("header verdicts differ: ours {ours:?}, tungstenite {theirs:?}"),
    }
}

/// A byte stream over the input; writes go nowhere.
struct Stream<'a>(&'a [u8]);

impl Read for Stream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Stream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Message(Message),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String),
}

/// tungstenite's answer to a Close with a code it does not allow.
fn protocol_violation() -> Got {
    Got::Close(1002, "Protocol violation".into())
}

fn ours(role: Role, data: &[u8]) -> (Vec<Got>, Option<ProtocolError>) {
    let keys = || [1, 2, 3, 4];
    let _ = NoMaskKeys;
    let mut conn = Connection::with_parts(role, Config::default(), Instant::ZERO, keys, Vec::new());
    let mut buf = RecvBuf::with_capacity(1 << 16);
    let mut messages = MessageAssembler::new();
    let mut got = Vec::new();
    let mut failure = None;
    let mut rest = data;
    while !rest.is_empty() {
        let n = buf.extend_from_slice(rest);
        rest = &rest[n..];
        while let Some(event) = conn.receive(Instant::ZERO, &mut buf) {
            if let Some(message) = messages.push_event(&event) {
                got.push(Got::Message(message));
            }
            match event {
                Event::Ping(p) => got.push(Got::Ping(p.to_vec())),
                Event::Pong(p) => got.push(Got::Pong(p.to_vec())),
                Event::CloseReceived(frame) => {
                    // 1014 is fine for us, not allowed for tungstenite.
                    got.push(if frame.code.as_u16() == 1014 {
                        protocol_violation()
                    } else {
                        Got::Close(frame.code.as_u16(), frame.reason.into())
                    })
                }
                Event::Data { .. } => {}
            }
        }
        while let Some(event) = conn.poll_event() {
            if let Lifecycle::Failed(error) = event {
                failure = Some(error);
            }
        }
        if n == 0 && conn.is_closed() {
            break;
        }
    }
    (got, failure)
}

/// How tungstenite's reading ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// It wants more bytes (or the stream ended without a Close).
    Incomplete,
    /// A Close was received.
    Closed,
    /// It rejected the input.
    Rejected,
}

fn theirs(role: TRole, data: &[u8]) -> (Vec<Got>, End) {
    let mut socket = WebSocket::from_raw_socket(Stream(data), role, None);
    let mut got = Vec::new();
    loop {
        match socket.read() {
            Ok(TMessage::Text(text)) => {
                got.push(Got::Message(Message::Text(text.as_str().to_owned())))
            }
            Ok(TMessage::Binary(data)) => got.push(Got::Message(Message::Binary(data.to_vec()))),
            Ok(TMessage::Ping(data)) => got.push(Got::Ping(data.to_vec())),
            Ok(TMessage::Pong(data)) => got.push(Got::Pong(data.to_vec())),
            Ok(TMessage::Close(close)) => {
                got.push(match close {
                    Some(frame) => Got::Close(frame.code.into(), frame.reason.as_str().into()),
                    None => Got::Close(1005, String::new()),
                });
                return (got, End::Closed);
            }
            Ok(TMessage::Frame(_)) => unreachable!("raw frames are not read"),
            Err(Error::Protocol(
                TError::ResetWithoutClosingHandshake | TError::HandshakeIncomplete,
            ))
            | Err(Error::Io(_) | Error::ConnectionClosed | Error::AlreadyClosed) => {
                return (got, End::Incomplete);
            }
            Err(Error::Protocol(_) | Error::Utf8(_) | Error::Capacity(_)) => {
                return (got, End::Rejected);
            }
            Err(other) => panic!("unexpected tungstenite error {other:?}"),
        }
    }
}

/// Comparison 2: the connections.
fn compare_connections(data: &[u8]) {
    for (role, trole) in [(Role::Client, TRole::Client), (Role::Server, TRole::Server)] {
        let (our_messages, failure) = ours(role, data);
        let (mut their_messages, mut end) = theirs(trole, data);
        // A Close with a code we refuse: tungstenite delivers it as 1002.
        if let Some(ProtocolError::InvalidCloseCode(_)) = failure
            && end == End::Closed
            && their_messages.last() == Some(&protocol_violation())
        {
            their_messages.pop();
            end = End::Rejected;
        }
        assert_eq!(our_messages, their_messages, "{role:?}: messages differ");
        match end {
            End::Rejected => assert!(
                failure.is_some(),
                "{role:?}: tungstenite rejects, we accept"
            ),
            End::Closed => assert_eq!(failure, None, "{role:?}: we reject, tungstenite accepts"),
            // Our earlier verdicts: we may already have failed.
            End::Incomplete => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    compare_headers(data);
    compare_connections(data);
});
