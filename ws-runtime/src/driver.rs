//! The connection driver: moves bytes between a [`Transport`] and a
//! [`ws_proto::Connection`], runs the core's timers, assembles messages.
//!
//! It is a set of `poll_*` functions over one struct, shared by the unsplit
//! [`WebSocket`](crate::WebSocket) (which calls them inline from the task
//! that awaits it) and the split [`Driver`](crate::Driver) task. No protocol
//! decision is made here: every frame goes through `ws-proto`.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::task::{Context, Poll};

use ws_proto::{
    CloseCode, CloseOutcome, DataKind, Event, Instant, Lifecycle, OsMaskKeys, RecvBuf, Role,
    SendError, SendStorage, StdClock, Transmit,
};

use crate::borrowed::{Lent, MessageRef, Replies};
use crate::config::WebSocketConfig;
use crate::error::Error;
use crate::message::{Assembler, CloseFrame, Message};
use crate::runtime::{Runtime, Timer};
use crate::transport::Transport;

/// Reads handled in one poll before yielding to the executor (quinn's
/// `MAX_TRANSMIT_DATAGRAMS`): a fast peer streaming a huge message cannot
/// monopolise a worker thread.
const MAX_READS_PER_POLL: usize = 32;

/// The receive buffer a connection gets with its first bytes; it grows to
/// the configured `read_buffer_size` on the first read that fills it. Until
/// bytes arrive a connection holds no receive buffer at all: reads go to a
/// scratch array on the stack of the poll call.
const INITIAL_READ_BUFFER: usize = 2048;

/// After a frame whose payload was read in place, the next read into the
/// receive buffer takes at most this much: enough for the next header and
/// the start of its payload, so that if the next frame is large too, little
/// of it is copied before the rest is read in place.
const HEADER_READ: usize = 1024;

/// Data messages at least this large are written from their own buffer,
/// after a header the core queues (`send_external`), with one vectored
/// write, instead of being copied into the send buffer first. Smaller ones
/// are copied: many of them then go out in one `write`.
const EXTERNAL_MIN: usize = 16 * 1024;

/// Something to send: a whole message, a frame encoded once for many
/// connections, or one fragment.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Message(Message),
    Prepared(std::sync::Arc<ws_proto::PreparedFrame>),
    Fragment {
        kind: DataKind,
        data: Vec<u8>,
        fin: bool,
    },
}

/// The protocol core as the driver holds it: OS-entropy mask keys and a
/// [`SendBuffer`].
pub type Connection = ws_proto::Connection<OsMaskKeys, SendBuffer>;

/// Send storage for the protocol core: a `Vec<u8>` that gives memory back.
///
/// A big message (16 MiB, say) passes through the send buffer whole; a
/// plain `Vec` would keep that capacity for the rest of the connection.
/// This one shrinks to [`SendBuffer::KEEP`] once everything has been
/// written, if it had grown past [`SendBuffer::SHRINK_ABOVE`].
#[derive(Debug, Default)]
pub struct SendBuffer(Vec<u8>);

impl SendBuffer {
    /// Capacity kept after a drain.
    pub const KEEP: usize = 64 * 1024;
    /// Capacity above which a drained buffer shrinks.
    pub const SHRINK_ABOVE: usize = 256 * 1024;

    /// The allocated capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl SendStorage for SendBuffer {
    #[inline]
    fn as_slice(&self) -> &[u8] {
        &self.0
    }

    #[inline]
    fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.0
    }

    #[inline]
    fn has_room(&self, _additional: usize) -> bool {
        true
    }

    #[inline]
    fn extend_from_slice(&mut self, data: &[u8]) {
        self.0.extend_from_slice(data);
    }

    #[inline]
    fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
        if len == 0 && self.0.capacity() > Self::SHRINK_ABOVE {
            self.0.shrink_to(Self::KEEP);
        }
    }
}

