//! AVX2 masking for x86-64, picked at run time (`std` only).
//!
//! The safe word-at-a-time loop in [`apply_mask`](super::apply_mask) runs
//! on the x86-64 baseline (SSE2, 16 bytes per instruction); glibc's
//! `memcpy` uses AVX2/AVX-512. On a cache-resident 1 KiB buffer that made
//! masking about 3× slower than copying (`benches/frame.rs`, `mask/*`).
//! This module XORs 32 bytes per instruction, four at a time, when the CPU
//! has AVX2; [`apply_mask`](super::apply_mask) does the rest.
//!
//! The only unsafe operations are the call into the `avx2` function (sound
//! because the feature was detected first) and unaligned 32-byte loads and
//! stores inside the slice. `--cfg ws_proto_disable_simd` compiles this
//! module out.

#![warn(clippy::undocumented_unsafe_blocks)]

use core::arch::x86_64::{
    __m256i, _mm256_loadu_si256, _mm256_set1_epi32, _mm256_storeu_si256, _mm256_xor_si256,
};

/// Inputs shorter than this are left to the word loop.
const MIN_LEN: usize = 64;

/// XORs a prefix of `buf` with `key` (rotated to `buf[0]`'s mask phase)
/// and returns its length: the bytes up to the first 32-byte boundary with
/// the word loop, then as many whole 32-byte blocks as fit with AVX2 (so
/// no load or store splits a cache line). Returns 0 without touching `buf`
/// when the CPU has no AVX2 or `buf` is short. The caller continues at the
/// returned offset, rotating the key by it.
pub(super) fn mask_prefix(buf: &mut [u8], key: [u8; 4]) -> usize {
    if buf.len() < MIN_LEN || !std::is_x86_feature_detected!("avx2") {
        return 0;
    }
    let head = buf.as_ptr().align_offset(32).min(buf.len());
    let (head_bytes, rest) = buf.split_at_mut(head);
    super::apply_mask_words(head_bytes, key);
    let key = super::rotate(key, head);
    // SAFETY: `mask_avx2` only needs AVX2, which the CPU was just found
    // to have.
    head + unsafe { mask_avx2(rest, key) }
}

#[target_feature(enable = "avx2")]
fn mask_avx2(buf: &mut [u8], key: [u8; 4]) -> usize {
    // Each 32-bit lane holds the key bytes in memory order (x86 is little
    // endian, and from_ne_bytes keeps that order).
    let key = _mm256_set1_epi32(i32::from_ne_bytes(key));
    let len = buf.len() & !31;
    let ptr = buf.as_mut_ptr();
    let mut i = 0;
    while i + 128 <= len {
        // SAFETY: i + 128 <= len <= buf.len(), so the four 32-byte blocks
        // at ptr + i .. ptr + i + 128 lie inside `buf`, which we borrow
        // mutably; loadu/storeu accept any alignment.
        unsafe {
            let p = ptr.add(i).cast::<__m256i>();
            let a = _mm256_loadu_si256(p);
            let b = _mm256_loadu_si256(p.add(1));
            let c = _mm256_loadu_si256(p.add(2));
            let d = _mm256_loadu_si256(p.add(3));
            _mm256_storeu_si256(p, _mm256_xor_si256(a, key));
            _mm256_storeu_si256(p.add(1), _mm256_xor_si256(b, key));
            _mm256_storeu_si256(p.add(2), _mm256_xor_si256(c, key));
            _mm256_storeu_si256(p.add(3), _mm256_xor_si256(d, key));
        }
        i += 128;
    }
    while i < len {
        // SAFETY: i + 32 <= len <= buf.len() (len is a multiple of 32), so
        // the 32 bytes at ptr + i lie inside `buf`; any alignment is fine.
        unsafe {
            let p = ptr.add(i).cast::<__m256i>();
            _mm256_storeu_si256(p, _mm256_xor_si256(_mm256_loadu_si256(p), key));
        }
        i += 32;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends_on_a_32_byte_boundary_and_short_inputs_are_left_alone() {
        let mut buf = [0u8; 400];
        let avx2 = std::is_x86_feature_detected!("avx2");
        for start in 0..32 {
            for len in 0..=300 {
                let slice = &mut buf[start..start + len];
                let addr = slice.as_ptr() as usize;
                let done = mask_prefix(slice, [1, 2, 3, 4]);
                if !avx2 || len < MIN_LEN {
                    assert_eq!(done, 0, "start {start} len {len}");
                    continue;
                }
                let head = slice.as_ptr().align_offset(32).min(len);
                assert_eq!(done, head + ((len - head) & !31), "start {start} len {len}");
                assert!(done == head || (addr + done).is_multiple_of(32));
            }
        }
    }
}
