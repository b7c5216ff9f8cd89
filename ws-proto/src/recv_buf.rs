//! The receive buffer: storage the caller owns, with the filled/consumed
//! arithmetic hidden (rustls' `VecInput`/`SliceInput` behind one type).

use core::fmt;

/// The smallest receive buffer: a maximal frame header plus a maximal control
/// frame payload (14 + 125 bytes), so a whole control frame always fits.
pub const MIN_RECV_BUFFER: usize = 256;

/// The storage is smaller than [`MIN_RECV_BUFFER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferTooSmall;

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "receive buffer smaller than {MIN_RECV_BUFFER} bytes")
    }
}

impl core::error::Error for BufferTooSmall {}

/// Bytes received from the peer and not yet processed.
///
/// Any storage that derefs to a byte slice works: `[u8; N]`, `&mut [u8]`, or
/// (with `alloc`) `Vec<u8>` / `Box<[u8]>`. The buffer never grows: data
/// frames are delivered in chunks, so only a frame header or one control
/// frame ever has to fit whole.
///
/// The driving loop is: read from the socket into [`spare_mut`](Self::spare_mut),
/// [`commit`](Self::commit) the count, then call
/// [`Connection::receive`](crate::Connection::receive) until it returns `None`.
pub struct RecvBuf<S> {
    storage: S,
    start: usize,
    end: usize,
    /// Decompressed output of permessage-deflate, one chunk at a time;
    /// empty (unallocated) until a compressed message arrives.
    #[cfg(feature = "deflate")]
    inflated: alloc::vec::Vec<u8>,
}

impl<S: AsRef<[u8]> + AsMut<[u8]>> RecvBuf<S> {
    /// Wraps `storage`, which must hold at least [`MIN_RECV_BUFFER`] bytes.
    pub fn new(storage: S) -> Result<Self, BufferTooSmall> {
        if storage.as_ref().len() < MIN_RECV_BUFFER {
            return Err(BufferTooSmall);
        }
        Ok(Self {
            storage,
            start: 0,
            end: 0,
            #[cfg(feature = "deflate")]
            inflated: alloc::vec::Vec::new(),
        })
    }

    /// Total capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.storage.as_ref().len()
    }

    /// Bytes received and not yet processed.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether every received byte has been processed.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The free space to read into. Moves unprocessed bytes (at most a frame
    /// header and a control frame after a full `receive` loop) to the front
    /// first, so the spare space is as large as possible.
    pub fn spare_mut(&mut self) -> &mut [u8] {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 {
            self.storage.as_mut().copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.storage.as_mut()[self.end..]
    }

    /// Marks `n` bytes of [`spare_mut`](Self::spare_mut) as filled (clamped
    /// to the spare space).
    pub fn commit(&mut self, n: usize) {
        self.end = (self.end + n).min(self.capacity());
    }

    /// Copies as much of `data` as fits and returns how many bytes it took.
    pub fn extend_from_slice(&mut self, data: &[u8]) -> usize {
        let spare = self.spare_mut();
        let n = spare.len().min(data.len());
        spare[..n].copy_from_slice(&data[..n]);
        self.commit(n);
        n
    }

    /// The unprocessed bytes.
    pub fn filled(&self) -> &[u8] {
        &self.storage.as_ref()[self.start..self.end]
    }

    /// The unprocessed bytes, mutable (unmasking works in place).
    pub(crate) fn filled_mut(&mut self) -> &mut [u8] {
        &mut self.storage.as_mut()[self.start..self.end]
    }

    /// Marks `n` bytes as processed and returns them; they stay valid until
    /// the next [`spare_mut`](Self::spare_mut).
    pub(crate) fn consume(&mut self, n: usize) -> &mut [u8] {
        let n = n.min(self.len());
        let from = self.start;
        self.start += n;
        &mut self.storage.as_mut()[from..from + n]
    }

    /// Drops every unprocessed byte.
    pub(crate) fn consume_all(&mut self) {
        self.start = self.end;
    }

    /// The first `input` unprocessed bytes and an output area of `out`
    /// bytes for decompression.
    #[cfg(feature = "deflate")]
    pub(crate) fn inflate_io(&mut self, input: usize, out: usize) -> (&[u8], &mut [u8]) {
        if self.inflated.len() < out {
            self.inflated.resize(out, 0);
        }
        let input = input.min(self.end - self.start);
        (
            &self.storage.as_ref()[self.start..self.start + input],
            &mut self.inflated[..out],
        )
    }

    /// The first `n` bytes of decompressed output.
    #[cfg(feature = "deflate")]
    pub(crate) fn inflated(&self, n: usize) -> &[u8] {
        &self.inflated[..n.min(self.inflated.len())]
    }

    /// Returns the storage.
    pub fn into_inner(self) -> S {
        self.storage
    }
}

#[cfg(feature = "alloc")]
impl RecvBuf<alloc::boxed::Box<[u8]>> {
    /// A heap buffer of `capacity` bytes (at least [`MIN_RECV_BUFFER`]).
    pub fn with_capacity(capacity: usize) -> Self {
        let storage = alloc::vec![0u8; capacity.max(MIN_RECV_BUFFER)].into_boxed_slice();
        Self {
            storage,
            start: 0,
            end: 0,
            #[cfg(feature = "deflate")]
            inflated: alloc::vec::Vec::new(),
        }
    }
}

impl<S: AsRef<[u8]>> fmt::Debug for RecvBuf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvBuf")
            .field("capacity", &self.storage.as_ref().len())
            .field("start", &self.start)
            .field("end", &self.end)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_tiny_storage() {
        assert_eq!(RecvBuf::new([0u8; 100]).err(), Some(BufferTooSmall));
    }

    #[test]
    fn fill_consume_compact() {
        let mut buf = RecvBuf::new([0u8; 256]).unwrap();
        assert_eq!(buf.extend_from_slice(&[1; 300]), 256);
        assert_eq!(buf.len(), 256);
        assert_eq!(buf.consume(250).len(), 250);
        assert_eq!(buf.filled(), &[1; 6]);
        assert_eq!(buf.spare_mut().len(), 250);
        assert_eq!(buf.filled(), &[1; 6]);
        buf.commit(1000);
        assert_eq!(buf.len(), 256);
        buf.consume_all();
        assert!(buf.is_empty());
        assert_eq!(buf.spare_mut().len(), 256);
    }
}