/// The driver state of one connection.
pub(crate) struct Core<T, R: Runtime> {
    pub(crate) io: T,
    rt: R,
    clock: StdClock,
    /// The latest clock reading: taken after every socket read, so that
    /// the messages parsed from one read share one clock read.
    now: Instant,
    /// The clock reading [`handle_due_timers`](Self::handle_due_timers)
    /// last checked the deadlines against.
    timers_checked: Option<Instant>,
    pub(crate) conn: Connection,
    /// The reused receive buffer, allocated on the first read.
    buf: Option<RecvBuf<Box<[u8]>>>,
    buf_size: usize,
    grow_buffer: bool,
    /// The last read finished a frame read in place: read little next.
    header_read_next: bool,
    assembler: Assembler,
    timer: Option<R::Timer>,
    /// The deadline the timer is set to.
    armed: Option<std::time::Instant>,
    /// The waker the timer was last polled with (it wakes that one).
    timer_waker: Option<std::task::Waker>,
    /// A bound on the final flush once the connection is closed, so that a
    /// peer that stopped reading cannot hold the connection forever.
    linger: Option<Instant>,
    linger_expired: bool,
    /// A bound on writing what was accepted before a requested close, so
    /// that a peer that stopped reading cannot hold the Close back forever.
    flush_deadline: Option<Instant>,
    flush_deadline_passed: bool,
    read_closed: bool,
    shutdown_pending: bool,
    needs_flush: bool,
    write_failed: bool,
    io_error: Option<io::Error>,
    keepalive_timed_out: bool,
    outcome: Option<CloseOutcome>,
    /// The final result has been reported; nothing more will happen.
    done: bool,
    /// Accepted outgoing items that did not fit the send buffer yet, in
    /// order: at most one from `start_send`, or the replies of one
    /// `recv_with` callback.
    held: VecDeque<Outgoing>,
    /// The payload of a large message whose header the core queued, and
    /// how much of it is written: it goes on the wire straight from here.
    external: Option<(Vec<u8>, usize)>,
    /// The subprotocol negotiated in the handshake.
    pub(crate) subprotocol: Option<String>,
    /// Queue capacity for [`split`](crate::WebSocket::split).
    pub(crate) channel_capacity: usize,
}

impl<T: Transport, R: Runtime> Core<T, R> {
    /// A driver for `io`, whose first received bytes (left over from the
    /// handshake) are `leftover`.
    pub(crate) fn new(io: T, role: Role, config: &WebSocketConfig, rt: R, leftover: &[u8]) -> Self {
        let clock = StdClock::with_epoch(rt.now());
        let now = clock.now_from(&rt);
        let conn = Connection::with_parts(
            role,
            config.protocol.clone(),
            now,
            OsMaskKeys::new(),
            SendBuffer::default(),
        );
        let mut core = Self {
            io,
            rt,
            clock,
            now,
            timers_checked: None,
            conn,
            buf: None,
            buf_size: config.read_buffer_size,
            grow_buffer: false,
            header_read_next: false,
            assembler: Assembler::default(),
            timer: None,
            armed: None,
            timer_waker: None,
            linger: None,
            linger_expired: false,
            flush_deadline: None,
            flush_deadline_passed: false,
            read_closed: false,
            shutdown_pending: false,
            needs_flush: false,
            write_failed: false,
            io_error: None,
            keepalive_timed_out: false,
            outcome: None,
            done: false,
            held: VecDeque::new(),
            external: None,
            subprotocol: None,
            channel_capacity: config.channel_capacity,
        };
        let mut rest = leftover;
        while !rest.is_empty() {
            // Leftovers are at most one HTTP head's worth; grow the buffer
            // once if they exceed it.
            let size = core.buf_size.max(rest.len());
            let buf = core.buf.get_or_insert_with(|| RecvBuf::with_capacity(size));
            let n = buf.extend_from_slice(rest);
            rest = &rest[n..];
            if n == 0 {
                break;
            }
        }
        core
    }

    /// Reads the clock (and remembers the reading for [`next_received`]).
    fn now(&mut self) -> Instant {
        self.now = self.now.max(self.clock.now_from(&self.rt));
        self.now
    }

    // ------------------------------------------------------------ output

