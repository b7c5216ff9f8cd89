//! Owned read and write halves, and the driver task between them.
//!
//! # Design
//!
//! [`WebSocket::split`](crate::WebSocket::split) moves the transport and
//! the protocol core into a [`Driver`] future, spawned on the runtime
//! (quinn's `ConnectionDriver`). The halves talk to it over two bounded
//! `futures-channel` queues, whose common path is lock-free (an atomic
//! counter, an intrusive MPSC queue and an `AtomicWaker`):
//!
//! ```text
//!   ReadHalf ◄── messages (bounded) ──┐        ┌── Driver task ─────────────┐
//!                                     └────────┤ socket ⇄ ws_proto::Connection│
//!   WriteHalf ── outgoing (bounded) ──────────►│ timers, auto Pong, Close echo│
//!                                              └─────────────────────────────┘
//! ```
//!
//! - **Automatic replies need no half to be polled**: the driver reads the
//!   socket on its own, so Pongs and the Close echo go out whether the
//!   application reads, writes, both or neither.
//! - **Read backpressure**: when the reader falls `channel_capacity`
//!   messages behind, the driver stops reading the socket, and TCP flow
//!   control pushes back on the peer. (Timers keep running: a keepalive
//!   Ping whose Pong sits unread in the socket then times out.)
//! - **Write backpressure**: the driver takes an outgoing message only while
//!   the core's send buffer is below its watermark; otherwise the queue
//!   fills and [`WriteHalf::send`] waits.
//! - **End**: when the connection is over, the reader gets the same final
//!   items as [`WebSocket::recv`](crate::WebSocket::recv) (`None` after a
//!   clean close, else one `Err`), and the writer gets
//!   [`Error::ConnectionClosed`]. Dropping both halves closes the
//!   connection with 1000 and lets the driver finish the handshake (the
//!   reader holds a silent sender of the outgoing queue, so the queue's end
//!   wakes the driver exactly when the last half goes).
//! - **Close**: [`WriteHalf::close`] does not queue behind the messages; it
//!   sets a close request in the shared state and wakes the driver, which
//!   sends the Close after the messages already handed over, or after the
//!   close timeout if the peer is not reading them (they are then
//!   dropped). The close timer and a final-flush bound end the connection
//!   even if the Close frame itself cannot be written.
//! - **Locks**: none. The shared state is two atomics, two `OnceLock`s
//!   written once at the end, and an `AtomicWaker`.
//!
//! # Cancel safety
//!
//! [`ReadHalf::recv`] is cancel-safe (a message is returned or stays
//! queued). [`WriteHalf::send`] dropped while waiting for queue room sends
//! nothing; once it returned, the driver owns the message.
//! [`WriteHalf::close`] does not wait. The driver itself must not be
//! dropped while the halves are in use: dropping it drops the connection
//! (the peer sees 1006) and the halves report the end.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use futures_channel::mpsc;
use futures_core::Stream;
use futures_sink::Sink;
use ws_proto::{CloseCode, DataKind, Initiator, SendError};

use crate::driver::{Core, Outgoing};
use crate::error::Error;
use crate::message::{CloseFrame, Message};
use crate::runtime::Runtime;
use crate::transport::Transport;

/// Messages the driver handles per wake-up before yielding.
const MAX_ITEMS_PER_POLL: usize = 64;

/// How the connection ended, for the writer's errors.
#[derive(Debug, Clone)]
struct Ended {
    code: CloseCode,
    reason: String,
    clean: bool,
    initiator: Initiator,
}

/// State shared by the driver and the halves.
#[derive(Debug)]
struct Shared {
    /// Data can still be sent (no Close sent or received, no close
    /// requested).
    open: AtomicBool,
    ended: OnceLock<Ended>,
    /// [`WriteHalf::close`] was called: the frame to close with. It
    /// bypasses the outgoing queue, so a peer that stopped reading cannot
    /// hold it back beyond the close timeout.
    close_request: OnceLock<CloseFrame>,
    /// Wakes the driver for a close request.
    driver: atomic_waker::AtomicWaker,
}

impl Shared {
    fn closed_error(&self) -> Error {
        match self.ended.get() {
            Some(ended) => Error::ConnectionClosed {
                code: ended.code,
                reason: ended.reason.clone(),
                clean: ended.clean,
                initiator: ended.initiator,
            },
            None => Error::Send(SendError::InvalidState),
        }
    }
}

