//! Error types, split by cause.
//!
//! * [`ProtocolError`]: the peer broke RFC 6455. Never returned from
//!   [`Connection::receive`](crate::Connection::receive): the connection fails
//!   itself, sends the mapped close code and reports the cause through
//!   [`Lifecycle`](crate::Lifecycle).
//! * [`SendError`]: the caller misused the API; returned synchronously.
//! * [`HandshakeError`](crate::HandshakeError): a bad upgrade request or response.
//!
//! All are small, `Copy` and free of allocation.

use core::fmt;

use crate::close::CloseCode;

/// The peer violated RFC 6455 or a configured limit.
///
/// `CloseCode::from(err)` gives the close code the connection sends
/// (RFC 6455 §7.4.1): 1007 for bad UTF-8, 1009 for size limits, 1008 for
/// the fragment-count policy, 1002 otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An RSV bit was set without a negotiated extension that defines it (§5.2).
    ReservedBits,
    /// An opcode reserved for future use (§5.2): 0x3–0x7, 0xB–0xF.
    ReservedOpcode(u8),
    /// A control frame without FIN (§5.5).
    FragmentedControlFrame,
    /// A control frame with more than 125 bytes of payload (§5.5).
    ControlFrameTooLong,
    /// A 64-bit payload length with the most significant bit set (§5.2).
    InvalidLength,
    /// A client sent an unmasked frame (§5.1).
    UnmaskedFrame,
    /// A server sent a masked frame (§5.1).
    MaskedFrame,
    /// A continuation frame arrived with no message to continue (§5.4).
    UnexpectedContinuation,
    /// A new text or binary frame arrived inside a fragmented message (§5.4).
    ExpectedContinuation,
    /// A text message, or a close reason, is not valid UTF-8 (§8.1).
    InvalidUtf8,
    /// A close frame with a one-byte payload (§5.5.1).
    InvalidClosePayload,
    /// A close frame with a code that must not appear on the wire (§7.4).
    InvalidCloseCode(u16),
    /// A frame larger than the configured `max_frame_size`.
    FrameTooLarge,
    /// A message larger than the configured `max_message_size`.
    MessageTooLarge,
    /// A message made of more fragments than `max_fragments` allows.
    TooManyFragments,
    /// An extension could not process a frame.
    Extension,
    /// permessage-deflate data that does not decompress (RFC 7692 §6.2).
    /// Closes with 1007: the payload is inconsistent with the message.
    CorruptCompressedData,
}

impl ProtocolError {
    /// A short, static description, also used as the close reason.
    pub const fn description(&self) -> &'static str {
        match self {
            Self::ReservedBits => "reserved bits set",
            Self::ReservedOpcode(_) => "reserved opcode",
            Self::FragmentedControlFrame => "fragmented control frame",
            Self::ControlFrameTooLong => "control frame too long",
            Self::InvalidLength => "invalid payload length",
            Self::UnmaskedFrame => "client frame not masked",
            Self::MaskedFrame => "server frame masked",
            Self::UnexpectedContinuation => "unexpected continuation frame",
            Self::ExpectedContinuation => "expected continuation frame",
            Self::InvalidUtf8 => "invalid UTF-8",
            Self::InvalidClosePayload => "invalid close payload",
            Self::InvalidCloseCode(_) => "invalid close code",
            Self::FrameTooLarge => "frame too large",
            Self::MessageTooLarge => "message too large",
            Self::TooManyFragments => "too many fragments",
            Self::Extension => "extension error",
            Self::CorruptCompressedData => "corrupt compressed data",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            Self::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            _ => f.write_str(self.description()),
        }
    }
}

impl core::error::Error for ProtocolError {}

impl From<ProtocolError> for CloseCode {
    fn from(err: ProtocolError) -> Self {
        match err {
            ProtocolError::InvalidUtf8 | ProtocolError::CorruptCompressedData => {
                Self::INVALID_PAYLOAD
            }
            ProtocolError::FrameTooLarge | ProtocolError::MessageTooLarge => Self::MESSAGE_TOO_BIG,
            ProtocolError::TooManyFragments => Self::POLICY_VIOLATION,
            _ => Self::PROTOCOL_ERROR,
        }
    }
}

/// The caller asked for something the connection cannot do now.
///
/// A failed command leaves the connection and its send buffer untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The connection is closing or closed: after a Close frame no data may
    /// be sent (RFC 6455 §5.5.1).
    InvalidState,
    /// The send buffer cannot take the frame now. Drain
    /// [`poll_transmit`](crate::Connection::poll_transmit) and retry; this is
    /// the backpressure signal. `needed` is the encoded size of the frame.
    BufferFull {
        /// Bytes the frame needs in the send buffer.
        needed: usize,
    },
    /// A control frame payload over 125 bytes (RFC 6455 §5.5).
    FrameTooLarge,
    /// A close code that may not be sent (1005, 1006, 1015, reserved ranges).
    InvalidCloseCode,
    /// A close reason over 123 bytes (RFC 6455 §5.5.1).
    CloseReasonTooLong,
    /// A whole message was sent while a fragmented one is unfinished, or a
    /// continuation changed the message kind (RFC 6455 §5.4).
    FragmentInProgress,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidState => f.write_str("connection is closing or closed"),
            Self::BufferFull { needed } => write!(f, "send buffer full ({needed} bytes needed)"),
            Self::FrameTooLarge => f.write_str("control frame payload over 125 bytes"),
            Self::InvalidCloseCode => f.write_str("close code may not be sent"),
            Self::CloseReasonTooLong => f.write_str("close reason over 123 bytes"),
            Self::FragmentInProgress => f.write_str("a fragmented message is in progress"),
        }
    }
}

impl core::error::Error for SendError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_code_mapping_7_4_1() {
        let cases = [
            (ProtocolError::InvalidUtf8, 1007),
            (ProtocolError::CorruptCompressedData, 1007),
            (ProtocolError::MessageTooLarge, 1009),
            (ProtocolError::FrameTooLarge, 1009),
            (ProtocolError::TooManyFragments, 1008),
            (ProtocolError::ReservedBits, 1002),
            (ProtocolError::ReservedOpcode(3), 1002),
            (ProtocolError::InvalidCloseCode(1005), 1002),
            (ProtocolError::UnmaskedFrame, 1002),
        ];
        for (err, code) in cases {
            assert_eq!(CloseCode::from(err).as_u16(), code, "{err}");
        }
    }

    #[test]
    fn display_is_static_text() {
        extern crate std;
        use std::string::ToString;
        assert_eq!(
            ProtocolError::ReservedOpcode(0xb).to_string(),
            "reserved opcode 0xb"
        );
        assert_eq!(
            SendError::BufferFull { needed: 10 }.to_string(),
            "send buffer full (10 bytes needed)"
        );
    }
}
