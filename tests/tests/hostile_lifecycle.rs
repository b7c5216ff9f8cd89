//! Hostile peers, connection lifecycle, over loopback TCP: a peer that
//! never reads (bounded buffers, closed by the slow-consumer policy while
//! another client keeps its throughput), a ping flood (Pongs coalesce), a
//! peer that ignores our Close or goes silent (close and keepalive
//! timeouts), the connection limit (503 before the upgrade) and graceful
//! shutdown (every accepted message delivered, then 1001; new connections
//! refused; the rest dropped after the shutdown timeout).
//! `docs/security.md` lists the defences.

mod hostile_common;

use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hostile_common::{
    AppServer, DEADLINE, Ended, Peer, RawServer, client_frame, close_frame, echo_app,
    http_exchange, upgrade_request, wait_until,
};
use ws_app::{App, Ws};
use ws_runtime_tokio::WebSocketConfig;

/// A route whose handler only reads until the connection ends.
async fn listen(ws: Ws) -> ws_app::Result<()> {
    loop {
        ws.receive().await?;
    }
}

// ------------------------------------------------------------------ slow

#[test]
fn peer_that_never_reads_is_closed_while_other_keeps_throughput() {
    const MESSAGES: usize = 4000;
    let mut app = App::new();
    let _ = app.websocket("/feed", listen);
    app.config_mut()
        .outbound_capacity(16)
        .slow_consumer_grace(Duration::from_millis(500));
    app.config_mut()
        .websocket_mut()
        .protocol_mut()
        .send_buffer_watermark(64 * 1024);
    let server = AppServer::start(app);
    let hub = server.handle.hub();
    let mut fast = Peer::upgrade(server.addr(), "/feed");
    let mut slow = Peer::upgrade(server.addr(), "/feed");
    wait_until(DEADLINE, "both registered", || hub.connection_count() == 2);

    // 4000 × 8 KiB = 32 MiB for each: far more than the kernel buffers,
    // the 64 KiB send buffer and 16 queued messages can hold for `slow`.
    // `fast` reads each broadcast before the next one is sent.
    let filler = "x".repeat(8 * 1024);
    for i in 0..MESSAGES {
        let message = format!("{i:06} {filler}");
        hub.broadcast("/feed", message.clone()).expect("broadcast");
        assert_eq!(
            fast.expect_text(),
            message,
            "message {i} to the fast client"
        );
    }
    wait_until(DEADLINE, "slow consumer unregistered", || {
        hub.connection_count() == 1
    });

    // The slow peer got a bounded prefix, then the server dropped it.
    let mut received = 0;
    let mut close = None;
    for _ in 0..=MESSAGES {
        match slow.read_frame() {
            Ok(frame) if frame.opcode == 0x1 => received += 1,
            Ok(frame) => {
                if let Some(code) = frame.close_code() {
                    close = Some(code);
                }
            }
            Err(Ended::Closed) => break,
            Err(Ended::TimedOut) => panic!("the slow peer was never dropped"),
        }
    }
    eprintln!("slow peer: {received} of {MESSAGES} messages before the drop, close {close:?}");
    assert!(
        received < MESSAGES / 2,
        "the server buffered {received} messages for a peer that never reads"
    );
    assert!(matches!(close, None | Some(1013)), "close code {close:?}");

    // The fast client is untouched.
    assert!(fast.send_text("still here"));
    fast.close_cleanly();
}

// ------------------------------------------------------------------ ping flood

