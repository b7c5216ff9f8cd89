//! Incremental UTF-8 validation (RFC 6455 §8.1).
//!
//! Text arrives in chunks that may end inside a code point. [`Utf8Validator`]
//! keeps at most three pending bytes between chunks and reports an invalid
//! sequence as soon as its first impossible byte arrives, which is what lets
//! a connection fail with 1007 before the message is complete. Each chunk is
//! validated with `simdutf8` (SIMD where the CPU has it — detected at run
//! time with `std` — with the same error positions as `core::str::from_utf8`);
//! only the few bytes of a code point split across chunks are handled here.

/// Chunks up to this long are first tested for plain ASCII.
const SHORT: usize = 64;

/// The input is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Error;

/// A streaming UTF-8 validator.
#[derive(Debug, Clone, Copy, Default)]
pub struct Utf8Validator {
    pending: [u8; 4],
    pending_len: u8,
}

/// The length of the sequence introduced by a lead byte that `from_utf8`
/// accepted as the start of an incomplete sequence.
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Self {
            pending: [0; 4],
            pending_len: 0,
        }
    }

    /// Validates the next chunk. Fails as soon as the bytes seen so far
    /// cannot be the prefix of valid UTF-8.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), Utf8Error> {
        if self.pending_len > 0 {
            let have = usize::from(self.pending_len);
            let want = sequence_len(self.pending[0]) - have;
            let take = want.min(chunk.len());
            self.pending[have..have + take].copy_from_slice(&chunk[..take]);
            let now = have + take;
            match core::str::from_utf8(&self.pending[..now]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_none() => {
                    self.pending_len = now as u8;
                    return Ok(());
                }
                Err(_) => return Err(Utf8Error),
            }
            chunk = &chunk[take..];
        }
        // Short ASCII chunks (most chat and JSON messages): two or three
        // word tests, where the general check costs a call and a setup.
        if chunk.len() <= SHORT && chunk.is_ascii() {
            return Ok(());
        }
        match simdutf8::compat::from_utf8(chunk) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &chunk[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(Utf8Error),
        }
    }

    /// Ends the message: fails if it stopped inside a code point. Resets the
    /// validator for the next message either way.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        let complete = self.pending_len == 0;
        self.pending_len = 0;
        if complete { Ok(()) } else { Err(Utf8Error) }
    }

    /// Forgets any pending bytes.
    pub fn reset(&mut self) {
        self.pending_len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(bytes: &[u8]) -> Result<(), Utf8Error> {
        let mut v = Utf8Validator::new();
        v.feed(bytes)?;
        v.finish()
    }

    /// Feeds every split of `bytes` into two chunks and one byte at a time;
    /// returns the index of the byte at which validation failed, if any.
    fn first_failure_bytewise(bytes: &[u8]) -> Option<usize> {
        let mut v = Utf8Validator::new();
        for (i, b) in bytes.iter().enumerate() {
            if v.feed(core::slice::from_ref(b)).is_err() {
                return Some(i);
            }
        }
        v.finish().err().map(|_| bytes.len())
    }

    const VALID: &[&[u8]] = &[
        b"",
        b"Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!",
        "κόσμε".as_bytes(),
        b"\xf0\x9f\x98\x80 and \xef\xbf\xbf and \xf4\x8f\xbf\xbf",
        b"\x7f\xdf\xbf\xe0\xa0\x80",
    ];

    // (input, index of the first byte that proves it invalid)
    const INVALID: &[(&[u8], usize)] = &[
        (
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            12,
        ), // surrogate
        (b"\xc0\xaf", 0),         // overlong
        (b"\xe0\x80\xaf", 1),     // overlong
        (b"\xf4\x90\x80\x80", 1), // > U+10FFFF
        (b"\xff", 0),
        (b"abc\x80", 3),      // lone continuation
        (b"\xf0\x9f\x98", 3), // truncated at the end
    ];

    #[test]
    fn s8_1_valid_text_in_every_split() {
        for text in VALID {
            assert_eq!(whole(text), Ok(()));
            assert_eq!(first_failure_bytewise(text), None);
            for split in 0..=text.len() {
                let mut v = Utf8Validator::new();
                assert_eq!(v.feed(&text[..split]), Ok(()));
                assert_eq!(v.feed(&text[split..]), Ok(()));
                assert_eq!(v.finish(), Ok(()));
            }
        }
    }

    #[test]
    fn s8_1_invalid_text_fails_fast() {
        for (text, at) in INVALID {
            assert_eq!(whole(text), Err(Utf8Error), "{text:?}");
            assert_eq!(first_failure_bytewise(text), Some(*at), "{text:?}");
        }
    }

    #[test]
    fn finish_resets_for_the_next_message() {
        let mut v = Utf8Validator::new();
        v.feed(b"\xe2\x82").unwrap();
        assert_eq!(v.finish(), Err(Utf8Error));
        v.feed(b"ok").unwrap();
        assert_eq!(v.finish(), Ok(()));
    }
}
