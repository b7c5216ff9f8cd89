//! Hostile peers against memory, over loopback TCP: headers that declare
//! huge payloads must not make the server allocate what they announce.
//! A counting global allocator in this test binary measures the peak of
//! live heap bytes (client and servers share the process) while the attack
//! runs; the tests take a lock so that they never overlap.
//! `docs/security.md` lists the defences.

mod hostile_common;

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use hostile_common::{AppServer, Peer, RawServer, echo_app, header};
use ws_runtime_tokio::WebSocketConfig;

/// Counts live heap bytes and their peak.
#[global_allocator]
static A: ws_tests::CountingAlloc = ws_tests::CountingAlloc::new();

/// One measurement at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// How far the peak of live heap bytes rose above the level before `run`.
fn peak_growth(run: impl FnOnce()) -> usize {
    let before = A.live();
    A.reset_peak(before);
    run();
    A.peak().saturating_sub(before)
}

/// The bound on the growth when the declaration is over the limit: the
/// attack declares up to 2^62 bytes; the servers hold buffers of a few KiB
/// (measured: 9–17 KiB).
const OVER_LIMIT_BOUND: usize = 256 << 10;

/// The bound under the limit: ws-runtime reserves at most 1 MiB ahead of
/// what arrived (`RESERVE_AHEAD`), plus those buffers (measured: 1.01 MiB).
const UNDER_LIMIT_BOUND: usize = (1 << 20) + (256 << 10);

/// A header announcing `declared` bytes, then a trickle of 64 × 16 bytes;
/// returns the Close code if the server closed (it must, over the limit).
fn declare_and_trickle(addr: SocketAddr, path: &str, declared: u64) -> Option<u16> {
    let mut peer = Peer::upgrade(addr, path);
    assert!(peer.write(&header(0x82, declared, true)));
    for _ in 0..64 {
        if !peer.write(&[0x5A; 16]) {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let code = peer.expect_close_or_quiet(Duration::from_millis(300));
    drop(peer);
    code
}

fn app_server(limit: u64) -> AppServer {
    AppServer::start(echo_app(|config| {
        config.max_message_size(limit);
    }))
}

fn raw_server(limit: u64) -> RawServer {
    let mut config = WebSocketConfig::default();
    config
        .protocol_mut()
        .max_message_size(limit)
        .max_frame_size(limit);
    RawServer::start(config)
}

#[test]
fn over_limit_declarations_allocate_nothing_and_close_1009() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let app = app_server(16 << 20);
    let raw = raw_server(16 << 20);
    for (addr, path) in [(app.addr(), "/echo"), (raw.addr(), "/")] {
        for declared in [(16 << 20) + 1, 1 << 40, 1 << 62] {
            let mut code = None;
            let growth = peak_growth(|| code = declare_and_trickle(addr, path, declared));
            eprintln!("{path}: declared {declared}: peak heap growth {growth} B, close {code:?}");
            assert_eq!(code, Some(1009), "{path}: declared {declared}");
            assert!(
                growth < OVER_LIMIT_BOUND,
                "{path}: declared {declared}, heap grew by {growth} bytes"
            );
        }
    }
}

#[test]
fn under_limit_declaration_reserves_at_most_a_megabyte_ahead() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 60 MiB declared under a 64 MiB limit, 1 KiB sent: the connection
    // stays open, and the server holds about what arrived, not 60 MiB.
    let app = app_server(64 << 20);
    let raw = raw_server(64 << 20);
    for (addr, path) in [(app.addr(), "/echo"), (raw.addr(), "/")] {
        let mut code = Some(0);
        let growth = peak_growth(|| code = declare_and_trickle(addr, path, 60 << 20));
        eprintln!("{path}: declared 60 MiB under a 64 MiB limit: peak heap growth {growth} B");
        assert_eq!(code, None, "{path}: closed a frame under the limit");
        assert!(
            growth < UNDER_LIMIT_BOUND,
            "{path}: heap grew by {growth} bytes"
        );
    }
}

#[test]
fn echo_to_a_peer_that_never_reads_stays_bounded() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // The peer sends up to 64 MiB of 16 KiB messages and reads none of the
    // echoes. Backpressure must reach it (its writes stall) long before
    // that, and the servers must not buffer what they cannot send.
    const MESSAGE: usize = 16 * 1024;
    const MESSAGES: usize = 4096;
    let app = app_server(1 << 20);
    let raw = raw_server(1 << 20);
    // Kept open until the end: a server freeing a dropped peer's buffers
    // would hide the next one's growth.
    let mut peers = Vec::new();
    for (addr, path) in [(app.addr(), "/echo"), (raw.addr(), "/")] {
        let mut peer = Peer::upgrade(addr, path);
        peer.stream
            .set_write_timeout(Some(Duration::from_secs(1)))
            .expect("write timeout");
        let message = hostile_common::client_frame(true, 0x2, &[0xA5; MESSAGE]);
        let mut sent = 0;
        let growth = peak_growth(|| {
            while sent < MESSAGES && peer.write(&message) {
                sent += 1;
            }
        });
        eprintln!(
            "{path}: writes stalled after {sent} of {MESSAGES} messages of 16 KiB; \
             peak heap growth {growth} B"
        );
        assert!(sent < MESSAGES, "{path}: no backpressure after 64 MiB");
        // The receive buffer, the send buffer (1 MiB watermark), a few
        // queued messages: far less than what was sent.
        assert!(growth < 8 << 20, "{path}: heap grew by {growth} bytes");
        peers.push(peer);
    }
}
