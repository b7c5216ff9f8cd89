//! tokio's clock, timers and `spawn`, as the driver's [`ws_runtime::Runtime`].
//!
//! The clock is `tokio::time::Instant`, so a paused test clock
//! (`#[tokio::test(start_paused = true)]`, `tokio::time::pause`) drives
//! every WebSocket timer — keepalive, pong deadline, close and idle
//! timeouts, the handshake timeout — without real sleeps.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::time::Sleep;
use ws_runtime::BoxFuture;

/// The tokio runtime as the WebSocket driver uses it: tokio's clock and
/// timers, and `tokio::spawn` for the driver task of
/// [`WebSocket::split`](crate::WebSocket). Must be used inside a tokio
/// runtime with the time driver enabled.
#[derive(Debug, Clone, Copy, Default)]
pub struct Runtime;

impl Runtime {
    /// The runtime (a unit value; `new` mirrors `ws-runtime-async-std`).
    pub fn new() -> Self {
        Self
    }
}

impl ws_runtime::Runtime for Runtime {
    type Timer = Timer;

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn timer(&self, deadline: Instant) -> Timer {
        Timer(Box::pin(tokio::time::sleep_until(deadline.into())))
    }

    fn spawn(&self, future: BoxFuture) {
        drop(tokio::spawn(future));
    }
}

/// A resettable tokio `Sleep`, boxed once per connection.
#[derive(Debug)]
pub struct Timer(Pin<Box<Sleep>>);

impl ws_runtime::Timer for Timer {
    fn reset(&mut self, deadline: Instant) {
        self.0.as_mut().reset(deadline.into());
    }

    fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}
