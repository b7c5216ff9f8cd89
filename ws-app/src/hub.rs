//! [`Hub`]: every live connection of an app by id, by route and by room,
//! and the sending side of the broadcast layer.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
#[cfg(test)]
use std::task::{Context, Poll, Waker};

use ws_runtime::CloseCode;
use ws_runtime::ws_proto::PreparedFrame;

use crate::broker::{Broker, Envelope, LocalNode, MemoryBroker, Topic};
use crate::error::{Error, Result};
use crate::id::{ConnId, RoomId, RouteId};
use crate::mailbox::{Mailbox, PushError};
use crate::message::Message;
use crate::ws::{ConnInner, Ws};

/// What happens to a connection whose outbound queue is full when a
/// broadcast, a room message or a message by id arrives for it.
///
/// Such sends never wait (one slow client must not hold up the sender or
/// the other recipients). Sends a handler makes to its own connection
/// ([`Ws::send_text`] and friends) wait for room instead: that is
/// backpressure, not a slow consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlowConsumer {
    /// Close the slow connection with this code (reason `"slow consumer"`):
    /// it is unregistered at once, what was still queued for it is dropped,
    /// and a Close frame follows the bytes already handed to the socket. If
    /// the connection has not ended within
    /// [`AppConfig::slow_consumer_grace`](crate::AppConfig::slow_consumer_grace)
    /// (a peer that reads nothing never sees the Close), its TCP connection
    /// is dropped. The default, with 1013 (Try Again Later).
    Close(CloseCode),
    /// Drop the message for that connection only and keep it open (lossy;
    /// for feeds where the next update supersedes the last). Drops are
    /// counted in [`Hub::dropped_messages`].
    DropMessage,
}

impl Default for SlowConsumer {
    fn default() -> Self {
        Self::Close(CloseCode::TRY_AGAIN_LATER)
    }
}

/// The close reason sent to a slow consumer.
pub(crate) const SLOW_CONSUMER_REASON: &str = "slow consumer";

/// One item on a connection's outbound queue.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// A message for this connection only.
    Message(Message),
    /// A frame encoded once and shared by every recipient.
    Prepared(Arc<PreparedFrame>),
    /// Start the closing handshake.
    Close(CloseCode, String),
}

/// A connection's bounded outbound queue, drained by its connection task
/// (the queue's consumer).
pub(crate) struct Outbox {
    pub(crate) queue: Mailbox<Outbound>,
    capacity: usize,
    policy: SlowConsumer,
    overflowed: AtomicBool,
    /// Fan-out items held back while `on_connect` runs, so that its
    /// greeting goes out before them; `None` once released.
    held: Mutex<Option<Vec<Outbound>>>,
}

impl Outbox {
    pub(crate) fn new(capacity: usize, policy: SlowConsumer) -> Self {
        Self {
            queue: Mailbox::new(capacity),
            capacity: capacity.max(1),
            policy,
            overflowed: AtomicBool::new(false),
            held: Mutex::new(Some(Vec::new())),
        }
    }

    fn held(&self) -> MutexGuard<'_, Option<Vec<Outbound>>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a fan-out item without waiting; applies the slow-consumer
    /// policy when the queue is full.
    fn offer(&self, item: Outbound, dropped: &AtomicU64) -> Offer {
        {
            let mut held = self.held();
            if let Some(held) = held.as_mut() {
                if held.len() < self.capacity {
                    held.push(item);
                    return Offer::Queued;
                }
                return self.full(dropped);
            }
        }
        match self.queue.try_push(item) {
            Ok(()) => Offer::Queued,
            Err(PushError::Closed(_)) => Offer::Refused,
            Err(PushError::Full(_)) => self.full(dropped),
        }
    }

    fn full(&self, dropped: &AtomicU64) -> Offer {
        dropped.fetch_add(1, Ordering::Relaxed);
        match self.policy {
            SlowConsumer::DropMessage => Offer::Refused,
            SlowConsumer::Close(code) => {
                if self.overflowed.swap(true, Ordering::AcqRel) {
                    return Offer::Refused;
                }
                self.queue.wake_consumer();
                Offer::Overflowed(code)
            }
        }
    }

