//! [`WebSocket`]: one connection, driven inline by the task that uses it.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use ws_proto::{CloseCode, DataKind, Role};

use crate::borrowed::{MessageRef, Replies};
use crate::config::WebSocketConfig;
use crate::driver::{Core, Outgoing};
use crate::error::Error;
use crate::message::{CloseFrame, Message};
use crate::runtime::Runtime;
use crate::split::{self, Driver, ReadHalf, WriteHalf};
use crate::transport::Transport;

/// A WebSocket connection over transport `T` on runtime `R`.
///
/// The connection is driven by whichever method is being awaited: there is
/// no background task and no lock. [`recv`](Self::recv) reads, answers
/// Pings and Closes through the protocol core, runs the core's timers
/// (keepalive, pong deadline, close and idle timeouts) while it waits, and
/// writes anything queued before it blocks. Call it in a loop (or use the
/// [`Stream`] implementation); to read and write from different tasks,
/// [`split`](Self::split) it.
///
/// Driven inline means it makes progress only while one of its methods is
/// awaited: an application that only sends never reads the peer's Pings or
/// Close. Keep a `recv` going (in `select!` with your other work — it is
/// cancel-safe), or split the connection so a driver task does it.
///
/// # Sending and buffering
///
/// [`send`](Self::send) queues a message and writes everything queued.
/// [`feed`](Self::feed) only queues it, so that several messages go out in
/// one `write`: whatever was fed is written by the next `send`,
/// [`flush`](Self::flush), or [`recv`](Self::recv) that would block.
/// Queued bytes are bounded by the send-buffer watermark
/// ([`ws_proto::Config::send_buffer_watermark`]) plus one frame: once it is
/// reached, `send` and `feed` wait for the socket instead of growing the
/// buffer. The [`Sink`] implementation is `feed` (`start_send`) plus
/// `flush`.
///
/// # Cancel safety
///
/// Every async method may be dropped at an `.await` point (in `select!`)
/// without corrupting the connection; the protocol state lives in the
/// struct, not in the future.
/// - [`recv`](Self::recv): cancel-safe. No message is lost: bytes already
///   read stay in the receive buffer and a partly assembled message stays
///   in the assembler.
/// - [`send`](Self::send), [`feed`](Self::feed),
///   [`send_fragment`](Self::send_fragment): dropped while waiting for room,
///   the message is not sent; dropped after it was queued (while writing),
///   it stays queued and is written by the next operation. Either way the
///   stream of frames stays well-formed. Use the [`Sink`] methods
///   (`poll_ready` then `start_send`) to know exactly which happened.
/// - [`flush`](Self::flush): cancel-safe; a partial write is kept and
///   continued later.
/// - [`close`](Self::close): dropped after the Close frame was queued, the
///   closing handshake has begun; keep calling `recv` (or `close` again)
///   to finish it.
pub struct WebSocket<T, R: Runtime> {
    core: Box<Core<T, R>>,
}

impl<T: Transport, R: Runtime> WebSocket<T, R> {
    /// Frames `io`, a stream whose opening handshake is already done (by
    /// another HTTP server, for instance hyper's upgrade), as the `role`
    /// end.
    pub fn from_upgraded(io: T, role: Role, config: &WebSocketConfig, runtime: R) -> Self {
        Self::from_parts(io, role, config, runtime, &[])
    }

    /// Like [`from_upgraded`](Self::from_upgraded), with bytes that were
    /// already read after the HTTP head: they are the first frame data.
    pub fn from_parts(
        io: T,
        role: Role,
        config: &WebSocketConfig,
        runtime: R,
        leftover: &[u8],
    ) -> Self {
        Self {
            core: Box::new(Core::new(io, role, config, runtime, leftover)),
        }
    }

    pub(crate) fn set_subprotocol(&mut self, subprotocol: Option<String>) {
        self.core.subprotocol = subprotocol;
    }

    /// Turns on permessage-deflate as the handshake negotiated it.
    pub(crate) fn enable_deflate(
        &mut self,
        params: ws_proto::deflate::DeflateParams,
        config: &ws_proto::deflate::DeflateConfig,
    ) {
        self.core.conn.enable_deflate(params, config);
    }

