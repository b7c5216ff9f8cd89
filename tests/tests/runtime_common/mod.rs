//! The shared behavioural suite of the runtime adapters: every scenario is
//! written once, generic over [`TestRuntime`], and `runtime_shared.rs`
//! instantiates it on tokio, on async-std and on smol.
//!
//! The interop peer is tokio-tungstenite. On tokio it runs in the test's own
//! runtime (so a paused clock covers both ends); on async-std and smol it
//! runs on a thread with its own tokio runtime.
//!
//! Rules: loopback only (connected `std::net` pairs on 127.0.0.1), every
//! loop bounded, every scenario under a [`TestRuntime::guard`] timeout, no
//! assertion on elapsed time. Timer scenarios take their durations from
//! [`TestRuntime::unit`]: virtual seconds on tokio's paused clock, tens of
//! milliseconds of real time elsewhere (and only deadlines that are
//! *expected* to fire are short; deadlines that must not fire get 100× or more).

#![allow(dead_code)]

use std::future::Future;
use std::net::{TcpListener, TcpStream};
use std::pin::Pin;
use std::time::Duration;

use futures_util::future::{Either, FutureExt, select};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{self, protocol::frame::coding as tt_coding};
use ws_proto::Role;
use ws_runtime::{
    Accept, ClientOptions, CloseCode, CloseFrame, DataKind, Error, Message, Reject, Runtime,
    Transport, WebSocket, WebSocketConfig,
};

/// A boxed `Send` future.
pub(crate) type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The WebSocket type a test runtime produces.
pub(crate) type Ws<R> = WebSocket<<R as TestRuntime>::Io, <R as TestRuntime>::Rt>;

/// One executor and its adapter, as the scenarios see them.
pub(crate) trait TestRuntime: 'static {
    /// The adapter's transport over a TCP stream.
    type Io: Transport;
    /// The adapter's runtime.
    type Rt: Runtime;

    /// Runs a scenario to completion. `paused`: use a virtual clock where
    /// the runtime has one (tokio).
    fn block_on<F: Future>(paused: bool, future: F) -> F::Output;
    /// Spawns a task on the test's executor.
    fn spawn<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> BoxFut<T>;
    /// Runs a tokio-tungstenite peer (a future that needs a tokio context).
    fn spawn_peer<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static)
    -> BoxFut<T>;
    /// Sleeps on the runtime's clock.
    fn sleep(duration: Duration) -> BoxFut<()>;
    /// The time unit of timer scenarios.
    fn unit() -> Duration;
    /// Wraps a connected loopback socket.
    fn wrap(stream: TcpStream) -> Self::Io;
    /// The adapter's runtime value.
    fn runtime() -> Self::Rt;

    /// Fails the test if `future` takes longer than `units` × [`unit`](Self::unit).
    fn guard<T>(units: u32, future: impl Future<Output = T>) -> impl Future<Output = T> {
        async move {
            let future = std::pin::pin!(future);
            match select(future, Self::sleep(Self::unit() * units)).await {
                Either::Left((value, _)) => value,
                Either::Right(_) => panic!("scenario step did not finish within {units} units"),
            }
        }
    }
}

/// A connected pair of loopback sockets: (client end, server end).
pub(crate) fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let client = TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    client.set_nonblocking(true).unwrap();
    server.set_nonblocking(true).unwrap();
    (client, server)
}

/// Like [`tcp_pair`], with socket buffers shrunk to 32 KiB, so that a
/// writer has to wait for a slow reader almost at once.
pub(crate) fn tcp_pair_small_buffers() -> (TcpStream, TcpStream) {
    let (client, server) = tcp_pair();
    for stream in [&client, &server] {
        let socket = socket2::SockRef::from(stream);
        socket.set_send_buffer_size(32 * 1024).unwrap();
        socket.set_recv_buffer_size(32 * 1024).unwrap();
    }
    (client, server)
}

fn tokio_stream(stream: TcpStream) -> tokio::net::TcpStream {
    tokio::net::TcpStream::from_std(stream).expect("register with tokio")
}

const URL: &str = "ws://127.0.0.1/test";

async fn our_client<R: TestRuntime>(stream: TcpStream, options: &ClientOptions) -> Ws<R> {
    ws_runtime::connect_with(R::wrap(stream), R::runtime(), URL, options)
        .await
        .expect("our client handshake")
}

async fn our_server<R: TestRuntime>(stream: TcpStream, config: &WebSocketConfig) -> Ws<R> {
    ws_runtime::accept(R::wrap(stream), R::runtime(), config)
        .await
        .expect("our server handshake")
}

/// Bytes with a recognisable pattern.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

const BIG: usize = 16 << 20;

// ------------------------------------------------------------ tungstenite peers

type TtWs = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A tokio-tungstenite echo server; returns the Close frame it received.
async fn tt_echo_server(stream: TcpStream) -> Option<(u16, String)> {
    let mut ws = tokio_tungstenite::accept_async(tokio_stream(stream))
        .await
        .expect("tungstenite accept");
    tt_echo(&mut ws).await
}

