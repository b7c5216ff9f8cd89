//! [`Ws`]: the connection object handed to handlers.

use std::any::Any;
use std::fmt;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;

use ws_runtime::{CloseCode, Initiator};

use crate::conn::with_link;
use crate::deps::{Deps, Scope};
use crate::error::{CloseInfo, Error, Result};
use crate::hub::{Hub, Outbound, Outbox};
use crate::id::{ConnId, RoomId, RouteId};
use crate::mailbox::Mailbox;
use crate::message::Message;
use crate::request::{Headers, QueryParams, RequestHead};
use crate::rt::Latch;

/// The longest close reason that fits a Close frame (RFC 6455 §5.5).
const MAX_REASON_LEN: usize = 123;

#[derive(Default)]
struct ConnState {
    /// This end started closing, with this code and reason.
    closing: Option<(CloseCode, String)>,
    /// How the connection ended.
    ended: Option<CloseInfo>,
}

/// One connection's shared state.
pub(crate) struct ConnInner {
    pub(crate) id: ConnId,
    pub(crate) route: RouteId,
    pub(crate) head: Arc<RequestHead>,
    pub(crate) subprotocol: Option<String>,
    pub(crate) scope: Scope,
    pub(crate) hub: Hub,
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) inbox: Mailbox<Message>,
    state: Mutex<ConnState>,
    /// Closing has begun or the connection ended (mirrors `state`, read
    /// without the lock on every send).
    closing: AtomicBool,
    pub(crate) end: Latch,
}

impl ConnInner {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        route: RouteId,
        head: Arc<RequestHead>,
        subprotocol: Option<String>,
        scope: Scope,
        hub: Hub,
        outbox: Arc<Outbox>,
        inbox_capacity: usize,
    ) -> Self {
        Self {
            id: ConnId::new_v4(),
            route,
            head,
            subprotocol,
            scope,
            hub,
            outbox,
            inbox: Mailbox::new(inbox_capacity),
            state: Mutex::new(ConnState::default()),
            closing: AtomicBool::new(false),
            end: Latch::default(),
        }
    }

    /// Identifies this connection to its own task (see
    /// [`with_link`](crate::conn::with_link)).
    pub(crate) fn key(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    fn state(&self) -> MutexGuard<'_, ConnState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether closing has begun (from this end) or the connection ended.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    pub(crate) fn close_info(&self) -> Option<CloseInfo> {
        self.state().ended.clone()
    }

    /// This end's close code, if it started closing.
    pub(crate) fn local_close(&self) -> Option<(CloseCode, String)> {
        self.state().closing.clone()
    }

    /// The error for an operation on a closed or closing connection.
    pub(crate) fn closed_error(&self) -> Error {
        let state = self.state();
        if let Some(info) = &state.ended {
            return Error::Closed(info.clone());
        }
        let (code, reason) = state
            .closing
            .clone()
            .unwrap_or((CloseCode::NORMAL, String::new()));
        Error::Closed(CloseInfo::new(code, reason, Initiator::Local, false))
    }

    /// Starts closing from this end: unregisters the connection and queues
    /// the Close frame after what is already queued. `false` if closing had
    /// begun already.
    pub(crate) fn begin_close(&self, code: CloseCode, reason: &str) -> bool {
        {
            let mut state = self.state();
            if state.closing.is_some() || state.ended.is_some() {
                return false;
            }
            state.closing = Some((code, reason.to_owned()));
            self.closing.store(true, Ordering::Release);
        }
        self.hub.unregister(self.id);
        self.outbox.drop_held();
        let _ = self
            .outbox
            .queue
            .force_push(Outbound::Close(code, reason.to_owned()));
        true
    }

    /// Marks closing without queueing a Close (the connection task sends
    /// it itself: slow-consumer close). `false` if closing had begun already.
    pub(crate) fn begin_close_out_of_band(&self, code: CloseCode, reason: &str) -> bool {
        {
            let mut state = self.state();
            if state.closing.is_some() || state.ended.is_some() {
                return false;
            }
            state.closing = Some((code, reason.to_owned()));
            self.closing.store(true, Ordering::Release);
        }
        self.hub.unregister(self.id);
        self.outbox.drop_held();
        self.outbox.queue.clear();
        true
    }

    /// The connection ended: record how (first call wins), unregister,
    /// wake everyone waiting on it.
    pub(crate) fn finish(&self, info: CloseInfo) {
        {
            let mut state = self.state();
            if state.ended.is_some() {
                return;
            }
            state.ended = Some(info);
            self.closing.store(true, Ordering::Release);
        }
        self.hub.unregister(self.id);
        self.inbox.close();
        self.outbox.drop_held();
        self.outbox.queue.close();
        self.outbox.queue.clear();
        self.end.set();
    }
}