#[test]
fn ping_flood_gets_coalesced_pongs_and_connection_survives() {
    const PINGS: usize = 64 * 1024;
    let check = |addr: std::net::SocketAddr, path: &str| {
        // A tiny receive buffer and no reading: the server's Pongs back up.
        let mut peer = Peer::tcp_small_window(addr, 4096);
        peer.upgrade_on(path, "");
        let ping = client_frame(true, 0x9, &[b'p'; 125]);
        let mut flood = Vec::with_capacity(ping.len() * 1024);
        for _ in 0..1024 {
            flood.extend_from_slice(&ping);
        }
        for _ in 0..PINGS / 1024 {
            assert!(peer.write(&flood), "the server stopped reading the flood");
        }
        assert!(peer.send_text("after the flood"));
        let mut pongs = 0;
        for _ in 0..=PINGS {
            let frame = peer.read_frame().expect("Pongs, then the echo");
            match frame.opcode {
                0xA => pongs += 1,
                0x1 => {
                    assert_eq!(frame.payload, b"after the flood");
                    break;
                }
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
        eprintln!("{path}: {PINGS} Pings answered by {pongs} Pongs");
        assert!(pongs >= 1, "no Pong at all");
        assert!(
            pongs < PINGS,
            "{pongs} Pongs for {PINGS} Pings: not coalesced"
        );
        peer.close_cleanly();
    };
    let app = AppServer::start(echo_app(|config| {
        config
            .websocket_mut()
            .protocol_mut()
            .send_buffer_watermark(16 * 1024);
    }));
    check(app.addr(), "/echo");
    let mut config = WebSocketConfig::default();
    config.protocol_mut().send_buffer_watermark(16 * 1024);
    let raw = RawServer::start(config);
    check(raw.addr(), "/");
}

// ------------------------------------------------------------------ timeouts

#[test]
fn peer_ignoring_our_close_is_dropped_after_close_timeout() {
    let mut app = App::new();
    // Returns at once: the server closes with 1000.
    let _ = app.websocket("/bye", |_ws: Ws| async move { Ok::<_, ws_app::Error>(()) });
    app.config_mut()
        .close_timeout(Duration::from_millis(300))
        .slow_consumer_grace(Duration::from_millis(300));
    let server = AppServer::start(app);
    let mut peer = Peer::upgrade(server.addr(), "/bye");
    assert_eq!(peer.expect_close(), 1000);
    // No Close in reply, no EOF: the server must give up by itself.
    let took = peer.expect_eof(Duration::from_secs(5));
    eprintln!("app: a peer ignoring our Close was dropped after {took:?}");
    assert!(
        took >= Duration::from_millis(150),
        "no wait at all: {took:?}"
    );
    assert!(took < Duration::from_secs(3), "dropped after {took:?}");
    let hub = server.handle.hub();
    wait_until(DEADLINE, "unregistered", || hub.connection_count() == 0);

    // The raw adapter: its idle timeout closes with 1001; the peer ignores
    // that Close too.
    let mut config = WebSocketConfig::default();
    config
        .protocol_mut()
        .idle_timeout(Some(Duration::from_millis(200)))
        .close_timeout(Duration::from_millis(300));
    let raw = RawServer::start(config);
    let mut peer = Peer::upgrade(raw.addr(), "/");
    assert_eq!(peer.expect_close(), 1001);
    let took = peer.expect_eof(Duration::from_secs(5));
    eprintln!("raw: a peer ignoring our Close was dropped after {took:?}");
    assert!(
        took >= Duration::from_millis(150),
        "no wait at all: {took:?}"
    );
    assert!(took < Duration::from_secs(3), "dropped after {took:?}");
}

#[test]
fn silent_peer_is_dropped_by_keepalive_timeout() {
    let keepalive = |config: &mut ws_proto::Config| {
        config
            .keepalive_interval(Some(Duration::from_millis(200)))
            .pong_timeout(Duration::from_millis(200));
    };
    let check = |addr, path: &str| {
        let mut peer = Peer::upgrade(addr, path);
        // It reads (the Pings arrive) but never answers anything.
        let start = Instant::now();
        peer.expect_eof(Duration::from_secs(5));
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(300),
            "dropped before the keepalive could expire: {took:?}"
        );
    };
    let app = AppServer::start(echo_app(|config| {
        keepalive(config.websocket_mut().protocol_mut());
    }));
    check(app.addr(), "/echo");
    let hub = app.handle.hub();
    wait_until(DEADLINE, "unregistered", || hub.connection_count() == 0);
    // A peer that answers stays.
    let mut alive = Peer::upgrade(app.addr(), "/echo");
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(150));
        assert!(alive.send_text("tick"));
        assert_eq!(alive.expect_text(), "tick");
    }
    alive.close_cleanly();

    let mut config = WebSocketConfig::default();
    keepalive(config.protocol_mut());
    let raw = RawServer::start(config);
    check(raw.addr(), "/");
}

// ------------------------------------------------------------------ limits

#[test]
fn connections_over_limit_get_503_before_upgrade() {
    let server = AppServer::start(echo_app(|config| {
        config.max_connections(Some(2));
    }));
    let addr = server.addr();
    let handle = server.handle.clone();
    let a = Peer::upgrade(addr, "/echo");
    let mut b = Peer::upgrade(addr, "/echo");
    assert_eq!(handle.websocket_count(), 2);
    for _ in 0..3 {
        let (status, head) = http_exchange(addr, upgrade_request("/echo", "").as_bytes());
        assert_eq!(status, 503, "{head}");
        assert!(
            head.to_ascii_lowercase().contains("retry-after: 1\r\n"),
            "{head}"
        );
    }
    // Refusals are not counted; plain HTTP is not limited.
    assert_eq!(handle.websocket_count(), 2);
    let (status, _) = http_exchange(addr, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, 426);

    // A slot frees when a connection's task has ended.
    a.close_cleanly();
    wait_until(DEADLINE, "slot released", || handle.websocket_count() == 1);
    let mut c = Peer::upgrade(addr, "/echo");
    assert!(c.send_text("third"));
    assert_eq!(c.expect_text(), "third");
    // An abrupt disconnect frees its slot too.
    drop(c);
    wait_until(DEADLINE, "slot released on reset", || {
        handle.websocket_count() == 1
    });
    assert!(b.send_text("second"));
    assert_eq!(b.expect_text(), "second");
    b.close_cleanly();
    wait_until(DEADLINE, "all slots released", || {
        handle.websocket_count() == 0
    });
}

