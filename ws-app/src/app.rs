//! [`App`], [`Router`], [`Route`] and [`AppConfig`]: how an application is
//! put together.

use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ws_runtime::ws_proto::handshake::RequestLimits;
use ws_runtime::{Accept, Reject, WebSocketConfig};

use crate::broker::Broker;
use crate::deps::{Deps, Scope};
use crate::error::BoxError;
use crate::http::{HttpRequest, Method, Response};
use crate::hub::{Hub, SlowConsumer};
use crate::request::{Headers, QueryParams, RequestHead};
use crate::ws::Ws;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
pub(crate) type HandlerFn = Arc<dyn Fn(Ws) -> BoxFuture<Result<(), BoxError>> + Send + Sync>;
pub(crate) type ConnectFn = Arc<dyn Fn(Ws) -> BoxFuture<Option<String>> + Send + Sync>;
pub(crate) type CloseFn = Arc<dyn Fn(Ws) -> BoxFuture<()> + Send + Sync>;
pub(crate) type GuardFn = Arc<dyn Fn(Upgrade) -> BoxFuture<Result<Accept, Reject>> + Send + Sync>;
pub(crate) type HttpFn = Arc<dyn Fn(HttpRequest) -> BoxFuture<Response> + Send + Sync>;

/// Settings of an app: WebSocket limits and timers, queue sizes, the
/// slow-consumer policy, HTTP limits. `&mut self` setters:
///
/// ```
/// use std::time::Duration;
/// let mut app = ws_app::App::new();
/// app.config_mut()
///     .max_message_size(256 * 1024)
///     .outbound_capacity(64)
///     .slow_consumer(ws_app::SlowConsumer::Close(ws_app::CloseCode::POLICY_VIOLATION))
///     .handler_grace(Duration::from_secs(1));
/// ```
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub(crate) websocket: WebSocketConfig,
    pub(crate) outbound_capacity: usize,
    pub(crate) inbound_capacity: usize,
    pub(crate) slow_consumer: SlowConsumer,
    pub(crate) slow_consumer_grace: Duration,
    pub(crate) handler_grace: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) max_http_head: usize,
    pub(crate) max_http_body: usize,
    pub(crate) http_timeout: Duration,
    pub(crate) max_connections: Option<usize>,
    pub(crate) allowed_origins: Option<Vec<String>>,
    pub(crate) shutdown_timeout: Duration,
}

/// Robyn's default payload limit (`ROBYN_MAX_PAYLOAD_SIZE`): 1 000 000 bytes.
const DEFAULT_MAX_MESSAGE: u64 = 1_000_000;

/// Most frames one received message may be split into, by default: a
/// 1 MB message still fits in fragments of 245 bytes, while a flood of
/// empty continuation frames ends after 4096 of them (1008).
const DEFAULT_MAX_FRAGMENTS: u32 = 4096;

