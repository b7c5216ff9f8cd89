//! Shared support for the hostile-peer suites (`tests/tests/hostile_*.rs`):
//! servers on 127.0.0.1:0 — a `ws-app` on tokio (or smol) and a raw
//! `ws-runtime-tokio` echo server — and [`Peer`], a raw TCP client that
//! writes hand-built (often invalid) frames and reads the server's frames
//! back with a blocking socket and a deadline on every read.
//!
//! Every wait is bounded: reads time out after [`DEADLINE`], loops count.

#![allow(dead_code)]

use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ws_app::{App, AppConfig, Message, Server, ServerHandle, Ws};
use ws_runtime_tokio::WebSocketConfig;

/// The longest any single read, exchange or wait may take.
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);

/// The client mask key of every frame [`frame`] masks.
pub(crate) const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

// ------------------------------------------------------------------ servers

/// A `ws-app` server on tokio (two worker threads), on 127.0.0.1:0.
pub(crate) struct AppServer {
    pub(crate) handle: ServerHandle,
    rt: tokio::runtime::Runtime,
}

impl AppServer {
    /// Serves `app`.
    pub(crate) fn start(app: App) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let handle = rt.block_on(async {
            Server::<ws_app::rt::Tokio>::bind(app, "127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0")
                .spawn()
        });
        Self { handle, rt }
    }

    /// The server's address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    /// Runs `future` on the server's runtime, from the test thread.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.rt.block_on(future)
    }
}

impl Drop for AppServer {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

/// An app with one echo route, `/echo` (text and binary), and `configure`
/// applied to its settings.
pub(crate) fn echo_app(configure: impl FnOnce(&mut AppConfig)) -> App {
    let mut app = App::new();
    let _ = app.websocket("/echo", echo);
    configure(app.config_mut());
    app
}

/// Echoes every message until the connection ends.
pub(crate) async fn echo(ws: Ws) -> ws_app::Result<()> {
    // Bounded by the connection: `receive` fails once it has ended.
    loop {
        match ws.receive().await? {
            Message::Text(text) => ws.send_text(text).await?,
            Message::Binary(data) => ws.send_bytes(data).await?,
        }
    }
}

/// A raw `ws-runtime-tokio` echo server (no app layer): any path.
pub(crate) struct RawServer {
    addr: SocketAddr,
    rt: tokio::runtime::Runtime,
}

impl RawServer {
    /// Serves an echo on every accepted connection, with `config`.
    pub(crate) fn start(config: WebSocketConfig) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        rt.spawn(async move {
            // Ends with the runtime (dropped with the server).
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let config = config.clone();
                tokio::spawn(async move {
                    let accepted = ws_runtime_tokio::accept_with_config(stream, &config, |_| {
                        Ok(ws_runtime_tokio::Accept::new())
                    })
                    .await;
                    let Ok(mut ws) = accepted else { return };
                    while let Some(Ok(message)) = ws.recv().await {
                        if matches!(
                            message,
                            ws_runtime_tokio::Message::Text(_)
                                | ws_runtime_tokio::Message::Binary(_)
                        ) && ws.send(message).await.is_err()
                        {
                            break;
                        }
                    }
                });
            }
        });
        Self { addr, rt }
    }

    /// The server's address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

// ------------------------------------------------------------------ frames

/// A frame header with any payload length, encoded in the shortest form
/// (`masked`: the mask bit and [`MASK`] follow).
pub(crate) fn header(first_byte: u8, len: u64, masked: bool) -> Vec<u8> {
    let mask_bit = if masked { 0x80 } else { 0 };
    let mut out = vec![first_byte];
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= u64::from(u16::MAX) {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    if masked {
        out.extend_from_slice(&MASK);
    }
    out
}

/// A whole frame: FIN, RSV bits (`rsv` in the header's bit positions,
/// `0x70` for all three), opcode, payload (masked with [`MASK`] if
/// `masked`).
pub(crate) fn frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let first = u8::from(fin) << 7 | (rsv & 0x70) | (opcode & 0x0f);
    let mut out = header(first, payload.len() as u64, masked);
    out.extend(
        payload
            .iter()
            .enumerate()
            .map(|(i, b)| if masked { b ^ MASK[i % 4] } else { *b }),
    );
    out
}

/// A masked client frame, the way a well-behaved client sends it.
pub(crate) fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(fin, 0, opcode, payload, true)
}

/// A masked Close frame with `code` and raw `reason` bytes.
pub(crate) fn close_frame(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    client_frame(true, 0x8, &payload)
}

/// A frame as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) fin: bool,
    pub(crate) opcode: u8,
    pub(crate) payload: Vec<u8>,
}

impl Frame {
    /// The code of a Close frame (1005 for an empty one).
    pub(crate) fn close_code(&self) -> Option<u16> {
        if self.opcode != 0x8 {
            return None;
        }
        Some(match self.payload.get(..2) {
            Some(code) => u16::from_be_bytes([code[0], code[1]]),
            None => 1005,
        })
    }
}

