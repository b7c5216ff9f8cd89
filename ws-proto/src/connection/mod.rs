//! The connection state machine: bytes in, events and bytes out.
//!
//! See the crate documentation for the driving loop. The implementation is
//! split by direction: `recv` parses frames, `send` encodes them, and
//! `timer` holds the deadlines; this module holds the state they share and
//! the lifecycle (closing handshake, failure, timeouts).

#[cfg(feature = "deflate")]
mod deflate;
mod recv;
mod send;
mod timer;

use core::time::Duration;

use crate::close::{CloseCode, CloseFrame, StoredClose};
use crate::config::Config;
use crate::error::ProtocolError;
use crate::frame::{DataKind, field};
use crate::keys::MaskKeySource;
use crate::send_buf::{SendBuf, SendStorage};
use crate::time::Instant;
use timer::{Timer, TimerTable};

pub use recv::Event;

/// Which end of the connection this is; decides the masking direction
/// (RFC 6455 §5.1: clients mask, servers must not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that sent the opening handshake; masks every frame.
    Client,
    /// The end that accepted it; never masks, requires masked frames.
    Server,
}

/// The connection's state (RFC 6455 §4.1, §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Data flows both ways.
    Open,
    /// A Close frame was sent or received (or the connection failed); the
    /// closing handshake is under way and no more data may be sent.
    Closing,
    /// Done: flush [`poll_transmit`](Connection::poll_transmit), then drop
    /// the transport.
    Closed,
}

/// Bytes for the transport, from [`Connection::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transmit<'a> {
    /// Write these bytes, then report how many were written with
    /// [`Connection::consume_transmit`]. Partial writes are fine.
    Bytes(&'a [u8]),
    /// Everything has been written: shut down the write half of the
    /// transport (TCP FIN; python-websockets' `SEND_EOF`). Returned once.
    Shutdown,
}

/// Who started the closing of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Initiator {
    /// This end: [`Connection::close`], a protocol failure detected here, or
    /// a timeout.
    Local,
    /// The peer sent the first Close frame.
    Remote,
    /// The transport ended before any Close frame.
    Transport,
}

/// How a connection ended, reported once by [`Lifecycle::Closed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseOutcome {
    /// The WebSocket Connection Close Code (RFC 6455 §7.1.5): the code of the
    /// first Close frame received, 1005 if it had none, 1006 if no Close frame
    /// was received.
    pub code: CloseCode,
    /// The code this end sent, if it sent a Close frame.
    pub sent: Option<CloseCode>,
    /// Who started closing.
    pub initiator: Initiator,
    /// Whether Close frames went both ways (RFC 6455 §7.1.4: the closing
    /// handshake completed).
    pub clean: bool,
    /// The peer's protocol violation, if this end failed the connection.
    pub error: Option<ProtocolError>,
    /// Whether a timer (keepalive, closing handshake) ended the connection.
    pub timed_out: bool,
}

/// Lifecycle changes, from [`Connection::poll_event`]. Small and owned, unlike
/// [`Event`], which borrows the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// The peer broke the protocol. A Close frame with the mapped code has
    /// been queued and further input is discarded (RFC 6455 §7.1.7).
    Failed(ProtocolError),
    /// A keepalive Ping got no answer within the pong timeout; the connection
    /// is being dropped.
    KeepaliveTimedOut,
    /// The connection is closed: flush the remaining transmits and drop the
    /// transport. Always the last lifecycle event, reported exactly once.
    Closed(CloseOutcome),
}

/// A tiny FIFO for lifecycle events: at most one of each kind is ever queued.
#[derive(Debug, Clone, Copy, Default)]
struct LifecycleQueue {
    items: [Option<Lifecycle>; 3],
}

impl LifecycleQueue {
    fn push(&mut self, event: Lifecycle) {
        if let Some(slot) = self.items.iter_mut().find(|slot| slot.is_none()) {
            *slot = Some(event);
        }
    }

    fn pop(&mut self) -> Option<Lifecycle> {
        let first = self.items[0].take();
        self.items.rotate_left(1);
        first
    }
}

/// Whether the transport's write half should be, or has been, shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shutdown {
    No,
    Pending,
    Done,
}

/// A control payload kept without allocation (at most 125 bytes).
#[derive(Debug, Clone, Copy)]
struct ControlPayload {
    bytes: [u8; field::MAX_CONTROL_PAYLOAD],
    len: u8,
}

