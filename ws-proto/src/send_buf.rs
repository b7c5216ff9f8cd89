//! Send storage supplied by the caller (smoltcp's socket buffers): a
//! growable `Vec<u8>` with `alloc`, or a fixed array without it.

/// Storage for bytes waiting to be written to the transport.
///
/// The connection appends encoded frames at the end and the caller drains
/// them from the front through
/// [`Connection::poll_transmit`](crate::Connection::poll_transmit) /
/// [`consume_transmit`](crate::Connection::consume_transmit).
pub trait SendStorage {
    /// The stored bytes.
    fn as_slice(&self) -> &[u8];
    /// The stored bytes, mutable (client masking works in place).
    fn as_mut_slice(&mut self) -> &mut [u8];
    /// Whether `additional` more bytes can be appended.
    fn has_room(&self, additional: usize) -> bool;
    /// Appends `data`. Only called after [`has_room`](Self::has_room) said yes.
    fn extend_from_slice(&mut self, data: &[u8]);
    /// Shortens the storage to `len` bytes.
    fn truncate(&mut self, len: usize);
}

#[cfg(feature = "alloc")]
impl SendStorage for alloc::vec::Vec<u8> {
    #[inline]
    fn as_slice(&self) -> &[u8] {
        self
    }

    #[inline]
    fn as_mut_slice(&mut self) -> &mut [u8] {
        self
    }

    #[inline]
    fn has_room(&self, _additional: usize) -> bool {
        true
    }

    #[inline]
    fn extend_from_slice(&mut self, data: &[u8]) {
        Self::extend_from_slice(self, data);
    }

    #[inline]
    fn truncate(&mut self, len: usize) {
        Self::truncate(self, len);
    }
}

/// Fixed send storage of `N` bytes, for targets without an allocator.
#[derive(Clone)]
pub struct ArrayStorage<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> ArrayStorage<N> {
    /// Empty storage.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }
}

impl<const N: usize> Default for ArrayStorage<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::fmt::Debug for ArrayStorage<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ArrayStorage")
            .field("capacity", &N)
            .field("len", &self.len)
            .finish()
    }
}

impl<const N: usize> SendStorage for ArrayStorage<N> {
    fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buf[..self.len]
    }

    fn has_room(&self, additional: usize) -> bool {
        N - self.len >= additional
    }

    fn extend_from_slice(&mut self, data: &[u8]) {
        let end = (self.len + data.len()).min(N);
        let n = end - self.len;
        self.buf[self.len..end].copy_from_slice(&data[..n]);
        self.len = end;
    }

    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
}

/// Payloads up to this length are appended by [`SendBuf::push_short_frame`]
/// with fixed-size copies.
const SHORT_COPY: usize = 16;

/// Copies `src` (at most [`SHORT_COPY`] bytes) to the front of `dst` with
/// at most two fixed-size, possibly overlapping, copies.
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    if n > dst.len() {
        return;
    }
    if n >= 8 {
        dst[..8].copy_from_slice(&src[..8]);
        dst[n - 8..n].copy_from_slice(&src[n - 8..]);
    } else if n >= 4 {
        dst[..4].copy_from_slice(&src[..4]);
        dst[n - 4..n].copy_from_slice(&src[n - 4..]);
    } else if n > 0 {
        dst[0] = src[0];
        dst[n / 2] = src[n / 2];
        dst[n - 1] = src[n - 1];
    }
}

/// The connection's view of its storage: unsent bytes are `[head..len)`.
#[derive(Debug, Clone)]
pub(crate) struct SendBuf<S> {
    storage: S,
    head: usize,
    /// A payload the caller writes itself, right after the stored bytes
    /// before `at` (the end of its frame header): stored bytes from `at` on
    /// wait until `owed` payload bytes have been reported written.
    external: Option<External>,
}

#[derive(Debug, Clone, Copy)]
struct External {
    at: usize,
    owed: usize,
}

impl<S: SendStorage> SendBuf<S> {
    pub(crate) fn new(storage: S) -> Self {
        Self {
            storage,
            head: 0,
            external: None,
        }
    }

    /// The end of what may be transmitted now.
    fn transmit_end(&self) -> usize {
        self.external
            .map_or(self.storage.as_slice().len(), |e| e.at)
    }

