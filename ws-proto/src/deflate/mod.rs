//! permessage-deflate (RFC 7692): negotiation and per-message compression.
//!
//! Negotiation ([`DeflateConfig`], [`DeflateParams`]) works in every build;
//! compression itself needs the `deflate` feature (on by default), which
//! brings the `alloc`-only `miniz_oxide` backend, so it works without `std`.
//!
//! Memory: a connection that uses compression holds an inflater (about
//! 43 KiB, mostly the 32 KiB window) and a compressor (about 300 KiB of
//! match-finder tables), each created on first use. Servers with many
//! mostly idle connections should consider `server_no_context_takeover`
//! and a smaller window, or leave compression off.

#[cfg(feature = "deflate")]
pub(crate) mod codec;
mod params;

pub use params::{DeflateConfig, DeflateParams, EXTENSION_NAME, ExtensionHeader, NegotiationError};
