//! fastwebsockets 0.10 echo server, as its `examples/echo_server.rs`:
//! hyper's HTTP/1 server with upgrades, `upgrade::upgrade`, then a
//! `FragmentCollector` with `read_frame` / `write_frame` in an
//! `unconstrained` task on a current-thread runtime.

use fastwebsockets::{OpCode, WebSocketError, upgrade};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use tokio::net::TcpListener;

async fn handle_client(fut: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = fastwebsockets::FragmentCollector::new(fut.await?);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => break,
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
    Ok(())
}

async fn server_upgrade(
    mut req: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, fut) = upgrade::upgrade(&mut req)?;
    tokio::task::spawn(async move {
        let _ = tokio::task::unconstrained(handle_client(fut)).await;
    });
    Ok(response)
}

fn main() -> std::io::Result<()> {
    let addr = ws_bench::listen_addr("127.0.0.1:9105");
    ws_bench::current_thread().block_on(async move {
        let listener = TcpListener::bind(addr).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = http1::Builder::new()
                    .serve_connection(io, service_fn(server_upgrade))
                    .with_upgrades()
                    .await;
            });
        }
    })
}
