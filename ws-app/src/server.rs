//! [`Server`]: the accept loop, HTTP dispatch, the WebSocket upgrade and the
//! connection task. Written once, generic over [`rt::Runtime`].
//!
//! Each WebSocket connection is served by one task, the one that accepted
//! it: its socket, timers and outbound queue, and on_connect → handler →
//! close 1000/1011 → wait for the end → on_close (see [`crate::conn`]).

use std::collections::HashMap;
use std::future::poll_fn;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::Duration;

use ws_runtime::{Accept, CloseCode, Initiator, Reject};

use crate::AppConfig;
use crate::app::{App, HttpFn, Upgrade, WsRouteDef};
use crate::conn::{self, Limits, Link};
use crate::deps::Scope;
use crate::error::{CloseInfo, Error, Result};
use crate::http::{HeadError, HttpRequest, Method, Response, find_head_end, parse_head};
use crate::hub::{Hub, Outbox};
use crate::id::RouteId;
use crate::request::RequestHead;
use crate::rt::{
    self, AbortHandle, Either, Latch, Panicked, ServerStream, catch_panic, race, read_some, sleep,
    spawn, write_all_and_shutdown,
};
use crate::ws::{ConnInner, Ws};

/// A WebSocket route, ready to serve.
struct WsRoute {
    id: RouteId,
    def: WsRouteDef,
    scope: Scope,
}

/// An HTTP route, ready to serve.
struct HttpRoute {
    method: Method,
    handler: HttpFn,
    scope: Scope,
}

/// What every connection task shares.
struct Shared {
    ws: HashMap<String, Arc<WsRoute>>,
    http: HashMap<String, Vec<HttpRoute>>,
    hub: Hub,
    config: AppConfig,
    shutdown: Latch,
    /// Set once a shutdown has finished: every connection ended or dropped.
    stopped: Latch,
    /// Every accepted TCP connection whose task is still running.
    tracker: Tracker,
    /// WebSocket connections counted against `max_connections`.
    websockets: AtomicUsize,
}

/// The TCP connections being served, so that a shutdown can wait for them
/// and drop the ones that outstay it.
#[derive(Default)]
struct Tracker {
    state: Mutex<TrackerState>,
}

#[derive(Default)]
struct TrackerState {
    next: u64,
    conns: HashMap<u64, Arc<AbortHandle>>,
    /// Tasks waiting for `conns` to empty.
    idle: Vec<Waker>,
}

