//! Frame header decoding and encoding.

use super::OpCode;
use super::field;
use crate::error::ProtocolError;
use crate::mask::MaskKey;
use crate::status::Status;

/// The longest header: 2 bytes, 8 bytes of length, 4 bytes of mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// A decoded frame header (RFC 6455 §5.2).
///
/// Decoding checks what the header alone decides: reserved opcodes, the
/// 64-bit length's top bit, and the control-frame rules of §5.5. Checks that
/// depend on the connection (mask bit for the role, RSV bits for negotiated
/// extensions, fragmentation order, size limits) are the connection's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// The RSV1–RSV3 bits, as the upper three bits of the low nibble
    /// (`0b100` is RSV1).
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, if the MASK bit is set.
    pub mask: Option<MaskKey>,
    /// The payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Decodes a header from the start of `buf`.
    ///
    /// Returns the header and its encoded length, [`Status::Partial`] when
    /// `buf` ends inside the header, or the violation.
    pub fn parse(buf: &[u8]) -> Result<Status<(Self, usize)>, ProtocolError> {
        let [b0, b1, rest @ ..] = buf else {
            return Ok(Status::Partial);
        };
        let opcode = OpCode::from_u8(b0 & field::OPCODE)
            .ok_or(ProtocolError::ReservedOpcode(b0 & field::OPCODE))?;
        let fin = b0 & field::FIN != 0;
        let rsv = (b0 & field::RSV) >> 4;
        let masked = b1 & field::MASK != 0;
        let (payload_len, len_bytes) = match b1 & field::LEN {
            field::LEN_16 => match rest {
                [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 2),
                _ => return Ok(Status::Partial),
            },
            field::LEN_64 => match rest.first_chunk::<8>() {
                Some(bytes) => {
                    let len = u64::from_be_bytes(*bytes);
                    if len >> 63 != 0 {
                        return Err(ProtocolError::InvalidLength);
                    }
                    (len, 8)
                }
                None => return Ok(Status::Partial),
            },
            short => (u64::from(short), 0),
        };
        if opcode.is_control() {
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if payload_len > field::MAX_CONTROL_PAYLOAD as u64 {
                return Err(ProtocolError::ControlFrameTooLong);
            }
        }
        let mut len = 2 + len_bytes;
        let mask = if masked {
            match rest.get(len_bytes..len_bytes + 4) {
                Some(&[a, b, c, d]) => {
                    len += 4;
                    Some(MaskKey::new([a, b, c, d]))
                }
                _ => return Ok(Status::Partial),
            }
        } else {
            None
        };
        Ok(Status::Complete((
            Self {
                fin,
                rsv,
                opcode,
                mask,
                payload_len,
            },
            len,
        )))
    }

    /// The encoded length of this header: 2 to 14 bytes.
    pub const fn encoded_len(&self) -> usize {
        let len_bytes = if self.payload_len < field::LEN_16 as u64 {
            0
        } else if self.payload_len <= u16::MAX as u64 {
            2
        } else {
            8
        };
        2 + len_bytes + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Encodes the header at the start of `out`, always with the minimal
    /// length encoding (§5.2), and returns the number of bytes written.
    ///
    /// Returns `None`, writing nothing, if `out` is shorter than
    /// [`encoded_len`](Self::encoded_len).
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let len = self.encoded_len();
        let out = out.get_mut(..len)?;
        out[0] = first_byte(self.fin, self.rsv, self.opcode);
        let mask_bit = if self.mask.is_some() { field::MASK } else { 0 };
        let mut at = 2;
        if self.payload_len < field::LEN_16 as u64 {
            out[1] = mask_bit | self.payload_len as u8;
        } else if self.payload_len <= u16::MAX as u64 {
            out[1] = mask_bit | field::LEN_16;
            out[2..4].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
            at = 4;
        } else {
            out[1] = mask_bit | field::LEN_64;
            out[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            at = 10;
        }
        if let Some(key) = self.mask {
            out[at..at + 4].copy_from_slice(&key.bytes());
        }
        Some(len)
    }
}