impl Default for AppConfig {
    fn default() -> Self {
        let mut websocket = WebSocketConfig::default();
        websocket
            .protocol_mut()
            .max_message_size(DEFAULT_MAX_MESSAGE)
            .max_frame_size(DEFAULT_MAX_MESSAGE)
            .max_fragments(DEFAULT_MAX_FRAGMENTS)
            .keepalive_interval(Some(Duration::from_secs(30)));
        let max_http_head = 16 * 1024;
        let mut limits = RequestLimits::DEFAULT;
        limits.max_head_len(max_http_head);
        websocket.request_limits(limits);
        Self {
            websocket,
            outbound_capacity: 256,
            inbound_capacity: 32,
            slow_consumer: SlowConsumer::default(),
            slow_consumer_grace: Duration::from_secs(5),
            handler_grace: Duration::from_secs(5),
            close_timeout: Duration::from_secs(10),
            max_http_head,
            max_http_body: 64 * 1024,
            http_timeout: Duration::from_secs(10),
            max_connections: None,
            allowed_origins: None,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

impl AppConfig {
    /// The defaults: messages up to 1 000 000 bytes (Robyn's default;
    /// bigger ones close the connection with 1009), a keepalive Ping every
    /// 30 s, 256 outbound and 32 inbound messages per connection, the
    /// [`SlowConsumer::Close`] policy with 1013 and a 5 s grace, 5 s for a
    /// handler to notice a disconnect, 16 KiB HTTP heads, 64 KiB HTTP
    /// bodies, 10 s to send an HTTP request, at most 4096 fragments per
    /// received message, no connection limit, any `Origin`, 10 s for a
    /// graceful shutdown. `docs/security.md` lists every limit and what an
    /// attack on it gets.
    pub fn new() -> Self {
        Self::default()
    }

    /// The largest message (and frame) a client may send; a bigger one
    /// closes the connection with 1009 (RFC 6455 §7.4.1).
    pub fn max_message_size(&mut self, bytes: u64) -> &mut Self {
        self.websocket
            .protocol_mut()
            .max_message_size(bytes)
            .max_frame_size(bytes);
        self
    }

    /// The WebSocket settings (limits, timers, buffers, handshake timeout),
    /// for everything this type has no setter for.
    pub fn websocket_mut(&mut self) -> &mut WebSocketConfig {
        &mut self.websocket
    }

    /// How many messages may wait for the socket, per connection. Own sends
    /// wait when it is full; fan-out sends apply the slow-consumer policy.
    pub fn outbound_capacity(&mut self, messages: usize) -> &mut Self {
        self.outbound_capacity = messages.max(1);
        self
    }

    /// How many received messages may wait for the handler, per
    /// connection; when full, the connection stops reading its socket and
    /// TCP pushes back on the client. (A handler that stops reading for
    /// long also leaves the keepalive Pongs unread: the keepalive timeout
    /// then ends the connection. Read, or return.)
    pub fn inbound_capacity(&mut self, messages: usize) -> &mut Self {
        self.inbound_capacity = messages.max(1);
        self
    }

    /// What happens to a connection whose outbound queue is full when a
    /// broadcast arrives.
    pub fn slow_consumer(&mut self, policy: SlowConsumer) -> &mut Self {
        self.slow_consumer = policy;
        self
    }

    /// How long a connection closed for being slow (or closed by the
    /// server) may take to end before its TCP connection is dropped.
    pub fn slow_consumer_grace(&mut self, grace: Duration) -> &mut Self {
        self.slow_consumer_grace = grace;
        self
    }

    /// How long a handler may keep running after its connection ended
    /// before it is cancelled (Robyn waits 5 s too). `on_close` runs after
    /// the handler finished or was cancelled.
    pub fn handler_grace(&mut self, grace: Duration) -> &mut Self {
        self.handler_grace = grace;
        self
    }

    /// How long a closing handshake may take before the connection is
    /// dropped (RFC 6455 §7.1.1). Default: 10 s.
    pub fn close_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.close_timeout = timeout;
        self.websocket.protocol_mut().close_timeout(timeout);
        self
    }

    /// The largest HTTP request head, upgrade requests included; bigger
    /// ones get 431.
    pub fn max_http_head(&mut self, bytes: usize) -> &mut Self {
        self.max_http_head = bytes.max(256);
        let mut limits = RequestLimits::DEFAULT;
        limits.max_head_len(self.max_http_head);
        self.websocket.request_limits(limits);
        self
    }

    /// The largest HTTP request body; bigger ones get 413.
    pub fn max_http_body(&mut self, bytes: usize) -> &mut Self {
        self.max_http_body = bytes;
        self
    }

    /// How long a client has to send a whole HTTP request (head and body)
    /// or upgrade request.
    pub fn http_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.http_timeout = timeout;
        self.websocket.handshake_timeout(timeout);
        self
    }

    /// The most WebSocket connections served at once (`None`, the default:
    /// no limit). A connection counts from the moment its upgrade request
    /// is read until its task has ended (`on_close` included); an upgrade
    /// beyond the limit is answered `503 Service Unavailable` with
    /// `Retry-After: 1`, before any guard runs and before any `101`.
    /// Plain HTTP requests are not counted.
    pub fn max_connections(&mut self, limit: Option<usize>) -> &mut Self {
        self.max_connections = limit;
        self
    }

    /// Accepts WebSocket upgrades only from these origins (the exact
    /// serialized `Origin`, e.g. `"https://chat.example.com"`, compared
    /// ASCII-case-insensitively); an upgrade with another `Origin` is
    /// answered `403 Forbidden` before any guard runs. A request without an
    /// `Origin` header (not a browser) is let through, and so is every
    /// request while no list is set (the default). This is the defence
    /// against cross-site WebSocket hijacking (RFC 6455 §10.2).
    ///
    /// ```
    /// let mut app = ws_app::App::new();
    /// app.config_mut().allowed_origins(["https://chat.example.com"]);
    /// ```
    pub fn allowed_origins<I, S>(&mut self, origins: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_origins = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// How long a graceful shutdown ([`ServerHandle::shutdown`]) waits for
    /// the connections to finish their closing handshakes (after the
    /// messages queued before the shutdown) before dropping the rest.
    /// Default: 10 s.
    ///
    /// [`ServerHandle::shutdown`]: crate::ServerHandle::shutdown
    pub fn shutdown_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.shutdown_timeout = timeout;
        self
    }
}

/// The upgrade request as a [guard](Route::guard) sees it, before anything
/// is sent: path, query, headers, origin, offered subprotocols, the
/// client's address and the route's dependencies.
#[derive(Debug, Clone)]
pub struct Upgrade {
    pub(crate) head: Arc<RequestHead>,
    pub(crate) scope: Scope,
}

impl Upgrade {
    /// The request path.
    pub fn path(&self) -> &str {
        &self.head.path
    }

