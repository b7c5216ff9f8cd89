//! The raw frame path, side by side with tungstenite 0.30 and
//! fastwebsockets 0.10, in one run on the same inputs (issue 8):
//!
//! - `decode/*`: masked client frames through a server — header parse,
//!   unmask, UTF-8 validation of text — read from an in-memory "socket"
//!   that replays a batch of identical frames (so every implementation pays
//!   the same copy out of the socket). Ours is `Connection::receive` on a
//!   32 KiB `RecvBuf` (the runtime's read buffer size); tungstenite is
//!   `WebSocket::read` over a blocking in-memory reader; fastwebsockets is
//!   `WebSocket::read_frame` over an in-memory `AsyncRead` on a
//!   current-thread tokio runtime, timed per frame inside one `block_on`.
//!   One iteration is one whole message.
//! - `encode/*`: a server frame of each size, into a sink writer; ours both
//!   copying (`send_binary`) and zero-copy (`send_external`, the payload
//!   written from the caller's buffer, as the runtime does from 16 KiB on).
//! - `mask/*`: `apply_mask` next to a `memcpy` of the same cache-resident
//!   buffer, and fastwebsockets' `unmask`.
//! - `handshake/*`: parsing a browser's upgrade request (ours: `HeadReader`
//!   then `parse_request`; tungstenite: its httparse-based `Request`
//!   parser; bare `httparse` as the floor), then answering it.
//!
//! `cargo bench -p ws-proto --bench frame` (add `-- decode` to filter).
//! `docs/bench/README.md` has the figures.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant as StdInstant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ws_proto::handshake::{EMPTY_HEADER, HeadReader, RequestLimits, Status, server};
use ws_proto::mask::{MaskKey, apply_mask};
use ws_proto::{
    Config, Connection, DataKind, Event, FrameHeader, Instant, NoMaskKeys, OpCode, RecvBuf, Role,
};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// The receive buffer `ws-runtime` grows a busy connection to.
const RECV_BUF: usize = 32 * 1024;
/// Each replayed batch holds at least this many bytes of frames.
const BATCH: usize = 64 * 1024;

/// Sizes of the frame-path benches: (label, payload length).
const SIZES: [(&str, usize); 4] = [
    ("16B", 16),
    ("1KiB", 1024),
    ("64KiB", 64 * 1024),
    ("1MiB", 1024 * 1024),
];

/// Mostly-ASCII text with some two- and three-byte characters, like chat
/// or JSON in a European language: exactly `len` bytes of valid UTF-8.
fn text_payload(len: usize) -> Vec<u8> {
    const PIECE: &str = "{\"user\":\"zoë\",\"text\":\"héllo wörld — ok\",\"n\":42} ";
    let mut s = String::with_capacity(len + PIECE.len());
    while s.len() < len {
        s.push_str(PIECE);
    }
    let mut end = len;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    while s.len() < len {
        s.push(' ');
    }
    s.into_bytes()
}

fn binary_payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

/// One masked client frame (RFC 6455 §5.3).
fn masked_frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode,
        mask: Some(MaskKey::new(KEY)),
        payload_len: payload.len() as u64,
    };
    let mut out = vec![0; header.encoded_len()];
    header.encode(&mut out);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], MaskKey::new(KEY), 0);
    out
}

/// The in-memory socket: replays a batch of identical frames forever.
/// Reads copy out of it, as a socket read copies out of the kernel.
struct Wire {
    batch: Vec<u8>,
    pos: usize,
}

impl Wire {
    fn new(frame: &[u8]) -> Self {
        let copies = BATCH.div_ceil(frame.len()).max(1);
        Self {
            batch: frame.repeat(copies),
            pos: 0,
        }
    }

    fn fill(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.batch.len() - self.pos);
        out[..n].copy_from_slice(&self.batch[self.pos..self.pos + n]);
        self.pos += n;
        if self.pos == self.batch.len() {
            self.pos = 0;
        }
        n
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.fill(buf))
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for Wire {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // No zeroing of the spare capacity: copy straight into it.
        let n = buf.remaining().min(this.batch.len() - this.pos);
        buf.put_slice(&this.batch[this.pos..this.pos + n]);
        this.pos += n;
        if this.pos == this.batch.len() {
            this.pos = 0;
        }
        Poll::Ready(Ok(()))
    }
}

/// A sink writer: counts bytes and keeps none (an `io::sink` that is also
/// a tokio `AsyncWrite`, with vectored writes).
#[derive(Default)]
struct Sink {
    written: usize,
}