pub(crate) fn split<T: Transport, R: Runtime>(
    core: Core<T, R>,
) -> (ReadHalf, WriteHalf, Driver<T, R>) {
    // futures-channel adds one slot per sender to `buffer`.
    let capacity = core.channel_capacity.saturating_sub(1);
    let (to_reader, from_driver) = mpsc::channel(capacity);
    let (to_driver, from_writer) = mpsc::channel(capacity);
    let shared = Arc::new(Shared {
        open: AtomicBool::new(core.conn.is_open()),
        ended: OnceLock::new(),
        close_request: OnceLock::new(),
        driver: atomic_waker::AtomicWaker::new(),
    });
    let subprotocol = core.subprotocol.clone();
    let role = core.conn.role();
    let driver = Driver {
        core,
        to_reader,
        pending_in: None,
        from_writer,
        halves_gone: false,
        cannot_send: false,
        reader_gone: false,
        writer_idle: false,
        close_started: false,
        queue_closed: false,
        shared: shared.clone(),
        finished: false,
    };
    let read = ReadHalf {
        rx: from_driver,
        _alive: to_driver.clone(),
        shared: shared.clone(),
        aborted: false,
        subprotocol: subprotocol.clone(),
    };
    let write = WriteHalf {
        tx: to_driver,
        shared,
        subprotocol,
        role,
    };
    (read, write, driver)
}

/// The receiving half of a split [`WebSocket`](crate::WebSocket).
///
/// It yields what [`WebSocket::recv`](crate::WebSocket::recv) would:
/// messages, then `None` after a clean close or one `Err` item.
pub struct ReadHalf {
    rx: mpsc::Receiver<Result<Message, Error>>,
    /// Never used to send: the outgoing queue reports its end (waking the
    /// driver) only once the writer *and* the reader are dropped.
    _alive: mpsc::Sender<Outgoing>,
    shared: Arc<Shared>,
    /// The driver vanished without finishing and that was reported.
    aborted: bool,
    subprotocol: Option<String>,
}

impl ReadHalf {
    /// Receives the next message. Cancel-safe: a message is either
    /// returned or stays queued.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        match Pin::new(&mut self.rx).poll_next(cx) {
            // The driver was dropped before the connection ended (its task
            // was cancelled, the runtime shut down): an abnormal end.
            Poll::Ready(None) if self.shared.ended.get().is_none() && !self.aborted => {
                self.aborted = true;
                Poll::Ready(Some(Err(Error::ConnectionClosed {
                    code: CloseCode::ABNORMAL_CLOSURE,
                    reason: String::new(),
                    clean: false,
                    initiator: Initiator::Local,
                })))
            }
            other => other,
        }
    }

    /// The subprotocol agreed in the opening handshake, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }
}

impl Stream for ReadHalf {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

impl std::fmt::Debug for ReadHalf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

/// The sending half of a split [`WebSocket`](crate::WebSocket). Cloneable:
/// every clone feeds the same connection, in the order the driver receives
/// their messages.
#[derive(Clone)]
pub struct WriteHalf {
    tx: mpsc::Sender<Outgoing>,
    shared: Arc<Shared>,
    subprotocol: Option<String>,
    role: ws_proto::Role,
}

impl WriteHalf {
    /// Hands a message to the driver, waiting while the outgoing queue is
    /// full (the driver takes messages only while the send buffer is under
    /// its watermark). It returns once the driver has the message; the
    /// driver writes it as soon as the socket accepts it.
    ///
    /// Cancel-safe in the sense that a dropped future never sends half a
    /// message: dropped while waiting, the message is not sent.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.send_outgoing(Outgoing::Message(message)).await
    }

    /// Hands the driver a data frame encoded once for many connections
    /// (broadcast; servers only); see
    /// [`WebSocket::feed_prepared`](crate::WebSocket::feed_prepared). Only
    /// the `Arc` crosses the queue.
    pub async fn send_prepared(
        &mut self,
        frame: Arc<ws_proto::PreparedFrame>,
    ) -> Result<(), Error> {
        if self.role == ws_proto::Role::Client {
            return Err(Error::Send(SendError::InvalidState));
        }
        self.send_outgoing(Outgoing::Prepared(frame)).await
    }