    /// The query parameters, percent-decoded.
    pub fn query_params(&self) -> &QueryParams {
        &self.head.query
    }

    /// The request headers.
    pub fn headers(&self) -> &Headers {
        &self.head.headers
    }

    /// The `Origin` header, if sent (browsers always send it).
    pub fn origin(&self) -> Option<&str> {
        self.head.headers.get("origin")
    }

    /// The subprotocols the client offers, in its order of preference.
    pub fn subprotocols(&self) -> Vec<String> {
        self.head.subprotocols()
    }

    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.head.peer_addr
    }

    /// The app's global dependencies.
    pub fn globals(&self) -> &Deps {
        &self.scope.globals
    }

    /// The route's router dependencies.
    pub fn router_deps(&self) -> &Deps {
        &self.scope.router
    }

    /// The dependency of type `T`: the router's, else the global one.
    pub fn dep<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.scope.router.get().or_else(|| self.scope.globals.get())
    }
}

/// A WebSocket route as registered.
#[derive(Clone)]
pub(crate) struct WsRouteDef {
    pub(crate) path: String,
    pub(crate) handler: HandlerFn,
    pub(crate) on_connect: Option<ConnectFn>,
    pub(crate) on_close: Option<CloseFn>,
    pub(crate) guard: Option<GuardFn>,
}

/// An HTTP route as registered.
#[derive(Clone)]
pub(crate) struct HttpRouteDef {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) handler: HttpFn,
}

/// The handle [`App::websocket`] and [`Router::websocket`] return, to
/// attach the optional callbacks (Robyn's `@handler.on_connect` and
/// `@handler.on_close`) and a pre-upgrade guard.
pub struct Route<'a> {
    def: &'a mut WsRouteDef,
}

impl std::fmt::Debug for Route<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("path", &self.def.path)
            .finish_non_exhaustive()
    }
}

impl Route<'_> {
    /// Runs `callback` when a client has connected (after the `101`),
    /// before the handler starts. It may send and receive; its
    /// `Some(text)` is sent as a text message right after whatever it sent
    /// itself (`Some("")` sends an empty message, `None` sends nothing),
    /// and before any broadcast, room or by-id message that arrived
    /// meanwhile (those are held back until then): unless `on_connect`
    /// sends something itself, the greeting is the first message the
    /// client sees. If it closes the connection, the handler does not run.
    #[must_use = "the route keeps the callback only through the returned handle"]
    pub fn on_connect<F, Fut>(self, callback: F) -> Self
    where
        F: Fn(Ws) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<String>> + Send + 'static,
    {
        self.def.on_connect = Some(Arc::new(move |ws| Box::pin(callback(ws))));
        self
    }

    /// Runs `callback` exactly once per connection, after it ended —
    /// however it ended — and after the handler returned (or was cancelled
    /// [`handler_grace`](AppConfig::handler_grace) after the end).
    /// [`Ws::close_info`] tells how it ended; nothing can be sent any more
    /// (Robyn's documented "final message" was never delivered either).
    #[must_use = "the route keeps the callback only through the returned handle"]
    pub fn on_close<F, Fut>(self, callback: F) -> Self
    where
        F: Fn(Ws) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.def.on_close = Some(Arc::new(move |ws| Box::pin(callback(ws))));
        self
    }

    /// Decides, before the `101`, whether to accept the upgrade: `Ok`
    /// with [`Accept`] (optionally choosing one of the offered
    /// subprotocols, or adding response headers), or `Err` with a
    /// [`Reject`] carrying an HTTP status such as 401 or 403 (the client
    /// gets that response; no WebSocket is opened, no callback runs). A
    /// guard that panics refuses with 500; one that takes longer than
    /// [`AppConfig::http_timeout`] with 503.
    ///
    /// ```
    /// # let mut app = ws_app::App::new();
    /// use ws_app::{Accept, Reject};
    /// let _ = app
    ///     .websocket("/secure", |ws: ws_app::Ws| async move { ws.send_text("hi").await })
    ///     .guard(|up| async move {
    ///         match up.query_params().get("token") {
    ///             None => Err(Reject::new(401).body("missing token")),
    ///             Some("s3cret") => Ok(Accept::new()),
    ///             Some(_) => Err(Reject::new(403).body("bad token")),
    ///         }
    ///     });
    /// ```
    #[must_use = "the route keeps the guard only through the returned handle"]
    pub fn guard<F, Fut>(self, guard: F) -> Self
    where
        F: Fn(Upgrade) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Accept, Reject>> + Send + 'static,
    {
        self.def.guard = Some(Arc::new(move |up| Box::pin(guard(up))));
        self
    }

    /// The route's path (with its routers' prefixes once included).
    pub fn path(&self) -> &str {
        &self.def.path
    }
}

