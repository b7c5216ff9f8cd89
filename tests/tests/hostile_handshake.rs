//! Hostile peers, opening handshake: byte-at-a-time requests, oversized
//! and overcrowded heads, pathological header values, malformed upgrades,
//! slowloris clients, and the `Origin` allow-list; against a `ws-app`
//! server on tokio and a raw `ws-runtime-tokio` server, each with the HTTP
//! status it must answer (or the drop), and a check that the server still
//! serves afterwards. `docs/security.md` lists the defences.

mod hostile_common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hostile_common::{
    AppServer, Peer, RawServer, assert_still_serves, echo_app, http_exchange, status_of,
    upgrade_request,
};
use ws_runtime_tokio::{DeflateConfig, WebSocketConfig};

/// The handshake (HTTP) timeout of both servers in this suite: short for
/// the slowloris test, long enough for a loaded machine to write a request
/// one byte at a time.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(1);

fn app_server() -> AppServer {
    AppServer::start(echo_app(|config| {
        config.http_timeout(HANDSHAKE_TIMEOUT);
    }))
}

fn raw_server() -> RawServer {
    let mut config = WebSocketConfig::default();
    config.handshake_timeout(HANDSHAKE_TIMEOUT);
    // Extension offers are parsed only when deflate is on.
    config.permessage_deflate(Some(DeflateConfig::default()));
    RawServer::start(config)
}

/// Runs `attack` against both servers, then checks each still serves.
fn against_both(attack: impl Fn(SocketAddr, &str)) {
    let app = app_server();
    attack(app.addr(), "/echo");
    assert_still_serves(app.addr(), "/echo");
    let raw = raw_server();
    attack(raw.addr(), "/");
    assert_still_serves(raw.addr(), "/");
}

/// An upgrade request with `lines` in place of the standard headers.
fn request_with(path: &str, lines: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}\r\n")
}

#[test]
fn one_byte_per_write_still_upgrades() {
    against_both(|addr, path| {
        let mut peer = Peer::tcp(addr);
        let request = upgrade_request(path, "");
        // Slow but inside the handshake timeout: ~190 bytes, one per write.
        for byte in request.as_bytes() {
            assert!(peer.write(std::slice::from_ref(byte)));
        }
        let head = peer.read_head().expect("a response");
        assert_eq!(status_of(&head), 101, "{head}");
        assert!(peer.send_text("byte by byte"));
        assert_eq!(peer.expect_text(), "byte by byte");
        peer.close_cleanly();
    });
}

#[test]
fn head_over_size_limit_gets_431() {
    against_both(|addr, path| {
        let big = format!("X-Filler: {}\r\n", "a".repeat(20_000));
        let (status, head) = http_exchange(addr, upgrade_request(path, &big).as_bytes());
        assert_eq!(status, 431, "{head}");
    });
}

#[test]
fn thousands_of_headers_get_431() {
    against_both(|addr, path| {
        let many: String = (0..3000).map(|i| format!("X-{i}: v\r\n")).collect();
        let (status, head) = http_exchange(addr, upgrade_request(path, &many).as_bytes());
        assert_eq!(status, 431, "{head}");
        // Just over the header-slot limits (96 for ws-app's HTTP parser, 64
        // for the WebSocket handshake), inside the size limit.
        let some: String = (0..100).map(|i| format!("X-{i}: v\r\n")).collect();
        let (status, head) = http_exchange(addr, upgrade_request(path, &some).as_bytes());
        assert_eq!(status, 431, "{head}");
    });
}

#[test]
fn pathological_protocol_and_extension_values_answer_in_linear_time() {
    against_both(|addr, path| {
        // Each value fits the head limit (16 KiB app, 8 KiB raw); a parser
        // quadratic in commas or parameters would take minutes here.
        let values = [
            format!("Sec-WebSocket-Protocol: {}\r\n", ",".repeat(7000)),
            format!("Sec-WebSocket-Protocol: {}\r\n", "a,".repeat(3500)),
            format!("Sec-WebSocket-Protocol: {}\r\n", "p".repeat(7000)),
            format!("Sec-WebSocket-Extensions: {}\r\n", ",".repeat(7000)),
            format!(
                "Sec-WebSocket-Extensions: permessage-deflate{}\r\n",
                "; client_max_window_bits".repeat(250)
            ),
            format!(
                "Sec-WebSocket-Extensions: {}\r\n",
                "permessage-deflate, ".repeat(350)
            ),
            format!("Sec-WebSocket-Extensions: x{}\r\n", ";".repeat(7000)),
        ];
        for value in values {
            let start = Instant::now();
            let (status, head) = http_exchange(addr, upgrade_request(path, &value).as_bytes());
            // Accepted (ignoring the junk) or refused: either way an answer.
            assert!([101, 400].contains(&status), "{status}: {head}");
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{} bytes took {:?}",
                value.len(),
                start.elapsed()
            );
        }
    });
}