// ------------------------------------------------------------------ peer

/// How a read ended without a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The server closed (EOF) or reset the connection.
    Closed,
    /// Nothing arrived before the read timeout.
    TimedOut,
}

/// A raw TCP client: hand-built bytes out, server frames in.
pub(crate) struct Peer {
    pub(crate) stream: TcpStream,
    buf: Vec<u8>,
}

impl Peer {
    /// A TCP connection to `addr`, nothing sent.
    pub(crate) fn tcp(addr: SocketAddr) -> Self {
        Self::from_stream(TcpStream::connect(addr).expect("TCP connect"))
    }

    /// A TCP connection to `addr` whose receive buffer (`SO_RCVBUF`) is
    /// set to `bytes` before connecting: a peer that does not read then
    /// backs the server up quickly.
    pub(crate) fn tcp_small_window(addr: SocketAddr, bytes: usize) -> Self {
        let domain = socket2::Domain::for_address(addr);
        let socket =
            socket2::Socket::new(domain, socket2::Type::STREAM, None).expect("a TCP socket");
        socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
        socket
            .connect_timeout(&addr.into(), DEADLINE)
            .expect("TCP connect");
        Self::from_stream(socket.into())
    }

    /// A peer on a connected `stream` (timeouts set here).
    pub(crate) fn from_stream(stream: TcpStream) -> Self {
        stream.set_nodelay(true).expect("TCP_NODELAY");
        stream
            .set_read_timeout(Some(DEADLINE))
            .expect("read timeout");
        stream
            .set_write_timeout(Some(DEADLINE))
            .expect("write timeout");
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    /// A WebSocket connection to `path` on `addr`: panics unless the
    /// server answers `101`.
    pub(crate) fn upgrade(addr: SocketAddr, path: &str) -> Self {
        Self::upgrade_with(addr, path, "")
    }

    /// [`upgrade`](Self::upgrade) with extra request header lines.
    pub(crate) fn upgrade_with(addr: SocketAddr, path: &str, extra_headers: &str) -> Self {
        let mut peer = Self::tcp(addr);
        peer.upgrade_on(path, extra_headers);
        peer
    }

    /// Upgrades this connection: panics unless the server answers `101`.
    pub(crate) fn upgrade_on(&mut self, path: &str, extra_headers: &str) {
        assert!(self.write(upgrade_request(path, extra_headers).as_bytes()));
        let head = self.read_head().expect("a response to the upgrade");
        assert_eq!(status_of(&head), 101, "upgrade refused: {head}");
    }

    /// Writes `bytes`; `false` if the server has closed or reset the
    /// connection meanwhile (attacks often provoke that).
    pub(crate) fn write(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    fn fill(&mut self) -> Result<(), Ended> {
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(Ended::Closed),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(Ended::TimedOut)
            }
            Err(_) => Err(Ended::Closed),
        }
    }

