//! An echo server over futures-io, run on smol's executor (the same code
//! runs on async-std): every text and binary message goes back as it
//! arrived. The Autobahn|Testsuite conformance run (`scripts/conformance.sh`)
//! tests it.
//!
//! ```sh
//! cargo run --release -p ws-runtime-async-std --example echo_server -- 127.0.0.1:9003
//! ```
//!
//! It receives with `recv_with`, the loop without an allocation per
//! message: each message is echoed from where it lies (`replies.send`),
//! and the replies of a burst go out in one `write` when the next read
//! would block. (The tokio example uses `recv` + `feed`; between them the
//! conformance run covers both receive loops.)

use async_net::TcpListener;
use ws_runtime_async_std::{DeflateConfig, WebSocketConfig, accept_with_config};

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
                while let Some(handled) = ws
                    .recv_with(|message, replies| {
                        if message.is_data() {
                            // A closing connection refuses data (nothing to
                            // echo then); a broken one ends the loop.
                            let _ = replies.send(message);
                        }
                    })
                    .await
                {
                    if let Err(err) = handled {
                        eprintln!("echo_server: connection ended: {err}");
                        break;
                    }
                }
            })
            .detach();
        }
    })
}
