//! A blocking WebSocket echo server on `std::net`, driving `ws-proto`
//! directly: no async runtime at all. One thread per connection.
//!
//! ```sh
//! cargo run --release -p ws-proto --example echo_server -- 127.0.0.1:9001
//! ```
//!
//! Every text and binary message is sent back as it arrived. Clients that
//! offer permessage-deflate (RFC 7692) get it. This is the server the
//! Autobahn|Testsuite conformance run (`scripts/conformance.sh`) tests.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

use ws_proto::deflate::{DeflateConfig, DeflateParams};
use ws_proto::handshake::server::AcceptOptions;
use ws_proto::handshake::{self, EMPTY_HEADER, HeadReader, RequestLimits, Status};
use ws_proto::{
    Config, Connection, Lifecycle, Message, MessageAssembler, RecvBuf, Role, StdClock, Transmit,
};

/// How long a client may take to send its opening handshake (slowloris).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("echo_server: listening on ws://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(err) => {
                eprintln!("echo_server: accept failed: {err}");
                continue;
            }
        };
        std::thread::spawn(move || {
            if let Err(err) = serve(stream) {
                eprintln!("echo_server: connection error: {err}");
            }
        });
    }
    Ok(())
}

/// Reads the upgrade request, answers it, then echoes until closed.
fn serve(mut sock: TcpStream) -> io::Result<()> {
    sock.set_nodelay(true)?;
    let deflate = DeflateConfig::default();
    let Some((leftover, compression)) = handshake(&mut sock, &deflate)? else {
        return Ok(());
    };
    let clock = StdClock::new();
    let mut config = Config::default();
    config.max_message_size(64 << 20);
    let mut conn = Connection::new(Role::Server, config, clock.now());
    if let Some(params) = compression {
        conn.enable_deflate(params, &deflate);
    }
    let mut buf = RecvBuf::with_capacity(64 * 1024);
    buf.extend_from_slice(&leftover);
    let mut messages = MessageAssembler::new();
    loop {
        while let Some(event) = conn.receive(clock.now(), &mut buf) {
            if let Some(message) = messages.push_event(&event) {
                // A closing connection refuses new data; nothing to echo then.
                let _ = match &message {
                    Message::Text(text) => conn.send_text(text),
                    Message::Binary(data) => conn.send_binary(data),
                };
            }
        }
        flush(&mut conn, &mut sock)?;
        while let Some(event) = conn.poll_event() {
            if let Lifecycle::Failed(err) = event {
                eprintln!("echo_server: peer error: {err}");
            }
        }
        if conn.is_closed() {
            return Ok(());
        }
        // Sleep in read() until data arrives or the next deadline passes.
        let timeout = conn.poll_timeout().map(|at| {
            clock
                .to_std(at)
                .saturating_duration_since(std::time::Instant::now())
        });
        sock.set_read_timeout(timeout.map(|t| t.max(Duration::from_millis(1))))?;
        match sock.read(buf.spare_mut()) {
            Ok(0) => conn.receive_eof(clock.now()),
            Ok(n) => buf.commit(n),
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                conn.handle_timeout(clock.now());
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

/// Writes everything the connection has to send.
fn flush(conn: &mut Connection, sock: &mut TcpStream) -> io::Result<()> {
    while let Some(transmit) = conn.poll_transmit() {
        match transmit {
            Transmit::Bytes(bytes) => {
                let n = sock.write(bytes)?;
                conn.consume_transmit(n);
            }
            Transmit::Shutdown => {
                // The peer may already be gone; that is fine here.
                let _ = sock.shutdown(Shutdown::Write);
            }
        }
    }
    Ok(())
}

/// What a successful handshake leaves: bytes that followed the request
/// (already frame data) and the negotiated compression, if any.
type Upgraded = (Vec<u8>, Option<DeflateParams>);

/// Runs the server side of the opening handshake; `None` if it was rejected.
fn handshake(sock: &mut TcpStream, deflate: &DeflateConfig) -> io::Result<Option<Upgraded>> {
    sock.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let limits = RequestLimits::default();
    let mut reader = HeadReader::new(&limits);
    let mut input = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_len = loop {
        let n = sock.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        input.extend_from_slice(&chunk[..n]);
        match reader.feed(&input) {
            Ok(Status::Complete(len)) => break len,
            Ok(Status::Partial) => {}
            Err(err) => {
                sock.write_all(&handshake::server::reject_error_vec(&err))?;
                return Ok(None);
            }
        }
    };
    let mut headers = [EMPTY_HEADER; 64];
    let mut compression = None;
    let response = match handshake::server::parse_request(&input[..head_len], &mut headers) {
        Ok(Status::Complete((request, _))) => {
            let negotiated = deflate.accept_offers(request.extensions());
            compression = negotiated.map(|(params, _)| params);
            let header = negotiated.map(|(_, header)| header);
            let options = AcceptOptions {
                extensions: header.as_ref().map(|h| h.as_str()),
                ..AcceptOptions::default()
            };
            handshake::server::accept_vec(&request, &options)
        }
        Ok(Status::Partial) => Err(ws_proto::HandshakeError::MalformedHttp),
        Err(err) => Err(err),
    };
    match response {
        Ok(bytes) => {
            sock.write_all(&bytes)?;
            Ok(Some((input.split_off(head_len), compression)))
        }
        Err(err) => {
            sock.write_all(&handshake::server::reject_error_vec(&err))?;
            Ok(None)
        }
    }
}
