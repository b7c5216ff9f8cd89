//! [`HandshakeError`]: why an opening handshake failed.

use core::fmt;

/// Why an opening handshake failed (RFC 6455 §4).
///
/// Server-side variants describe a bad upgrade request; answer it with
/// [`server::reject_error`](super::server::reject_error), which uses
/// [`http_status`](Self::http_status). Client-side variants describe a bad
/// response; the client must then _Fail the WebSocket Connection_
/// (RFC 6455 §4.1). A few variants report misuse by the local caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The head is not valid HTTP/1.x.
    MalformedHttp,
    /// The request method is not `GET` (RFC 6455 §4.2.1 item 1).
    NotGet,
    /// The HTTP version is older than HTTP/1.1 (RFC 6455 §4.2.1 item 1) or not
    /// HTTP/1.x at all.
    UnsupportedHttpVersion,
    /// The request has no `Host` header (RFC 6455 §4.2.1 item 2).
    MissingHost,
    /// The request has more than one `Host` header (RFC 9112 §3.2).
    DuplicateHost,
    /// No `Upgrade` header (RFC 6455 §4.2.1 item 3, §4.1 item 2).
    MissingUpgrade,
    /// An `Upgrade` header is present but does not name `websocket`.
    InvalidUpgrade,
    /// No `Connection` header containing the `Upgrade` token
    /// (RFC 6455 §4.2.1 item 4, §4.1 item 3).
    MissingConnectionUpgrade,
    /// No `Sec-WebSocket-Key` header (RFC 6455 §4.2.1 item 5).
    MissingKey,
    /// `Sec-WebSocket-Key` is not base64 of exactly 16 bytes
    /// (RFC 6455 §4.2.1 item 5).
    InvalidKey,
    /// More than one `Sec-WebSocket-Key` header.
    DuplicateKey,
    /// No `Sec-WebSocket-Version` header (RFC 6455 §4.2.1 item 6). Answered
    /// with `426 Upgrade Required` like an unsupported version (§4.4).
    MissingVersion,
    /// `Sec-WebSocket-Version` is not `13` (RFC 6455 §4.2.1 item 6, §4.4).
    UnsupportedVersion,
    /// The HTTP head is longer than the configured limit.
    HeadTooLarge,
    /// The HTTP head has more header fields than the configured limit or the
    /// caller-supplied header array allows.
    TooManyHeaders,
    /// The server answered with this status instead of `101`
    /// (RFC 6455 §4.1 item 1).
    BadStatus(u16),
    /// The response has no `Sec-WebSocket-Accept` header
    /// (RFC 6455 §4.1 item 4).
    MissingAccept,
    /// `Sec-WebSocket-Accept` does not match the key we sent, or appears more
    /// than once (RFC 6455 §4.1 item 4).
    InvalidAccept,
    /// The server selected a subprotocol the client did not offer, or more
    /// than one (RFC 6455 §4.1 item 6).
    UnexpectedSubprotocol,
    /// The server selected an extension the client did not offer
    /// (RFC 6455 §4.1 item 5).
    UnexpectedExtension,
    /// Local misuse: the server tried to accept a subprotocol the client did
    /// not offer (RFC 6455 §4.2.2 item 5.4).
    SubprotocolNotOffered,
    /// Local misuse: the server tried to accept an extension the client did
    /// not offer (RFC 6455 §9.1).
    ExtensionNotOffered,
    /// Local misuse: a header name or value to be written is not a valid
    /// token / field value (for example it contains CR or LF, which would
    /// allow header injection), or it names a header this crate writes itself.
    InvalidHeaderField,
    /// Local misuse: the client's request path is empty, does not start with
    /// `/`, or contains whitespace or control characters.
    InvalidRequestTarget,
    /// Local misuse: an HTTP status outside 200..=599 was passed to `reject`.
    InvalidStatus,
    /// Local misuse: the output buffer is too small. Nothing was written;
    /// retry with at least `needed` bytes.
    BufferTooSmall {
        /// Bytes the complete output needs.
        needed: usize,
    },
}

