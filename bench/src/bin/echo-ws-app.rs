//! `ws-app` server: `/echo` sends every message back, `/broadcast` sends
//! every message to all other connections of the route (encoded once).
//! The message limit is raised from ws-app's default (1 000 000 bytes, as
//! Robyn) so that the 1 MiB echo fits; everything else is ws-app's default
//! configuration, a 30 s keepalive included (the other echo servers have
//! none). `WS_APP_NO_KEEPALIVE=1` turns the keepalive off, to measure
//! what it costs.

use ws_app::{App, Server, Ws};

async fn echo(ws: Ws) -> ws_app::Result<()> {
    loop {
        let message = ws.receive().await?;
        ws.send(message).await?;
    }
}

async fn broadcast(ws: Ws) -> ws_app::Result<()> {
    loop {
        let message = ws.receive().await?;
        ws.broadcast_others(message)?;
    }
}

fn main() -> ws_app::Result<()> {
    let addr = ws_bench::listen_addr("127.0.0.1:9103");
    let mut app = App::new();
    app.config_mut()
        .max_message_size(ws_bench::MAX_MESSAGE as u64);
    if std::env::var_os("WS_APP_NO_KEEPALIVE").is_some_and(|v| v == "1") {
        app.config_mut()
            .websocket_mut()
            .protocol_mut()
            .keepalive_interval(None);
    }
    let _ = app.websocket("/echo", echo);
    let _ = app.websocket("/broadcast", broadcast);
    ws_bench::current_thread().block_on(async move {
        Server::<ws_app::rt::Tokio>::bind(app, addr)
            .await?
            .run()
            .await
    })
}
