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
#[inline]
pub fn apply_mask(buf: &mut [u8], key: MaskKey, offset: usize) {
    let key = rotate(key.0, offset);
    // All of it with AVX2 where available (from 32 bytes); otherwise, and
    // for shorter inputs, the word loop.
    #[cfg(all(feature = "std", target_arch = "x86_64", not(ws_proto_disable_simd)))]
    if simd::mask(buf, key) {
        return;
    }
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

/// The portable loop: 8-byte words, then the last 8 bytes as one
/// overlapping word (or, below 8 bytes, a 4-byte word and single bytes);
/// `key` is already rotated to `buf[0]`'s phase.
#[inline]
fn apply_mask_words(buf: &mut [u8], key: [u8; 4]) {
    // `buf` may be unaligned; words are loaded with from_ne_bytes, so
    // alignment does not matter and the byte order of the key word matches
    // the byte order of the data word.
    // The key twice, in memory order whatever the byte order: both
    // halves of the word hold the same four bytes. (Built from eight
    // bytes, it compiled to a dozen shifts and ors on every call.)
    let word = |key: [u8; 4]| {
        let half = u64::from(u32::from_ne_bytes(key));
        half | half << 32
    };
    let len = buf.len();
    if len < 8 {
        let (head, rest) = buf.split_at_mut(len & !3);
        if let Ok(bytes) = <&mut [u8; 4]>::try_from(head) {
            *bytes = (u32::from_ne_bytes(*bytes) ^ u32::from_ne_bytes(key)).to_ne_bytes();
        }
        for (i, byte) in rest.iter_mut().enumerate() {
            *byte ^= key[i % 4];
        }
        return;
    }
    // The last 8 bytes, masked from the input before the loop writes any
    // of them and stored after it: the bytes they share with the last
    // whole word get the same value twice. No byte-wise remainder.
    let tail_at = len - 8;
    let Ok(tail) = <[u8; 8]>::try_from(&buf[tail_at..]) else {
        return;
    };
    let tail = (u64::from_ne_bytes(tail) ^ word(rotate(key, tail_at))).to_ne_bytes();
    let word = word(key);
    for chunk in buf.chunks_exact_mut(8) {
        let Ok(bytes) = <&mut [u8; 8]>::try_from(chunk) else {
            continue;
        };
        *bytes = (u64::from_ne_bytes(*bytes) ^ word).to_ne_bytes();
    }
    buf[tail_at..].copy_from_slice(&tail);
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
            // (all lengths 0..=400, odd starts, every key phase)
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
                let mut words = data;
                apply_mask_words(&mut words[len % 8..len], rotate(key, offset));
                let mut slow = data;
                naive(&mut slow[len % 8..len], key, offset);
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
