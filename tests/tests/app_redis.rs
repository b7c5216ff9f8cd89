//! `ws_app::redis::RedisBroker` across real nodes: several ws-app servers
//! in one process, each with its own broker, sharing a `redis-server`
//! started by the test on a free loopback port (`redis_common`).
//!
//! - `*_cross_node_*`: broadcast, rooms (with "everyone but me") and
//!   send-to-id reach every target on every node exactly once, in order
//!   per publisher, and nothing else arrives within a quiet window; the
//!   cluster listing shows every node's ids and forgets leavers.
//! - `tokio_redis_restart`: Redis is killed mid-run and restarted on the
//!   same port: local delivery goes on while it is down, and cross-node
//!   delivery is back after the restart.
//! - `tokio_unreachable_redis_is_a_clear_error`: connecting names the URL.
//!
//! Skipped with a message when `redis-server` is not installed, unless
//! `WS_REDIS_TEST_REQUIRED=1`.

mod app_runtimes;
mod redis_common;

use std::future::Future;
use std::time::{Duration, Instant};

use app_runtimes::{AppRt as Rt, Smol, Tokio};
use futures_util::future::{Either, select};
use redis_common::RedisServer;
use ws_app::redis::{RedisBroker, RedisConfig};
use ws_app::{App, ConnId, Hub, RoomId, RouteId, ServerHandle, Ws};
use ws_runtime::{ClientOptions, Message, Transport};

fn tokio_block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(future)
}

/// How long a whole scenario may take.
const GUARD: Duration = Duration::from_secs(90);
/// How long "nothing more arrives" is watched.
const QUIET: Duration = Duration::from_millis(300);
/// The longest wait for something that must happen.
const WAIT: Duration = Duration::from_secs(20);

async fn guarded<R: Rt, T>(future: impl Future<Output = T>) -> T {
    let future = std::pin::pin!(future);
    match select(future, R::sleep(GUARD)).await {
        Either::Left((value, _)) => value,
        Either::Right(_) => panic!("scenario did not finish within {GUARD:?}"),
    }
}

// ------------------------------------------------------------------ nodes

struct Node {
    handle: ServerHandle,
    broker: RedisBroker,
    hub: Hub,
}

/// The chat route: the greeting is the connection's id, `?room=r` joins
/// `r`; `all:<t>` broadcasts `<t>` to everyone else, `room:<r>:<t>` sends
/// `<t>` to the rest of room `r`.
async fn chat(ws: Ws) -> ws_app::Result<()> {
    loop {
        let text = ws.receive_text().await?;
        if let Some(rest) = text.strip_prefix("all:") {
            ws.broadcast_others(rest)?;
        } else if let Some(rest) = text.strip_prefix("room:") {
            let (room, body) = rest.split_once(':').unwrap_or((rest, ""));
            ws.send_to_room_others(room.to_owned(), body)?;
        }
    }
}

async fn node<R: Rt>(url: &str) -> Node {
    let mut config = RedisConfig::new(url);
    config.backoff_max = Duration::from_millis(400);
    config.listing_interval = Duration::from_millis(200);
    let broker = RedisBroker::connect_with(config)
        .await
        .expect("connect to the test redis-server");
    let mut app = App::new();
    app.broker(broker.clone());
    let _ = app
        .websocket("/chat", chat)
        .on_connect(|ws: Ws| async move {
            if let Some(room) = ws.query_params().get("room") {
                let room = room.to_owned();
                ws.join(room);
            }
            Some(ws.id().to_string())
        });
    let handle = ws_app::Server::<R::Server>::bind(app, "127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
        .spawn();
    let hub = handle.hub();
    Node {
        handle,
        broker,
        hub,
    }
}

// ---------------------------------------------------------------- clients

struct Peer<R: Rt> {
    name: &'static str,
    ws: ws_runtime::WebSocket<Box<dyn Transport>, R::Client>,
    id: ConnId,
}

async fn peer<R: Rt>(node: &Node, name: &'static str, query: &str) -> Peer<R> {
    let addr = node.handle.local_addr();
    let io = R::connect_tcp(addr).await.expect("TCP connect");
    let mut ws = ws_runtime::connect_with(
        io,
        R::client_runtime(),
        &format!("ws://{addr}/chat{query}"),
        &ClientOptions::new(),
    )
    .await
    .expect("WebSocket connect");
    let greeting = recv_within::<R>(&mut ws, WAIT)
        .await
        .expect("the greeting (the connection id)");
    let id = greeting.parse().expect("the greeting is an id");
    Peer { name, ws, id }
}

/// The next text message within `limit` (Pings and Pongs skipped).
async fn recv_within<R: Rt>(
    ws: &mut ws_runtime::WebSocket<Box<dyn Transport>, R::Client>,
    limit: Duration,
) -> Option<String> {
    let deadline = Instant::now() + limit;
    for _ in 0..64 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let recv = std::pin::pin!(ws.recv());
        match select(recv, R::sleep(left)).await {
            Either::Left((Some(Ok(Message::Text(text))), _)) => return Some(text),
            Either::Left((Some(Ok(Message::Ping(_) | Message::Pong(_))), _)) => {}
            Either::Left((other, _)) => panic!("expected a text message, got {other:?}"),
            Either::Right(_) => return None,
        }
    }
    None
}

