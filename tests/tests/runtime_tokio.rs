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
