//! Echo server on `ws-runtime-tokio` without an allocation per message:
//! `recv_with`, each message answered from where it lies with
//! `replies.send(message)`, the replies written together when the next
//! read would block (as in `ws-runtime-tokio/examples/echo_server.rs`'s
//! borrowed variant). No permessage-deflate.

use tokio::net::TcpListener;
use ws_runtime_tokio::{WebSocketConfig, accept_with_config};

fn main() -> std::io::Result<()> {
    let addr = ws_bench::listen_addr("127.0.0.1:9107");
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
                while let Some(Ok(_)) = ws
                    .recv_with(|message, replies| {
                        if message.is_data() {
                            let _ = replies.send(message);
                        }
                    })
                    .await
                {}
            });
        }
    })
}
