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
//! | `echo-ws-tokio-ref` | `ws-runtime-tokio`, `recv_with` (each message borrowed, echoed from where it lies) |
//! | `echo-ws-floor` | not a server: the least any WebSocket echo must do per frame (parse, unmask, re-frame), for the echo tests |
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
//!
//! Both tools read their options with [`Opts`] and run on [`run_local`].

#![forbid(unsafe_code)]

pub mod client;

use std::collections::HashMap;
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

/// The `--key value` and `--flag` options of the load tools (`wsload`,
/// `wssoak`). A bad value ends the process through the tool's `usage`.
pub struct Opts {
    values: HashMap<String, String>,
    usage: fn(&str) -> !,
}

impl Opts {
    /// Parses `args` (the arguments after the mode): `--key value`, or
    /// `--key` alone (then its value is `"true"`). Anything else goes to
    /// `usage`, which prints why and exits.
    pub fn parse(args: impl Iterator<Item = String>, usage: fn(&str) -> !) -> Self {
        let mut values = HashMap::new();
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            let Some(key) = arg.strip_prefix("--") else {
                usage(&format!("unexpected argument {arg}"));
            };
            let value = match args.peek() {
                Some(v) if !v.starts_with("--") => args.next().unwrap_or_default(),
                _ => "true".to_owned(),
            };
            values.insert(key.to_owned(), value);
        }
        Self { values, usage }
    }

    /// The mode (the process's first argument) and the options after it;
    /// a missing mode goes to `usage`.
    pub fn from_env(usage: fn(&str) -> !) -> (String, Self) {
        let mut args = std::env::args().skip(1);
        let Some(mode) = args.next() else {
            usage("missing mode");
        };
        (mode, Self::parse(args, usage))
    }

    /// Ends the process with the tool's usage message and `why`.
    pub fn usage(&self, why: &str) -> ! {
        (self.usage)(why)
    }

    /// The raw value of `--key`, if given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The value of `--key`, or `default`.
    pub fn str(&self, key: &str, default: &str) -> String {
        self.values
            .get(key)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    }

    /// `--key` parsed as a `T`, or `default`; a value that does not parse
    /// goes to `usage`.
    pub fn num<T: std::str::FromStr>(&self, key: &str, default: T) -> T {
        match self.values.get(key) {
            None => default,
            Some(v) => v
                .parse()
                .unwrap_or_else(|_| self.usage(&format!("bad value for --{key}: {v}"))),
        }
    }

    /// Whether `--key` was given.
    pub fn flag(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }
}

/// Runs `fut` to completion on a current-thread tokio runtime, inside a
/// `LocalSet` (so it may `spawn_local`).
pub fn run_local<T, F: Future<Output = Result<T, String>>>(fut: F) -> Result<T, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let local = tokio::task::LocalSet::new();
    rt.block_on(local.run_until(fut))
}