    /// Bytes to hand to the transport now (up to an external payload).
    pub(crate) fn pending(&self) -> &[u8] {
        &self.storage.as_slice()[self.head..self.transmit_end()]
    }

    /// Every byte queued and not yet written, external payload included:
    /// the backpressure gauge.
    pub(crate) fn pending_len(&self) -> usize {
        self.storage.as_slice().len() - self.head + self.payload_owed()
    }

    /// Marks `n` bytes of [`pending`](Self::pending) as written.
    pub(crate) fn consume(&mut self, n: usize) {
        self.head = (self.head + n).min(self.transmit_end());
        self.reset_if_drained();
    }

    /// Starts the storage over once everything in it has been written.
    fn reset_if_drained(&mut self) {
        if self.head == self.storage.as_slice().len() {
            self.storage.truncate(0);
            self.head = 0;
            if let Some(external) = &mut self.external {
                external.at = 0;
            }
        }
    }

    /// Payload bytes the caller still has to write after [`pending`](Self::pending).
    pub(crate) fn payload_owed(&self) -> usize {
        self.external.map_or(0, |e| e.owed)
    }

    /// Announces an external payload of `owed` bytes after everything
    /// stored so far. Only one at a time.
    pub(crate) fn start_external(&mut self, owed: usize) {
        debug_assert!(self.external.is_none());
        if owed > 0 {
            self.external = Some(External {
                at: self.storage.as_slice().len(),
                owed,
            });
        }
    }

    /// Marks `n` external payload bytes as written; ignored while stored
    /// bytes before the payload are still unwritten.
    pub(crate) fn consume_payload(&mut self, n: usize) {
        let Some(external) = &mut self.external else {
            return;
        };
        if self.head < external.at {
            return;
        }
        external.owed -= n.min(external.owed);
        if external.owed == 0 {
            self.external = None;
            self.reset_if_drained();
        }
    }

    /// Makes room for `needed` bytes, moving pending bytes to the front if
    /// that helps; returns whether they fit.
    pub(crate) fn make_room(&mut self, needed: usize) -> bool {
        if self.storage.has_room(needed) {
            // Keep the already-written prefix from growing without bound.
            if self.head > 0 && self.head >= self.storage.as_slice().len() - self.head {
                self.compact();
            }
            return true;
        }
        if self.head > 0 {
            self.compact();
            return self.storage.has_room(needed);
        }
        false
    }

    fn compact(&mut self) {
        let len = self.storage.as_slice().len();
        self.storage.as_mut_slice().copy_within(self.head..len, 0);
        self.storage.truncate(len - self.head);
        if let Some(external) = &mut self.external {
            external.at -= self.head;
        }
        self.head = 0;
    }

    /// Appends bytes; call [`make_room`](Self::make_room) first.
    pub(crate) fn push(&mut self, data: &[u8]) {
        self.storage.extend_from_slice(data);
    }

    /// Appends a frame with a two-byte header; call
    /// [`make_room`](Self::make_room) first.
    ///
    /// With room to spare, a payload of up to [`SHORT_COPY`] bytes goes in
    /// with the header as one fixed-size append, cut to length after:
    /// copies of a length known at compile time are a few register moves,
    /// where appending a run-time length calls `memcpy` (about 3 ns each,
    /// two per frame: 9 % of a 16-byte echo server's user time).
    #[inline]
    pub(crate) fn push_short_frame(&mut self, head: [u8; 2], payload: &[u8]) {
        let start = self.storage.as_slice().len();
        if payload.len() <= SHORT_COPY && self.storage.has_room(2 + SHORT_COPY) {
            let mut frame = [0u8; 2 + SHORT_COPY];
            frame[..2].copy_from_slice(&head);
            copy_short(&mut frame[2..], payload);
            self.storage.extend_from_slice(&frame);
            self.storage.truncate(start + 2 + payload.len());
        } else {
            self.storage.extend_from_slice(&head);
            self.storage.extend_from_slice(payload);
        }
    }

    /// The last `n` bytes pushed, for masking in place.
    pub(crate) fn tail_mut(&mut self, n: usize) -> &mut [u8] {
        let slice = self.storage.as_mut_slice();
        let len = slice.len();
        &mut slice[len - n.min(len)..]
    }

