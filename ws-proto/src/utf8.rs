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

/// What [`validate_short`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Short {
    Valid,
    /// Valid up to a sequence at this index that the input ends inside.
    Incomplete(usize),
    /// Not a prefix of valid UTF-8.
    Invalid,
}

/// Validates `bytes` as UTF-8 (Unicode 15 table 3-7, the same rules as
/// `core::str::from_utf8`): runs of ASCII by 8-byte words, multi-byte
/// sequences by their lead byte's allowed second-byte range.
fn validate_short(bytes: &[u8]) -> Short {
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut i = 0;
    while i < bytes.len() {
        if let Some(Ok(word)) = bytes.get(i..i + 8).map(<[u8; 8]>::try_from)
            && u64::from_ne_bytes(word) & HIGH == 0
        {
            i += 8;
            continue;
        }
        let lead = bytes[i];
        if lead < 0x80 {
            i += 1;
            continue;
        }
        let (len, low, high) = match lead {
            0xc2..=0xdf => (2, 0x80, 0xbf),
            0xe0 => (3, 0xa0, 0xbf),
            0xe1..=0xec | 0xee..=0xef => (3, 0x80, 0xbf),
            0xed => (3, 0x80, 0x9f), // no surrogates
            0xf0 => (4, 0x90, 0xbf),
            0xf1..=0xf3 => (4, 0x80, 0xbf),
            0xf4 => (4, 0x80, 0x8f), // nothing above U+10FFFF
            _ => return Short::Invalid,
        };
        for k in 1..len {
            let (low, high) = if k == 1 { (low, high) } else { (0x80, 0xbf) };
            match bytes.get(i + k) {
                None => return Short::Incomplete(i),
                Some(&b) if (low..=high).contains(&b) => {}
                Some(_) => return Short::Invalid,
            }
        }
        i += len;
    }
    Short::Valid
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
        // Short chunks (most chat and JSON messages): ASCII by words, the
        // rest by a small inline loop, where the general check costs a
        // call, a setup and (below 64 bytes) `core::str::from_utf8`.
        if chunk.len() <= SHORT {
            if chunk.is_ascii() {
                return Ok(());
            }
            return match validate_short(chunk) {
                Short::Valid => Ok(()),
                Short::Incomplete(at) => {
                    let tail = &chunk[at..];
                    self.pending[..tail.len()].copy_from_slice(tail);
                    self.pending_len = tail.len() as u8;
                    Ok(())
                }
                Short::Invalid => Err(Utf8Error),
            };
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

    /// `validate_short` against `core::str::from_utf8` on every one- and
    /// two-byte input and on three- and four-byte inputs built from the
    /// boundary values of every range, behind ASCII prefixes of 0..=9 bytes
    /// (so the word and byte paths both reach every sequence).
    #[test]
    fn s8_1_short_validator_agrees_with_core() {
        fn core_says(bytes: &[u8]) -> Short {
            match core::str::from_utf8(bytes) {
                Ok(_) => Short::Valid,
                Err(e) if e.error_len().is_none() => Short::Incomplete(e.valid_up_to()),
                Err(_) => Short::Invalid,
            }
        }
        const EDGES: [u8; 14] = [
            0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xe0, 0xf4, 0xff,
        ];
        let mut inputs: std::vec::Vec<std::vec::Vec<u8>> = std::vec::Vec::new();
        for a in 0..=255u8 {
            inputs.push(std::vec![a]);
            for b in 0..=255u8 {
                inputs.push(std::vec![a, b]);
            }
            for b in EDGES {
                for c in EDGES {
                    inputs.push(std::vec![a, b, c]);
                    for d in EDGES {
                        inputs.push(std::vec![a, b, c, d]);
                    }
                }
            }
        }
        for input in &inputs {
            for prefix in [0, 1, 7, 8, 9] {
                let mut bytes = std::vec![b'a'; prefix];
                bytes.extend_from_slice(input);
                assert_eq!(validate_short(&bytes), core_says(&bytes), "{bytes:x?}");
                bytes.extend_from_slice(b"tail ascii");
                assert_eq!(validate_short(&bytes), core_says(&bytes), "{bytes:x?}");
            }
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
