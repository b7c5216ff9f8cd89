//! Client-side pieces of the load tools, written independently of the
//! stack under test: raw client frames (any bits, any declared length), a
//! reader for server frames, the opening handshake, small HTTP exchanges
//! and `/proc` sampling of the server process.
//!
//! Everything here talks to loopback addresses only ([`loopback`]) and
//! bounds what it reads ([`Reader::new`] takes a message limit,
//! [`read_head`] a head limit).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Errors of the load tools are descriptions for the report.
pub type Res<T> = Result<T, String>;

/// The masking key of every client frame (fixed, non-zero).
pub const MASK_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Opcode: continuation frame.
pub const OP_CONT: u8 = 0x0;
/// Opcode: text frame.
pub const OP_TEXT: u8 = 0x1;
/// Opcode: binary frame.
pub const OP_BINARY: u8 = 0x2;
/// Opcode: close frame.
pub const OP_CLOSE: u8 = 0x8;
/// Opcode: ping frame.
pub const OP_PING: u8 = 0x9;
/// Opcode: pong frame.
pub const OP_PONG: u8 = 0xa;
/// The FIN bit of the first header byte.
pub const FIN: u8 = 0x80;

/// Parses `addr` and refuses anything but a loopback address.
pub fn loopback(addr: &str) -> Res<SocketAddr> {
    let parsed: SocketAddr = addr
        .parse()
        .map_err(|e| format!("bad address {addr:?}: {e}"))?;
    if !parsed.ip().is_loopback() {
        return Err(format!(
            "{addr} is not a loopback address (127.0.0.0/8 or ::1)"
        ));
    }
    Ok(parsed)
}

/// One client frame with first header byte `b0` (FIN, RSV bits, opcode as
/// given, valid or not), the payload masked with [`MASK_KEY`] when
/// `masked`, and the length field set to `declared` (default: the payload
/// length) whatever the payload really is.
pub fn raw_frame(b0: u8, payload: &[u8], masked: bool, declared: Option<u64>) -> Vec<u8> {
    let len = declared.unwrap_or(payload.len() as u64);
    let mut out = Vec::with_capacity(14 + payload.len());
    out.push(b0);
    let mask_bit = if masked { 0x80 } else { 0 };
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
        out.extend_from_slice(&MASK_KEY);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK_KEY[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// A well-formed masked client frame.
pub fn frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    raw_frame(opcode | if fin { FIN } else { 0 }, payload, true, None)
}

/// A masked close frame with `code` and `reason` (bytes, so that invalid
/// UTF-8 can be sent too).
pub fn close_frame(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    frame(OP_CLOSE, true, &payload)
}

/// A message (or control frame) from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// A whole text message (checked to be UTF-8).
    Text(String),
    /// A whole binary message.
    Binary(Vec<u8>),
    /// A ping and its payload.
    Ping(Vec<u8>),
    /// A pong and its payload.
    Pong(Vec<u8>),
    /// A close frame: its code (none for an empty payload) and reason.
    Close(Option<u16>, Vec<u8>),
}

/// Splits the bytes a server sends into messages, reassembling fragments
/// and checking what a client must check (no mask, no RSV bits, known
/// opcodes, control frames whole and short, UTF-8 text).
#[derive(Debug)]
pub struct Reader {
    buf: Vec<u8>,
    partial: Option<(u8, Vec<u8>)>,
    max_message: usize,
}

