//! The runtimes an app can be served on: [`Tokio`] (feature `tokio`, the
//! default) and [`Smol`] (feature `smol`; also right under async-std, which
//! runs on the same `async-io` reactor).
//!
//! Everything runtime-specific sits behind the small [`Runtime`] trait: a
//! TCP listener, its accepted streams, and the `ws-runtime` adapter (clock,
//! timers, spawn). The app logic — routing, handshakes, connections,
//! broadcast — is written once against it, so the same handlers run on
//! either runtime:
//!
//! ```no_run
//! # #[cfg(feature = "tokio")]
//! # async fn demo(app: ws_app::App) -> Result<(), ws_app::Error> {
//! let server = ws_app::Server::<ws_app::rt::Tokio>::bind(app, "127.0.0.1:8080").await?;
//! server.run().await
//! # }
//! ```

use std::future::{Future, poll_fn};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use ws_runtime::{Timer as _, Transport};

mod sealed {
    pub trait Sealed {}
}

/// A runtime to serve on: [`Tokio`] or [`Smol`]. Sealed; the associated
/// items are the glue the server uses.
pub trait Runtime: sealed::Sealed + Send + Sync + 'static {
    /// The `ws-runtime` adapter (clock, timers, spawn).
    type Rt: ws_runtime::Runtime;
    /// An accepted TCP connection.
    type Stream: Transport;
    /// A bound TCP listener.
    type Listener: Send + Sync + 'static;

    /// The adapter value.
    fn runtime() -> Self::Rt;

    /// Binds a TCP listener on `addr`.
    fn bind(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Listener>> + Send;

    /// The listener's local address.
    fn local_addr(listener: &Self::Listener) -> io::Result<SocketAddr>;

    /// Accepts the next connection (with `TCP_NODELAY` set).
    fn accept(
        listener: &Self::Listener,
    ) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send + '_;
}

/// Serve on tokio: `tokio::net::TcpListener`, tokio's timers, `tokio::spawn`.
/// Must run inside a tokio runtime with the I/O and time drivers enabled.
#[cfg(feature = "tokio")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

#[cfg(feature = "tokio")]
impl sealed::Sealed for Tokio {}

#[cfg(feature = "tokio")]
impl Runtime for Tokio {
    type Rt = ws_runtime_tokio::Runtime;
    type Stream = ws_runtime_tokio::Io<tokio::net::TcpStream>;
    type Listener = tokio::net::TcpListener;

    fn runtime() -> Self::Rt {
        ws_runtime_tokio::Runtime
    }

    fn bind(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Listener>> + Send {
        tokio::net::TcpListener::bind(addr)
    }

    fn local_addr(listener: &Self::Listener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    async fn accept(listener: &Self::Listener) -> io::Result<(Self::Stream, SocketAddr)> {
        let (stream, peer) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        Ok((ws_runtime_tokio::Io(stream), peer))
    }
}

/// Serve on smol: `async_net::TcpListener`, `async-io` timers, tasks on
/// smol's global executor. Works under `smol::block_on` and under
/// async-std (the same reactor).
#[cfg(feature = "smol")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

#[cfg(feature = "smol")]
impl sealed::Sealed for Smol {}

#[cfg(feature = "smol")]
impl Runtime for Smol {
    type Rt = ws_runtime_async_std::Runtime;
    type Stream = ws_runtime_async_std::Io<async_net::TcpStream>;
    type Listener = async_net::TcpListener;

    fn runtime() -> Self::Rt {
        ws_runtime_async_std::Runtime::new()
    }

    fn bind(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Listener>> + Send {
        async_net::TcpListener::bind(addr)
    }

    fn local_addr(listener: &Self::Listener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    async fn accept(listener: &Self::Listener) -> io::Result<(Self::Stream, SocketAddr)> {
        let (stream, peer) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        Ok((ws_runtime_async_std::Io(stream), peer))
    }
}

// ------------------------------------------------------------------ helpers

/// Spawns `future` on the runtime.
pub(crate) fn spawn<R: ws_runtime::Runtime>(
    rt: &R,
    future: impl Future<Output = ()> + Send + 'static,
) {
    rt.spawn(Box::pin(future));
}

/// Sleeps `duration` on the runtime's clock.
pub(crate) async fn sleep<R: ws_runtime::Runtime>(rt: &R, duration: Duration) {
    let deadline = rt.now() + duration;
    let mut timer = rt.timer(deadline);
    poll_fn(|cx| timer.poll_elapsed(cx)).await;
}

/// Which of two futures finished first.
pub(crate) enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Runs `a` and `b` together; the first to finish wins and the other is
/// dropped. `a` is polled first.
pub(crate) async fn race<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    poll_fn(|cx| {
        if let Poll::Ready(value) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(value));
        }
        if let Poll::Ready(value) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(value));
        }
        Poll::Pending
    })
    .await
}

/// A panic caught while polling user code.
pub(crate) struct Panicked;