    /// Sends one fragment of a message (RFC 6455 §5.4); see
    /// [`WebSocket::send_fragment`](crate::WebSocket::send_fragment).
    pub async fn send_fragment(
        &mut self,
        kind: DataKind,
        data: impl Into<Vec<u8>>,
        fin: bool,
    ) -> Result<(), Error> {
        let data = data.into();
        self.send_outgoing(Outgoing::Fragment { kind, data, fin })
            .await
    }

    /// Starts the closing handshake with `code` and `reason` (at most 123
    /// bytes): the driver sends the Close frame after the messages already
    /// handed to it, or after the close timeout if the peer stopped reading
    /// them (they are then dropped). The [`ReadHalf`] reports the end
    /// (`None` when clean). Sending fails from now on.
    ///
    /// Returns at once (it never waits for queue room); only the first
    /// close of a connection counts. Cancel-safe.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.request_close(Some(CloseFrame::new(code, reason)));
        Ok(())
    }

    fn request_close(&self, frame: Option<CloseFrame>) {
        let frame = frame.unwrap_or_else(|| CloseFrame::new(CloseCode::NORMAL, ""));
        if self.shared.close_request.set(frame).is_ok() {
            self.shared.open.store(false, Ordering::Release);
            self.shared.driver.wake();
        }
    }

    async fn send_outgoing(&mut self, out: Outgoing) -> Result<(), Error> {
        poll_fn(|cx| self.poll_ready_inner(cx)).await?;
        self.start_send_inner(out)
    }

    fn poll_ready_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if !self.shared.open.load(Ordering::Acquire) {
            return Poll::Ready(Err(self.shared.closed_error()));
        }
        match self.tx.poll_ready(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(_)) => Poll::Ready(Err(self.shared.closed_error())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn start_send_inner(&mut self, out: Outgoing) -> Result<(), Error> {
        self.tx
            .start_send(out)
            .map_err(|_| self.shared.closed_error())
    }

    /// Whether data can still be sent: no Close sent or received yet.
    pub fn is_open(&self) -> bool {
        self.shared.open.load(Ordering::Acquire)
    }

    /// The subprotocol agreed in the opening handshake, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }
}

impl std::fmt::Debug for WriteHalf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteHalf")
            .field("open", &self.is_open())
            .finish_non_exhaustive()
    }
}

/// `poll_flush` means the driver has taken every message (it writes them
/// as soon as it can); `poll_close` requests the closing handshake with
/// 1000, like [`WriteHalf::close`].
impl Sink<Message> for WriteHalf {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_ready_inner(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().start_send_inner(Outgoing::Message(item))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        match this.tx.poll_ready(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(_)) => Poll::Ready(Err(this.shared.closed_error())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().request_close(None);
        Poll::Ready(Ok(()))
    }
}

/// The task that drives a split connection; see the [module docs](self).
///
/// [`WebSocket::split`](crate::WebSocket::split) spawns it;
/// [`WebSocket::split_with_driver`](crate::WebSocket::split_with_driver)
/// hands it to you. It completes when the connection has ended.
#[must_use = "the halves do nothing unless the driver runs"]
pub struct Driver<T, R: Runtime> {
    core: Core<T, R>,
    to_reader: mpsc::Sender<Result<Message, Error>>,
    /// A received item waiting for room in the reader's queue.
    pending_in: Option<Result<Message, Error>>,
    from_writer: mpsc::Receiver<Outgoing>,
    /// Every sender of the outgoing queue is gone: both halves were dropped.
    halves_gone: bool,
    /// The connection refuses further messages (closing, or broken).
    cannot_send: bool,
    /// The reader was dropped: received messages are discarded.
    reader_gone: bool,
    /// The outgoing queue was empty at the last look.
    writer_idle: bool,
    /// A requested close has been handed to the core.
    close_started: bool,
    /// The driver closed the outgoing queue (its end then means drained,
    /// not that both halves are gone).
    queue_closed: bool,
    shared: Arc<Shared>,
    finished: bool,
}

impl<T: Transport, R: Runtime> Driver<T, R> {
    /// Takes writer messages while the core has room for them.
    fn poll_writer(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while !self.halves_gone && !self.cannot_send {
            match self.core.poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => {
                    // Nothing can be sent any more; the writer learns it
                    // from `Shared`.
                    self.cannot_send = true;
                    self.queue_closed = true;
                    self.from_writer.close();
                    break;
                }
                Poll::Pending => break,
            }
            match Pin::new(&mut self.from_writer).poll_next(cx) {
                Poll::Ready(Some(out)) => {
                    // A refused message (data after Close, an invalid close
                    // code) is dropped; the writer sees `is_open() == false`.
                    let _ = self.core.start_send(out);
                    self.writer_idle = false;
                    progress = true;
                }
                Poll::Ready(None) if self.queue_closed => {
                    // The driver closed the queue itself; it is drained.
                    self.cannot_send = true;
                    self.writer_idle = true;
                }
                Poll::Ready(None) => {
                    // Both halves dropped: close the connection (1000) and
                    // let the receive loop finish the handshake.
                    self.halves_gone = true;
                    self.reader_gone = true;
                    self.writer_idle = true;
                    if !self.close_started {
                        self.close_started = true;
                        let _ = self.core.start_close(None);
                    }
                    progress = true;
                }
                Poll::Pending => {
                    self.writer_idle = true;
                    break;
                }
            }
        }
        progress
    }

