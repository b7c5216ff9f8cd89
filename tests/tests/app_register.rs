//! ws-app registers a connection in its hub before the `101` is written:
//! once a client has read its `101`, every broadcast, room or by-id send
//! issued after that reaches it (after on_connect's greeting). A handshake
//! that fails after the guard accepted leaves nothing in the hub and runs
//! no on_close.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ws_app::{Accept, App, Server, ServerHandle, Ws};
use ws_runtime_tokio::{ClientOptions, MaybeTlsStream, Message, WebSocket};

/// How long a client waits for a message that must arrive.
const WAIT: Duration = Duration::from_secs(2);

const ITERATIONS: usize = 200;

async fn serve(app: App) -> ServerHandle {
    Server::<ws_app::rt::Tokio>::bind(app, "127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
        .spawn()
}

/// A handler that only waits for its connection's end.
async fn idle(ws: Ws) -> ws_app::Result<()> {
    ws.closed().await;
    Ok(())
}

async fn next_text(client: &mut WebSocket<MaybeTlsStream>, what: &str) -> String {
    loop {
        match tokio::time::timeout(WAIT, client.recv()).await {
            Ok(Some(Ok(Message::Text(text)))) => return text,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            Err(_) => panic!("{what}: nothing within {WAIT:?}"),
            other => panic!("{what}: expected a text message, got {other:?}"),
        }
    }
}

/// A broadcast to the route issued right after the client's connect
/// returned (it has read its 101) reaches the client, every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_right_after_the_101_is_received() {
    let mut app = App::new();
    let _ = app.websocket("/r", idle);
    let server = serve(app).await;
    let hub = server.hub();
    let url = format!("ws://{}/r", server.local_addr());
    for i in 0..ITERATIONS {
        let mut client = ws_runtime_tokio::connect(&url).await.expect("connect");
        let text = format!("b{i}");
        hub.broadcast("/r", text.as_str()).expect("broadcast");
        let got = next_text(&mut client, &format!("iteration {i}")).await;
        assert_eq!(got, text, "iteration {i}");
        drop(client);
    }
    server.shutdown_and_wait().await;
}

/// With on_connect and a guard choosing a subprotocol: the subprotocol is
/// the guard's, the greeting comes first, then the broadcast sent right
/// after the client's connect returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_right_after_the_101_follows_the_greeting() {
    let mut app = App::new();
    let _ = app
        .websocket("/g", idle)
        .guard(|up| async move {
            match up.subprotocols().into_iter().find(|p| p == "chat.v1") {
                Some(p) => Ok(Accept::new().subprotocol(p)),
                None => Ok(Accept::new()),
            }
        })
        .on_connect(
            |ws: Ws| async move { Some(format!("hello {}", ws.subprotocol().unwrap_or("-"))) },
        );
    let server = serve(app).await;
    let hub = server.hub();
    let url = format!("ws://{}/g", server.local_addr());
    let options = ClientOptions::new().subprotocol("chat.v1");
    for i in 0..ITERATIONS {
        let mut client = ws_runtime_tokio::connect_with_options(&url, &options)
            .await
            .expect("connect");
        let text = format!("b{i}");
        hub.broadcast("/g", text.as_str()).expect("broadcast");
        assert_eq!(client.subprotocol(), Some("chat.v1"));
        let what = format!("iteration {i}");
        assert_eq!(
            next_text(&mut client, &what).await,
            "hello chat.v1",
            "{what}"
        );
        assert_eq!(next_text(&mut client, &what).await, text, "{what}");
        drop(client);
    }
    server.shutdown_and_wait().await;
}

/// A guard that accepts with a subprotocol the client did not offer: the
/// handshake fails after the connection was registered. It leaves the
/// hub, no on_connect or on_close runs, and the slot is given back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_handshake_after_the_guard_leaves_no_trace() {
    let callbacks = Arc::new(AtomicUsize::new(0));
    let (on_connect, on_close) = (callbacks.clone(), callbacks.clone());
    let mut app = App::new();
    let _ = app
        .websocket("/bad", idle)
        .guard(|_| async move { Ok(Accept::new().subprotocol("never-offered")) })
        .on_connect(move |_| {
            on_connect.fetch_add(1, Ordering::SeqCst);
            async { None }
        })
        .on_close(move |_| {
            on_close.fetch_add(1, Ordering::SeqCst);
            async {}
        });
    let server = serve(app).await;
    let hub = server.hub();
    let url = format!("ws://{}/bad", server.local_addr());
    for _ in 0..5 {
        let result = ws_runtime_tokio::connect(&url).await;
        assert!(result.is_err(), "the handshake must fail");
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while (hub.connection_count() != 0 || server.websocket_count() != 0)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(hub.connection_count(), 0, "left in the hub");
    assert_eq!(server.websocket_count(), 0, "slot not given back");
    assert_eq!(hub.broadcast("/bad", "x").ok(), Some(()));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(callbacks.load(Ordering::SeqCst), 0, "a callback ran");
    server.shutdown_and_wait().await;
}