fn handler_fn<H, Fut, E>(handler: H) -> HandlerFn
where
    H: Fn(Ws) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError> + 'static,
{
    Arc::new(move |ws| {
        let fut = handler(ws);
        Box::pin(async move { fut.await.map_err(Into::into) })
    })
}

fn http_fn<H, Fut>(handler: H) -> HttpFn
where
    H: Fn(HttpRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    Arc::new(move |req| Box::pin(handler(req)))
}

/// A group of routes under a path prefix, with its own dependencies
/// (Robyn's `SubRouter`). Routers nest; prefixes accumulate
/// (`/sub_router` + `/nested` + `/ws` = `/sub_router/nested/ws`), and a
/// nested router sees its parents' dependencies under its own.
///
/// ```
/// let mut nested = ws_app::Router::new("/nested");
/// let _ = nested.websocket("/ws", |ws: ws_app::Ws| async move {
///     while let Ok(_) = ws.receive_text().await {
///         ws.send_text("nested message").await?;
///     }
///     Ok::<_, ws_app::Error>(())
/// });
/// let mut sub = ws_app::Router::new("/sub_router");
/// sub.inject_named("ROUTER DEPENDENCY", "for /sub_router and below".to_string());
/// sub.include_router(nested);
/// let mut app = ws_app::App::new();
/// app.include_router(sub);
/// assert_eq!(app.websocket_paths(), vec!["/sub_router/nested/ws".to_string()]);
/// ```
#[derive(Clone, Default)]
pub struct Router {
    prefix: String,
    deps: Deps,
    ws: Vec<WsRouteDef>,
    http: Vec<HttpRouteDef>,
    children: Vec<Self>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("prefix", &self.prefix)
            .field("deps", &self.deps)
            .field("websockets", &self.ws.len())
            .field("http", &self.http.len())
            .field("children", &self.children.len())
            .finish()
    }
}

