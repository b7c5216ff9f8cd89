//! Echo server on `ws-runtime-async-std`, run on smol, as in its
//! `examples/echo_server.rs`: `recv` in a loop, replies queued with `feed`.
//! Everything runs on one thread (a `LocalExecutor` inside `block_on`).

use async_net::TcpListener;
use ws_runtime_async_std::{Message, WebSocketConfig, accept_with_config};

fn main() -> std::io::Result<()> {
    let addr = ws_bench::listen_addr("127.0.0.1:9102");
    let ex = smol::LocalExecutor::new();
    smol::block_on(ex.run(async {
        let listener = TcpListener::bind(addr).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            ex.spawn(async move {
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
            })
            .detach();
        }
    }))
}
