//! A small client over futures-io (run on smol): sends a few messages to an echo server, prints
//! the replies, and closes.
//!
//! ```sh
//! cargo run -p ws-runtime-async-std --example client -- ws://127.0.0.1:9003/
//! ```

use ws_runtime_async_std::{CloseCode, Message, connect};

fn main() -> Result<(), ws_runtime_async_std::Error> {
    smol::block_on(run())
}

async fn run() -> Result<(), ws_runtime_async_std::Error> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9003/".into());
    let mut ws = connect(&url).await?;
    for text in ["hello", "from", "ws-runtime-tokio"] {
        ws.send(Message::text(text)).await?;
        match ws.recv().await {
            Some(Ok(reply)) => println!("received: {reply:?}"),
            Some(Err(err)) => return Err(err),
            None => break,
        }
    }
    ws.close(CloseCode::NORMAL, "done").await?;
    println!("closed cleanly");
    Ok(())
}
