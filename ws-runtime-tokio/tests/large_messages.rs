//! Large messages leave the server from their own buffer (the core queues
//! only the frame header, `ws_proto::Connection::send_external`) and must
//! still arrive whole, in order, between small messages and control frames,
//! however the transport splits the writes.

use tokio::io::duplex;
use tokio::net::{TcpListener, TcpStream};
use ws_runtime_tokio::{ClientOptions, CloseCode, Message, accept, connect_with};

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

/// What the server sends: large and small, text and binary, back to back.
fn messages() -> Vec<Message> {
    vec![
        Message::binary(payload(300_000, 1)),
        Message::text("small"),
        Message::text("é".repeat(20_000)),
        Message::binary(payload(16 * 1024, 2)),
        Message::binary(payload(16 * 1024 - 1, 3)),
        Message::binary(payload(1_048_576, 4)),
        Message::text("last"),
    ]
}

/// The server feeds every message without flushing (so several queue up
/// behind one external payload), pings arrive meanwhile, then it closes.
async fn exchange<S>(server_io: S, client_io: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let server = tokio::spawn(async move {
        let mut ws = accept(server_io).await.expect("accept");
        for message in messages() {
            ws.feed(message).await.expect("feed");
        }
        ws.flush().await.expect("flush");
        // Answers the client's pings and its close.
        while let Some(item) = ws.recv().await {
            item.expect("server recv");
        }
    });
    let mut ws = connect_with(client_io, "ws://localhost/", &ClientOptions::new())
        .await
        .expect("connect");
    ws.send(Message::Ping(b"during".to_vec()))
        .await
        .expect("ping");
    let mut got = Vec::new();
    while got.len() < messages().len() {
        match ws.recv().await.expect("open").expect("message") {
            Message::Pong(p) => assert_eq!(p, b"during"),
            message => got.push(message),
        }
    }
    assert!(got == messages(), "messages differ");
    ws.close(CloseCode::NORMAL, "").await.expect("close");
    server.await.expect("server task");
}

#[tokio::test]
async fn large_messages_over_a_narrow_pipe() {
    // 4 KiB of pipe: every large write is partial.
    let (client_io, server_io) = duplex(4096);
    exchange(server_io, client_io).await;
}

#[tokio::test]
async fn large_messages_over_loopback_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (client_io, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (server_io, _) = accepted.expect("accept");
    exchange(server_io, client_io.expect("connect")).await;
}