    /// Writes everything the connection has to send (coalesced: the core's
    /// buffer holds every queued frame back to back, so one `write` carries
    /// them all), then flushes the transport. `Ready` when nothing is left
    /// or the transport failed.
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.write_failed {
            return Poll::Ready(());
        }
        loop {
            if self.shutdown_pending {
                match self.io.poll_shutdown(cx) {
                    Poll::Pending => return Poll::Pending,
                    // The peer may be gone already; the connection is over
                    // either way.
                    Poll::Ready(_) => self.shutdown_pending = false,
                }
                continue;
            }
            let owed = self.conn.payload_owed();
            // (bytes written, how many of them came from `poll_transmit`)
            let poll = match self.conn.poll_transmit() {
                Some(Transmit::Bytes(bytes)) => {
                    let len = bytes.len();
                    // An owed external payload goes right after these
                    // bytes: in the same vectored write.
                    let poll = match &self.external {
                        Some((payload, written)) if owed > 0 => self.io.poll_write_vectored(
                            cx,
                            &[IoSlice::new(bytes), IoSlice::new(&payload[*written..])],
                        ),
                        _ => self.io.poll_write(cx, bytes),
                    };
                    poll.map_ok(|n| (n, n.min(len)))
                }
                Some(Transmit::Shutdown) => {
                    // After a transport error (typically a reset) there is
                    // no one to send a FIN to: skip the system call.
                    self.shutdown_pending = self.io_error.is_none();
                    continue;
                }
                None => match &self.external {
                    Some((payload, written)) if owed > 0 => self
                        .io
                        .poll_write(cx, &payload[*written..])
                        .map_ok(|n| (n, 0)),
                    _ => break,
                },
            };
            match poll {
                Poll::Ready(Ok((0, _))) => {
                    self.fail_transport(io::ErrorKind::WriteZero.into());
                    return Poll::Ready(());
                }
                Poll::Ready(Ok((n, transmitted))) => {
                    self.conn.consume_transmit(transmitted);
                    if n > transmitted {
                        self.payload_written(n - transmitted);
                    }
                    self.needs_flush = true;
                }
                Poll::Ready(Err(err)) => {
                    self.fail_transport(err);
                    return Poll::Ready(());
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.needs_flush {
            match self.io.poll_flush(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(err)) => self.fail_transport(err),
            }
        }
        Poll::Ready(())
    }

    /// Reports `n` bytes of the external payload as written; drops the
    /// payload once all of it is.
    fn payload_written(&mut self, n: usize) {
        self.conn.consume_payload(n);
        if let Some((payload, written)) = &mut self.external {
            *written += n;
            if *written >= payload.len() {
                self.external = None;
            }
        }
    }

    /// The transport broke: nothing more can be written or read. The core
    /// sees it as the end of the stream (1006).
    fn fail_transport(&mut self, err: io::Error) {
        self.write_failed = true;
        self.read_closed = true;
        self.shutdown_pending = false;
        if self.io_error.is_none() {
            self.io_error = Some(err);
        }
        let now = self.now();
        self.conn.receive_eof(now);
        self.drain_lifecycle();
    }

    fn drain_lifecycle(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            match event {
                Lifecycle::KeepaliveTimedOut => self.keepalive_timed_out = true,
                Lifecycle::Closed(outcome) => self.outcome = Some(outcome),
                // Reported with the final outcome, which carries the error.
                Lifecycle::Failed(_) => {}
            }
        }
    }

    // ------------------------------------------------------------ timers

    /// Waits for the earliest deadline (the core's, or the final-flush
    /// bound) and runs it. Returns whether something fired.
    pub(crate) fn poll_timers(&mut self, cx: &mut Context<'_>) -> bool {
        let linger = self.linger.filter(|_| !self.linger_expired);
        let flush = self.flush_deadline.filter(|_| !self.flush_deadline_passed);
        let deadline = [self.conn.poll_timeout(), linger, flush]
            .into_iter()
            .flatten()
            .min();
        let Some(deadline) = deadline else {
            return false;
        };
        let at = self.clock.to_std(deadline);
        // A timer armed at or before `at` stays where it is: the keepalive
        // and idle deadlines move later with every read, and moving a timer
        // costs a timer-wheel update, so it is left to fire early and then
        // re-armed below.
        if let (Some(timer), Some(armed)) = (&mut self.timer, self.armed)
            && armed <= at
        {
            // Its instant has not come, and the last poll registered this
            // task's waker: it is still armed to wake this task, and a clock
            // read is all it takes to know. Polling it again would cost more
            // per batch of messages (a tokio `Sleep` re-registers the waker
            // and spends a unit of the task's budget on every poll).
            let std_now = self.rt.now();
            self.now = self.now.max(self.clock.instant(std_now));
            if std_now < armed
                && self
                    .timer_waker
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
            {
                return false;
            }
            if timer.poll_elapsed(cx).is_pending() {
                remember_waker(&mut self.timer_waker, cx);
                return false;
            }
            self.armed = None;
        }
        let now = self.now();
        if now < deadline {
            let timer = match &mut self.timer {
                Some(timer) => {
                    timer.reset(at);
                    timer
                }
                None => self.timer.insert(self.rt.timer(at)),
            };
            self.armed = Some(at);
            if timer.poll_elapsed(cx).is_pending() {
                remember_waker(&mut self.timer_waker, cx);
                return false;
            }
            self.armed = None;
        }
        // The timer may round; it fired, so the deadline has come.
        let now = now.max(deadline);
        self.conn.handle_timeout(now);
        if linger.is_some_and(|linger| linger <= now) {
            self.linger_expired = true;
        }
        if flush.is_some_and(|flush| flush <= now) {
            self.flush_deadline_passed = true;
        }
        self.drain_lifecycle();
        true
    }