impl Read for Sink {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for Sink {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Sink {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().written += buf.len();
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let n: usize = bufs.iter().map(|b| b.len()).sum();
        self.get_mut().written += n;
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A stream made of a [`Wire`] to read and a [`Sink`] to write, for
/// fastwebsockets (which needs both directions).
struct Duplex {
    wire: Wire,
    sink: Sink,
}

impl tokio::io::AsyncRead for Duplex {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().wire).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Duplex {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().sink).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().sink).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

type Server = Connection<NoMaskKeys, Vec<u8>>;

fn our_server() -> Server {
    Connection::with_parts(
        Role::Server,
        Config::default(),
        Instant::ZERO,
        NoMaskKeys,
        Vec::new(),
    )
}

/// Ours: reads from the wire into the receive buffer until one whole
/// message has come out of `receive` (unmasked and validated, in chunks).
fn ours_next_message(conn: &mut Server, buf: &mut RecvBuf<Box<[u8]>>, wire: &mut Wire) -> usize {
    let mut got = 0;
    loop {
        match conn.receive(Instant::ZERO, buf) {
            Some(Event::Data {
                payload,
                end_of_message,
                ..
            }) => {
                got += black_box(payload).len();
                if end_of_message {
                    return got;
                }
            }
            Some(other) => panic!("unexpected {other:?}"),
            None => {
                let n = wire.fill(buf.spare_mut());
                buf.commit(n);
            }
        }
    }
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    // Plain ASCII as well for the smallest size: a 16-byte JSON message
    // often is, and the mixed text's first 16 bytes hold a two-byte 'ë'.
    let ascii = std::iter::once((
        "text_ascii_16B".to_owned(),
        OpCode::Text,
        br#"{"op":"ping","n":1}"#[..16].to_vec(),
    ));
    let inputs = SIZES
        .iter()
        .map(|&(label, len)| (format!("text_{label}"), OpCode::Text, text_payload(len)))
        .chain(ascii)
        .chain(SIZES[1..].iter().map(|&(label, len)| {
            (
                format!("binary_{label}"),
                OpCode::Binary,
                binary_payload(len),
            )
        }));
    for (name, opcode, payload) in inputs {
        let frame = masked_frame(opcode, &payload);
        let len = payload.len();
        group.throughput(Throughput::Bytes(len as u64));

        group.bench_function(BenchmarkId::new("ws-proto", &name), |b| {
            let mut conn = our_server();
            let mut buf = RecvBuf::with_capacity(RECV_BUF);
            let mut wire = Wire::new(&frame);
            b.iter(|| {
                let n = ours_next_message(&mut conn, &mut buf, &mut wire);
                debug_assert_eq!(n, len);
                n
            });
        });

        group.bench_function(BenchmarkId::new("tungstenite", &name), |b| {
            let mut ws = tungstenite::WebSocket::from_raw_socket(
                Wire::new(&frame),
                tungstenite::protocol::Role::Server,
                None,
            );
            b.iter(|| match ws.read().expect("tungstenite read") {
                tungstenite::Message::Text(text) => black_box(text).len(),
                tungstenite::Message::Binary(data) => black_box(data).len(),
                other => panic!("unexpected {other:?}"),
            });
        });

        group.bench_function(BenchmarkId::new("fastwebsockets", &name), |b| {
            let rt = current_thread();
            let mut ws = fastwebsockets::WebSocket::after_handshake(
                Duplex {
                    wire: Wire::new(&frame),
                    sink: Sink::default(),
                },
                fastwebsockets::Role::Server,
            );
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = StdInstant::now();
                    for _ in 0..iters {
                        let frame = ws.read_frame().await.expect("fastwebsockets read");
                        assert!(frame.fin);
                        black_box(&frame.payload[..]);
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for &(label, len) in &SIZES {
        let payload = binary_payload(len);
        let bytes = tungstenite::Bytes::from(payload.clone());
        group.throughput(Throughput::Bytes(len as u64));
        let name = format!("binary_{label}");

        // Ours: send_binary, then drain poll_transmit into the sink.
        group.bench_function(BenchmarkId::new("ws-proto", &name), |b| {
            let mut conn = our_server();
            let mut sink = Sink::default();
            b.iter(|| {
                conn.send_binary(black_box(&payload)).expect("send");
                while let Some(ws_proto::Transmit::Bytes(out)) = conn.poll_transmit() {
                    let n = sink.write(out).expect("sink");
                    conn.consume_transmit(n);
                }
            });
        });

        // Ours, zero-copy: send_external queues the header; the payload
        // goes to the sink from the caller's buffer (a writev in a runtime).
        group.bench_function(BenchmarkId::new("ws-proto_external", &name), |b| {
            let mut conn = our_server();
            let mut sink = Sink::default();
            b.iter(|| {
                assert!(conn.send_external(DataKind::Binary, len).expect("send"));
                while let Some(ws_proto::Transmit::Bytes(out)) = conn.poll_transmit() {
                    let n = sink.write(out).expect("sink");
                    conn.consume_transmit(n);
                }
                let n = sink.write(black_box(&payload)).expect("sink");
                conn.consume_payload(n);
            });
        });

        group.bench_function(BenchmarkId::new("tungstenite", &name), |b| {
            let mut ws = tungstenite::WebSocket::from_raw_socket(
                Sink::default(),
                tungstenite::protocol::Role::Server,
                None,
            );
            b.iter(|| {
                ws.send(tungstenite::Message::Binary(black_box(&bytes).clone()))
                    .expect("send");
            });
        });

        group.bench_function(BenchmarkId::new("fastwebsockets", &name), |b| {
            let rt = current_thread();
            let mut ws = fastwebsockets::WebSocket::after_handshake(
                Sink::default(),
                fastwebsockets::Role::Server,
            );
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = StdInstant::now();
                    for _ in 0..iters {
                        let frame = fastwebsockets::Frame::binary(
                            fastwebsockets::Payload::Borrowed(black_box(&payload)),
                        );
                        ws.write_frame(frame).await.expect("write");
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();
}

fn mask(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    for (label, len) in [("1KiB", 1024), ("64KiB", 64 * 1024)] {
        group.throughput(Throughput::Bytes(len as u64));
        let src = binary_payload(len);
        group.bench_function(BenchmarkId::new("memcpy", label), |b| {
            let mut dst = vec![0u8; len];
            b.iter(|| {
                dst.copy_from_slice(black_box(&src));
                black_box(&mut dst);
            });
        });
        group.bench_function(BenchmarkId::new("ws-proto_apply_mask", label), |b| {
            let mut buf = src.clone();
            b.iter(|| {
                apply_mask(black_box(&mut buf), MaskKey::new(KEY), 0);
            });
        });
        group.bench_function(
            BenchmarkId::new("ws-proto_apply_mask_offset1", label),
            |b| {
                let mut buf = src.clone();
                b.iter(|| {
                    apply_mask(black_box(&mut buf[1..]), MaskKey::new(KEY), 1);
                });
            },
        );
        group.bench_function(BenchmarkId::new("fastwebsockets_unmask", label), |b| {
            let mut buf = src.clone();
            b.iter(|| {
                fastwebsockets::unmask(black_box(&mut buf), KEY);
            });
        });
    }
    group.finish();
}

/// What Chrome sends to open a WebSocket (with a made-up cookie).
const BROWSER_REQUEST: &[u8] = b"GET /chat?room=lobby HTTP/1.1\r\n\
Host: localhost:8080\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: http://localhost:8080\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-GB,en;q=0.9,de;q=0.8\r\n\
Cookie: session=3f6c2b1e9a7d4e0c8b5a1f2e3d4c5b6a; theme=dark\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
\r\n";

fn handshake(c: &mut Criterion) {
    use tungstenite::handshake::machine::TryParse;

    let mut group = c.benchmark_group("handshake");
    group.throughput(Throughput::Elements(1));

    group.bench_function(BenchmarkId::new("parse", "ws-proto"), |b| {
        b.iter(|| {
            let mut reader = HeadReader::new(&RequestLimits::DEFAULT);
            let Ok(Status::Complete(head_len)) = reader.feed(black_box(BROWSER_REQUEST)) else {
                panic!("incomplete head");
            };
            let mut headers = [EMPTY_HEADER; 32];
            match server::parse_request(&BROWSER_REQUEST[..head_len], &mut headers) {
                Ok(Status::Complete((request, n))) => black_box((request.key().len(), n)),
                other => panic!("unexpected {other:?}"),
            }
        });
    });
    group.bench_function(BenchmarkId::new("parse", "tungstenite"), |b| {
        b.iter(|| {
            match tungstenite::handshake::server::Request::try_parse(black_box(BROWSER_REQUEST)) {
                Ok(Some((n, request))) => black_box((request.headers().len(), n)),
                other => panic!("unexpected {other:?}"),
            }
        });
    });
    group.bench_function(BenchmarkId::new("parse", "httparse_only"), |b| {
        b.iter(|| {
            let mut headers = [EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(black_box(BROWSER_REQUEST)) {
                Ok(httparse::Status::Complete(n)) => black_box(n),
                other => panic!("unexpected {other:?}"),
            }
        });
    });

    group.bench_function(BenchmarkId::new("parse_and_respond", "ws-proto"), |b| {
        let mut out = [0u8; 512];
        b.iter(|| {
            let mut reader = HeadReader::new(&RequestLimits::DEFAULT);
            let Ok(Status::Complete(head_len)) = reader.feed(black_box(BROWSER_REQUEST)) else {
                panic!("incomplete head");
            };
            let mut headers = [EMPTY_HEADER; 32];
            let Ok(Status::Complete((request, _))) =
                server::parse_request(&BROWSER_REQUEST[..head_len], &mut headers)
            else {
                panic!("bad request");
            };
            let n = server::accept(&request, &server::AcceptOptions::default(), &mut out)
                .expect("accept");
            black_box(&out[..n]);
        });
    });
    group.bench_function(BenchmarkId::new("parse_and_respond", "tungstenite"), |b| {
        let mut out = Vec::with_capacity(512);
        b.iter(|| {
            let Ok(Some((_, request))) =
                tungstenite::handshake::server::Request::try_parse(black_box(BROWSER_REQUEST))
            else {
                panic!("bad request");
            };
            let response =
                tungstenite::handshake::server::create_response(&request).expect("response");
            out.clear();
            tungstenite::handshake::server::write_response(&mut out, &response).expect("write");
            black_box(&out);
        });
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = decode, encode, mask, handshake
}
criterion_main!(benches);