    /// Queues the fan-out items held back during `on_connect` (after
    /// everything queued so far) and stops holding. Idempotent.
    pub(crate) fn release_held(&self) {
        let mut held = self.held();
        for item in held.take().unwrap_or_default() {
            let _ = self.queue.force_push(item);
        }
    }

    /// Drops the held items and stops holding (the connection is closing).
    pub(crate) fn drop_held(&self) {
        let items = self.held().take();
        drop(items);
    }

    /// The close code once the queue overflowed under
    /// [`SlowConsumer::Close`]. The queue's consumer is woken when it does.
    pub(crate) fn overflowed(&self) -> Option<CloseCode> {
        match self.policy {
            SlowConsumer::Close(code) if self.overflowed.load(Ordering::Acquire) => Some(code),
            _ => None,
        }
    }

    /// `Ready(code)` once the queue overflowed under
    /// [`SlowConsumer::Close`]; registers `cx` as the queue's consumer.
    #[cfg(test)]
    pub(crate) fn poll_overflowed(&self, cx: &mut Context<'_>) -> Poll<CloseCode> {
        if let Some(code) = self.overflowed() {
            return Poll::Ready(code);
        }
        self.queue.set_consumer(cx.waker().clone());
        match self.overflowed() {
            Some(code) => Poll::Ready(code),
            None => Poll::Pending,
        }
    }
}

/// What [`Outbox::offer`] did.
enum Offer {
    Queued,
    Refused,
    /// The queue just overflowed under [`SlowConsumer::Close`].
    Overflowed(CloseCode),
}

struct Entry {
    route: RouteId,
    conn: Weak<ConnInner>,
    outbox: Arc<Outbox>,
    rooms: HashSet<RoomId>,
}

#[derive(Default)]
struct Registry {
    conns: HashMap<ConnId, Entry>,
    routes: HashMap<RouteId, HashSet<ConnId>>,
    rooms: HashMap<RoomId, HashSet<ConnId>>,
}

pub(crate) struct HubInner {
    registry: Mutex<Registry>,
    broker: RwLock<Arc<dyn Broker>>,
    dropped: AtomicU64,
}

/// The connections of an app, by id, by route and by room, and the way to
/// reach them from anywhere: handlers, HTTP handlers, background tasks.
///
/// Cheap to clone (a shared handle); get it from [`App::hub`](crate::App::hub)
/// (before serving), [`Ws::hub`], [`HttpRequest::hub`](crate::HttpRequest::hub)
/// or [`ServerHandle::hub`](crate::ServerHandle::hub).
///
/// Sends by id, route or room go through the [`Broker`] and never wait for
/// a recipient (see [`SlowConsumer`]); they return once the message is
/// queued for the local recipients (or handed to a cross-process broker).
/// Listings and room membership cover this process's connections.
///
/// A connection is registered once its `101 Switching Protocols` is sent
/// and unregistered as soon as it starts closing or ends, whichever side
/// closed and however: a closing connection receives no more broadcasts,
/// and no listing ever shows a dead one.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("connections", &self.connection_count())
            .finish_non_exhaustive()
    }
}