impl ControlPayload {
    fn new(data: &[u8]) -> Self {
        let len = data.len().min(field::MAX_CONTROL_PAYLOAD);
        let mut bytes = [0; field::MAX_CONTROL_PAYLOAD];
        bytes[..len].copy_from_slice(&data[..len]);
        Self {
            bytes,
            len: len as u8,
        }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// The default mask key source: the OS's entropy with `std`, a function
/// pointer without it.
#[cfg(feature = "std")]
pub type DefaultMaskKeys = crate::keys::OsMaskKeys;
/// The default mask key source: the OS's entropy with `std`, a function
/// pointer without it.
#[cfg(not(feature = "std"))]
pub type DefaultMaskKeys = fn() -> [u8; 4];

/// The default send storage: `Vec<u8>` with `alloc`, 16 KiB inline without.
#[cfg(feature = "alloc")]
pub type DefaultSendStorage = alloc::vec::Vec<u8>;
/// The default send storage: `Vec<u8>` with `alloc`, 16 KiB inline without.
#[cfg(not(feature = "alloc"))]
pub type DefaultSendStorage = crate::send_buf::ArrayStorage<16384>;

/// One WebSocket connection, after the opening handshake.
///
/// `K` supplies client mask keys and `S` stores outgoing bytes; see
/// [`MaskKeySource`] and [`SendStorage`]. The crate documentation describes
/// the driving loop; each method says where it fits.
pub struct Connection<K = DefaultMaskKeys, S = DefaultSendStorage> {
    role: Role,
    config: Config,
    keys: K,
    send: SendBuf<S>,
    state: State,
    recv: recv::RecvState,
    /// RSV bits that a negotiated extension gives meaning to.
    rsv_allowed: u8,
    /// The kind of the fragmented message being sent, if any.
    sending: Option<DataKind>,
    close_sent: Option<CloseCode>,
    close_received: Option<StoredClose>,
    initiator: Option<Initiator>,
    /// The latest Ping payload whose Pong did not fit the send buffer.
    pending_pong: Option<ControlPayload>,
    /// A Close frame this end must send that did not fit the send buffer.
    pending_close: Option<StoredClose>,
    shutdown: Shutdown,
    failure: Option<ProtocolError>,
    timed_out: bool,
    timers: TimerTable,
    lifecycle: LifecycleQueue,
    keepalive_count: u64,
    /// permessage-deflate, once negotiated.
    #[cfg(feature = "deflate")]
    deflate: Option<alloc::boxed::Box<deflate::DeflateState>>,
    /// The fragmented message being sent is compressed.
    #[cfg(feature = "deflate")]
    sending_compressed: bool,
}

#[cfg(feature = "std")]
impl Connection {
    /// A connection with OS-entropy mask keys and a growable send buffer.
    ///
    /// `now` starts the keepalive and idle timers. Call
    /// [`poll_timeout`](Self::poll_timeout) after construction.
    pub fn new(role: Role, config: Config, now: Instant) -> Self {
        Self::with_parts(
            role,
            config,
            now,
            crate::keys::OsMaskKeys::new(),
            alloc::vec::Vec::new(),
        )
    }
}

impl<K: MaskKeySource, S: SendStorage> Connection<K, S> {
    /// A connection with the given mask key source and send storage.
    ///
    /// `now` starts the keepalive and idle timers.
    pub fn with_parts(role: Role, config: Config, now: Instant, keys: K, storage: S) -> Self {
        let mut conn = Self {
            role,
            config,
            keys,
            send: SendBuf::new(storage),
            state: State::Open,
            recv: recv::RecvState::default(),
            rsv_allowed: 0,
            sending: None,
            close_sent: None,
            close_received: None,
            initiator: None,
            pending_pong: None,
            pending_close: None,
            shutdown: Shutdown::No,
            failure: None,
            timed_out: false,
            timers: TimerTable::default(),
            lifecycle: LifecycleQueue::default(),
            keepalive_count: 0,
            #[cfg(feature = "deflate")]
            deflate: None,
            #[cfg(feature = "deflate")]
            sending_compressed: false,
        };
        conn.note_activity(now);
        conn
    }

    /// Allows received frames to carry the given RSV bits (`0b100` = RSV1),
    /// for an extension negotiated in the handshake (RFC 6455 §5.2, §9).
    pub fn allow_rsv_bits(&mut self, rsv: u8) {
        self.rsv_allowed = rsv & 0b111;
    }

    // ------------------------------------------------------------ getters

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the connection is [`State::Closed`].
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether data may still be sent ([`State::Open`]).
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// The Close frame received from the peer, if any.
    pub fn close_frame(&self) -> Option<CloseFrame<'_>> {
        self.close_received.as_ref().map(StoredClose::get)
    }

    /// The code this end sent in its Close frame, if it sent one.
    pub fn close_sent(&self) -> Option<CloseCode> {
        self.close_sent
    }

    /// Bytes waiting in the send buffer: the backpressure gauge.
    pub fn send_buffered(&self) -> usize {
        self.send.pending_len()
    }

    /// The send storage, for inspection.
    pub fn send_storage(&self) -> &S {
        self.send.storage()
    }

    // ------------------------------------------------------------ outputs

    /// The next bytes to write, or [`Transmit::Shutdown`] once everything is
    /// written and the write half should be closed.
    ///
    /// Call after every input and command until it returns `None`, writing
    /// what it returns and reporting progress with
    /// [`consume_transmit`](Self::consume_transmit). Repeated calls without
    /// `consume_transmit` return the same bytes.
    pub fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        self.flush_pending_control();
        if !self.send.pending().is_empty() {
            return Some(Transmit::Bytes(self.send.pending()));
        }
        if self.shutdown == Shutdown::Pending
            && self.send.pending_len() == 0
            && self.pending_pong.is_none()
            && self.pending_close.is_none()
        {
            self.shutdown = Shutdown::Done;
            return Some(Transmit::Shutdown);
        }
        None
    }

