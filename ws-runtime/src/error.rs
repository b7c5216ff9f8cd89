//! The one error type of the async API.

use std::io;

use ws_proto::{CloseCode, HandshakeError, Initiator, ProtocolError, SendError};

/// Why a WebSocket operation failed or a connection ended.
///
/// The predicates tell the common questions apart:
/// [`is_clean_close`](Self::is_clean_close) (the closing handshake
/// completed: not really a failure) and [`is_remote`](Self::is_remote) (the
/// peer, not this end, caused it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The peer broke RFC 6455 or a configured limit; the connection sent
    /// the mapped close code (RFC 6455 §7.4.1) and closed.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The opening handshake failed: a bad request or response, or an HTTP
    /// error status from the server ([`HandshakeError::BadStatus`]).
    #[error("handshake failed: {0}")]
    Handshake(#[from] HandshakeError),
    /// This end misused the connection (a control payload over 125 bytes, a
    /// close code that may not be sent, data after `close`).
    #[error("cannot send: {0}")]
    Send(#[from] SendError),
    /// The server's callback refused the upgrade with this HTTP status; the
    /// response has been sent.
    #[error("upgrade rejected with HTTP status {status}")]
    Rejected {
        /// The HTTP status sent.
        status: u16,
    },
    /// The peer did not complete the opening handshake in time.
    #[error("opening handshake timed out")]
    HandshakeTimeout,
    /// A keepalive Ping went unanswered for the configured pong timeout.
    #[error("keepalive ping timed out")]
    KeepaliveTimeout,
    /// The URL is not a `ws://` (or, with TLS, `wss://`) URL this crate can
    /// connect to.
    #[error("invalid WebSocket URL: {0}")]
    InvalidUrl(String),
    /// The connection is closed, or ended without a complete closing
    /// handshake.
    ///
    /// `code` is the WebSocket Connection Close Code (RFC 6455 §7.1.5): the
    /// peer's close code, 1005 if its Close frame had none, 1006 if none
    /// arrived. `reason` is the peer's close reason.
    #[error("connection closed ({code:?}{}{reason}, clean: {clean})", if reason.is_empty() { "" } else { ": " })]
    ConnectionClosed {
        /// The peer's close code (1006 when no Close frame arrived).
        code: CloseCode,
        /// The peer's close reason.
        reason: String,
        /// Whether Close frames went both ways (RFC 6455 §7.1.4).
        clean: bool,
        /// Who started closing.
        initiator: Initiator,
    },
}

impl Error {
    /// Whether the connection ended with a completed closing handshake.
    pub fn is_clean_close(&self) -> bool {
        matches!(self, Self::ConnectionClosed { clean: true, .. })
    }

    /// Whether the peer caused this: it closed or dropped the connection,
    /// broke the protocol, refused or botched the handshake, or stopped
    /// answering (h2's `Error::is_remote`).
    pub fn is_remote(&self) -> bool {
        match self {
            Self::ConnectionClosed { initiator, .. } => {
                matches!(initiator, Initiator::Remote | Initiator::Transport)
            }
            Self::Protocol(_) | Self::HandshakeTimeout | Self::KeepaliveTimeout => true,
            Self::Handshake(err) => err.http_status() != 500,
            Self::Io(err) => matches!(
                err.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
            ),
            Self::Send(_) | Self::Rejected { .. } | Self::InvalidUrl(_) => false,
        }
    }

    /// The close code this error carries: the peer's for
    /// [`ConnectionClosed`](Self::ConnectionClosed), the code sent for a
    /// protocol error.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Self::ConnectionClosed { code, .. } => Some(*code),
            Self::Protocol(err) => Some(CloseCode::from(*err)),
            _ => None,
        }
    }
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