// ------------------------------------------------------------------ shutdown

/// An app whose `/burst` handler, on "go", sends `count` numbered messages
/// with `send_text`, then sets `sent`. Room for 8192 broadcasts per
/// connection.
fn burst_app(count: usize, sent: Arc<AtomicBool>) -> App {
    let mut app = App::new();
    let _ = app.websocket("/burst", move |ws: Ws| {
        let sent = sent.clone();
        async move {
            ws.receive_text().await?;
            for i in 0..count {
                ws.send_text(format!("s{i:05} {}", "m".repeat(1024)))
                    .await?;
            }
            sent.store(true, Ordering::Release);
            // Until the connection ends.
            while ws.receive().await.is_ok() {}
            Ok::<(), ws_app::Error>(())
        }
    });
    app.config_mut().outbound_capacity(8192);
    app
}

/// Connects to `/burst` with a 4 KiB receive window, has the handler send
/// its messages (waiting for `flag`), then broadcasts `broadcasts` messages of 4 KiB: far
/// more than the socket buffers hold, so most wait in the server's queue.
fn burst_connection(server: &AppServer, flag: &AtomicBool, broadcasts: usize) -> Peer {
    let mut peer = Peer::tcp_small_window(server.addr(), 4096);
    peer.upgrade_on("/burst", "");
    assert!(peer.send_text("go"));
    wait_until(DEADLINE, "the handler's messages accepted", || {
        flag.load(Ordering::Acquire)
    });
    let hub = server.handle.hub();
    let filler = "b".repeat(4096);
    for i in 0..broadcasts {
        hub.broadcast("/burst", format!("b{i:05} {filler}"))
            .expect("broadcast accepted");
    }
    assert_eq!(hub.dropped_messages(), 0);
    peer
}

#[test]
fn graceful_shutdown_delivers_every_queued_message_then_1001() {
    const SENT: usize = 200;
    const BROADCASTS: usize = 3000;
    let flag = Arc::new(AtomicBool::new(false));
    let mut app = burst_app(SENT, flag.clone());
    app.config_mut().shutdown_timeout(Duration::from_secs(8));
    let server = AppServer::start(app);
    let addr = server.addr();
    let mut peer = burst_connection(&server, &flag, BROADCASTS);

    let started = Instant::now();
    server.handle.shutdown();
    // New connections are refused once the shutdown has begun.
    wait_until(DEADLINE, "listener closed", || {
        TcpStream::connect(addr).map_or(true, |stream| {
            let mut late = Peer::from_stream(stream);
            let _ = late.write(upgrade_request("/burst", "").as_bytes());
            late.read_head().is_err()
        })
    });

    // Read slowly: every message accepted before the shutdown (12 MiB,
    // most of it still queued in the server) arrives, in order, and only
    // then the 1001.
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..SENT {
        let text = peer.expect_text();
        assert_eq!(&text[..6], format!("s{i:05}"), "sent message {i}");
    }
    for i in 0..BROADCASTS {
        if i % 500 == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        let text = peer.expect_text();
        assert_eq!(&text[..6], format!("b{i:05}"), "broadcast {i}");
    }
    assert_eq!(peer.expect_close(), 1001);
    assert!(peer.write(&close_frame(1001, b"")));
    peer.expect_eof(DEADLINE);
    server.block_on(async {
        tokio::time::timeout(DEADLINE, server.handle.stopped())
            .await
            .expect("the server stopped");
    });
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.handle.websocket_count(), 0);
}

#[test]
fn graceful_shutdown_drops_peers_that_stop_reading() {
    let flag = Arc::new(AtomicBool::new(false));
    let mut app = burst_app(100, flag.clone());
    app.config_mut()
        .shutdown_timeout(Duration::from_millis(300))
        .handler_grace(Duration::from_millis(200));
    let server = AppServer::start(app);
    // 8 MiB queued for a peer that never reads.
    let mut stuck = burst_connection(&server, &flag, 2000);
    let start = Instant::now();
    server.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), server.handle.shutdown_and_wait())
            .await
            .expect("shutdown finished despite a peer that never reads");
    });
    let took = start.elapsed();
    eprintln!("shutdown with a peer that never reads took {took:?}");
    assert!(
        took >= Duration::from_millis(250),
        "no wait at all: {took:?}"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(server.handle.websocket_count(), 0);
    stuck.expect_eof(DEADLINE);
}