    /// Reports that `n` bytes of the last [`Transmit::Bytes`] were written.
    pub fn consume_transmit(&mut self, n: usize) {
        self.send.consume(n);
    }

    /// Payload bytes of a [`send_external`](Self::send_external) message
    /// that the caller has not written yet. They go on the wire right after
    /// the bytes [`poll_transmit`](Self::poll_transmit) returns (in the
    /// same vectored write, or once `poll_transmit` returns `None`); report
    /// them with [`consume_payload`](Self::consume_payload). Zero otherwise.
    pub fn payload_owed(&self) -> usize {
        self.send.payload_owed()
    }

    /// Reports that `n` bytes of the owed external payload were written.
    /// Ignored while `poll_transmit` still has bytes that go before it
    /// (write those first). Once the whole payload is reported, the bytes
    /// queued after it (a Pong, a Close, further messages) come out of
    /// `poll_transmit`.
    pub fn consume_payload(&mut self, n: usize) {
        self.send.consume_payload(n);
    }

    /// The next lifecycle change. Call after draining
    /// [`poll_transmit`](Self::poll_transmit); `None` means nothing new.
    pub fn poll_event(&mut self) -> Option<Lifecycle> {
        self.lifecycle.pop()
    }

    /// The earliest deadline at which [`handle_timeout`](Self::handle_timeout)
    /// has work to do, or `None`. Read it after every input and command and
    /// sleep until it (or until the transport is readable).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ------------------------------------------------------------ inputs

