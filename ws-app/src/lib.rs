//! # ws-app
//!
//! Robyn's WebSocket API in Rust: routes whose handler gets a connection
//! object with an id, query parameters and send/receive helpers;
//! `on_connect` / `on_close` callbacks; broadcast; dependency injection
//! with routers — plus what Robyn's users asked for (sending to one
//! connection by id from anywhere, rooms, listings, a pluggable broadcast
//! layer, rejecting an upgrade with an HTTP status) and fixes for what
//! Robyn gets wrong (real close frames, no magic strings, no stale
//! registrations, reassembled fragments, 1009 for oversize messages, slow
//! clients that cannot stall a broadcast).
//!
//! It runs on tokio ([`rt::Tokio`], feature `tokio`, the default) or smol
//! ([`rt::Smol`], feature `smol`, also under async-std) with the same
//! handler code, on top of `ws-runtime` and the `ws-proto` core.
//!
//! ## Example
//!
//! ```
//! use ws_app::{App, Server, Ws};
//!
//! // Robyn: @app.websocket("/web_socket") async def handler(websocket): ...
//! async fn handler(ws: Ws) -> ws_app::Result<()> {
//!     loop {
//!         let msg = ws.receive_text().await?; // Err(Closed) once the client left
//!         ws.send_text(format!("{}: {msg}", ws.id())).await?;
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut app = App::new();
//! app.inject_global_named("GREETING", String::from("Hello world, from ws"));
//! let _ = app
//!     .websocket("/web_socket", handler)
//!     // @handler.on_connect: the returned text is the first message.
//!     .on_connect(|ws: Ws| async move { ws.globals().get_named::<String>("GREETING").cloned() })
//!     // @handler.on_close: runs exactly once per connection.
//!     .on_close(|ws: Ws| async move { println!("{} left: {:?}", ws.id(), ws.close_info()) });
//! app.get("/health", |_req| async { ws_app::Response::json(&serde_json::json!({"status": "ok"})) });
//!
//! let server = Server::<ws_app::rt::Tokio>::bind(app, "127.0.0.1:0").await?;
//! let url = format!("ws://{}/web_socket", server.local_addr());
//! let handle = server.spawn();
//!
//! // Any WebSocket client will do; here, ws-runtime-tokio's.
//! use ws_runtime_tokio::{CloseCode, Message};
//! let mut client = ws_runtime_tokio::connect(&url).await?;
//! assert_eq!(client.recv().await.transpose()?, Some(Message::text("Hello world, from ws")));
//! client.send(Message::text("hi")).await?;
//! let Some(Ok(Message::Text(echo))) = client.recv().await else { panic!() };
//! assert!(echo.ends_with(": hi") && echo.len() == 36 + 4);
//! client.close(CloseCode::NORMAL, "bye").await?;
//! handle.shutdown();
//! # Ok(())
//! # }
//! ```
//!
//! `ws-app/README.md` renders every example of Robyn's WebSocket guide this
//! way, and `examples/demo` serves them all with a page to try them in a
//! browser (`cargo run --release -p ws-app --example demo`).
//!
//! ## Robyn → ws-app
//!
//! | Robyn | ws-app |
//! |---|---|
//! | `app = Robyn(__file__)` | [`App::new`] |
//! | `@app.websocket("/p")` | [`App::websocket`]`("/p", handler)` → [`Route`] |
//! | `@handler.on_connect` / `@handler.on_close` | [`Route::on_connect`] / [`Route::on_close`] |
//! | `websocket.id` | [`Ws::id`] ([`ConnId`], UUIDv4, `Display` = Robyn's string) |
//! | `websocket.query_params.get(k)` | [`Ws::query_params`]`().get(k)` (last value; [`QueryParams::get_all`] for all) |
//! | — | [`Ws::headers`], [`Ws::path`], [`Ws::origin`], [`Ws::peer_addr`], [`Ws::subprotocol`] |
//! | `send_text` / `send_bytes` / `send_json` | [`Ws::send_text`] / [`Ws::send_bytes`] / [`Ws::send_json`] |
//! | `receive_text` / `receive_bytes` / `receive_json` | [`Ws::receive_text`] / [`Ws::receive_bytes`] / [`Ws::receive_json`]`::<T>` |
//! | `broadcast(x)` (sender included) | [`Ws::broadcast`] (sender included), [`Ws::broadcast_others`] |
//! | `close()` (sent the text `"Connection closed"`) | [`Ws::close`] / [`Ws::close_with`] (a real Close frame) |
//! | `WebSocketDisconnect` (always 1000) | [`Error::Closed`] with the peer's [`CloseInfo`] |
//! | `app.inject_global(**kw)` / `router.inject(**kw)` | [`App::inject_global`], [`Router::inject`] (typed) and `*_named` (by name) |
//! | `global_dependencies` / `router_dependencies` params | [`Ws::globals`] / [`Ws::router_deps`], [`Ws::global`], [`Ws::router`], [`Ws::dep`] |
//! | `SubRouter(__file__, prefix=...)`, `include_router` | [`Router::new`], [`Router::include_router`], [`App::include_router`] |
//! | `_connector.async_send_to(id, ...)` (same endpoint only) | [`Hub::send`] from anywhere ([`Ws::hub`], [`App::hub`], [`HttpRequest::hub`]) |
//! | — | rooms: [`Ws::join`], [`Ws::leave`], [`Ws::send_to_room`], [`Ws::send_to_room_others`], [`Hub::room_members`] |
//! | — | [`Route::guard`]: refuse with 401/403/... or pick a subprotocol before the `101` |
//!
//! ## A connection's life
//!
//! 1. The upgrade request arrives. The [guard](Route::guard), if any, sees
//!    path, query, headers and origin and accepts (maybe choosing a
//!    subprotocol) or refuses with an HTTP status. No `101` is sent before.
//! 2. The connection is registered in the [`Hub`] (its route, and later
//!    its rooms) just before its `101` is written, so anything sent to it
//!    once the client has seen the `101` reaches it. After the `101`,
//!    `on_connect` runs; its returned `Some(text)` goes out as a text
//!    message (`Some("")` as an empty one), before any broadcast that
//!    arrived meanwhile (since the registration). A handshake that fails
//!    after the registration takes the connection out again; no callback
//!    runs for it.
//! 3. The handler runs. When it returns `Ok` the connection is closed with
//!    1000; `Err` or a panic closes it with 1011 (and is logged with the
//!    `log` crate). If the client leaves first, `receive_*` returns
//!    [`Error::Closed`] with the client's close code and reason; a handler
//!    still running [`AppConfig::handler_grace`] after the end is
//!    cancelled.
//! 4. However it ended — either side's Close, a dropped TCP connection, a
//!    protocol error (1002, 1007, 1009 for a message over
//!    [`AppConfig::max_message_size`]), a keepalive timeout, the
//!    slow-consumer policy — the connection leaves the hub as soon as
//!    closing begins, and `on_close` runs exactly once after the handler.
//!
//! Fragmented messages are reassembled before a handler sees them; Pings
//! are answered by the protocol core. There are no magic strings: any text
//! can be sent.
//!
//! ## Broadcast, slow consumers and the broker
//!
//! [`Ws::broadcast`], room sends and [`Hub`] sends go through one
//! broadcast layer, the [`Broker`] trait ([`MemoryBroker`] by default;
//! see [`broker`] for how a cross-process backend plugs in). Local
//! delivery encodes each message **once** (`ws_proto::PreparedFrame`) and
//! queues the shared bytes on every recipient's bounded outbound queue
//! ([`AppConfig::outbound_capacity`]) without waiting. A recipient whose
//! queue is full is a slow consumer and is handled by the
//! [`SlowConsumer`] policy: by default it is closed with **1013** (Try
//! Again Later) and, if it does not finish closing within
//! [`AppConfig::slow_consumer_grace`], its TCP connection is dropped. A
//! broadcast never waits for anyone.
//!
//! A handler's sends to its own connection ([`Ws::send_text`]...) wait for
//! room instead: backpressure that slows that handler only.
//!
//! ## HTTP
//!
//! [`App::get`] and [`App::post`] serve plain HTTP next to the WebSockets
//! (pages, health checks, small JSON APIs; one request per connection). A
//! plain `GET` on a WebSocket route gets `426 Upgrade Required`; an unknown
//! path gets 404.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod app;
pub mod broker;
mod conn;
mod deps;
mod error;
mod http;
mod hub;
mod id;
mod mailbox;
mod message;
#[cfg(feature = "redis")]
pub mod redis;
mod request;
pub mod rt;
mod server;
mod ws;

pub use app::{App, AppConfig, Route, Router, Upgrade};
pub use broker::{Broker, BrokerError, Envelope, LocalNode, MemoryBroker, Topic};
pub use deps::Deps;
pub use error::{BoxError, CloseInfo, Error, Result};
pub use http::{HttpRequest, Method, Response};
pub use hub::{Hub, SlowConsumer};
pub use id::{ConnId, ParseConnIdError, RoomId, RouteId};
pub use message::Message;
pub use request::{Headers, QueryParams};
pub use server::{Server, ServerHandle};
pub use ws::Ws;
pub use ws_runtime::{Accept, CloseCode, Initiator, Reject, WebSocketConfig};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}