    /// Runs the core's timers whose deadline has passed by the latest
    /// clock reading (taken after every socket read: a peer that keeps the
    /// socket busy keeps it fresh), without waiting. Deadlines that pass
    /// while the socket is quiet are the timer's job ([`poll_timers`](Self::poll_timers)).
    ///
    /// Deadlines set since the last check lie in the future of that
    /// reading, so until the clock is read again (after the next socket
    /// read) there is nothing new to check: once per read, not per message.
    fn handle_due_timers(&mut self) {
        if self.timers_checked == Some(self.now) {
            return;
        }
        self.timers_checked = Some(self.now);
        if let Some(deadline) = self.conn.poll_timeout() {
            let now = self.now;
            if now >= deadline {
                self.conn.handle_timeout(now);
                self.drain_lifecycle();
            }
        }
    }

    // ------------------------------------------------------------ input

    /// The next message from what has been read, owned ([`next_received`]).
    fn parse_buffered(&mut self) -> Option<Message> {
        if let Some(message) = self.assembler.take_done() {
            return Some(message);
        }
        let Self {
            conn,
            buf,
            assembler,
            now,
            ..
        } = self;
        next_received(
            conn,
            buf.as_mut()?,
            assembler,
            *now,
            |received, _, assembler| match received {
                Received::Here(message) => message.to_owned(),
                Received::Assembled(kind) => assembler.take_finished(kind),
            },
        )
    }

