//! # ws-bench
//!
//! The loopback benchmarks of issue 8: a load tool (`wsload`) and one echo
//! server per implementation, each written the way its documentation shows:
//!
//! | binary | server |
//! |---|---|
//! | `echo-ws-tokio` | `ws-runtime-tokio`, `recv` + `feed` (replies go out when `recv` would block) |
//! | `echo-ws-smol` | `ws-runtime-async-std` on smol, the same loop |
//! | `echo-ws-app` | `ws-app`, a route that echoes (`/echo`) and one that broadcasts (`/broadcast`) |
//! | `echo-tokio-tungstenite` | tokio-tungstenite 0.30: `read.forward(write)` (echo), the chat example's peer map (broadcast) |
//! | `echo-fastwebsockets` | fastwebsockets 0.10 behind hyper's upgrade: `read_frame` / `write_frame` |
//! | `echo-raw-tcp` | a raw TCP byte echo (read 64 KiB, `write_all`): the ceiling |
//!
//! Every tokio server runs a current-thread runtime: `bench/run.sh` pins
//! each server to one core, so one thread is what each of them gets
//! anyway, and the comparison is between the WebSocket layers, not between
//! runtime flavours. Servers take the listen address as their only
//! argument and run until killed.
//!
//! `bench/run.sh` runs everything; `docs/bench/README.md` has the figures.
//!
//! `wssoak` (issue 10) holds 10,000 connections against the `ws-app` demo
//! and runs a mixed soak (chat traffic plus hostile peers); its client
//! pieces are in [`client`], `bench/soak.sh` runs it and
//! `docs/bench/soak.md` has the figures.

#![forbid(unsafe_code)]

pub mod client;

use std::net::SocketAddr;

/// The address to listen on: the first argument, or `default`.
pub fn listen_addr(default: &str) -> SocketAddr {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| default.to_owned());
    match addr.parse() {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!("bad listen address {addr:?}: {err}");
            std::process::exit(2);
        }
    }
}

/// A current-thread tokio runtime with I/O and timers.
pub fn current_thread() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("tokio runtime: {err}");
            std::process::exit(1);
        }
    }
}

/// The largest message any server accepts: the 1 MiB echo plus headroom.
pub const MAX_MESSAGE: usize = 2 * 1024 * 1024;
