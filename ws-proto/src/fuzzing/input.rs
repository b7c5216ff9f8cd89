//! A never-failing reader of structured values from fuzzer bytes.

/// Reads structured values from fuzzer bytes, in the spirit of
/// `arbitrary::Unstructured`, but never fails: past the end, every read
/// returns zero or an empty slice. Small mutations of the input thus make
/// small changes to the decoded structure, which is what the fuzzer needs.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// A reader over `data`.
    pub const fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// Whether every byte has been read.
    pub const fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Bytes left.
    pub const fn len(&self) -> usize {
        self.data.len()
    }

    /// The next byte, or 0.
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&byte, rest)) => {
                self.data = rest;
                byte
            }
            None => 0,
        }
    }

    /// The next two bytes, big-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// The low bit of the next byte.
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// One of `items`, picked by the next byte.
    pub fn choose<T: Copy>(&mut self, items: &[T]) -> T {
        items[usize::from(self.u8()) % items.len()]
    }

    /// Up to `n` bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        taken
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.bytes(self.data.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_the_end_are_zero() {
        let mut input = Input::new(&[1, 2, 3]);
        assert_eq!(input.u16(), 0x0102);
        assert_eq!(input.bytes(5), &[3]);
        assert!(input.is_empty());
        assert_eq!(input.u8(), 0);
        assert!(!input.bool());
        assert_eq!(input.choose(&[7, 8]), 7);
        assert_eq!(input.rest(), &[] as &[u8]);
    }
}
