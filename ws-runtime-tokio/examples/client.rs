//! A small client on tokio: sends a few messages to an echo server, prints
//! the replies, and closes.
//!
//! ```sh
//! cargo run -p ws-runtime-tokio --example client -- ws://127.0.0.1:9002/
//! ```

use ws_runtime_tokio::{CloseCode, Message, connect};

#[tokio::main]
async fn main() -> Result<(), ws_runtime_tokio::Error> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9002/".into());
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
