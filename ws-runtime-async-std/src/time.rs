//! `async-io`'s timers and `std`'s clock, and a spawner, as the driver's
//! [`ws_runtime::Runtime`].
//!
//! `async-io` is the reactor under both async-std and smol, so these timers
//! work on either executor (and under `futures::executor`).

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use ws_runtime::BoxFuture;

/// The runtime as the WebSocket driver uses it: `std`'s monotonic clock,
/// `async-io` timers, and a spawner for the driver task of
/// [`WebSocket::split`](crate::WebSocket).
///
/// The default spawner is smol's global executor (feature `smol`, on by
/// default; it runs fine next to async-std), else a thread per driver
/// running `async_io::block_on`. Use [`with_spawner`](Self::with_spawner)
/// for `async_std::task::spawn` or an executor of your own, or
/// `split_with_driver` and spawn the driver yourself.
#[derive(Clone, Copy)]
pub struct Runtime {
    spawner: fn(BoxFuture),
}

impl Runtime {
    /// The default runtime (see the type's docs).
    pub fn new() -> Self {
        Self {
            spawner: default_spawn,
        }
    }

    /// A runtime that spawns driver tasks with `spawner`, for example
    /// `|f| { async_std::task::spawn(f); }`.
    pub fn with_spawner(spawner: fn(BoxFuture)) -> Self {
        Self { spawner }
    }
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

#[cfg(feature = "smol")]
fn default_spawn(future: BoxFuture) {
    smol::spawn(future).detach();
}

#[cfg(not(feature = "smol"))]
fn default_spawn(future: BoxFuture) {
    std::thread::Builder::new()
        .name("ws-driver".into())
        .spawn(move || async_io::block_on(future))
        .expect("spawning a WebSocket driver thread");
}

impl ws_runtime::Runtime for Runtime {
    type Timer = Timer;

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn timer(&self, deadline: Instant) -> Timer {
        Timer(async_io::Timer::at(deadline))
    }

    fn spawn(&self, future: BoxFuture) {
        (self.spawner)(future);
    }
}

/// A resettable `async_io::Timer`.
#[derive(Debug)]
pub struct Timer(async_io::Timer);

impl ws_runtime::Timer for Timer {
    fn reset(&mut self, deadline: Instant) {
        self.0.set_at(deadline);
    }

    fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}