impl HubInner {
    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn broker(&self) -> Arc<dyn Broker> {
        self.broker
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Local fan-out: encode once, queue everywhere, never wait.
    pub(crate) fn deliver_local(&self, envelope: &Envelope) -> usize {
        let targets: Vec<(Arc<Outbox>, Weak<ConnInner>)> = {
            let registry = self.registry();
            let ids: Vec<ConnId> = match &envelope.topic {
                Topic::Conn(id) => vec![*id],
                Topic::Route(route) => registry
                    .routes
                    .get(route)
                    .map(|ids| ids.iter().copied().collect())
                    .unwrap_or_default(),
                Topic::Room(room) => registry
                    .rooms
                    .get(room)
                    .map(|ids| ids.iter().copied().collect())
                    .unwrap_or_default(),
            };
            ids.into_iter()
                .filter(|id| Some(*id) != envelope.except)
                .filter_map(|id| {
                    let entry = registry.conns.get(&id)?;
                    Some((entry.outbox.clone(), entry.conn.clone()))
                })
                .collect()
        };
        if targets.is_empty() {
            return 0;
        }
        let frame = Arc::new(match &envelope.message {
            Message::Text(text) => PreparedFrame::text(text),
            Message::Binary(data) => PreparedFrame::binary(data),
        });
        let mut queued = 0;
        for (outbox, conn) in &targets {
            match outbox.offer(Outbound::Prepared(frame.clone()), &self.dropped) {
                Offer::Queued => queued += 1,
                Offer::Refused => {}
                Offer::Overflowed(code) => {
                    // Closing starts now: the connection leaves its route
                    // and rooms before this call returns, and what was
                    // queued for it is dropped. Its connection task sends
                    // the Close (see `SlowConsumer::Close`).
                    if let Some(conn) = conn.upgrade() {
                        conn.begin_close_out_of_band(code, SLOW_CONSUMER_REASON);
                    }
                }
            }
        }
        queued
    }
}

impl LocalNode {
    /// The hub this node delivers to (`None` once it is gone), for a
    /// backend that needs this node's listings.
    pub fn hub(&self) -> Option<Hub> {
        self.hub.upgrade().map(|inner| Hub { inner })
    }
}

impl Hub {
    /// An empty hub with a [`MemoryBroker`].
    pub fn new() -> Self {
        let inner = Arc::new_cyclic(|weak: &Weak<HubInner>| {
            let broker = MemoryBroker::new();
            broker.attach(LocalNode { hub: weak.clone() });
            HubInner {
                registry: Mutex::new(Registry::default()),
                broker: RwLock::new(Arc::new(broker)),
                dropped: AtomicU64::new(0),
            }
        });
        Self { inner }
    }

    /// Installs `broker` as the broadcast layer (attaching it to this hub).
    /// Do it before serving; topics already subscribed are announced to the
    /// new broker.
    pub fn set_broker(&self, broker: Arc<dyn Broker>) {
        broker.attach(LocalNode {
            hub: Arc::downgrade(&self.inner),
        });
        let topics = self.subscribed_topics();
        *self.inner.broker.write().unwrap_or_else(|e| e.into_inner()) = broker.clone();
        for topic in &topics {
            broker.subscribe(topic);
        }
    }

    fn subscribed_topics(&self) -> Vec<Topic> {
        let registry = self.inner.registry();
        registry
            .conns
            .keys()
            .map(|id| Topic::Conn(*id))
            .chain(registry.routes.keys().cloned().map(Topic::Route))
            .chain(registry.rooms.keys().cloned().map(Topic::Room))
            .collect()
    }

    /// Publishes an envelope through the broker.
    pub fn publish(&self, envelope: Envelope) -> Result<()> {
        self.inner.broker().publish(envelope).map_err(Error::from)
    }

    /// Sends `message` to the connection `id` (wherever it is, through the
    /// broker). Sending to an id that is not connected is not an error:
    /// the message is dropped, as a message to a client that just left
    /// would be.
    pub fn send(&self, id: ConnId, message: impl Into<Message>) -> Result<()> {
        self.publish(Envelope {
            topic: Topic::Conn(id),
            message: message.into(),
            except: None,
        })
    }

    /// Sends `value` as JSON in a text message to the connection `id`.
    pub fn send_json<T: serde::Serialize + ?Sized>(&self, id: ConnId, value: &T) -> Result<()> {
        self.send(id, serde_json::to_string(value)?)
    }

    /// Sends `message` to every connection of the WebSocket route `route`
    /// (its full path, such as `"/chat"`).
    pub fn broadcast(&self, route: impl Into<RouteId>, message: impl Into<Message>) -> Result<()> {
        self.publish(Envelope {
            topic: Topic::Route(route.into()),
            message: message.into(),
            except: None,
        })
    }

    /// Sends `message` to every connection of `route` except `except`.
    pub fn broadcast_except(
        &self,
        route: impl Into<RouteId>,
        message: impl Into<Message>,
        except: ConnId,
    ) -> Result<()> {
        self.publish(Envelope {
            topic: Topic::Route(route.into()),
            message: message.into(),
            except: Some(except),
        })
    }