    /// The receive loop: the next message, `Some(Err)` once if the
    /// connection ended abnormally, then `None` forever.
    ///
    /// Before it blocks on the socket it writes what the core queued
    /// (automatic Pongs, the Close echo, data fed without a flush), so those
    /// go out even if the application only ever reads.
    pub(crate) fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        self.poll_receive_loop(cx, Self::parse_buffered)
    }

    /// The receive loop of [`WebSocket::recv_with`](crate::WebSocket::recv_with):
    /// calls `f` for every message already received, borrowed, with a
    /// [`Replies`] handle, and returns how many; if none is buffered, runs
    /// the receive loop (write, read, timers) until one arrives. Replies
    /// held for lack of room are written before another message is read.
    pub(crate) fn poll_recv_with<F>(
        &mut self,
        cx: &mut Context<'_>,
        f: &mut F,
    ) -> Poll<Option<Result<usize, Error>>>
    where
        F: FnMut(MessageRef<'_>, &mut Replies<'_>),
    {
        // On a write failure `poll_ready` is ready (with the error) and the
        // receive loop below reports the end.
        if !self.held.is_empty() && !self.done && self.poll_ready(cx).is_pending() {
            // Not reading (backpressure), but the timers still run.
            while self.poll_timers(cx) {
                let _ = self.poll_write_out(cx);
            }
            return Poll::Pending;
        }
        let mut handled = 0;
        loop {
            while self.held.is_empty() && !self.done && self.parse_with(f) {
                handled += 1;
            }
            if handled > 0 {
                return Poll::Ready(Some(Ok(handled)));
            }
            // Nothing buffered: write, read and run the timers until one
            // message comes, then take whatever else that read brought.
            match std::task::ready!(
                self.poll_receive_loop(cx, |core| core.parse_with(f).then_some(()))
            ) {
                Some(Ok(())) => handled = 1,
                Some(Err(err)) => return Poll::Ready(Some(Err(err))),
                None => return Poll::Ready(None),
            }
        }
    }

    /// Feeds buffered bytes to the core until one message or control frame
    /// comes out and hands it to `f`, borrowed; `false` if none did.
    fn parse_with<F>(&mut self, f: &mut F) -> bool
    where
        F: FnMut(MessageRef<'_>, &mut Replies<'_>),
    {
        if let Some(message) = self.assembler.take_done() {
            let mut replies = Replies {
                conn: &mut self.conn,
                held: &mut self.held,
                lent: Lent::of(&message),
            };
            f(MessageRef::from_message(&message), &mut replies);
            // Echoed: the message itself takes its placeholder's place.
            if let Some(at) = replies.lent.and_then(|lent| lent.at)
                && let Some(slot) = self.held.get_mut(at)
            {
                *slot = Outgoing::Message(message);
            }
            return true;
        }
        let Self {
            conn,
            buf,
            assembler,
            held,
            now,
            ..
        } = self;
        let Some(buf) = buf.as_mut() else {
            return false;
        };
        next_received(conn, buf, assembler, *now, |received, conn, assembler| {
            let mut replies = Replies {
                conn,
                held,
                lent: None,
            };
            match received {
                Received::Here(message) => f(message, &mut replies),
                Received::Assembled(kind) => {
                    f(MessageRef::data(kind, assembler.finished()), &mut replies);
                    assembler.clear_finished();
                }
            }
        })
        .is_some()
    }

    /// The receive loop shared by `poll_recv` and `poll_recv_with`: `next`
    /// takes the next item from what has been read; when there is none,
    /// writes what is queued, reads, and runs the timers.
    fn poll_receive_loop<M>(
        &mut self,
        cx: &mut Context<'_>,
        mut next: impl FnMut(&mut Self) -> Option<M>,
    ) -> Poll<Option<Result<M, Error>>> {
        let mut reads = 0;
        // Deadlines that passed while the socket kept us busy (a peer that
        // floods data never lets the read below return `Pending`).
        self.handle_due_timers();
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            if let Some(message) = next(self) {
                return Poll::Ready(Some(Ok(message)));
            }
            self.drain_lifecycle();
            let flushed = self.poll_write_out(cx).is_ready();
            if self.conn.is_closed() {
                if !flushed && !self.linger_expired {
                    if self.linger.is_none() {
                        self.linger = Some(self.now() + self.conn.close_timeout());
                    }
                    if self.poll_timers(cx) {
                        continue;
                    }
                    return Poll::Pending;
                }
                self.done = true;
                self.held.clear();
                return Poll::Ready(self.final_error().map(Err));
            }
            if reads >= MAX_READS_PER_POLL {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if !self.read_closed {
                match self.poll_read_input(cx) {
                    Poll::Ready(Ok(0)) => {
                        self.read_closed = true;
                        let now = self.now();
                        self.conn.receive_eof(now);
                        continue;
                    }
                    Poll::Ready(Ok(_)) => {
                        reads += 1;
                        self.now();
                        continue;
                    }
                    Poll::Ready(Err(err)) => {
                        self.read_closed = true;
                        if self.io_error.is_none() {
                            self.io_error = Some(err);
                        }
                        let now = self.now();
                        self.conn.receive_eof(now);
                        continue;
                    }
                    Poll::Pending => {}
                }
            }
            if self.poll_timers(cx) {
                continue;
            }
            return Poll::Pending;
        }
    }

    /// Reads from the transport: the rest of a large frame straight into
    /// the message buffer when the transport can ([`poll_read_in_place`](Self::poll_read_in_place)),
    /// anything else into the receive buffer.
    fn poll_read_input(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if let Some(poll) = self.poll_read_in_place(cx) {
            return poll;
        }
        self.poll_read_buffer(cx)
    }

    /// Reads payload of the data frame under way into the message buffer
    /// and hands it to the core with `receive_in_place` (unmasked and
    /// validated there), when the receive buffer is empty and more of the
    /// frame is to come than the receive buffer holds: reading it through
    /// the receive buffer would take as many reads and copy every byte
    /// once more. `None` when that does not apply or the transport cannot
    /// read into uninitialised memory.
    fn poll_read_in_place(&mut self, cx: &mut Context<'_>) -> Option<Poll<io::Result<usize>>> {
        if self.buf.as_ref().is_some_and(|buf| !buf.is_empty()) {
            return None;
        }
        let remaining = self.conn.frame_remaining()?;
        if remaining < self.buf_size as u64 {
            return None;
        }
        let (vec, room) = self.assembler.spare(remaining);
        let start = vec.len();
        let n = match self.io.poll_read_spare(cx, vec, room)? {
            Poll::Ready(Ok(n)) => n,
            other => return Some(other),
        };
        debug_assert!(n as u64 <= remaining, "the transport read past its limit");
        if n > 0 {
            let now = self.now();
            let Self {
                conn, assembler, ..
            } = self;
            let vec = assembler.buffer();
            let end = (start + n).min(vec.len());
            match conn.receive_in_place(now, &mut vec[start..end]) {
                Some(Event::Data {
                    kind,
                    end_of_frame,
                    end_of_message,
                    ..
                }) => {
                    assembler.appended(kind, end_of_message);
                    self.header_read_next = end_of_frame;
                }
                // Invalid bytes: the core has failed the connection.
                _ => assembler.discard(),
            }
        }
        Some(Poll::Ready(Ok(n)))
    }

    /// Reads from the transport into the receive buffer. A connection that
    /// has not received anything yet has no buffer: it reads into a scratch
    /// array on the stack and allocates the buffer only if bytes came, so an
    /// idle connection costs no receive buffer.
    fn poll_read_buffer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.is_none() {
            let mut scratch = [0u8; INITIAL_READ_BUFFER];
            let len = scratch.len().min(self.buf_size);
            let n = std::task::ready!(self.io.poll_read(cx, &mut scratch[..len]))?;
            if n > 0 {
                let buf = read_buffer(&mut self.buf, &mut self.grow_buffer, self.buf_size);
                buf.extend_from_slice(&scratch[..n]);
                // A full read: this connection is busy, give it the
                // configured size before the next read.
                self.grow_buffer |= n == len;
            }
            return Poll::Ready(Ok(n));
        }
        let buf = read_buffer(&mut self.buf, &mut self.grow_buffer, self.buf_size);
        let spare = buf.spare_mut();
        let spare = if std::mem::take(&mut self.header_read_next) {
            let len = spare.len().min(HEADER_READ);
            &mut spare[..len]
        } else {
            spare
        };
        let spare_len = spare.len();
        let n = std::task::ready!(self.io.poll_read(cx, spare))?;
        buf.commit(n);
        // A full read on the small first buffer: this connection is busy,
        // give it the configured size.
        self.grow_buffer |= n == spare_len;
        Poll::Ready(Ok(n))
    }

    /// How the connection ended, as the last item of the receive loop:
    /// `None` for a completed closing handshake.
    fn final_error(&mut self) -> Option<Error> {
        let outcome = self.outcome?;
        if outcome.clean {
            return None;
        }
        if let Some(err) = outcome.error {
            return Some(Error::Protocol(err));
        }
        if self.keepalive_timed_out {
            return Some(Error::KeepaliveTimeout);
        }
        if let Some(err) = self.io_error.take() {
            return Some(Error::Io(err));
        }
        Some(self.closed_error())
    }

    /// [`Error::ConnectionClosed`] from the core's view of the ending.
    pub(crate) fn closed_error(&mut self) -> Error {
        self.drain_lifecycle();
        let (code, clean, initiator) = match self.outcome {
            Some(o) => (o.code, o.clean, o.initiator),
            None => (
                self.conn
                    .close_frame()
                    .map_or(CloseCode::ABNORMAL_CLOSURE, |f| f.code),
                false,
                ws_proto::Initiator::Local,
            ),
        };
        Error::ConnectionClosed {
            code,
            reason: self
                .conn
                .close_frame()
                .map(|f| f.reason.to_owned())
                .unwrap_or_default(),
            clean,
            initiator,
        }
    }

    /// Whether the receive loop has reported its last item.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// The peer's Close frame, if one arrived.
    pub(crate) fn peer_close_frame(&self) -> Option<CloseFrame> {
        self.conn.close_frame().map(CloseFrame::from)
    }

    // ------------------------------------------------------------ commands

    fn send_error(&mut self, err: SendError) -> Error {
        if self.write_failed || (err == SendError::InvalidState && self.conn.is_closed()) {
            if let Some(io) = self.io_error.take() {
                return Error::Io(io);
            }
            return self.closed_error();
        }
        Error::Send(err)
    }

    /// Hands `out` to the core: a large data message as an external
    /// payload (only its header is queued; the payload is written from
    /// here), anything else encoded into the send buffer. On failure the
    /// item comes back with the error.
    fn encode(&mut self, out: Outgoing) -> Result<(), (SendError, Outgoing)> {
        let out = match out {
            Outgoing::Message(message @ (Message::Text(_) | Message::Binary(_)))
                if message.len() >= EXTERNAL_MIN =>
            {
                let kind = if message.is_text() {
                    DataKind::Text
                } else {
                    DataKind::Binary
                };
                match self.conn.send_external(kind, message.len()) {
                    Ok(true) => {
                        self.external = Some((message.into_data(), 0));
                        return Ok(());
                    }
                    // A client, or a message to compress: copy it.
                    Ok(false) => Outgoing::Message(message),
                    Err(err) => return Err((err, Outgoing::Message(message))),
                }
            }
            other => other,
        };
        self.try_encode(&out).map_err(|err| (err, out))
    }

    fn try_encode(&mut self, out: &Outgoing) -> Result<(), SendError> {
        let conn = &mut self.conn;
        match out {
            Outgoing::Message(Message::Text(text)) => conn.send_text(text),
            Outgoing::Message(Message::Binary(data)) => conn.send_binary(data),
            Outgoing::Message(Message::Ping(data)) => conn.send_ping(data),
            Outgoing::Message(Message::Pong(data)) => conn.send_pong(data),
            Outgoing::Message(Message::Close(frame)) => {
                let now = self.clock.now_from(&self.rt);
                match frame {
                    Some(frame) => conn.close(now, frame.code, &frame.reason),
                    None => conn.close(now, CloseCode::NORMAL, ""),
                }
            }
            Outgoing::Prepared(frame) => conn.send_prepared(frame),
            Outgoing::Fragment { kind, data, fin } => conn.send_fragment(*kind, data, *fin),
        }
    }

    /// `Ready(Ok)` when another item can be accepted: the item held back
    /// for lack of room has been encoded. Writes to make room.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            if self.write_failed {
                self.held.clear();
                return Poll::Ready(Err(self.send_error(SendError::InvalidState)));
            }
            let Some(out) = self.held.pop_front() else {
                return Poll::Ready(Ok(()));
            };
            match self.encode(out) {
                Ok(()) => {}
                Err((SendError::BufferFull { .. }, out)) => {
                    let empty_before = self.conn.send_buffered() == 0;
                    self.held.push_front(out);
                    if empty_before {
                        // Cannot happen with growable storage; do not spin.
                        self.held.clear();
                        return Poll::Ready(Err(Error::Send(SendError::BufferFull { needed: 0 })));
                    }
                    if self.poll_write_out(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
                Err((err, _)) => return Poll::Ready(Err(self.send_error(err))),
            }
        }
    }

    /// Accepts an item; call after [`poll_ready`](Self::poll_ready) said
    /// `Ready(Ok)`. Encodes it into the core's send buffer now, or holds it
    /// until there is room (at most one item is held).
    pub(crate) fn start_send(&mut self, out: Outgoing) -> Result<(), Error> {
        if self.done {
            return Err(self.send_error(SendError::InvalidState));
        }
        debug_assert!(self.held.is_empty(), "start_send without poll_ready");
        match self.encode(out) {
            Ok(()) => Ok(()),
            Err((SendError::BufferFull { .. }, out)) if self.held.is_empty() => {
                self.held.push_back(out);
                Ok(())
            }
            Err((err, _)) => Err(self.send_error(err)),
        }
    }

    /// Encodes everything accepted and writes it all to the transport.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        std::task::ready!(self.poll_ready(cx))?;
        std::task::ready!(self.poll_write_out(cx));
        if self.write_failed {
            return Poll::Ready(Err(self.send_error(SendError::InvalidState)));
        }
        Poll::Ready(Ok(()))
    }

    /// Starts the closing handshake with `frame` unless closing has begun.
    pub(crate) fn start_close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        if !self.conn.is_open() || self.done {
            return Ok(());
        }
        self.start_send(Outgoing::Message(Message::Close(frame)))
    }

    /// Whether the item held for lack of room is still waiting.
    pub(crate) fn has_queued(&self) -> bool {
        !self.held.is_empty()
    }

    /// Gives up on the held item (see [`poll_flush_deadline`](Self::poll_flush_deadline)).
    pub(crate) fn drop_queued(&mut self) {
        self.held.clear();
    }

    /// Arms (on the first call) and polls the bound on flushing before a
    /// requested close: the close timeout. `true` once it has passed.
    pub(crate) fn poll_flush_deadline(&mut self, cx: &mut Context<'_>) -> bool {
        if self.flush_deadline.is_none() {
            self.flush_deadline = Some(self.now() + self.conn.close_timeout());
        }
        while !self.flush_deadline_passed && self.poll_timers(cx) {}
        self.flush_deadline_passed
    }

    /// Closes with `frame` (taken on first use; `None` means 1000) and
    /// drives the closing handshake to its end, discarding data that still
    /// arrives: `Ok` when it completed cleanly.
    ///
    /// An item accepted earlier and still held for lack of room is written
    /// first, unless the peer stops reading: after the close timeout it is
    /// dropped and the Close frame goes into the buffer anyway (the close
    /// timer and the final-flush bound then end the connection).
    pub(crate) fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        frame: &mut Option<CloseFrame>,
    ) -> Poll<Result<(), Error>> {
        if self.conn.is_open() && !self.done {
            if !self.held.is_empty() {
                match self.poll_ready(cx) {
                    Poll::Ready(result) => result?,
                    Poll::Pending => {
                        if !self.poll_flush_deadline(cx) {
                            return Poll::Pending;
                        }
                        self.held.clear();
                    }
                }
            }
            // A Close frame always fits: control frames this end must send
            // ignore the watermark.
            self.start_close(frame.take())?;
        }
        loop {
            match std::task::ready!(self.poll_recv(cx)) {
                Some(Ok(_)) => {}
                Some(Err(err)) => return Poll::Ready(Err(err)),
                None => return Poll::Ready(Ok(())),
            }
        }
    }

    /// Bytes accepted for sending and not yet written: the core's send
    /// buffer (bounded by the watermark plus one frame) plus a held item.
    pub(crate) fn buffered_amount(&self) -> usize {
        self.conn.send_buffered() + self.held.iter().map(Outgoing::len).sum::<usize>()
    }

    pub(crate) fn runtime(&self) -> &R {
        &self.rt
    }
}