#[test]
fn missing_or_duplicate_key_gets_400() {
    against_both(|addr, path| {
        let missing = request_with(
            path,
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n",
        );
        let (status, head) = http_exchange(addr, missing.as_bytes());
        assert_eq!(status, 400, "missing key: {head}");
        let duplicate = upgrade_request(path, "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n");
        let (status, head) = http_exchange(addr, duplicate.as_bytes());
        assert_eq!(status, 400, "duplicate key: {head}");
        let bad = request_with(
            path,
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: not-base64-of-16-bytes\r\n",
        );
        let (status, head) = http_exchange(addr, bad.as_bytes());
        assert_eq!(status, 400, "malformed key: {head}");
    });
}

#[test]
fn non_get_upgrade_gets_405() {
    against_both(|addr, path| {
        let request = upgrade_request(path, "").replacen("GET", "POST", 1);
        let (status, head) = http_exchange(addr, request.as_bytes());
        assert_eq!(status, 405, "{head}");
    });
}

#[test]
fn wrong_version_gets_426_naming_13() {
    against_both(|addr, path| {
        let request = upgrade_request(path, "")
            .replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
        let (status, head) = http_exchange(addr, request.as_bytes());
        assert_eq!(status, 426, "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("sec-websocket-version: 13"),
            "{head}"
        );
    });
}

#[test]
fn slowloris_is_dropped_after_handshake_timeout() {
    against_both(|addr, path| {
        // Half a request, then silence.
        let mut silent = Peer::tcp(addr);
        let request = upgrade_request(path, "");
        assert!(silent.write(&request.as_bytes()[..40]));
        let took = silent.expect_eof(Duration::from_secs(5));
        assert!(took >= HANDSHAKE_TIMEOUT / 2, "dropped too early: {took:?}");

        // A byte every 50 ms: always "making progress", never done. The
        // timeout covers the whole head, not the gap between bytes.
        let mut dribble = Peer::tcp(addr);
        let start = Instant::now();
        for byte in request.as_bytes().iter().take(100) {
            if !dribble.write(std::slice::from_ref(byte)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
            if start.elapsed() > 3 * HANDSHAKE_TIMEOUT {
                break;
            }
        }
        dribble.expect_eof(Duration::from_secs(5));
        assert!(
            start.elapsed() < 5 * HANDSHAKE_TIMEOUT,
            "the dribbling client was served for {:?}",
            start.elapsed()
        );
    });
}

#[test]
fn origin_allow_list_answers_403() {
    let app = AppServer::start(echo_app(|config| {
        config.allowed_origins(["https://good.example", "http://127.0.0.1:8080"]);
    }));
    let addr = app.addr();
    for (origin, expected) in [
        ("Origin: https://evil.example\r\n", 403),
        ("Origin: null\r\n", 403),
        ("Origin: https://good.example.evil.example\r\n", 403),
        (
            "Origin: https://good.example\r\nOrigin: https://good.example\r\n",
            403,
        ),
        ("Origin: https://good.example\r\n", 101),
        ("Origin: HTTPS://GOOD.EXAMPLE\r\n", 101),
        ("Origin: http://127.0.0.1:8080\r\n", 101),
        // Not a browser: no Origin at all.
        ("", 101),
    ] {
        let (status, head) = http_exchange(addr, upgrade_request("/echo", origin).as_bytes());
        assert_eq!(status, expected, "{origin:?}: {head}");
    }
    let mut peer = Peer::upgrade_with(addr, "/echo", "Origin: https://good.example\r\n");
    assert!(peer.send_text("from a good origin"));
    assert_eq!(peer.expect_text(), "from a good origin");
    peer.close_cleanly();
}
