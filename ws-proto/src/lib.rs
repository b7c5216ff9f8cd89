//! # ws-proto
//!
//! A sans-IO implementation of the WebSocket protocol (RFC 6455): the opening
//! handshake, framing, masking, UTF-8 validation, fragmentation, control
//! frames, the closing handshake, limits and timers — and nothing else.
//!
//! **What it does not do:** no I/O (you move the bytes), no clock (you pass
//! `now`), no randomness (you supply mask keys and nonces), no executor and
//! no threads. That is what lets the same core run under tokio, async-std,
//! smol, a blocking `std::net` loop, or on a microcontroller: the crate is
//! `#![no_std]` and needs neither `alloc` nor `std` (both are optional
//! features that add conveniences).
//!
//! ```text
//!          socket reads                                 socket writes
//!               │                                             ▲
//!               ▼                                             │
//!   RecvBuf::spare_mut / commit                    poll_transmit / consume_transmit
//!               │                                             │
//!   ┌───────────▼─────────────── Connection ─────────────────┴───────────┐
//!   │ receive(now, buf) ──► Event::{Data, Ping, Pong, CloseReceived}     │
//!   │   (unmask in place, UTF-8 check, limits, auto Pong, Close echo)    │
//!   │ send_text / send_binary / send_fragment / send_ping / close ──►    │
//!   │   send buffer (caller-supplied storage, backpressure)             │
//!   │ handle_timeout(now) ◄── poll_timeout()      poll_event() ──► Lifecycle
//!   └────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! The opening handshake has its own types in [`handshake`]; a
//! [`Connection`] starts open, so it can also frame a socket that another
//! HTTP server upgraded.
//!
//! ## The driving loop
//!
//! After any input ([`Connection::receive`], [`Connection::receive_eof`],
//! [`Connection::handle_timeout`]) or command (`send_*`, `close`), drain
//! [`Connection::poll_transmit`], then [`Connection::poll_event`], then read
//! [`Connection::poll_timeout`] and sleep until it or until the socket is
//! readable. A blocking echo server (see `examples/echo_server.rs` for the
//! complete version with the handshake):
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use ws_proto::{Config, Connection, Event, Lifecycle, MessageAssembler, Message,
//!                RecvBuf, Role, StdClock, Transmit};
//!
//! fn serve(mut sock: std::net::TcpStream) -> std::io::Result<()> {
//!     let clock = StdClock::new();
//!     let mut conn = Connection::new(Role::Server, Config::default(), clock.now());
//!     let mut buf = RecvBuf::with_capacity(16 * 1024);
//!     let mut messages = MessageAssembler::new();
//!     while !conn.is_closed() {
//!         let n = sock.read(buf.spare_mut())?;
//!         if n == 0 {
//!             conn.receive_eof(clock.now());
//!         }
//!         buf.commit(n);
//!         while let Some(event) = conn.receive(clock.now(), &mut buf) {
//!             if let Some(message) = messages.push_event(&event) {
//!                 let _ = match message {
//!                     Message::Text(text) => conn.send_text(&text),
//!                     Message::Binary(data) => conn.send_binary(&data),
//!                 };
//!             }
//!         }
//!         while let Some(transmit) = conn.poll_transmit() {
//!             match transmit {
//!                 Transmit::Bytes(bytes) => {
//!                     let n = sock.write(bytes)?;
//!                     conn.consume_transmit(n);
//!                 }
//!                 Transmit::Shutdown => sock.shutdown(std::net::Shutdown::Write)?,
//!             }
//!         }
//!         while let Some(Lifecycle::Closed(outcome)) = conn.poll_event() {
//!             println!("closed: {outcome:?}");
//!         }
//!     }
//!     Ok(())
//! }
//! ```
//!
//! ## A runnable taste
//!
//! Two connections talking through memory, with a fake clock:
//!
//! ```
//! use ws_proto::{CloseCode, Config, Connection, Event, Instant, NoMaskKeys, RecvBuf, Role, Transmit};
//!
//! let now = Instant::ZERO;
//! let mut n = 0u8;
//! let keys = move || { n = n.wrapping_add(1); [n; 4] }; // tests only: use OsMaskKeys
//! let mut client = Connection::with_parts(Role::Client, Config::default(), now, keys, Vec::new());
//! let mut server = Connection::with_parts(Role::Server, Config::default(), now, NoMaskKeys, Vec::new());
//!
//! client.send_text("hello").unwrap();
//! let mut wire = RecvBuf::with_capacity(1024);
//! while let Some(Transmit::Bytes(bytes)) = client.poll_transmit() {
//!     let n = wire.extend_from_slice(bytes);
//!     client.consume_transmit(n);
//! }
//! match server.receive(now, &mut wire) {
//!     Some(Event::Data { payload, end_of_message: true, .. }) => assert_eq!(payload, b"hello"),
//!     other => panic!("unexpected {other:?}"),
//! }
//! server.close(now, CloseCode::NORMAL, "bye").unwrap();
//! ```
//!
//! ## Features
//!
//! * `alloc`: `Vec` send storage, heap [`RecvBuf`]s, [`MessageAssembler`].
//! * `std` (default): OS-entropy mask keys ([`OsMaskKeys`]), [`StdClock`],
//!   [`handshake::client::random_nonce`].
//!
//! ## Limits and security (RFC 6455 §10)
//!
//! Frame and message sizes are checked from the frame header before any
//! payload is read, and nothing is ever allocated from a length the peer
//! declared. See [`Config`].

#![no_std]
// Unsafe code is denied everywhere but in `mask/simd.rs` (AVX2 masking,
// runtime-detected, `std` only), which allows it with a SAFETY argument on
// every block.
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod close;
pub mod config;
pub mod connection;
pub mod deflate;
pub mod error;
pub mod frame;
/// Unstable: for fuzz targets and replay tests.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod handshake;
pub mod keys;
pub mod mask;
#[cfg(feature = "alloc")]
pub mod message;
pub mod recv_buf;
pub mod send_buf;
pub mod status;
pub mod time;
pub mod utf8;

pub use close::{CloseCode, CloseFrame};
pub use config::Config;
pub use connection::{
    CloseOutcome, Connection, DefaultMaskKeys, DefaultSendStorage, Event, Initiator, Lifecycle,
    Role, State, Transmit,
};
pub use error::{ProtocolError, SendError};
#[cfg(feature = "alloc")]
pub use frame::PreparedFrame;
pub use frame::{DataKind, FrameHeader, OpCode};
pub use handshake::HandshakeError;
#[cfg(feature = "std")]
pub use keys::OsMaskKeys;
pub use keys::{MaskKeySource, NoMaskKeys};
pub use mask::MaskKey;
#[cfg(feature = "alloc")]
pub use message::{Message, MessageAssembler};
pub use recv_buf::RecvBuf;
pub use send_buf::{ArrayStorage, SendStorage};
pub use status::Status;
pub use time::Instant;
#[cfg(feature = "std")]
pub use time::StdClock;
