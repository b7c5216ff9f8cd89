//! One connection under test, with everything it did recorded.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use super::frames::{WireFrame, decode_frames};
use super::input::Input;
use crate::close::CloseCode;
use crate::config::Config;
use crate::connection::{Connection, Event, Lifecycle, Role, Transmit};
use crate::error::ProtocolError;
use crate::frame::{DataKind, MAX_HEADER_LEN, OpCode};
use crate::keys::MaskKeySource;
use crate::mask::MaskKey;
use crate::message::Message;
use crate::recv_buf::RecvBuf;
use crate::time::Instant;

/// The largest automatic control frame: a maximal header and 125 bytes.
pub(crate) const MAX_CONTROL_FRAME: usize = MAX_HEADER_LEN + 125;

/// Deterministic client mask keys that change with every frame (an LCG).
#[derive(Debug, Clone)]
pub(crate) struct CountingKeys(u32);

impl CountingKeys {
    pub(crate) const fn new(seed: u32) -> Self {
        Self(seed)
    }
}

impl MaskKeySource for CountingKeys {
    fn next_mask_key(&mut self) -> MaskKey {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        MaskKey::new(self.0.to_be_bytes())
    }
}

pub(crate) type FuzzConn = Connection<CountingKeys, Vec<u8>>;

/// An event or lifecycle change in owned form. Data chunks of one frame are
/// merged, so runs that split the input differently compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A whole data frame.
    Frame {
        /// The kind of the message the frame belongs to.
        kind: DataKind,
        /// The frame's unmasked payload.
        payload: Vec<u8>,
        /// The frame ended its message.
        fin: bool,
    },
    /// A Ping payload.
    Ping(Vec<u8>),
    /// A Pong payload.
    Pong(Vec<u8>),
    /// A Close frame's code and reason.
    Close(CloseCode, String),
    /// A lifecycle change.
    Life(Lifecycle),
}

/// Where a failure happened: output from `at` on may hold only the Close.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FailMark {
    pub(crate) at: usize,
    pub(crate) error: ProtocolError,
    pub(crate) close_sent_before: bool,
}

/// A connection, its receive buffer, and a record of everything it did.
pub(crate) struct Side {
    pub(crate) conn: FuzzConn,
    pub(crate) buf: RecvBuf<Box<[u8]>>,
    /// Every byte handed to the transport.
    pub(crate) out: Vec<u8>,
    /// `Transmit::Shutdown` was returned.
    pub(crate) shutdown: bool,
    pub(crate) seen: Vec<Seen>,
    pub(crate) failed: Option<FailMark>,
    pub(crate) closed: bool,
    pub(crate) eof: bool,
    /// While stalled, the transport takes no bytes (backpressure builds up).
    pub(crate) stalled: bool,
    /// Payload bytes of a frame under way go to `receive_in_place` when
    /// the receive buffer is empty (as a runtime reading large frames
    /// straight into its message buffer does).
    pub(crate) in_place: bool,
    /// Complete messages received.
    pub(crate) messages: Vec<Message>,
    /// The data frame being received, in chunks.
    partial: Option<(DataKind, Vec<u8>)>,
    /// The message being received, in frames.
    assembling: Option<(DataKind, Vec<u8>)>,
}

impl Side {
    pub(crate) fn new(role: Role, config: Config, capacity: usize, seed: u32) -> Self {
        Self {
            conn: Connection::with_parts(
                role,
                config,
                Instant::ZERO,
                CountingKeys::new(seed),
                Vec::new(),
            ),
            buf: RecvBuf::with_capacity(capacity),
            out: Vec::new(),
            shutdown: false,
            seen: Vec::new(),
            failed: None,
            closed: false,
            eof: false,
            stalled: false,
            in_place: false,
            messages: Vec::new(),
            partial: None,
            assembling: None,
        }
    }

    /// The mark to take before an input or command: everything the
    /// connection has produced so far.
    pub(crate) fn mark(&self) -> (usize, bool) {
        (
            self.out.len() + self.conn.send_buffered(),
            self.conn.close_sent().is_some(),
        )
    }

    /// Feeds `data` through the receive buffer, calling `receive` until it
    /// has nothing more, and draining outputs after every call. Bytes that
    /// leave the connection are appended to `wire` as well.
    pub(crate) fn feed(&mut self, now: Instant, mut data: &[u8], wire: &mut Vec<u8>) {
        loop {
            if let Some(n) = self.in_place_len(data.len()) {
                let (bytes, rest) = data.split_at(n);
                data = rest;
                self.receive_in_place(now, bytes, wire);
                if data.is_empty() {
                    return;
                }
                continue;
            }
            let n = self.buf.extend_from_slice(data);
            data = &data[n..];
            let before = self.buf.len();
            self.receive_all(now, wire);
            if data.is_empty() {
                return;
            }
            assert!(
                n > 0 || self.buf.len() < before,
                "receive made no progress with a full receive buffer ({} bytes)",
                self.buf.capacity()
            );
        }
    }

