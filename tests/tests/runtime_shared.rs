//! The runtime adapters' shared behavioural suite (`runtime_common`), run
//! on three executors: tokio (`ws-runtime-tokio`), async-std and smol
//! (`ws-runtime-async-std`). Each scenario is a test named
//! `<executor>::<scenario>`.

mod runtime_common;

use std::future::Future;
use std::net::TcpStream;
use std::time::Duration;

use runtime_common::BoxFut;

/// Runs a tokio-tungstenite peer on a thread with its own tokio runtime.
fn peer_thread<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> BoxFut<T> {
    let (tx, rx) = futures_channel::oneshot::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _ = tx.send(runtime.block_on(future));
    });
    Box::pin(async move { rx.await.expect("the peer thread panicked") })
}

/// Real-time unit for executors without a virtual clock.
const REAL_UNIT: Duration = Duration::from_millis(50);

mod tokio_rt {
    use super::*;
    use crate::runtime_common;

    thread_local! {
        static PAUSED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    pub(crate) struct Tokio;

    impl runtime_common::TestRuntime for Tokio {
        type Io = ws_runtime_tokio::Io<tokio::net::TcpStream>;
        type Rt = ws_runtime_tokio::Runtime;

        fn block_on<F: Future>(paused: bool, future: F) -> F::Output {
            PAUSED.with(|p| p.set(paused));
            let mut builder = tokio::runtime::Builder::new_current_thread();
            builder.enable_all().start_paused(paused);
            builder.build().unwrap().block_on(future)
        }

        fn spawn<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> BoxFut<T> {
            let handle = tokio::spawn(future);
            Box::pin(async move { handle.await.expect("task panicked") })
        }

        fn spawn_peer<T: Send + 'static>(
            future: impl Future<Output = T> + Send + 'static,
        ) -> BoxFut<T> {
            // Same runtime, so a paused clock covers the peer too.
            Self::spawn(future)
        }

        fn sleep(duration: Duration) -> BoxFut<()> {
            Box::pin(tokio::time::sleep(duration))
        }

        fn unit() -> Duration {
            if PAUSED.with(|p| p.get()) {
                Duration::from_secs(1)
            } else {
                REAL_UNIT
            }
        }

        fn wrap(stream: TcpStream) -> Self::Io {
            ws_runtime_tokio::Io(tokio::net::TcpStream::from_std(stream).unwrap())
        }

        fn runtime() -> Self::Rt {
            ws_runtime_tokio::Runtime
        }
    }

    crate::scenarios!(Tokio);
}

mod async_std_rt {
    use super::*;
    use crate::runtime_common;

    pub(crate) struct AsyncStd;

    impl runtime_common::TestRuntime for AsyncStd {
        type Io = ws_runtime_async_std::Io<async_std::net::TcpStream>;
        type Rt = ws_runtime_async_std::Runtime;

        fn block_on<F: Future>(_paused: bool, future: F) -> F::Output {
            async_std::task::block_on(future)
        }

        fn spawn<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> BoxFut<T> {
            Box::pin(async_std::task::spawn(future))
        }

        fn spawn_peer<T: Send + 'static>(
            future: impl Future<Output = T> + Send + 'static,
        ) -> BoxFut<T> {
            peer_thread(future)
        }

        fn sleep(duration: Duration) -> BoxFut<()> {
            Box::pin(async_std::task::sleep(duration))
        }

        fn unit() -> Duration {
            REAL_UNIT
        }

        fn wrap(stream: TcpStream) -> Self::Io {
            ws_runtime_async_std::Io(async_std::net::TcpStream::from(stream))
        }

        fn runtime() -> Self::Rt {
            ws_runtime_async_std::Runtime::with_spawner(|future| {
                async_std::task::spawn(future);
            })
        }
    }

    crate::scenarios!(AsyncStd);
}

mod smol_rt {
    use super::*;
    use crate::runtime_common;

    pub(crate) struct Smol;

    impl runtime_common::TestRuntime for Smol {
        type Io = ws_runtime_async_std::Io<async_net::TcpStream>;
        type Rt = ws_runtime_async_std::Runtime;

        fn block_on<F: Future>(_paused: bool, future: F) -> F::Output {
            smol::block_on(future)
        }

        fn spawn<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> BoxFut<T> {
            Box::pin(smol::spawn(future))
        }

        fn spawn_peer<T: Send + 'static>(
            future: impl Future<Output = T> + Send + 'static,
        ) -> BoxFut<T> {
            peer_thread(future)
        }

        fn sleep(duration: Duration) -> BoxFut<()> {
            Box::pin(async move {
                smol::Timer::after(duration).await;
            })
        }

        fn unit() -> Duration {
            REAL_UNIT
        }

        fn wrap(stream: TcpStream) -> Self::Io {
            ws_runtime_async_std::Io(async_net::TcpStream::try_from(stream).unwrap())
        }

        fn runtime() -> Self::Rt {
            // smol's global executor: the crate's default spawner.
            ws_runtime_async_std::Runtime::new()
        }
    }

    crate::scenarios!(Smol);
}
