//! # ws-runtime
//!
//! The async WebSocket driver shared by `ws-runtime-tokio` and
//! `ws-runtime-async-std`: [`WebSocket`], its split [`ReadHalf`] /
//! [`WriteHalf`] and their [`Driver`] task, the opening handshakes
//! ([`accept`], [`accept_with`], [`connect_with`]), [`Message`] and
//! [`Error`]. It is generic over two small traits and knows nothing about
//! any particular runtime:
//!
//! - [`Runtime`]: the runtime's clock, a resettable [`Timer`], and `spawn`
//!   (quinn's `Runtime` / `AsyncTimer`);
//! - [`Transport`]: `poll_read` / `poll_write` / `poll_write_vectored` /
//!   `poll_flush` / `poll_shutdown` on plain byte slices.
//!
//! ## Why a third crate
//!
//! Both runtime adapters need the same driver: read into a reused buffer,
//! feed `ws_proto::Connection`, assemble messages, write what the core
//! queued, sleep until `poll_timeout()`, split into halves, bound the
//! buffers. Written twice, the two copies would drift. Here it is written
//! once, against the two traits above, so each adapter is only its glue:
//! a newtype that implements [`Transport`] for its runtime's streams, a
//! unit struct that implements [`Runtime`], `connect` for its TCP type,
//! and type aliases with the same public names in both crates. A third
//! runtime (glommio, embassy-net with `alloc`, a test harness) is another
//! such file.
//!
//! Like the adapters, this crate holds **no protocol logic**: what a frame
//! means, when to answer a Ping, which close code to send, when a timer
//! fires — all of that is decided by [`ws_proto`]. This crate moves bytes,
//! reads the clock, and keeps buffers bounded.
//!
//! ## The driving loop
//!
//! [`WebSocket`] drives the core inline, from whichever method is awaited,
//! with no task and no lock: [`WebSocket::recv`] parses what it has, then
//! writes everything queued (automatic Pongs, the Close echo, fed messages:
//! several frames in one `write`), then reads, and sleeps until the socket
//! is readable or the core's next deadline. [`WebSocket::split`] moves the
//! same loop into a spawned [`Driver`]; see [`split`] for that design.
//!
//! ## Example
//!
//! Parsing a URL and building messages needs no runtime; the adapters'
//! docs show complete clients and servers.
//!
//! ```
//! use ws_runtime::{CloseFrame, Message, WsUrl};
//! use ws_proto::CloseCode;
//!
//! let url = WsUrl::parse("ws://localhost:9001/echo").unwrap();
//! assert_eq!((url.host(), url.port(), url.resource()), ("localhost", 9001, "/echo"));
//!
//! let hello = Message::text("hello");
//! assert!(hello.is_text() && hello.len() == 5);
//! let bye = Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "done")));
//! assert_eq!(bye.as_bytes(), b"done");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod borrowed;
mod config;
mod driver;
mod error;
mod handshake;
mod message;
mod runtime;
pub mod split;
mod transport;
mod url;
mod websocket;

pub use borrowed::{MessageRef, Replies};
pub use config::WebSocketConfig;
pub use driver::{Connection, SendBuffer};
pub use error::{Error, Result};
pub use handshake::{Accept, ClientOptions, Reject, accept, accept_with, connect_with};
pub use message::{CloseFrame, Message};
pub use runtime::{BoxFuture, Runtime, Timer};
pub use split::{Driver, ReadHalf, WriteHalf};
pub use transport::Transport;
pub use url::WsUrl;
pub use websocket::WebSocket;

/// The protocol core, re-exported for its types (`CloseCode`, `Config`,
/// `Role`, `handshake::server::Request`, ...).
pub use ws_proto;
pub use ws_proto::deflate::{DeflateConfig, DeflateParams};
pub use ws_proto::handshake::server::Request;
pub use ws_proto::{CloseCode, DataKind, Initiator, Role};