impl Tracker {
    fn state(&self) -> MutexGuard<'_, TrackerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn insert(&self, abort: Arc<AbortHandle>) -> u64 {
        let mut state = self.state();
        let id = state.next;
        state.next += 1;
        state.conns.insert(id, abort);
        id
    }

    fn remove(&self, id: u64) {
        let mut state = self.state();
        state.conns.remove(&id);
        if state.conns.is_empty() {
            for waker in state.idle.drain(..) {
                waker.wake();
            }
        }
    }

    /// Waits until no connection is left.
    async fn idle(&self) {
        poll_fn(|cx| {
            let mut state = self.state();
            if state.conns.is_empty() {
                return Poll::Ready(());
            }
            if !state.idle.iter().any(|w| w.will_wake(cx.waker())) {
                state.idle.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await;
    }

    /// Drops every connection still served: its reads and writes fail.
    fn abort_all(&self) -> usize {
        let conns: Vec<Arc<AbortHandle>> = self.state().conns.values().cloned().collect();
        for abort in &conns {
            abort.abort();
        }
        conns.len()
    }
}

/// Removes a connection from the [`Tracker`] when its task ends (or is
/// dropped).
struct Tracked {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.shared.tracker.remove(self.id);
    }
}

/// One WebSocket connection counted against `max_connections`, from its
/// upgrade request until its task ends (or is dropped).
struct WsSlot {
    shared: Arc<Shared>,
}

impl WsSlot {
    /// A slot, unless `max_connections` are served already.
    fn acquire(shared: &Arc<Shared>) -> Option<Self> {
        let limit = shared.config.max_connections.unwrap_or(usize::MAX);
        shared
            .websockets
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()?;
        Some(Self {
            shared: shared.clone(),
        })
    }
}

impl Drop for WsSlot {
    fn drop(&mut self) {
        self.shared.websockets.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A bound server, not yet accepting: [`run`](Self::run) it, or
/// [`spawn`](Self::spawn) it on the runtime.
///
/// ```no_run
/// # #[cfg(feature = "tokio")]
/// # async fn demo() -> Result<(), ws_app::Error> {
/// async fn echo(ws: ws_app::Ws) -> ws_app::Result<()> {
///     loop {
///         let text = ws.receive_text().await?;
///         ws.send_text(text).await?;
///     }
/// }
/// let mut app = ws_app::App::new();
/// let _ = app.websocket("/echo", echo);
/// let server = ws_app::Server::<ws_app::rt::Tokio>::bind(app, "127.0.0.1:0").await?;
/// println!("listening on {}", server.local_addr());
/// let handle = server.spawn();
/// // ... later:
/// handle.shutdown();
/// # Ok(()) }
/// ```
pub struct Server<R: rt::Runtime> {
    listener: R::Listener,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
}

impl<R: rt::Runtime> std::fmt::Debug for Server<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

/// A handle on a running server: its address, its hub, and shutdown.
#[derive(Clone)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The app's hub.
    pub fn hub(&self) -> Hub {
        self.shared.hub.clone()
    }

    /// Starts a graceful shutdown; returns at once. Idempotent.
    ///
    /// The server stops accepting (the listener is closed: new connections
    /// are refused), requests still in their HTTP phase are dropped, and
    /// every WebSocket is closed with 1001 (Going Away). The Close frame
    /// goes after the messages already accepted by `send_*`, `broadcast`
    /// and the hub, so a peer that keeps reading receives all of them
    /// first. Connections that have not finished their closing handshake
    /// after [`AppConfig::shutdown_timeout`] are dropped. Wait for all
    /// that with [`stopped`](Self::stopped).
    pub fn shutdown(&self) {
        self.shared.shutdown.set();
    }

    /// Waits until the server has stopped after a [`shutdown`](Self::shutdown):
    /// no connection left (each ended or was dropped). Never completes if
    /// the server is not running or not shutting down.
    pub async fn stopped(&self) {
        self.shared.stopped.wait().await;
    }

    /// [`shutdown`](Self::shutdown), then [`stopped`](Self::stopped).
    pub async fn shutdown_and_wait(&self) {
        self.shutdown();
        self.stopped().await;
    }

    /// The WebSocket connections counted against
    /// [`AppConfig::max_connections`] right now: each from its upgrade
    /// request until its task has ended.
    pub fn websocket_count(&self) -> usize {
        self.shared.websockets.load(Ordering::Acquire)
    }
}

impl<R: rt::Runtime> Server<R> {
    /// Binds `addr` (resolved with `std`, so `"localhost:8080"` works) and
    /// prepares `app`. Call inside the runtime `R`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the address does not resolve or cannot be bound.
    pub async fn bind(app: App, addr: impl ToSocketAddrs) -> Result<Self> {
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
        let mut last_error = None;
        for addr in addrs {
            match R::bind(addr).await {
                Ok(listener) => return Self::from_listener(app, listener),
                Err(err) => last_error = Some(err),
            }
        }
        Err(Error::Io(last_error.unwrap_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to bind")
        })))
    }

    fn from_listener(app: App, listener: R::Listener) -> Result<Self> {
        let local_addr = R::local_addr(&listener)?;
        let (routes, hub, config) = app.into_parts();
        let mut ws = HashMap::new();
        for (def, scope) in routes.ws {
            let id = RouteId::from(def.path.as_str());
            if ws.contains_key(&def.path) {
                log::warn!(
                    "WebSocket route {} registered twice; the last one wins",
                    def.path
                );
            }
            ws.insert(def.path.clone(), Arc::new(WsRoute { id, def, scope }));
        }
        let mut http: HashMap<String, Vec<HttpRoute>> = HashMap::new();
        for (def, scope) in routes.http {
            let routes = http.entry(def.path).or_default();
            routes.retain(|r| r.method != def.method);
            routes.push(HttpRoute {
                method: def.method,
                handler: def.handler,
                scope,
            });
        }
        Ok(Self {
            listener,
            local_addr,
            shared: Arc::new(Shared {
                ws,
                http,
                hub,
                config,
                shutdown: Latch::default(),
                stopped: Latch::default(),
                tracker: Tracker::default(),
                websockets: AtomicUsize::new(0),
            }),
        })
    }

    /// The address the server listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The app's hub.
    pub fn hub(&self) -> Hub {
        self.shared.hub.clone()
    }

    /// A handle to shut the server down from elsewhere.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            local_addr: self.local_addr,
            shared: self.shared.clone(),
        }
    }

    /// Accepts connections until [`ServerHandle::shutdown`], each served on
    /// a task of its own; then shuts down gracefully (see
    /// [`ServerHandle::shutdown`]) and returns once every connection ended
    /// or was dropped.
    pub async fn run(self) -> Result<()> {
        let runtime = R::runtime();
        let Self {
            listener, shared, ..
        } = self;
        loop {
            match race(R::accept(&listener), shared.shutdown.wait()).await {
                Either::Right(()) => break,
                Either::Left(Ok((stream, peer))) => {
                    let shared = shared.clone();
                    spawn(&runtime, serve_connection::<R>(shared, stream, peer));
                }
                Either::Left(Err(err)) => {
                    // Out of file descriptors, a connection reset before
                    // accept: wait a little rather than spin.
                    log::warn!("accept failed: {err}");
                    sleep(&runtime, Duration::from_millis(50)).await;
                }
            }
        }
        // New connections are refused from here on.
        drop(listener);
        shutdown_connections(&runtime, &shared).await;
        shared.stopped.set();
        Ok(())
    }

    /// Runs the server on a task of the runtime; returns its handle.
    pub fn spawn(self) -> ServerHandle {
        let handle = self.handle();
        spawn(&R::runtime(), async move {
            if let Err(err) = self.run().await {
                log::error!("server stopped: {err}");
            }
        });
        handle
    }
}

