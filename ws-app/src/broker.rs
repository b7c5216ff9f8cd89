//! The broadcast layer: every message addressed by connection id, route or
//! room goes through a [`Broker`]. The default, [`MemoryBroker`], delivers
//! within this process; a cross-process backend implements the same trait,
//! and no handler changes: `ws_app::redis::RedisBroker` (feature `redis`)
//! does it over Redis pub/sub.
//!
//! # How a backend plugs in
//!
//! ```text
//!  ws.broadcast(m) ─┐
//!  hub.send(id, m) ─┼─► Broker::publish(Envelope) ──► (other nodes, if any)
//!  room sends ──────┘            │                          │
//!                                ▼                          ▼
//!                      LocalNode::deliver(&Envelope)  their LocalNode::deliver
//!                      (encode once, queue per recipient)
//! ```
//!
//! - [`Broker::attach`] is called once with this node's [`LocalNode`]: the
//!   backend calls [`LocalNode::deliver`] for every envelope it receives,
//!   including the ones this node published (a pub/sub backend hears its
//!   own messages; it must then deliver them once, not twice).
//! - [`Broker::publish`] must not block: queue the envelope and return (a
//!   network backend hands it to its own task). It runs on the caller's
//!   task, which may be an async handler.
//! - [`Broker::subscribe`] / [`Broker::unsubscribe`] tell the backend which
//!   [`Topic`]s have members on this node (the first connection of a route,
//!   the first member of a room, every connection id), so it can listen
//!   only to the channels that matter here. They are called outside any
//!   lock of the hub; the memory broker ignores them.
//! - Listing connections ([`Hub::connections`](crate::Hub::connections),
//!   [`Hub::room_members`](crate::Hub::room_members)) and room membership
//!   are node-local; a backend may offer cluster-wide listings of its own
//!   (the Redis one does).

use std::fmt;
use std::sync::{Mutex, Weak};

use crate::hub::HubInner;
use crate::id::{ConnId, RoomId, RouteId};
use crate::message::Message;

/// Who a published message is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// One connection.
    Conn(ConnId),
    /// Every connection of a WebSocket route.
    Route(RouteId),
    /// Every member of a room.
    Room(RoomId),
}

impl fmt::Display for Topic {
    /// A channel name a pub/sub backend can use: `conn:<uuid>`,
    /// `route:<path>`, `room:<name>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Conn(id) => write!(f, "conn:{id}"),
            Self::Route(route) => write!(f, "route:{route}"),
            Self::Room(room) => write!(f, "room:{room}"),
        }
    }
}

/// A message on its way through the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The recipients.
    pub topic: Topic,
    /// The message (a text or a binary frame).
    pub message: Message,
    /// A connection to leave out (the sender, for "everyone but me").
    pub except: Option<ConnId>,
}

/// The broker could not take a message (a network backend that is down,
/// for instance).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BrokerError(pub String);

/// The broadcast layer between senders and this node's connections; see
/// the [module docs](self) for the contract.
pub trait Broker: Send + Sync + 'static {
    /// Gives the broker this node's delivery point. Called once, when the
    /// broker is installed on a hub.
    fn attach(&self, node: LocalNode);

    /// Sends `envelope` to every node (this one included). Must not block.
    fn publish(&self, envelope: Envelope) -> Result<(), BrokerError>;

    /// The first local member of `topic` appeared.
    fn subscribe(&self, topic: &Topic) {
        let _ = topic;
    }

    /// The last local member of `topic` left.
    fn unsubscribe(&self, topic: &Topic) {
        let _ = topic;
    }
}

/// This node's delivery point, handed to [`Broker::attach`].
///
/// [`deliver`](Self::deliver) resolves the envelope's topic to the local
/// connections, encodes the frame **once** (`ws_proto::PreparedFrame`) and
/// queues the shared bytes on each recipient's bounded outbound queue,
/// without waiting: a recipient whose queue is full is handled by the
/// [`SlowConsumer`](crate::SlowConsumer) policy.
#[derive(Clone)]
pub struct LocalNode {
    pub(crate) hub: Weak<HubInner>,
}

impl LocalNode {
    /// Delivers `envelope` to the local connections it addresses; returns
    /// how many were queued (0 once the hub is gone).
    pub fn deliver(&self, envelope: &Envelope) -> usize {
        self.hub
            .upgrade()
            .map_or(0, |hub| hub.deliver_local(envelope))
    }
}

impl fmt::Debug for LocalNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalNode").finish_non_exhaustive()
    }
}

/// The in-process broker: `publish` is local delivery. The default.
#[derive(Debug, Default)]
pub struct MemoryBroker {
    node: Mutex<Option<LocalNode>>,
}

impl MemoryBroker {
    /// A broker not attached to any hub yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Broker for MemoryBroker {
    fn attach(&self, node: LocalNode) {
        *self.node.lock().unwrap_or_else(|e| e.into_inner()) = Some(node);
    }

    fn publish(&self, envelope: Envelope) -> Result<(), BrokerError> {
        let node = self.node.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(node) = node {
            node.deliver(&envelope);
        }
        Ok(())
    }
}
