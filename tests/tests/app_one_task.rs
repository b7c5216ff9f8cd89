//! ws-app's connection task (one task per connection, `ws-app/src/conn.rs`):
//! the paths that do not go through the handler's own `receive`/`send`.
//! A handler that hands its connection to another task, and the order of
//! a handler's direct sends against what other tasks queued before them.

use std::time::Duration;

use ws_app::{App, Server, ServerHandle, Ws};
use ws_runtime_tokio::{CloseCode, Message};

const GUARD: Duration = Duration::from_secs(30);

async fn serve(app: App) -> ServerHandle {
    Server::<ws_app::rt::Tokio>::bind(app, "127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
        .spawn()
}

/// Serves `app` and connects a client to its route `path`.
async fn serve_and_connect(
    app: App,
    path: &str,
) -> (
    ServerHandle,
    ws_runtime_tokio::WebSocket<ws_runtime_tokio::MaybeTlsStream>,
) {
    let server = serve(app).await;
    let url = format!("ws://{}{path}", server.local_addr());
    let client = ws_runtime_tokio::connect(&url).await.expect("connect");
    (server, client)
}

/// Closes `client` with a clean closing handshake, then stops `server`.
async fn close_and_shutdown<S: ws_runtime::Transport>(
    mut client: ws_runtime::WebSocket<S, ws_runtime_tokio::Runtime>,
    server: ServerHandle,
) {
    client
        .close(CloseCode::NORMAL, "")
        .await
        .expect("clean close");
    server.shutdown();
}

async fn next_text<S: ws_runtime::Transport>(
    client: &mut ws_runtime::WebSocket<S, ws_runtime_tokio::Runtime>,
) -> String {
    loop {
        match tokio::time::timeout(GUARD, client.recv()).await {
            Ok(Some(Ok(Message::Text(text)))) => return text,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// The handler only waits for the end; a spawned task receives and sends
/// (both through the connection's queues, read for it by the connection
/// task). Every message comes back, in order, and the close is clean.
#[tokio::test]
async fn receive_and_send_from_another_task() {
    let mut app = App::new();
    let _ = app.websocket("/relay", |ws: Ws| async move {
        let worker = ws.clone();
        let task = tokio::spawn(async move {
            while let Ok(text) = worker.receive_text().await {
                if worker.send_text(format!("re:{text}")).await.is_err() {
                    break;
                }
            }
        });
        let _ = ws.closed().await;
        let _ = task.await;
        Ok::<(), ws_app::Error>(())
    });
    let (server, mut client) = serve_and_connect(app, "/relay").await;
    for i in 0..200 {
        client
            .feed(Message::text(format!("m{i}")))
            .await
            .expect("feed");
    }
    client.flush().await.expect("flush");
    for i in 0..200 {
        assert_eq!(next_text(&mut client).await, format!("re:m{i}"));
    }
    close_and_shutdown(client, server).await;
}

/// What another task queued for a connection (here a broadcast to its own
/// route, which includes it) goes out before what its handler sends
/// directly afterwards: queue order is wire order.
#[tokio::test]
async fn queued_before_direct_send_keeps_order() {
    let mut app = App::new();
    async fn order(ws: Ws) -> ws_app::Result<()> {
        loop {
            let text = ws.receive_text().await?;
            ws.broadcast(format!("broadcast:{text}"))?;
            ws.send_text(format!("direct:{text}")).await?;
        }
    }
    let _ = app.websocket("/order", order);
    let (server, mut client) = serve_and_connect(app, "/order").await;
    for i in 0..50 {
        client
            .send(Message::text(format!("{i}")))
            .await
            .expect("send");
        assert_eq!(next_text(&mut client).await, format!("broadcast:{i}"));
        assert_eq!(next_text(&mut client).await, format!("direct:{i}"));
    }
    close_and_shutdown(client, server).await;
}

/// A handler that never receives: its sends go out, and the connection
/// task still reads (into the inbox), answers Pings and completes the
/// peer's closing handshake.
#[tokio::test]
async fn handler_that_never_receives_still_closes_cleanly() {
    let mut app = App::new();
    app.config_mut().inbound_capacity(4);
    let _ = app.websocket("/push", |ws: Ws| async move {
        for i in 0..20 {
            ws.send_text(format!("push {i}")).await?;
        }
        let info = ws.closed().await;
        assert_eq!(info.code, CloseCode::NORMAL);
        Ok::<(), ws_app::Error>(())
    });
    let (server, mut client) = serve_and_connect(app, "/push").await;
    for i in 0..20 {
        assert_eq!(next_text(&mut client).await, format!("push {i}"));
    }
    // Fewer than the inbox holds: the connection task reads them for
    // nobody, and the Ping and the Close behind them still get through.
    // (More than it holds and the task stops reading: TCP pushes back.)
    for i in 0..3 {
        client
            .send(Message::text(format!("ignored {i}")))
            .await
            .expect("send");
    }
    client
        .send(Message::Ping(b"p".to_vec()))
        .await
        .expect("ping");
    let closed = tokio::time::timeout(GUARD, client.close(CloseCode::NORMAL, "")).await;
    assert!(
        matches!(closed, Ok(Ok(()))),
        "clean closing handshake: {closed:?}"
    );
    server.shutdown();
}