/// The end of a graceful shutdown: 1001 to every WebSocket (after what is
/// queued for it), a bounded wait for the closing handshakes, then the
/// rest is dropped.
async fn shutdown_connections<Rt: ws_runtime::Runtime>(runtime: &Rt, shared: &Shared) {
    // A connection registering concurrently sees the shutdown latch itself
    // (`run_connection`); requests in their HTTP phase drop themselves.
    shared
        .hub
        .close_all(CloseCode::GOING_AWAY, "server shutting down");
    let limit = shared.config.shutdown_timeout;
    if let Either::Right(()) = race(shared.tracker.idle(), sleep(runtime, limit)).await {
        let dropped = shared.tracker.abort_all();
        log::info!("shutdown: dropping {dropped} connections still open after {limit:?}");
        // Dropped transports end their drivers at once; a handler that
        // ignores its connection's end is cancelled after `handler_grace`.
        let settle = shared.config.handler_grace + Duration::from_secs(1);
        if let Either::Right(()) = race(shared.tracker.idle(), sleep(runtime, settle)).await {
            log::warn!("shutdown: connection tasks still running after {settle:?}");
        }
    }
}

/// Why reading a request head stopped.
enum HeadRead {
    TooLarge,
    Closed,
}

async fn read_head<T: ws_runtime::Transport>(
    io: &mut T,
    max: usize,
) -> std::result::Result<(Vec<u8>, usize), HeadRead> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = read_some(io, &mut chunk)
            .await
            .map_err(|_| HeadRead::Closed)?;
        if n == 0 {
            return Err(HeadRead::Closed);
        }
        let from = buf.len();
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find_head_end(&buf, from) {
            if end > max {
                return Err(HeadRead::TooLarge);
            }
            return Ok((buf, end));
        }
        if buf.len() > max {
            return Err(HeadRead::TooLarge);
        }
    }
}

async fn respond<T: ws_runtime::Transport>(io: &mut T, response: &Response, head_only: bool) {
    if let Err(err) = write_all_and_shutdown(io, &response.encode(head_only)).await {
        log::debug!("HTTP response not delivered: {err}");
    }
}

