//! What the driver needs from an async runtime: a clock, a timer and a way
//! to spawn a task (quinn's `Runtime` / `AsyncTimer`).

use core::fmt::Debug;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::time::Instant;

/// A future that runs on its own, as handed to [`Runtime::spawn`].
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A resettable one-shot timer.
///
/// The driver keeps one per connection and moves it to each new deadline, so
/// waiting on a timer never allocates after the first time.
pub trait Timer: Send + Unpin + 'static {
    /// Moves the deadline to `deadline` (earlier or later) and re-arms the
    /// timer if it had fired.
    fn reset(&mut self, deadline: Instant);

    /// `Ready` once the deadline has passed; registers `cx`'s waker
    /// otherwise. Polling again after `Ready` without a
    /// [`reset`](Self::reset) may return `Ready` again or `Pending`.
    fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()>;
}

/// An async runtime, as the driver sees it.
///
/// Adapters implement it in a few lines (`ws-runtime-tokio`'s `Tokio`,
/// `ws-runtime-async-std`'s `AsyncIo`). The clock must be the one the
/// runtime's timers use, so that a paused test clock (tokio's
/// `start_paused`) drives every WebSocket timer.
pub trait Runtime: Clone + Send + Sync + Unpin + Debug + 'static {
    /// The runtime's timer type.
    type Timer: Timer;

    /// The current time on the runtime's clock.
    fn now(&self) -> Instant;

    /// A timer that fires at `deadline`.
    fn timer(&self, deadline: Instant) -> Self::Timer;

    /// Runs `future` to completion in the background (used by
    /// [`WebSocket::split`](crate::WebSocket::split) for the connection
    /// driver task).
    fn spawn(&self, future: BoxFuture);
}
