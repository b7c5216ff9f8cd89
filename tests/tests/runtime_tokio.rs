//! ws-runtime-tokio's own entry points (`connect` by URL, `accept`,
//! `from_upgraded`) on loopback; the behavioural scenarios shared with the
//! futures-io adapter are in `runtime_shared.rs`.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use ws_runtime_tokio::{
    Accept, ClientOptions, CloseCode, Error, Message, Reject, Role, WebSocketConfig, accept,
    accept_with, connect, connect_with_options, from_upgraded,
};

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/path?q=1", listener.local_addr().unwrap());
    (listener, url)
}

#[tokio::test]
async fn connect_by_url_and_accept() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = accept_with(stream, |request| {
            assert_eq!((request.path(), request.query()), ("/path", Some("q=1")));
            Ok(Accept::new())
        })
        .await
        .unwrap();
        while let Some(message) = ws.recv().await {
            if let message @ Message::Text(_) = message.unwrap() {
                ws.send(message).await.unwrap();
            }
        }
    });
    let mut ws = connect(&url).await.unwrap();
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn rejected_upgrade_is_an_http_status() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        accept_with(stream, |_| Err(Reject::new(401).body("who are you")))
            .await
            .unwrap_err()
    });
    let err = connect(&url).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Handshake(ws_proto::HandshakeError::BadStatus(401))
        ),
        "{err}"
    );
    assert!(matches!(
        server.await.unwrap(),
        Error::Rejected { status: 401 }
    ));
}

#[tokio::test]
async fn plain_http_request_gets_400_style_answer() {
    let (listener, _) = listener().await;
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        accept(stream).await.unwrap_err()
    });
    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    client.read_to_end(&mut answer).await.unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 400 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(matches!(server.await.unwrap(), Error::Handshake(_)));
}

#[tokio::test]
async fn oversized_request_head_gets_431() {
    let (listener, _) = listener().await;
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        accept(stream).await.unwrap_err()
    });
    let mut client = TcpStream::connect(addr).await.unwrap();
    // 10 000 bytes and no end of head: over the 8192-byte limit. The server
    // reads it all (4 KiB at a time) before it answers, so closing its end
    // does not reset the connection under the answer.
    let mut head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Filler: ".to_vec();
    head.resize(10_000, b'y');
    client.write_all(&head).await.unwrap();
    let mut answer = Vec::new();
    let _ = client.read_to_end(&mut answer).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 431 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let err = server.await.unwrap();
    assert!(
        matches!(
            err,
            Error::Handshake(ws_proto::HandshakeError::HeadTooLarge)
        ),
        "{err}"
    );
}

#[tokio::test]
async fn urls_are_checked() {
    for url in ["http://127.0.0.1/", "ws://127.0.0.1/#x"] {
        assert!(
            matches!(connect(url).await, Err(Error::InvalidUrl(_))),
            "{url}"
        );
    }
    // Port 1 on loopback refuses the connection: an I/O error, not a hang.
    let err = connect_with_options("ws://127.0.0.1:1/", &ClientOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err}");
}

#[tokio::test(start_paused = true)]
async fn from_upgraded_over_duplex_with_paused_keepalive() {
    let (a, b) = tokio::io::duplex(1 << 16);
    let mut config = WebSocketConfig::default();
    config
        .protocol_mut()
        .keepalive_interval(Some(Duration::from_secs(30)));
    let mut client = from_upgraded(a, Role::Client, &config);
    let mut server = from_upgraded(b, Role::Server, &WebSocketConfig::default());
    let server = tokio::spawn(async move {
        let mut pings = 0;
        while let Some(message) = server.recv().await {
            if let Message::Ping(_) = message.unwrap() {
                pings += 1;
            }
        }
        pings
    });
    // Two minutes of virtual time: four keepalive Pings, each answered.
    let mut pongs = 0;
    while pongs < 4 {
        match client.recv().await.unwrap().unwrap() {
            Message::Pong(_) => pongs += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    client.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(server.await.unwrap(), 4);
}

/// A stream whose first read ends the input (`Ok(0)`, a FIN, or the given
/// error), which accepts every write, and counts `poll_shutdown` calls.
struct EndingStream {
    end: Option<std::io::ErrorKind>,
    shutdowns: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl tokio::io::AsyncRead for EndingStream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(match self.end {
            Some(kind) => Err(kind.into()),
            None => Ok(()),
        })
    }
}

impl tokio::io::AsyncWrite for EndingStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.shutdowns
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::task::Poll::Ready(Ok(()))
    }
}

/// How many times the connection shut its stream down after the input
/// ended with `end`.
async fn shutdowns_after(end: Option<std::io::ErrorKind>) -> usize {
    let shutdowns = std::sync::Arc::default();
    let stream = EndingStream {
        end,
        shutdowns: std::sync::Arc::clone(&shutdowns),
    };
    let mut ws = from_upgraded(stream, Role::Server, &WebSocketConfig::default());
    let mut items = 0;
    while ws.recv().await.is_some() {
        items += 1;
        assert!(items < 10, "the stream must end");
    }
    shutdowns.load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test]
async fn eof_is_answered_with_a_shutdown_but_a_reset_is_not() {
    // A FIN from the peer: ours goes out too (graceful TCP close).
    assert_eq!(shutdowns_after(None).await, 1);
    // A reset (or any transport error): no one to send a FIN to, no call.
    assert_eq!(
        shutdowns_after(Some(std::io::ErrorKind::ConnectionReset)).await,
        0
    );
}