/// One accepted TCP connection: an HTTP request or a WebSocket upgrade.
async fn serve_connection<R: rt::Runtime>(
    shared: Arc<Shared>,
    stream: R::Stream,
    peer: SocketAddr,
) {
    let runtime = R::runtime();
    let mut io = ServerStream::new(stream);
    let _tracked = Tracked {
        id: shared.tracker.insert(io.abort_handle()),
        shared: shared.clone(),
    };
    let config = &shared.config;
    let read = race(
        read_head(&mut io, config.max_http_head),
        race(sleep(&runtime, config.http_timeout), shared.shutdown.wait()),
    )
    .await;
    let (buf, head_len) = match read {
        Either::Left(Ok(head)) => head,
        // Shutting down: drop the request.
        Either::Right(Either::Right(())) => return,
        Either::Left(Err(HeadRead::Closed)) => return,
        Either::Left(Err(HeadRead::TooLarge)) => {
            let response = Response::error(431, "request head too large");
            return respond(&mut io, &response, false).await;
        }
        Either::Right(Either::Left(())) => {
            let response = Response::error(408, "request timeout");
            return respond(&mut io, &response, false).await;
        }
    };
    let head = match parse_head(&buf[..head_len], peer) {
        Ok(head) => Arc::new(head),
        Err(HeadError::TooManyHeaders) => {
            let response = Response::error(431, "too many headers");
            return respond(&mut io, &response, false).await;
        }
        Err(HeadError::Malformed) => {
            let response = Response::error(400, "malformed request");
            return respond(&mut io, &response, false).await;
        }
    };
    let is_upgrade = head.headers.has_token("upgrade", "websocket");
    if is_upgrade {
        match shared.ws.get(&head.path).cloned() {
            Some(route) => upgrade::<R>(shared, route, io, buf, head).await,
            None => {
                let response = Response::error(404, "no WebSocket route here");
                respond(&mut io, &response, false).await;
            }
        }
        return;
    }
    if shared.http.contains_key(&head.path) {
        return serve_http::<R>(&shared, io, buf, head_len, head).await;
    }
    let response = if shared.ws.contains_key(&head.path) {
        // RFC 9110 §15.5.22: name the protocol to upgrade to.
        Response::error(
            426,
            "this is a WebSocket endpoint: connect with a WebSocket client",
        )
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
    } else {
        Response::error(404, "not found")
    };
    respond(&mut io, &response, head.method == "HEAD").await;
}

async fn serve_http<R: rt::Runtime>(
    shared: &Shared,
    mut io: ServerStream<R::Stream>,
    buf: Vec<u8>,
    head_len: usize,
    head: Arc<RequestHead>,
) {
    let runtime = R::runtime();
    let head_only = head.method == "HEAD";
    let method = match head.method.as_str() {
        "GET" | "HEAD" => Some(Method::Get),
        "POST" => Some(Method::Post),
        _ => None,
    };
    let routes = shared.http.get(&head.path).map_or(&[][..], Vec::as_slice);
    let Some(route) = routes.iter().find(|r| Some(r.method) == method) else {
        let mut allow: Vec<&str> = routes.iter().map(|r| r.method.as_str()).collect();
        if allow.contains(&"GET") {
            allow.push("HEAD");
        }
        let response = Response::error(405, "method not allowed").header("Allow", allow.join(", "));
        return respond(&mut io, &response, head_only).await;
    };
    let mut body = buf[head_len..].to_vec();
    if head.headers.contains("transfer-encoding") {
        let response = Response::error(501, "chunked request bodies are not supported");
        return respond(&mut io, &response, head_only).await;
    }
    let length = match head.headers.get("content-length").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(length)) => length,
        Some(Err(_)) => {
            let response = Response::error(400, "bad Content-Length");
            return respond(&mut io, &response, head_only).await;
        }
    };
    if length > shared.config.max_http_body {
        let response = Response::error(413, "request body too large");
        return respond(&mut io, &response, head_only).await;
    }
    if body.len() < length {
        let read_body = async {
            let mut chunk = [0u8; 4096];
            while body.len() < length {
                match read_some(&mut io, &mut chunk).await {
                    Ok(0) | Err(_) => return false,
                    Ok(n) => body.extend_from_slice(&chunk[..n]),
                }
            }
            true
        };
        match race(read_body, sleep(&runtime, shared.config.http_timeout)).await {
            Either::Left(true) => {}
            Either::Left(false) => return,
            Either::Right(()) => {
                let response = Response::error(408, "request timeout");
                return respond(&mut io, &response, head_only).await;
            }
        }
    }
    body.truncate(length);
    let request = HttpRequest {
        head: head.clone(),
        body,
        scope: route.scope.clone(),
        hub: shared.hub.clone(),
    };
    let response = match catch_panic((route.handler)(request)).await {
        Ok(response) => response,
        Err(Panicked) => {
            log::error!("HTTP handler for {} panicked", head.path);
            Response::error(500, "internal server error")
        }
    };
    respond(&mut io, &response, head_only).await;
}

