//! Not a WebSocket server: the floor under one, for the echo tests only.
//!
//! It answers the upgrade (any request with a `Sec-WebSocket-Key`), then,
//! like the raw TCP echo, reads what is there and writes once per read,
//! doing only what any server must do per frame and nothing else: parse
//! the client's header (masked, any length form, payload up to 64 KiB),
//! unmask, and write the server header and payload. No UTF-8
//! check, no control frames, no fragmentation, no limits, no close
//! handshake; anything else ends the connection. With the same load tool,
//! kernel and batching as the real servers, its rate is what a WebSocket
//! echo can reach on this machine, next to `raw-tcp`'s byte echo.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The largest payload handled (the 64 KiB echo test's).
const MAX_FRAME: usize = 64 * 1024;

/// Reads the request head and answers 101; `None` on anything unexpected.
async fn upgrade(stream: &mut TcpStream) -> Option<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() > 8192 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = std::str::from_utf8(&head).ok()?;
    let key = text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim())
    })?;
    let accept = ws_proto::handshake::accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        std::str::from_utf8(&accept).ok()?
    );
    stream.write_all(response.as_bytes()).await.ok()
}

/// Turns the whole client frames at the front of `input` into server
/// frames appended to `out`; returns how many input bytes it used, or
/// `None` for a frame this floor does not handle.
fn echo_frames(input: &mut [u8], out: &mut Vec<u8>) -> Option<usize> {
    let mut at = 0;
    loop {
        let rest = &mut input[at..];
        if rest.len() < 2 {
            return Some(at);
        }
        if rest[1] & 0x80 == 0 {
            return None;
        }
        let (len, head) = match rest[1] & 0x7f {
            126 if rest.len() >= 4 => (usize::from(u16::from_be_bytes([rest[2], rest[3]])), 4),
            127 if rest.len() >= 10 => {
                let mut len = [0u8; 8];
                len.copy_from_slice(&rest[2..10]);
                (usize::try_from(u64::from_be_bytes(len)).ok()?, 10)
            }
            126 | 127 => return Some(at),
            n => (usize::from(n), 2),
        };
        if len > MAX_FRAME {
            return None;
        }
        if rest.len() < head + 4 + len {
            return Some(at);
        }
        let key = [rest[head], rest[head + 1], rest[head + 2], rest[head + 3]];
        let payload = &mut rest[head + 4..head + 4 + len];
        ws_proto::mask::apply_mask(payload, ws_proto::MaskKey::new(key), 0);
        out.push(rest[0]);
        match head {
            10 => {
                out.push(127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
            4 => {
                out.push(126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => out.push(len as u8),
        }
        out.extend_from_slice(&rest[head + 4..head + 4 + len]);
        at += head + 4 + len;
    }
}

fn main() -> std::io::Result<()> {
    let addr = ws_bench::listen_addr("127.0.0.1:9108");
    ws_bench::current_thread().block_on(async move {
        let listener = TcpListener::bind(addr).await?;
        loop {
            let (mut stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(async move {
                if upgrade(&mut stream).await.is_none() {
                    return;
                }
                // Room for a whole 64 KiB frame and the reads around it.
                let mut buf = vec![0u8; 4 * MAX_FRAME];
                let mut filled = 0;
                let mut out = Vec::with_capacity(64 * 1024);
                loop {
                    match stream.read(&mut buf[filled..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => filled += n,
                    }
                    let Some(used) = echo_frames(&mut buf[..filled], &mut out) else {
                        return;
                    };
                    buf.copy_within(used..filled, 0);
                    filled -= used;
                    if stream.write_all(&out).await.is_err() {
                        return;
                    }
                    out.clear();
                }
            });
        }
    })
}
