//! An echo server on tokio: every text and binary message goes back as it
//! arrived, compressed with permessage-deflate when the client offers it.
//! This is the server the Autobahn|Testsuite conformance run
//! (`scripts/conformance.sh`) tests.
//!
//! ```sh
//! cargo run --release -p ws-runtime-tokio --example echo_server -- 127.0.0.1:9002
//! ```
//!
//! Replies are queued with `feed`, not `send`: `recv` writes everything
//! queued before it waits for the socket, so a burst of messages is echoed
//! with one `write`.

use tokio::net::TcpListener;
use ws_runtime_tokio::{DeflateConfig, Message, WebSocketConfig, accept_with_config};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("echo_server: listening on ws://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            let mut config = WebSocketConfig::default();
            // Accept permessage-deflate when the client offers it.
            config.permessage_deflate(Some(DeflateConfig::default()));
            let mut ws = match accept_with_config(stream, &config, |_| Ok(Default::default())).await
            {
                Ok(ws) => ws,
                Err(err) => return eprintln!("echo_server: handshake failed: {err}"),
            };
            while let Some(message) = ws.recv().await {
                match message {
                    Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                        // A closing connection refuses data (nothing to echo
                        // then); a broken one is reported by the next `recv`.
                        let _ = ws.feed(message).await;
                    }
                    Ok(_) => {}
                    Err(err) => {
                        eprintln!("echo_server: connection ended: {err}");
                        break;
                    }
                }
            }
        });
    }
}
