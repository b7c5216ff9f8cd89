//! The connection: [`WebSocket`], its split halves, [`Message`], and the
//! [`Io`] newtype that lets the shared driver use `futures-io` streams.
//!
//! [`WebSocket`] is `ws_runtime::WebSocket` on `async-io`; its docs
//! describe sending, buffering, splitting and the cancel safety of every
//! method.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use ws_proto::Role;

use crate::time::Runtime;

pub use ws_runtime::{
    CloseCode, CloseFrame, DataKind, DeflateConfig, DeflateParams, Message, MessageRef, ReadHalf,
    Replies, WebSocketConfig, WriteHalf,
};

/// A WebSocket over the `futures-io` stream `S` (`async_net::TcpStream`,
/// `async_std::net::TcpStream`, a TLS stream, ...).
pub type WebSocket<S> = ws_runtime::WebSocket<Io<S>, Runtime>;

/// The task that drives a split connection, from
/// [`WebSocket::split_with_driver`](ws_runtime::WebSocket::split_with_driver).
pub type Driver<S> = ws_runtime::Driver<Io<S>, Runtime>;

/// A `futures-io` `AsyncRead + AsyncWrite` stream as a
/// [`ws_runtime::Transport`].
///
/// The write half is shut down with `poll_close`. `async_net::TcpStream`
/// sends the TCP FIN there; `async_std::net::TcpStream` (like a bare
/// `async_io::Async<TcpStream>`) only flushes, so its FIN goes out when the
/// WebSocket is dropped: drop a server's WebSocket once `recv` has returned
/// `None`, or the client waits for its close timeout.
#[derive(Debug)]
pub struct Io<S>(pub S);

impl<S> Io<S> {
    /// Wraps `stream`.
    pub fn new(stream: S) -> Self {
        Self(stream)
    }

    /// The stream.
    pub fn into_inner(self) -> S {
        self.0
    }
}

impl<S> ws_runtime::Transport for Io<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// Frames `stream`, whose opening handshake another HTTP server already
/// completed, as the `role` end.
pub fn from_upgraded<S>(stream: S, role: Role, config: &WebSocketConfig) -> WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    ws_runtime::WebSocket::from_upgraded(Io(stream), role, config, Runtime::new())
}
