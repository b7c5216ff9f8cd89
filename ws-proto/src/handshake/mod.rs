//! The opening handshake (RFC 6455 §4): an HTTP/1.1 `Upgrade` exchange.
//!
//! The handshake is kept apart from the framing state machine. It does no
//! I/O: every function takes the bytes received so far and writes its answer
//! into a caller-supplied buffer, in the style of `httparse`.
//!
//! - [`server`]: [`parse_request`](server::parse_request) validates a client's
//!   upgrade request (RFC 6455 §4.2.1), then [`accept`](server::accept) writes
//!   the `101 Switching Protocols` answer (§4.2.2) or
//!   [`reject`](server::reject) / [`reject_error`](server::reject_error)
//!   writes an HTTP error.
//! - [`client`]: [`ClientHandshake`] encodes the
//!   request (§4.1) and checks the server's response.
//! - [`HeadReader`] finds the end of an HTTP head incrementally, so that a
//!   head arriving one byte per read costs linear total work.
//! - [`accept_key`] is the `Sec-WebSocket-Accept` computation of §1.3.
//!
//! Incomplete input is not an error: parsers return [`Status::Partial`] and
//! are called again once more bytes have arrived. A complete parse reports
//! how many bytes the HTTP head used; anything after that is already
//! WebSocket frame data.
//!
//! # Reading a request head
//!
//! ```
//! use ws_proto::handshake::{EMPTY_HEADER, HeadReader, Status, server};
//!
//! let mut reader = HeadReader::default();
//! let mut buf = Vec::new();
//! let chunks: [&[u8]; 2] = [
//!     b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n",
//!     b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!       Sec-WebSocket-Version: 13\r\n\r\n",
//! ];
//! for chunk in chunks {
//!     buf.extend_from_slice(chunk); // a socket read, in real code
//!     // `feed` only looks at bytes it has not seen before.
//!     let Status::Complete(head_len) = reader.feed(&buf)? else { continue };
//!     let mut headers = [EMPTY_HEADER; 32];
//!     let Status::Complete((request, consumed)) =
//!         server::parse_request(&buf[..head_len], &mut headers)?
//!     else {
//!         unreachable!("a complete head parses completely or fails");
//!     };
//!     assert_eq!(request.path(), "/chat");
//!     let mut out = [0u8; 256];
//!     let n = server::accept(&request, &server::AcceptOptions::default(), &mut out)?;
//!     assert!(out[..n].starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//!     // Bytes in `buf[consumed..]` are WebSocket frames.
//!     assert_eq!(consumed, buf.len());
//! }
//! # Ok::<(), ws_proto::handshake::HandshakeError>(())
//! ```

mod accept_key;
pub mod client;
mod error;
mod fields;
mod head;
mod reject;
pub mod server;
mod write;

pub use self::accept_key::accept_key;
pub use self::client::{ClientHandshake, Response};
pub use self::error::HandshakeError;
pub use self::fields::{Extension, Extensions, Subprotocols};
pub use self::head::{HeadReader, RequestLimits};
pub use self::server::{AcceptOptions, Request};
pub use crate::status::Status;
pub use httparse::{EMPTY_HEADER, Header};

/// The only `Sec-WebSocket-Version` this crate speaks (RFC 6455 §4.1, §11.6).
pub const WEBSOCKET_VERSION: &str = "13";

/// The GUID appended to `Sec-WebSocket-Key` before hashing (RFC 6455 §1.3).
pub const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