    /// Runs the timers due at `now`: sends a keepalive Ping, gives up on an
    /// unanswered one, ends a closing handshake that took too long, or
    /// starts closing an idle connection.
    ///
    /// Calling it before the deadline, or repeatedly, is a harmless no-op.
    /// Afterwards drain [`poll_transmit`](Self::poll_transmit) and
    /// [`poll_event`](Self::poll_event) and read
    /// [`poll_timeout`](Self::poll_timeout) again.
    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in self.timers.expire(now).into_iter().flatten() {
            match timer {
                Timer::Keepalive => self.send_keepalive(now),
                Timer::PongDeadline => {
                    self.lifecycle.push(Lifecycle::KeepaliveTimedOut);
                    self.timed_out = true;
                    self.initiator.get_or_insert(Initiator::Local);
                    self.queue_close_frame(StoredClose::new(&CloseFrame {
                        code: CloseCode::INTERNAL_ERROR,
                        reason: "keepalive ping timeout",
                    }));
                    self.finish();
                }
                Timer::Close => {
                    self.timed_out = true;
                    self.finish();
                }
                Timer::Idle => {
                    if self.state == State::Open {
                        self.start_close(
                            now,
                            StoredClose::new(&CloseFrame {
                                code: CloseCode::GOING_AWAY,
                                reason: "idle timeout",
                            }),
                        );
                    }
                }
            }
        }
    }

    /// Reports that the peer closed its write half (read returned 0).
    ///
    /// Without a completed closing handshake this is an abnormal closure
    /// (1006). The connection becomes [`State::Closed`]; drain
    /// [`poll_transmit`](Self::poll_transmit) and
    /// [`poll_event`](Self::poll_event). Idempotent.
    pub fn receive_eof(&mut self, _now: Instant) {
        if self.state == State::Closed {
            return;
        }
        self.initiator.get_or_insert(Initiator::Transport);
        self.finish();
    }

    // ------------------------------------------------------------ lifecycle

    /// Records that bytes arrived: re-arms the keepalive and idle timers and
    /// clears the pong deadline (any frame proves the peer alive).
    fn note_activity(&mut self, now: Instant) {
        if self.state != State::Open {
            return;
        }
        if let Some(interval) = self.config.keepalive_interval {
            self.timers.set(Timer::Keepalive, now + interval);
            self.timers.stop(Timer::PongDeadline);
        }
        if let Some(idle) = self.config.idle_timeout {
            self.timers.set(Timer::Idle, now + idle);
        }
    }

    fn send_keepalive(&mut self, now: Instant) {
        if self.state != State::Open {
            return;
        }
        self.keepalive_count += 1;
        let payload = self.keepalive_count.to_be_bytes();
        // A full send buffer means the peer is not reading; the pong deadline
        // below still applies, so a stuck peer is found either way. The Ping
        // respects the watermark: otherwise one Ping per interval would pile
        // up behind a peer that does not read.
        let _ = self.send_control(crate::frame::OpCode::Ping, &payload, false);
        if self.timers.get(Timer::PongDeadline).is_none() {
            self.timers
                .set(Timer::PongDeadline, now + self.config.pong_timeout);
        }
        if let Some(interval) = self.config.keepalive_interval {
            self.timers.set(Timer::Keepalive, now + interval);
        }
    }

    /// Sends a Close frame (queued if the buffer is full), enters Closing and
    /// starts the closing-handshake timer.
    fn start_close(&mut self, now: Instant, frame: StoredClose) {
        self.initiator.get_or_insert(Initiator::Local);
        self.queue_close_frame(frame);
        self.enter_closing(now);
    }

    fn enter_closing(&mut self, now: Instant) {
        if self.state == State::Open {
            self.state = State::Closing;
        }
        self.timers.stop(Timer::Keepalive);
        self.timers.stop(Timer::PongDeadline);
        self.timers.stop(Timer::Idle);
        if self.timers.get(Timer::Close).is_none() {
            self.timers
                .set(Timer::Close, now + self.config.close_timeout);
        }
    }

    /// Fails the connection (RFC 6455 §7.1.7): sends the mapped close code,
    /// discards further input; a server then closes the transport at once, a
    /// client waits (bounded by the close timer) for the server to do so.
    pub(crate) fn fail(&mut self, now: Instant, err: ProtocolError) {
        if self.failure.is_some() || self.state == State::Closed {
            return;
        }
        self.failure = Some(err);
        self.recv.discarding = true;
        self.lifecycle.push(Lifecycle::Failed(err));
        self.initiator.get_or_insert(Initiator::Local);
        if self.close_sent.is_none() && self.pending_close.is_none() {
            self.queue_close_frame(StoredClose::new(&CloseFrame {
                code: CloseCode::from(err),
                reason: err.description(),
            }));
        }
        self.enter_closing(now);
        if self.role == Role::Server {
            self.finish();
        }
    }

    /// The peer's Close frame arrived: answer it if this end has not sent
    /// one, and finish the handshake on the server side (RFC 6455 §7.1.1:
    /// the server closes the TCP connection first).
    pub(crate) fn on_close_received(&mut self, now: Instant, frame: &CloseFrame<'_>) {
        self.close_received = Some(StoredClose::new(frame));
        self.initiator.get_or_insert(Initiator::Remote);
        self.recv.discarding = true;
        if self.close_sent.is_none() && self.pending_close.is_none() {
            // Echo the status code (RFC 6455 §5.5.1), without the reason.
            self.queue_close_frame(StoredClose::new(&CloseFrame {
                code: frame.code,
                reason: "",
            }));
        }
        self.enter_closing(now);
        if self.role == Role::Server {
            self.finish();
        }
    }

    /// Enters Closed: schedules the write-half shutdown and reports the
    /// outcome, exactly once.
    fn finish(&mut self) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        self.recv.discarding = true;
        self.timers.stop_all();
        if self.shutdown == Shutdown::No {
            self.shutdown = Shutdown::Pending;
        }
        let code = self
            .close_received
            .map_or(CloseCode::ABNORMAL_CLOSURE, |c| c.get().code);
        let sent = self.close_sent.or(self.pending_close.map(|c| c.get().code));
        self.lifecycle.push(Lifecycle::Closed(CloseOutcome {
            code,
            sent,
            initiator: self.initiator.unwrap_or(Initiator::Transport),
            clean: self.close_received.is_some() && sent.is_some(),
            error: self.failure,
            timed_out: self.timed_out,
        }));
    }

    /// The time budget of the closing handshake, for drivers that want to
    /// bound their final flush as well.
    pub fn close_timeout(&self) -> Duration {
        self.config.close_timeout
    }
}

impl<K, S: SendStorage> core::fmt::Debug for Connection<K, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("close_sent", &self.close_sent)
            .field("close_received", &self.close_received)
            .field("failure", &self.failure)
            .field("send_buffered", &self.send.pending_len())
            .finish_non_exhaustive()
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn check<T: Send + Sync>() {}
    #[cfg(feature = "std")]
    check::<Connection>();
}

// The scenario tests use `Vec` send storage; the no-alloc build is covered
// by the fixed-storage test in there when `alloc` is on, and by ci/nostd-check.
#[cfg(all(test, feature = "alloc"))]
mod tests;