    /// Sends `message` to every member of `room`.
    pub fn send_to_room(&self, room: impl Into<RoomId>, message: impl Into<Message>) -> Result<()> {
        self.publish(Envelope {
            topic: Topic::Room(room.into()),
            message: message.into(),
            except: None,
        })
    }

    /// Sends `message` to every member of `room` except `except` (the
    /// sender, typically).
    pub fn send_to_room_except(
        &self,
        room: impl Into<RoomId>,
        message: impl Into<Message>,
        except: ConnId,
    ) -> Result<()> {
        self.publish(Envelope {
            topic: Topic::Room(room.into()),
            message: message.into(),
            except: Some(except),
        })
    }

    /// Adds the local connection `id` to `room`; `false` if `id` is not
    /// connected here.
    pub fn join(&self, id: ConnId, room: impl Into<RoomId>) -> bool {
        let room = room.into();
        let new_topic = {
            let mut registry = self.inner.registry();
            let Some(entry) = registry.conns.get_mut(&id) else {
                return false;
            };
            entry.rooms.insert(room.clone());
            let members = registry.rooms.entry(room.clone()).or_default();
            let first = members.is_empty();
            members.insert(id);
            first
        };
        if new_topic {
            self.inner.broker().subscribe(&Topic::Room(room));
        }
        true
    }

    /// Removes the connection `id` from `room`; `false` if it was not a
    /// member.
    pub fn leave(&self, id: ConnId, room: impl Into<RoomId>) -> bool {
        let room = room.into();
        let (was_member, emptied) = {
            let mut registry = self.inner.registry();
            if let Some(entry) = registry.conns.get_mut(&id) {
                entry.rooms.remove(&room);
            }
            match registry.rooms.get_mut(&room) {
                Some(members) => {
                    let was = members.remove(&id);
                    let emptied = members.is_empty();
                    if emptied {
                        registry.rooms.remove(&room);
                    }
                    (was, emptied)
                }
                None => (false, false),
            }
        };
        if emptied {
            self.inner.broker().unsubscribe(&Topic::Room(room));
        }
        was_member
    }

    /// The ids connected to `route`, sorted.
    pub fn connections(&self, route: impl Into<RouteId>) -> Vec<ConnId> {
        let registry = self.inner.registry();
        let mut ids: Vec<ConnId> = registry
            .routes
            .get(&route.into())
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default();
        ids.sort_unstable();
        ids
    }

