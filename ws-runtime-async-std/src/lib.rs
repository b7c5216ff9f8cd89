//! # ws-runtime-async-std
//!
//! WebSockets over `futures-io`, for async-std and smol: [`accept`] and
//! [`accept_with`] on any `futures-io` stream, [`connect`] by URL or
//! [`connect_with`] over your own stream, a [`WebSocket`] with
//! `recv`/`send`/`close` plus `futures` `Stream` and `Sink`, and owned
//! [`ReadHalf`] / [`WriteHalf`] for two tasks.
//!
//! async-std is discontinued upstream (RUSTSEC-2025-0052 points to smol), so
//! this crate depends on neither executor: it is written against the
//! `futures-io` `AsyncRead`/`AsyncWrite` traits, with `async-io` timers and
//! `async-net` sockets, which is the reactor both async-std and smol run
//! on. It is tested on both executors, and can be renamed or retired
//! cheaply.
//!
//! This crate is glue. RFC 6455 lives in `ws-proto`; the async driver
//! (buffers, timers, split, backpressure) lives in `ws-runtime`, shared with
//! `ws-runtime-tokio`, which has the same public names and file layout:
//! `client.rs` ([`connect`]), `server.rs` ([`accept`]), `connection.rs`
//! ([`WebSocket`], halves, [`Message`]), `time.rs` ([`Runtime`]: the clock,
//! `async-io` timers, a spawner), `error.rs` ([`Error`]). Switching runtimes
//! is changing the import.
//!
//! `wss://` URLs need the `rustls` feature (rustls with the ring provider
//! and webpki-roots); [`connect_with`] works over any TLS stream.
//!
//! ## Example
//!
//! A server and a client on loopback, on smol's executor:
//!
//! ```
//! use ws_runtime_async_std::{CloseCode, Message, accept, connect};
//!
//! smol::block_on(async {
//!     let listener = async_net::TcpListener::bind("127.0.0.1:0").await?;
//!     let url = format!("ws://{}/echo", listener.local_addr()?);
//!     let server = smol::spawn(async move {
//!         let (stream, _) = listener.accept().await?;
//!         let mut ws = accept(stream).await?;
//!         while let Some(message) = ws.recv().await {
//!             match message? {
//!                 message @ (Message::Text(_) | Message::Binary(_)) => ws.send(message).await?,
//!                 _ => {}
//!             }
//!         }
//!         Ok::<_, ws_runtime_async_std::Error>(())
//!     });
//!
//!     let mut ws = connect(&url).await?;
//!     ws.send(Message::text("hello")).await?;
//!     assert_eq!(ws.recv().await.transpose()?, Some(Message::text("hello")));
//!     ws.close(CloseCode::NORMAL, "bye").await?;
//!     server.await?;
//!     Ok::<_, ws_runtime_async_std::Error>(())
//! })
//! .unwrap();
//! ```
//!
//! ## Cancel safety
//!
//! `recv` and `flush` are cancel-safe; `send`/`feed` never send half a
//! message when dropped; see [`WebSocket`](ws_runtime::WebSocket) for each
//! method.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod connection;
pub mod error;
pub mod server;
pub mod time;

pub use client::{
    ClientOptions, MaybeTlsStream, WsUrl, connect, connect_with, connect_with_options,
};
#[cfg(feature = "rustls")]
pub use client::{connect_with_tls, rustls};
pub use connection::{
    CloseCode, CloseFrame, DataKind, DeflateConfig, DeflateParams, Driver, Io, Message, MessageRef,
    ReadHalf, Replies, WebSocket, WebSocketConfig, WriteHalf, from_upgraded,
};
pub use error::{Error, Result};
pub use server::{Accept, Reject, Request, accept, accept_with, accept_with_config};
pub use time::Runtime;
pub use ws_proto::Role;