/// A WebSocket connection, as handlers, `on_connect` and `on_close` see it
/// (Robyn's `WebSocketAdapter`).
///
/// Cheap to clone: every clone is the same connection, usable from any task
/// (keep one in a background task to push updates, for instance).
///
/// # Sending
///
/// [`send_text`](Self::send_text), [`send_bytes`](Self::send_bytes),
/// [`send_json`](Self::send_json) queue a message for this connection, in
/// call order, and wait while it cannot take more (backpressure from a slow
/// client slows its own handler only). Called from the connection's own
/// task (its handler, `on_connect`), they feed the socket's send buffer
/// directly and wait while it is at its watermark
/// ([`ws_runtime::ws_proto::Config::send_buffer_watermark`]); called from
/// any other task, they go through the connection's bounded outbound queue
/// ([`AppConfig::outbound_capacity`](crate::AppConfig::outbound_capacity))
/// and wait while it is full. They fail with
/// [`Error::Closed`] once closing has begun. [`broadcast`](Self::broadcast),
/// room sends and [`Hub`] sends never wait: see
/// [`SlowConsumer`](crate::SlowConsumer). Everything sent to one
/// connection — its own sends, broadcasts, room and by-id messages — goes
/// out in the order it was queued (Robyn's order varied, #1261).
///
/// # Receiving
///
/// [`receive`](Self::receive) and its typed variants return whole messages
/// (fragments are joined by the stack). When the connection has ended they
/// return [`Error::Closed`] carrying the peer's close code and reason,
/// after every message that arrived before. If several clones receive at
/// once, each message goes to one of them.
///
/// # Cancel safety
///
/// Every async method may be dropped at an `.await` (in a `select!`): a
/// dropped `receive_*` loses no message, a dropped `send_*` either queued
/// its message or did not.
#[derive(Clone)]
pub struct Ws {
    inner: Arc<ConnInner>,
}

impl fmt::Debug for Ws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ws")
            .field("id", &self.inner.id)
            .field("route", &self.inner.route)
            .field("closing", &self.inner.is_closing())
            .finish_non_exhaustive()
    }
}

impl Ws {
    pub(crate) fn from_inner(inner: Arc<ConnInner>) -> Self {
        Self { inner }
    }

    // ------------------------------------------------------------ identity

    /// The connection's id: a random UUIDv4, displayed as Robyn's 36-char
    /// lowercase string.
    pub fn id(&self) -> ConnId {
        self.inner.id
    }

    /// The route this connection came in on (its full path).
    pub fn route(&self) -> &RouteId {
        &self.inner.route
    }

    /// The request path (without the query).
    pub fn path(&self) -> &str {
        &self.inner.head.path
    }

    /// The query parameters, percent-decoded, repeated keys kept.
    pub fn query_params(&self) -> &QueryParams {
        &self.inner.head.query
    }

    /// The raw query string (after `?`, undecoded; empty if none).
    pub fn raw_query(&self) -> &str {
        &self.inner.head.raw_query
    }

    /// The headers of the upgrade request.
    pub fn headers(&self) -> &Headers {
        &self.inner.head.headers
    }

