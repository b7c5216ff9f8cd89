//! The connection task: one task per WebSocket connection drives its
//! socket, its protocol timers, its outbound queue and its handler.
//!
//! ```text
//!   connection task ─┬─ before the handler: outbound queue → socket, a close to start
//!                    ├─ the lifecycle: on_connect → handler → close → end → on_close
//!                    │     Ws::receive_* / send_* / flush, called from it, use the
//!                    │     socket directly (no queue, no other task)
//!                    └─ after it: read into the inbox (unless the handler waits on
//!                          the socket itself), write what was queued, the abort timer
//!   other tasks ── Ws::send_* (waits), broadcasts, rooms, by id ──► outbound queue (bounded)
//!   other tasks ◄── Ws::receive_* ── inbox (bounded)
//! ```
//!
//! A handler that echoes reads a message straight out of the protocol
//! core, feeds its answer straight back in, and the socket is written when
//! the next read would block: the same work as a plain `ws-runtime`
//! receive loop, with no hop between tasks. Everything that comes from
//! other tasks — a broadcast, a message by id, a send from a spawned task,
//! a close — enters through the bounded outbound queue, whose consumer is
//! this task, so the order in which messages were queued is the order on
//! the wire.
//!
//! The socket belongs to the task (a [`Link`]). While the task polls the
//! lifecycle, the link sits in a thread-local slot keyed by the connection,
//! where the connection's own [`Ws`](crate::Ws) methods find it; any other
//! caller (another task, another connection) takes the queues.

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use ws_runtime::ws_proto::PreparedFrame;
use ws_runtime::{CloseCode, CloseFrame, Initiator, Timer as _, Transport, WebSocket};

use crate::error::CloseInfo;
use crate::hub::{Outbound, SLOW_CONSUMER_REASON};
use crate::mailbox::TryPop;
use crate::message::Message;
use crate::rt::AbortHandle;
use crate::ws::ConnInner;

/// Messages read into the inbox, or outbound items fed to the socket, per
/// step of the connection task before it lets the lifecycle run.
const MAX_ITEMS_PER_STEP: usize = 64;

/// Rounds of (queue, lifecycle, socket) per wake-up before the task yields
/// to the executor.
const MAX_ROUNDS_PER_POLL: usize = 16;

/// The socket and protocol core of a connection, type-erased so that the
/// (non-generic) [`Ws`](crate::Ws) methods can drive it.
pub(crate) trait ConnIo: Send {
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<ws_runtime::Message, ws_runtime::Error>>>;
    fn poll_send_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ws_runtime::Error>>;
    fn start_feed(&mut self, message: ws_runtime::Message) -> Result<(), ws_runtime::Error>;
    fn start_feed_prepared(&mut self, frame: Arc<PreparedFrame>) -> Result<(), ws_runtime::Error>;
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ws_runtime::Error>>;
    fn poll_start_close(
        &mut self,
        cx: &mut Context<'_>,
        frame: &mut Option<CloseFrame>,
    ) -> Poll<Result<(), ws_runtime::Error>>;
    fn poll_without_reading(&mut self, cx: &mut Context<'_>);
    /// `poll_send_ready`, then `start_feed` of what `message` holds: one
    /// call for the common path of a handler's send.
    fn poll_feed(
        &mut self,
        cx: &mut Context<'_>,
        message: &mut Option<Message>,
    ) -> Poll<Result<(), ws_runtime::Error>>;
}

impl<T: Transport, R: ws_runtime::Runtime> ConnIo for WebSocket<T, R> {
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<ws_runtime::Message, ws_runtime::Error>>> {
        Self::poll_recv(self, cx)
    }

    fn poll_send_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ws_runtime::Error>> {
        Self::poll_send_ready(self, cx)
    }

    fn start_feed(&mut self, message: ws_runtime::Message) -> Result<(), ws_runtime::Error> {
        Self::start_feed(self, message)
    }