impl Reader {
    /// A reader that fails on any message over `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Self {
            buf: Vec::new(),
            partial: None,
            max_message,
        }
    }

    /// Adds received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// How many received bytes are not yet part of a returned message.
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.partial.as_ref().map_or(0, |(_, p)| p.len())
    }

    /// The next complete message, if the buffered bytes hold one.
    pub fn next_msg(&mut self) -> Res<Option<Msg>> {
        loop {
            let Some((fin, opcode, start, len)) = self.header()? else {
                return Ok(None);
            };
            if self.buf.len() - start < len {
                return Ok(None);
            }
            let payload: Vec<u8> = self.buf[start..start + len].to_vec();
            self.buf.drain(..start + len);
            match opcode {
                OP_PING => return Ok(Some(Msg::Ping(payload))),
                OP_PONG => return Ok(Some(Msg::Pong(payload))),
                OP_CLOSE => {
                    return match payload.len() {
                        0 => Ok(Some(Msg::Close(None, Vec::new()))),
                        1 => Err("server sent a close frame with a 1-byte payload".into()),
                        _ => Ok(Some(Msg::Close(
                            Some(u16::from_be_bytes([payload[0], payload[1]])),
                            payload[2..].to_vec(),
                        ))),
                    };
                }
                OP_TEXT | OP_BINARY => {
                    if self.partial.is_some() {
                        return Err("server started a message inside a fragmented one".into());
                    }
                    if fin {
                        return finish(opcode, payload).map(Some);
                    }
                    self.partial = Some((opcode, payload));
                }
                _ => {
                    let Some((first, mut data)) = self.partial.take() else {
                        return Err("server sent a continuation without a message".into());
                    };
                    if data.len() + payload.len() > self.max_message {
                        return Err(format!("server message over {} bytes", self.max_message));
                    }
                    data.extend_from_slice(&payload);
                    if fin {
                        return finish(first, data).map(Some);
                    }
                    self.partial = Some((first, data));
                }
            }
        }
    }

    /// Parses the header at the front: (fin, opcode, payload start, length).
    fn header(&self) -> Res<Option<(bool, u8, usize, usize)>> {
        let [b0, b1, rest @ ..] = self.buf.as_slice() else {
            return Ok(None);
        };
        if b0 & 0x70 != 0 {
            return Err(format!("server frame with RSV bits: {b0:#04x}"));
        }
        if b1 & 0x80 != 0 {
            return Err("server frame is masked".into());
        }
        let opcode = b0 & 0x0f;
        let fin = b0 & FIN != 0;
        let (len, at) = match b1 & 0x7f {
            126 => match rest {
                [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 4),
                _ => return Ok(None),
            },
            127 => match rest.get(..8) {
                Some(bytes) => {
                    let mut be = [0u8; 8];
                    be.copy_from_slice(bytes);
                    (u64::from_be_bytes(be), 10)
                }
                None => return Ok(None),
            },
            n => (u64::from(n), 2),
        };
        let control = opcode & 0x08 != 0;
        match opcode {
            OP_CONT | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG => {}
            other => return Err(format!("server frame with reserved opcode {other:#x}")),
        }
        if control && (!fin || len > 125) {
            return Err("server control frame fragmented or over 125 bytes".into());
        }
        if len > self.max_message as u64 {
            return Err(format!("server frame of {len} bytes"));
        }
        Ok(Some((fin, opcode, at, len as usize)))
    }
}

fn finish(opcode: u8, payload: Vec<u8>) -> Res<Msg> {
    if opcode == OP_TEXT {
        String::from_utf8(payload)
            .map(Msg::Text)
            .map_err(|_| "server text message is not UTF-8".into())
    } else {
        Ok(Msg::Binary(payload))
    }
}

/// Reads until `reader` has a message; `Ok(None)` on end of stream. Cancel
/// safe: received bytes go into `reader` before any other await point.
pub async fn read_msg<R: AsyncRead + Unpin>(
    stream: &mut R,
    reader: &mut Reader,
    chunk: &mut [u8],
) -> Res<Option<Msg>> {
    loop {
        if let Some(msg) = reader.next_msg()? {
            return Ok(Some(msg));
        }
        let n = stream.read(chunk).await.map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Ok(None);
        }
        reader.push(&chunk[..n]);
    }
}

/// An upgrade request for `path`, with `extra` header lines (each ending
/// in `\r\n`) before the blank line.
pub fn upgrade_request(addr: SocketAddr, path: &str, extra: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    .into_bytes()
}

/// Reads an HTTP response head (through the blank line) of at most
/// `max_len` bytes; returns it and whatever came after it. `Ok(None)` if
/// the connection ended first.
pub async fn read_head<R: AsyncRead + Unpin>(
    stream: &mut R,
    max_len: usize,
) -> Res<Option<(Vec<u8>, Vec<u8>)>> {
    let mut head = Vec::with_capacity(256);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = head.split_off(end + 4);
            return Ok(Some((head, rest)));
        }
        if head.len() > max_len {
            return Err("response head too long".into());
        }
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&chunk[..n]);
    }
}

