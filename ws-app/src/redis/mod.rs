//! [`RedisBroker`]: broadcast, rooms and send-to-id across every `ws-app`
//! node that shares a Redis server, over Redis pub/sub (feature `redis`,
//! on tokio and on smol).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ws_app::{App, Server, redis::RedisBroker};
//!
//! let broker = RedisBroker::connect("redis://127.0.0.1:6379").await?; // Err if unreachable
//! let mut app = App::new();
//! app.broker(broker.clone());
//! app.inject_global(broker.clone()); // for cluster-wide listings in handlers
//! // ... routes ...
//! let server = Server::<ws_app::rt::Tokio>::bind(app, "127.0.0.1:8080").await?;
//! # let _ = server;
//! let everyone = broker.cluster_connections("/chat").await?; // every node's ids
//! # let _ = everyone;
//! # Ok(())
//! # }
//! ```
//!
//! # How it works
//!
//! - **Channels.** Every [`Topic`] is one pub/sub channel,
//!   `<prefix>:<topic>` (prefix [`RedisConfig::prefix`], default
//!   `ws-app`): `ws-app:route:/chat`, `ws-app:room:red`,
//!   `ws-app:conn:<uuid>`. A node subscribes to exactly the channels it has
//!   local members for (the hub tells it through [`Broker::subscribe`]),
//!   so a send-to-id travels to the one node that holds the connection.
//!   Connection ids are random UUIDv4s, unique across nodes.
//! - **Publishing** ([`Broker::publish`]) delivers to this node's
//!   connections at once, then queues the frame for the publisher task
//!   (bounded, [`RedisConfig::publish_queue`]; never waits), which sends
//!   batches of `PUBLISH` over one connection, in order. A message to an
//!   id connected here is not published at all.
//! - **Exactly once, in order per publisher.** The frame carries the
//!   publishing node's id; a node drops the copy of its own publications
//!   that Redis hands back (it delivered them locally already). Every
//!   other node hears each publication once per channel it is subscribed
//!   to, and a message has one channel, so each target connection gets it
//!   once. Redis keeps the order of one connection's `PUBLISH`es, so the
//!   messages of one publishing node arrive in the order they were
//!   published. There is no order across publishers.
//! - **Listings.** [`Hub::connections`](crate::Hub::connections) and the
//!   other hub listings stay node-local. The cluster-wide ones are
//!   [`RedisBroker::cluster_connections`],
//!   [`cluster_all_connections`](RedisBroker::cluster_all_connections),
//!   [`cluster_room_members`](RedisBroker::cluster_room_members) and
//!   [`cluster_nodes`](RedisBroker::cluster_nodes). Each node keeps a
//!   snapshot of its routes and rooms with their ids in the key
//!   `<prefix>:node:<node id>` (format below), lists its id in the set
//!   `<prefix>:nodes`, and rewrites the snapshot when it changes (checked
//!   every [`RedisConfig::listing_interval`], and right after new channel
//!   subscriptions are confirmed). The key expires after three intervals,
//!   so a node that dies without saying goodbye drops out of the listing
//!   within three intervals; the set entry of a node whose key is gone is
//!   removed by the next listing. A snapshot only names ids whose channels
//!   are subscribed, so an id that shows up in a cluster listing can be
//!   reached by a send from any node.
//!
//! # Faults and delivery guarantees
//!
//! Redis pub/sub is **at-most-once**: a message published while a node's
//! subscription is down is not kept for it.
//!
//! - Redis unreachable at start: [`RedisBroker::connect`] fails with an
//!   error naming the URL and the cause.
//! - Redis lost while running: local delivery keeps working (publish
//!   delivers locally before it queues), messages published here while
//!   the publish connection is down reach this node's connections only
//!   (counted in [`RedisStats::publish_dropped`]). Both connections
//!   reconnect with exponential backoff ([`RedisConfig::backoff_min`]
//!   doubling up to [`RedisConfig::backoff_max`]); the subscriber then
//!   resubscribes every current topic and logs (`log::warn!`) the loss
//!   window: `redis pub/sub at <url> down from <t0> to <t1> (<secs> s);
//!   messages published by other nodes in that window are lost` (UTC
//!   times, the URL without its password).
//! - A subscriber too slow for Redis' `client-output-buffer-limit pubsub`
//!   is disconnected by Redis: the same reconnect, the same log line.
//! - Replay, if it is ever needed, is a job for Redis Streams (`XADD` /
//!   `XREAD` from the last id seen) instead of pub/sub; this backend does
//!   not do it.
//!
//! # Wire format
//!
//! One pub/sub message is one frame (all integers big-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | version, `1` (anything else is rejected) |
//! | 1 | 1 | flags: `0x01` binary payload (else UTF-8 text), `0x02` except id present; other bits must be 0 |
//! | 2 | 16 | publishing node id (random, per [`RedisBroker`]) |
//! | 18 | 1 | topic kind: `0` connection, `1` route, `2` room |
//! | 19 | 2 | topic length `n` |
//! | 21 | n | topic: the 16 id bytes for a connection, UTF-8 route path or room name otherwise |
//! | 21+n | 16 | except id (only with flag `0x02`) |
//! | … | rest | payload, the message bytes (a text payload must be UTF-8) |
//!
//! A listing snapshot (`<prefix>:node:<id>` value) is: version `1` (u8);
//! then the routes: count (u32), and for each a name length (u16), the
//! UTF-8 name, an id count (u32) and that many 16-byte ids; then the rooms
//! the same way; nothing after. A frame or snapshot that does not decode
//! is dropped and counted ([`RedisStats::malformed`]), never a panic.