    fn start_feed_prepared(&mut self, frame: Arc<PreparedFrame>) -> Result<(), ws_runtime::Error> {
        Self::start_feed_prepared(self, frame)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ws_runtime::Error>> {
        Self::poll_flush_queued(self, cx)
    }

    fn poll_start_close(
        &mut self,
        cx: &mut Context<'_>,
        frame: &mut Option<CloseFrame>,
    ) -> Poll<Result<(), ws_runtime::Error>> {
        Self::poll_start_close(self, cx, frame)
    }

    fn poll_without_reading(&mut self, cx: &mut Context<'_>) {
        Self::poll_without_reading(self, cx);
    }

    fn poll_feed(
        &mut self,
        cx: &mut Context<'_>,
        message: &mut Option<Message>,
    ) -> Poll<Result<(), ws_runtime::Error>> {
        std::task::ready!(Self::poll_send_ready(self, cx))?;
        match message.take() {
            Some(message) => Poll::Ready(Self::start_feed(self, message.into_runtime())),
            None => Poll::Ready(Ok(())),
        }
    }
}

/// How long a connection closed by this end may take to end before its
/// TCP connection is dropped.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// After a slow-consumer close.
    pub(crate) grace: Duration,
    /// After any other close from this end.
    pub(crate) linger: Duration,
}

/// A connection's socket side, owned by its task.
pub(crate) struct Link {
    /// `None` once the connection has ended (the socket is then closed).
    io: Option<Box<dyn ConnIo>>,
    limits: Limits,
    /// The handler's `receive` waits on the socket itself (set during the
    /// latest poll of the lifecycle): the task then does not read for the
    /// inbox.
    parked: bool,
    /// A received message waiting for room in the inbox.
    pending_in: Option<Message>,
    /// The peer's Close frame, once it arrived.
    peer_close: Option<CloseFrame>,
    /// A close from this end, waiting to be handed to the core after what
    /// was queued before it.
    pending_close: Option<CloseFrame>,
    /// The close was handed to the core.
    close_started: bool,
    /// The task is to arm the abort timer with this limit.
    arm_abort: Option<Duration>,
    /// The slow-consumer overflow was acted on.
    overflow_handled: bool,
    /// Wakers of `receive`s in this task that wait on the socket.
    recv_waiters: Vec<Waker>,
    /// Wakers of sends and flushes in this task that wait for room.
    send_waiters: Vec<Waker>,
    /// Something the lifecycle waits for happened during this round: run
    /// another round rather than waking the task.
    repoll: bool,
}

fn add_waiter(waiters: &mut Vec<Waker>, cx: &Context<'_>) {
    if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
        waiters.push(cx.waker().clone());
    }
}

impl Link {
    pub(crate) fn new(io: Box<dyn ConnIo>, limits: Limits) -> Box<Self> {
        Box::new(Self {
            io: Some(io),
            limits,
            parked: false,
            pending_in: None,
            peer_close: None,
            pending_close: None,
            close_started: false,
            arm_abort: None,
            overflow_handled: false,
            recv_waiters: Vec::new(),
            send_waiters: Vec::new(),
            repoll: false,
        })
    }

    /// Wakes `waiters`, except the task being polled (`cx`): for that one,
    /// another round.
    fn wake(waiters: &mut Vec<Waker>, repoll: &mut bool, cx: &Context<'_>) {
        for waker in waiters.drain(..) {
            if waker.will_wake(cx.waker()) {
                *repoll = true;
            } else {
                waker.wake();
            }
        }
    }

    /// What the receive loop produced: a data message for the handler, or
    /// bookkeeping (the peer's Close, the end of the connection).
    #[inline]
    fn on_item(
        &mut self,
        conn: &ConnInner,
        item: Option<Result<ws_runtime::Message, ws_runtime::Error>>,
        cx: &Context<'_>,
    ) -> Option<Message> {
        match item {
            Some(Ok(ws_runtime::Message::Text(text))) => Some(Message::Text(text)),
            Some(Ok(ws_runtime::Message::Binary(data))) => Some(Message::Binary(data)),
            other => {
                self.on_control(conn, other, cx);
                None
            }
        }
    }

    /// The rest of [`on_item`](Self::on_item): control frames and the end.
    #[cold]
    fn on_control(
        &mut self,
        conn: &ConnInner,
        item: Option<Result<ws_runtime::Message, ws_runtime::Error>>,
        cx: &Context<'_>,
    ) {
        let info = match item {
            Some(Ok(ws_runtime::Message::Close(frame))) => {
                self.peer_close =
                    Some(frame.unwrap_or_else(|| CloseFrame::new(CloseCode::NO_STATUS_RCVD, "")));
                return;
            }
            Some(Ok(_)) => return,
            Some(Err(err)) => error_info(conn, err, self.peer_close.take()),
            None => {
                let frame = self
                    .peer_close
                    .take()
                    .unwrap_or_else(|| CloseFrame::new(CloseCode::NO_STATUS_RCVD, ""));
                let initiator = if conn.local_close().is_some() {
                    Initiator::Local
                } else {
                    Initiator::Remote
                };
                CloseInfo::new(frame.code, frame.reason, initiator, true)
            }
        };
        // The end: the socket is closed, everyone waiting learns it, and
        // the lifecycle runs again (see `ended`).
        self.io = None;
        self.pending_close = None;
        conn.finish(info);
        self.repoll = true;
        Self::wake(&mut self.recv_waiters, &mut self.repoll, cx);
        Self::wake(&mut self.send_waiters, &mut self.repoll, cx);
    }

