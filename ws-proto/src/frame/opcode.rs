//! Frame opcodes (RFC 6455 §5.2, §11.8).

/// A frame opcode. Reserved values are not representable: decoding them is a
/// [`ProtocolError::ReservedOpcode`](crate::ProtocolError::ReservedOpcode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation = 0x0,
    /// 0x1: the first frame of a text message.
    Text = 0x1,
    /// 0x2: the first frame of a binary message.
    Binary = 0x2,
    /// 0x8: close.
    Close = 0x8,
    /// 0x9: ping.
    Ping = 0x9,
    /// 0xA: pong.
    Pong = 0xa,
}

impl OpCode {
    /// Decodes the low four bits of the first header byte.
    pub const fn from_u8(bits: u8) -> Option<Self> {
        match bits {
            0x0 => Some(Self::Continuation),
            0x1 => Some(Self::Text),
            0x2 => Some(Self::Binary),
            0x8 => Some(Self::Close),
            0x9 => Some(Self::Ping),
            0xa => Some(Self::Pong),
            _ => None,
        }
    }

    /// The four-bit wire value.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// Close, Ping and Pong are control frames (§5.5).
    pub const fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s5_2_every_nibble() {
        for bits in 0u8..16 {
            match OpCode::from_u8(bits) {
                Some(op) => {
                    assert_eq!(op.as_u8(), bits);
                    assert_eq!(op.is_control(), bits >= 8);
                }
                None => assert!(matches!(bits, 0x3..=0x7 | 0xb..=0xf)),
            }
        }
    }
}
