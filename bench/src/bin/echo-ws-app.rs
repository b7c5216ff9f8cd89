//! `ws-app` server: `/echo` sends every message back, `/broadcast` sends
//! every message to all other connections of the route (encoded once).
//! The message limit is raised from ws-app's default (1 000 000 bytes, as
//! Robyn) so that the 1 MiB echo fits.

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
    let _ = app.websocket("/echo", echo);
    let _ = app.websocket("/broadcast", broadcast);
    ws_bench::current_thread().block_on(async move {
        Server::<ws_app::rt::Tokio>::bind(app, addr)
            .await?
            .run()
            .await
    })
}