    pub(crate) fn storage(&self) -> &S {
        &self.storage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_storage_drains_and_compacts() {
        let mut buf = SendBuf::new(ArrayStorage::<8>::new());
        assert!(buf.make_room(6));
        buf.push(b"abcdef");
        assert!(!buf.make_room(3));
        buf.consume(4);
        assert_eq!(buf.pending(), b"ef");
        assert!(buf.make_room(6));
        buf.push(b"ghijkl");
        assert_eq!(buf.pending(), b"efghijkl");
        buf.consume(8);
        assert_eq!(buf.pending_len(), 0);
        assert!(buf.make_room(8));
    }

    #[test]
    fn external_payload_holds_back_later_bytes() {
        let mut buf = SendBuf::new(ArrayStorage::<16>::new());
        assert!(buf.make_room(3));
        buf.push(b"hdr");
        buf.start_external(5);
        assert!(buf.make_room(4));
        buf.push(b"pong");
        assert_eq!(buf.pending(), b"hdr");
        assert_eq!(buf.pending_len(), 3 + 4 + 5);
        // Payload reports before the header is written are ignored.
        buf.consume_payload(5);
        assert_eq!(buf.payload_owed(), 5);
        buf.consume(2);
        assert_eq!(buf.pending(), b"r");
        // Compaction keeps the payload's place.
        assert!(buf.make_room(10));
        assert_eq!(buf.pending(), b"r");
        buf.consume(1);
        assert_eq!(buf.pending(), b"");
        buf.consume_payload(3);
        assert_eq!((buf.pending(), buf.payload_owed()), (&b""[..], 2));
        buf.consume_payload(2);
        assert_eq!(buf.pending(), b"pong");
        buf.consume(4);
        assert_eq!(buf.pending_len(), 0);
        // A header with nothing after it: the storage starts over.
        assert!(buf.make_room(3));
        buf.push(b"hdr");
        buf.start_external(1);
        buf.consume(3);
        buf.consume_payload(1);
        assert_eq!(buf.pending_len(), 0);
        assert!(buf.make_room(16));
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn vec_storage_keeps_written_prefix_bounded() {
        let mut buf = SendBuf::new(alloc::vec::Vec::new());
        for _ in 0..1000 {
            assert!(buf.make_room(10));
            buf.push(&[7; 10]);
            buf.consume(9);
        }
        assert_eq!(buf.pending_len(), 1000);
        assert!(buf.storage().len() <= 2 * 1000 + 10);
    }

    #[test]
    fn copy_short_copies_every_length() {
        let src: [u8; SHORT_COPY] = core::array::from_fn(|i| i as u8 + 1);
        for n in 0..=SHORT_COPY {
            let mut dst = [0u8; SHORT_COPY];
            copy_short(&mut dst, &src[..n]);
            assert_eq!(&dst[..n], &src[..n], "length {n}");
            assert!(
                dst[n..].iter().all(|&b| b == 0),
                "length {n} wrote past the end"
            );
        }
    }

    #[test]
    fn push_short_frame_appends_exactly_with_and_without_room_to_spare() {
        let payload: [u8; 40] = core::array::from_fn(|i| i as u8 + 1);
        for n in [0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 40] {
            let mut expected = [0u8; 42];
            expected[..2].copy_from_slice(&[0x82, n as u8]);
            expected[2..2 + n].copy_from_slice(&payload[..n]);
            let expected = &expected[..2 + n];
            let mut roomy = SendBuf::new(ArrayStorage::<64>::new());
            roomy.push(b"xy");
            roomy.push_short_frame([0x82, n as u8], &payload[..n]);
            assert_eq!(&roomy.pending()[2..], expected, "{n} bytes");
            // Room for the frame but not for the padded copy (18 bytes).
            let mut tight = SendBuf::new(ArrayStorage::<19>::new());
            tight.push(b"xy");
            if tight.make_room(2 + n) {
                tight.push_short_frame([0x82, n as u8], &payload[..n]);
                assert_eq!(&tight.pending()[2..], expected, "tight, {n} bytes");
            }
        }
    }
}
