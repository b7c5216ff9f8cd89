//! The base framing protocol (RFC 6455 §5.2): opcodes and frame headers.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```

mod header;
mod opcode;
#[cfg(feature = "alloc")]
mod prepared;

pub(crate) use header::first_byte;
pub use header::{FrameHeader, MAX_HEADER_LEN};
pub use opcode::OpCode;
#[cfg(feature = "alloc")]
pub use prepared::PreparedFrame;

/// Byte offsets and bit masks of the frame header (smoltcp's `field` idiom).
pub(crate) mod field {
    /// First byte: FIN.
    pub(crate) const FIN: u8 = 0x80;
    /// First byte: RSV1, RSV2, RSV3.
    pub(crate) const RSV: u8 = 0x70;
    /// First byte: the opcode.
    pub(crate) const OPCODE: u8 = 0x0f;
    /// Second byte: MASK.
    pub(crate) const MASK: u8 = 0x80;
    /// Second byte: the 7-bit payload length.
    pub(crate) const LEN: u8 = 0x7f;
    /// 7-bit length value announcing a 16-bit extended length.
    pub(crate) const LEN_16: u8 = 126;
    /// 7-bit length value announcing a 64-bit extended length.
    pub(crate) const LEN_64: u8 = 127;
    /// Largest payload of a control frame (§5.5).
    pub(crate) const MAX_CONTROL_PAYLOAD: usize = 125;
}

/// The kind of a data message: the opcode of its first frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// UTF-8 text (opcode 0x1).
    Text,
    /// Binary data (opcode 0x2).
    Binary,
}

impl DataKind {
    /// The opcode of the first frame of such a message.
    pub const fn opcode(self) -> OpCode {
        match self {
            Self::Text => OpCode::Text,
            Self::Binary => OpCode::Binary,
        }
    }
}
