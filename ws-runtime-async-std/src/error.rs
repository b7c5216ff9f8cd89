//! Errors: the shared driver's [`Error`], which wraps `io::Error`,
//! `ws_proto::ProtocolError`, `HandshakeError` and `SendError`, carries the
//! peer's close code and reason in [`Error::ConnectionClosed`], and answers
//! [`Error::is_clean_close`] and [`Error::is_remote`].

pub use ws_runtime::{Error, Result};