    /// `receive` from the connection's own task: the inbox first (what the
    /// task read while nobody was receiving), then the socket. `None` once
    /// the connection has ended (or nobody may read any more) and nothing
    /// is left.
    pub(crate) fn poll_receive(
        &mut self,
        conn: &ConnInner,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Message>> {
        match conn.inbox.try_pop() {
            TryPop::Item(message) => return Poll::Ready(Some(message)),
            TryPop::Closed => return Poll::Ready(None),
            TryPop::Empty => {}
        }
        if let Some(message) = self.pending_in.take() {
            return Poll::Ready(Some(message));
        }
        for _ in 0..MAX_ITEMS_PER_STEP {
            let Some(io) = self.io.as_mut() else {
                return Poll::Ready(None);
            };
            match io.poll_recv(cx) {
                Poll::Ready(item) => {
                    if let Some(message) = self.on_item(conn, item, cx) {
                        return Poll::Ready(Some(message));
                    }
                }
                Poll::Pending => {
                    self.parked = true;
                    add_waiter(&mut self.recv_waiters, cx);
                    return Poll::Pending;
                }
            }
        }
        // Control frames only, many of them: let the others run.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// `send` from the connection's own task: what other tasks queued
    /// goes first, then `message` straight into the protocol core (written
    /// with the next flush, or when the next read would block). Waits while
    /// the send buffer is at its watermark. `Err` once the connection is
    /// closing or gone.
    pub(crate) fn poll_send(
        &mut self,
        conn: &ConnInner,
        cx: &mut Context<'_>,
        message: &mut Option<Message>,
    ) -> Poll<Result<(), ()>> {
        if self.poll_pump(conn, cx).is_pending() {
            add_waiter(&mut self.send_waiters, cx);
            return Poll::Pending;
        }
        if conn.is_closing() {
            return Poll::Ready(Err(()));
        }
        let Some(io) = self.io.as_mut() else {
            return Poll::Ready(Err(()));
        };
        match io.poll_feed(cx, message) {
            Poll::Ready(result) => Poll::Ready(result.map_err(|_| ())),
            Poll::Pending => {
                add_waiter(&mut self.send_waiters, cx);
                Poll::Pending
            }
        }
    }

    /// `flush` from the connection's own task: hands everything queued to
    /// the protocol core, waiting for room.
    pub(crate) fn poll_flush(&mut self, conn: &ConnInner, cx: &mut Context<'_>) -> Poll<()> {
        let poll = self.poll_pump(conn, cx);
        if poll.is_pending() {
            add_waiter(&mut self.send_waiters, cx);
        }
        poll
    }

    /// Feeds the outbound queue to the protocol core while it has room.
    /// `Ready` once the queue is empty (or nothing more can be sent);
    /// stops at a Close, which [`start_close`](Self::start_close) hands
    /// over.
    fn poll_pump(&mut self, conn: &ConnInner, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..MAX_ITEMS_PER_STEP {
            if self.pending_close.is_some() || self.close_started || conn.outbox.queue.is_empty() {
                return Poll::Ready(());
            }
            let Some(io) = self.io.as_mut() else {
                return Poll::Ready(());
            };
            match io.poll_send_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => {
                    // Broken: nothing more goes out; the receive loop
                    // reports the end.
                    conn.outbox.queue.clear();
                    return Poll::Ready(());
                }
                Poll::Pending => return Poll::Pending,
            }
            match conn.outbox.queue.try_pop() {
                // A refused item (after a Close) is dropped; senders learn
                // of the close from the connection state.
                TryPop::Item(Outbound::Message(message)) => {
                    let _ = io.start_feed(message.into_runtime());
                }
                TryPop::Item(Outbound::Prepared(frame)) => {
                    let _ = io.start_feed_prepared(frame);
                }
                TryPop::Item(Outbound::Close(code, reason)) => {
                    let limit = self.limits.linger;
                    self.request_close(CloseFrame::new(code, reason), limit);
                    return Poll::Ready(());
                }
                TryPop::Empty | TryPop::Closed => return Poll::Ready(()),
            }
        }
        // More keeps coming: the rest in the next round.
        self.repoll = true;
        Poll::Pending
    }

    /// A close from this end: it goes after what was queued before it, and
    /// the connection has `limit` from now to end.
    fn request_close(&mut self, frame: CloseFrame, limit: Duration) {
        self.pending_close = Some(frame);
        self.arm_abort = Some(limit);
    }

    /// Hands a close from this end to the core once what was queued
    /// before it is in (or the close timeout says the peer is not reading
    /// it).
    fn start_close(&mut self, cx: &mut Context<'_>) {
        let Some(frame) = &self.pending_close else {
            return;
        };
        let Some(io) = self.io.as_mut() else {
            self.pending_close = None;
            return;
        };
        let mut frame = Some(frame.clone());
        if io.poll_start_close(cx, &mut frame).is_ready() {
            self.close_started = true;
            self.pending_close = None;
            // Whoever waits for room learns that the connection closes.
            Self::wake(&mut self.send_waiters, &mut self.repoll, cx);
        }
    }

    /// Applies the slow-consumer policy once the outbound queue overflowed:
    /// what was queued is dropped, the Close goes after the bytes already
    /// handed to the core, and the connection has `grace` to end.
    fn check_overflow(&mut self, conn: &ConnInner) {
        if self.overflow_handled {
            return;
        }
        let Some(code) = conn.outbox.overflowed() else {
            return;
        };
        self.overflow_handled = true;
        // Usually done already by the broadcast that overflowed the queue.
        conn.begin_close_out_of_band(code, SLOW_CONSUMER_REASON);
        log::info!(
            "connection {} reads too slowly: closing it with {}",
            conn.id,
            code.as_u16()
        );
        if self.close_started {
            self.arm_abort = Some(self.limits.grace);
        } else {
            let frame = CloseFrame::new(code, SLOW_CONSUMER_REASON);
            self.request_close(frame, self.limits.grace);
        }
    }

    /// The task's step before the lifecycle runs: the slow-consumer check,
    /// the outbound queue, a close to start.
    fn before_lifecycle(&mut self, conn: &ConnInner, cx: &mut Context<'_>) {
        self.check_overflow(conn);
        if self.poll_pump(conn, cx).is_ready() {
            Self::wake(&mut self.send_waiters, &mut self.repoll, cx);
        }
        self.start_close(cx);
    }

    /// The task's step after the lifecycle ran: what it queued, reading
    /// into the inbox unless the handler waits on the socket itself, and
    /// writing.
    fn after_lifecycle(&mut self, conn: &ConnInner, cx: &mut Context<'_>) {
        let _ = self.poll_pump(conn, cx);
        self.start_close(cx);
        if !self.parked {
            self.read_into_inbox(conn, cx);
        }
        if let Some(io) = self.io.as_mut() {
            if self.pending_in.is_some() {
                io.poll_without_reading(cx);
            } else {
                let _ = io.poll_flush(cx);
            }
        }
    }

    /// Reads for receivers outside this task's handler (or for later),
    /// into the bounded inbox; stops reading when it is full (TCP then
    /// pushes back on the peer).
    fn read_into_inbox(&mut self, conn: &ConnInner, cx: &mut Context<'_>) {
        let mut delivered = false;
        for _ in 0..MAX_ITEMS_PER_STEP {
            if self.pending_in.is_some() {
                // A closed inbox (nobody reads any more) drops it.
                if conn.inbox.poll_push(cx, &mut self.pending_in).is_pending() {
                    break;
                }
                delivered = true;
                continue;
            }
            let Some(io) = self.io.as_mut() else {
                break;
            };
            match io.poll_recv(cx) {
                Poll::Ready(item) => {
                    delivered = true;
                    self.pending_in = self.on_item(conn, item, cx);
                }
                Poll::Pending => break,
            }
        }
        if delivered {
            Self::wake(&mut self.recv_waiters, &mut self.repoll, cx);
        }
    }
}

thread_local! {
    /// The link of the connection whose task is polling its lifecycle on
    /// this thread, keyed by [`ConnInner::key`].
    static CURRENT: RefCell<Option<(usize, Box<Link>)>> = const { RefCell::new(None) };
}

/// Runs `f` on the link of connection `key` if the calling code runs
/// inside that connection's own task (its lifecycle is being polled on
/// this thread); `None` otherwise.
#[inline]
pub(crate) fn with_link<T>(key: usize, f: impl FnOnce(&mut Link) -> T) -> Option<T> {
    CURRENT
        .try_with(|current| {
            let mut current = current.try_borrow_mut().ok()?;
            match current.as_mut() {
                Some((k, link)) if *k == key => Some(f(link)),
                _ => None,
            }
        })
        .ok()
        .flatten()
}

/// Puts a link into [`CURRENT`] for the time of a lifecycle poll; takes it
/// back (and restores what was there) when dropped, unwinding included.
struct Installed<'a> {
    slot: &'a mut Option<Box<Link>>,
    prev: Option<(usize, Box<Link>)>,
}