impl Outgoing {
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Message(message) => message.len(),
            Self::Prepared(frame) => frame.as_bytes().len(),
            Self::Fragment { data, .. } => data.len(),
        }
    }
}

/// A message or control frame as [`next_received`] found it.
enum Received<'b> {
    /// Whole where it lies in the receive buffer.
    Here(MessageRef<'b>),
    /// A data message of this kind, complete in the assembler's buffer.
    Assembled(DataKind),
}

/// Feeds buffered bytes to the core until a whole message or a control
/// frame comes out, and hands it to `use_it` (with the connection and the
/// assembler, which it may need): the one parsing step of both receive
/// loops (`recv` makes the message owned, `recv_with` lends it). A message
/// delivered in one chunk stays where it is; one in several chunks is
/// joined in `assembler`. `None` if no message is complete.
///
/// The time given to the core is that of the latest clock reading, taken
/// right after the read that brought the bytes: precise enough for its
/// timers, and one `clock_gettime` per read instead of per message.
fn next_received<T>(
    conn: &mut Connection,
    buf: &mut RecvBuf<Box<[u8]>>,
    assembler: &mut Assembler,
    now: Instant,
    use_it: impl FnOnce(Received<'_>, &mut Connection, &mut Assembler) -> T,
) -> Option<T> {
    while let Some(event) = conn.receive(now, buf) {
        let received = match event {
            Event::Data {
                kind,
                payload,
                end_of_message,
                ..
            } => {
                if let Some(kind) = assembler.whole_chunk(kind, end_of_message) {
                    Received::Here(MessageRef::data(kind, payload))
                } else {
                    let remaining = conn.frame_remaining();
                    match assembler.push_keep(kind, payload, end_of_message, remaining) {
                        Some(kind) => Received::Assembled(kind),
                        None => continue,
                    }
                }
            }
            Event::Ping(payload) => Received::Here(MessageRef::Ping(payload)),
            Event::Pong(payload) => Received::Here(MessageRef::Pong(payload)),
            Event::CloseReceived(frame) => Received::Here(MessageRef::Close(
                (frame.code != CloseCode::NO_STATUS_RCVD).then_some(frame),
            )),
        };
        return Some(use_it(received, conn, assembler));
    }
    None
}

/// Keeps a clone of `cx`'s waker in `slot` unless it already holds one
/// that wakes the same task.
fn remember_waker(slot: &mut Option<std::task::Waker>, cx: &Context<'_>) {
    if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
        *slot = Some(cx.waker().clone());
    }
}

