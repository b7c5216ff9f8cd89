//! [`Error`] and [`CloseInfo`].

use std::fmt;
use std::io;

use ws_runtime::{CloseCode, Initiator};

use crate::broker::BrokerError;

/// How a connection ended (or is ending): the close code and reason, who
/// started closing, and whether Close frames went both ways.
///
/// For a connection the peer closed, `code` and `reason` are the peer's
/// (Robyn always reported 1000 and `""`); for one that dropped without a
/// Close frame, `code` is 1006 (abnormal closure, RFC 6455 §7.1.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseInfo {
    /// The close code: the peer's, or 1006 when no Close frame arrived.
    pub code: CloseCode,
    /// The close reason.
    pub reason: String,
    /// Who started closing.
    pub initiator: Initiator,
    /// Whether the closing handshake completed (RFC 6455 §7.1.4).
    pub clean: bool,
}

impl CloseInfo {
    pub(crate) fn new(
        code: CloseCode,
        reason: impl Into<String>,
        initiator: Initiator,
        clean: bool,
    ) -> Self {
        Self {
            code,
            reason: reason.into(),
            initiator,
            clean,
        }
    }

    /// Whether the peer started closing.
    pub fn is_remote(&self) -> bool {
        self.initiator == Initiator::Remote
    }
}

impl fmt::Display for CloseInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code.as_u16())?;
        if !self.reason.is_empty() {
            write!(f, " {:?}", self.reason)?;
        }
        let by = match self.initiator {
            Initiator::Local => "server",
            Initiator::Remote => "client",
            Initiator::Transport => "transport",
        };
        write!(
            f,
            " (closed by {by}{})",
            if self.clean { "" } else { ", unclean" }
        )
    }
}

/// What can go wrong in `ws-app`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection is closed or closing: receiving returns this after
    /// every message that arrived before the end, sending returns it once
    /// closing has begun. It carries the close code and reason
    /// (Robyn's `WebSocketDisconnect`, with the real code).
    #[error("connection closed: {0}")]
    Closed(CloseInfo),
    /// `receive_text` got a binary message that is not UTF-8.
    #[error("received a binary message that is not valid UTF-8")]
    NotText,
    /// JSON (de)serialization failed.
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
    /// A close code that may not be sent (1005, 1006, 1015, reserved or out
    /// of range), or a reason longer than 123 bytes.
    #[error("invalid close frame: code {code}, reason of {reason_len} bytes")]
    InvalidClose {
        /// The code given.
        code: CloseCode,
        /// The reason's length in bytes.
        reason_len: usize,
    },
    /// The broadcast layer refused a message.
    #[error("broker error: {0}")]
    Broker(#[from] BrokerError),
    /// Binding or serving failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl Error {
    /// Whether this is [`Error::Closed`].
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed(_))
    }

    /// The close code, for [`Error::Closed`].
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Self::Closed(info) => Some(info.code),
            _ => None,
        }
    }

    /// The close information, for [`Error::Closed`].
    pub fn close_info(&self) -> Option<&CloseInfo> {
        match self {
            Self::Closed(info) => Some(info),
            _ => None,
        }
    }
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The error type handlers may return: anything that converts into a boxed
/// error (`ws_app::Error`, `std::io::Error`, `String`, `anyhow::Error`, ...).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