    /// Hands a requested close to the core once the messages sent before
    /// it are in, or once the close timeout says the peer is not reading
    /// them.
    fn poll_close_request(&mut self, cx: &mut Context<'_>) -> bool {
        if self.close_started {
            return false;
        }
        let Some(frame) = self.shared.close_request.get() else {
            return false;
        };
        let drained = (self.writer_idle || self.cannot_send) && !self.core.has_queued();
        if !drained {
            if !self.core.poll_flush_deadline(cx) {
                return false;
            }
            self.core.drop_queued();
            self.queue_closed = true;
            self.from_writer.close();
        }
        self.close_started = true;
        let _ = self.core.start_close(Some(frame.clone()));
        true
    }

    fn publish_state(&self) {
        let open = self.core.conn.is_open();
        if !open && self.shared.open.load(Ordering::Relaxed) {
            self.shared.open.store(false, Ordering::Release);
        }
    }

    fn finish(&mut self) {
        self.finished = true;
        let ended = match self.core.closed_error() {
            Error::ConnectionClosed {
                code,
                reason,
                clean,
                initiator,
            } => Ended {
                code,
                reason,
                clean,
                initiator,
            },
            _ => Ended {
                code: CloseCode::ABNORMAL_CLOSURE,
                reason: String::new(),
                clean: false,
                initiator: Initiator::Transport,
            },
        };
        let _ = self.shared.ended.set(ended);
        self.shared.open.store(false, Ordering::Release);
        self.from_writer.close();
        self.to_reader.close_channel();
    }
}

impl<T: Transport, R: Runtime> Future for Driver<T, R> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(());
        }
        this.shared.driver.register(cx.waker());
        for _ in 0..MAX_ITEMS_PER_POLL {
            let mut progress = this.poll_writer(cx);
            progress |= this.poll_close_request(cx);
            if let Some(item) = this.pending_in.take() {
                match this.to_reader.poll_ready(cx) {
                    Poll::Ready(Ok(())) => {
                        let _ = this.to_reader.start_send(item);
                        progress = true;
                    }
                    // The reader is gone: keep driving, drop what arrives.
                    Poll::Ready(Err(_)) => this.reader_gone = true,
                    Poll::Pending => this.pending_in = Some(item),
                }
            }
            if this.pending_in.is_none() {
                match this.core.poll_recv(cx) {
                    Poll::Ready(Some(item)) => {
                        if !this.reader_gone {
                            this.pending_in = Some(item);
                        }
                        progress = true;
                    }
                    Poll::Ready(None) => {
                        this.finish();
                        return Poll::Ready(());
                    }
                    Poll::Pending => {}
                }
            } else {
                // The reader lags: leave the socket unread (TCP pushes back),
                // but keep writing and running the timers.
                let _ = this.core.poll_write_out(cx);
                progress |= this.core.poll_timers(cx);
            }
            this.publish_state();
            if !progress {
                return Poll::Pending;
            }
        }
        // Out of budget: write what the loop queued, then yield.
        let _ = this.core.poll_write_out(cx);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<T, R: Runtime> std::fmt::Debug for Driver<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("core", &self.core)
            .field("halves_gone", &self.halves_gone)
            .field("reader_gone", &self.reader_gone)
            .finish_non_exhaustive()
    }
}
