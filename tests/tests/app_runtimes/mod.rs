//! The two runtimes ws-app serves on, as the app suites see them: the
//! server side (a `ws_app::rt::Runtime`) and the client side (a
//! `ws-runtime` adapter). Shared by `app_shared.rs` (through `app_common`)
//! and `app_redis.rs`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use ws_runtime::Transport;

/// A boxed `Send` future.
pub(crate) type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// One runtime, as the scenarios see it.
pub(crate) trait AppRt: 'static {
    /// The runtime the app is served on.
    type Server: ws_app::rt::Runtime;
    /// The client's runtime adapter.
    type Client: ws_runtime::Runtime;

    /// Runs a scenario to completion.
    fn block_on<F: Future>(future: F) -> F::Output;
    /// The client's runtime value.
    fn client_runtime() -> Self::Client;
    /// Opens a TCP connection to `addr`.
    fn connect_tcp(addr: SocketAddr) -> BoxFut<std::io::Result<Box<dyn Transport>>>;
    /// Sleeps (failure guards only).
    fn sleep(duration: Duration) -> BoxFut<()>;
}

/// tokio: `ws_app::rt::Tokio`, clients on `ws-runtime-tokio`, scenarios on
/// a current-thread runtime.
pub(crate) struct Tokio;

impl AppRt for Tokio {
    type Server = ws_app::rt::Tokio;
    type Client = ws_runtime_tokio::Runtime;

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(future)
    }

    fn client_runtime() -> Self::Client {
        ws_runtime_tokio::Runtime
    }

    fn connect_tcp(addr: SocketAddr) -> BoxFut<std::io::Result<Box<dyn Transport>>> {
        Box::pin(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(ws_runtime_tokio::Io(stream)) as Box<dyn Transport>)
        })
    }

    fn sleep(duration: Duration) -> BoxFut<()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// smol: `ws_app::rt::Smol`, clients on `ws-runtime-async-std`.
pub(crate) struct Smol;

impl AppRt for Smol {
    type Server = ws_app::rt::Smol;
    type Client = ws_runtime_async_std::Runtime;

    fn block_on<F: Future>(future: F) -> F::Output {
        smol::block_on(future)
    }

    fn client_runtime() -> Self::Client {
        ws_runtime_async_std::Runtime::new()
    }

    fn connect_tcp(addr: SocketAddr) -> BoxFut<std::io::Result<Box<dyn Transport>>> {
        Box::pin(async move {
            let stream = async_net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(ws_runtime_async_std::Io(stream)) as Box<dyn Transport>)
        })
    }

    fn sleep(duration: Duration) -> BoxFut<()> {
        Box::pin(async move {
            smol::Timer::after(duration).await;
        })
    }
}