    /// How many of `available` bytes go to `receive_in_place` now.
    fn in_place_len(&self, available: usize) -> Option<usize> {
        if !self.in_place || !self.buf.is_empty() || available == 0 {
            return None;
        }
        let remaining = self.conn.frame_remaining()?;
        Some(usize::try_from(remaining).map_or(available, |r| r.min(available))).filter(|&n| n > 0)
    }

    /// Hands `bytes` (at most the rest of the frame under way) to
    /// `receive_in_place` and records the event.
    fn receive_in_place(&mut self, now: Instant, bytes: &[u8], wire: &mut Vec<u8>) {
        let mark = self.mark();
        let mut bytes = bytes.to_vec();
        let event = self.conn.receive_in_place(now, &mut bytes).map(Owned::from);
        assert!(
            event.is_some() || self.conn.frame_remaining().is_none(),
            "receive_in_place refused the bytes of a frame under way"
        );
        if let Some(event) = event {
            self.record(event);
        }
        self.drain(mark, wire);
    }

    /// Calls `receive` until it returns `None`, draining after each call.
    pub(crate) fn receive_all(&mut self, now: Instant, wire: &mut Vec<u8>) {
        loop {
            let mark = self.mark();
            let capacity = self.buf.capacity();
            let event = self.conn.receive(now, &mut self.buf).map(|event| {
                if let Event::Data { payload, .. } = &event {
                    // Inflated data comes in chunks of up to 16 KiB.
                    let limit = capacity.max(16 * 1024);
                    assert!(payload.len() <= limit, "a chunk larger than the buffer");
                }
                Owned::from(event)
            });
            let got = event.is_some();
            if let Some(event) = event {
                self.record(event);
            }
            self.drain(mark, wire);
            if !got {
                return;
            }
        }
    }

    fn record(&mut self, event: Owned) {
        match event {
            Owned::Data {
                kind,
                payload,
                end_of_frame,
                end_of_message,
            } => {
                let entry = self.partial.get_or_insert_with(|| (kind, Vec::new()));
                assert_eq!(entry.0, kind, "the kind changed inside a frame");
                entry.1.extend_from_slice(&payload);
                assert!(
                    end_of_frame || !end_of_message,
                    "message ended inside a frame"
                );
                if end_of_frame {
                    let (kind, payload) = self.partial.take().unwrap_or((kind, Vec::new()));
                    let message = self.assembling.get_or_insert_with(|| (kind, Vec::new()));
                    assert_eq!(message.0, kind, "the kind changed inside a message");
                    message.1.extend_from_slice(&payload);
                    if end_of_message {
                        let (kind, bytes) = self.assembling.take().unwrap_or((kind, Vec::new()));
                        self.messages.push(match kind {
                            DataKind::Text => Message::Text(
                                String::from_utf8(bytes)
                                    .expect("a text message completed with invalid UTF-8"),
                            ),
                            DataKind::Binary => Message::Binary(bytes),
                        });
                    }
                    self.seen.push(Seen::Frame {
                        kind,
                        payload,
                        fin: end_of_message,
                    });
                }
            }
            Owned::Ping(payload) => self.seen.push(Seen::Ping(payload)),
            Owned::Pong(payload) => self.seen.push(Seen::Pong(payload)),
            Owned::Close(code, reason) => self.seen.push(Seen::Close(code, reason)),
        }
    }

    /// Drains transmits (unless stalled) and lifecycle events after an input
    /// or command that started at `mark`, checking their order.
    pub(crate) fn drain(&mut self, mark: (usize, bool), wire: &mut Vec<u8>) {
        if !self.stalled {
            self.transmit(usize::MAX, wire);
        }
        while let Some(event) = self.conn.poll_event() {
            assert!(!self.closed, "lifecycle event {event:?} after Closed");
            match event {
                Lifecycle::Failed(error) => {
                    assert!(self.failed.is_none(), "failed twice");
                    self.failed = Some(FailMark {
                        at: mark.0,
                        error,
                        close_sent_before: mark.1,
                    });
                }
                Lifecycle::Closed(outcome) => {
                    self.closed = true;
                    assert_eq!(outcome.error, self.failed.map(|f| f.error));
                    assert_eq!(
                        outcome.clean,
                        outcome.sent.is_some() && self.conn.close_frame().is_some(),
                        "clean means Close frames went both ways: {outcome:?}"
                    );
                }
                Lifecycle::KeepaliveTimedOut => {}
            }
            self.seen.push(Seen::Life(event));
        }
        assert_eq!(
            self.closed,
            self.conn.is_closed(),
            "Closed reported iff closed"
        );
        if self.closed {
            assert_eq!(self.conn.poll_timeout(), None, "a timer outlived Closed");
        }
        self.check_after_failure(false);
    }

