//! The Autobahn|Testsuite client driver (wstest's `fuzzingserver` mode):
//! asks for the case count, runs every case by echoing each text and binary
//! message until the server closes, then asks for the report.
//!
//! ```sh
//! cargo run --release -p ws-runtime-tokio --example autobahn_client -- ws://127.0.0.1:9002 ws-runtime-tokio
//! ```
//!
//! The URL and agent name come from the arguments, else from
//! `$AUTOBAHN_URL` / `$AUTOBAHN_AGENT` (as `scripts/conformance.sh` sets
//! them), else the defaults above.

use ws_runtime_tokio::{ClientOptions, DeflateConfig, Message, connect, connect_with_options};

fn arg(index: usize, var: &str, default: &str) -> String {
    std::env::args()
        .nth(index)
        .or_else(|| std::env::var(var).ok())
        .unwrap_or_else(|| default.into())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), ws_runtime_tokio::Error> {
    let base = arg(1, "AUTOBAHN_URL", "ws://127.0.0.1:9002");
    let base = base.trim_end_matches('/');
    let agent = arg(2, "AUTOBAHN_AGENT", "ws-runtime-tokio");

    let mut ws = connect(&format!("{base}/getCaseCount")).await?;
    let count: u32 = match ws.recv().await {
        Some(Ok(Message::Text(text))) => text.trim().parse().unwrap_or(0),
        other => panic!("unexpected reply to getCaseCount: {other:?}"),
    };
    while ws.recv().await.is_some() {}
    eprintln!("autobahn_client: {count} cases");

    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        // Offer permessage-deflate on every case (sections 12 and 13 need it).
        let mut options = ClientOptions::new();
        options
            .config_mut()
            .permessage_deflate(Some(DeflateConfig::default()));
        let mut ws = match connect_with_options(&url, &options).await {
            Ok(ws) => ws,
            Err(err) => {
                eprintln!("autobahn_client: case {case}: connect failed: {err}");
                continue;
            }
        };
        while let Some(message) = ws.recv().await {
            match message {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                    // Refused while closing; a broken connection ends `recv`.
                    let _ = ws.feed(message).await;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }

    let mut ws = connect(&format!("{base}/updateReports?agent={agent}")).await?;
    while ws.recv().await.is_some() {}
    eprintln!("autobahn_client: reports updated");
    Ok(())
}