impl Router {
    /// A router whose routes live under `prefix` (`""` for none).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            ..Self::default()
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Registers a WebSocket route at `path` (under the prefix). `handler`
    /// runs once per connection, after `on_connect`; when it returns `Ok`
    /// the connection is closed with 1000, when it returns `Err` (or
    /// panics) with 1011. Registering a path twice replaces the first.
    pub fn websocket<H, Fut, E>(&mut self, path: &str, handler: H) -> Route<'_>
    where
        H: Fn(Ws) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let path = path.to_owned();
        self.ws.retain(|def| def.path != path);
        self.ws.push(WsRouteDef {
            path,
            handler: handler_fn(handler),
            on_connect: None,
            on_close: None,
            guard: None,
        });
        let def = self.ws.last_mut().expect("just pushed");
        Route { def }
    }

    /// Registers an HTTP `GET` route (also answering `HEAD`).
    pub fn get<H, Fut>(&mut self, path: &str, handler: H) -> &mut Self
    where
        H: Fn(HttpRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        self.http_route(Method::Get, path, http_fn(handler))
    }

    /// Registers an HTTP `POST` route (the body is read whole, up to
    /// [`AppConfig::max_http_body`]).
    pub fn post<H, Fut>(&mut self, path: &str, handler: H) -> &mut Self
    where
        H: Fn(HttpRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        self.http_route(Method::Post, path, http_fn(handler))
    }

    fn http_route(&mut self, method: Method, path: &str, handler: HttpFn) -> &mut Self {
        self.http
            .retain(|def| !(def.method == method && def.path == path));
        self.http.push(HttpRouteDef {
            method,
            path: path.to_owned(),
            handler,
        });
        self
    }

    /// Adds a router dependency looked up by type (replacing one of the
    /// same type).
    pub fn inject<T: Any + Send + Sync>(&mut self, value: T) -> &mut Self {
        self.deps.insert(value);
        self
    }

    /// Adds a router dependency looked up by name.
    pub fn inject_named<T: Any + Send + Sync>(
        &mut self,
        name: impl Into<String>,
        value: T,
    ) -> &mut Self {
        self.deps.insert_named(name, value);
        self
    }

    /// This router's own dependencies.
    pub fn deps(&self) -> &Deps {
        &self.deps
    }

    /// Nests `router` under this one: its prefix goes after this one's.
    pub fn include_router(&mut self, router: Self) -> &mut Self {
        self.children.push(router);
        self
    }

    /// Every route with its full path and its dependency scope.
    fn flatten(
        &self,
        parent_prefix: &str,
        parent_deps: &Deps,
        globals: &Arc<Deps>,
        out: &mut Routes,
    ) {
        let prefix = join_path(parent_prefix, &self.prefix);
        let deps = parent_deps.layered(&self.deps);
        let scope = Scope {
            globals: globals.clone(),
            router: Arc::new(deps.clone()),
        };
        for def in &self.ws {
            let mut def = def.clone();
            def.path = join_path(&prefix, &def.path);
            out.ws.push((def, scope.clone()));
        }
        for def in &self.http {
            let mut def = def.clone();
            def.path = join_path(&prefix, &def.path);
            out.http.push((def, scope.clone()));
        }
        for child in &self.children {
            child.flatten(&prefix, &deps, globals, out);
        }
    }
}

/// `prefix` + `path`, with exactly one `/` between them and a leading `/`.
fn join_path(prefix: &str, path: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    let path = path.trim_start_matches('/');
    let mut joined = String::with_capacity(prefix.len() + path.len() + 2);
    if !prefix.starts_with('/') {
        joined.push('/');
    }
    joined.push_str(prefix);
    if !path.is_empty() {
        if !joined.ends_with('/') {
            joined.push('/');
        }
        joined.push_str(path);
    }
    joined
}

/// Every route of an app, flattened.
#[derive(Default)]
pub(crate) struct Routes {
    pub(crate) ws: Vec<(WsRouteDef, Scope)>,
    pub(crate) http: Vec<(HttpRouteDef, Scope)>,
}

