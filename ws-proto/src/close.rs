//! Close codes and close frame payloads (RFC 6455 §5.5.1, §7.4).

use core::fmt;

use crate::error::ProtocolError;

/// A WebSocket close status code (RFC 6455 §7.4 and the IANA registry).
///
/// A newtype over `u16` with associated constants (h2's `Reason`), so that
/// application codes 3000–4999 are as easy to carry as the registered ones.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: Self = Self(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1005: no status code was present (never sent on the wire).
    pub const NO_STATUS_RCVD: Self = Self(1005);
    /// 1006: closed without a close frame (never sent on the wire).
    pub const ABNORMAL_CLOSURE: Self = Self(1006);
    /// 1007: message data inconsistent with its type (bad UTF-8).
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: a message too big to process.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: Self = Self(1010);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: Self = Self(1011);
    /// 1012: the service is restarting (IANA registry).
    pub const SERVICE_RESTART: Self = Self(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: Self = Self(1013);
    /// 1014: a gateway received an invalid response (IANA registry).
    pub const BAD_GATEWAY: Self = Self(1014);
    /// 1015: the TLS handshake failed (never sent on the wire).
    pub const TLS_HANDSHAKE: Self = Self(1015);

    /// Wraps a raw code. Any value is representable; use
    /// [`is_sendable`](Self::is_sendable) and
    /// [`is_valid_received`](Self::is_valid_received) to judge it.
    pub const fn new(code: u16) -> Self {
        Self(code)
    }

    /// The raw code.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether this code may go on the wire in a close frame.
    ///
    /// Registered codes except 1004 (reserved), 1005, 1006 and 1015, plus the
    /// library/framework range 3000–3999 and the private range 4000–4999.
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// Whether a close frame carrying this code is valid on receipt.
    ///
    /// The same set as [`is_sendable`](Self::is_sendable): a peer that sends
    /// 1005, 1006, 1015, a reserved code or anything outside 1000–4999 has
    /// broken the protocol (RFC 6455 §7.4.1, §7.4.2).
    pub const fn is_valid_received(self) -> bool {
        self.is_sendable()
    }

    /// Whether the code lies in 3000–3999 (registered by libraries and frameworks).
    pub const fn is_library_range(self) -> bool {
        matches!(self.0, 3000..=3999)
    }

    /// Whether the code lies in 4000–4999 (private use by applications).
    pub const fn is_private_range(self) -> bool {
        matches!(self.0, 4000..=4999)
    }

    /// The registry's short description, or `"application-defined"` /
    /// `"unknown"`.
    pub const fn description(self) -> &'static str {
        match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1005 => "no status received",
            1006 => "abnormal closure",
            1007 => "invalid frame payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake failure",
            3000..=4999 => "application-defined",
            _ => "unknown",
        }
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({} {})", self.0, self.description())
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.description())
    }
}

/// The longest close reason that fits a control frame: 125 − 2 bytes of code.
pub const MAX_REASON_LEN: usize = 123;

/// A close frame's content: a code and a UTF-8 reason borrowed from the frame.
///
/// An empty close payload is represented as [`CloseCode::NO_STATUS_RCVD`]
/// with an empty reason, as RFC 6455 §7.1.5 prescribes for the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseFrame<'a> {
    /// The status code.
    pub code: CloseCode,
    /// The reason, at most 123 bytes of UTF-8.
    pub reason: &'a str,
}

impl<'a> CloseFrame<'a> {
    /// Parses a received close payload (RFC 6455 §5.5.1).
    ///
    /// Empty → 1005 with no reason; one byte → error; a code that is not
    /// valid on receipt → error; a reason that is not UTF-8 → error (1007).
    pub fn parse(payload: &'a [u8]) -> Result<Self, ProtocolError> {
        match payload {
            [] => Ok(Self {
                code: CloseCode::NO_STATUS_RCVD,
                reason: "",
            }),
            [_] => Err(ProtocolError::InvalidClosePayload),
            [hi, lo, reason @ ..] => {
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                if !code.is_valid_received() {
                    return Err(ProtocolError::InvalidCloseCode(code.0));
                }
                let reason =
                    core::str::from_utf8(reason).map_err(|_| ProtocolError::InvalidUtf8)?;
                Ok(Self { code, reason })
            }
        }
    }