impl<'a> Installed<'a> {
    fn new(key: usize, slot: &'a mut Option<Box<Link>>) -> Self {
        let link = slot.take().map(|link| (key, link));
        let prev = CURRENT.with(|current| current.replace(link));
        Self { slot, prev }
    }
}

impl Drop for Installed<'_> {
    fn drop(&mut self) {
        let prev = self.prev.take();
        let mine = CURRENT.with(|current| current.replace(prev));
        *self.slot = mine.map(|(_, link)| link);
    }
}

/// Runs a connection: `lifecycle` (on_connect, handler, on_close) and the
/// socket behind `link`, in the calling task, until the lifecycle is done.
pub(crate) async fn run<Rt: ws_runtime::Runtime>(
    conn: &ConnInner,
    link: Box<Link>,
    lifecycle: impl Future<Output = ()>,
    runtime: Rt,
    abort: &AbortHandle,
) {
    let mut lifecycle = pin!(lifecycle);
    let mut link = Some(link);
    let key = conn.key();
    let mut consumer: Option<Waker> = None;
    let mut abort_timer: Option<Rt::Timer> = None;
    let mut aborted = false;
    poll_fn(|cx| {
        // This task drains the outbound queue: a push wakes it.
        if !consumer.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            conn.outbox.queue.set_consumer(cx.waker().clone());
            consumer = Some(cx.waker().clone());
        }
        for _ in 0..MAX_ROUNDS_PER_POLL {
            if let Some(link) = link.as_mut() {
                link.repoll = false;
                link.before_lifecycle(conn, cx);
                link.parked = false;
            }
            let done = {
                let _installed = Installed::new(key, &mut link);
                lifecycle.as_mut().poll(cx).is_ready()
            };
            if done {
                return Poll::Ready(());
            }
            let Some(link) = link.as_mut() else {
                return Poll::Pending;
            };
            link.after_lifecycle(conn, cx);
            if let Some(limit) = link.arm_abort.take() {
                let deadline = runtime.now() + limit;
                match &mut abort_timer {
                    Some(timer) => timer.reset(deadline),
                    None => abort_timer = Some(runtime.timer(deadline)),
                }
            }
            if link.io.is_some()
                && !aborted
                && let Some(timer) = &mut abort_timer
                && timer.poll_elapsed(cx).is_ready()
            {
                aborted = true;
                log::info!("connection {} did not finish closing: dropping it", conn.id);
                abort.abort();
                // The next read fails: the receive loop reports the end.
                link.repoll = true;
            }
            if !link.repoll {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// Waits until the connection has ended, for the lifecycle (which only
/// runs in the connection's task): it registers no waker, as the task polls
/// the lifecycle again right after the end. Cheaper than waiting on the
/// `end` latch, which the lifecycle checks on every poll of the handler.
pub(crate) async fn ended(conn: &ConnInner) {
    poll_fn(|_| {
        if conn.end.is_set() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

/// How the connection ended, from the receive loop's final error.
fn error_info(
    conn: &ConnInner,
    err: ws_runtime::Error,
    peer_close: Option<CloseFrame>,
) -> CloseInfo {
    match err {
        ws_runtime::Error::ConnectionClosed {
            code,
            reason,
            clean,
            initiator,
        } => CloseInfo::new(code, reason, initiator, clean),
        ws_runtime::Error::Protocol(protocol) => CloseInfo::new(
            CloseCode::from(protocol),
            protocol.to_string(),
            Initiator::Local,
            false,
        ),
        other => {
            let (code, reason) = match (peer_close, conn.local_close()) {
                (Some(frame), _) => (frame.code, frame.reason),
                _ => (CloseCode::ABNORMAL_CLOSURE, other.to_string()),
            };
            CloseInfo::new(code, reason, Initiator::Transport, false)
        }
    }
}