impl HandshakeError {
    /// The HTTP status a server should answer a request with that failed
    /// with this error.
    ///
    /// - `405 Method Not Allowed` for [`NotGet`](Self::NotGet) (RFC 6455 only
    ///   asks for "an appropriate HTTP error code"; 405 tells the client
    ///   what is wrong, and [`reject_error`](super::server::reject_error)
    ///   adds the mandatory `Allow: GET`).
    /// - `426 Upgrade Required` for [`UnsupportedVersion`](Self::UnsupportedVersion)
    ///   and [`MissingVersion`](Self::MissingVersion) (RFC 6455 §4.4).
    /// - `431 Request Header Fields Too Large` for
    ///   [`HeadTooLarge`](Self::HeadTooLarge) and
    ///   [`TooManyHeaders`](Self::TooManyHeaders) (RFC 6585 §5).
    /// - `500 Internal Server Error` for local misuse
    ///   ([`SubprotocolNotOffered`](Self::SubprotocolNotOffered),
    ///   [`ExtensionNotOffered`](Self::ExtensionNotOffered),
    ///   [`InvalidHeaderField`](Self::InvalidHeaderField),
    ///   [`InvalidRequestTarget`](Self::InvalidRequestTarget),
    ///   [`InvalidStatus`](Self::InvalidStatus),
    ///   [`BufferTooSmall`](Self::BufferTooSmall)).
    /// - `400 Bad Request` otherwise. Client-side variants also map to 400,
    ///   although a client never answers with HTTP.
    pub const fn http_status(&self) -> u16 {
        match self {
            Self::NotGet => 405,
            Self::UnsupportedVersion | Self::MissingVersion => 426,
            Self::HeadTooLarge | Self::TooManyHeaders => 431,
            Self::SubprotocolNotOffered
            | Self::ExtensionNotOffered
            | Self::InvalidHeaderField
            | Self::InvalidRequestTarget
            | Self::InvalidStatus
            | Self::BufferTooSmall { .. } => 500,
            _ => 400,
        }
    }

    /// A short static description, without the variant's data.
    pub(crate) const fn message(&self) -> &'static str {
        match self {
            Self::MalformedHttp => "malformed HTTP head",
            Self::NotGet => "WebSocket upgrade requires the GET method",
            Self::UnsupportedHttpVersion => "WebSocket upgrade requires HTTP/1.1",
            Self::MissingHost => "missing Host header",
            Self::DuplicateHost => "more than one Host header",
            Self::MissingUpgrade => "missing Upgrade header",
            Self::InvalidUpgrade => "Upgrade header does not name websocket",
            Self::MissingConnectionUpgrade => "Connection header lacks the Upgrade token",
            Self::MissingKey => "missing Sec-WebSocket-Key header",
            Self::InvalidKey => "Sec-WebSocket-Key is not base64 of 16 bytes",
            Self::DuplicateKey => "more than one Sec-WebSocket-Key header",
            Self::MissingVersion => "missing Sec-WebSocket-Version header",
            Self::UnsupportedVersion => "unsupported Sec-WebSocket-Version (expected 13)",
            Self::HeadTooLarge => "HTTP head too large",
            Self::TooManyHeaders => "too many HTTP headers",
            Self::BadStatus(_) => "server did not answer 101 Switching Protocols",
            Self::MissingAccept => "missing Sec-WebSocket-Accept header",
            Self::InvalidAccept => "Sec-WebSocket-Accept does not match the key",
            Self::UnexpectedSubprotocol => "server selected a subprotocol that was not offered",
            Self::UnexpectedExtension => "server selected an extension that was not offered",
            Self::SubprotocolNotOffered => "accepted subprotocol was not offered by the client",
            Self::ExtensionNotOffered => "accepted extension was not offered by the client",
            Self::InvalidHeaderField => "invalid or reserved header name or value",
            Self::InvalidRequestTarget => "invalid request path",
            Self::InvalidStatus => "HTTP status must be in 200..=599",
            Self::BufferTooSmall { .. } => "output buffer too small",
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())?;
        match self {
            Self::BadStatus(status) => write!(f, " (got {status})"),
            Self::BufferTooSmall { needed } => write!(f, " ({needed} bytes needed)"),
            _ => Ok(()),
        }
    }
}

impl core::error::Error for HandshakeError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn display_is_static_text_plus_data() {
        assert_eq!(
            HandshakeError::MissingKey.to_string(),
            "missing Sec-WebSocket-Key header"
        );
        assert_eq!(
            HandshakeError::BadStatus(200).to_string(),
            "server did not answer 101 Switching Protocols (got 200)"
        );
        assert_eq!(
            HandshakeError::BufferTooSmall { needed: 7 }.to_string(),
            "output buffer too small (7 bytes needed)"
        );
    }

    #[test]
    fn rfc6455_4_4_http_status_mapping() {
        assert_eq!(HandshakeError::UnsupportedVersion.http_status(), 426);
        assert_eq!(HandshakeError::MissingVersion.http_status(), 426);
        assert_eq!(HandshakeError::HeadTooLarge.http_status(), 431);
        assert_eq!(HandshakeError::TooManyHeaders.http_status(), 431);
        assert_eq!(HandshakeError::NotGet.http_status(), 405);
        assert_eq!(HandshakeError::MissingHost.http_status(), 400);
        assert_eq!(HandshakeError::InvalidKey.http_status(), 400);
        assert_eq!(HandshakeError::InvalidHeaderField.http_status(), 500);
    }

    #[test]
    fn error_is_small_and_copy() {
        fn assert_copy<T: Copy + core::error::Error>() {}
        assert_copy::<HandshakeError>();
        assert!(size_of::<HandshakeError>() <= 16);
    }
}