    /// The permessage-deflate parameters negotiated in the handshake, or
    /// `None` if messages are not compressed.
    pub fn deflate(&self) -> Option<ws_proto::deflate::DeflateParams> {
        self.core.conn.deflate_params()
    }

    /// Receives the next message.
    ///
    /// Returns `Some(Ok(message))` for each data message (fragments joined),
    /// Ping, Pong and the peer's Close; then, when the connection has ended,
    /// `None` if the closing handshake completed cleanly or `Some(Err(_))`
    /// once if it did not ([`Error::ConnectionClosed`] with code 1006 for a
    /// dropped connection, [`Error::Protocol`] when the peer broke the
    /// protocol, [`Error::KeepaliveTimeout`], [`Error::Io`]), and `None`
    /// after that.
    ///
    /// Cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.core.poll_recv(cx)).await
    }

    /// Receives without an allocation per message: calls `f` for every
    /// message already received, with the message borrowed from the
    /// connection's buffers and a [`Replies`] handle that queues answers
    /// (echoing is `replies.send(message)`), and returns how many it
    /// handled. When nothing has been received yet it waits, like
    /// [`recv`](Self::recv): writing what is queued, reading, running the
    /// timers. Replies and anything fed are written when the next call
    /// would block.
    ///
    /// The items are those of `recv` ([`MessageRef::to_owned`] gives the
    /// [`Message`]), and the end is reported the same way: `None` after a
    /// clean close, `Some(Err(_))` once otherwise. A message that arrived
    /// in one piece is borrowed from the receive buffer; one that arrived
    /// in several from a reassembly buffer kept for the next. A large
    /// message read straight into its own buffer (the rest of a frame
    /// larger than the receive buffer) and echoed as it is
    /// (`replies.send(message)`) is moved and written from that buffer
    /// with a vectored write; other replies are copied into the send
    /// buffer. To keep a message, [`MessageRef::to_owned`] copies it, or
    /// use [`recv`](Self::recv).
    ///
    /// Backpressure: replies are never refused for lack of room; once the
    /// send buffer is at its watermark a reply is held (copied), and no
    /// further message is read until it has been written.
    ///
    /// Cancel-safe: `f` runs inside a poll, for whole messages only.
    ///
    /// ```no_run
    /// # async fn echo<T: ws_runtime::Transport, R: ws_runtime::Runtime>(
    /// #     ws: &mut ws_runtime::WebSocket<T, R>,
    /// # ) {
    /// while let Some(Ok(_handled)) = ws
    ///     .recv_with(|message, replies| {
    ///         if message.is_data() {
    ///             let _ = replies.send(message);
    ///         }
    ///     })
    ///     .await
    /// {}
    /// # }
    /// ```
    pub async fn recv_with<F>(&mut self, mut f: F) -> Option<Result<usize, Error>>
    where
        F: FnMut(MessageRef<'_>, &mut Replies<'_>),
    {
        poll_fn(|cx| self.core.poll_recv_with(cx, &mut f)).await
    }

    /// The poll form of [`recv_with`](Self::recv_with).
    pub fn poll_recv_with<F>(
        &mut self,
        cx: &mut Context<'_>,
        f: &mut F,
    ) -> Poll<Option<Result<usize, Error>>>
    where
        F: FnMut(MessageRef<'_>, &mut Replies<'_>),
    {
        self.core.poll_recv_with(cx, f)
    }

    /// Sends a message: queues it, then writes everything queued.
    ///
    /// Waits while the send buffer is at its watermark. `Message::Close`
    /// starts the closing handshake (prefer [`close`](Self::close), which
    /// also finishes it). See the type's docs for cancel safety.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Queues a message without writing it unless the send buffer is at its
    /// watermark. The next [`send`](Self::send), [`flush`](Self::flush), or
    /// [`recv`](Self::recv) that would block writes it, together with
    /// everything else queued.
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        self.feed_outgoing(Outgoing::Message(message)).await
    }

    async fn feed_outgoing(&mut self, out: Outgoing) -> Result<(), Error> {
        poll_fn(|cx| self.core.poll_ready(cx)).await?;
        self.core.start_send(out)
    }

    /// Queues a data frame encoded once for many connections (broadcast;
    /// see [`ws_proto::PreparedFrame`]), like [`feed`](Self::feed): the
    /// bytes are copied into this connection's send buffer, not re-encoded.
    /// Servers only: a client must mask every frame and gets
    /// [`Error::Send`]. Call [`flush`](Self::flush) or keep `recv` going to
    /// write it.
    pub async fn feed_prepared(
        &mut self,
        frame: std::sync::Arc<ws_proto::PreparedFrame>,
    ) -> Result<(), Error> {
        self.feed_outgoing(Outgoing::Prepared(frame)).await
    }

    /// Sends one fragment of a message (RFC 6455 §5.4): the first call
    /// starts a `kind` message, later calls continue it, `fin` ends it.
    /// Control messages may be sent in between; whole data messages may not.
    /// Like [`feed`](Self::feed), it does not flush.
    pub async fn send_fragment(
        &mut self,
        kind: DataKind,
        data: impl Into<Vec<u8>>,
        fin: bool,
    ) -> Result<(), Error> {
        let data = data.into();
        self.feed_outgoing(Outgoing::Fragment { kind, data, fin })
            .await
    }

    /// Writes everything queued. Cancel-safe.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.core.poll_flush(cx)).await
    }

    /// Closes the connection: sends a Close frame with `code` and `reason`
    /// (at most 123 bytes), then reads until the peer's Close and the end of
    /// the stream, discarding data messages that still arrive.
    ///
    /// `Ok` when the closing handshake completed. If closing had already
    /// begun (the peer closed first), it only finishes the handshake. The
    /// wait is bounded by the close timeout
    /// ([`ws_proto::Config::close_timeout`]), also when the peer stopped
    /// reading: a message still held back for lack of buffer room is then
    /// dropped after that timeout so the Close frame can be queued.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let mut frame = Some(CloseFrame::new(code, reason));
        poll_fn(|cx| self.core.poll_close(cx, &mut frame)).await
    }

    // ------------------------------------------------------------ poll API

    /// The poll form of [`recv`](Self::recv), for code that drives the
    /// connection from its own `Future::poll` (an application layer that
    /// runs the connection and its handler in one task, say). Same items,
    /// same end; writes what is queued before it blocks.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        self.core.poll_recv(cx)
    }

    /// `Ready(Ok)` once another item can be queued with
    /// [`start_feed`](Self::start_feed) or
    /// [`start_feed_prepared`](Self::start_feed_prepared): the send buffer
    /// is below its watermark (writing to make room if not).
    pub fn poll_send_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.core.poll_ready(cx)
    }

    /// Queues `message` like [`feed`](Self::feed), without waiting: call it
    /// after [`poll_send_ready`](Self::poll_send_ready) returned `Ready(Ok)`.
    pub fn start_feed(&mut self, message: Message) -> Result<(), Error> {
        self.core.start_send(Outgoing::Message(message))
    }

    /// Queues a frame encoded once for many connections like
    /// [`feed_prepared`](Self::feed_prepared), without waiting: call it
    /// after [`poll_send_ready`](Self::poll_send_ready) returned `Ready(Ok)`.
    pub fn start_feed_prepared(
        &mut self,
        frame: std::sync::Arc<ws_proto::PreparedFrame>,
    ) -> Result<(), Error> {
        self.core.start_send(Outgoing::Prepared(frame))
    }

    /// The poll form of [`flush`](Self::flush): writes everything queued.
    pub fn poll_flush_queued(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.core.poll_flush(cx)
    }

    /// Starts the closing handshake without waiting for its end: the item
    /// held back for lack of room (if any) is written first, or dropped
    /// once the close timeout says the peer is not reading it; then the
    /// Close frame taken from `frame` (`None`: 1000) is queued. `Ready`
    /// once it is (also when closing had begun already). Keep polling
    /// [`poll_recv`](Self::poll_recv) to finish the handshake: unlike
    /// [`close`](Self::close), this discards nothing the peer still sends.
    pub fn poll_start_close(
        &mut self,
        cx: &mut Context<'_>,
        frame: &mut Option<CloseFrame>,
    ) -> Poll<Result<(), Error>> {
        if self.core.conn.is_open() && !self.core.is_done() {
            if self.core.has_queued() {
                match self.core.poll_ready(cx) {
                    Poll::Ready(result) => result?,
                    Poll::Pending => {
                        if !self.core.poll_flush_deadline(cx) {
                            return Poll::Pending;
                        }
                        self.core.drop_queued();
                    }
                }
            }
            self.core.start_close(frame.take())?;
        }
        Poll::Ready(Ok(()))
    }

    /// Keeps the connection going without reading: writes what is queued
    /// and runs the protocol timers (keepalive, close and idle timeouts),
    /// registering `cx` for both. For a caller that pauses
    /// [`poll_recv`](Self::poll_recv) because it has nowhere to put the
    /// next message (read backpressure); the end of the connection is
    /// still reported by `poll_recv`.
    pub fn poll_without_reading(&mut self, cx: &mut Context<'_>) {
        let _ = self.core.poll_write_out(cx);
        // Each timer that fires may queue a frame (a Ping, a Close) or
        // move the next deadline; bounded, as the core's table is small.
        for _ in 0..8 {
            if !self.core.poll_timers(cx) {
                break;
            }
            let _ = self.core.poll_write_out(cx);
        }
    }

    /// Splits the connection into a reader and a writer that can be used
    /// from different tasks at the same time. The connection moves into a
    /// driver task spawned on the runtime; see [`split_with_driver`](Self::split_with_driver)
    /// and the [`split`](crate::split) module for the design.
    pub fn split(self) -> (ReadHalf, WriteHalf) {
        let runtime = self.core.runtime().clone();
        let (read, write, driver) = self.split_with_driver();
        runtime.spawn(Box::pin(driver));
        (read, write)
    }

    /// Like [`split`](Self::split), but returns the driver future instead
    /// of spawning it: run it on an executor of your choice. The halves do
    /// nothing until it runs.
    pub fn split_with_driver(self) -> (ReadHalf, WriteHalf, Driver<T, R>) {
        split::split(*self.core)
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.core.conn.role()
    }

    /// The subprotocol agreed in the opening handshake, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.core.subprotocol.as_deref()
    }

    /// Whether data can still be sent (no Close sent or received).
    pub fn is_open(&self) -> bool {
        self.core.conn.is_open()
    }

    /// Whether the connection has ended and the receive loop reported it.
    pub fn is_closed(&self) -> bool {
        self.core.is_done()
    }

    /// Bytes accepted for sending and not yet written to the transport.
    /// Bounded by the send-buffer watermark plus one message.
    pub fn buffered_amount(&self) -> usize {
        self.core.buffered_amount()
    }

    /// The peer's Close frame, once it arrived.
    pub fn peer_close_frame(&self) -> Option<CloseFrame> {
        self.core.peer_close_frame()
    }

    /// The protocol state machine, for inspection.
    pub fn protocol(&self) -> &crate::Connection {
        &self.core.conn
    }

    /// The transport.
    pub fn get_ref(&self) -> &T {
        &self.core.io
    }

    /// The transport, mutably. Reading or writing it directly corrupts the
    /// connection; this is for socket options and the like.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.core.io
    }
}

impl<T, R: Runtime> std::fmt::Debug for WebSocket<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("core", &self.core)
            .finish()
    }
}

/// The received messages, as [`recv`](WebSocket::recv) returns them: ends
/// (`None`) after a clean close, or after one `Err` item.
impl<T: Transport, R: Runtime> Stream for WebSocket<T, R> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().core.poll_recv(cx)
    }
}

/// `start_send` queues (like [`feed`](WebSocket::feed)), `poll_flush`
/// writes, `poll_close` runs the closing handshake with 1000 (normal
/// closure) to its end.
impl<T: Transport, R: Runtime> Sink<Message> for WebSocket<T, R> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().core.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().core.start_send(Outgoing::Message(item))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().core.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().core.poll_close(cx, &mut None)
    }
}
