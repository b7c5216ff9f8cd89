//! An echo server over futures-io, run on smol's executor (the same code
//! runs on async-std): every text and binary message goes back as it
//! arrived. The Autobahn|Testsuite conformance run (`scripts/conformance.sh`)
//! tests it.
//!
//! ```sh
//! cargo run --release -p ws-runtime-async-std --example echo_server -- 127.0.0.1:9003
//! ```
//!
//! Replies are queued with `feed`, not `send`: `recv` writes everything
//! queued before it waits for the socket, so a burst of messages is echoed
//! with one `write`.

use async_net::TcpListener;
use ws_runtime_async_std::{DeflateConfig, Message, WebSocketConfig, accept_with_config};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9003".into());
    smol::block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        eprintln!("echo_server: listening on ws://{}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            smol::spawn(async move {
                let mut config = WebSocketConfig::default();
                // Accept permessage-deflate when the client offers it.
                config.permessage_deflate(Some(DeflateConfig::default()));
                let mut ws =
                    match accept_with_config(stream, &config, |_| Ok(Default::default())).await {
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
            })
            .detach();
        }
    })
}
