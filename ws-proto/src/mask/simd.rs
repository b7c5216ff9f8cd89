//! AVX2 masking for x86-64, picked at run time (`std` only).
//!
//! The safe word-at-a-time loop in [`apply_mask`](super::apply_mask) runs
//! on the x86-64 baseline (SSE2, 16 bytes per instruction); glibc's
//! `memcpy` uses AVX2/AVX-512. On a cache-resident 1 KiB buffer that made
//! masking about 3× slower than copying (`benches/frame.rs`, `mask/*`).
//! This module XORs 32 bytes per instruction, four at a time, when the CPU
//! has AVX2, over the whole buffer (from 32 bytes up); shorter buffers go
//! to the word loop.
//!
//! The only unsafe operations are the call into the `avx2` function (sound
//! because the feature was detected first) and unaligned 32-byte loads and
//! stores inside the slice. `--cfg ws_proto_disable_simd` compiles this
//! module out.

#![warn(clippy::undocumented_unsafe_blocks)]

use core::arch::x86_64::{
    __m256i, _mm256_loadu_si256, _mm256_set1_epi32, _mm256_storeu_si256, _mm256_xor_si256,
};

/// Inputs shorter than one AVX2 register are left to the word loop.
const MIN_LEN: usize = 32;

/// XORs all of `buf` with `key` (rotated to `buf[0]`'s mask phase) with
/// AVX2 and returns `true`; returns `false` without touching `buf` when the
/// CPU has no AVX2 or `buf` is shorter than 32 bytes.
///
/// There is no scalar head or tail. The loop runs over whole 32-byte
/// blocks from the first 32-byte boundary (so no load or store splits a
/// cache line); the bytes before it are done as the 32 bytes that start at
/// `buf[0]`, and the bytes after it as the 32 bytes that end at `buf`'s
/// end. Both are computed from the input before the loop stores anything
/// and stored after it, so the bytes they share with the loop's blocks get
/// the same value twice. (The previous version did the unaligned head and
/// tail with the word loop and single bytes: about a third of the time on
/// a 1 KiB buffer.) `std::is_x86_feature_detected!` caches its answer in a
/// static after the first call, so the check is one load and a branch.
#[inline]
pub(super) fn mask(buf: &mut [u8], key: [u8; 4]) -> bool {
    if buf.len() < MIN_LEN || !std::is_x86_feature_detected!("avx2") {
        return false;
    }
    // SAFETY: `mask_avx2` needs AVX2, which the CPU was just found to have,
    // and `buf.len() >= 32`, checked just above.
    unsafe { mask_avx2(buf, key) };
    true
}

/// The AVX2 loop.
///
/// # Safety
///
/// The CPU must have AVX2, and `buf.len() >= 32`.
#[target_feature(enable = "avx2")]
unsafe fn mask_avx2(buf: &mut [u8], key: [u8; 4]) {
    let len = buf.len();
    debug_assert!(len >= MIN_LEN);
    let ptr = buf.as_mut_ptr();
    // Each 32-bit lane holds the key bytes in memory order (x86 is little
    // endian, and from_ne_bytes keeps that order).
    let lanes = |key: [u8; 4]| _mm256_set1_epi32(i32::from_ne_bytes(key));
    // The first and the last 32 bytes, masked from the input before
    // anything is stored; the last block starts at payload byte
    // `len - 32`, hence its key rotation.
    let tail_at = len - 32;
    // SAFETY: the caller guarantees len >= 32, so the 32 bytes at ptr and
    // at ptr + len - 32 lie inside `buf`; loadu accepts any alignment.
    let (head, tail) = unsafe {
        (
            _mm256_xor_si256(_mm256_loadu_si256(ptr.cast::<__m256i>()), lanes(key)),
            _mm256_xor_si256(
                _mm256_loadu_si256(ptr.add(tail_at).cast::<__m256i>()),
                lanes(super::rotate(key, tail_at)),
            ),
        )
    };
    // Whole blocks from the first 32-byte boundary (at most 31 bytes in).
    let start = ptr.align_offset(32).min(len);
    let end = start + ((len - start) & !31);
    let key = lanes(super::rotate(key, start));
    let mut i = start;
    while i + 128 <= end {
        // SAFETY: i + 128 <= end <= len = buf.len(), so the four 32-byte
        // blocks at ptr + i .. ptr + i + 128 lie inside `buf`, which we
        // borrow mutably. Each block is loaded, XORed and stored before
        // the next (four loads first measured ~25 % slower at 1 KiB).
        unsafe {
            let p = ptr.add(i).cast::<__m256i>();
            _mm256_storeu_si256(p, _mm256_xor_si256(_mm256_loadu_si256(p), key));
            let p = p.add(1);
            _mm256_storeu_si256(p, _mm256_xor_si256(_mm256_loadu_si256(p), key));
            let p = p.add(1);
            _mm256_storeu_si256(p, _mm256_xor_si256(_mm256_loadu_si256(p), key));
            let p = p.add(1);
            _mm256_storeu_si256(p, _mm256_xor_si256(_mm256_loadu_si256(p), key));
        }
        i += 128;
    }
    while i < end {
        // SAFETY: i + 32 <= end <= buf.len() (end - start is a multiple of
        // 32), so the 32 bytes at ptr + i lie inside `buf`.
        unsafe {
            let p = ptr.add(i).cast::<__m256i>();
            _mm256_storeu_si256(p, _mm256_xor_si256(_mm256_loadu_si256(p), key));
        }
        i += 32;
    }
    // SAFETY: as for the loads above, both 32-byte ranges lie inside
    // `buf`. Where they overlap the loop's blocks (or each other) they
    // store the value already there (input ^ key at the same phase), and
    // `head` and `tail` were computed from the unmodified input. Together
    // with the loop they cover every byte: head covers 0..32 (start <= 31
    // or start = len), tail covers len - 32..len (len - end <= 31).
    unsafe {
        if start != 0 {
            _mm256_storeu_si256(ptr.cast::<__m256i>(), head);
        }
        if end != len {
            _mm256_storeu_si256(ptr.add(tail_at).cast::<__m256i>(), tail);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(buf: &mut [u8], key: [u8; 4]) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }

    #[test]
    fn every_length_and_start_matches_the_bytewise_definition_or_is_left_alone() {
        let avx2 = std::is_x86_feature_detected!("avx2");
        let key = [0xa1, 0x5c, 0x03, 0xfe];
        let data: [u8; 400] = core::array::from_fn(|i| (i * 13 + 5) as u8);
        for start in 0..32 {
            for len in 0..=300 {
                for phase in 0..4 {
                    let key = super::super::rotate(key, phase);
                    let mut fast = data;
                    let mut slow = data;
                    let done = mask(&mut fast[start..start + len], key);
                    if !avx2 || len < MIN_LEN {
                        assert!(!done, "start {start} len {len}");
                        assert_eq!(fast, data, "untouched, start {start} len {len}");
                        continue;
                    }
                    assert!(done, "start {start} len {len}");
                    naive(&mut slow[start..start + len], key);
                    assert_eq!(fast, slow, "start {start} len {len} phase {phase}");
                }
            }
        }
    }
}