/// The receive buffer to read into: small ([`INITIAL_READ_BUFFER`]) at
/// first, so that idle connections stay cheap, and `full` bytes once a read
/// filled the small one (`grow`).
fn read_buffer<'a>(
    buf: &'a mut Option<RecvBuf<Box<[u8]>>>,
    grow: &mut bool,
    full: usize,
) -> &'a mut RecvBuf<Box<[u8]>> {
    if std::mem::take(grow)
        && let Some(old) = buf.take_if(|b| b.capacity() < full)
    {
        let mut new = RecvBuf::with_capacity(full);
        // After a receive loop, at most a frame header and a control frame
        // are left: they fit.
        new.extend_from_slice(old.filled());
        *buf = Some(new);
    }
    buf.get_or_insert_with(|| RecvBuf::with_capacity(full.min(INITIAL_READ_BUFFER)))
}

/// Reads a runtime's clock on the connection's scale.
trait ClockExt {
    fn now_from<R: Runtime>(&self, rt: &R) -> Instant;
}

impl ClockExt for StdClock {
    fn now_from<R: Runtime>(&self, rt: &R) -> Instant {
        self.instant(rt.now())
    }
}

impl<T, R: Runtime> std::fmt::Debug for Core<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("conn", &self.conn)
            .field("read_closed", &self.read_closed)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