mod wire;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use ::redis::aio::{MultiplexedConnection, PubSubSink, PubSubStream};
use ::redis::{AsyncConnectionConfig, Client};
use futures_util::StreamExt;

use crate::broker::{Broker, BrokerError, Envelope, LocalNode, Topic};
use crate::id::{ConnId, RoomId, RouteId};
use crate::rt::{Either, race};

/// Settings of a [`RedisBroker`]; [`RedisConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisConfig {
    /// The server, `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// The namespace of every channel and key (default `ws-app`); apps
    /// sharing a Redis server with different prefixes do not see each
    /// other.
    pub prefix: String,
    /// Frames waiting for the publisher task (default 65536); when full,
    /// further publications reach local connections only and are counted
    /// in [`RedisStats::publish_dropped`].
    pub publish_queue: usize,
    /// Most `PUBLISH`es sent in one pipeline (default 256).
    pub publish_batch: usize,
    /// Connecting (and any one command) gives up after this (default 2 s).
    pub connect_timeout: Duration,
    /// First wait before a reconnect (default 100 ms).
    pub backoff_min: Duration,
    /// Longest wait between reconnects (default 5 s).
    pub backoff_max: Duration,
    /// How often the listing snapshot is checked and its key refreshed
    /// (default 1 s; the key lives three times as long).
    pub listing_interval: Duration,
}

impl RedisConfig {
    /// The defaults, for the server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "ws-app".to_owned(),
            publish_queue: 65_536,
            publish_batch: 256,
            connect_timeout: Duration::from_secs(2),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            listing_interval: Duration::from_secs(1),
        }
    }
}

/// Counters of a [`RedisBroker`], from [`RedisBroker::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisStats {
    /// Frames handed to Redis.
    pub published: u64,
    /// Publications that reached local connections only (queue full or
    /// Redis down).
    pub publish_dropped: u64,
    /// Frames from other nodes delivered here.
    pub received: u64,
    /// This node's own frames heard back and skipped.
    pub own_skipped: u64,
    /// Frames or snapshots that did not decode.
    pub malformed: u64,
    /// Successful reconnects of the subscription.
    pub reconnects: u64,
}

/// A node in the cluster listing ([`RedisBroker::cluster_listing`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterListing {
    /// The live nodes' ids (hex), sorted.
    pub nodes: Vec<String>,
    /// Every route with its ids across the nodes, sorted.
    pub routes: BTreeMap<RouteId, Vec<ConnId>>,
    /// Every room with its members across the nodes, sorted.
    pub rooms: BTreeMap<RoomId, Vec<ConnId>>,
}

/// The runtime the background tasks run on, picked at connect time.
#[derive(Debug, Clone, Copy)]
enum Exec {
    #[cfg(feature = "tokio")]
    Tokio,
    #[cfg(feature = "smol")]
    Smol,
}

impl Exec {
    fn detect() -> Option<Self> {
        #[cfg(feature = "tokio")]
        if tokio::runtime::Handle::try_current().is_ok() {
            return Some(Self::Tokio);
        }
        Self::fallback()
    }

    #[cfg(feature = "smol")]
    fn fallback() -> Option<Self> {
        Some(Self::Smol)
    }

    #[cfg(not(feature = "smol"))]
    fn fallback() -> Option<Self> {
        None
    }

    fn spawn(self, future: impl Future<Output = ()> + Send + 'static) {
        match self {
            #[cfg(feature = "tokio")]
            Self::Tokio => {
                crate::rt::spawn(&<crate::rt::Tokio as crate::rt::Runtime>::runtime(), future)
            }
            #[cfg(feature = "smol")]
            Self::Smol => {
                crate::rt::spawn(&<crate::rt::Smol as crate::rt::Runtime>::runtime(), future)
            }
        }
    }