/// An application: WebSocket routes, HTTP routes, routers, dependencies, a
/// [`Hub`] and an [`AppConfig`] (Robyn's `Robyn(__file__)`).
///
/// Build it, then serve it with [`Server::bind`](crate::Server::bind)
/// on [`rt::Tokio`](crate::rt::Tokio) or [`rt::Smol`](crate::rt::Smol).
/// The crate docs have a complete example.
pub struct App {
    root: Router,
    globals: Deps,
    hub: Hub,
    config: AppConfig,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("root", &self.root)
            .field("globals", &self.globals)
            .finish_non_exhaustive()
    }
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    /// An empty app with the default [`AppConfig`] and an in-memory broker.
    pub fn new() -> Self {
        Self {
            root: Router::new(""),
            globals: Deps::new(),
            hub: Hub::new(),
            config: AppConfig::default(),
        }
    }

    /// Registers a WebSocket route; see [`Router::websocket`].
    pub fn websocket<H, Fut, E>(&mut self, path: &str, handler: H) -> Route<'_>
    where
        H: Fn(Ws) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        self.root.websocket(path, handler)
    }

    /// Registers an HTTP `GET` route; see [`Router::get`].
    pub fn get<H, Fut>(&mut self, path: &str, handler: H) -> &mut Self
    where
        H: Fn(HttpRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        self.root.get(path, handler);
        self
    }

    /// Registers an HTTP `POST` route; see [`Router::post`].
    pub fn post<H, Fut>(&mut self, path: &str, handler: H) -> &mut Self
    where
        H: Fn(HttpRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        self.root.post(path, handler);
        self
    }

    /// Adds a global dependency, looked up by type, seen by every route
    /// (last write wins).
    pub fn inject_global<T: Any + Send + Sync>(&mut self, value: T) -> &mut Self {
        self.globals.insert(value);
        self
    }

    /// Adds a global dependency looked up by name (last write wins).
    pub fn inject_global_named<T: Any + Send + Sync>(
        &mut self,
        name: impl Into<String>,
        value: T,
    ) -> &mut Self {
        self.globals.insert_named(name, value);
        self
    }

    /// Adds a router dependency of the app's own routes (Robyn's
    /// `app.inject`): routes registered directly on the app see it, and so
    /// do included routers (under their own).
    pub fn inject<T: Any + Send + Sync>(&mut self, value: T) -> &mut Self {
        self.root.inject(value);
        self
    }

    /// Adds a named router dependency of the app's own routes.
    pub fn inject_named<T: Any + Send + Sync>(
        &mut self,
        name: impl Into<String>,
        value: T,
    ) -> &mut Self {
        self.root.inject_named(name, value);
        self
    }

    /// The global dependencies.
    pub fn globals(&self) -> &Deps {
        &self.globals
    }

    /// Includes `router` (and the routers nested in it).
    pub fn include_router(&mut self, router: Router) -> &mut Self {
        self.root.include_router(router);
        self
    }

    /// The app's hub, to hand to background tasks before serving.
    pub fn hub(&self) -> Hub {
        self.hub.clone()
    }

    /// Installs a broadcast layer other than the in-memory default.
    pub fn broker(&mut self, broker: impl Broker) -> &mut Self {
        self.hub.set_broker(Arc::new(broker));
        self
    }

    /// The settings.
    pub fn config(&self) -> &AppConfig {
        &self.config
    }

    /// The settings, to change.
    pub fn config_mut(&mut self) -> &mut AppConfig {
        &mut self.config
    }

    /// The full paths of the WebSocket routes, sorted.
    pub fn websocket_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.routes().ws.into_iter().map(|(d, _)| d.path).collect();
        paths.sort();
        paths
    }

    pub(crate) fn routes(&self) -> Routes {
        let mut routes = Routes::default();
        let globals = Arc::new(self.globals.clone());
        self.root.flatten("", &Deps::new(), &globals, &mut routes);
        routes
    }

    pub(crate) fn into_parts(self) -> (Routes, Hub, AppConfig) {
        let routes = self.routes();
        (routes, self.hub, self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_accumulate() {
        assert_eq!(join_path("", "/ws"), "/ws");
        assert_eq!(join_path("/sub_router", "/ws"), "/sub_router/ws");
        assert_eq!(join_path("/sub_router/", "nested"), "/sub_router/nested");
        assert_eq!(join_path("/a", ""), "/a");
        assert_eq!(join_path("", ""), "/");
        assert_eq!(join_path("", "/"), "/");
        assert_eq!(join_path("api", "/x"), "/api/x");
    }

    #[test]
    fn nested_router_deps_layer_over_parents() {
        let mut inner = Router::new("/nested");
        inner.inject_named("level", "inner").inject(7u8);
        let _ = inner.websocket("/ws", |_ws: Ws| async { Ok::<_, crate::Error>(()) });
        let mut outer = Router::new("/sub");
        outer
            .inject_named("level", "outer")
            .inject_named("only_outer", 1u8);
        let _ = outer.websocket("/ws", |_ws: Ws| async { Ok::<_, crate::Error>(()) });
        outer.include_router(inner);
        let mut app = App::new();
        app.inject_global_named("g", "first");
        app.inject_global_named("g", "second");
        app.include_router(outer);
        let routes = app.routes();
        let find = |path: &str| {
            routes
                .ws
                .iter()
                .find(|(d, _)| d.path == path)
                .map(|(_, s)| s.clone())
                .unwrap()
        };
        let inner_scope = find("/sub/nested/ws");
        assert_eq!(
            inner_scope.router.get_named::<&str>("level"),
            Some(&"inner")
        );
        assert_eq!(inner_scope.router.get_named::<u8>("only_outer"), Some(&1));
        assert_eq!(inner_scope.globals.get_named::<&str>("g"), Some(&"second"));
        let outer_scope = find("/sub/ws");
        assert_eq!(
            outer_scope.router.get_named::<&str>("level"),
            Some(&"outer")
        );
        assert!(outer_scope.router.get::<u8>().is_none());
    }
}