/// A header's first byte: FIN, the three RSV bits (`rsv`, low bits), the
/// opcode.
pub(crate) const fn first_byte(fin: bool, rsv: u8, opcode: OpCode) -> u8 {
    (if fin { field::FIN } else { 0 }) | ((rsv << 4) & field::RSV) | opcode.as_u8()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(bytes: &[u8]) -> Result<Status<(FrameHeader, usize)>, ProtocolError> {
        FrameHeader::parse(bytes)
    }

    fn header(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, len: u64) -> FrameHeader {
        FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask: mask.map(MaskKey::new),
            payload_len: len,
        }
    }

    macro_rules! header_vectors {
        ($($name:ident: $bytes:expr => $header:expr;)*) => {$(
            #[test]
            fn $name() {
                let bytes: &[u8] = $bytes;
                let expect: FrameHeader = $header;
                assert_eq!(parse_all(bytes), Ok(Status::Complete((expect, bytes.len()))));
                let mut out = [0u8; MAX_HEADER_LEN];
                assert_eq!(expect.encode(&mut out), Some(bytes.len()));
                assert_eq!(&out[..bytes.len()], bytes);
                for cut in 0..bytes.len() {
                    assert_eq!(parse_all(&bytes[..cut]), Ok(Status::Partial), "cut at {cut}");
                }
            }
        )*};
    }

    header_vectors! {
        s5_7_unmasked_text: &[0x81, 0x05] => header(true, OpCode::Text, None, 5);
        s5_7_masked_text: &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d] =>
            header(true, OpCode::Text, Some([0x37, 0xfa, 0x21, 0x3d]), 5);
        s5_7_first_fragment: &[0x01, 0x03] => header(false, OpCode::Text, None, 3);
        s5_7_last_fragment: &[0x80, 0x02] => header(true, OpCode::Continuation, None, 2);
        s5_7_ping: &[0x89, 0x05] => header(true, OpCode::Ping, None, 5);
        s5_7_masked_pong: &[0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d] =>
            header(true, OpCode::Pong, Some([0x37, 0xfa, 0x21, 0x3d]), 5);
        s5_7_len_256: &[0x82, 0x7e, 0x01, 0x00] => header(true, OpCode::Binary, None, 256);
        s5_7_len_65536: &[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0] => header(true, OpCode::Binary, None, 65536);
        s5_2_len_125: &[0x82, 0x7d] => header(true, OpCode::Binary, None, 125);
        s5_2_len_126: &[0x82, 0x7e, 0x00, 0x7e] => header(true, OpCode::Binary, None, 126);
        s5_2_len_65535: &[0x82, 0x7e, 0xff, 0xff] => header(true, OpCode::Binary, None, 65535);
        s5_2_len_max: &[0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4] =>
            header(true, OpCode::Binary, Some([1, 2, 3, 4]), u64::MAX >> 1);
    }

    #[test]
    fn s5_2_rsv_bits_are_reported() {
        let (h, _) = parse_all(&[0xc1, 0x00]).unwrap().complete().unwrap();
        assert_eq!(h.rsv, 0b100);
        let (h, _) = parse_all(&[0x91, 0x00]).unwrap().complete().unwrap();
        assert_eq!(h.rsv, 0b001);
        let mut out = [0; 14];
        assert_eq!(h.encode(&mut out), Some(2));
        assert_eq!(out[..2], [0x91, 0x00]);
    }

    #[test]
    fn s5_2_violations() {
        assert_eq!(
            parse_all(&[0x83, 0x00]),
            Err(ProtocolError::ReservedOpcode(3))
        );
        assert_eq!(
            parse_all(&[0x8b, 0x00]),
            Err(ProtocolError::ReservedOpcode(0xb))
        );
        assert_eq!(
            parse_all(&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(ProtocolError::InvalidLength)
        );
        assert_eq!(
            parse_all(&[0x09, 0x00]),
            Err(ProtocolError::FragmentedControlFrame)
        );
        assert_eq!(
            parse_all(&[0x89, 0x7e, 0x00, 0x7e]),
            Err(ProtocolError::ControlFrameTooLong)
        );
        assert_eq!(
            parse_all(&[0x88, 0x7e, 0x00, 0x7e]),
            Err(ProtocolError::ControlFrameTooLong)
        );
        // A reserved opcode is reported from the first byte alone.
        assert_eq!(parse_all(&[0x8f]), Ok(Status::Partial));
    }

    #[test]
    fn encode_into_short_buffer_writes_nothing() {
        let h = header(true, OpCode::Binary, Some([1, 2, 3, 4]), 70_000);
        assert_eq!(h.encoded_len(), 14);
        let mut out = [0xaa; 13];
        assert_eq!(h.encode(&mut out), None);
        assert!(out.iter().all(|&b| b == 0xaa));
    }
}
