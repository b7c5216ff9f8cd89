//! Stateful oracles: a client and a server driven by fuzzer-chosen commands.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use super::frames::decode_frames;
use super::input::Input;
use super::side::{MAX_CONTROL_FRAME, Seen, Side, config};
use crate::close::CloseCode;
use crate::config::Config;
use crate::connection::{Lifecycle, Role, State};
use crate::error::{ProtocolError, SendError};
use crate::frame::{DataKind, FrameHeader, OpCode, PreparedFrame};
use crate::mask::MaskKey;
use crate::message::Message;
use crate::time::Instant;

/// The encoded size of a frame with `payload` bytes sent by `role`.
fn frame_len(role: Role, payload: usize) -> usize {
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode: OpCode::Binary,
        mask: (role == Role::Client).then_some(MaskKey::new([0; 4])),
        payload_len: payload as u64,
    };
    header.encoded_len() + payload
}

/// A payload size: mostly small, sometimes at the length-encoding edges.
fn size(input: &mut Input<'_>) -> usize {
    match input.u8() {
        251 => 125,
        252 => 126,
        253 => 65_535,
        254 => 65_536,
        255 => 70_000,
        n => usize::from(n),
    }
}

/// `len` bytes: fuzzer bytes first, then a pattern.
fn binary(input: &mut Input<'_>, len: usize) -> Vec<u8> {
    let mut bytes = input.bytes(len).to_vec();
    bytes.extend((bytes.len()..len).map(|i| i as u8));
    bytes
}

/// Valid UTF-8 of about `len` bytes: fuzzer bytes made valid, then `a`s.
fn text(input: &mut Input<'_>, len: usize) -> String {
    let mut text = String::from_utf8_lossy(input.bytes(len)).into_owned();
    while text.len() < len {
        text.push('a');
    }
    text
}

/// Two connections joined by in-memory wires, with a fake clock.
pub(crate) struct Pair {
    /// 0 is the client, 1 the server.
    pub(crate) sides: [Side; 2],
    /// `wires[i]`: bytes side `i` wrote that the other side has not read.
    wires: [Vec<u8>; 2],
    /// Messages side `i` sent that the other side has not received.
    pub(crate) sent: [VecDeque<Message>; 2],
    /// The fragmented message side `i` is sending.
    fragment: [Option<(DataKind, Vec<u8>)>; 2],
    /// The largest data frame side `i` had accepted.
    biggest: [usize; 2],
    /// Messages and events of side `i` already checked.
    checked: [(usize, usize); 2],
    /// Bytes were altered or dropped in flight: no end-to-end checks.
    corrupted: bool,
    now: Instant,
}

impl Pair {
    pub(crate) fn new(configs: [Config; 2], capacities: [usize; 2]) -> Self {
        let [client, server] = configs;
        Self {
            sides: [
                Side::new(Role::Client, client, capacities[0], 0x1234_5678),
                Side::new(Role::Server, server, capacities[1], 0),
            ],
            wires: [Vec::new(), Vec::new()],
            sent: [VecDeque::new(), VecDeque::new()],
            fragment: [None, None],
            biggest: [0, 0],
            checked: [(0, 0), (0, 0)],
            corrupted: false,
            now: Instant::ZERO,
        }
    }

    /// Runs `f` on side `i` as one command, then drains its outputs.
    fn command<T>(&mut self, i: usize, f: impl FnOnce(&mut Side, Instant) -> T) -> T {
        let mark = self.sides[i].mark();
        let result = f(&mut self.sides[i], self.now);
        self.sides[i].drain(mark, &mut self.wires[i]);
        result
    }

