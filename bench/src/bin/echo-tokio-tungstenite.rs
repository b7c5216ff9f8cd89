//! tokio-tungstenite 0.30 server, from its examples: `/broadcast` is the
//! chat example's peer map (`server.rs`: one unbounded channel per peer,
//! every message cloned to every other peer), any other path is the echo
//! example (`echo-server.rs`: `read.try_filter(..).forward(write)`, which
//! coalesces writes through `Sink::feed` until the stream would block).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_channel::mpsc::{UnboundedSender, unbounded};
use futures_util::{StreamExt, TryStreamExt, future, pin_mut};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

type PeerMap = Arc<Mutex<HashMap<SocketAddr, UnboundedSender<Message>>>>;

async fn handle_connection(peers: PeerMap, stream: TcpStream, addr: SocketAddr) {
    let mut path = String::new();
    // The callback's signature is tungstenite's, large error type and all.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| {
        path = request.uri().path().to_owned();
        Ok(response)
    };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let (write, read) = ws.split();
    if path != "/broadcast" {
        let _ = read
            .try_filter(|msg| future::ready(msg.is_text() || msg.is_binary()))
            .forward(write)
            .await;
        return;
    }
    let (tx, rx) = unbounded();
    lock(&peers).insert(addr, tx);
    let broadcast_incoming = read.try_for_each(|msg| {
        if msg.is_text() || msg.is_binary() {
            let peers = lock(&peers);
            for (_, peer) in peers.iter().filter(|(peer, _)| **peer != addr) {
                let _ = peer.unbounded_send(msg.clone());
            }
        }
        future::ok(())
    });
    let receive_from_others = rx.map(Ok).forward(write);
    pin_mut!(broadcast_incoming, receive_from_others);
    future::select(broadcast_incoming, receive_from_others).await;
    lock(&peers).remove(&addr);
}

fn lock(
    peers: &PeerMap,
) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, UnboundedSender<Message>>> {
    peers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn main() -> std::io::Result<()> {
    let addr = ws_bench::listen_addr("127.0.0.1:9104");
    let peers = PeerMap::default();
    ws_bench::current_thread().block_on(async move {
        let listener = TcpListener::bind(addr).await?;
        loop {
            let (stream, peer) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(handle_connection(peers.clone(), stream, peer));
        }
    })
}
