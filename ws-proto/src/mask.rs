//! Payload masking (RFC 6455 §5.3).
//!
//! Masking XORs the payload with a 4-byte key, byte `i` with `key[i % 4]`.
//! [`apply_mask`] takes the payload's offset within its frame, so a frame
//! that arrives in several chunks is unmasked chunk by chunk. The loop works
//! on 8-byte words in safe Rust, which the compiler vectorises for the x86-64
//! baseline (SSE2). With `std` on x86-64, CPUs with AVX2 take 32 bytes per
//! instruction instead (`mask/simd.rs`, detected at run time; the only
//! `unsafe` code of the crate, compiled out by `--cfg ws_proto_disable_simd`):
//! see the `mask` criterion bench against `memcpy`.

#[cfg(all(feature = "std", target_arch = "x86_64", not(ws_proto_disable_simd)))]
#[allow(unsafe_code)]
mod simd;

/// A frame's masking key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MaskKey([u8; 4]);

impl MaskKey {
    /// Wraps four key bytes, in wire order.
    pub const fn new(bytes: [u8; 4]) -> Self {
        Self(bytes)
    }

    /// The key bytes, in wire order.
    pub const fn bytes(self) -> [u8; 4] {
        self.0
    }
}

/// XORs `buf` with `key`, where `buf[0]` is byte `offset` of the frame's
/// payload. Applying it twice restores the input.
pub fn apply_mask(buf: &mut [u8], key: MaskKey, offset: usize) {
    let key = rotate(key.0, offset);
    // A prefix done with AVX2 where available; the word loop does the rest,
    // from the key phase where the prefix stopped.
    #[cfg(all(feature = "std", target_arch = "x86_64", not(ws_proto_disable_simd)))]
    let (buf, key) = {
        let done = simd::mask_prefix(buf, key);
        (&mut buf[done..], rotate(key, done))
    };
    apply_mask_words(buf, key);
}

/// The key as seen from `n` bytes further into the payload: `key`
/// rotated left by `n % 4` bytes, as one 32-bit rotation (the generic
/// slice rotation costs several nanoseconds, more than masking 64 bytes).
fn rotate(key: [u8; 4], n: usize) -> [u8; 4] {
    // Byte i of a little-endian word is bits 8i..8i+8: moving every byte
    // one place towards the front is a right rotation by 8 bits.
    u32::from_le_bytes(key)
        .rotate_right(8 * (n % 4) as u32)
        .to_le_bytes()
}

/// The portable loop: 8-byte words, then the remaining bytes; `key` is
/// already rotated to `buf[0]`'s phase.
fn apply_mask_words(buf: &mut [u8], key: [u8; 4]) {
    // `buf` may be unaligned; words are loaded with from_ne_bytes, so
    // alignment does not matter and the byte order of the key word matches
    // the byte order of the data word.
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let Ok(bytes) = <&mut [u8; 8]>::try_from(chunk) else {
            continue;
        };
        *bytes = (u64::from_ne_bytes(*bytes) ^ word).to_ne_bytes();
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn rotate_is_a_left_rotation_of_the_key_bytes() {
        let key = [1, 2, 3, 4];
        for n in 0..8 {
            let mut expect = key;
            expect.rotate_left(n % 4);
            assert_eq!(rotate(key, n), expect, "n {n}");
        }
    }

    #[test]
    fn s5_7_masked_hello() {
        let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut payload, MaskKey::new([0x37, 0xfa, 0x21, 0x3d]), 0);
        assert_eq!(&payload, b"Hello");
    }

    #[test]
    fn s5_3_matches_bytewise_definition_at_every_length_and_offset() {
        let key = [0x12, 0x34, 0x56, 0x78];
        for len in 0..80 {
            for offset in 0..8 {
                let mut fast: [u8; 80] = core::array::from_fn(|i| (i * 7) as u8);
                let mut slow = fast;
                apply_mask(&mut fast[..len], MaskKey::new(key), offset);
                naive(&mut slow[..len], key, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn s5_3_simd_and_word_loop_agree_at_every_length_and_offset() {
        // Long enough for the 4x32-byte blocks, the 32-byte blocks, the
        // words and the bytes of both paths.
        let key = [0xa1, 0x5c, 0x03, 0xfe];
        for len in 0..=400 {
            for offset in 0..4 {
                let data: [u8; 401] = core::array::from_fn(|i| (i * 13 + 5) as u8);
                let mut fast = data;
                let mut slow = data;
                apply_mask(&mut fast[1..=len], MaskKey::new(key), offset);
                naive(&mut slow[1..=len], key, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
                let mut words = data;
                apply_mask_words(&mut words[1..=len], rotate(key, offset));
                assert_eq!(words, slow, "word loop, len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn s5_3_chunked_equals_whole() {
        let key = MaskKey::new([9, 8, 7, 6]);
        let data: [u8; 100] = core::array::from_fn(|i| i as u8);
        let mut whole = data;
        apply_mask(&mut whole, key, 0);
        for split in 0..=100 {
            let mut parts = data;
            let (a, b) = parts.split_at_mut(split);
            apply_mask(a, key, 0);
            apply_mask(b, key, split);
            assert_eq!(parts, whole, "split at {split}");
        }
    }
}
