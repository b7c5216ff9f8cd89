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
//! per-connection log lines. The library's own log records (a Redis outage,
//! a slow consumer closed) go to stderr at `warn` and above; `RUST_LOG`
//! changes the level (`RUST_LOG=ws_app=debug`).
//!
//! With the `redis` feature, `WS_DEMO_REDIS=redis://127.0.0.1:6379` puts
//! broadcast, rooms and send-to-id through Redis pub/sub, so several demo
//! processes on different ports share their chat:
//!
//! ```sh
//! WS_DEMO_REDIS=redis://127.0.0.1:6379 cargo run --release -p ws-app --features redis --example demo -- 127.0.0.1:8081
//! ```

mod app;

fn address() -> String {
    std::env::args()
        .nth(1)
        .or_else(|| std::env::var("WS_APP_DEMO_ADDR").ok())
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
}

/// Sends the `log` records of ws-app and its crates to stderr (`warn` and
/// above unless `RUST_LOG` says otherwise).
fn init_logging() {
    env_logger::Builder::new()
        .filter_level(log::LevelFilter::Warn)
        .parse_default_env()
        .init();
}

fn quiet() -> bool {
    std::env::var("WS_APP_DEMO_QUIET").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Installs the Redis broker when `WS_DEMO_REDIS` names a server; exits
/// with the reason if it cannot be reached.
#[cfg(feature = "redis")]
async fn with_redis(mut app: ws_app::App) -> ws_app::App {
    let Some(url) = std::env::var("WS_DEMO_REDIS")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return app;
    };
    match ws_app::redis::RedisBroker::connect(&url).await {
        Ok(broker) => {
            eprintln!(
                "ws-app demo: broadcast through Redis at {url} (node {})",
                broker.node_id()
            );
            app.broker(broker);
            app
        }
        Err(e) => {
            eprintln!("ws-app demo: {e}");
            std::process::exit(1);
        }
    }
}

/// Without the `redis` feature `WS_DEMO_REDIS` is ignored (with a warning).
#[cfg(not(feature = "redis"))]
async fn with_redis(app: ws_app::App) -> ws_app::App {
    if std::env::var("WS_DEMO_REDIS").is_ok_and(|u| !u.is_empty()) {
        eprintln!("ws-app demo: WS_DEMO_REDIS ignored: build with `--features redis`");
    }
    app
}

#[cfg(feature = "tokio")]
fn main() -> Result<(), ws_app::Error> {
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server = ws_app::Server::<ws_app::rt::Tokio>::bind(
            with_redis(app::build(quiet())).await,
            address(),
        )
        .await?;
        eprintln!(
            "ws-app demo listening on http://{} (tokio)",
            server.local_addr()
        );
        server.run().await
    })
}

#[cfg(all(feature = "smol", not(feature = "tokio")))]
fn main() -> Result<(), ws_app::Error> {
    init_logging();
    smol::block_on(async {
        let server = ws_app::Server::<ws_app::rt::Smol>::bind(
            with_redis(app::build(quiet())).await,
            address(),
        )
        .await?;
        eprintln!(
            "ws-app demo listening on http://{} (smol)",
            server.local_addr()
        );
        server.run().await
    })
}

#[cfg(not(any(feature = "tokio", feature = "smol")))]
fn main() {
    init_logging();
    let _ = (address(), app::build(quiet()));
    eprintln!("the demo needs the `tokio` or the `smol` feature");
}
