//! Frames encoded once and sent on many connections (broadcast).
//!
//! Server frames are not masked, so the bytes of a message are the same for
//! every recipient: encode them once with [`PreparedFrame::new`] and hand
//! them to each connection with
//! [`Connection::send_prepared`](crate::Connection::send_prepared), which
//! still applies every state rule (no data after Close, not inside a
//! fragmented message) and the backpressure watermark.

use alloc::vec::Vec;

use super::{DataKind, FrameHeader, MAX_HEADER_LEN};

/// A complete, unmasked, uncompressed data frame, ready for any server
/// connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedFrame {
    bytes: Vec<u8>,
    kind: DataKind,
}

impl PreparedFrame {
    /// Encodes a whole message as one server frame.
    pub fn new(kind: DataKind, payload: &[u8]) -> Self {
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: kind.opcode(),
            mask: None,
            payload_len: payload.len() as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head).unwrap_or(0);
        let mut bytes = Vec::with_capacity(head_len + payload.len());
        bytes.extend_from_slice(&head[..head_len]);
        bytes.extend_from_slice(payload);
        Self { bytes, kind }
    }

    /// Encodes a text message.
    pub fn text(text: &str) -> Self {
        Self::new(DataKind::Text, text.as_bytes())
    }

    /// Encodes a binary message.
    pub fn binary(data: &[u8]) -> Self {
        Self::new(DataKind::Binary, data)
    }

    /// The message kind.
    pub fn kind(&self) -> DataKind {
        self.kind
    }

    /// The encoded frame: header and payload.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The payload length.
    pub fn payload_len(&self) -> usize {
        let Ok(crate::Status::Complete((_, header_len))) = FrameHeader::parse(&self.bytes) else {
            return 0;
        };
        self.bytes.len() - header_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s5_7_prepared_hello() {
        let frame = PreparedFrame::text("Hello");
        assert_eq!(frame.as_bytes(), [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!(frame.payload_len(), 5);
        let big = PreparedFrame::binary(&[0; 70_000]);
        assert_eq!(big.as_bytes()[..2], [0x82, 0x7f]);
        assert_eq!(big.payload_len(), 70_000);
    }
}