    /// The `Origin` header of the upgrade request, if any.
    pub fn origin(&self) -> Option<&str> {
        self.inner.head.headers.get("origin")
    }

    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.head.peer_addr
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.inner.subprotocol.as_deref()
    }

    /// The app's hub: send to any connection by id, rooms, listings.
    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    // ------------------------------------------------------------ dependencies

    /// The app's global dependencies.
    pub fn globals(&self) -> &Deps {
        &self.inner.scope.globals
    }

    /// The dependencies of the router this route belongs to (nested routers
    /// see their parents' too; the nearest wins).
    pub fn router_deps(&self) -> &Deps {
        &self.inner.scope.router
    }

    /// The global dependency of type `T`.
    pub fn global<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.inner.scope.globals.get()
    }

    /// The router dependency of type `T`.
    pub fn router<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.inner.scope.router.get()
    }

    /// The dependency of type `T`: the router's if it has one, else the
    /// global one.
    pub fn dep<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.router::<T>().or_else(|| self.global::<T>())
    }

    // ------------------------------------------------------------ sending

    /// Queues `message` (text or binary) for this connection, waiting while
    /// it cannot take more (see [Sending](Self#sending)).
    pub async fn send(&self, message: impl Into<Message>) -> Result<()> {
        let inner = &*self.inner;
        if inner.is_closing() {
            return Err(inner.closed_error());
        }
        let mut message = Some(message.into());
        // From the connection's own task: straight into the protocol core.
        let key = inner.key();
        let direct =
            poll_fn(
                |cx| match with_link(key, |link| link.poll_send(inner, cx, &mut message)) {
                    Some(Poll::Ready(result)) => Poll::Ready(Some(result)),
                    Some(Poll::Pending) => Poll::Pending,
                    None => Poll::Ready(None),
                },
            )
            .await;
        match (direct, message) {
            (Some(Ok(())), _) => Ok(()),
            (Some(Err(())), _) | (None, None) => Err(inner.closed_error()),
            // From anywhere else: through the bounded outbound queue.
            (None, Some(message)) => {
                match inner.outbox.queue.push(Outbound::Message(message)).await {
                    Ok(()) => Ok(()),
                    Err(_) => Err(inner.closed_error()),
                }
            }
        }
    }

    /// Sends a text message.
    pub async fn send_text(&self, text: impl Into<String>) -> Result<()> {
        self.send(Message::Text(text.into())).await
    }

    /// Sends a binary message.
    pub async fn send_bytes(&self, data: impl Into<Vec<u8>>) -> Result<()> {
        self.send(Message::Binary(data.into())).await
    }

    /// Sends `value` serialized as JSON, in a text message.
    pub async fn send_json<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        let text = serde_json::to_string(value)?;
        self.send(Message::Text(text)).await
    }

    /// Waits until everything queued for this connection has been handed to
    /// the socket's driver (or the connection is closed): a way to pace a
    /// loop of broadcasts to how fast this client reads.
    pub async fn flush(&self) -> Result<()> {
        let inner = &*self.inner;
        let key = inner.key();
        let direct = poll_fn(
            |cx| match with_link(key, |link| link.poll_flush(inner, cx)) {
                Some(Poll::Ready(())) => Poll::Ready(true),
                Some(Poll::Pending) => Poll::Pending,
                None => Poll::Ready(false),
            },
        )
        .await;
        if !direct {
            inner.outbox.queue.drained().await;
        }
        if self.inner.outbox.queue.is_closed() {
            return Err(self.inner.closed_error());
        }
        Ok(())
    }

    /// Sends `message` to every connection of this route, this one included
    /// (as Robyn does). Never waits; see [`SlowConsumer`](crate::SlowConsumer).
    pub fn broadcast(&self, message: impl Into<Message>) -> Result<()> {
        self.inner.hub.broadcast(self.inner.route.clone(), message)
    }

    /// Sends `message` to every other connection of this route.
    pub fn broadcast_others(&self, message: impl Into<Message>) -> Result<()> {
        self.inner
            .hub
            .broadcast_except(self.inner.route.clone(), message, self.inner.id)
    }

    /// Joins `room`. `false` if the connection is closing.
    pub fn join(&self, room: impl Into<RoomId>) -> bool {
        self.inner.hub.join(self.inner.id, room)
    }

    /// Leaves `room`; `false` if it was not a member.
    pub fn leave(&self, room: impl Into<RoomId>) -> bool {
        self.inner.hub.leave(self.inner.id, room)
    }

    /// The rooms this connection is in.
    pub fn rooms(&self) -> Vec<RoomId> {
        self.inner.hub.rooms_of(self.inner.id)
    }

    /// Sends `message` to every member of `room`, this connection included
    /// if it is a member.
    pub fn send_to_room(&self, room: impl Into<RoomId>, message: impl Into<Message>) -> Result<()> {
        self.inner.hub.send_to_room(room, message)
    }

    /// Sends `message` to every member of `room` but this connection.
    pub fn send_to_room_others(
        &self,
        room: impl Into<RoomId>,
        message: impl Into<Message>,
    ) -> Result<()> {
        self.inner
            .hub
            .send_to_room_except(room, message, self.inner.id)
    }

    // ------------------------------------------------------------ receiving

    /// The next message, text or binary.
    pub async fn receive(&self) -> Result<Message> {
        let inner = &*self.inner;
        let key = inner.key();
        // From the connection's own task: straight from the socket once
        // the inbox is empty; from anywhere else: the inbox.
        let received = poll_fn(|cx| {
            with_link(key, |link| link.poll_receive(inner, cx))
                .unwrap_or_else(|| inner.inbox.poll_pop(cx))
        })
        .await;
        received.ok_or_else(|| inner.closed_error())
    }

    /// The next message as text. A binary message is accepted if it is
    /// UTF-8 ([`Error::NotText`] otherwise), as in Robyn.
    pub async fn receive_text(&self) -> Result<String> {
        match self.receive().await? {
            Message::Text(text) => Ok(text),
            Message::Binary(data) => String::from_utf8(data).map_err(|_| Error::NotText),
        }
    }

    /// The next message as bytes (a text message gives its UTF-8 bytes).
    pub async fn receive_bytes(&self) -> Result<Vec<u8>> {
        Ok(self.receive().await?.into_bytes())
    }

    /// The next message (text or binary) parsed as JSON into `T`.
    pub async fn receive_json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        let message = self.receive().await?;
        Ok(serde_json::from_slice(message.as_bytes())?)
    }

    // ------------------------------------------------------------ closing

    /// Closes the connection normally (1000): a real Close frame, after the
    /// messages already queued. The connection leaves its route and rooms
    /// at once; later sends fail, and `receive_*` returns the rest of what
    /// the peer sent, then [`Error::Closed`] with the peer's answer.
    /// Closing twice is harmless.
    pub async fn close(&self) -> Result<()> {
        self.close_now(CloseCode::NORMAL, "")
    }

    /// Closes the connection with `code` and `reason` (at most 123 bytes).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidClose`] for a code that may not be sent (1005, 1006,
    /// 1015, reserved or out of range) or a reason that is too long.
    pub async fn close_with(&self, code: CloseCode, reason: &str) -> Result<()> {
        self.close_now(code, reason)
    }

    pub(crate) fn close_now(&self, code: CloseCode, reason: &str) -> Result<()> {
        if !code.is_sendable() || reason.len() > MAX_REASON_LEN {
            return Err(Error::InvalidClose {
                code,
                reason_len: reason.len(),
            });
        }
        self.inner.begin_close(code, reason);
        Ok(())
    }

    /// Whether the connection is open: closing has not begun on either side.
    pub fn is_open(&self) -> bool {
        !self.inner.is_closing()
    }

    /// How the connection ended, once it has (always set in `on_close`).
    pub fn close_info(&self) -> Option<CloseInfo> {
        self.inner.close_info()
    }

    /// Waits until the connection has ended.
    pub async fn closed(&self) -> CloseInfo {
        self.inner.end.wait().await;
        self.inner.close_info().unwrap_or_else(|| {
            CloseInfo::new(CloseCode::ABNORMAL_CLOSURE, "", Initiator::Transport, false)
        })
    }
}