    /// Checks a refused command against its documented reason.
    fn check_refusal(&self, i: usize, error: SendError, was_open: bool, control: usize) {
        let side = &self.sides[i];
        let watermark = side.conn.config().send_buffer_watermark;
        match error {
            SendError::InvalidState => assert!(!was_open, "InvalidState while open"),
            SendError::BufferFull { needed } => {
                let pending = side.conn.send_buffered();
                assert!(
                    pending > 0 && pending + needed > watermark,
                    "BufferFull with {pending} pending, {needed} needed, watermark {watermark}"
                );
            }
            SendError::FragmentInProgress => assert!(self.fragment[i].is_some()),
            SendError::FrameTooLarge => assert!(control > 125),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub(crate) fn send(
        &mut self,
        i: usize,
        kind: DataKind,
        payload: Vec<u8>,
        fragment: Option<bool>,
    ) {
        let role = self.sides[i].conn.role();
        let was_open = self.sides[i].conn.is_open() && self.sides[i].conn.close_sent().is_none();
        let len = payload.len();
        let result = self.command(i, |side, _| match (fragment, kind) {
            (Some(fin), _) => side.conn.send_fragment(kind, &payload, fin),
            (None, DataKind::Text) => side
                .conn
                .send_text(core::str::from_utf8(&payload).unwrap_or("")),
            (None, DataKind::Binary) => side.conn.send_binary(&payload),
        });
        match result {
            Ok(()) => {
                assert!(was_open, "a send succeeded while not open");
                self.biggest[i] = self.biggest[i].max(frame_len(role, len));
                let done = match fragment {
                    None => Some((kind, payload)),
                    Some(fin) => {
                        let entry = self.fragment[i].get_or_insert_with(|| (kind, Vec::new()));
                        assert_eq!(entry.0, kind, "a fragment of another kind was accepted");
                        entry.1.extend_from_slice(&payload);
                        if fin { self.fragment[i].take() } else { None }
                    }
                };
                if let Some((kind, bytes)) = done {
                    self.sent[i].push_back(match kind {
                        DataKind::Text => {
                            Message::Text(String::from_utf8(bytes).unwrap_or_default())
                        }
                        DataKind::Binary => Message::Binary(bytes),
                    });
                }
            }
            Err(SendError::FragmentInProgress) if fragment.is_some() => {
                let current = self.fragment[i].as_ref().map(|f| f.0);
                assert!(current.is_some_and(|k| k != kind), "fragment refused");
            }
            Err(error) => self.check_refusal(i, error, was_open, 0),
        }
    }

    /// Sends a message encoded once for many connections (broadcast); only
    /// a server may.
    fn send_prepared(&mut self, i: usize, kind: DataKind, payload: Vec<u8>) {
        let frame = PreparedFrame::new(kind, &payload);
        assert_eq!(frame.kind(), kind);
        assert_eq!(frame.payload_len(), payload.len());
        let role = self.sides[i].conn.role();
        let was_open = self.sides[i].conn.is_open() && self.sides[i].conn.close_sent().is_none();
        let result = self.command(i, |side, _| side.conn.send_prepared(&frame));
        match result {
            Ok(()) => {
                assert!(was_open && role == Role::Server, "send_prepared accepted");
                self.biggest[i] = self.biggest[i].max(frame.as_bytes().len());
                self.sent[i].push_back(match kind {
                    DataKind::Text => Message::Text(String::from_utf8(payload).unwrap_or_default()),
                    DataKind::Binary => Message::Binary(payload),
                });
            }
            Err(SendError::InvalidState) if role == Role::Client => {}
            Err(SendError::FragmentInProgress) => assert!(self.fragment[i].is_some()),
            Err(error) => self.check_refusal(i, error, was_open, 0),
        }
    }

    /// Moves up to `n` bytes from side `from`'s wire into the other side.
    fn deliver(&mut self, from: usize, n: usize) {
        let to = 1 - from;
        let n = n.min(self.wires[from].len());
        let bytes: Vec<u8> = self.wires[from].drain(..n).collect();
        if self.sides[to].eof {
            return;
        }
        let now = self.now;
        let [a, b] = &mut self.wires;
        let wire = if to == 0 { a } else { b };
        self.sides[to].feed(now, &bytes, wire);
    }

    pub(crate) fn deliver_all(&mut self) {
        for _ in 0..64 {
            if self.wires.iter().all(Vec::is_empty) {
                return;
            }
            self.deliver(0, usize::MAX);
            self.deliver(1, usize::MAX);
        }
        panic!("the connections keep talking");
    }

    /// Advances the clock and runs both sides' timers.
    fn advance(&mut self, to: Instant) {
        self.now = self.now.max(to);
        for i in 0..2 {
            // A timer armed while others fire (a zero close timeout) may be
            // due at once; a few calls must settle it (no busy loop).
            for _ in 0..3 {
                self.command(i, |side, now| side.conn.handle_timeout(now));
            }
            let next = self.sides[i].conn.poll_timeout();
            assert!(
                next.is_none_or(|t| t > self.now),
                "a timer is still due after handle_timeout: {next:?} <= {:?}",
                self.now
            );
        }
    }

    /// Invariants after every step.
    pub(crate) fn check(&mut self) {
        for i in 0..2 {
            if self.sides[i].conn.close_sent().is_some() {
                self.fragment[i] = None;
            }
            let side = &self.sides[i];
            let watermark = side.conn.config().send_buffer_watermark;
            let bound = watermark.max(self.biggest[i]) + 2 * MAX_CONTROL_FRAME;
            assert!(
                side.conn.send_buffered() <= bound,
                "send buffer at {} bytes, bound {bound}",
                side.conn.send_buffered()
            );
            let (messages, events) = self.checked[i];
            for message in &self.sides[i].messages[messages..] {
                if !self.corrupted {
                    let expected = self.sent[1 - i].pop_front();
                    assert_eq!(
                        Some(message),
                        expected.as_ref(),
                        "side {i} got another message"
                    );
                }
            }
            for seen in &self.sides[i].seen[events..] {
                match seen {
                    Seen::Close(code, _) if !self.corrupted => {
                        assert_eq!(Some(*code), self.sides[1 - i].conn.close_sent());
                    }
                    Seen::Life(Lifecycle::Failed(error)) if !self.corrupted => assert!(
                        matches!(
                            error,
                            ProtocolError::FrameTooLarge
                                | ProtocolError::MessageTooLarge
                                | ProtocolError::TooManyFragments
                        ),
                        "side {i} failed with {error:?} between correct peers"
                    ),
                    _ => {}
                }
            }
            self.checked[i] = (self.sides[i].messages.len(), self.sides[i].seen.len());
        }
    }

    /// Closes everything down: both sides must reach Closed, each reported
    /// once, with at most the Close frame after a failure.
    pub(crate) fn finish(&mut self) {
        for _ in 0..64 {
            for i in 0..2 {
                self.sides[i].stalled = false;
                if self.sides[i].conn.state() == State::Open {
                    let _ = self.command(i, |side, now| {
                        side.conn.close(now, CloseCode::NORMAL, "done")
                    });
                } else {
                    self.command(i, |_, _| ());
                }
            }
            self.deliver_all();
            self.check();
            for i in 0..2 {
                if self.sides[i].shutdown && !self.sides[1 - i].eof {
                    self.command(1 - i, |side, now| side.conn.receive_eof(now));
                    self.sides[1 - i].eof = true;
                }
            }
            if self.sides.iter().all(|side| side.closed) {
                break;
            }
            let next = self
                .sides
                .iter()
                .filter_map(|s| s.conn.poll_timeout())
                .min();
            if let Some(next) = next {
                self.advance(next);
            }
        }
        for side in &self.sides {
            assert!(side.closed, "{:?} never closed", side.conn.role());
            let closes = side
                .seen
                .iter()
                .filter(|s| matches!(s, Seen::Life(Lifecycle::Closed(_))))
                .count();
            assert_eq!(closes, 1, "Closed reported {closes} times");
            side.check_after_failure(true);
        }
    }

    fn step(&mut self, input: &mut Input<'_>) {
        let command = input.u8();
        let i = usize::from(command >> 7);
        let peer = 1 - i;
        let op = (command & 0x7f) % 16;
        match op {
            0 | 1 => {
                let kind = if op == 0 {
                    DataKind::Text
                } else {
                    DataKind::Binary
                };
                let len = size(input);
                let payload = match kind {
                    DataKind::Text => text(input, len).into_bytes(),
                    DataKind::Binary => binary(input, len),
                };
                self.send(i, kind, payload, None);
            }
            2 => {
                let flags = input.u8();
                let kind = if flags & 1 == 0 {
                    DataKind::Text
                } else {
                    DataKind::Binary
                };
                let len = size(input);
                let payload = match kind {
                    DataKind::Text => text(input, len).into_bytes(),
                    DataKind::Binary => binary(input, len),
                };
                self.send(i, kind, payload, Some(flags & 2 != 0));
            }
            3 | 4 => {
                let len = usize::from(input.u8() % 140);
                let payload = binary(input, len);
                let was_open =
                    self.sides[i].conn.is_open() && self.sides[i].conn.close_sent().is_none();
                let ping = op == 3;
                let result = self.command(i, |side, _| {
                    if ping {
                        side.conn.send_ping(&payload)
                    } else {
                        side.conn.send_pong(&payload)
                    }
                });
                match result {
                    Ok(()) => {
                        assert!(was_open && len <= 125);
                        let role = self.sides[i].conn.role();
                        self.biggest[i] = self.biggest[i].max(frame_len(role, len));
                    }
                    Err(error) => self.check_refusal(i, error, was_open, len),
                }
            }
            5 => {
                let code = match input.u8() % 12 {
                    0 => 1000,
                    1 => 1001,
                    2 => 1005,
                    3 => 1006,
                    4 => 1015,
                    5 => 999,
                    6 => 3000,
                    7 => 4999,
                    8 => 5000,
                    9 => 1004,
                    10 => 1011,
                    _ => input.u16(),
                };
                let len = usize::from(input.u8() % 130);
                let reason = text(input, len);
                let conn = &self.sides[i].conn;
                let was_open = conn.state() == State::Open && conn.close_sent().is_none();
                let result = self.command(i, |side, now| {
                    side.conn.close(now, CloseCode::new(code), &reason)
                });
                let expected = if !was_open {
                    Err(SendError::InvalidState)
                } else if !CloseCode::new(code).is_sendable() {
                    Err(SendError::InvalidCloseCode)
                } else if reason.len() > 123 {
                    Err(SendError::CloseReasonTooLong)
                } else {
                    Ok(())
                };
                assert_eq!(result, expected, "close({code}, {} bytes)", reason.len());
            }
            6 => {
                let n = usize::from(input.u16());
                self.deliver(peer, n);
            }
            7 => self.deliver_all(),
            8 => {
                let at = usize::from(input.u16());
                let xor = input.u8().max(1);
                let len = self.wires[peer].len();
                if len > 0 {
                    self.wires[peer][at % len] ^= xor;
                    self.corrupted = true;
                }
            }
            9 => {
                let deadline = self.sides[i].conn.poll_timeout();
                let to = match input.u8() % 8 {
                    0 => self.now,
                    1 => self.now + Duration::from_micros(1),
                    2 => self.now + Duration::from_millis(1),
                    3 => self.now + Duration::from_secs(1),
                    4 => self.now + Duration::from_secs(30),
                    5 => deadline.unwrap_or(self.now),
                    6 => deadline.map_or(self.now, |d| d - Duration::from_micros(1)),
                    _ => self.now + Duration::from_micros(u64::from(input.u16())),
                };
                self.advance(to);
            }
            10 => {
                self.sides[i].stalled = !self.sides[i].stalled;
                self.command(i, |_, _| ());
            }
            11 => {
                let budget = usize::from(input.u8()) + 1;
                let [a, b] = &mut self.wires;
                let wire = if i == 0 { a } else { b };
                self.sides[i].transmit(budget, wire);
            }
            12 => {
                if !self.sides[i].eof {
                    self.command(i, |side, now| side.conn.receive_eof(now));
                    self.sides[i].eof = true;
                }
            }
            13 => {
                // Before the deadline, handle_timeout changes nothing.
                let side = &self.sides[i];
                if side.conn.poll_timeout().is_none_or(|t| t > self.now) {
                    let before = (
                        side.conn.state(),
                        side.conn.send_buffered(),
                        side.conn.poll_timeout(),
                        side.seen.len(),
                        side.out.len(),
                    );
                    self.command(i, |side, now| side.conn.handle_timeout(now));
                    let side = &self.sides[i];
                    let after = (
                        side.conn.state(),
                        side.conn.send_buffered(),
                        side.conn.poll_timeout(),
                        side.seen.len(),
                        side.out.len(),
                    );
                    assert_eq!(before, after, "handle_timeout before the deadline acted");
                }
            }
            15 => {
                let kind = if input.bool() {
                    DataKind::Binary
                } else {
                    DataKind::Text
                };
                let len = size(input);
                let payload = match kind {
                    DataKind::Text => text(input, len).into_bytes(),
                    DataKind::Binary => binary(input, len),
                };
                self.send_prepared(i, kind, payload);
            }
            _ => {
                let n = usize::from(input.u8());
                let len = self.wires[peer].len();
                if n > 0 && len > 0 {
                    self.wires[peer].truncate(len.saturating_sub(n));
                    self.corrupted = true;
                }
            }
        }
    }
}

/// The `connection` target: a client and a server, each with a
/// fuzzer-chosen configuration and receive buffer, driven by up to 512
/// fuzzer-chosen commands (sends, broadcast `send_prepared`, fragments,
/// pings, pongs, closes, partial
/// and stalled writes, deliveries of part or all of the bytes in flight,
/// corruption and truncation in flight, clock jumps, EOFs), all outputs
/// drained after each, then closed down. See the module docs for the
/// oracles.
pub fn run_connection_script(data: &[u8]) {
    let mut input = Input::new(data);
    let configs = [config(&mut input), config(&mut input)];
    let capacities = [
        input.choose(&[256, 300, 1024, 65_536]),
        input.choose(&[256, 300, 1024, 65_536]),
    ];
    let mut pair = Pair::new(configs, capacities);
    let mut steps = 0;
    while !input.is_empty() && steps < 512 {
        steps += 1;
        pair.step(&mut input);
        pair.check();
    }
    pair.finish();
}

/// The `roundtrip` target: messages of fuzzer-chosen kinds, sizes
/// (including the 125/126 and 65535/65536 length edges) and fragmentation,
/// with pings between fragments, sent by either side and decoded by the
/// other through a fuzzer-sized receive buffer. The receiver must get
/// exactly the messages sent, every Ping must come back as a Pong, and the
/// wire must carry minimal headers, masked exactly when the client sends.
pub fn check_roundtrip(data: &[u8]) {
    let mut input = Input::new(data);
    let capacity = input.choose(&[256, 257, 1000, 65_536]);
    let mut pair = Pair::new([Config::default(), Config::default()], [capacity, capacity]);
    let mut frames: [Vec<(OpCode, bool, Vec<u8>)>; 2] = [Vec::new(), Vec::new()];
    let mut pings = [0usize; 2];
    let mut count = 0;
    while !input.is_empty() && count < 64 {
        count += 1;
        let flags = input.u8();
        let i = usize::from(flags & 1);
        let kind = if flags & 2 == 0 {
            DataKind::Text
        } else {
            DataKind::Binary
        };
        let fragments = 1 + usize::from(flags >> 2 & 3);
        for n in 0..fragments {
            let len = size(&mut input);
            let payload = match kind {
                DataKind::Text => text(&mut input, len).into_bytes(),
                DataKind::Binary => binary(&mut input, len),
            };
            let fin = n + 1 == fragments;
            let opcode = if n > 0 {
                OpCode::Continuation
            } else {
                kind.opcode()
            };
            frames[i].push((opcode, fin, payload.clone()));
            if fragments == 1 {
                pair.send(i, kind, payload, None);
            } else {
                pair.send(i, kind, payload, Some(fin));
            }
            if flags & 0x40 != 0 && !fin {
                let ping = vec![n as u8; n];
                pair.command(i, |side, _| side.conn.send_ping(&ping))
                    .expect("a ping between fragments");
                frames[i].push((OpCode::Ping, true, ping.clone()));
                pings[i] += 1;
                frames[1 - i].push((OpCode::Pong, true, ping));
            }
            pair.deliver_all();
            pair.check();
        }
    }
    assert!(
        pair.sent.iter().all(VecDeque::is_empty),
        "messages were lost"
    );
    for (i, side) in pair.sides.iter().enumerate() {
        let pongs = side
            .seen
            .iter()
            .filter(|s| matches!(s, Seen::Pong(_)))
            .count();
        assert_eq!(pongs, pings[i], "every Ping is answered");
        let (wire, rest) = decode_frames(&side.out);
        assert!(rest.is_empty());
        let got: Vec<(OpCode, bool, Vec<u8>)> = wire
            .into_iter()
            .map(|frame| {
                assert_eq!(frame.masked, i == 0, "mask bit");
                assert!(frame.minimal && frame.rsv == 0);
                (frame.opcode, frame.fin, frame.payload)
            })
            .collect();
        // Pongs answer the peer's pings; their place depends on delivery.
        let data = |frames: &[(OpCode, bool, Vec<u8>)]| -> Vec<(OpCode, bool, Vec<u8>)> {
            frames
                .iter()
                .filter(|f| f.0 != OpCode::Pong)
                .cloned()
                .collect()
        };
        assert_eq!(
            data(&got),
            data(&frames[i]),
            "side {i}'s frames on the wire"
        );
        let pongs = |frames: &[(OpCode, bool, Vec<u8>)]| -> Vec<Vec<u8>> {
            frames
                .iter()
                .filter(|f| f.0 == OpCode::Pong)
                .map(|f| f.2.clone())
                .collect()
        };
        assert_eq!(pongs(&got), pongs(&frames[i]), "side {i}'s pongs");
    }
    pair.finish();
    for side in &pair.sides {
        let clean = side
            .seen
            .iter()
            .any(|s| matches!(s, Seen::Life(Lifecycle::Closed(outcome)) if outcome.clean));
        assert!(clean, "{:?} did not close cleanly", side.conn.role());
    }
}