/// The status code of a response head.
pub fn status_of(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\r').next()?;
    let text = std::str::from_utf8(line).ok()?;
    let mut parts = text.split(' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// Connects to `addr`, upgrades on `path` (101 checked), and returns the
/// stream with a [`Reader`] that already holds any frames that came with
/// the response head.
pub async fn connect_ws(
    addr: SocketAddr,
    path: &str,
    max_message: usize,
) -> Res<(TcpStream, Reader)> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    upgrade(stream, addr, path, max_message).await
}

/// Performs the opening handshake on a connected stream.
pub async fn upgrade(
    mut stream: TcpStream,
    addr: SocketAddr,
    path: &str,
    max_message: usize,
) -> Res<(TcpStream, Reader)> {
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .write_all(&upgrade_request(addr, path, ""))
        .await
        .map_err(|e| format!("handshake write: {e}"))?;
    let Some((head, rest)) = read_head(&mut stream, 8192).await? else {
        return Err("connection closed during the handshake".into());
    };
    match status_of(&head) {
        Some(101) => {}
        Some(status) => return Err(format!("upgrade refused with HTTP {status}")),
        None => return Err("malformed response head".into()),
    }
    let mut reader = Reader::new(max_message);
    reader.push(&rest);
    Ok((stream, reader))
}

/// A whole HTTP/1.1 `GET` with `Connection: close`: status and body text,
/// within `limit`.
pub async fn http_get(addr: SocketAddr, path: &str, limit: Duration) -> Res<(u16, String)> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut response = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 || response.len() > 4 << 20 {
                break;
            }
            response.extend_from_slice(&chunk[..n]);
            if complete_response(&response) {
                break;
            }
        }
        let status = status_of(&response).ok_or("malformed HTTP response")?;
        let body = match response.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(end) => String::from_utf8_lossy(&response[end + 4..]).into_owned(),
            None => String::new(),
        };
        Ok((status, body))
    };
    tokio::time::timeout(limit, exchange)
        .await
        .map_err(|_| format!("GET {path} took longer than {limit:?}"))?
}

/// Whether `response` holds a whole head and a `Content-Length` body.
fn complete_response(response: &[u8]) -> bool {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    length.is_some_and(|len| response.len() >= end + 4 + len)
}

/// VmRSS of process `pid` (a number, or `"self"`), in KiB.
pub fn rss_kib(pid: impl std::fmt::Display) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// How many file descriptors process `pid` has open.
pub fn fd_count(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// utime + stime of process `pid` (a number, or `"self"`), in seconds.
pub fn cpu_seconds(pid: impl std::fmt::Display) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on Linux for every architecture this runs on.
    Some((utime + stime) / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_through_the_reader_unmasked() {
        // A server frame is a client frame without the mask.
        let mut reader = Reader::new(1 << 20);
        reader.push(&raw_frame(OP_TEXT, b"Hel", false, None));
        reader.push(&raw_frame(FIN | OP_PING, b"p", false, None));
        reader.push(&raw_frame(FIN, b"lo", false, None));
        reader.push(&raw_frame(FIN | OP_CLOSE, &[0x03, 0xe8, b'x'], false, None));
        assert_eq!(reader.next_msg(), Ok(Some(Msg::Ping(b"p".to_vec()))));
        assert_eq!(reader.next_msg(), Ok(Some(Msg::Text("Hello".into()))));
        assert_eq!(
            reader.next_msg(),
            Ok(Some(Msg::Close(Some(1000), b"x".to_vec())))
        );
        assert_eq!(reader.next_msg(), Ok(None));
    }

    #[test]
    fn masked_frame_matches_rfc_vector() {
        // RFC 6455 §5.7, with our key.
        let f = frame(OP_TEXT, true, b"Hello");
        assert_eq!(&f[..6], &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(&f[6..], &[0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    fn declared_lengths() {
        let f = raw_frame(FIN | OP_BINARY, &[], true, Some(1 << 62));
        assert_eq!(f[1], 0x80 | 127);
        assert_eq!(&f[2..10], &(1u64 << 62).to_be_bytes());
        assert_eq!(status_of(b"HTTP/1.1 431 Too Large\r\n"), Some(431));
        assert!(loopback("10.0.0.1:80").is_err());
        assert!(loopback("127.0.0.1:80").is_ok());
    }
}
