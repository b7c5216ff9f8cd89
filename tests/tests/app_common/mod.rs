//! The `ws-app` behavioural suite: every scenario is written once, generic
//! over [`AppRt`], and `app_shared.rs` instantiates it on tokio and on
//! smol (`ws_app::rt::Tokio`, `ws_app::rt::Smol`).
//!
//! Each scenario serves a real app on 127.0.0.1 (port 0) and talks to it
//! over loopback TCP with `ws-runtime`'s client (driven inline by the test)
//! or raw HTTP from a helper thread. Every loop is bounded; timeouts are
//! failure guards only, never part of an assertion. Server-side facts
//! (what a handler saw, that `on_close` ran) come back through an
//! [`Events`] channel injected as a global dependency.
//!
//! - `robyn_*` reproduce what Robyn's own WebSocket integration tests pin
//!   (`integration_tests/test_web_sockets.py`, `test_subrouter.py`,
//!   `test_easy_access_params.py`, `test_dependency_injection.py`).
//! - `fix_*` pin what ws-app does where Robyn gets it wrong.
//! - `beyond_*` cover what Robyn lacks (guards, by-id sends, rooms, HTTP).
//! - `demo_*` drive the demo server's endpoints (`ws-app/examples/demo`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use futures_channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures_util::StreamExt;
use futures_util::future::{Either, select};
use ws_app::{Accept, App, CloseCode, ConnId, Reject, Router, ServerHandle, Ws};
use ws_runtime::{ClientOptions, DataKind, Message, Transport};

#[path = "../../../ws-app/examples/demo/app.rs"]
mod demo_app;

pub(crate) use crate::app_runtimes::{AppRt, BoxFut};

/// The client connection type.
pub(crate) type Client<R> = ws_runtime::WebSocket<Box<dyn Transport>, <R as AppRt>::Client>;

/// How long any scenario may take before it counts as hung.
const GUARD: Duration = Duration::from_secs(60);

/// Fails the test if `future` takes longer than [`GUARD`].
pub(crate) async fn guarded<R: AppRt, T>(future: impl Future<Output = T>) -> T {
    let future = std::pin::pin!(future);
    match select(future, R::sleep(GUARD)).await {
        Either::Left((value, _)) => value,
        Either::Right(_) => panic!("scenario did not finish within {GUARD:?}"),
    }
}

// ------------------------------------------------------------------ helpers

/// Server-side facts reported to the test.
pub(crate) struct Events(Mutex<UnboundedSender<String>>);

impl Events {
    pub(crate) fn send(&self, event: impl Into<String>) {
        let _ = self.0.lock().unwrap().unbounded_send(event.into());
    }
}

fn events() -> (Events, UnboundedReceiver<String>) {
    let (tx, rx) = unbounded();
    (Events(Mutex::new(tx)), rx)
}

fn report(ws: &Ws, event: impl Into<String>) {
    if let Some(events) = ws.global::<Events>() {
        events.send(event);
    }
}

async fn next_event(rx: &mut UnboundedReceiver<String>) -> String {
    rx.next().await.expect("the event channel closed")
}

/// Serves `app` on 127.0.0.1:0.
async fn serve<R: AppRt>(app: App) -> ServerHandle {
    ws_app::Server::<R::Server>::bind(app, "127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
        .spawn()
}

async fn try_connect<R: AppRt>(
    server: &ServerHandle,
    target: &str,
    options: ClientOptions,
) -> Result<Client<R>, ws_runtime::Error> {
    let addr = server.local_addr();
    let io = R::connect_tcp(addr).await.expect("TCP connect");
    ws_runtime::connect_with(
        io,
        R::client_runtime(),
        &format!("ws://{addr}{target}"),
        &options,
    )
    .await
}

async fn connect<R: AppRt>(server: &ServerHandle, target: &str) -> Client<R> {
    try_connect::<R>(server, target, ClientOptions::new())
        .await
        .unwrap_or_else(|err| panic!("connecting to {target}: {err}"))
}

/// The next data message (a few Pings and Pongs skipped).
async fn next_message<R: AppRt>(client: &mut Client<R>) -> Message {
    for _ in 0..16 {
        match client.recv().await {
            Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => return message,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a data message, got {other:?}"),
        }
    }
    panic!("only control frames");
}

async fn recv_text<R: AppRt>(client: &mut Client<R>) -> String {
    match next_message::<R>(client).await {
        Message::Text(text) => text,
        other => panic!("expected text, got {other:?}"),
    }
}

async fn recv_json<R: AppRt>(client: &mut Client<R>) -> serde_json::Value {
    serde_json::from_str(&recv_text::<R>(client).await).expect("a JSON text message")
}

async fn send_text<R: AppRt>(client: &mut Client<R>, text: &str) {
    client.send(Message::text(text)).await.expect("send");
}

/// Reads until the server's Close frame (at most `limit` data messages
/// before it); returns its code and reason.
async fn expect_close_within<R: AppRt>(client: &mut Client<R>, limit: usize) -> (u16, String) {
    for _ in 0..=limit {
        match client.recv().await {
            Some(Ok(Message::Close(Some(frame)))) => return (frame.code.as_u16(), frame.reason),
            Some(Ok(Message::Close(None))) => return (1005, String::new()),
            Some(Ok(_)) => {}
            other => panic!("expected a Close frame, got {other:?}"),
        }
    }
    panic!("no Close frame within {limit} messages");
}

async fn expect_close<R: AppRt>(client: &mut Client<R>) -> (u16, String) {
    expect_close_within::<R>(client, 0).await
}

/// Sends a raw HTTP request from a helper thread; returns the whole
/// response (the server closes after one response).
fn http(addr: SocketAddr, request: String) -> BoxFut<String> {
    let (tx, rx) = futures_channel::oneshot::channel();
    std::thread::spawn(move || {
        let result = (|| -> std::io::Result<String> {
            let mut stream = std::net::TcpStream::connect(addr)?;
            stream.set_read_timeout(Some(GUARD))?;
            stream.write_all(request.as_bytes())?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response)?;
            Ok(String::from_utf8_lossy(&response).into_owned())
        })();
        let _ = tx.send(result);
    });
    Box::pin(async move {
        rx.await
            .expect("the HTTP thread panicked")
            .expect("HTTP exchange")
    })
}

fn get(path: &str, extra_headers: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n{extra_headers}\r\n")
}

fn upgrade_request(path: &str, extra_headers: &str) -> String {
    get(
        path,
        &format!(
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra_headers}"
        ),
    )
}

fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"))
}

