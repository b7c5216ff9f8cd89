//! Echo server on `ws-runtime-tokio`, as in its `examples/echo_server.rs`:
//! `recv` in a loop, replies queued with `feed` and written together when
//! `recv` would block. No permessage-deflate.

use tokio::net::TcpListener;
use ws_runtime_tokio::{Message, WebSocketConfig, accept_with_config};

fn main() -> std::io::Result<()> {
    let addr = ws_bench::listen_addr("127.0.0.1:9101");
    ws_bench::current_thread().block_on(async move {
        let listener = TcpListener::bind(addr).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(async move {
                let config = WebSocketConfig::default();
                let Ok(mut ws) =
                    accept_with_config(stream, &config, |_| Ok(Default::default())).await
                else {
                    return;
                };
                while let Some(Ok(message)) = ws.recv().await {
                    if let Message::Text(_) | Message::Binary(_) = message {
                        let _ = ws.feed(message).await;
                    }
                }
            });
        }
    })
}
