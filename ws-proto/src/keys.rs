//! Where client mask keys come from (RFC 6455 §5.3, §10.3).
//!
//! Mask keys must be unpredictable to the application generating the
//! payload, so `ws-proto` never invents them: the caller supplies a
//! [`MaskKeySource`]. With `std`, [`OsMaskKeys`] draws them from the
//! operating system's entropy. Servers never mask, so their source is
//! never called.

use crate::mask::MaskKey;

/// A source of fresh, unpredictable masking keys.
pub trait MaskKeySource {
    /// The key for the next frame a client sends.
    fn next_mask_key(&mut self) -> MaskKey;
}

/// Any `FnMut() -> [u8; 4]` is a key source: a hardware RNG on embedded
/// targets, or a fixed sequence in tests.
impl<F: FnMut() -> [u8; 4]> MaskKeySource for F {
    fn next_mask_key(&mut self) -> MaskKey {
        MaskKey::new(self())
    }
}

/// A key source for connections that never mask: it returns all-zero keys.
///
/// Use it only with [`Role::Server`](crate::Role::Server). A client given
/// this source still produces well-formed frames, but with predictable keys,
/// which defeats the cache-poisoning defence of RFC 6455 §10.3.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMaskKeys;

impl MaskKeySource for NoMaskKeys {
    fn next_mask_key(&mut self) -> MaskKey {
        MaskKey::new([0; 4])
    }
}

/// Mask keys from the operating system's entropy (`getrandom`), fetched
/// 64 keys at a time.
#[cfg(feature = "std")]
#[derive(Clone)]
pub struct OsMaskKeys {
    pool: [u8; 256],
    used: usize,
}

#[cfg(feature = "std")]
impl OsMaskKeys {
    /// An empty pool; the first key triggers the first refill.
    pub fn new() -> Self {
        Self {
            pool: [0; 256],
            used: 256,
        }
    }
}

#[cfg(feature = "std")]
impl Default for OsMaskKeys {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "std")]
impl core::fmt::Debug for OsMaskKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("OsMaskKeys")
    }
}

#[cfg(feature = "std")]
impl MaskKeySource for OsMaskKeys {
    /// # Panics
    ///
    /// If the operating system has no entropy to give, which on the
    /// platforms `getrandom` supports means a broken system; continuing with
    /// predictable keys would silently weaken §10.3.
    fn next_mask_key(&mut self) -> MaskKey {
        if self.used + 4 > self.pool.len() {
            if let Err(err) = getrandom::fill(&mut self.pool) {
                panic!("ws-proto: the OS entropy source failed: {err}");
            }
            self.used = 0;
        }
        let mut key = [0; 4];
        key.copy_from_slice(&self.pool[self.used..self.used + 4]);
        self.used += 4;
        MaskKey::new(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closures_are_sources() {
        let mut n = 0u8;
        let mut source = move || {
            n += 1;
            [n; 4]
        };
        assert_eq!(source.next_mask_key(), MaskKey::new([1; 4]));
        assert_eq!(source.next_mask_key(), MaskKey::new([2; 4]));
        assert_eq!(NoMaskKeys.next_mask_key(), MaskKey::new([0; 4]));
    }

    #[cfg(feature = "std")]
    #[test]
    fn os_keys_refill_and_vary() {
        let mut keys = OsMaskKeys::new();
        let drawn: std::vec::Vec<MaskKey> = (0..200).map(|_| keys.next_mask_key()).collect();
        let distinct: std::collections::HashSet<_> = drawn.iter().map(|k| k.bytes()).collect();
        // 200 keys of 32 random bits: a collision is possible but very rare.
        assert!(distinct.len() >= 195);
    }
}
