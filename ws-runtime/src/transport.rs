//! The byte stream under a WebSocket, as the driver sees it.

use core::task::{Context, Poll};
use std::io::{self, IoSlice};

/// A bidirectional byte stream: a TCP socket, a TLS stream, an in-memory
/// pipe, or a connection that an HTTP server upgraded.
///
/// The methods mirror `futures-io`'s `AsyncRead`/`AsyncWrite` on plain
/// `&mut [u8]` buffers; each adapter wraps its runtime's stream in a newtype
/// implementing this trait. `Unpin` keeps the driver free of pin projection;
/// box a `!Unpin` stream.
pub trait Transport: Unpin + Send + 'static {
    /// Reads into `buf`; `Ready(Ok(0))` means end of stream.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;

    /// Reads at most `max` bytes into the spare capacity of `buf` (which
    /// has room for them) and appends them; `Ready(Ok(0))` means end of
    /// stream. `None` if this transport cannot read into uninitialised
    /// memory (the default).
    ///
    /// The driver reads the rest of a large frame this way, straight into
    /// the message's buffer, so that it is not copied there from the
    /// receive buffer. Without it (futures-io's `AsyncRead` takes only
    /// initialised buffers) the driver reads into its receive buffer and
    /// copies, which is cheaper than zeroing the message buffer first.
    fn poll_read_spare(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut Vec<u8>,
        max: usize,
    ) -> Option<Poll<io::Result<usize>>> {
        let _ = (cx, buf, max);
        None
    }

    /// Writes from `buf`; may write less than all of it.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;

    /// Writes from several buffers at once. The default writes the first
    /// non-empty one.
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let buf = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &**b);
        self.poll_write(cx, buf)
    }

    /// Pushes buffered bytes (a TLS record, for instance) to the wire.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Shuts down the write half (TCP FIN, TLS `close_notify`).
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        (**self).poll_read(cx, buf)
    }

    fn poll_read_spare(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut Vec<u8>,
        max: usize,
    ) -> Option<Poll<io::Result<usize>>> {
        (**self).poll_read_spare(cx, buf, max)
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        (**self).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        (**self).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        (**self).poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        (**self).poll_shutdown(cx)
    }
}
