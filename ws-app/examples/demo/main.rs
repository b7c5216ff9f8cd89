//! The ws-app demo server: every example of Robyn's WebSocket guide, and a
//! page at `/` to try them from a browser (see `app.rs` for the endpoints).
//!
//! ```sh
//! cargo run --release -p ws-app --example demo                 # tokio, 127.0.0.1:8080
//! cargo run --release -p ws-app --example demo -- 127.0.0.1:9000
//! WS_APP_DEMO_ADDR=0.0.0.0:8080 cargo run --release -p ws-app --example demo
//! cargo run --release -p ws-app --no-default-features --features smol --example demo   # smol
//! ```
//!
//! It prints `ws-app demo listening on http://ADDR` once it accepts
//! connections, and runs until killed. `WS_APP_DEMO_QUIET=1` silences the
//! per-connection log lines.

mod app;

fn address() -> String {
    std::env::args()
        .nth(1)
        .or_else(|| std::env::var("WS_APP_DEMO_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
}

fn quiet() -> bool {
    std::env::var("WS_APP_DEMO_QUIET").is_ok_and(|v| !v.is_empty() && v != "0")
}

#[cfg(feature = "tokio")]
fn main() -> Result<(), ws_app::Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server =
            ws_app::Server::<ws_app::rt::Tokio>::bind(app::build(quiet()), address()).await?;
        eprintln!(
            "ws-app demo listening on http://{} (tokio)",
            server.local_addr()
        );
        server.run().await
    })
}

#[cfg(all(feature = "smol", not(feature = "tokio")))]
fn main() -> Result<(), ws_app::Error> {
    smol::block_on(async {
        let server =
            ws_app::Server::<ws_app::rt::Smol>::bind(app::build(quiet()), address()).await?;
        eprintln!(
            "ws-app demo listening on http://{} (smol)",
            server.local_addr()
        );
        server.run().await
    })
}

#[cfg(not(any(feature = "tokio", feature = "smol")))]
fn main() {
    let _ = (address(), app::build(quiet()));
    eprintln!("the demo needs the `tokio` or the `smol` feature");
}