    /// Hands at most `budget` bytes to the transport (a partial write).
    pub(crate) fn transmit(&mut self, mut budget: usize, wire: &mut Vec<u8>) {
        while budget > 0 {
            match self.conn.poll_transmit() {
                Some(Transmit::Bytes(bytes)) => {
                    assert!(!self.shutdown, "bytes after Transmit::Shutdown");
                    assert!(!bytes.is_empty(), "an empty Transmit::Bytes");
                    let n = bytes.len().min(budget);
                    self.out.extend_from_slice(&bytes[..n]);
                    wire.extend_from_slice(&bytes[..n]);
                    self.conn.consume_transmit(n);
                    budget -= n;
                }
                Some(Transmit::Shutdown) => {
                    assert!(!self.shutdown, "Transmit::Shutdown twice");
                    self.shutdown = true;
                }
                None => return,
            }
        }
    }

    /// After a failure, the output may hold one Close frame with the mapped
    /// code (none if a Close was already sent) and nothing else. With
    /// `flushed`, everything has been written, so the Close must be there.
    pub(crate) fn check_after_failure(&self, flushed: bool) {
        let Some(fail) = self.failed else { return };
        let Some(tail) = self.out.get(fail.at..) else {
            // Bytes queued before the failure are still unwritten.
            assert!(!flushed, "the failure mark lies beyond the flushed output");
            return;
        };
        let (frames, rest) = decode_frames(tail);
        if !rest.is_empty() && !flushed {
            // A partial write may have cut the Close; it must be one frame.
            assert!(frames.is_empty(), "frames after a failure: {frames:?}");
            return;
        }
        assert!(rest.is_empty(), "trailing bytes after a failure");
        let expected: &[WireFrame] = &[];
        if fail.close_sent_before {
            assert_eq!(
                frames, expected,
                "output after a failure, Close already sent"
            );
            return;
        }
        match frames.as_slice() {
            [] if !flushed => {}
            [close] => {
                let code = CloseCode::from(fail.error);
                let mut payload = code.as_u16().to_be_bytes().to_vec();
                payload.extend_from_slice(fail.error.description().as_bytes());
                assert_eq!(close.opcode, OpCode::Close, "not a Close after a failure");
                assert_eq!(close.payload, payload, "wrong Close after {:?}", fail.error);
                assert_eq!(close.masked, self.conn.role() == Role::Client);
            }
            other => panic!("after failing with {:?} emitted {other:?}", fail.error),
        }
    }
}

/// [`Event`] in owned form.
enum Owned {
    Data {
        kind: DataKind,
        payload: Vec<u8>,
        end_of_frame: bool,
        end_of_message: bool,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(CloseCode, String),
}

impl From<Event<'_>> for Owned {
    fn from(event: Event<'_>) -> Self {
        match event {
            Event::Data {
                kind,
                payload,
                end_of_frame,
                end_of_message,
            } => Self::Data {
                kind,
                payload: payload.to_vec(),
                end_of_frame,
                end_of_message,
            },
            Event::Ping(payload) => Self::Ping(payload.to_vec()),
            Event::Pong(payload) => Self::Pong(payload.to_vec()),
            Event::CloseReceived(frame) => Self::Close(frame.code, frame.reason.to_string()),
        }
    }
}

/// A fuzzer-chosen configuration: small limits reach the size checks, short
/// timers reach the timeouts. Periodic timers are at least 1 µs long.
pub(crate) fn config(input: &mut Input<'_>) -> Config {
    const SIZES: [u64; 6] = [16 << 20, 0, 1, 125, 1000, 70_000];
    const WATERMARKS: [usize; 5] = [1 << 20, 0, 1, 100, 4096];
    const MS: fn(u64) -> Duration = Duration::from_millis;
    let mut config = Config::default();
    let flags = input.u8();
    if flags & 1 != 0 {
        config.max_frame_size(input.choose(&SIZES));
        config.max_message_size(input.choose(&SIZES));
        config.max_fragments(input.choose(&[1 << 20, 1, 2, 5]));
    }
    if flags & 2 != 0 {
        config.send_buffer_watermark(input.choose(&WATERMARKS));
    }
    if flags & 4 != 0 {
        config.keepalive_interval(input.choose(&[None, Some(MS(1)), Some(MS(10)), Some(MS(1000))]));
        config.pong_timeout(input.choose(&[MS(1), MS(5), MS(1000), MS(20_000)]));
    }
    if flags & 8 != 0 {
        config.close_timeout(input.choose(&[Duration::ZERO, MS(1), MS(1000), MS(10_000)]));
        config.idle_timeout(input.choose(&[None, Some(MS(1)), Some(MS(100)), Some(MS(5000))]));
    }
    config.accept_unmasked_frames(flags & 16 != 0);
    config
}