async fn tt_echo(ws: &mut TtWs) -> Option<(u16, String)> {
    let mut close = None;
    while let Some(message) = ws.next().await {
        match message {
            Ok(m @ (tungstenite::Message::Text(_) | tungstenite::Message::Binary(_))) => {
                if ws.send(m).await.is_err() {
                    break;
                }
            }
            Ok(tungstenite::Message::Close(frame)) => {
                close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    close
}

/// A tokio-tungstenite server that completes the handshake, then neither
/// reads nor writes until `done` fires.
async fn tt_silent_server(stream: TcpStream, done: futures_channel::oneshot::Receiver<()>) {
    let ws = tokio_tungstenite::accept_async(tokio_stream(stream))
        .await
        .expect("tungstenite accept");
    let _ = done.await;
    drop(ws);
}

async fn tt_next(ws: &mut TtWs) -> tungstenite::Message {
    ws.next()
        .await
        .expect("stream ended")
        .expect("tungstenite error")
}

fn tt_close(code: u16, reason: &str) -> tungstenite::Message {
    tungstenite::Message::Close(Some(tungstenite::protocol::CloseFrame {
        code: code.into(),
        reason: reason.into(),
    }))
}

// ------------------------------------------------------------ interop

/// Our client against a tokio-tungstenite server: text, binary, fragmented
/// and 16 MiB messages, ping/pong, a close code both ways.
pub(crate) async fn client_interop<R: TestRuntime>() {
    let (c, s) = tcp_pair();
    let peer = R::spawn_peer(tt_echo_server(s));
    let mut ws = our_client::<R>(c, &ClientOptions::new()).await;
    R::guard(600, async {
        ws.send(Message::text("héllo")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("héllo"));
        ws.send(Message::binary(vec![0, 1, 255])).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::binary(vec![0, 1, 255])
        );
        // Fragmented (RFC 6455 §5.4), with a Ping between the fragments.
        ws.send_fragment(DataKind::Text, "frag", false)
            .await
            .unwrap();
        ws.send(Message::Ping(b"mid".to_vec())).await.unwrap();
        ws.send_fragment(DataKind::Text, "men", false)
            .await
            .unwrap();
        ws.send_fragment(DataKind::Text, "ted", true).await.unwrap();
        ws.flush().await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Pong(b"mid".to_vec())
        );
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::text("fragmented")
        );
        // 16 MiB, binary and text.
        let big = pattern(BIG);
        ws.send(Message::Binary(big.clone())).await.unwrap();
        // Written out: the send buffer gave the 16 MiB back.
        let capacity = ws.protocol().send_storage().capacity();
        assert!(capacity <= ws_runtime::SendBuffer::KEEP, "{capacity}");
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::Binary(big));
        let text = "0123456789abcdef".repeat(BIG / 16);
        ws.send(Message::Text(text.clone())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::Text(text));
        // Close with an application code; tungstenite echoes it.
        ws.close(CloseCode::new(4000), "bye").await.unwrap();
    })
    .await;
    assert!(ws.recv().await.is_none());
    assert_eq!(ws.peer_close_frame().map(|f| f.code.as_u16()), Some(4000));
    assert_eq!(peer.await, Some((4000, "bye".to_owned())));
}