impl<R: Rt> Peer<R> {
    /// Asserts that exactly `expected` arrives, in this order, and then
    /// nothing for [`QUIET`].
    async fn expect_exactly(&mut self, expected: &[String]) {
        let mut got = Vec::new();
        for _ in 0..expected.len() {
            match recv_within::<R>(&mut self.ws, WAIT).await {
                Some(text) => got.push(text),
                None => break,
            }
        }
        assert_eq!(got, expected, "{} received", self.name);
        self.expect_quiet().await;
    }

    /// Asserts that nothing arrives for [`QUIET`].
    async fn expect_quiet(&mut self) {
        if let Some(extra) = recv_within::<R>(&mut self.ws, QUIET).await {
            panic!("{} received an extra message: {extra:?}", self.name);
        }
    }

    async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }
}

/// Polls `check` every 20 ms until it holds (at most [`WAIT`]).
async fn eventually<R: Rt, F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        R::sleep(Duration::from_millis(20)).await;
    }
    panic!("not within {WAIT:?}: {what}");
}

fn sorted(mut ids: Vec<ConnId>) -> Vec<ConnId> {
    ids.sort_unstable();
    ids
}

fn seq(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Waits until the cluster listing, as `node` reads it, shows `all` on
/// `/chat` and `red` in room `red` (which also means every node has
/// subscribed their channels).
async fn await_listing<R: Rt>(node: &Node, all: &[ConnId], red: &[ConnId]) {
    let all = sorted(all.to_vec());
    let red = sorted(red.to_vec());
    let deadline = Instant::now() + WAIT;
    let mut last = None;
    while Instant::now() < deadline {
        let listing = node.broker.cluster_listing().await;
        if let Ok(listing) = &listing
            && listing.routes.get(&RouteId::from("/chat")) == Some(&all)
            && listing.rooms.get(&RoomId::from("red")) == Some(&red)
        {
            return;
        }
        last = Some(listing);
        R::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "the cluster listing did not show {all:?} and red = {red:?} within {WAIT:?}; last: {last:?}"
    );
}

// -------------------------------------------------------------- scenarios

async fn cross_node<R: Rt>(redis: &RedisServer) {
    let url = redis.url();
    let nodes = [
        node::<R>(&url).await,
        node::<R>(&url).await,
        node::<R>(&url).await,
    ];
    let mut a1 = peer::<R>(&nodes[0], "a1", "?room=red").await;
    let mut a2 = peer::<R>(&nodes[0], "a2", "").await;
    let mut b1 = peer::<R>(&nodes[1], "b1", "?room=red").await;
    let mut b2 = peer::<R>(&nodes[1], "b2", "").await;
    let mut c1 = peer::<R>(&nodes[2], "c1", "?room=red").await;
    let all = [a1.id, a2.id, b1.id, b2.id, c1.id];
    await_listing::<R>(&nodes[0], &all, &[a1.id, b1.id, c1.id]).await;
    // Hub listings stay node-local.
    assert_eq!(
        nodes[0].hub.connections("/chat"),
        sorted(vec![a1.id, a2.id])
    );
    assert_eq!(
        nodes[1].broker.cluster_nodes().await.expect("nodes").len(),
        3
    );
    assert_eq!(
        nodes[2]
            .broker
            .cluster_all_connections()
            .await
            .expect("ids"),
        sorted(all.to_vec())
    );

    // 1. Route broadcasts from two publishers, interleaved: each client
    //    gets both sequences, each in order, each message once.
    for i in 0..20 {
        nodes[0]
            .hub
            .broadcast("/chat", format!("n0-{i}"))
            .expect("broadcast");
        nodes[1]
            .hub
            .broadcast("/chat", format!("n1-{i}"))
            .expect("broadcast");
    }
    for peer in [&mut a1, &mut a2, &mut b1, &mut b2, &mut c1] {
        let mut got = Vec::new();
        for _ in 0..40 {
            got.push(
                recv_within::<R>(&mut peer.ws, WAIT)
                    .await
                    .unwrap_or_else(|| panic!("{}: missing broadcasts after {got:?}", peer.name)),
            );
        }
        let from =
            |p: &str| -> Vec<String> { got.iter().filter(|m| m.starts_with(p)).cloned().collect() };
        assert_eq!(from("n0-"), seq("n0-", 20), "{}", peer.name);
        assert_eq!(from("n1-"), seq("n1-", 20), "{}", peer.name);
        peer.expect_quiet().await;
    }

    // A client's "everyone but me" crosses nodes too.
    a2.send("all:hello from a2").await;
    let hello = vec!["hello from a2".to_owned()];
    for peer in [&mut a1, &mut b1, &mut b2, &mut c1] {
        peer.expect_exactly(&hello).await;
    }
    a2.expect_quiet().await;

    // 2. Rooms: members on three nodes, non-members get nothing.
    for i in 0..10 {
        nodes[1]
            .hub
            .send_to_room("red", format!("red-{i}"))
            .expect("room send");
    }
    for peer in [&mut a1, &mut b1, &mut c1] {
        peer.expect_exactly(&seq("red-", 10)).await;
    }
    a2.expect_quiet().await;
    b2.expect_quiet().await;
    c1.send("room:red:hi from c1").await;
    let hi = vec!["hi from c1".to_owned()];
    a1.expect_exactly(&hi).await;
    b1.expect_exactly(&hi).await;
    c1.expect_quiet().await;

    // 3. Send-to-id from other nodes (and from its own).
    for i in 0..10 {
        nodes[2]
            .hub
            .send(a1.id, format!("direct-{i}"))
            .expect("send");
    }
    nodes[0].hub.send(b2.id, "to b2").expect("send");
    nodes[1].hub.send(b2.id, "to b2 locally").expect("send");
    a1.expect_exactly(&seq("direct-", 10)).await;
    // Two publishers: both arrive, in either order.
    let mut to_b2 = vec![
        recv_within::<R>(&mut b2.ws, WAIT).await.expect("to b2"),
        recv_within::<R>(&mut b2.ws, WAIT).await.expect("to b2"),
    ];
    to_b2.sort();
    assert_eq!(to_b2, ["to b2", "to b2 locally"]);
    b2.expect_quiet().await;
    for peer in [&mut a2, &mut b1, &mut c1] {
        peer.expect_quiet().await;
    }

    for node in &nodes {
        let stats = node.broker.stats();
        assert_eq!(stats.malformed, 0);
        assert_eq!(stats.publish_dropped, 0);
    }
    assert!(
        nodes[0].broker.stats().own_skipped >= 20,
        "own echoes skipped"
    );
    assert!(nodes[0].broker.stats().received >= 20, "heard node 1");

    // Frames this version cannot read (an unknown version, a truncated
    // one) are dropped and counted on every node, never delivered.
    let channel = b"ws-app:route:/chat";
    assert_eq!(
        redis_common::publish_raw(redis.port(), channel, b"\x09junk"),
        3
    );
    assert_eq!(
        redis_common::publish_raw(redis.port(), channel, b"\x01\x00"),
        3
    );
    eventually::<R, _, _>("every node counts the malformed frames", || async {
        nodes.iter().all(|n| n.broker.stats().malformed == 2)
    })
    .await;
    nodes[1]
        .hub
        .broadcast("/chat", "still fine")
        .expect("broadcast");
    let fine = vec!["still fine".to_owned()];
    for peer in [&mut a1, &mut a2, &mut b1, &mut b2, &mut c1] {
        peer.expect_exactly(&fine).await;
    }

    // 4. Leavers leave the cluster listing: a client, then a whole node.
    b2.ws
        .close(ws_runtime::CloseCode::NORMAL, "bye")
        .await
        .expect("close");
    await_listing::<R>(
        &nodes[0],
        &[a1.id, a2.id, b1.id, c1.id],
        &[a1.id, b1.id, c1.id],
    )
    .await;
    nodes[2].broker.close();
    nodes[2].handle.shutdown();
    await_listing::<R>(&nodes[0], &[a1.id, a2.id, b1.id], &[a1.id, b1.id]).await;
    assert_eq!(
        nodes[0].broker.cluster_nodes().await.expect("nodes").len(),
        2
    );
    for node in &nodes[..2] {
        node.handle.shutdown();
    }
}

async fn restart<R: Rt>(redis: &mut RedisServer) {
    let url = redis.url();
    let nodes = [node::<R>(&url).await, node::<R>(&url).await];
    let mut a = peer::<R>(&nodes[0], "a", "?room=red").await;
    let mut a2 = peer::<R>(&nodes[0], "a2", "").await;
    let mut b = peer::<R>(&nodes[1], "b", "?room=red").await;
    await_listing::<R>(&nodes[1], &[a.id, a2.id, b.id], &[a.id, b.id]).await;
    nodes[0]
        .hub
        .broadcast("/chat", "before")
        .expect("broadcast");
    let before = vec!["before".to_owned()];
    for peer in [&mut a, &mut a2, &mut b] {
        peer.expect_exactly(&before).await;
    }

    // Redis goes away.
    redis.kill();
    eventually::<R, _, _>("both nodes notice that Redis is gone", || async {
        !nodes[0].broker.is_up() && !nodes[1].broker.is_up()
    })
    .await;
    // Local delivery goes on; the other node misses these (at-most-once).
    for i in 0..5 {
        nodes[0]
            .hub
            .broadcast("/chat", format!("local-{i}"))
            .expect("broadcast");
    }
    nodes[0]
        .hub
        .send_to_room("red", "red while down")
        .expect("room send");
    a.expect_exactly(&[seq("local-", 5), vec!["red while down".to_owned()]].concat())
        .await;
    a2.expect_exactly(&seq("local-", 5)).await;
    b.expect_quiet().await;

    // Redis comes back on the same port: both nodes reconnect,
    // resubscribe and republish their listings.
    redis.restart();
    eventually::<R, _, _>("both nodes reconnect", || async {
        nodes
            .iter()
            .all(|n| n.broker.is_up() && n.broker.stats().reconnects >= 1)
    })
    .await;
    await_listing::<R>(&nodes[0], &[a.id, a2.id, b.id], &[a.id, b.id]).await;
    // The loss window is logged, once per node, naming this server.
    let loss_window = || {
        redis_common::warnings_with(&[
            &format!("redis pub/sub at {url} down from "),
            "messages published by other nodes in that window are lost",
        ])
    };
    eventually::<R, _, _>("both nodes log the loss window", || async {
        loss_window().len() >= 2
    })
    .await;
    assert_eq!(loss_window().len(), 2, "{:?}", loss_window());
    for i in 0..10 {
        nodes[1]
            .hub
            .broadcast("/chat", format!("after-{i}"))
            .expect("broadcast");
    }
    for peer in [&mut a, &mut a2, &mut b] {
        peer.expect_exactly(&seq("after-", 10)).await;
    }
    nodes[0].hub.send(b.id, "direct after").expect("send");
    b.expect_exactly(&["direct after".to_owned()]).await;
    nodes[0]
        .hub
        .send_to_room("red", "red after")
        .expect("room send");
    a.expect_exactly(&["red after".to_owned()]).await;
    b.expect_exactly(&["red after".to_owned()]).await;
    a2.expect_quiet().await;
    assert!(
        nodes[0].broker.stats().publish_dropped >= 1,
        "what node 0 published while Redis was down is counted"
    );
    for node in &nodes {
        node.handle.shutdown();
    }
}

// ------------------------------------------------------------------ tests

#[test]
fn tokio_cross_node_broadcast_rooms_and_ids() {
    if !redis_common::available("tokio_cross_node_broadcast_rooms_and_ids") {
        return;
    }
    let redis = RedisServer::start();
    tokio_block_on(guarded::<Tokio, _>(cross_node::<Tokio>(&redis)));
}

#[test]
fn smol_cross_node_broadcast_rooms_and_ids() {
    if !redis_common::available("smol_cross_node_broadcast_rooms_and_ids") {
        return;
    }
    let redis = RedisServer::start();
    Smol::block_on(guarded::<Smol, _>(cross_node::<Smol>(&redis)));
}

#[test]
fn tokio_redis_restart() {
    if !redis_common::available("tokio_redis_restart") {
        return;
    }
    redis_common::capture_warnings();
    let mut redis = RedisServer::start();
    tokio_block_on(guarded::<Tokio, _>(restart::<Tokio>(&mut redis)));
}

#[test]
fn smol_redis_restart() {
    if !redis_common::available("smol_redis_restart") {
        return;
    }
    redis_common::capture_warnings();
    let mut redis = RedisServer::start();
    Smol::block_on(guarded::<Smol, _>(restart::<Smol>(&mut redis)));
}

#[test]
fn tokio_unreachable_redis_is_a_clear_error() {
    tokio_block_on(async {
        // A port with nobody behind it.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let url = format!("redis://127.0.0.1:{port}");
        let err = RedisBroker::connect(&url)
            .await
            .expect_err("nothing listens there");
        let text = err.to_string();
        assert!(text.contains(&url), "{text}");
        assert!(text.starts_with("cannot use Redis at"), "{text}");
        let err = RedisBroker::connect("http://127.0.0.1:1")
            .await
            .expect_err("not a redis URL");
        assert!(err.to_string().contains("http://127.0.0.1:1"), "{err}");
        let mut config = RedisConfig::new("redis://:secret@127.0.0.1:1");
        config.connect_timeout = Duration::from_millis(500);
        let err = RedisBroker::connect_with(config)
            .await
            .expect_err("nothing listens there");
        assert!(!err.to_string().contains("secret"), "password shown: {err}");
    });
}