    async fn sleep(self, duration: Duration) {
        match self {
            #[cfg(feature = "tokio")]
            Self::Tokio => {
                crate::rt::sleep(
                    &<crate::rt::Tokio as crate::rt::Runtime>::runtime(),
                    duration,
                )
                .await;
            }
            #[cfg(feature = "smol")]
            Self::Smol => {
                crate::rt::sleep(
                    &<crate::rt::Smol as crate::rt::Runtime>::runtime(),
                    duration,
                )
                .await;
            }
        }
    }

    /// `future`, or `Err` naming `what` after `limit`.
    async fn timeout<T>(
        self,
        limit: Duration,
        what: &str,
        future: impl Future<Output = ::redis::RedisResult<T>>,
    ) -> Result<T, String> {
        match race(future, self.sleep(limit)).await {
            Either::Left(Ok(value)) => Ok(value),
            Either::Left(Err(e)) => Err(e.to_string()),
            Either::Right(()) => Err(format!("{what} timed out after {limit:?}")),
        }
    }
}

/// What the publisher task is asked to do.
enum Out {
    /// `PUBLISH channel frame`.
    Publish(Vec<u8>, Vec<u8>),
    /// Channel subscriptions changed: rewrite the listing snapshot.
    Refresh,
}

/// What the subscriber task is asked to do.
enum Ctl {
    Subscribe(Topic),
    Unsubscribe(Topic),
}

/// State shared by the handle and the background tasks.
struct Shared {
    url: String,
    prefix: String,
    node_id: [u8; 16],
    node: RwLock<Option<LocalNode>>,
    /// Topics whose channel subscription Redis confirmed.
    confirmed: Mutex<HashSet<Topic>>,
    up: AtomicBool,
    published: AtomicU64,
    publish_dropped: AtomicU64,
    received: AtomicU64,
    own_skipped: AtomicU64,
    malformed: AtomicU64,
    reconnects: AtomicU64,
}

impl Shared {
    fn node(&self) -> Option<LocalNode> {
        self.node.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn channel(&self, topic: &Topic) -> Vec<u8> {
        format!("{}:{topic}", self.prefix).into_bytes()
    }

    fn node_hex(&self) -> String {
        hex(&self.node_id)
    }

    fn node_key(&self, node_hex: &str) -> String {
        format!("{}:node:{node_hex}", self.prefix)
    }

    fn nodes_key(&self) -> String {
        format!("{}:nodes", self.prefix)
    }

    fn confirmed(&self) -> std::sync::MutexGuard<'_, HashSet<Topic>> {
        self.confirmed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether this node still has members of `topic`.
    fn has_local_members(&self, topic: &Topic) -> bool {
        let Some(hub) = self.node().and_then(|node| node.hub()) else {
            return false;
        };
        match topic {
            Topic::Conn(id) => hub.is_connected(*id),
            Topic::Route(route) => !hub.connections(route).is_empty(),
            Topic::Room(room) => !hub.room_members(room).is_empty(),
        }
    }

    /// This node's listing, limited to subscribed channels.
    fn snapshot(&self) -> wire::Snapshot {
        let Some(hub) = self.node().and_then(|node| node.hub()) else {
            return wire::Snapshot::default();
        };
        let confirmed = self.confirmed().clone();
        let reachable = |ids: Vec<ConnId>| -> Vec<ConnId> {
            ids.into_iter()
                .filter(|id| confirmed.contains(&Topic::Conn(*id)))
                .collect()
        };
        let routes = hub
            .routes()
            .into_iter()
            .filter(|route| confirmed.contains(&Topic::Route(route.clone())))
            .map(|route| {
                let ids = reachable(hub.connections(&route));
                (route, ids)
            })
            .filter(|(_, ids)| !ids.is_empty())
            .collect();
        let rooms = hub
            .rooms()
            .into_iter()
            .filter(|room| confirmed.contains(&Topic::Room(room.clone())))
            .map(|room| {
                let ids = reachable(hub.room_members(&room));
                (room, ids)
            })
            .filter(|(_, ids)| !ids.is_empty())
            .collect();
        wire::Snapshot { routes, rooms }
    }
}

/// The Redis pub/sub [`Broker`]: see the [module docs](self). Cheap to
/// clone (a shared handle); the background tasks stop when the last clone
/// is dropped or at [`close`](Self::close).
#[derive(Clone)]
pub struct RedisBroker {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    client: Client,
    config: RedisConfig,
    out: async_channel::Sender<Out>,
    ctl: async_channel::Sender<Ctl>,
    /// A connection for the cluster listings, opened on first use.
    query: Mutex<Option<MultiplexedConnection>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.out.close();
        self.ctl.close();
    }
}