fn body_of(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

fn is_uuid_v4(text: &str) -> bool {
    text.parse::<ConnId>().is_ok() && text.len() == 36 && text.as_bytes()[14] == b'4'
}

// ------------------------------------------------------------------ Robyn's tests

/// Robyn's `base_routes.py` WebSocket routes, rendered with ws-app.
fn robyn_app() -> (App, UnboundedReceiver<String>) {
    let (events, rx) = events();
    let mut app = App::new();
    app.inject_global(events);
    app.inject_global(Mutex::new(HashMap::<ConnId, u32>::new()));

    // /web_socket: per-connection state keyed by the id.
    async fn raw(ws: Ws) -> ws_app::Result<()> {
        loop {
            let _msg = ws.receive_text().await?;
            let count = {
                let state = ws.global::<Mutex<HashMap<ConnId, u32>>>().expect("state");
                let mut state = state.lock().unwrap();
                let count = state.entry(ws.id()).or_default();
                *count += 1;
                *count
            };
            match count {
                1 => {
                    ws.broadcast("This is a broadcast message")?;
                    ws.send_text("This is a message to self").await?;
                    ws.send_text("Whaaat??").await?;
                }
                2 => ws.send_text("Whooo??").await?,
                3 => {
                    let q = ws.query_params();
                    ws.broadcast(q.get_or("one", ""))?;
                    ws.send_text(q.get_or("two", "")).await?;
                    ws.send_text("*chika* *chika* Slim Shady.").await?;
                }
                _ => {
                    ws.send_text("Connection closed").await?;
                    return ws.close().await;
                }
            }
        }
    }
    let _ = app
        .websocket("/web_socket", raw)
        .on_connect(|_ws: Ws| async { Some("Hello world, from ws".to_owned()) })
        .on_close(|ws: Ws| async move { report(&ws, format!("closed {}", ws.id())) });

    async fn json(ws: Ws) -> ws_app::Result<()> {
        let replies = ["Whaaat??", "Whooo??", "*chika* *chika* Slim Shady."];
        for resp in replies.iter().cycle() {
            let msg = ws.receive_text().await?;
            ws.send_json(&serde_json::json!({"ws_id": ws.id(), "resp": resp, "msg": msg}))
                .await?;
        }
        Ok(())
    }
    let _ = app
        .websocket("/web_socket_json", json)
        .on_connect(|_ws: Ws| async { Some("Hello world, from ws".to_owned()) });

    // Dependency injection in the handler, on_connect and on_close.
    app.inject_global_named("GLOBAL_DEPENDENCY", "GLOBAL DEPENDENCY".to_owned());
    app.inject_named("ROUTER_DEPENDENCY", "ROUTER DEPENDENCY".to_owned());
    fn deps_of(ws: &Ws) -> String {
        let global = ws.globals().get_named::<String>("GLOBAL_DEPENDENCY");
        let router = ws.router_deps().get_named::<String>("ROUTER_DEPENDENCY");
        format!(
            "{} {}",
            global.map_or("-", String::as_str),
            router.map_or("-", String::as_str)
        )
    }
    async fn di(ws: Ws) -> ws_app::Result<()> {
        loop {
            ws.receive_text().await?;
            ws.send_text(format!("handler: {}", deps_of(&ws))).await?;
        }
    }
    let _ = app
        .websocket("/web_socket_di", di)
        .on_connect(|ws: Ws| async move { Some(format!("connect: {}", deps_of(&ws))) })
        .on_close(|ws: Ws| async move {
            let global = ws
                .globals()
                .get_named::<String>("GLOBAL_DEPENDENCY")
                .cloned();
            report(&ws, format!("di close: {}", global.unwrap_or_default()));
        });

    async fn echo(ws: Ws) -> ws_app::Result<()> {
        loop {
            let text = ws.receive_text().await?;
            ws.send_text(text).await?;
        }
    }
    let _ = app
        .websocket("/web_socket_echo", echo)
        .on_connect(|_ws: Ws| async { Some(String::new()) });

    async fn silent(ws: Ws) -> ws_app::Result<()> {
        loop {
            let text = ws.receive_text().await?;
            report(&ws, format!("silent got {text}"));
        }
    }
    let _ = app
        .websocket("/web_socket_empty_returns", silent)
        .on_connect(|_ws: Ws| async { None })
        .on_close(|ws: Ws| async move { report(&ws, format!("silent closed {}", ws.id())) });

    async fn binary(ws: Ws) -> ws_app::Result<()> {
        loop {
            let data = ws.receive_bytes().await?;
            ws.send_bytes(data).await?;
        }
    }
    let _ = app.websocket("/web_socket_binary", binary);

    // Sub-routers; prefixes accumulate through nesting.
    let mut nested = Router::new("/nested");
    let _ = nested
        .websocket("/ws", |ws: Ws| async move {
            while ws.receive_text().await? == "ping" {
                ws.send_text("nested message").await?;
            }
            Ok::<_, ws_app::Error>(())
        })
        .on_connect(|_ws: Ws| async { Some("Hello from the nested sub router".to_owned()) });
    async fn sub_ws(ws: Ws) -> ws_app::Result<()> {
        loop {
            ws.receive_text().await?;
            ws.send_text("Message").await?;
        }
    }
    let mut sub = Router::new("/sub_router");
    let _ = sub
        .websocket("/ws", sub_ws)
        .on_connect(|_ws: Ws| async { Some("Hello from the sub router".to_owned()) });
    let _ = sub.websocket("/global", |ws: Ws| async move {
        let value = ws.globals().get_named::<String>("OVERRIDABLE").cloned();
        ws.send_text(value.unwrap_or_default()).await
    });
    sub.include_router(nested);
    app.include_router(sub);

    // "Easy access" typed query parameters with defaults.
    fn room(ws: &Ws) -> String {
        ws.query_params().get_or("room", "default").to_owned()
    }
    async fn easy(ws: Ws) -> ws_app::Result<()> {
        let room = room(&ws);
        let page: u32 = ws
            .query_params()
            .get_parsed("page")
            .and_then(Result::ok)
            .unwrap_or(1);
        loop {
            let msg = ws.receive_text().await?;
            ws.send_text(format!("room={room} page={page} msg={msg}"))
                .await?;
        }
    }
    let _ = app
        .websocket("/web_socket_easy", easy)
        .on_connect(|ws: Ws| async move { Some(format!("connected to {}", room(&ws))) });

    // Globals: the last write wins, wherever the route is.
    app.inject_global_named("OVERRIDABLE", "GLOBAL DEPENDENCY".to_owned());
    app.inject_global_named("OVERRIDABLE", "GLOBAL DEPENDENCY OVERRIDE".to_owned());
    (app, rx)
}

/// `test_web_socket_raw_benchmark`: greeting, broadcast + direct sends in
/// any order, query parameters, per-id state; then the handler's own text
/// "Connection closed" followed by a real Close frame (1000).
pub(crate) async fn robyn_raw_benchmark<R: AppRt>() {
    let (app, mut events) = robyn_app();
    let server = serve::<R>(app).await;
    let mut ws = connect::<R>(&server, "/web_socket?one=hi&two=hello").await;
    assert_eq!(recv_text::<R>(&mut ws).await, "Hello world, from ws");
    send_text::<R>(&mut ws, "My name is?").await;
    let mut got = vec![
        recv_text::<R>(&mut ws).await,
        recv_text::<R>(&mut ws).await,
        recv_text::<R>(&mut ws).await,
    ];
    got.sort();
    assert_eq!(
        got,
        [
            "This is a broadcast message",
            "This is a message to self",
            "Whaaat??"
        ]
    );
    send_text::<R>(&mut ws, "My name is?").await;
    assert_eq!(recv_text::<R>(&mut ws).await, "Whooo??");
    send_text::<R>(&mut ws, "My name is?").await;
    let mut got = vec![
        recv_text::<R>(&mut ws).await,
        recv_text::<R>(&mut ws).await,
        recv_text::<R>(&mut ws).await,
    ];
    got.sort();
    assert_eq!(got, ["*chika* *chika* Slim Shady.", "hello", "hi"]);
    send_text::<R>(&mut ws, "test").await;
    assert_eq!(recv_text::<R>(&mut ws).await, "Connection closed");
    assert_eq!(expect_close::<R>(&mut ws).await, (1000, String::new()));
    assert!(ws.recv().await.is_none(), "the closing handshake completes");
    assert!(next_event(&mut events).await.starts_with("closed "));
    assert!(server.hub().connections("/web_socket").is_empty());
    server.shutdown();
}

/// `test_web_socket_json`: JSON text frames `{ws_id, resp, msg}`.
pub(crate) async fn robyn_json<R: AppRt>() {
    let (app, _events) = robyn_app();
    let server = serve::<R>(app).await;
    let mut ws = connect::<R>(&server, "/web_socket_json").await;
    assert_eq!(recv_text::<R>(&mut ws).await, "Hello world, from ws");
    let mut ids = Vec::new();
    for resp in ["Whaaat??", "Whooo??", "*chika* *chika* Slim Shady."] {
        send_text::<R>(&mut ws, "My name is?").await;
        let reply = recv_json::<R>(&mut ws).await;
        assert_eq!(reply["resp"], resp);
        assert_eq!(reply["msg"], "My name is?");
        ids.push(reply["ws_id"].as_str().expect("ws_id").to_owned());
    }
    assert!(is_uuid_v4(&ids[0]), "{ids:?}");
    assert!(ids.iter().all(|id| *id == ids[0]));
    assert_eq!(
        server.hub().connections("/web_socket_json")[0].to_string(),
        ids[0]
    );
    ws.close(CloseCode::NORMAL, "").await.expect("clean close");
    server.shutdown();
}

/// `test_websocket_di`: global and router dependencies in on_connect, the
/// handler (stable across messages) and on_close.
pub(crate) async fn robyn_di<R: AppRt>() {
    let (app, mut events) = robyn_app();
    let server = serve::<R>(app).await;
    let mut ws = connect::<R>(&server, "/web_socket_di").await;
    assert_eq!(
        recv_text::<R>(&mut ws).await,
        "connect: GLOBAL DEPENDENCY ROUTER DEPENDENCY"
    );
    for msg in ["test", "test again"] {
        send_text::<R>(&mut ws, msg).await;
        assert_eq!(
            recv_text::<R>(&mut ws).await,
            "handler: GLOBAL DEPENDENCY ROUTER DEPENDENCY"
        );
    }
    ws.close(CloseCode::NORMAL, "").await.expect("clean close");
    assert_eq!(next_event(&mut events).await, "di close: GLOBAL DEPENDENCY");
    server.shutdown();
}

/// `test_websocket_large_payload`: on_connect's `Some("")` is an empty
/// text message; 128 KiB of text echoes byte-exact.
pub(crate) async fn robyn_large_payload<R: AppRt>() {
    let (app, _events) = robyn_app();
    let server = serve::<R>(app).await;
    let mut ws = connect::<R>(&server, "/web_socket_echo").await;
    assert_eq!(recv_text::<R>(&mut ws).await, "");
    let big: String = (0..128 * 1024)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    send_text::<R>(&mut ws, &big).await;
    assert_eq!(recv_text::<R>(&mut ws).await, big);
    ws.close(CloseCode::NORMAL, "").await.expect("clean close");
    server.shutdown();
}

/// Large messages back to back, in both kinds, echoed byte-exact by a
/// `receive`/`send` handler: on tokio their frames are mostly read straight
/// into the message buffer (the in-place read), on smol through the
/// receive buffer; a small message after them still arrives whole.
pub(crate) async fn beyond_large_messages_back_to_back<R: AppRt>() {
    let mut app = App::new();
    app.config_mut().max_message_size(2 << 20);
    async fn echo(ws: Ws) -> ws_app::Result<()> {
        loop {
            let message = ws.receive().await?;
            ws.send(message).await?;
        }
    }
    let _ = app.websocket("/echo", echo);
    let server = serve::<R>(app).await;
    let mut ws = connect::<R>(&server, "/echo").await;
    // Bytes that differ from message to message and position to position,
    // so that a chunk delivered twice, dropped or misplaced shows.
    let binary = |len: usize, seed: u32| -> Vec<u8> {
        (0..len as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
            .collect()
    };
    let text: String = (0..100_000).map(|i| ['a', 'é', '€', '𝄞'][i % 4]).collect();
    let sent = [
        Message::Binary(binary(1 << 20, 1)),
        Message::Text(text.clone()),
        Message::Binary(binary(300_001, 2)),
        Message::Binary(binary(65_536, 3)),
        Message::Text(text),
        Message::text("small"),
    ];
    for message in &sent {
        ws.feed(message.clone()).await.expect("feed");
    }
    ws.flush().await.expect("flush");
    for message in &sent {
        let got = next_message::<R>(&mut ws).await;
        assert!(
            got == *message,
            "{} bytes came back different",
            message.len()
        );
    }
    ws.close(CloseCode::NORMAL, "").await.expect("clean close");
    server.shutdown();
}

/// `test_websocket_empty_returns`: on_connect returning `None` sends
/// nothing; a handler that never replies; the client sends and closes
/// cleanly.
pub(crate) async fn robyn_empty_returns<R: AppRt>() {
    let (app, mut events) = robyn_app();
    let server = serve::<R>(app).await;
    let mut ws = connect::<R>(&server, "/web_socket_empty_returns").await;
    send_text::<R>(&mut ws, "test message").await;
    assert_eq!(next_event(&mut events).await, "silent got test message");
    // Nothing was sent: the first thing back is the answer to our Close.
    let bye = ws_runtime::CloseFrame::new(CloseCode::NORMAL, "");
    ws.send(Message::Close(Some(bye))).await.unwrap();
    assert_eq!(expect_close::<R>(&mut ws).await.0, 1000);
    assert!(ws.recv().await.is_none(), "clean closing handshake");
    assert!(next_event(&mut events).await.starts_with("silent closed "));
    server.shutdown();
}

/// `test_websocket_binary_echo`: non-UTF-8 binary round-trips as binary.
pub(crate) async fn robyn_binary_echo<R: AppRt>() {
    let (app, _events) = robyn_app();
    let server = serve::<R>(app).await;
    let mut ws = connect::<R>(&server, "/web_socket_binary").await;
    let payload = vec![0x00, 0xff, 0xfe, 0x80, 0x81, 0xc3, 0x28, 0x01];
    ws.send(Message::binary(payload.clone())).await.unwrap();
    assert_eq!(next_message::<R>(&mut ws).await, Message::Binary(payload));
    ws.close(CloseCode::NORMAL, "").await.expect("clean close");
    server.shutdown();
}

/// `test_sub_router_web_socket` and `test_nested_sub_router_web_socket`:
/// prefixes accumulate.
pub(crate) async fn robyn_sub_routers<R: AppRt>() {
    let (app, _events) = robyn_app();
    let server = serve::<R>(app).await;
    let mut ws = connect::<R>(&server, "/sub_router/ws").await;
    assert_eq!(recv_text::<R>(&mut ws).await, "Hello from the sub router");
    send_text::<R>(&mut ws, "hi").await;
    assert_eq!(recv_text::<R>(&mut ws).await, "Message");
    ws.close(CloseCode::NORMAL, "").await.expect("clean close");

    let mut ws = connect::<R>(&server, "/sub_router/nested/ws").await;
    assert_eq!(
        recv_text::<R>(&mut ws).await,
        "Hello from the nested sub router"
    );
    send_text::<R>(&mut ws, "ping").await;
    assert_eq!(recv_text::<R>(&mut ws).await, "nested message");
    ws.close(CloseCode::NORMAL, "").await.expect("clean close");

    let refused = try_connect::<R>(&server, "/nested/ws", ClientOptions::new()).await;
    assert!(refused.is_err(), "the unprefixed path is not a route");
    server.shutdown();
}

/// `test_easy_access_ws_with_params` and `..._with_defaults`.
pub(crate) async fn robyn_easy_access_params<R: AppRt>() {
    let (app, _events) = robyn_app();
    let server = serve::<R>(app).await;
    let mut ws = connect::<R>(&server, "/web_socket_easy?room=chat&page=5").await;
    assert_eq!(recv_text::<R>(&mut ws).await, "connected to chat");
    send_text::<R>(&mut ws, "hello").await;
    assert_eq!(recv_text::<R>(&mut ws).await, "room=chat page=5 msg=hello");
    ws.close(CloseCode::NORMAL, "").await.expect("clean close");

    let mut ws = connect::<R>(&server, "/web_socket_easy").await;
    assert_eq!(recv_text::<R>(&mut ws).await, "connected to default");
    send_text::<R>(&mut ws, "hello").await;
    assert_eq!(
        recv_text::<R>(&mut ws).await,
        "room=default page=1 msg=hello"
    );
    ws.close(CloseCode::NORMAL, "").await.expect("clean close");
    server.shutdown();
}

/// `test_subrouter_global_dependency_injection`: globals are shared by
/// every router and the last write wins.
pub(crate) async fn robyn_globals_last_write_wins<R: AppRt>() {
    let (app, _events) = robyn_app();
    let server = serve::<R>(app).await;
    let mut ws = connect::<R>(&server, "/sub_router/global").await;
    assert_eq!(recv_text::<R>(&mut ws).await, "GLOBAL DEPENDENCY OVERRIDE");
    assert_eq!(expect_close::<R>(&mut ws).await.0, 1000);
    assert!(ws.recv().await.is_none(), "clean closing handshake");
    server.shutdown();
}

// ------------------------------------------------------------------ fixes

/// Echoes text; reports how `receive_text` ended and what on_close saw;
/// "close <code> <reason>" makes the server close.
fn closing_app() -> (App, UnboundedReceiver<String>) {
    let (events, rx) = events();
    let mut app = App::new();
    app.inject_global(events);
    async fn handler(ws: Ws) -> ws_app::Result<()> {
        loop {
            let text = match ws.receive_text().await {
                Ok(text) => text,
                Err(err) => {
                    let info = err.close_info().expect("a close error");
                    report(
                        &ws,
                        format!("receive: {} {}", info.code.as_u16(), info.reason),
                    );
                    return Err(err);
                }
            };
            if let Some(rest) = text.strip_prefix("close ") {
                let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                let code = CloseCode::new(code.parse().unwrap_or(1000));
                ws.close_with(code, reason).await?;
                continue;
            }
            if text == "broadcast" {
                ws.broadcast("Connection closed")?;
                continue;
            }
            if text == "fail" {
                return Err(ws_app::Error::Io(std::io::Error::other(
                    "the handler failed",
                )));
            }
            if text == "return" {
                return Ok(());
            }
            if text == "panic" {
                panic!("the handler panicked on purpose");
            }
            ws.send_text(text).await?;
        }
    }
    let _ = app.websocket("/ws", handler).on_close(|ws: Ws| async move {
        let info = ws.close_info().expect("on_close sees how it ended");
        let listed = ws.hub().is_connected(ws.id());
        report(
            &ws,
            format!(
                "on_close: {} {} listed={listed}",
                info.code.as_u16(),
                info.reason
            ),
        );
    });
    (app, rx)
}

/// Close frames with codes, both ways; `receive_*` carries the peer's
/// real code and reason (Robyn: always 1000 / "", and no Close frame).
pub(crate) async fn fix_close_codes_both_ways<R: AppRt>() {
    let (app, mut events) = closing_app();
    let server = serve::<R>(app).await;

    let mut ws = connect::<R>(&server, "/ws").await;
    ws.close(CloseCode::new(4001), "bye")
        .await
        .expect("clean close");
    assert_eq!(next_event(&mut events).await, "receive: 4001 bye");
    assert_eq!(
        next_event(&mut events).await,
        "on_close: 4001 bye listed=false"
    );

    let mut ws = connect::<R>(&server, "/ws").await;
    send_text::<R>(&mut ws, "close 4002 go away").await;
    assert_eq!(
        expect_close::<R>(&mut ws).await,
        (4002, "go away".to_owned())
    );
    assert!(ws.recv().await.is_none(), "clean closing handshake");
    // The server's view is the client's answer: same code (RFC 6455
    // §5.5.1), and this client sends no reason back.
    assert_eq!(next_event(&mut events).await, "receive: 4002 ");
    assert_eq!(
        next_event(&mut events).await,
        "on_close: 4002  listed=false"
    );
    server.shutdown();
}

/// Any text can be sent, including Robyn's magic "Connection closed".
pub(crate) async fn fix_no_magic_strings<R: AppRt>() {
    let (app, _events) = closing_app();
    let server = serve::<R>(app).await;
    let mut ws = connect::<R>(&server, "/ws").await;
    send_text::<R>(&mut ws, "Connection closed").await;
    assert_eq!(recv_text::<R>(&mut ws).await, "Connection closed");
    send_text::<R>(&mut ws, "broadcast").await;
    assert_eq!(recv_text::<R>(&mut ws).await, "Connection closed");
    send_text::<R>(&mut ws, "still here?").await;
    assert_eq!(recv_text::<R>(&mut ws).await, "still here?");
    ws.close(CloseCode::NORMAL, "").await.expect("clean close");
    server.shutdown();
}

/// A handler that returns closes with 1000, one that fails or panics with
/// 1011 (Robyn left the socket open and unread).
pub(crate) async fn fix_handler_end_closes<R: AppRt>() {
    let (app, mut events) = closing_app();
    let server = serve::<R>(app).await;
    for (command, code) in [("return", 1000), ("fail", 1011), ("panic", 1011)] {
        let mut ws = connect::<R>(&server, "/ws").await;
        send_text::<R>(&mut ws, command).await;
        assert_eq!(expect_close::<R>(&mut ws).await.0, code, "{command}");
        assert!(
            ws.recv().await.is_none(),
            "{command}: clean closing handshake"
        );
        let event = next_event(&mut events).await;
        assert_eq!(
            event,
            format!("on_close: {code}  listed=false"),
            "{command}"
        );
    }
    assert_eq!(server.hub().connection_count(), 0);
    server.shutdown();
}

/// Every way a connection ends unregisters it, and on_close runs once per
/// connection (Robyn kept client-closed connections in its registry).
pub(crate) async fn fix_every_disconnect_unregisters<R: AppRt>() {
    let (app, mut events) = closing_app();
    let server = serve::<R>(app).await;
    let hub = server.hub();
    let mut clients = Vec::new();
    for _ in 0..4 {
        let mut ws = connect::<R>(&server, "/ws").await;
        send_text::<R>(&mut ws, "ready").await;
        assert_eq!(recv_text::<R>(&mut ws).await, "ready");
        clients.push(ws);
    }
    assert_eq!(hub.connections("/ws").len(), 4);
    // 1: the client closes; 2: the TCP connection just drops; 3: the
    // server closes; 4: the handler returns.
    let mut clients = clients.into_iter();
    let mut first = clients.next().unwrap();
    first
        .close(CloseCode::NORMAL, "")
        .await
        .expect("clean close");
    drop(clients.next().unwrap());
    let mut third = clients.next().unwrap();
    send_text::<R>(&mut third, "close 1001 going").await;
    assert_eq!(expect_close::<R>(&mut third).await.0, 1001);
    assert!(third.recv().await.is_none(), "clean closing handshake");
    let mut fourth = clients.next().unwrap();
    send_text::<R>(&mut fourth, "return").await;
    assert_eq!(expect_close::<R>(&mut fourth).await.0, 1000);
    assert!(fourth.recv().await.is_none(), "clean closing handshake");

    let mut on_close = Vec::new();
    for _ in 0..16 {
        if on_close.len() == 4 {
            break;
        }
        let event = next_event(&mut events).await;
        if event.starts_with("on_close") {
            assert!(event.ends_with("listed=false"), "{event}");
            on_close.push(event);
        }
    }
    on_close.sort();
    assert!(
        on_close.iter().any(|e| e.starts_with("on_close: 1006 ")),
        "{on_close:?}"
    );
    assert!(hub.connections("/ws").is_empty());
    assert_eq!(hub.connection_count(), 0);
    assert!(hub.routes().is_empty());
    // Exactly once: no fifth on_close, whatever else comes.
    drop((first, third, fourth));
    server.shutdown();
    while let Ok(event) = events.try_recv() {
        assert!(
            !event.starts_with("on_close"),
            "on_close ran twice: {event}"
        );
    }
}

/// Fragmented messages are reassembled (Robyn dropped continuation
/// frames).
pub(crate) async fn fix_fragments_reassembled<R: AppRt>() {
    let mut app = App::new();
    async fn echo(ws: Ws) -> ws_app::Result<()> {
        loop {
            let message = ws.receive().await?;
            ws.send(message).await?;
        }
    }
    let _ = app.websocket("/echo", echo);
    let server = serve::<R>(app).await;
    let mut ws = connect::<R>(&server, "/echo").await;
    ws.send_fragment(DataKind::Text, "Hel", false)
        .await
        .unwrap();
    ws.send_fragment(DataKind::Text, "lo, wö", false)
        .await
        .unwrap();
    ws.send_fragment(DataKind::Text, "rld", true).await.unwrap();
    ws.flush().await.unwrap();
    assert_eq!(recv_text::<R>(&mut ws).await, "Hello, wörld");
    for (i, chunk) in [&[0u8, 1][..], &[2], &[0xff, 0xfe]].iter().enumerate() {
        ws.send_fragment(DataKind::Binary, chunk.to_vec(), i == 2)
            .await
            .unwrap();
    }
    ws.flush().await.unwrap();
    assert_eq!(
        next_message::<R>(&mut ws).await,
        Message::Binary(vec![0, 1, 2, 0xff, 0xfe])
    );
    ws.close(CloseCode::NORMAL, "").await.expect("clean close");
    server.shutdown();
}

/// A message over the configured limit closes the connection with 1009
/// (Robyn ignored the overflow).
pub(crate) async fn fix_oversize_closes_1009<R: AppRt>() {
    let (events, mut rx) = events();
    let mut app = App::new();
    app.inject_global(events);
    app.config_mut().max_message_size(1024);
    async fn echo(ws: Ws) -> ws_app::Result<()> {
        loop {
            let text = ws.receive_text().await?;
            ws.send_text(text).await?;
        }
    }
    let _ = app.websocket("/echo", echo).on_close(|ws: Ws| async move {
        let code = ws.close_info().map_or(0, |i| i.code.as_u16());
        report(&ws, format!("on_close {code}"));
    });
    let server = serve::<R>(app).await;
    let mut ws = connect::<R>(&server, "/echo").await;
    send_text::<R>(&mut ws, &"x".repeat(1024)).await;
    assert_eq!(recv_text::<R>(&mut ws).await.len(), 1024);
    // Over the limit, also when it arrives in fragments.
    ws.send_fragment(DataKind::Text, "y".repeat(600), false)
        .await
        .unwrap();
    ws.send_fragment(DataKind::Text, "y".repeat(600), true)
        .await
        .unwrap();
    ws.flush().await.unwrap();
    assert_eq!(expect_close::<R>(&mut ws).await.0, 1009);
    assert_eq!(next_event(&mut rx).await, "on_close 1009");
    assert!(server.hub().connections("/echo").is_empty());
    server.shutdown();
}

/// on_connect's greeting is the first message even when a broadcast to
/// the route arrives while on_connect runs (the broadcast follows it).
pub(crate) async fn fix_greeting_before_broadcasts<R: AppRt>() {
    let (events, mut rx) = events();
    let mut app = App::new();
    app.inject_global(events);
    async fn relay(ws: Ws) -> ws_app::Result<()> {
        loop {
            let text = ws.receive_text().await?;
            ws.broadcast(text)?;
            ws.send_text("sent").await?;
        }
    }
    let _ = app
        .websocket("/room", relay)
        .on_connect(|ws: Ws| async move {
            report(&ws, "on_connect");
            // Holds on_connect open until the client says so.
            let go = ws.receive_text().await.ok()?;
            Some(format!("greeting after {go}"))
        });
    let server = serve::<R>(app).await;
    let mut a = connect::<R>(&server, "/room").await;
    assert_eq!(next_event(&mut rx).await, "on_connect");
    send_text::<R>(&mut a, "go").await;
    assert_eq!(recv_text::<R>(&mut a).await, "greeting after go");
    let mut b = connect::<R>(&server, "/room").await;
    assert_eq!(next_event(&mut rx).await, "on_connect");
    // b is registered and inside on_connect: a broadcasts to the route.
    send_text::<R>(&mut a, "news").await;
    assert_eq!(recv_text::<R>(&mut a).await, "news");
    assert_eq!(recv_text::<R>(&mut a).await, "sent");
    send_text::<R>(&mut b, "go").await;
    assert_eq!(recv_text::<R>(&mut b).await, "greeting after go");
    assert_eq!(recv_text::<R>(&mut b).await, "news");
    a.close(CloseCode::NORMAL, "").await.expect("clean close");
    b.close(CloseCode::NORMAL, "").await.expect("clean close");
    server.shutdown();
}

const FEED_MESSAGES: usize = 192;
const FEED_SIZE: usize = 64 * 1024;

/// `/feed`: "go" broadcasts [`FEED_MESSAGES`] binary messages to the route,
/// paced by the sender's own reading, then sends "done" to the sender.
fn feed_app(grace: Duration) -> (App, UnboundedReceiver<String>) {
    let (events, rx) = events();
    let mut app = App::new();
    app.inject_global(events);
    app.config_mut()
        .outbound_capacity(8)
        .slow_consumer_grace(grace);
    async fn feed(ws: Ws) -> ws_app::Result<()> {
        loop {
            if ws.receive_text().await? != "go" {
                continue;
            }
            let chunk = vec![0x5a; FEED_SIZE];
            for _ in 0..FEED_MESSAGES {
                ws.broadcast(chunk.clone())?;
                // Pace the loop to this client, never to the others.
                ws.flush().await?;
            }
            ws.send_text("done").await?;
        }
    }
    let _ = app
        .websocket("/feed", feed)
        .on_connect(|_ws: Ws| async { Some("registered".to_owned()) })
        .on_close(|ws: Ws| async move {
            let info = ws.close_info().expect("ended");
            report(
                &ws,
                format!(
                    "on_close {} {} {}",
                    ws.id(),
                    info.code.as_u16(),
                    info.reason
                ),
            );
        });
    (app, rx)
}

/// Reads the fast client's share of the feed.
async fn read_feed<R: AppRt>(fast: &mut Client<R>) {
    for i in 0..FEED_MESSAGES {
        match next_message::<R>(fast).await {
            Message::Binary(data) => assert_eq!(data.len(), FEED_SIZE, "message {i}"),
            other => panic!("expected the feed, got {other:?}"),
        }
    }
    assert_eq!(recv_text::<R>(fast).await, "done");
}

/// A client that stops reading cannot stall a broadcast: the broadcaster
/// and the fast client finish, and the slow one is closed with 1013 after
/// the bytes already handed to its socket (Robyn: unbounded queues).
pub(crate) async fn fix_slow_consumer_closed_1013<R: AppRt>() {
    let (app, mut events) = feed_app(GUARD * 2);
    let server = serve::<R>(app).await;
    let hub = server.hub();
    let mut fast = connect::<R>(&server, "/feed").await;
    let mut slow = connect::<R>(&server, "/feed").await;
    for client in [&mut fast, &mut slow] {
        assert_eq!(recv_text::<R>(client).await, "registered");
    }
    assert_eq!(hub.connections("/feed").len(), 2);
    // `slow` reads nothing until the fast client got everything.
    send_text::<R>(&mut fast, "go").await;
    read_feed::<R>(&mut fast).await;
    assert!(
        hub.dropped_messages() > 0,
        "the slow client's queue overflowed"
    );
    assert_eq!(
        hub.connections("/feed").len(),
        1,
        "the slow client was unregistered"
    );
    // Now it reads: what was already on its way, then the Close.
    let (code, reason) = expect_close_within::<R>(&mut slow, FEED_MESSAGES).await;
    assert_eq!((code, reason.as_str()), (1013, "slow consumer"));
    assert!(slow.recv().await.is_none(), "clean closing handshake");
    let event = next_event(&mut events).await;
    assert!(event.ends_with(" 1013 "), "{event}");
    // The fast client is unaffected.
    send_text::<R>(&mut fast, "go").await;
    read_feed::<R>(&mut fast).await;
    fast.close(CloseCode::NORMAL, "")
        .await
        .expect("clean close");
    server.shutdown();
}

/// A slow client that never reads again is dropped after the grace period
/// (it can never see a Close frame), and still unregistered with on_close.
pub(crate) async fn fix_slow_consumer_dropped_after_grace<R: AppRt>() {
    let (app, mut events) = feed_app(Duration::from_millis(100));
    let server = serve::<R>(app).await;
    let hub = server.hub();
    let mut fast = connect::<R>(&server, "/feed").await;
    let mut slow = connect::<R>(&server, "/feed").await;
    for client in [&mut fast, &mut slow] {
        assert_eq!(recv_text::<R>(client).await, "registered");
    }
    send_text::<R>(&mut fast, "go").await;
    read_feed::<R>(&mut fast).await;
    // The slow client's connection ends without it reading a byte.
    let event = next_event(&mut events).await;
    assert!(event.starts_with("on_close "), "{event}");
    assert_eq!(hub.connections("/feed").len(), 1);
    drop(slow);
    fast.close(CloseCode::NORMAL, "")
        .await
        .expect("clean close");
    server.shutdown();
}

// ------------------------------------------------------------------ beyond Robyn

fn guarded_app() -> (App, UnboundedReceiver<String>) {
    let (events, rx) = events();
    let mut app = App::new();
    app.inject_global(events);
    app.inject_global_named("TOKEN", "s3cret".to_owned());
    async fn handler(ws: Ws) -> ws_app::Result<()> {
        let header = ws.headers().get("x-client").unwrap_or("-").to_owned();
        ws.send_text(format!(
            "subprotocol={} x-client={header} path={}",
            ws.subprotocol().unwrap_or("-"),
            ws.path()
        ))
        .await?;
        loop {
            ws.receive_text().await?;
        }
    }
    let _ = app
        .websocket("/secure", handler)
        .guard(|up| async move {
            if up.origin().is_some_and(|o| o != "https://good.example") {
                return Err(Reject::new(403).body("cross-site"));
            }
            let expected = up.globals().get_named::<String>("TOKEN").cloned();
            match up.query_params().get("token") {
                None => Err(Reject::new(401)
                    .header("WWW-Authenticate", "Token")
                    .body("no token")),
                Some(token) if Some(token) == expected.as_deref() => {
                    match up.subprotocols().into_iter().find(|p| p == "chat.v2") {
                        Some(p) => Ok(Accept::new().subprotocol(p)),
                        None => Ok(Accept::new()),
                    }
                }
                Some(_) => Err(Reject::new(403).body("bad token")),
            }
        })
        .on_connect(|ws: Ws| async move {
            report(&ws, "connected");
            None
        });
    async fn refuse(ws: Ws) -> ws_app::Result<()> {
        report(&ws, "refuse: the handler ran");
        Ok(())
    }
    let _ = app
        .websocket("/refuse", refuse)
        .on_connect(|ws: Ws| async move {
            ws.close_with(CloseCode::new(4003), "not today").await.ok();
            Some("never sent".to_owned())
        })
        .on_close(|ws: Ws| async move {
            let code = ws.close_info().map_or(0, |i| i.code.as_u16());
            report(&ws, format!("refuse closed {code}"));
        });
    app.get("/health", |_req| async {
        ws_app::Response::json(&serde_json::json!({"status": "ok"}))
    });
    (app, rx)
}

/// A guard refuses with a real HTTP status before the 101 (Robyn had no
/// way to refuse), sees headers and origin, and picks a subprotocol.
pub(crate) async fn beyond_guard_rejects_and_picks_subprotocol<R: AppRt>() {
    let (app, mut events) = guarded_app();
    let server = serve::<R>(app).await;
    let addr = server.local_addr();
    let response = http(addr, upgrade_request("/secure", "")).await;
    assert_eq!(status_of(&response), 401, "{response}");
    assert!(response.contains("WWW-Authenticate: Token"), "{response}");
    assert_eq!(body_of(&response), "no token");
    let response = http(addr, upgrade_request("/secure?token=nope", "")).await;
    assert_eq!(status_of(&response), 403, "{response}");
    let response = http(
        addr,
        upgrade_request("/secure?token=s3cret", "Origin: https://evil.example\r\n"),
    )
    .await;
    assert_eq!(
        (status_of(&response), body_of(&response)),
        (403, "cross-site")
    );
    let refused = try_connect::<R>(&server, "/secure?token=nope", ClientOptions::new()).await;
    assert!(refused.is_err());

    let options = ClientOptions::new()
        .subprotocol("chat.v1")
        .subprotocol("chat.v2")
        .header("X-Client", "test-suite")
        .header("Origin", "https://good.example");
    let mut ws = try_connect::<R>(&server, "/secure?token=s3cret", options)
        .await
        .expect("accepted");
    assert_eq!(ws.subprotocol(), Some("chat.v2"));
    assert_eq!(
        recv_text::<R>(&mut ws).await,
        "subprotocol=chat.v2 x-client=test-suite path=/secure"
    );
    // Refused upgrades ran no callback: the first event is this connection's.
    assert_eq!(next_event(&mut events).await, "connected");
    ws.close(CloseCode::NORMAL, "").await.expect("clean close");
    server.shutdown();
}

/// `close()` from on_connect sends a real Close frame; neither the
/// greeting nor the handler follows.
pub(crate) async fn beyond_close_from_on_connect<R: AppRt>() {
    let (app, mut events) = guarded_app();
    let server = serve::<R>(app).await;
    let mut ws = connect::<R>(&server, "/refuse").await;
    assert_eq!(
        expect_close::<R>(&mut ws).await,
        (4003, "not today".to_owned())
    );
    assert!(ws.recv().await.is_none());
    assert_eq!(next_event(&mut events).await, "refuse closed 4003");
    server.shutdown();
}

/// Plain HTTP next to the WebSockets: JSON routes, 404, 426 for a plain
/// GET on a WebSocket route, 405, HEAD, and a 404 for an upgrade to an
/// unknown path.
pub(crate) async fn beyond_http_routes<R: AppRt>() {
    let (app, _events) = guarded_app();
    let server = serve::<R>(app).await;
    let addr = server.local_addr();
    let response = http(addr, get("/health", "")).await;
    assert_eq!(status_of(&response), 200, "{response}");
    assert!(response.contains("Content-Type: application/json"));
    assert_eq!(body_of(&response), r#"{"status":"ok"}"#);
    let response = http(addr, get("/nope", "")).await;
    assert_eq!(status_of(&response), 404);
    let response = http(addr, get("/secure", "")).await;
    assert_eq!(status_of(&response), 426, "{response}");
    assert!(response.contains("Upgrade: websocket"));
    let response = http(addr, "HEAD /health HTTP/1.1\r\nHost: t\r\n\r\n".to_owned()).await;
    assert_eq!((status_of(&response), body_of(&response)), (200, ""));
    let response = http(
        addr,
        "DELETE /health HTTP/1.1\r\nHost: t\r\n\r\n".to_owned(),
    )
    .await;
    assert_eq!(status_of(&response), 405);
    assert!(response.contains("Allow: GET, HEAD"), "{response}");
    let response = http(addr, upgrade_request("/nope", "")).await;
    assert_eq!(status_of(&response), 404);
    let response = http(addr, "\x16\x03\x01 not http\r\n\r\n".to_owned()).await;
    assert_eq!(status_of(&response), 400);
    let huge = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "b".repeat(20 * 1024));
    let response = http(addr, huge).await;
    assert_eq!(status_of(&response), 431);
    server.shutdown();
}

/// Sending to one connection by id from an HTTP handler and from a
/// background task; query parameters are percent-decoded with repeated
/// keys kept; typed JSON receive.
pub(crate) async fn beyond_send_by_id_from_anywhere<R: AppRt>() {
    let (events, mut rx) = events();
    let mut app = App::new();
    app.inject_global(events);
    #[derive(serde::Deserialize)]
    struct Move {
        x: i32,
        y: i32,
    }
    async fn player(ws: Ws) -> ws_app::Result<()> {
        let q = ws.query_params();
        ws.send_text(format!("{} {:?}", q.get_or("name", "-"), q.get_all("tag")))
            .await?;
        report(&ws, format!("id {}", ws.id()));
        loop {
            match ws.receive_json::<Move>().await {
                Ok(m) => ws.send_text(format!("moved {} {}", m.x, m.y)).await?,
                Err(ws_app::Error::Json(err)) => ws.send_text(format!("bad move: {err}")).await?,
                Err(err) => return Err(err),
            }
        }
    }
    let _ = app.websocket("/player", player);
    app.post("/send", |req| async move {
        let id = req
            .query_params()
            .get("id")
            .and_then(|id| id.parse::<ConnId>().ok());
        let Some(id) = id else {
            return ws_app::Response::text("bad id").with_status(400);
        };
        let text = req.body_text().unwrap_or_default().to_owned();
        match req.hub().send(id, text) {
            Ok(()) => ws_app::Response::json(
                &serde_json::json!({"connected": req.hub().is_connected(id)}),
            ),
            Err(err) => ws_app::Response::text(err.to_string()).with_status(500),
        }
    });
    let hub = app.hub();
    let server = serve::<R>(app).await;
    let mut ws = connect::<R>(&server, "/player?name=J%C3%BCrgen+X&tag=a&tag=b%26c").await;
    assert_eq!(recv_text::<R>(&mut ws).await, r#"Jürgen X ["a", "b&c"]"#);
    let id: ConnId = next_event(&mut rx).await["id ".len()..].parse().unwrap();
    send_text::<R>(&mut ws, r#"{"x": 1, "y": -2}"#).await;
    assert_eq!(recv_text::<R>(&mut ws).await, "moved 1 -2");
    send_text::<R>(&mut ws, "not json").await;
    assert!(recv_text::<R>(&mut ws).await.starts_with("bad move: "));

    let body = "from HTTP";
    let request = format!(
        "POST /send?id={id} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let response = http(server.local_addr(), request).await;
    assert_eq!(body_of(&response), r#"{"connected":true}"#, "{response}");
    assert_eq!(recv_text::<R>(&mut ws).await, "from HTTP");

    // A background task holding the hub from before the server started.
    let task_hub = hub.clone();
    std::thread::spawn(move || task_hub.send(id, vec![1u8, 2, 3]).unwrap())
        .join()
        .unwrap();
    assert_eq!(
        next_message::<R>(&mut ws).await,
        Message::Binary(vec![1, 2, 3])
    );
    // Unknown ids are no error; the message goes nowhere.
    hub.send(ConnId::new_v4(), "nobody").unwrap();
    ws.close(CloseCode::NORMAL, "").await.expect("clean close");
    server.shutdown();
}

/// Rooms: join, leave, send with and without the sender, listings.
pub(crate) async fn beyond_rooms<R: AppRt>() {
    let (events, mut rx) = events();
    let mut app = App::new();
    app.inject_global(events);
    async fn member(ws: Ws) -> ws_app::Result<()> {
        report(
            &ws,
            format!("{} {}", ws.query_params().get_or("name", "?"), ws.id()),
        );
        loop {
            let text = ws.receive_text().await?;
            let (command, arg) = text.split_once(' ').unwrap_or((&text, ""));
            match command {
                "join" => {
                    ws.join(arg);
                }
                "leave" => {
                    ws.leave(arg);
                }
                "all" => ws.send_to_room("red", arg)?,
                "others" => ws.send_to_room_others("red", arg)?,
                _ => {}
            }
            ws.send_text(format!("ok {text}")).await?;
        }
    }
    let _ = app.websocket("/rooms", member);
    let server = serve::<R>(app).await;
    let hub = server.hub();
    let mut names = HashMap::new();
    let mut a = connect::<R>(&server, "/rooms?name=a").await;
    let mut b = connect::<R>(&server, "/rooms?name=b").await;
    let mut c = connect::<R>(&server, "/rooms?name=c").await;
    for _ in 0..3 {
        let event = next_event(&mut rx).await;
        let (name, id) = event.split_once(' ').unwrap();
        names.insert(name.to_owned(), id.parse::<ConnId>().unwrap());
    }
    for ws in [&mut a, &mut b] {
        send_text::<R>(ws, "join red").await;
        assert_eq!(recv_text::<R>(ws).await, "ok join red");
    }
    let mut red = vec![names["a"], names["b"]];
    red.sort();
    assert_eq!(hub.room_members("red"), red);
    assert_eq!(hub.rooms_of(names["a"]), vec![ws_app::RoomId::from("red")]);

    send_text::<R>(&mut a, "all hello red").await;
    assert_eq!(recv_text::<R>(&mut a).await, "hello red");
    assert_eq!(recv_text::<R>(&mut a).await, "ok all hello red");
    assert_eq!(recv_text::<R>(&mut b).await, "hello red");
    send_text::<R>(&mut a, "others psst").await;
    assert_eq!(recv_text::<R>(&mut a).await, "ok others psst");
    assert_eq!(recv_text::<R>(&mut b).await, "psst");
    send_text::<R>(&mut b, "leave red").await;
    assert_eq!(recv_text::<R>(&mut b).await, "ok leave red");
    assert_eq!(hub.room_members("red"), vec![names["a"]]);
    hub.send_to_room("red", "from the hub").unwrap();
    assert_eq!(recv_text::<R>(&mut a).await, "from the hub");
    // b and c got nothing: their next message is the reply to a command.
    for ws in [&mut b, &mut c] {
        send_text::<R>(ws, "ping").await;
        assert_eq!(recv_text::<R>(ws).await, "ok ping");
    }
    a.close(CloseCode::NORMAL, "").await.expect("clean close");
    // The last member left: the room is gone once a's connection is.
    send_text::<R>(&mut b, "ping").await;
    assert_eq!(recv_text::<R>(&mut b).await, "ok ping");
    b.close(CloseCode::NORMAL, "").await.expect("clean close");
    c.close(CloseCode::NORMAL, "").await.expect("clean close");
    server.shutdown();
}

/// Shutting the server down closes every connection with 1001 and stops
/// accepting.
pub(crate) async fn beyond_shutdown_closes_with_1001<R: AppRt>() {
    let (app, mut events) = closing_app();
    let server = serve::<R>(app).await;
    let mut ws = connect::<R>(&server, "/ws").await;
    send_text::<R>(&mut ws, "ready").await;
    assert_eq!(recv_text::<R>(&mut ws).await, "ready");
    server.shutdown();
    let (code, reason) = expect_close::<R>(&mut ws).await;
    assert_eq!((code, reason.as_str()), (1001, "server shutting down"));
    assert!(ws.recv().await.is_none(), "clean closing handshake");
    assert_eq!(next_event(&mut events).await, "receive: 1001 ");
    assert!(next_event(&mut events).await.starts_with("on_close: 1001"));
    assert_eq!(server.hub().connection_count(), 0);
}

// ------------------------------------------------------------------ the demo

/// `/chat`: two clients see each other's messages; the sender also gets
/// the acknowledgement.
pub(crate) async fn demo_chat_between_two_clients<R: AppRt>() {
    let server = serve::<R>(demo_app::build(true)).await;
    let mut a = connect::<R>(&server, "/chat").await;
    let mut b = connect::<R>(&server, "/chat").await;
    let welcome_a = recv_text::<R>(&mut a).await;
    assert!(welcome_a.starts_with("Welcome, ") && welcome_a.ends_with('!'));
    let id_a = &welcome_a["Welcome, ".len()..welcome_a.len() - 1];
    assert!(is_uuid_v4(id_a));
    assert!(recv_text::<R>(&mut b).await.starts_with("Welcome, "));
    send_text::<R>(&mut a, "hello from a").await;
    let line = format!("User {id_a}: hello from a");
    assert_eq!(recv_text::<R>(&mut a).await, line);
    assert_eq!(recv_text::<R>(&mut a).await, "Your message was sent");
    assert_eq!(recv_text::<R>(&mut b).await, line);
    a.close(CloseCode::NORMAL, "").await.expect("clean close");
    b.close(CloseCode::NORMAL, "").await.expect("clean close");
    server.shutdown();
}

/// The demo's other endpoints and its HTTP routes.
pub(crate) async fn demo_endpoints<R: AppRt>() {
    let server = serve::<R>(demo_app::build(true)).await;
    let addr = server.local_addr();

    let mut ws = connect::<R>(&server, "/web_socket").await;
    let greeting = recv_text::<R>(&mut ws).await;
    let id = greeting.rsplit(' ').next().unwrap().to_owned();
    assert!(is_uuid_v4(&id), "{greeting}");
    send_text::<R>(&mut ws, "hi").await;
    assert_eq!(recv_text::<R>(&mut ws).await, format!("Echo from {id}: hi"));
    ws.close(CloseCode::NORMAL, "").await.expect("clean close");

    let mut ws = connect::<R>(&server, "/api/ws").await;
    send_text::<R>(&mut ws, r#"{"n": 1}"#).await;
    let reply = recv_json::<R>(&mut ws).await;
    assert_eq!(reply["echo"]["n"], 1);
    assert!(is_uuid_v4(reply["id"].as_str().unwrap()));
    assert!(reply["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(reply["timestamp_ms"].as_u64().unwrap() > 0);
    ws.close(CloseCode::NORMAL, "").await.expect("clean close");

    let mut note = connect::<R>(&server, "/notifications").await;
    send_text::<R>(&mut note, "deploy done").await;
    let broadcast = recv_json::<R>(&mut note).await;
    assert_eq!(
        (broadcast["type"].as_str(), broadcast["message"].as_str()),
        (Some("notification"), Some("deploy done"))
    );
    let ack = recv_json::<R>(&mut note).await;
    assert_eq!(
        (ack["type"].as_str(), ack["delivered_to"].as_u64()),
        (Some("ack"), Some(1))
    );
    let request =
        "POST /api/notify HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello".to_owned();
    assert_eq!(body_of(&http(addr, request).await), r#"{"delivered_to":1}"#);
    let pushed = recv_json::<R>(&mut note).await;
    assert_eq!(
        (pushed["from"].as_str(), pushed["message"].as_str()),
        (Some("server"), Some("hello"))
    );

    let mut p1 = connect::<R>(&server, "/game").await;
    assert_eq!(recv_json::<R>(&mut p1).await["type"], "welcome");
    let mut p2 = connect::<R>(&server, "/game").await;
    assert_eq!(recv_json::<R>(&mut p2).await["type"], "welcome");
    assert_eq!(recv_json::<R>(&mut p1).await["type"], "join");
    send_text::<R>(&mut p1, r#"{"action":"move","x":3,"y":4}"#).await;
    for p in [&mut p1, &mut p2] {
        let event = recv_json::<R>(p).await;
        assert_eq!(
            (
                event["type"].as_str(),
                event["x"].as_i64(),
                event["y"].as_i64()
            ),
            (Some("move"), Some(3), Some(4))
        );
    }
    send_text::<R>(&mut p2, r#"{"action":"chat","message":"gg"}"#).await;
    for p in [&mut p1, &mut p2] {
        assert_eq!(recv_json::<R>(p).await["message"], "gg");
    }
    send_text::<R>(&mut p2, "nonsense").await;
    assert_eq!(recv_json::<R>(&mut p2).await["type"], "error");
    p2.close(CloseCode::NORMAL, "").await.expect("clean close");
    assert_eq!(recv_json::<R>(&mut p1).await["type"], "leave");
    p1.close(CloseCode::NORMAL, "").await.expect("clean close");

    let response = http(addr, get("/health", "")).await;
    assert_eq!(status_of(&response), 200);
    let health: serde_json::Value = serde_json::from_str(body_of(&response)).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["routes"]["/notifications"], 1);
    let response = http(addr, get("/api/connections", "")).await;
    let listing: serde_json::Value = serde_json::from_str(body_of(&response)).unwrap();
    assert_eq!(
        listing["routes"]["/notifications"].as_array().map(Vec::len),
        Some(1)
    );
    let page = http(addr, get("/", "")).await;
    assert_eq!(status_of(&page), 200);
    for id in [
        "id=\"endpoint\"",
        "id=\"connect\"",
        "id=\"message\"",
        "id=\"send\"",
        "id=\"log\"",
        "id=\"status\"",
    ] {
        assert!(page.contains(id), "the page lacks {id}");
    }
    note.close(CloseCode::NORMAL, "")
        .await
        .expect("clean close");
    server.shutdown();
}

/// The DI endpoint: 401 without a token, 403 with a bad one, before the
/// upgrade; global and router dependencies once connected.
pub(crate) async fn demo_dependency_injection<R: AppRt>() {
    let server = serve::<R>(demo_app::build(true)).await;
    let addr = server.local_addr();
    assert_eq!(
        status_of(&http(addr, upgrade_request("/di/ws", "")).await),
        401
    );
    assert_eq!(
        status_of(&http(addr, upgrade_request("/di/ws?token=x", "")).await),
        403
    );
    let mut ws = connect::<R>(&server, "/di/ws?token=demo-token").await;
    assert_eq!(
        recv_text::<R>(&mut ws).await,
        "connect: hello alice, 0 messages stored so far"
    );
    send_text::<R>(&mut ws, "one").await;
    let reply = recv_json::<R>(&mut ws).await;
    assert_eq!(
        (reply["user"].as_str(), reply["stored_messages"].as_u64()),
        (Some("alice"), Some(1))
    );
    assert!(reply["your_previous_message"].is_null());
    send_text::<R>(&mut ws, "two").await;
    let reply = recv_json::<R>(&mut ws).await;
    assert_eq!(reply["your_previous_message"], "one");
    assert_eq!(reply["messages_total"], 2);
    ws.close(CloseCode::NORMAL, "").await.expect("clean close");
    let mut bob = connect::<R>(&server, "/di/ws?token=bob-token").await;
    assert_eq!(
        recv_text::<R>(&mut bob).await,
        "connect: hello bob, 2 messages stored so far"
    );
    bob.close(CloseCode::NORMAL, "").await.expect("clean close");
    server.shutdown();
}

/// Declares one `#[test]` per scenario for a runtime.
#[macro_export]
macro_rules! app_scenarios {
    ($rt:ty) => {
        $crate::app_scenarios!(@ $rt:
            robyn_raw_benchmark robyn_json robyn_di robyn_large_payload robyn_empty_returns
            robyn_binary_echo robyn_sub_routers robyn_easy_access_params
            robyn_globals_last_write_wins
            fix_close_codes_both_ways fix_no_magic_strings fix_handler_end_closes
            fix_every_disconnect_unregisters fix_fragments_reassembled fix_oversize_closes_1009
            fix_greeting_before_broadcasts
            fix_slow_consumer_closed_1013 fix_slow_consumer_dropped_after_grace
            beyond_guard_rejects_and_picks_subprotocol beyond_close_from_on_connect
            beyond_http_routes beyond_send_by_id_from_anywhere beyond_rooms
            beyond_shutdown_closes_with_1001 beyond_large_messages_back_to_back
            demo_chat_between_two_clients demo_endpoints demo_dependency_injection
        );
    };
    (@ $rt:ty: $($name:ident)*) => {
        $(
            #[test]
            fn $name() {
                use $crate::app_common::AppRt as _;
                <$rt>::block_on($crate::app_common::guarded::<$rt, _>(
                    $crate::app_common::$name::<$rt>(),
                ));
            }
        )*
    };
}