/// Polls `future`, turning a panic into `Err(Panicked)` so that a panicking
/// handler cannot take its connection's bookkeeping down with it.
pub(crate) async fn catch_panic<F: Future>(future: F) -> Result<F::Output, Panicked> {
    let mut future = std::pin::pin!(future);
    poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(Panicked)),
        },
    )
    .await
}

/// A one-way latch tasks can wait on (server shutdown, connection end).
#[derive(Default)]
pub(crate) struct Latch {
    set: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl Latch {
    pub(crate) fn set(&self) {
        self.set.store(true, Ordering::Release);
        let wakers = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(|e| e.into_inner()));
        for waker in wakers {
            waker.wake();
        }
    }

    pub(crate) fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    pub(crate) fn poll_wait(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_set() {
            return Poll::Ready(());
        }
        let mut wakers = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        drop(wakers);
        if self.is_set() {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    pub(crate) async fn wait(&self) {
        poll_fn(|cx| self.poll_wait(cx)).await;
    }
}

/// Drops a connection's transport from outside its driver task: every
/// later read or write fails with `ConnectionAborted`.
#[derive(Default)]
pub(crate) struct AbortHandle {
    aborted: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl AbortHandle {
    pub(crate) fn abort(&self) {
        self.aborted.store(true, Ordering::Release);
        let waker = self.waker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn check(&self) -> io::Result<()> {
        if self.aborted.load(Ordering::Acquire) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection dropped by the server",
            ));
        }
        Ok(())
    }

    fn register(&self, cx: &Context<'_>) {
        let mut slot = self.waker.lock().unwrap_or_else(|e| e.into_inner());
        match &*slot {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
    }
}

/// The server's view of a TCP connection: bytes already read (the HTTP
/// head, which the WebSocket handshake reads again) are replayed first,
/// and the connection can be aborted from another task.
pub(crate) struct ServerStream<T> {
    inner: T,
    replay: Vec<u8>,
    replay_pos: usize,
    abort: Arc<AbortHandle>,
}

impl<T: Transport> ServerStream<T> {
    pub(crate) fn new(inner: T) -> Self {
        Self {
            inner,
            replay: Vec::new(),
            replay_pos: 0,
            abort: Arc::new(AbortHandle::default()),
        }
    }

    /// Makes `bytes` the next bytes read.
    pub(crate) fn unread(&mut self, bytes: Vec<u8>) {
        self.replay = bytes;
        self.replay_pos = 0;
    }

    pub(crate) fn abort_handle(&self) -> Arc<AbortHandle> {
        self.abort.clone()
    }

    fn pending<V>(&self, cx: &Context<'_>, poll: Poll<io::Result<V>>) -> Poll<io::Result<V>> {
        if poll.is_pending() {
            self.abort.register(cx);
            // An abort between the check and the registration.
            if let Err(err) = self.abort.check() {
                return Poll::Ready(Err(err));
            }
        }
        poll
    }
}

impl<T: Transport> Transport for ServerStream<T> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.abort.check()?;
        if self.replay_pos < self.replay.len() {
            let rest = &self.replay[self.replay_pos..];
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.replay_pos += n;
            if self.replay_pos == self.replay.len() {
                self.replay = Vec::new();
                self.replay_pos = 0;
            }
            return Poll::Ready(Ok(n));
        }
        let poll = self.inner.poll_read(cx, buf);
        self.pending(cx, poll)
    }

    fn poll_read_spare(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut Vec<u8>,
        max: usize,
    ) -> Option<Poll<io::Result<usize>>> {
        if let Err(err) = self.abort.check() {
            return Some(Poll::Ready(Err(err)));
        }
        if self.replay_pos < self.replay.len() {
            // Replayed bytes come first, through `poll_read`.
            return None;
        }
        let poll = self.inner.poll_read_spare(cx, buf, max)?;
        Some(self.pending(cx, poll))
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.abort.check()?;
        let poll = self.inner.poll_write(cx, buf);
        self.pending(cx, poll)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.abort.check()?;
        let poll = self.inner.poll_write_vectored(cx, bufs);
        self.pending(cx, poll)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.abort.check()?;
        let poll = self.inner.poll_flush(cx);
        self.pending(cx, poll)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.abort.check()?;
        let poll = self.inner.poll_shutdown(cx);
        self.pending(cx, poll)
    }
}

/// Reads once into `buf`.
pub(crate) async fn read_some<T: Transport>(io: &mut T, buf: &mut [u8]) -> io::Result<usize> {
    poll_fn(|cx| io.poll_read(cx, buf)).await
}

/// Writes all of `data`, flushes, and shuts the write side down.
pub(crate) async fn write_all_and_shutdown<T: Transport>(
    io: &mut T,
    mut data: &[u8],
) -> io::Result<()> {
    while !data.is_empty() {
        let n = poll_fn(|cx| io.poll_write(cx, data)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        data = data.get(n..).unwrap_or_default();
    }
    poll_fn(|cx| io.poll_flush(cx)).await?;
    poll_fn(|cx| io.poll_shutdown(cx)).await
}