    /// The payload length this frame encodes to (0 for 1005).
    pub fn encoded_len(&self) -> usize {
        if self.code == CloseCode::NO_STATUS_RCVD {
            0
        } else {
            2 + self.reason.len()
        }
    }
}

/// A close frame kept inside the connection without allocation: the code and
/// up to 123 bytes of reason.
#[derive(Clone, Copy)]
pub(crate) struct StoredClose {
    code: CloseCode,
    reason: [u8; MAX_REASON_LEN],
    reason_len: u8,
}

impl StoredClose {
    pub(crate) fn new(frame: &CloseFrame<'_>) -> Self {
        let mut reason = [0; MAX_REASON_LEN];
        // A longer reason cannot come from a valid control frame; cut at a
        // char boundary anyway so `get` below always succeeds.
        let mut len = frame.reason.len().min(MAX_REASON_LEN);
        while !frame.reason.is_char_boundary(len) {
            len -= 1;
        }
        reason[..len].copy_from_slice(&frame.reason.as_bytes()[..len]);
        Self {
            code: frame.code,
            reason,
            reason_len: len as u8,
        }
    }

    pub(crate) fn get(&self) -> CloseFrame<'_> {
        let bytes = &self.reason[..usize::from(self.reason_len)];
        CloseFrame {
            code: self.code,
            reason: core::str::from_utf8(bytes).unwrap_or(""),
        }
    }
}

impl fmt::Debug for StoredClose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! close_payload {
        ($($name:ident: $bytes:expr => $expect:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(CloseFrame::parse($bytes), $expect);
            }
        )*};
    }

    close_payload! {
        s5_5_1_empty_is_no_status: b"" => Ok(CloseFrame { code: CloseCode::NO_STATUS_RCVD, reason: "" });
        s5_5_1_one_byte_is_invalid: b"\x03" => Err(ProtocolError::InvalidClosePayload);
        s5_5_1_code_only: b"\x03\xe8" => Ok(CloseFrame { code: CloseCode::NORMAL, reason: "" });
        s5_5_1_code_and_reason: b"\x03\xe9bye" => Ok(CloseFrame { code: CloseCode::GOING_AWAY, reason: "bye" });
        s7_4_1_1005_is_invalid: b"\x03\xed" => Err(ProtocolError::InvalidCloseCode(1005));
        s7_4_1_1006_is_invalid: b"\x03\xee" => Err(ProtocolError::InvalidCloseCode(1006));
        s7_4_1_999_is_invalid: b"\x03\xe7" => Err(ProtocolError::InvalidCloseCode(999));
        s7_4_2_5000_is_invalid: b"\x13\x88" => Err(ProtocolError::InvalidCloseCode(5000));
        s8_1_reason_must_be_utf8: b"\x03\xe8\xff" => Err(ProtocolError::InvalidUtf8);
    }

    #[test]
    fn s7_4_sendable_codes() {
        let valid = [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999,
        ];
        let invalid = [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ];
        for code in valid {
            assert!(CloseCode::new(code).is_sendable(), "{code}");
            assert!(CloseCode::new(code).is_valid_received(), "{code}");
        }
        for code in invalid {
            assert!(!CloseCode::new(code).is_sendable(), "{code}");
        }
        assert!(CloseCode::new(3500).is_library_range());
        assert!(CloseCode::new(4500).is_private_range());
        assert_eq!(CloseCode::INTERNAL_ERROR.description(), "internal error");
    }

    #[test]
    fn stored_close_round_trips() {
        let frame = CloseFrame {
            code: CloseCode::new(4001),
            reason: "é bientôt",
        };
        let stored = StoredClose::new(&frame);
        assert_eq!(stored.get(), frame);
        assert_eq!(frame.encoded_len(), 2 + "é bientôt".len());
    }
}