/// A tokio-tungstenite client against our echo server.
pub(crate) async fn server_interop<R: TestRuntime>() {
    let (c, s) = tcp_pair();
    let peer = R::spawn_peer(async move {
        let (mut ws, _) = tokio_tungstenite::client_async(URL, tokio_stream(c))
            .await
            .expect("tungstenite connect");
        ws.send(tungstenite::Message::text("héllo")).await.unwrap();
        assert_eq!(tt_next(&mut ws).await, tungstenite::Message::text("héllo"));
        ws.send(tungstenite::Message::binary(vec![9u8; 10]))
            .await
            .unwrap();
        assert_eq!(
            tt_next(&mut ws).await,
            tungstenite::Message::binary(vec![9u8; 10])
        );
        // Fragmented, raw frames.
        use tt_coding::{Data, OpCode};
        use tungstenite::protocol::frame::Frame;
        for (data, opcode, fin) in [
            (&b"frag"[..], OpCode::Data(Data::Binary), false),
            (b"men", OpCode::Data(Data::Continue), false),
            (b"ted", OpCode::Data(Data::Continue), true),
        ] {
            ws.send(tungstenite::Message::Frame(Frame::message(
                data.to_vec(),
                opcode,
                fin,
            )))
            .await
            .unwrap();
        }
        assert_eq!(
            tt_next(&mut ws).await,
            tungstenite::Message::binary(b"fragmented".to_vec())
        );
        ws.send(tungstenite::Message::Ping(b"p".to_vec().into()))
            .await
            .unwrap();
        assert_eq!(
            tt_next(&mut ws).await,
            tungstenite::Message::Pong(b"p".to_vec().into())
        );
        let big = pattern(BIG);
        ws.send(tungstenite::Message::binary(big.clone()))
            .await
            .unwrap();
        assert_eq!(tt_next(&mut ws).await, tungstenite::Message::binary(big));
        ws.send(tt_close(4001, "done")).await.unwrap();
        // Our server echoes the code and closes the TCP connection.
        let echoed = match tt_next(&mut ws).await {
            tungstenite::Message::Close(Some(f)) => u16::from(f.code),
            other => panic!("expected the Close echo, got {other:?}"),
        };
        assert!(ws.next().await.is_none());
        echoed
    });
    let mut ws = our_server::<R>(s, &WebSocketConfig::default()).await;
    let mut seen = Vec::new();
    let close = R::guard(600, async {
        loop {
            match ws.recv().await {
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                    seen.push(m.len());
                    ws.send(m).await.unwrap();
                }
                Some(Ok(Message::Close(frame))) => break frame,
                Some(Ok(_)) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await;
    assert_eq!(close, Some(CloseFrame::new(CloseCode::new(4001), "done")));
    assert!(ws.recv().await.is_none(), "clean close ends with None");
    assert_eq!(seen, [6, 10, 10, BIG]);
    // See `from_upgraded`: some streams send the FIN only on drop.
    drop(ws);
    assert_eq!(peer.await, 4001);
}

/// `recv_with`: the borrowed receive loop serves tungstenite's client the
/// same items as `recv` (text, binary, fragments joined, a Ping, a 16 MiB
/// message, the Close), echoing with `replies.send(message)`, and ends
/// with `None` after the clean close.
pub(crate) async fn recv_with_interop<R: TestRuntime>() {
    let (c, s) = tcp_pair();
    let peer = R::spawn_peer(async move {
        let (mut ws, _) = tokio_tungstenite::client_async(URL, tokio_stream(c))
            .await
            .expect("tungstenite connect");
        ws.send(tungstenite::Message::text("héllo")).await.unwrap();
        assert_eq!(tt_next(&mut ws).await, tungstenite::Message::text("héllo"));
        use tt_coding::{Data, OpCode};
        use tungstenite::protocol::frame::Frame;
        for (data, opcode, fin) in [
            ("κό".as_bytes(), OpCode::Data(Data::Text), false),
            (&"σμε".as_bytes()[..1], OpCode::Data(Data::Continue), false),
            (&"σμε".as_bytes()[1..], OpCode::Data(Data::Continue), true),
        ] {
            ws.send(tungstenite::Message::Frame(Frame::message(
                data.to_vec(),
                opcode,
                fin,
            )))
            .await
            .unwrap();
        }
        assert_eq!(tt_next(&mut ws).await, tungstenite::Message::text("κόσμε"));
        ws.send(tungstenite::Message::Ping(b"p".to_vec().into()))
            .await
            .unwrap();
        assert_eq!(
            tt_next(&mut ws).await,
            tungstenite::Message::Pong(b"p".to_vec().into())
        );
        // Many small messages in one burst, then a big one.
        for i in 0..100u8 {
            ws.feed(tungstenite::Message::binary(vec![i; 3]))
                .await
                .unwrap();
        }
        ws.flush().await.unwrap();
        for i in 0..100u8 {
            assert_eq!(
                tt_next(&mut ws).await,
                tungstenite::Message::binary(vec![i; 3])
            );
        }
        let big = pattern(BIG);
        ws.send(tungstenite::Message::binary(big.clone()))
            .await
            .unwrap();
        assert_eq!(tt_next(&mut ws).await, tungstenite::Message::binary(big));
        ws.send(tt_close(4001, "done")).await.unwrap();
        match tt_next(&mut ws).await {
            tungstenite::Message::Close(Some(f)) => assert_eq!(u16::from(f.code), 4001),
            other => panic!("expected the Close echo, got {other:?}"),
        }
        assert!(ws.next().await.is_none());
    });
    let mut ws = our_server::<R>(s, &WebSocketConfig::default()).await;
    let mut seen: Vec<(char, usize)> = Vec::new();
    let mut close = None;
    let end = R::guard(600, async {
        loop {
            let handled = ws
                .recv_with(|message, replies| {
                    let tag = match message {
                        ws_runtime::MessageRef::Text(_) => 't',
                        ws_runtime::MessageRef::Binary(_) => 'b',
                        ws_runtime::MessageRef::Ping(_) => 'p',
                        ws_runtime::MessageRef::Pong(_) => 'o',
                        ws_runtime::MessageRef::Close(frame) => {
                            close = Some(message.to_owned());
                            assert_eq!(frame.map(|f| f.reason), Some("done"));
                            'c'
                        }
                    };
                    seen.push((tag, message.as_bytes().len()));
                    if message.is_data() {
                        replies.send(message).unwrap();
                    }
                })
                .await;
            match handled {
                Some(Ok(n)) => assert!(n >= 1),
                other => break other.map(|r| r.map(|_| ())),
            }
        }
    })
    .await;
    assert!(end.is_none(), "clean close ends with None: {end:?}");
    let mut expected = vec![('t', 6), ('t', 10), ('p', 1)];
    expected.extend((0..100).map(|_| ('b', 3)));
    expected.extend([('b', BIG), ('c', 4)]);
    assert_eq!(seen, expected);
    assert_eq!(
        close,
        Some(Message::Close(Some(CloseFrame::new(
            CloseCode::new(4001),
            "done"
        ))))
    );
    drop(ws);
    peer.await;
}

/// `recv_with` backpressure: each message is answered with four 16 KiB
/// replies while the peer does not read. Replies are never refused; past
/// the send-buffer watermark they are held and no further message is
/// read, so what is buffered stays within the watermark plus one
/// message's replies; once the peer reads, every reply arrives, in order.
pub(crate) async fn recv_with_backpressure<R: TestRuntime>() {
    const WATERMARK: usize = 64 * 1024;
    const REPLY: usize = 16 * 1024;
    const MESSAGES: u32 = 200;
    let (c, s) = tcp_pair_small_buffers();
    let (reading_tx, reading_rx) = futures_channel::oneshot::channel::<()>();
    let peer = R::spawn_peer(async move {
        let (ws, _) = tokio_tungstenite::client_async(URL, tokio_stream(c))
            .await
            .expect("tungstenite connect");
        let (mut sink, mut stream) = ws.split();
        let writer = async move {
            for i in 0..MESSAGES {
                sink.send(tungstenite::Message::binary(i.to_be_bytes().to_vec()))
                    .await
                    .unwrap();
            }
            sink
        };
        let reader = async move {
            // Read nothing until the server has had to hold replies back.
            let _ = reading_rx.await;
            let mut got = 0u32;
            while got < MESSAGES * 4 {
                match stream.next().await {
                    Some(Ok(tungstenite::Message::Binary(data))) => {
                        assert_eq!(data.len(), REPLY);
                        let id = u32::from_be_bytes(data[..4].try_into().unwrap());
                        assert_eq!(id, got, "replies out of order");
                        got += 1;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            stream
        };
        let (sink, stream) = futures_util::join!(writer, reader);
        let mut ws = sink.reunite(stream).unwrap();
        ws.send(tt_close(1000, "")).await.unwrap();
        while ws.next().await.is_some() {}
    });
    let mut config = WebSocketConfig::default();
    config.protocol_mut().send_buffer_watermark(WATERMARK);
    let mut ws = our_server::<R>(s, &config).await;
    let mut handled = 0u32;
    let mut max_buffered = 0;
    let mut held_back = false;
    let mut reading_tx = Some(reading_tx);
    R::guard(600, async {
        while handled < MESSAGES {
            let step = ws.recv_with(|message, replies| {
                let id = u32::from_be_bytes(message.as_bytes().try_into().unwrap());
                for copy in 0..4u32 {
                    let mut reply = vec![0u8; REPLY];
                    reply[..4].copy_from_slice(&(id * 4 + copy).to_be_bytes());
                    replies.send_binary(&reply).unwrap();
                }
                max_buffered = max_buffered.max(replies.buffered_amount());
                handled += 1;
            });
            // Not ready at once: the held replies wait for the peer.
            match step.now_or_never() {
                Some(Some(Ok(_))) => {}
                Some(other) => panic!("unexpected {other:?}"),
                None => {
                    held_back = true;
                    if let Some(tx) = reading_tx.take() {
                        let _ = tx.send(());
                    }
                    R::sleep(R::unit() / 10).await;
                }
            }
        }
    })
    .await;
    assert!(held_back, "the replies never had to wait");
    assert!(
        max_buffered <= WATERMARK + 4 * (REPLY + 14),
        "buffered {max_buffered} bytes"
    );
    let end = R::guard(600, async {
        loop {
            match ws.recv_with(|_, _| {}).await {
                Some(Ok(_)) => {}
                other => break other,
            }
        }
    })
    .await;
    assert!(end.is_none(), "{end:?}");
    drop(ws);
    peer.await;
}

/// Our server starts the close with 1008; tungstenite's client sees the
/// code and reason and the handshake completes cleanly.
pub(crate) async fn server_close_code<R: TestRuntime>() {
    let (c, s) = tcp_pair();
    let peer = R::spawn_peer(async move {
        let (mut ws, _) = tokio_tungstenite::client_async(URL, tokio_stream(c))
            .await
            .unwrap();
        tt_echo(&mut ws).await
    });
    let mut ws = our_server::<R>(s, &WebSocketConfig::default()).await;
    R::guard(100, ws.close(CloseCode::POLICY_VIOLATION, "policy"))
        .await
        .expect("clean close");
    assert!(ws.recv().await.is_none());
    drop(ws);
    assert_eq!(peer.await, Some((1008, "policy".to_owned())));
}

/// The accept callback sees path, query, origin and subprotocols; it can
/// pick a subprotocol and add headers, or reject before any 101.
pub(crate) async fn accept_callback<R: TestRuntime>() {
    use tungstenite::client::IntoClientRequest;
    for (path, expect_ok) in [("/chat?room=1", true), ("/forbidden", false)] {
        let (c, s) = tcp_pair();
        let url = format!("ws://127.0.0.1{path}");
        let peer = R::spawn_peer(async move {
            let mut request = url.into_client_request().unwrap();
            let headers = request.headers_mut();
            headers.insert(
                "Sec-WebSocket-Protocol",
                "chat.v2, chat.v1".parse().unwrap(),
            );
            headers.insert("Origin", "http://example.com".parse().unwrap());
            match tokio_tungstenite::client_async(request, tokio_stream(c)).await {
                Ok((ws, response)) => {
                    drop(ws);
                    Ok((
                        response.headers()["sec-websocket-protocol"]
                            .to_str()
                            .unwrap()
                            .to_owned(),
                        response.headers()["x-room"].to_str().unwrap().to_owned(),
                    ))
                }
                Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
                Err(other) => panic!("unexpected {other}"),
            }
        });
        let result = ws_runtime::accept_with(
            R::wrap(s),
            R::runtime(),
            &WebSocketConfig::default(),
            |request| {
                assert_eq!(request.origin(), Some(&b"http://example.com"[..]));
                if request.path() != "/chat" {
                    return Err(Reject::new(403).header("X-Why", "no").body("forbidden"));
                }
                let room = request
                    .query()
                    .unwrap()
                    .trim_start_matches("room=")
                    .to_owned();
                let chosen = request.subprotocols().find(|p| *p == "chat.v1").unwrap();
                Ok(Accept::new().subprotocol(chosen).header("X-Room", room))
            },
        )
        .await;
        if expect_ok {
            let ws = result.expect("accepted");
            assert_eq!(ws.subprotocol(), Some("chat.v1"));
            assert_eq!(peer.await, Ok(("chat.v1".to_owned(), "1".to_owned())));
        } else {
            assert!(matches!(result, Err(Error::Rejected { status: 403 })));
            assert_eq!(peer.await, Err(403));
        }
    }
}

/// Our client offers subprotocols and extra headers; the tungstenite
/// server checks them and picks one.
#[allow(clippy::result_large_err)] // tungstenite's callback signature
pub(crate) async fn client_subprotocols<R: TestRuntime>() {
    use tungstenite::handshake::server::{Request, Response};
    let (c, s) = tcp_pair();
    let peer = R::spawn_peer(async move {
        let callback = |request: &Request, mut response: Response| {
            assert_eq!(request.headers()["x-token"], "secret");
            assert_eq!(request.headers()["sec-websocket-protocol"], "a, b");
            response
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", "b".parse().unwrap());
            Ok(response)
        };
        let mut ws = tokio_tungstenite::accept_hdr_async(tokio_stream(s), callback)
            .await
            .unwrap();
        tt_echo(&mut ws).await
    });
    let options = ClientOptions::new()
        .subprotocol("a")
        .subprotocol("b")
        .header("X-Token", "secret");
    let mut ws = our_client::<R>(c, &options).await;
    assert_eq!(ws.subprotocol(), Some("b"));
    R::guard(100, ws.close(CloseCode::NORMAL, ""))
        .await
        .unwrap();
    assert_eq!(peer.await, Some((1000, String::new())));
}

/// The `futures` `Stream` and `Sink` implementations: items fed without a
/// flush still go out before the Close frame that `SinkExt::close` sends.
pub(crate) async fn stream_and_sink<R: TestRuntime>() {
    let (c, s) = tcp_pair();
    let peer = R::spawn_peer(async move {
        let mut ws = tokio_tungstenite::accept_async(tokio_stream(s))
            .await
            .unwrap();
        let mut texts = Vec::new();
        while let Some(message) = ws.next().await {
            match message.unwrap() {
                tungstenite::Message::Text(text) => texts.push(text.to_string()),
                tungstenite::Message::Close(frame) => {
                    texts.push(format!("close {:?}", frame.map(|f| u16::from(f.code))));
                }
                _ => {}
            }
        }
        texts
    });
    let mut ws = our_client::<R>(c, &ClientOptions::new()).await;
    R::guard(100, async {
        for i in 0..3 {
            ws.feed(Message::Text(format!("fed {i}"))).await.unwrap();
        }
        SinkExt::feed(&mut ws, Message::text("sink")).await.unwrap();
        SinkExt::close(&mut ws).await.unwrap();
    })
    .await;
    assert!(
        ws.next().await.is_none(),
        "the stream ends after a clean close"
    );
    let err = ws.send(Message::text("late")).await.unwrap_err();
    assert!(err.is_clean_close() && !err.is_remote(), "{err}");
    assert_eq!(
        peer.await,
        ["fed 0", "fed 1", "fed 2", "sink", "close Some(1000)"]
    );
}

/// Broadcast: one `PreparedFrame` behind an `Arc`, sent by three server
/// connections (unsplit and split); a client cannot send one.
pub(crate) async fn broadcast_prepared<R: TestRuntime>() {
    let frame = std::sync::Arc::new(ws_proto::PreparedFrame::text("to everyone"));
    let mut peers = Vec::new();
    let mut unsplit = Vec::new();
    let mut halves = Vec::new();
    for i in 0..3 {
        let (c, s) = tcp_pair();
        peers.push(R::spawn_peer(async move {
            let (mut ws, _) = tokio_tungstenite::client_async(URL, tokio_stream(c))
                .await
                .unwrap();
            let got = ws.next().await.unwrap().unwrap();
            ws.close(None).await.unwrap();
            while ws.next().await.is_some() {}
            got
        }));
        let ws = our_server::<R>(s, &WebSocketConfig::default()).await;
        if i == 0 {
            unsplit.push(ws);
        } else {
            halves.push(ws.split());
        }
    }
    R::guard(100, async {
        for ws in &mut unsplit {
            ws.feed_prepared(frame.clone()).await.unwrap();
            ws.flush().await.unwrap();
            assert!(matches!(ws.recv().await, Some(Ok(Message::Close(_)))));
            assert!(ws.recv().await.is_none());
        }
        for (read, write) in &mut halves {
            write.send_prepared(frame.clone()).await.unwrap();
            assert!(matches!(read.recv().await, Some(Ok(Message::Close(_)))));
            assert!(read.recv().await.is_none());
        }
    })
    .await;
    drop((unsplit, halves));
    for peer in peers {
        assert_eq!(peer.await, tungstenite::Message::text("to everyone"));
    }
    // Clients mask every frame: a prepared (unmasked) frame is refused.
    let (c, s) = tcp_pair();
    let peer = R::spawn_peer(tt_echo_server(s));
    let mut ws = our_client::<R>(c, &ClientOptions::new()).await;
    let err = ws.feed_prepared(frame.clone()).await.unwrap_err();
    assert!(matches!(err, Error::Send(_)), "{err}");
    let (_read, mut write) = ws.split();
    let err = write.send_prepared(frame).await.unwrap_err();
    assert!(matches!(err, Error::Send(_)), "{err}");
    write.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(R::guard(100, peer).await, Some((1000, String::new())));
}

// ------------------------------------------------------------ split

/// The halves in two tasks: one writes 200 messages and closes, the other
/// reads the 200 echoes and then the clean end.
pub(crate) async fn split_two_tasks<R: TestRuntime>() {
    const N: usize = 200;
    let (c, s) = tcp_pair();
    let peer = R::spawn_peer(tt_echo_server(s));
    let ws = our_client::<R>(c, &ClientOptions::new()).await;
    let (mut read, mut write) = ws.split();
    let writer = R::spawn(async move {
        for i in 0..N {
            write
                .send(Message::Text(format!("message {i}")))
                .await
                .unwrap();
        }
        write.send(Message::Binary(pattern(100_000))).await.unwrap();
        write
    });
    let reader = R::spawn(async move {
        let mut got = Vec::new();
        while let Some(message) = read.recv().await {
            got.push(message.expect("no error before the clean end"));
            if got.len() == N + 1 {
                break;
            }
        }
        (read, got)
    });
    let (mut read, got) = R::guard(300, reader).await;
    let mut write = writer.await;
    for (i, message) in got[..N].iter().enumerate() {
        assert_eq!(message, &Message::Text(format!("message {i}")));
    }
    assert_eq!(got[N], Message::Binary(pattern(100_000)));
    write.close(CloseCode::NORMAL, "done").await.unwrap();
    let end = R::guard(100, read.recv()).await;
    assert!(matches!(end, Some(Ok(Message::Close(Some(_))))), "{end:?}");
    assert!(R::guard(100, read.recv()).await.is_none(), "clean close");
    assert!(!write.is_open());
    let err = write.send(Message::text("late")).await.unwrap_err();
    assert!(err.is_clean_close(), "{err}");
    assert_eq!(peer.await, Some((1000, "done".to_owned())));
}

/// Only the reader half is polled: the automatic Pong and the Close echo
/// still go out (the driver task answers them).
pub(crate) async fn split_auto_replies_reader_only<R: TestRuntime>() {
    let (c, s) = tcp_pair();
    let peer = R::spawn_peer(async move {
        let mut ws = tokio_tungstenite::accept_async(tokio_stream(s))
            .await
            .unwrap();
        ws.send(tungstenite::Message::Ping(b"are you there".to_vec().into()))
            .await
            .unwrap();
        let pong = ws.next().await.unwrap().unwrap();
        ws.send(tt_close(4002, "bye")).await.unwrap();
        let echo = ws.next().await.unwrap().unwrap();
        (pong, echo)
    });
    let ws = our_client::<R>(c, &ClientOptions::new()).await;
    let (mut read, write) = ws.split();
    let first = R::guard(100, read.recv()).await;
    assert_eq!(
        first.unwrap().unwrap(),
        Message::Ping(b"are you there".to_vec())
    );
    let second = R::guard(100, read.recv()).await;
    assert_eq!(
        second.unwrap().unwrap(),
        Message::Close(Some(CloseFrame::new(CloseCode::new(4002), "bye")))
    );
    let (pong, echo) = R::guard(100, peer).await;
    assert_eq!(
        pong,
        tungstenite::Message::Pong(b"are you there".to_vec().into())
    );
    assert!(
        matches!(&echo, tungstenite::Message::Close(Some(f)) if u16::from(f.code) == 4002),
        "{echo:?}"
    );
    drop(write);
}

/// Dropping both halves closes the connection (1000) through the driver.
pub(crate) async fn split_dropped_halves_close<R: TestRuntime>() {
    let (c, s) = tcp_pair();
    let peer = R::spawn_peer(tt_echo_server(s));
    let ws = our_client::<R>(c, &ClientOptions::new()).await;
    let (read, write) = ws.split();
    drop(write);
    drop(read);
    assert_eq!(R::guard(100, peer).await, Some((1000, String::new())));
}

/// A driver dropped before the end (cancelled task, runtime shut down):
/// the reader reports an abnormal end, not a clean one.
pub(crate) async fn split_driver_dropped<R: TestRuntime>() {
    let (c, s) = tcp_pair();
    let peer = R::spawn_peer(tt_echo_server(s));
    let ws = our_client::<R>(c, &ClientOptions::new()).await;
    let (mut read, mut write, driver) = ws.split_with_driver();
    drop(driver);
    let end = R::guard(100, read.recv()).await;
    assert!(
        matches!(&end, Some(Err(e)) if !e.is_clean_close() && e.close_code() == Some(CloseCode::ABNORMAL_CLOSURE)),
        "{end:?}"
    );
    assert!(read.recv().await.is_none());
    assert!(write.send(Message::text("x")).await.is_err());
    assert_eq!(peer.await, None, "the peer saw no Close frame");
}

// ------------------------------------------------------------ backpressure

/// A peer that never reads: `feed` stops accepting (the future stays
/// pending) and the send buffer stays under the watermark plus one frame.
pub(crate) async fn backpressure_unsplit<R: TestRuntime>() {
    const WATERMARK: usize = 64 * 1024;
    const MSG: usize = 16 * 1024;
    const FRAME: usize = MSG + 14;
    let (c, s) = tcp_pair();
    let (done_tx, done_rx) = futures_channel::oneshot::channel();
    let peer = R::spawn_peer(tt_silent_server(s, done_rx));
    let mut options = ClientOptions::new();
    options
        .config_mut()
        .protocol_mut()
        .send_buffer_watermark(WATERMARK);
    let mut ws = our_client::<R>(c, &options).await;
    let mut accepted = 0;
    let mut waited = false;
    // The kernel's socket buffers hold a few MiB at most; 10 000 messages
    // are 160 MiB.
    for _ in 0..10_000 {
        match ws.feed(Message::Binary(vec![7; MSG])).now_or_never() {
            Some(result) => {
                result.unwrap();
                accepted += 1;
            }
            None => {
                waited = true;
                break;
            }
        }
        assert!(ws.protocol().send_buffered() <= WATERMARK + FRAME);
        assert!(ws.buffered_amount() <= WATERMARK + FRAME + MSG);
    }
    assert!(waited, "the sender never had to wait ({accepted} messages)");
    // Later, the kernel may take a little more (TCP autotuning), but the
    // sender soon waits again and the bound holds throughout.
    R::sleep(R::unit()).await;
    let mut waited_again = false;
    for _ in 0..10_000 {
        if ws
            .feed(Message::Binary(vec![7; MSG]))
            .now_or_never()
            .is_none()
        {
            waited_again = true;
            break;
        }
        assert!(ws.protocol().send_buffered() <= WATERMARK + FRAME);
        assert!(ws.buffered_amount() <= WATERMARK + FRAME + MSG);
    }
    assert!(waited_again);
    let _ = done_tx.send(());
    peer.await;
}

/// The same through the split writer: `send` stops completing.
pub(crate) async fn backpressure_split<R: TestRuntime>() {
    const MSG: usize = 16 * 1024;
    let (c, s) = tcp_pair();
    let (done_tx, done_rx) = futures_channel::oneshot::channel();
    let peer = R::spawn_peer(tt_silent_server(s, done_rx));
    let mut options = ClientOptions::new();
    options
        .config_mut()
        .channel_capacity(4)
        .protocol_mut()
        .send_buffer_watermark(64 * 1024);
    let ws = our_client::<R>(c, &options).await;
    let (read, mut write) = ws.split();
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = progress.clone();
    let writer = R::spawn(async move {
        for _ in 0..10_000 {
            write.send(Message::Binary(vec![7; MSG])).await.unwrap();
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    // 160 MiB cannot all be buffered: the writer must still be waiting.
    match select(writer, R::sleep(R::unit() * 20)).await {
        Either::Left(_) => panic!("the writer sent 160 MiB to a peer that never reads"),
        Either::Right(_) => {}
    }
    let sent = progress.load(std::sync::atomic::Ordering::Relaxed);
    assert!(sent < 10_000, "{sent}");
    drop(read);
    let _ = done_tx.send(());
    peer.await;
}

// ------------------------------------------------------------ timers

fn timer_options<R: TestRuntime>(set: impl FnOnce(&mut ws_proto::Config)) -> ClientOptions {
    let mut options = ClientOptions::new();
    set(options.config_mut().protocol_mut());
    options
}

/// Keepalive: Pings go out every unit and the peer's Pongs keep the
/// connection alive past several pong deadlines' worth of time.
pub(crate) async fn keepalive_answered<R: TestRuntime>() {
    let u = R::unit();
    let (c, s) = tcp_pair();
    let peer = R::spawn_peer(tt_echo_server(s));
    let options = timer_options::<R>(|p| {
        p.keepalive_interval(Some(u)).pong_timeout(u * 100);
    });
    let mut ws = our_client::<R>(c, &options).await;
    let mut pongs = 0;
    R::guard(500, async {
        while pongs < 3 {
            match ws.recv().await {
                Some(Ok(Message::Pong(_))) => pongs += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await;
    assert!(ws.is_open());
    ws.send(Message::text("still here")).await.unwrap();
    let echo = R::guard(100, async {
        loop {
            match ws.recv().await {
                Some(Ok(Message::Pong(_))) => {}
                other => break other,
            }
        }
    })
    .await;
    assert_eq!(echo.unwrap().unwrap(), Message::text("still here"));
    R::guard(100, ws.close(CloseCode::NORMAL, ""))
        .await
        .unwrap();
    assert_eq!(peer.await, Some((1000, String::new())));
}

/// Pong deadline: a peer that never answers the keepalive Ping is declared
/// dead.
pub(crate) async fn keepalive_unanswered<R: TestRuntime>() {
    let u = R::unit();
    let (c, s) = tcp_pair();
    let (done_tx, done_rx) = futures_channel::oneshot::channel();
    let peer = R::spawn_peer(tt_silent_server(s, done_rx));
    let options = timer_options::<R>(|p| {
        p.keepalive_interval(Some(u)).pong_timeout(u);
    });
    let mut ws = our_client::<R>(c, &options).await;
    let end = R::guard(100, ws.recv()).await;
    assert!(matches!(end, Some(Err(Error::KeepaliveTimeout))), "{end:?}");
    assert!(R::guard(100, ws.recv()).await.is_none());
    let _ = done_tx.send(());
    peer.await;
}

/// Close timeout: `close` against a peer that never answers gives up with
/// an unclean close instead of hanging.
pub(crate) async fn close_timeout<R: TestRuntime>() {
    let u = R::unit();
    let (c, s) = tcp_pair();
    let (done_tx, done_rx) = futures_channel::oneshot::channel();
    let peer = R::spawn_peer(tt_silent_server(s, done_rx));
    let options = timer_options::<R>(|p| {
        p.close_timeout(u * 2);
    });
    let mut ws = our_client::<R>(c, &options).await;
    let result = R::guard(100, ws.close(CloseCode::NORMAL, "bye")).await;
    match result {
        Err(err @ Error::ConnectionClosed { clean: false, .. }) => {
            assert!(!err.is_clean_close());
            assert_eq!(err.close_code(), Some(CloseCode::ABNORMAL_CLOSURE));
        }
        other => panic!("expected an unclean close, got {other:?}"),
    }
    let _ = done_tx.send(());
    peer.await;
}

/// Close timeout with a full socket: the Close frame cannot even be
/// written (the peer reads nothing), yet `close` still ends, bounded by the
/// close timeout and then by the final-flush bound.
pub(crate) async fn close_timeout_unwritable<R: TestRuntime>() {
    let u = R::unit();
    let (c, s) = tcp_pair_small_buffers();
    let (done_tx, done_rx) = futures_channel::oneshot::channel();
    let peer = R::spawn_peer(tt_silent_server(s, done_rx));
    let mut options = timer_options::<R>(|p| {
        p.close_timeout(u * 2).send_buffer_watermark(64 * 1024);
    });
    options.config_mut().read_buffer_size(4096);
    let mut ws = our_client::<R>(c, &options).await;
    let mut blocked = false;
    for _ in 0..10_000 {
        if ws
            .feed(Message::Binary(vec![1; 16 * 1024]))
            .now_or_never()
            .is_none()
        {
            blocked = true;
            break;
        }
    }
    assert!(blocked);
    let result = R::guard(100, ws.close(CloseCode::NORMAL, "")).await;
    assert!(
        matches!(result, Err(Error::ConnectionClosed { clean: false, .. })),
        "{result:?}"
    );
    assert!(ws.is_closed());
    let _ = done_tx.send(());
    peer.await;
}

/// The same through the split halves: `WriteHalf::close` bypasses the
/// full outgoing queue, and the reader sees the end within the close
/// timeout and the final-flush bound.
pub(crate) async fn split_close_unwritable<R: TestRuntime>() {
    let u = R::unit();
    let (c, s) = tcp_pair_small_buffers();
    let (done_tx, done_rx) = futures_channel::oneshot::channel();
    let peer = R::spawn_peer(tt_silent_server(s, done_rx));
    let mut options = timer_options::<R>(|p| {
        p.close_timeout(u * 2).send_buffer_watermark(64 * 1024);
    });
    options.config_mut().channel_capacity(2);
    let ws = our_client::<R>(c, &options).await;
    let (mut read, mut write) = ws.split();
    // Fill the queue, let the driver move what it can into the socket, and
    // again: the peer reads nothing, so everything ends up full.
    for _ in 0..20 {
        for _ in 0..10 {
            if write
                .send(Message::Binary(vec![1; 16 * 1024]))
                .now_or_never()
                .is_none()
            {
                break;
            }
        }
        R::sleep(u / 10).await;
    }
    write.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(!write.is_open());
    let end = R::guard(100, read.recv()).await;
    assert!(
        matches!(end, Some(Err(Error::ConnectionClosed { clean: false, .. }))),
        "{end:?}"
    );
    assert!(read.recv().await.is_none());
    let _ = done_tx.send(());
    peer.await;
}

/// Idle timeout: nothing received for a while closes with 1001; a peer that
/// answers completes the handshake cleanly.
pub(crate) async fn idle_timeout<R: TestRuntime>() {
    let u = R::unit();
    let (c, s) = tcp_pair();
    let peer = R::spawn_peer(tt_echo_server(s));
    let options = timer_options::<R>(|p| {
        p.idle_timeout(Some(u * 2)).close_timeout(u * 200);
    });
    let mut ws = our_client::<R>(c, &options).await;
    let echo = R::guard(400, ws.recv()).await;
    match echo {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::GOING_AWAY),
        other => panic!("expected the Close echo, got {other:?}"),
    }
    assert!(R::guard(100, ws.recv()).await.is_none(), "clean close");
    assert_eq!(peer.await, Some((1001, "idle timeout".to_owned())));
}

/// Handshake timeout: a client that connects and sends nothing (slowloris)
/// is dropped.
pub(crate) async fn handshake_timeout<R: TestRuntime>() {
    let u = R::unit();
    let (c, s) = tcp_pair();
    let mut config = WebSocketConfig::default();
    config.handshake_timeout(u * 2);
    let result = R::guard(100, ws_runtime::accept(R::wrap(s), R::runtime(), &config)).await;
    assert!(matches!(result, Err(Error::HandshakeTimeout)), "{result:?}");
    drop(c);
}

// ------------------------------------------------------------ cancel safety

/// `recv` raced against a short sleep in `select` many times loses no
/// message (RFC-size messages split across reads).
pub(crate) async fn recv_cancel_safe<R: TestRuntime>() {
    const N: usize = 50;
    let (c, s) = tcp_pair();
    let peer = R::spawn_peer(async move {
        let mut ws = tokio_tungstenite::accept_async(tokio_stream(s))
            .await
            .unwrap();
        for i in 0..N {
            ws.send(tungstenite::Message::binary(vec![i as u8; 70_000]))
                .await
                .unwrap();
        }
        ws.send(tt_close(1000, "")).await.unwrap();
        while ws.next().await.is_some() {}
    });
    let mut ws = our_client::<R>(c, &ClientOptions::new()).await;
    let mut got = Vec::new();
    let mut cancelled = 0;
    R::guard(600, async {
        // Bounded: each round either yields a message or is cancelled.
        for _ in 0..1_000_000 {
            let recv = std::pin::pin!(ws.recv());
            match select(recv, R::sleep(Duration::from_micros(1))).await {
                Either::Left((Some(Ok(Message::Binary(data))), _)) => got.push(data),
                Either::Left((Some(Ok(Message::Close(_))), _)) => break,
                Either::Left((other, _)) => panic!("unexpected {other:?}"),
                Either::Right(_) => cancelled += 1,
            }
        }
    })
    .await;
    assert_eq!(got.len(), N, "after {cancelled} cancellations");
    for (i, data) in got.iter().enumerate() {
        assert!(data.len() == 70_000 && data.iter().all(|&b| b == i as u8));
    }
    assert!(R::guard(100, ws.recv()).await.is_none());
    peer.await;
}

/// `send` raced against a short sleep in `select`: a cancelled send either
/// sent its message or not, never part of it, and the frames stay valid.
pub(crate) async fn send_cancel_safe<R: TestRuntime>() {
    const N: u8 = 100;
    const SIZE: usize = 64 * 1024;
    let (c, s) = tcp_pair_small_buffers();
    let peer = R::spawn_peer(async move {
        let mut ws = tokio_tungstenite::accept_async(tokio_stream(s))
            .await
            .unwrap();
        let mut ids = Vec::new();
        while let Some(message) = ws.next().await {
            match message.expect("well-formed frames") {
                tungstenite::Message::Binary(data) => {
                    assert_eq!(data.len(), SIZE);
                    assert!(data.iter().all(|&b| b == data[0]), "a torn message");
                    ids.push(data[0]);
                    // A slow reader, so that sends wait and get cancelled.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                tungstenite::Message::Close(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        ids
    });
    let mut options = ClientOptions::new();
    options
        .config_mut()
        .protocol_mut()
        .send_buffer_watermark(16 * 1024);
    let mut ws = our_client::<R>(c, &options).await;
    let mut cancelled = 0;
    R::guard(600, async {
        for id in 0..N {
            let send = std::pin::pin!(ws.send(Message::Binary(vec![id; SIZE])));
            if let Either::Right(_) = select(send, R::sleep(Duration::from_millis(2))).await {
                cancelled += 1;
            }
        }
        ws.send(Message::Binary(vec![N; SIZE])).await.unwrap();
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
    drop(ws);
    let ids = peer.await;
    assert_eq!(ids.last(), Some(&N), "{cancelled} sends cancelled");
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicates: {ids:?}"
    );
}

/// `from_upgraded`: framing a stream whose handshake happened elsewhere.
pub(crate) async fn from_upgraded<R: TestRuntime>() {
    let (c, s) = tcp_pair();
    let config = WebSocketConfig::default();
    let mut client = WebSocket::from_upgraded(R::wrap(c), Role::Client, &config, R::runtime());
    let mut server = WebSocket::from_upgraded(R::wrap(s), Role::Server, &config, R::runtime());
    R::guard(100, async {
        client.send(Message::text("raw")).await.unwrap();
        assert_eq!(server.recv().await.unwrap().unwrap(), Message::text("raw"));
        let closing = R::spawn(async move {
            let result = client.close(CloseCode::NORMAL, "").await;
            (client, result)
        });
        assert!(matches!(server.recv().await, Some(Ok(Message::Close(_)))));
        assert!(server.recv().await.is_none());
        // The TCP FIN: `poll_close` of some futures-io streams (async-std's
        // TcpStream) only flushes, so the FIN goes out when it is dropped.
        drop(server);
        let (_client, result) = closing.await;
        result.unwrap();
    })
    .await;
}

/// permessage-deflate negotiated end to end by both of our ends, and
/// declined gracefully by a peer without it (tokio-tungstenite).
pub(crate) async fn permessage_deflate<R: TestRuntime>() {
    use ws_runtime::DeflateConfig;
    let mut config = WebSocketConfig::default();
    config.permessage_deflate(Some(DeflateConfig::default()));
    let text: String = (0..2000)
        .map(|i| format!("{{\"user\":\"u{}\",\"text\":\"hello {i}\"}}", i % 7))
        .collect();

    // Ours to ours: negotiated, messages round-trip compressed.
    let (c, s) = tcp_pair();
    let server_config = config.clone();
    let server = R::spawn(async move {
        let mut ws = our_server::<R>(s, &server_config).await;
        let negotiated = ws.deflate();
        while let Some(Ok(message)) = ws.recv().await {
            if message.is_text() || message.is_binary() {
                ws.send(message).await.unwrap();
            }
        }
        negotiated
    });
    let mut options = ClientOptions::new();
    *options.config_mut() = config.clone();
    let mut ws = our_client::<R>(c, &options).await;
    assert_eq!(ws.deflate(), Some(ws_runtime::DeflateParams::default()));
    for message in [
        Message::text(text.clone()),
        Message::Binary(pattern(100_000)),
        Message::text("hi"),
    ] {
        R::guard(100, ws.send(message.clone())).await.unwrap();
        let echo = R::guard(100, ws.recv()).await.unwrap().unwrap();
        assert_eq!(echo, message);
    }
    R::guard(100, ws.close(CloseCode::NORMAL, ""))
        .await
        .unwrap();
    assert_eq!(server.await, Some(ws_runtime::DeflateParams::default()));

    // Our client offering it to a server without it: no compression.
    let (c, s) = tcp_pair();
    let peer = R::spawn_peer(async move {
        let mut ws = tokio_tungstenite::accept_async(tokio_stream(s))
            .await
            .unwrap();
        tt_echo(&mut ws).await
    });
    let mut ws = our_client::<R>(c, &options).await;
    assert_eq!(ws.deflate(), None);
    R::guard(100, ws.send(Message::text(text.clone())))
        .await
        .unwrap();
    assert_eq!(
        R::guard(100, ws.recv()).await.unwrap().unwrap(),
        Message::text(text.clone())
    );
    R::guard(100, ws.close(CloseCode::NORMAL, ""))
        .await
        .unwrap();
    assert_eq!(peer.await, Some((1000, String::new())));

    // A client without it, our server willing: no compression either.
    let (c, s) = tcp_pair();
    let server = R::spawn(async move {
        let mut ws = our_server::<R>(s, &config).await;
        let negotiated = ws.deflate();
        while let Some(Ok(message)) = ws.recv().await {
            if message.is_text() {
                ws.send(message).await.unwrap();
            }
        }
        negotiated
    });
    let mut ws = our_client::<R>(c, &ClientOptions::new()).await;
    R::guard(100, ws.send(Message::text(text.clone())))
        .await
        .unwrap();
    assert_eq!(
        R::guard(100, ws.recv()).await.unwrap().unwrap(),
        Message::text(text)
    );
    R::guard(100, ws.close(CloseCode::NORMAL, ""))
        .await
        .unwrap();
    assert_eq!(server.await, None);
}

/// Declares one `#[test]` per scenario for a runtime.
#[macro_export]
macro_rules! scenarios {
    ($rt:ty) => {
        $crate::scenarios!(@ $rt, false: client_interop server_interop server_close_code
            accept_callback client_subprotocols stream_and_sink broadcast_prepared split_two_tasks
            split_auto_replies_reader_only split_dropped_halves_close split_driver_dropped backpressure_unsplit
            recv_cancel_safe send_cancel_safe
            from_upgraded permessage_deflate recv_with_interop recv_with_backpressure);
        $crate::scenarios!(@ $rt, true: backpressure_split keepalive_answered
            keepalive_unanswered close_timeout close_timeout_unwritable split_close_unwritable idle_timeout handshake_timeout);
    };
    (@ $rt:ty, $paused:literal: $($name:ident)*) => {$(
        #[test]
        fn $name() {
            <$rt as runtime_common::TestRuntime>::block_on(
                $paused,
                runtime_common::$name::<$rt>(),
            );
        }
    )*};
}
