//! Unstable: for fuzz targets and replay tests.
//!
//! The oracles that the cargo-fuzz targets in `fuzz/` and the corpus replay
//! test (`ws-proto/tests/fuzz_corpus.rs`) share, so that every input the
//! fuzzer ever found interesting is checked again, on stable, by
//! `cargo test --workspace` (quinn's `fuzzing`, rustls' `internal`, str0m's
//! `_internal_test_exports`). Nothing here is part of the public API: the
//! module is `#[doc(hidden)]`, behind the `fuzzing` cargo feature, and may
//! change in any release.
//!
//! Every `check_*` / `run_*` function takes raw fuzzer bytes, accepts any
//! input, and panics (with a message naming the broken property) only when
//! `ws-proto` misbehaves. Beyond "does not panic", the oracles are:
//!
//! * **Headers** ([`check_frame_header`]): a decoded header re-encodes to the
//!   same bytes when the input used the minimal length encoding (non-minimal
//!   16- and 64-bit lengths are accepted on purpose, as RFC 6455 §5.2 only
//!   says the minimal form "MUST" be used by senders; they re-encode
//!   shorter); a verdict, once reached, does not change as bytes are added;
//!   every rejection is one of the four header errors, and exactly the one a
//!   separately written reference predicts; each role's connection fails
//!   with the predicted error (mask direction, RSV bits, continuation).
//! * **Decoding** ([`check_frame_decode`], [`check_connection_bytes`]): the
//!   same events, lifecycle changes and output bytes whether the input
//!   arrives whole, one byte at a time or split at fuzzer-chosen points;
//!   events and output agree with a simple whole-buffer reference decoder
//!   (naive unmasking, whole-message UTF-8 checks, the RFC's rule order);
//!   after a protocol failure exactly one Close frame with the mapped code,
//!   and nothing else, is emitted.
//! * **Sessions** ([`run_connection_script`], [`check_roundtrip`]): two
//!   connections exchanging bytes deliver exactly the messages and close
//!   codes that were sent; without corruption they never fail each other
//!   except on configured limits; the send buffer never grows past
//!   `max(watermark, one frame)` plus the automatic control frames; after a
//!   failure only a Close frame and the shutdown come out, and after the
//!   shutdown nothing; no timer is left due after `handle_timeout`; and
//!   every connection reaches `Closed`, reported exactly once.
//! * **Handshake** ([`check_handshake_request`],
//!   [`check_handshake_response`], [`check_extension_offers`]): the
//!   incremental [`HeadReader`](crate::handshake::HeadReader) ends the head
//!   exactly where the parser does; a head parses the same without the bytes
//!   after it; every rejection is a documented error of that side, answered
//!   with its documented HTTP status; an accepted request can be accepted
//!   with any subprotocol and extension it offered, and the answer carries
//!   the right `Sec-WebSocket-Accept`; list splitting agrees with a reference
//!   splitter.
//! * **Close payloads** ([`check_close_payload`]): parse, re-encode and
//!   parse again; the verdict matches a reference; the payload survives a
//!   trip through a connection pair.
//! * **permessage-deflate** (`check_inflate`, with the `deflate` feature):
//!   our client's offer, our server's choice and our client's check agree;
//!   arbitrary bytes into a compressing connection decode the same however
//!   they are split and never exceed the message limit; compressed messages
//!   round-trip both ways. Whatever our server answers to a fuzzed offer, a
//!   default client accepts with the same parameters.
//!
//! Structured inputs are read with [`Input`], a never-failing cursor in the
//! spirit of `arbitrary::Unstructured`: it needs no extra dependency, so the
//! replay tests decode the corpora exactly as the fuzz targets do.

mod frames;
mod handshake;
#[cfg(feature = "deflate")]
mod inflate;
mod input;
mod script;
mod side;

pub use frames::{
    WireFrame, check_close_payload, check_connection_bytes, check_frame_decode, check_frame_header,
    decode_frames, reference_header,
};
pub use handshake::{check_extension_offers, check_handshake_request, check_handshake_response};
#[cfg(feature = "deflate")]
pub use inflate::check_inflate;
pub use input::Input;
pub use script::{check_roundtrip, run_connection_script};
pub use side::Seen;