impl fmt::Debug for RedisBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBroker")
            .field("url", &self.inner.shared.url)
            .field("node", &self.inner.shared.node_hex())
            .finish_non_exhaustive()
    }
}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
fn utc(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

impl RedisBroker {
    /// Connects to the Redis server at `url` (`redis://127.0.0.1:6379`)
    /// with the default [`RedisConfig`]; see [`connect_with`](Self::connect_with).
    pub async fn connect(url: &str) -> Result<Self, BrokerError> {
        Self::connect_with(RedisConfig::new(url)).await
    }

    /// Connects with `config`: opens the publish and the subscription
    /// connections (an error names the URL and the cause if either
    /// fails) and starts the background tasks on the current runtime
    /// (tokio inside a tokio runtime, else smol).
    pub async fn connect_with(config: RedisConfig) -> Result<Self, BrokerError> {
        let shown = redact(&config.url);
        let fail = |cause: String| BrokerError(format!("cannot use Redis at {shown}: {cause}"));
        let exec = Exec::detect().ok_or_else(|| {
            fail(
                "no runtime: call from a tokio runtime (feature tokio) or enable feature smol"
                    .into(),
            )
        })?;
        let client = Client::open(config.url.as_str()).map_err(|e| fail(e.to_string()))?;
        let publisher = open_conn(&client, &config, exec).await.map_err(&fail)?;
        let pubsub = exec
            .timeout(
                config.connect_timeout,
                "connecting",
                client.get_async_pubsub(),
            )
            .await
            .map_err(&fail)?;
        let mut node_id = [0u8; 16];
        node_id.copy_from_slice(ConnId::new_v4().as_bytes());
        let shared = Arc::new(Shared {
            url: shown,
            prefix: config.prefix.clone(),
            node_id,
            node: RwLock::new(None),
            confirmed: Mutex::new(HashSet::new()),
            up: AtomicBool::new(true),
            published: AtomicU64::new(0),
            publish_dropped: AtomicU64::new(0),
            received: AtomicU64::new(0),
            own_skipped: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
        });
        let (out_tx, out_rx) = async_channel::bounded(config.publish_queue.max(1));
        let (ctl_tx, ctl_rx) = async_channel::unbounded();
        exec.spawn(publisher_task(
            shared.clone(),
            client.clone(),
            config.clone(),
            exec,
            out_rx,
            publisher,
        ));
        let (sink, stream) = pubsub.split();
        exec.spawn(subscriber_task(
            shared.clone(),
            client.clone(),
            config.clone(),
            exec,
            ctl_rx,
            out_tx.clone(),
            sink,
            stream,
        ));
        Ok(Self {
            inner: Arc::new(Inner {
                shared,
                client,
                config,
                out: out_tx,
                ctl: ctl_tx,
                query: Mutex::new(None),
            }),
        })
    }

    /// This node's id (32 hex digits), as listed by
    /// [`cluster_nodes`](Self::cluster_nodes).
    pub fn node_id(&self) -> String {
        self.inner.shared.node_hex()
    }

    /// Whether the subscription connection is up.
    pub fn is_up(&self) -> bool {
        self.inner.shared.up.load(Ordering::Acquire)
    }

    /// The counters so far.
    pub fn stats(&self) -> RedisStats {
        let s = &self.inner.shared;
        RedisStats {
            published: s.published.load(Ordering::Relaxed),
            publish_dropped: s.publish_dropped.load(Ordering::Relaxed),
            received: s.received.load(Ordering::Relaxed),
            own_skipped: s.own_skipped.load(Ordering::Relaxed),
            malformed: s.malformed.load(Ordering::Relaxed),
            reconnects: s.reconnects.load(Ordering::Relaxed),
        }
    }

    /// Stops the background tasks: queued publications are still sent,
    /// then this node's listing is removed from Redis. Publishing after
    /// this reaches local connections only.
    pub fn close(&self) {
        self.inner.out.close();
        self.inner.ctl.close();
    }

    async fn query_conn(&self) -> Result<MultiplexedConnection, BrokerError> {
        let cached = self
            .inner
            .query
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(conn) = cached {
            return Ok(conn);
        }
        let exec = Exec::detect().ok_or_else(|| BrokerError("no runtime".into()))?;
        let conn = open_conn(&self.inner.client, &self.inner.config, exec)
            .await
            .map_err(|e| {
                BrokerError(format!(
                    "cannot use Redis at {}: {e}",
                    self.inner.shared.url
                ))
            })?;
        *self.inner.query.lock().unwrap_or_else(|e| e.into_inner()) = Some(conn.clone());
        Ok(conn)
    }

    /// Every live node's routes and rooms with their ids.
    pub async fn cluster_listing(&self) -> Result<ClusterListing, BrokerError> {
        let result = self.try_cluster_listing().await;
        if result.is_err() {
            // Reconnect on the next call.
            *self.inner.query.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
        result
    }

    async fn try_cluster_listing(&self) -> Result<ClusterListing, BrokerError> {
        let shared = &self.inner.shared;
        let err = |e: ::redis::RedisError| BrokerError(format!("Redis at {}: {e}", shared.url));
        let mut conn = self.query_conn().await?;
        let mut nodes: Vec<String> = ::redis::cmd("SMEMBERS")
            .arg(shared.nodes_key())
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        nodes.sort_unstable();
        let mut listing = ClusterListing::default();
        if nodes.is_empty() {
            return Ok(listing);
        }
        let keys: Vec<String> = nodes.iter().map(|n| shared.node_key(n)).collect();
        let values: Vec<Option<Vec<u8>>> = ::redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        let mut routes: HashMap<RouteId, HashSet<ConnId>> = HashMap::new();
        let mut rooms: HashMap<RoomId, HashSet<ConnId>> = HashMap::new();
        let mut gone = Vec::new();
        for (node, value) in nodes.into_iter().zip(values) {
            let Some(bytes) = value else {
                gone.push(node);
                continue;
            };
            match wire::decode_snapshot(&bytes) {
                Ok(snapshot) => {
                    for (route, ids) in snapshot.routes {
                        routes.entry(route).or_default().extend(ids);
                    }
                    for (room, ids) in snapshot.rooms {
                        rooms.entry(room).or_default().extend(ids);
                    }
                    listing.nodes.push(node);
                }
                Err(e) => {
                    shared.malformed.fetch_add(1, Ordering::Relaxed);
                    log::warn!("redis: node {node}'s listing does not decode ({e:?}); skipped");
                }
            }
        }
        if !gone.is_empty() {
            // Nodes whose key expired (they died): forget them.
            let _: ::redis::RedisResult<()> = ::redis::cmd("SREM")
                .arg(shared.nodes_key())
                .arg(&gone)
                .query_async(&mut conn)
                .await;
        }
        let sorted = |set: HashSet<ConnId>| {
            let mut ids: Vec<ConnId> = set.into_iter().collect();
            ids.sort_unstable();
            ids
        };
        listing.routes = routes.into_iter().map(|(k, v)| (k, sorted(v))).collect();
        listing.rooms = rooms.into_iter().map(|(k, v)| (k, sorted(v))).collect();
        Ok(listing)
    }

    /// The ids connected to `route` on every live node, sorted.
    pub async fn cluster_connections(
        &self,
        route: impl Into<RouteId>,
    ) -> Result<Vec<ConnId>, BrokerError> {
        let mut listing = self.cluster_listing().await?;
        Ok(listing.routes.remove(&route.into()).unwrap_or_default())
    }

    /// Every connected id on every live node, sorted.
    pub async fn cluster_all_connections(&self) -> Result<Vec<ConnId>, BrokerError> {
        let listing = self.cluster_listing().await?;
        let mut ids: Vec<ConnId> = listing.routes.into_values().flatten().collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// The members of `room` on every live node, sorted.
    pub async fn cluster_room_members(
        &self,
        room: impl Into<RoomId>,
    ) -> Result<Vec<ConnId>, BrokerError> {
        let mut listing = self.cluster_listing().await?;
        Ok(listing.rooms.remove(&room.into()).unwrap_or_default())
    }

    /// The live nodes' ids, sorted.
    pub async fn cluster_nodes(&self) -> Result<Vec<String>, BrokerError> {
        Ok(self.cluster_listing().await?.nodes)
    }
}

impl Broker for RedisBroker {
    fn attach(&self, node: LocalNode) {
        *self
            .inner
            .shared
            .node
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(node);
    }

    fn publish(&self, envelope: Envelope) -> Result<(), BrokerError> {
        let shared = &self.inner.shared;
        let delivered = shared.node().map_or(0, |node| node.deliver(&envelope));
        if matches!(envelope.topic, Topic::Conn(_)) && delivered > 0 {
            // Ids are unique: the connection is here, no other node has it.
            return Ok(());
        }
        let frame = wire::encode_frame(&shared.node_id, &envelope)
            .map_err(|e| BrokerError(format!("cannot publish to Redis: {e:?}")))?;
        let channel = shared.channel(&envelope.topic);
        if self
            .inner
            .out
            .try_send(Out::Publish(channel, frame))
            .is_err()
        {
            // Full or closed: local delivery happened, the other nodes
            // miss this one (at-most-once, like a Redis outage).
            if shared
                .publish_dropped
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(10_000)
            {
                log::warn!(
                    "redis: publish queue full or closed; messages reach this node's connections only"
                );
            }
        }
        Ok(())
    }

    fn subscribe(&self, topic: &Topic) {
        let _ = self.inner.ctl.try_send(Ctl::Subscribe(topic.clone()));
    }

    fn unsubscribe(&self, topic: &Topic) {
        let _ = self.inner.ctl.try_send(Ctl::Unsubscribe(topic.clone()));
    }
}

async fn open_conn(
    client: &Client,
    config: &RedisConfig,
    exec: Exec,
) -> Result<MultiplexedConnection, String> {
    let settings = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(config.connect_timeout))
        .set_response_timeout(Some(config.connect_timeout));
    exec.timeout(
        config.connect_timeout,
        "connecting",
        client.get_multiplexed_async_connection_with_config(&settings),
    )
    .await
}

fn next_backoff(current: Duration, config: &RedisConfig) -> Duration {
    (current * 2).min(config.backoff_max.max(config.backoff_min))
}

/// Sends the queued frames, in order, in pipelines; keeps the listing
/// snapshot fresh.
async fn publisher_task(
    shared: Arc<Shared>,
    client: Client,
    config: RedisConfig,
    exec: Exec,
    queue: async_channel::Receiver<Out>,
    conn: MultiplexedConnection,
) {
    let mut conn = Some(conn);
    let mut backoff = config.backoff_min;
    let mut retry_at = Instant::now();
    let mut down_since: Option<(SystemTime, u64)> = None;
    let mut last_snapshot: Option<Vec<u8>> = None;
    let mut next_tick = Instant::now();
    let interval = config.listing_interval.max(Duration::from_millis(10));
    let ttl_ms = u64::try_from(interval.as_millis().saturating_mul(3)).unwrap_or(u64::MAX);
    let batch_max = config.publish_batch.max(1);
    let mut batch: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(batch_max);
    loop {
        let wait = next_tick.saturating_duration_since(Instant::now());
        let mut refresh = false;
        let mut closed = false;
        match race(queue.recv(), exec.sleep(wait)).await {
            Either::Left(Ok(item)) => {
                let mut item = Some(item);
                while let Some(next) = item.take() {
                    match next {
                        Out::Publish(channel, frame) => batch.push((channel, frame)),
                        Out::Refresh => refresh = true,
                    }
                    if batch.len() < batch_max {
                        item = queue.try_recv().ok();
                    }
                }
            }
            Either::Left(Err(_)) => closed = true,
            Either::Right(()) => {}
        }
        // Checked whatever woke us: a steady stream of publications must
        // not starve the listing refresh (its key would expire).
        if Instant::now() >= next_tick {
            refresh = true;
            next_tick = Instant::now() + interval;
        }
        // (Re)connect when due.
        if conn.is_none() && Instant::now() >= retry_at {
            match open_conn(&client, &config, exec).await {
                Ok(c) => {
                    conn = Some(c);
                    backoff = config.backoff_min;
                    last_snapshot = None;
                    refresh = true;
                    if let Some((since, dropped_before)) = down_since.take() {
                        let dropped =
                            shared.publish_dropped.load(Ordering::Relaxed) - dropped_before;
                        log::warn!(
                            "redis publishing to {} down from {} to {}; {dropped} messages published here in that window reached this node's connections only",
                            shared.url,
                            utc(since),
                            utc(SystemTime::now())
                        );
                    }
                }
                Err(e) => {
                    log::debug!("redis: reconnecting to {} failed: {e}", shared.url);
                    retry_at = Instant::now() + backoff;
                    backoff = next_backoff(backoff, &config);
                }
            }
        }
        if !batch.is_empty() {
            let n = batch.len() as u64;
            let sent = match conn.as_mut() {
                Some(c) => {
                    let mut pipe = ::redis::pipe();
                    for (channel, frame) in &batch {
                        let _ = pipe.cmd("PUBLISH").arg(channel).arg(frame).ignore();
                    }
                    pipe.query_async::<()>(c).await.map_err(|e| e.to_string())
                }
                None => Err(String::new()),
            };
            batch.clear();
            match sent {
                Ok(()) => {
                    shared.published.fetch_add(n, Ordering::Relaxed);
                }
                Err(e) => {
                    shared.publish_dropped.fetch_add(n, Ordering::Relaxed);
                    if conn.take().is_some() {
                        log::warn!(
                            "redis publishing to {} lost ({e}); messages published here reach this node's connections only until it is back",
                            shared.url
                        );
                        down_since = Some((
                            SystemTime::now(),
                            shared.publish_dropped.load(Ordering::Relaxed) - n,
                        ));
                        retry_at = Instant::now() + backoff;
                        backoff = next_backoff(backoff, &config);
                    }
                }
            }
        }
        if closed {
            if let Some(c) = conn.as_mut() {
                let _: ::redis::RedisResult<()> = ::redis::pipe()
                    .cmd("DEL")
                    .arg(shared.node_key(&shared.node_hex()))
                    .ignore()
                    .cmd("SREM")
                    .arg(shared.nodes_key())
                    .arg(shared.node_hex())
                    .ignore()
                    .query_async(c)
                    .await;
            }
            return;
        }
        if refresh && let Some(c) = conn.as_mut() {
            let snapshot = shared.snapshot();
            let bytes = match wire::encode_snapshot(&snapshot) {
                Ok(bytes) => bytes,
                Err(e) => {
                    log::warn!("redis: listing snapshot not written: {e:?}");
                    continue;
                }
            };
            let key = shared.node_key(&shared.node_hex());
            let result: ::redis::RedisResult<()> = if last_snapshot.as_ref() == Some(&bytes) {
                ::redis::pipe()
                    .cmd("PEXPIRE")
                    .arg(&key)
                    .arg(ttl_ms)
                    .ignore()
                    .cmd("SADD")
                    .arg(shared.nodes_key())
                    .arg(shared.node_hex())
                    .ignore()
                    .query_async(c)
                    .await
            } else {
                ::redis::pipe()
                    .cmd("SET")
                    .arg(&key)
                    .arg(&bytes)
                    .arg("PX")
                    .arg(ttl_ms)
                    .ignore()
                    .cmd("SADD")
                    .arg(shared.nodes_key())
                    .arg(shared.node_hex())
                    .ignore()
                    .query_async(c)
                    .await
            };
            match result {
                Ok(()) => last_snapshot = Some(bytes),
                Err(e) => {
                    last_snapshot = None;
                    if conn.take().is_some() {
                        log::warn!(
                            "redis publishing to {} lost ({e}); messages published here reach this node's connections only until it is back",
                            shared.url
                        );
                        down_since = Some((
                            SystemTime::now(),
                            shared.publish_dropped.load(Ordering::Relaxed),
                        ));
                        retry_at = Instant::now() + backoff;
                        backoff = next_backoff(backoff, &config);
                    }
                }
            }
        }
    }
}

/// Applies (un)subscriptions to `sink`; `Err` once the connection is lost.
async fn apply(
    shared: &Shared,
    sink: &mut PubSubSink,
    wanted: &mut HashSet<Topic>,
    commands: Vec<Ctl>,
) -> ::redis::RedisResult<()> {
    let mut add: Vec<Topic> = Vec::new();
    let mut remove: Vec<Topic> = Vec::new();
    for command in commands {
        match command {
            Ctl::Subscribe(topic) => {
                remove.retain(|t| t != &topic);
                if wanted.insert(topic.clone()) {
                    add.push(topic);
                }
            }
            Ctl::Unsubscribe(topic) => {
                // The hub announces the last member leaving outside its
                // lock; a new member may have come since.
                if wanted.contains(&topic) && !shared.has_local_members(&topic) {
                    wanted.remove(&topic);
                    add.retain(|t| t != &topic);
                    remove.push(topic);
                }
            }
        }
    }
    if !add.is_empty() {
        let channels: Vec<Vec<u8>> = add.iter().map(|t| shared.channel(t)).collect();
        sink.subscribe(channels).await?;
        shared.confirmed().extend(add);
    }
    if !remove.is_empty() {
        {
            let mut confirmed = shared.confirmed();
            for topic in &remove {
                confirmed.remove(topic);
            }
        }
        let channels: Vec<Vec<u8>> = remove.iter().map(|t| shared.channel(t)).collect();
        sink.unsubscribe(channels).await?;
    }
    Ok(())
}

/// Up to 1024 commands: `first` and whatever else is queued.
fn drain(first: Ctl, ctl: &async_channel::Receiver<Ctl>) -> Vec<Ctl> {
    let mut commands = vec![first];
    while commands.len() < 1024 {
        match ctl.try_recv() {
            Ok(c) => commands.push(c),
            Err(_) => break,
        }
    }
    commands
}

/// The next (un)subscription or message. Queued (un)subscriptions come
/// first (a cheap check), so a steady inbound stream cannot hold a new
/// connection's subscription back; while none is queued, the stream is
/// polled first.
async fn next_event(
    ctl: &async_channel::Receiver<Ctl>,
    stream: &mut PubSubStream,
) -> Either<Result<Ctl, async_channel::RecvError>, Option<::redis::Msg>> {
    match ctl.try_recv() {
        Ok(command) => Either::Left(Ok(command)),
        Err(async_channel::TryRecvError::Closed) => Either::Left(Err(async_channel::RecvError)),
        Err(async_channel::TryRecvError::Empty) => match race(stream.next(), ctl.recv()).await {
            Either::Left(msg) => Either::Right(msg),
            Either::Right(command) => Either::Left(command),
        },
    }
}

/// Delivers what other nodes publish; keeps the subscriptions; reconnects.
#[allow(clippy::too_many_arguments)]
async fn subscriber_task(
    shared: Arc<Shared>,
    client: Client,
    config: RedisConfig,
    exec: Exec,
    ctl: async_channel::Receiver<Ctl>,
    out: async_channel::Sender<Out>,
    sink: PubSubSink,
    stream: PubSubStream,
) {
    let mut wanted: HashSet<Topic> = HashSet::new();
    let mut link = Some((sink, stream));
    let mut malformed_logged = false;
    loop {
        let lost_because: String = match link.as_mut() {
            Some((sink, stream)) => match next_event(&ctl, stream).await {
                Either::Right(Some(msg)) => {
                    match wire::decode_frame(msg.get_payload_bytes()) {
                        Ok(frame) if frame.node == shared.node_id => {
                            shared.own_skipped.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(frame) => {
                            shared.received.fetch_add(1, Ordering::Relaxed);
                            if let Some(node) = shared.node() {
                                node.deliver(&frame.envelope);
                            }
                        }
                        Err(e) => {
                            shared.malformed.fetch_add(1, Ordering::Relaxed);
                            if !malformed_logged {
                                malformed_logged = true;
                                log::warn!(
                                    "redis: dropped a frame on {} that does not decode ({e:?}); further ones are only counted",
                                    msg.get_channel_name()
                                );
                            }
                        }
                    }
                    continue;
                }
                Either::Right(None) => "connection closed".to_owned(),
                Either::Left(Ok(first)) => {
                    let commands = drain(first, &ctl);
                    match apply(&shared, sink, &mut wanted, commands).await {
                        Ok(()) => {
                            let _ = out.try_send(Out::Refresh);
                            continue;
                        }
                        Err(e) => e.to_string(),
                    }
                }
                Either::Left(Err(_)) => return,
            },
            None => "not connected".to_owned(),
        };
        // Lost: reconnect with backoff, keep tracking what is wanted.
        drop(link.take());
        shared.up.store(false, Ordering::Release);
        shared.confirmed().clear();
        let since = SystemTime::now();
        log::warn!(
            "redis pub/sub connection to {} lost ({lost_because}); reconnecting",
            shared.url
        );
        let mut backoff = config.backoff_min;
        loop {
            let attempt = exec
                .timeout(
                    config.connect_timeout,
                    "connecting",
                    client.get_async_pubsub(),
                )
                .await;
            if let Ok(pubsub) = attempt {
                let (mut sink, stream) = pubsub.split();
                let all: Vec<Vec<u8>> = wanted.iter().map(|t| shared.channel(t)).collect();
                let resubscribed = if all.is_empty() {
                    Ok(())
                } else {
                    sink.subscribe(all).await
                };
                if resubscribed.is_ok() {
                    shared.confirmed().extend(wanted.iter().cloned());
                    shared.up.store(true, Ordering::Release);
                    shared.reconnects.fetch_add(1, Ordering::Relaxed);
                    let now = SystemTime::now();
                    log::warn!(
                        "redis pub/sub at {} down from {} to {} ({:.3} s); messages published by other nodes in that window are lost",
                        shared.url,
                        utc(since),
                        utc(now),
                        now.duration_since(since).unwrap_or_default().as_secs_f64()
                    );
                    let _ = out.try_send(Out::Refresh);
                    link = Some((sink, stream));
                    break;
                }
            }
            // Wait out the backoff, still taking (un)subscriptions.
            let until = Instant::now() + backoff;
            backoff = next_backoff(backoff, &config);
            loop {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                match race(exec.sleep(left), ctl.recv()).await {
                    Either::Left(()) => break,
                    Either::Right(Ok(command)) => match command {
                        Ctl::Subscribe(topic) => {
                            wanted.insert(topic);
                        }
                        Ctl::Unsubscribe(topic) => {
                            if !shared.has_local_members(&topic) {
                                wanted.remove(&topic);
                            }
                        }
                    },
                    Either::Right(Err(_)) => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(redact("redis://u:secret@h:1/0"), "redis://***@h:1/0");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(hex(&[0, 0xab]), "00ab");
        assert_eq!(
            utc(SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_403_045_123)),
            "2026-11-23T03:04:05.123Z"
        );
        let config = RedisConfig::new("redis://x");
        let mut b = config.backoff_min;
        for _ in 0..20 {
            b = next_backoff(b, &config);
        }
        assert_eq!(b, config.backoff_max);
    }
}
