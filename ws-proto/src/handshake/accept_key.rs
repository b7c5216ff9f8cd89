//! `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` (RFC 6455 §1.3, §4.2.2).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::ACCEPT_GUID;

/// Length of a `Sec-WebSocket-Key`: 16 random bytes in base64 (RFC 6455 §4.1).
pub(crate) const KEY_LEN: usize = 24;

/// Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 §1.3):
/// base64(SHA-1(key ++ "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
///
/// `key` is the header value exactly as sent (the base64 text, not the
/// decoded nonce), without surrounding whitespace.
///
/// ```
/// use ws_proto::handshake::accept_key;
///
/// assert_eq!(&accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> [u8; 28] {
    let mut sha1 = sha1_smol::Sha1::new();
    sha1.update(key);
    sha1.update(ACCEPT_GUID.as_bytes());
    let digest = sha1.digest().bytes();
    let mut out = [0u8; 28];
    // 20 bytes always encode to exactly 28 base64 characters.
    let written = STANDARD.encode_slice(digest, &mut out).unwrap_or(0);
    debug_assert_eq!(written, out.len());
    out
}

/// Encodes a 16-byte nonce as a `Sec-WebSocket-Key` (RFC 6455 §4.1).
pub(crate) fn encode_key(nonce: &[u8; 16]) -> [u8; KEY_LEN] {
    let mut out = [0u8; KEY_LEN];
    // 16 bytes always encode to exactly 24 base64 characters.
    let written = STANDARD.encode_slice(nonce, &mut out).unwrap_or(0);
    debug_assert_eq!(written, out.len());
    out
}

/// Whether `key` is canonical base64 of exactly 16 bytes (RFC 6455 §4.2.1
/// item 5). Decodes into a stack buffer; never allocates.
pub(crate) fn is_valid_key(key: &[u8]) -> bool {
    if key.len() != KEY_LEN {
        return false;
    }
    // `decode_slice` wants room for its conservative estimate: 24 / 4 * 3.
    let mut decoded = [0u8; 18];
    matches!(STANDARD.decode_slice(key, &mut decoded), Ok(16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_1_3_accept_key_vector() {
        assert_eq!(
            &accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn rfc6455_4_1_key_encodes_nonce() {
        // The §1.3 key is the base64 of "the sample nonce".
        assert_eq!(
            &encode_key(b"the sample nonce"),
            b"dGhlIHNhbXBsZSBub25jZQ=="
        );
        assert!(is_valid_key(&encode_key(&[0xff; 16])));
    }

    macro_rules! key_validity {
        ($($name:ident: $key:expr => $valid:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(is_valid_key($key), $valid, "{:?}", $key);
            }
        )*};
    }

    key_validity! {
        rfc6455_4_2_1_key_16_bytes: b"dGhlIHNhbXBsZSBub25jZQ==" => true;
        rfc6455_4_2_1_key_15_bytes: b"dGhlIHNhbXBsZSBub25jZQ" => false;
        rfc6455_4_2_1_key_15_bytes_padded: b"dGhlIHNhbXBsZSBub25j" => false;
        rfc6455_4_2_1_key_17_bytes: b"dGhlIHNhbXBsZSBub25jZTE=" => false;
        rfc6455_4_2_1_key_18_bytes: b"dGhlIHNhbXBsZSBub25jZTEy" => false;
        rfc6455_4_2_1_key_not_base64: b"dGhlIHNhbXBsZSBub25jZQ!=" => false;
        rfc6455_4_2_1_key_noncanonical_bits: b"dGhlIHNhbXBsZSBub25jZR==" => false;
        rfc6455_4_2_1_key_empty: b"" => false;
    }
}