    /// Reads an HTTP response head (up to the blank line) as text.
    pub(crate) fn read_head(&mut self) -> Result<String, Ended> {
        for _ in 0..1024 {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return Ok(String::from_utf8_lossy(&head).into_owned());
            }
            self.fill()?;
        }
        panic!("no end of the HTTP head in 1024 reads");
    }

    /// The next frame from the server.
    pub(crate) fn read_frame(&mut self) -> Result<Frame, Ended> {
        // Each turn reads at least one byte; a frame is < 64 MiB here.
        for _ in 0..100_000 {
            if let Some((frame, used)) = parse_frame(&self.buf) {
                self.buf.drain(..used);
                return Ok(frame);
            }
            self.fill()?;
        }
        panic!("no whole frame in 100 000 reads");
    }

    /// Reads frames (skipping data, Pings and Pongs) until the server's
    /// Close; returns its code. Panics if the connection ends without
    /// one.
    pub(crate) fn expect_close(&mut self) -> u16 {
        for _ in 0..1_000_000 {
            match self.read_frame() {
                Ok(frame) => {
                    if let Some(code) = frame.close_code() {
                        return code;
                    }
                }
                Err(ended) => panic!("no Close frame from the server: {ended:?}"),
            }
        }
        panic!("no Close frame in 1 000 000 frames");
    }

    /// The code of the server's Close if one arrives before `quiet` passes
    /// without any byte; `None` if the connection stays quiet and open.
    pub(crate) fn expect_close_or_quiet(&mut self, quiet: Duration) -> Option<u16> {
        self.stream
            .set_read_timeout(Some(quiet))
            .expect("read timeout");
        let mut code = None;
        for _ in 0..1_000_000 {
            match self.read_frame() {
                Ok(frame) => {
                    if let Some(c) = frame.close_code() {
                        code = Some(c);
                        break;
                    }
                }
                Err(Ended::TimedOut) => break,
                Err(Ended::Closed) => panic!("the server ended the connection without a Close"),
            }
        }
        self.stream
            .set_read_timeout(Some(DEADLINE))
            .expect("read timeout");
        code
    }

    /// Reads (discarding) until the server ends the TCP connection; panics
    /// if it is still open after `within`. Returns how long it took.
    pub(crate) fn expect_eof(&mut self, within: Duration) -> Duration {
        let start = Instant::now();
        self.stream
            .set_read_timeout(Some(within))
            .expect("read timeout");
        let mut chunk = [0u8; 64 * 1024];
        // Each turn reads at least one byte or ends.
        for _ in 0..1_000_000 {
            match self.stream.read(&mut chunk) {
                Ok(0) => return start.elapsed(),
                Ok(_) => {}
                Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    break;
                }
                Err(_) => return start.elapsed(),
            }
            assert!(start.elapsed() < within, "still open after {within:?}");
        }
        panic!("the server kept the connection open for {within:?}");
    }

    /// Asserts that nothing arrives within `quiet` (no Close yet).
    pub(crate) fn expect_nothing(&mut self, quiet: Duration) {
        self.stream
            .set_read_timeout(Some(quiet))
            .expect("read timeout");
        let result = self.fill();
        self.stream
            .set_read_timeout(Some(DEADLINE))
            .expect("read timeout");
        assert_eq!(
            result,
            Err(Ended::TimedOut),
            "the server sent {:?} (or closed) too early",
            self.buf
        );
    }

    /// Sends a masked text message.
    pub(crate) fn send_text(&mut self, text: &str) -> bool {
        self.write(&client_frame(true, 0x1, text.as_bytes()))
    }

    /// The next text message (Pings and Pongs skipped).
    pub(crate) fn expect_text(&mut self) -> String {
        for _ in 0..1000 {
            let frame = self.read_frame().expect("a text message");
            match frame.opcode {
                0x1 => {
                    assert!(frame.fin, "unexpected fragmented reply");
                    return String::from_utf8(frame.payload).expect("UTF-8 text");
                }
                0x9 | 0xA => {}
                other => panic!("expected text, got opcode {other:#x}: {frame:?}"),
            }
        }
        panic!("only control frames");
    }

    /// Closes with 1000 and waits for the server's Close and EOF.
    pub(crate) fn close_cleanly(mut self) {
        assert!(self.write(&close_frame(1000, b"")), "close not sent");
        assert_eq!(self.expect_close(), 1000);
        self.expect_eof(DEADLINE);
    }
}

/// One whole frame at the start of `buf`, and its length.
pub(crate) fn parse_frame(buf: &[u8]) -> Option<(Frame, usize)> {
    let (&b0, rest) = buf.split_first()?;
    let (&b1, mut rest) = rest.split_first()?;
    let mut len = u64::from(b1 & 0x7f);
    let mut used = 2;
    if len == 126 {
        let bytes = rest.get(..2)?;
        len = u64::from(u16::from_be_bytes([bytes[0], bytes[1]]));
        rest = &rest[2..];
        used += 2;
    } else if len == 127 {
        let bytes: [u8; 8] = rest.get(..8)?.try_into().ok()?;
        len = u64::from_be_bytes(bytes);
        rest = &rest[8..];
        used += 8;
    }
    let mask = if b1 & 0x80 != 0 {
        let key: [u8; 4] = rest.get(..4)?.try_into().ok()?;
        rest = &rest[4..];
        used += 4;
        Some(key)
    } else {
        None
    };
    let len = usize::try_from(len).ok()?;
    let mut payload = rest.get(..len)?.to_vec();
    if let Some(key) = mask {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }
    let frame = Frame {
        fin: b0 & 0x80 != 0,
        opcode: b0 & 0x0f,
        payload,
    };
    Some((frame, used + len))
}

// ------------------------------------------------------------------ HTTP

/// An upgrade request for `path` with a valid key and version.
pub(crate) fn upgrade_request(path: &str, extra_headers: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         {extra_headers}\r\n"
    )
}

/// Sends `request` and reads the response head; the status and the head.
pub(crate) fn http_exchange(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut peer = Peer::tcp(addr);
    // The server may answer (and close) before reading everything.
    let _ = peer.write(request);
    let head = peer
        .read_head()
        .unwrap_or_else(|ended| panic!("no HTTP response: {ended:?}"));
    (status_of(&head), head)
}

/// The status code of a response head.
pub(crate) fn status_of(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {head:?}"))
}

/// Asserts that a well-behaved client still gets its echo at `path`.
pub(crate) fn assert_still_serves(addr: SocketAddr, path: &str) {
    let mut peer = Peer::upgrade(addr, path);
    assert!(peer.send_text("still serving?"));
    assert_eq!(peer.expect_text(), "still serving?");
    peer.close_cleanly();
}

/// Polls `condition` every 10 ms until it holds; panics after `within`.
pub(crate) fn wait_until(within: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