/// The WebSocket handshake: the guard decides, `ws-runtime` validates and
/// answers (101, the guard's status, or the matching 4xx).
async fn upgrade<R: rt::Runtime>(
    shared: Arc<Shared>,
    route: Arc<WsRoute>,
    mut io: ServerStream<R::Stream>,
    buf: Vec<u8>,
    head: Arc<RequestHead>,
) {
    let runtime = R::runtime();
    if let Some(response) = refuse_origin(&shared.config, &head) {
        return respond(&mut io, &response, false).await;
    }
    let Some(slot) = WsSlot::acquire(&shared) else {
        log::debug!("upgrade to {} refused: connection limit reached", route.id);
        let response = Response::error(503, "too many connections: try again later")
            .header("Retry-After", "1");
        return respond(&mut io, &response, false).await;
    };
    let decision: std::result::Result<Accept, Reject> = match &route.def.guard {
        None => Ok(Accept::new()),
        Some(guard) => {
            let upgrade = Upgrade {
                head: head.clone(),
                scope: route.scope.clone(),
            };
            let timeout = sleep(&runtime, shared.config.http_timeout);
            match race(catch_panic(guard(upgrade)), timeout).await {
                Either::Left(Ok(decision)) => decision,
                Either::Left(Err(Panicked)) => {
                    log::error!("guard of {} panicked", route.id);
                    Err(Reject::new(500))
                }
                Either::Right(()) => {
                    log::warn!("guard of {} took longer than the HTTP timeout", route.id);
                    Err(Reject::new(503))
                }
            }
        }
    };
    // The connection exists, and is in the hub, before its 101 is written:
    // whatever is sent to it (by route, room or id) once the client can
    // see the 101 reaches it. Fan-out items are held until on_connect has
    // run, so they go out after the 101 and after its greeting.
    let conn = decision.as_ref().ok().map(|accept| {
        let config = &shared.config;
        let outbox = Arc::new(Outbox::new(config.outbound_capacity, config.slow_consumer));
        Arc::new(ConnInner::new(
            route.id.clone(),
            head.clone(),
            accept.selected_subprotocol().map(str::to_owned),
            route.scope.clone(),
            shared.hub.clone(),
            outbox,
            config.inbound_capacity,
        ))
    });
    let abort = io.abort_handle();
    io.unread(buf);
    let hub = &shared.hub;
    let to_register = conn.clone();
    // Registered once the request is parsed and the guard accepted it,
    // right before the 101 is written.
    let accept = ws_runtime::accept_with(io, runtime, &shared.config.websocket, move |_| {
        if let Some(conn) = &to_register {
            hub.register(conn);
        }
        decision
    });
    let ws = match race(accept, shared.shutdown.wait()).await {
        Either::Left(Ok(ws)) => ws,
        Either::Left(Err(err)) => {
            log::debug!("upgrade to {} refused: {err}", route.id);
            if let Some(conn) = conn {
                forget(&conn);
            }
            return;
        }
        Either::Right(()) => {
            if let Some(conn) = conn {
                forget(&conn);
            }
            return;
        }
    };
    let Some(conn) = conn else {
        // Unreachable: a 101 means the guard accepted.
        return;
    };
    run_connection::<R>(shared, route, conn, ws, abort).await;
    drop(slot);
}

/// A connection whose handshake failed (or lost to a shutdown) after it
/// was registered: out of the hub again, its queues closed; no on_close.
fn forget(conn: &ConnInner) {
    conn.finish(CloseInfo::new(
        CloseCode::ABNORMAL_CLOSURE,
        "handshake not completed",
        Initiator::Local,
        false,
    ));
}

/// `403` for an upgrade whose `Origin` is not on the allow-list.
fn refuse_origin(config: &AppConfig, head: &RequestHead) -> Option<Response> {
    let allowed = config.allowed_origins.as_ref()?;
    let origins = head.headers.get_all("origin");
    let ok = match origins.as_slice() {
        [] => true,
        [origin] => allowed
            .iter()
            .any(|a| a.eq_ignore_ascii_case(origin.trim())),
        // Two Origin headers: ambiguous, refused.
        _ => false,
    };
    if ok {
        return None;
    }
    log::debug!("upgrade refused: origin {origins:?} is not allowed");
    Some(Response::error(403, "origin not allowed"))
}

