//! The `ws-app` suite (`app_common`), run on both of ws-app's runtimes:
//! tokio (`ws_app::rt::Tokio`) and smol (`ws_app::rt::Smol`). Each
//! scenario is a test named `<runtime>::<scenario>`.

mod app_common;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use app_common::BoxFut;
use ws_runtime::Transport;

mod tokio_rt {
    use super::*;

    pub(crate) struct Tokio;

    impl app_common::AppRt for Tokio {
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

    crate::app_scenarios!(Tokio);
}

mod smol_rt {
    use super::*;

    pub(crate) struct Smol;

    impl app_common::AppRt for Smol {
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

    crate::app_scenarios!(Smol);
}