    /// Every connected id, sorted.
    pub fn all_connections(&self) -> Vec<ConnId> {
        let mut ids: Vec<ConnId> = self.inner.registry().conns.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// The members of `room`, sorted.
    pub fn room_members(&self, room: impl Into<RoomId>) -> Vec<ConnId> {
        let registry = self.inner.registry();
        let mut ids: Vec<ConnId> = registry
            .rooms
            .get(&room.into())
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default();
        ids.sort_unstable();
        ids
    }

    /// The rooms with at least one member, sorted.
    pub fn rooms(&self) -> Vec<RoomId> {
        let mut rooms: Vec<RoomId> = self.inner.registry().rooms.keys().cloned().collect();
        rooms.sort_unstable();
        rooms
    }

    /// The rooms `id` is in, sorted.
    pub fn rooms_of(&self, id: ConnId) -> Vec<RoomId> {
        let registry = self.inner.registry();
        let mut rooms: Vec<RoomId> = registry
            .conns
            .get(&id)
            .map(|e| e.rooms.iter().cloned().collect())
            .unwrap_or_default();
        rooms.sort_unstable();
        rooms
    }

    /// The routes with at least one connection, sorted.
    pub fn routes(&self) -> Vec<RouteId> {
        let mut routes: Vec<RouteId> = self.inner.registry().routes.keys().cloned().collect();
        routes.sort_unstable();
        routes
    }

    /// Whether `id` is connected here (and not closing).
    pub fn is_connected(&self, id: ConnId) -> bool {
        self.inner.registry().conns.contains_key(&id)
    }

    /// The number of connections here.
    pub fn connection_count(&self) -> usize {
        self.inner.registry().conns.len()
    }

    /// A handle on the local connection `id`, to send to it, close it or
    /// read its request details.
    pub fn get(&self, id: ConnId) -> Option<Ws> {
        let registry = self.inner.registry();
        registry.conns.get(&id)?.conn.upgrade().map(Ws::from_inner)
    }

    /// Closes the local connection `id` with `code` and `reason`; `false`
    /// if it is not connected here.
    pub fn close(&self, id: ConnId, code: CloseCode, reason: &str) -> Result<bool> {
        match self.get(id) {
            Some(ws) => ws.close_now(code, reason).map(|_| true),
            None => Ok(false),
        }
    }

    /// Closes every local connection with `code` and `reason` (a server
    /// shutting down uses 1001, Going Away).
    pub fn close_all(&self, code: CloseCode, reason: &str) {
        let conns: Vec<Arc<ConnInner>> = {
            let registry = self.inner.registry();
            registry
                .conns
                .values()
                .filter_map(|e| e.conn.upgrade())
                .collect()
        };
        for conn in conns {
            let _ = Ws::from_inner(conn).close_now(code, reason);
        }
    }

    /// Messages a full outbound queue refused so far (see [`SlowConsumer`]).
    pub fn dropped_messages(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn register(&self, conn: &Arc<ConnInner>) {
        let id = conn.id;
        let route = conn.route.clone();
        let first_of_route = {
            let mut registry = self.inner.registry();
            registry.conns.insert(
                id,
                Entry {
                    route: route.clone(),
                    conn: Arc::downgrade(conn),
                    outbox: conn.outbox.clone(),
                    rooms: HashSet::new(),
                },
            );
            let members = registry.routes.entry(route.clone()).or_default();
            let first = members.is_empty();
            members.insert(id);
            first
        };
        let broker = self.inner.broker();
        broker.subscribe(&Topic::Conn(id));
        if first_of_route {
            broker.subscribe(&Topic::Route(route));
        }
    }

    /// Forgets `id` everywhere; idempotent.
    pub(crate) fn unregister(&self, id: ConnId) {
        let mut gone: Vec<Topic> = Vec::new();
        {
            let mut registry = self.inner.registry();
            let Some(entry) = registry.conns.remove(&id) else {
                return;
            };
            gone.push(Topic::Conn(id));
            if let Some(members) = registry.routes.get_mut(&entry.route) {
                members.remove(&id);
                if members.is_empty() {
                    registry.routes.remove(&entry.route);
                    gone.push(Topic::Route(entry.route.clone()));
                }
            }
            for room in entry.rooms {
                if let Some(members) = registry.rooms.get_mut(&room) {
                    members.remove(&id);
                    if members.is_empty() {
                        registry.rooms.remove(&room);
                        gone.push(Topic::Room(room));
                    }
                }
            }
        }
        let broker = self.inner.broker();
        for topic in &gone {
            broker.unsubscribe(topic);
        }
    }

    #[cfg(test)]
    pub(crate) fn register_outbox(&self, id: ConnId, route: &str, outbox: Arc<Outbox>) {
        outbox.release_held();
        let mut registry = self.inner.registry();
        registry.conns.insert(
            id,
            Entry {
                route: RouteId::from(route),
                conn: Weak::new(),
                outbox,
                rooms: HashSet::new(),
            },
        );
        registry
            .routes
            .entry(RouteId::from(route))
            .or_default()
            .insert(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(outbox: &Outbox) -> Vec<Outbound> {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut items = Vec::new();
        while let Poll::Ready(Some(item)) = outbox.queue.poll_pop(&mut cx) {
            items.push(item);
        }
        items
    }

    #[test]
    fn broadcast_encodes_once_and_shares_the_bytes() {
        let hub = Hub::new();
        let outboxes: Vec<Arc<Outbox>> = (0..3)
            .map(|_| Arc::new(Outbox::new(8, SlowConsumer::default())))
            .collect();
        let ids: Vec<ConnId> = (0..3).map(|_| ConnId::new_v4()).collect();
        for (id, outbox) in ids.iter().zip(&outboxes) {
            hub.register_outbox(*id, "/chat", outbox.clone());
        }
        hub.register_outbox(
            ConnId::new_v4(),
            "/other",
            Arc::new(Outbox::new(8, SlowConsumer::default())),
        );
        hub.broadcast("/chat", "hello").unwrap();
        let frames: Vec<Arc<PreparedFrame>> = outboxes
            .iter()
            .flat_map(|o| drain(o))
            .map(|item| match item {
                Outbound::Prepared(frame) => frame,
                other => panic!("expected a prepared frame, got {other:?}"),
            })
            .collect();
        assert_eq!(frames.len(), 3);
        assert!(frames.iter().all(|f| Arc::ptr_eq(f, &frames[0])));
        assert_eq!(frames[0].as_bytes(), b"\x81\x05hello");

        hub.broadcast_except("/chat", vec![1u8, 2], ids[0]).unwrap();
        assert!(drain(&outboxes[0]).is_empty());
        assert_eq!(drain(&outboxes[1]).len(), 1);
    }

    #[test]
    fn full_queue_triggers_the_policy_without_blocking() {
        let hub = Hub::new();
        let slow = Arc::new(Outbox::new(2, SlowConsumer::default()));
        let lossy = Arc::new(Outbox::new(2, SlowConsumer::DropMessage));
        hub.register_outbox(ConnId::new_v4(), "/r", slow.clone());
        hub.register_outbox(ConnId::new_v4(), "/r", lossy.clone());
        for i in 0..5 {
            hub.broadcast("/r", format!("m{i}")).unwrap();
        }
        assert_eq!(hub.dropped_messages(), 6);
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert_eq!(
            slow.poll_overflowed(&mut cx),
            Poll::Ready(CloseCode::TRY_AGAIN_LATER)
        );
        assert_eq!(lossy.poll_overflowed(&mut cx), Poll::Pending);
        assert_eq!(drain(&lossy).len(), 2);
    }

    #[test]
    fn fan_out_waits_for_the_greeting() {
        let outbox = Outbox::new(2, SlowConsumer::default());
        let dropped = AtomicU64::new(0);
        assert!(matches!(
            outbox.offer(Outbound::Message("broadcast".into()), &dropped),
            Offer::Queued
        ));
        assert_eq!(outbox.queue.len(), 0, "held while on_connect runs");
        outbox
            .queue
            .try_push(Outbound::Message("greeting".into()))
            .unwrap();
        outbox.release_held();
        outbox.release_held();
        let order: Vec<String> = drain(&outbox)
            .into_iter()
            .map(|item| match item {
                Outbound::Message(m) => m.as_text().unwrap_or_default().to_owned(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(order, ["greeting", "broadcast"]);
        // Held items count against the capacity.
        let outbox = Outbox::new(1, SlowConsumer::default());
        assert!(matches!(
            outbox.offer(Outbound::Message("a".into()), &dropped),
            Offer::Queued
        ));
        assert!(matches!(
            outbox.offer(Outbound::Message("b".into()), &dropped),
            Offer::Overflowed(CloseCode::TRY_AGAIN_LATER)
        ));
    }

    #[test]
    fn rooms_and_unregister_leave_nothing_behind() {
        let hub = Hub::new();
        let a = ConnId::new_v4();
        let b = ConnId::new_v4();
        hub.register_outbox(a, "/g", Arc::new(Outbox::new(4, SlowConsumer::default())));
        hub.register_outbox(b, "/g", Arc::new(Outbox::new(4, SlowConsumer::default())));
        assert!(hub.join(a, "red"));
        assert!(hub.join(b, "red"));
        assert!(hub.join(b, "blue"));
        assert!(!hub.join(ConnId::new_v4(), "red"));
        assert_eq!(hub.room_members("red").len(), 2);
        assert_eq!(
            hub.rooms_of(b),
            vec![RoomId::from("blue"), RoomId::from("red")]
        );
        assert!(hub.leave(a, "red"));
        assert!(!hub.leave(a, "red"));
        hub.unregister(b);
        hub.unregister(b);
        assert!(hub.rooms().is_empty());
        assert_eq!(hub.connections("/g"), vec![a]);
        hub.unregister(a);
        assert!(hub.routes().is_empty());
        assert_eq!(hub.connection_count(), 0);
    }
}