/// A connection after its `101`: the tasks, the callbacks, the handler.
/// `conn` is in the hub already (see [`upgrade`]).
async fn run_connection<R: rt::Runtime>(
    shared: Arc<Shared>,
    route: Arc<WsRoute>,
    conn: Arc<ConnInner>,
    ws: ws_runtime::WebSocket<ServerStream<R::Stream>, R::Rt>,
    abort: Arc<AbortHandle>,
) {
    let runtime = R::runtime();
    let config = &shared.config;
    debug_assert_eq!(conn.subprotocol.as_deref(), ws.subprotocol());
    if shared.shutdown.is_set() {
        // Registered after the shutdown's `close_all`: close it here.
        conn.begin_close(CloseCode::GOING_AWAY, "server shutting down");
    }
    let limits = Limits {
        grace: config.slow_consumer_grace,
        linger: config.close_timeout + config.slow_consumer_grace,
    };
    let link = Link::new(Box::new(ws), limits);
    let lifecycle = lifecycle(&route, &conn, config, &runtime);
    conn::run(&conn, link, lifecycle, runtime.clone(), &abort).await;
}

/// What runs in a connection's task besides its socket: on_connect, the
/// handler, the close, on_close.
async fn lifecycle<Rt: ws_runtime::Runtime>(
    route: &WsRoute,
    conn: &Arc<ConnInner>,
    config: &AppConfig,
    runtime: &Rt,
) {
    let ws = Ws::from_inner(conn.clone());
    if let Some(on_connect) = &route.def.on_connect {
        match catch_panic(on_connect(ws.clone())).await {
            Ok(Some(greeting)) => {
                if ws.is_open() {
                    let _ = ws.send_text(greeting).await;
                }
            }
            Ok(None) => {}
            Err(Panicked) => {
                log::error!(
                    "on_connect of {} panicked (connection {})",
                    route.id,
                    conn.id
                );
                let _ = ws.close_with(CloseCode::INTERNAL_ERROR, "").await;
            }
        }
    }
    // Broadcasts that arrived while on_connect ran go out after its greeting.
    conn.outbox.release_held();
    if ws.is_open() {
        let handler = (route.def.handler)(ws.clone());
        let grace = config.handler_grace;
        let ended_then_grace = async {
            conn::ended(conn).await;
            sleep(runtime, grace).await;
        };
        match race(catch_panic(handler), ended_then_grace).await {
            Either::Left(Ok(Ok(()))) => {
                let _ = ws.close_with(CloseCode::NORMAL, "").await;
            }
            Either::Left(Ok(Err(err))) => {
                // `Error::Closed` out of `receive_*`/`send_*` is how a
                // handler usually learns that its connection ended: not a
                // failure (and the connection is closing already).
                let closed = err.downcast_ref::<Error>().is_some_and(Error::is_closed);
                if closed && !ws.is_open() {
                    log::debug!(
                        "handler of {} ended with its connection {}",
                        route.id,
                        conn.id
                    );
                } else {
                    log::warn!(
                        "handler of {} failed (connection {}): {err}",
                        route.id,
                        conn.id
                    );
                    let _ = ws.close_with(CloseCode::INTERNAL_ERROR, "").await;
                }
            }
            Either::Left(Err(Panicked)) => {
                log::error!("handler of {} panicked (connection {})", route.id, conn.id);
                let _ = ws.close_with(CloseCode::INTERNAL_ERROR, "").await;
            }
            Either::Right(()) => {
                log::debug!(
                    "handler of {} cancelled {grace:?} after the end of {}",
                    route.id,
                    conn.id
                );
            }
        }
    }
    // Nobody reads any more: let the connection task discard what still
    // arrives, so the closing handshake is never stuck behind unread
    // messages.
    conn.inbox.close();
    conn.end.wait().await;
    if let Some(on_close) = &route.def.on_close
        && catch_panic(on_close(ws.clone())).await.is_err()
    {
        log::error!("on_close of {} panicked (connection {})", route.id, conn.id);
    }
}
