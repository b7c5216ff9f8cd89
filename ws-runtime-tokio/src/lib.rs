//! # ws-runtime-tokio
//!
//! WebSockets on tokio: [`accept`] and [`accept_with`] on any tokio stream,
//! [`connect`] by URL or [`connect_with`] over your own stream, a
//! [`WebSocket`] with `recv`/`send`/`close` plus `futures` `Stream` and
//! `Sink`, and owned [`ReadHalf`] / [`WriteHalf`] for two tasks.
//!
//! This crate is glue. RFC 6455 lives in `ws-proto`; the async driver
//! (buffers, timers, split, backpressure) lives in `ws-runtime`, shared with
//! `ws-runtime-async-std`, which has the same public names and file layout:
//! `client.rs` ([`connect`]), `server.rs` ([`accept`]), `connection.rs`
//! ([`WebSocket`], halves, [`Message`]), `time.rs` ([`Runtime`]: tokio's
//! clock, timers and spawn), `error.rs` ([`Error`]). Switching runtimes is
//! changing the import.
//!
//! `wss://` URLs need the `rustls` feature (rustls with the ring provider
//! and webpki-roots); [`connect_with`] works over any TLS stream.
//!
//! Timers use tokio's clock, so tests with a paused clock
//! (`#[tokio::test(start_paused = true)]`) drive keepalive, pong deadline,
//! close and idle timeouts without sleeping.
//!
//! ## Example
//!
//! A server and a client talking over an in-memory pipe:
//!
//! ```
//! use ws_runtime_tokio::{ClientOptions, CloseCode, Message, accept, connect_with};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ws_runtime_tokio::Error> {
//! let (client_io, server_io) = tokio::io::duplex(64 * 1024);
//! let server = tokio::spawn(async move {
//!     let mut ws = accept(server_io).await?;
//!     while let Some(message) = ws.recv().await {
//!         match message? {
//!             message @ (Message::Text(_) | Message::Binary(_)) => ws.send(message).await?,
//!             _ => {}
//!         }
//!     }
//!     Ok::<_, ws_runtime_tokio::Error>(())
//! });
//!
//! let mut ws = connect_with(client_io, "ws://localhost/echo", &ClientOptions::new()).await?;
//! ws.send(Message::text("hello")).await?;
//! assert_eq!(ws.recv().await.transpose()?, Some(Message::text("hello")));
//! ws.close(CloseCode::NORMAL, "bye").await?;
//! server.await.unwrap()?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Cancel safety
//!
//! `recv`, `recv_with` and `flush` are cancel-safe; `send`/`feed` never send half a
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
