//! The demo application: every example of Robyn's WebSocket guide, served
//! by `ws-app`, plus the page to try them in a browser.
//!
//! | endpoint | behaviour |
//! |---|---|
//! | `/web_socket` | greeting on connect, echo with the connection id, log on close |
//! | `/chat` | each message is broadcast to everyone (`User <id>: <msg>`), and the sender gets `Your message was sent` |
//! | `/api/ws` | JSON echo: `{"id", "echo", "timestamp", "timestamp_ms"}` |
//! | `/notifications` | each message is broadcast as a notification; the sender gets an acknowledgement |
//! | `/game` | JSON actions `{"action":"move","x":1,"y":2}` and `{"action":"chat","message":"hi"}`, broadcast to every player |
//! | `/di/ws?token=...` | global deps (logger, message store, metrics) and router deps (cache, token auth; a missing token gets HTTP 401, a bad one 403, before the upgrade) |
//! | `GET /` | the page |
//! | `GET /health` | `{"status":"ok", ...}` |
//! | `GET /api/connections` | connected ids per route |
//! | `POST /api/notify` | the body is broadcast to `/notifications` (sending from an HTTP handler) |
//!
//! This file is also compiled into the integration tests (`tests/tests/app_demo.rs`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use serde_json::json;
use ws_app::{Accept, App, Reject, Response, Router, Ws};

/// The page served at `/`.
pub(crate) const PAGE: &str = include_str!("page.html");

/// Global dependency: a logger.
pub(crate) struct Logger {
    prefix: &'static str,
    quiet: bool,
}

impl Logger {
    /// Logs a line to stderr (unless quiet).
    pub(crate) fn log(&self, line: &str) {
        if !self.quiet {
            eprintln!("[{}] {line}", self.prefix);
        }
    }
}

/// Global dependency: every message sent to the DI endpoint.
#[derive(Default)]
pub(crate) struct MessageStore {
    messages: Mutex<Vec<(String, String)>>,
}

impl MessageStore {
    /// Stores a message; returns how many are stored.
    pub(crate) fn push(&self, user: &str, message: &str) -> usize {
        let mut messages = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        messages.push((user.to_owned(), message.to_owned()));
        messages.len()
    }

    /// How many messages are stored.
    pub(crate) fn len(&self) -> usize {
        self.messages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

/// Global dependency: counters.
#[derive(Default)]
pub(crate) struct Metrics {
    /// Connections opened on the DI endpoint.
    pub(crate) connections: AtomicU64,
    /// Messages received on the DI endpoint.
    pub(crate) messages: AtomicU64,
}

/// Router dependency of `/di`: the last message of each user.
#[derive(Default)]
pub(crate) struct Cache {
    last: Mutex<HashMap<String, String>>,
}

impl Cache {
    /// Stores `value` for `user`; returns the previous one.
    pub(crate) fn replace(&self, user: &str, value: &str) -> Option<String> {
        self.last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(user.to_owned(), value.to_owned())
    }
}

/// Router dependency of `/di`: which tokens are valid, and whose they are.
pub(crate) struct TokenAuth {
    users: HashMap<&'static str, &'static str>,
}

impl TokenAuth {
    /// The demo's tokens: `demo-token` (alice) and `bob-token` (bob).
    pub(crate) fn demo() -> Self {
        Self {
            users: HashMap::from([("demo-token", "alice"), ("bob-token", "bob")]),
        }
    }

    /// The user a token belongs to.
    pub(crate) fn user(&self, token: &str) -> Option<&'static str> {
        self.users.get(token).copied()
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// An RFC 3339 UTC timestamp with milliseconds.
fn rfc3339(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_millis(t).to_string()
}

/// `/web_socket`: echo with the connection id.
async fn web_socket(ws: Ws) -> ws_app::Result<()> {
    loop {
        let msg = ws.receive_text().await?;
        ws.send_text(format!("Echo from {}: {msg}", ws.id()))
            .await?;
    }
}

/// `/chat`: broadcast to everyone (the sender too), then acknowledge.
async fn chat(ws: Ws) -> ws_app::Result<()> {
    loop {
        let msg = ws.receive_text().await?;
        ws.broadcast(format!("User {}: {msg}", ws.id()))?;
        ws.send_text("Your message was sent").await?;
    }
}

/// `/api/ws`: JSON echo with the connection id and a timestamp.
async fn api(ws: Ws) -> ws_app::Result<()> {
    loop {
        let text = ws.receive_text().await?;
        let reply = match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(data) => {
                let ms = now_ms();
                json!({"id": ws.id(), "echo": data, "timestamp": rfc3339(ms), "timestamp_ms": ms})
            }
            Err(err) => json!({"id": ws.id(), "error": format!("invalid JSON: {err}")}),
        };
        ws.send_json(&reply).await?;
    }
}

/// `/notifications`: broadcast a notification, acknowledge to the sender.
async fn notifications(ws: Ws) -> ws_app::Result<()> {
    loop {
        let text = ws.receive_text().await?;
        let note = json!({
            "type": "notification",
            "from": ws.id(),
            "message": text,
            "timestamp": rfc3339(now_ms()),
        });
        ws.broadcast(note.to_string())?;
        let listeners = ws.hub().connections(ws.route().clone()).len();
        ws.send_json(&json!({"type": "ack", "message": text, "delivered_to": listeners}))
            .await?;
    }
}

/// A `/game` action.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
enum GameAction {
    Move { x: i64, y: i64 },
    Chat { message: String },
}

/// `/game`: typed JSON actions, broadcast to every player.
async fn game(ws: Ws) -> ws_app::Result<()> {
    loop {
        let event = match ws.receive_json::<GameAction>().await {
            Ok(GameAction::Move { x, y }) => {
                json!({"type": "move", "player": ws.id(), "x": x, "y": y})
            }
            Ok(GameAction::Chat { message }) => {
                json!({"type": "chat", "player": ws.id(), "message": message})
            }
            Err(err @ ws_app::Error::Json(_)) => {
                let help =
                    r#"send {"action":"move","x":1,"y":2} or {"action":"chat","message":"hi"}"#;
                ws.send_json(&json!({"type": "error", "error": err.to_string(), "help": help}))
                    .await?;
                continue;
            }
            Err(err) => return Err(err),
        };
        ws.broadcast(event.to_string())?;
    }
}

/// `/di/ws`: the user behind the `token` query parameter.
fn di_user(ws: &Ws) -> &'static str {
    ws.router::<TokenAuth>()
        .zip(ws.query_params().get("token"))
        .and_then(|(auth, token)| auth.user(token))
        .unwrap_or("anonymous")
}

/// `/di/ws`: every message goes through the global and router dependencies.
async fn di_handler(ws: Ws) -> ws_app::Result<()> {
    let user = di_user(&ws);
    loop {
        let text = ws.receive_text().await?;
        let (Some(store), Some(metrics), Some(cache)) = (
            ws.global::<MessageStore>(),
            ws.global::<Metrics>(),
            ws.router::<Cache>(),
        ) else {
            return Err(ws_app::Error::Io(std::io::Error::other(
                "dependencies missing",
            )));
        };
        let stored = store.push(user, &text);
        let total = metrics.messages.fetch_add(1, Ordering::Relaxed) + 1;
        let previous = cache.replace(user, &text);
        ws.send_json(&json!({
            "user": user,
            "echo": text,
            "stored_messages": stored,
            "messages_total": total,
            "your_previous_message": previous,
        }))
        .await?;
    }
}

/// Builds the demo app. `quiet` silences the logger (for tests).
pub(crate) fn build(quiet: bool) -> App {
    let mut app = App::new();
    app.inject_global(Logger {
        prefix: "demo",
        quiet,
    });
    app.inject_global(MessageStore::default());
    app.inject_global(Metrics::default());

    let _ = app
        .websocket("/web_socket", web_socket)
        .on_connect(|ws: Ws| async move {
            Some(format!("Hello world, from ws! Your id is {}", ws.id()))
        })
        .on_close(|ws: Ws| async move {
            if let (Some(logger), Some(info)) = (ws.global::<Logger>(), ws.close_info()) {
                logger.log(&format!("/web_socket: {} disconnected: {info}", ws.id()));
            }
        });

    let _ = app
        .websocket("/chat", chat)
        .on_connect(|ws: Ws| async move { Some(format!("Welcome, {}!", ws.id())) })
        .on_close(|ws: Ws| async move {
            if let Some(logger) = ws.global::<Logger>() {
                logger.log(&format!("/chat: {} left", ws.id()));
            }
        });

    let _ = app.websocket("/api/ws", api);
    let _ = app.websocket("/notifications", notifications);
    let _ = app
        .websocket("/game", game)
        .on_connect(|ws: Ws| async move {
            let _ = ws.broadcast_others(json!({"type": "join", "player": ws.id()}).to_string());
            Some(json!({"type": "welcome", "player": ws.id()}).to_string())
        })
        .on_close(|ws: Ws| async move {
            let _ = ws.hub().broadcast(
                "/game",
                json!({"type": "leave", "player": ws.id()}).to_string(),
            );
        });

    let mut di = Router::new("/di");
    di.inject(Cache::default()).inject(TokenAuth::demo());
    let _ = di
        .websocket("/ws", di_handler)
        .guard(|up| async move {
            let Some(token) = up.query_params().get("token") else {
                return Err(Reject::new(401).body("missing token"));
            };
            match up.dep::<TokenAuth>().and_then(|auth| auth.user(token)) {
                Some(_) => Ok(Accept::new()),
                None => Err(Reject::new(403).body("invalid token")),
            }
        })
        .on_connect(|ws: Ws| async move {
            let user = di_user(&ws);
            if let Some(metrics) = ws.global::<Metrics>() {
                metrics.connections.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(logger) = ws.global::<Logger>() {
                logger.log(&format!("/di/ws: {user} connected as {}", ws.id()));
            }
            let stored = ws.global::<MessageStore>().map_or(0, MessageStore::len);
            Some(format!(
                "connect: hello {user}, {stored} messages stored so far"
            ))
        })
        .on_close(|ws: Ws| async move {
            if let Some(logger) = ws.global::<Logger>() {
                logger.log(&format!("/di/ws: {} disconnected", di_user(&ws)));
            }
        });
    app.include_router(di);

    app.get("/", |_req| async { Response::html(PAGE) });
    app.get("/health", |req| async move {
        let hub = req.hub();
        let routes: BTreeMap<String, usize> = hub
            .routes()
            .into_iter()
            .map(|route| {
                let count = hub.connections(route.clone()).len();
                (route.to_string(), count)
            })
            .collect();
        Response::json(&json!({
            "status": "ok",
            "connections": hub.connection_count(),
            "routes": routes,
        }))
    });
    app.get("/api/connections", |req| async move {
        let hub = req.hub();
        let routes: BTreeMap<String, Vec<String>> = hub
            .routes()
            .into_iter()
            .map(|route| {
                let ids = hub
                    .connections(route.clone())
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                (route.to_string(), ids)
            })
            .collect();
        Response::json(&json!({ "routes": routes }))
    });
    app.post("/api/notify", |req| async move {
        let Some(text) = req.body_text().filter(|t| !t.is_empty()) else {
            return Response::text("send the notification text as the body").with_status(400);
        };
        let note = json!({
            "type": "notification",
            "from": "server",
            "message": text,
            "timestamp": rfc3339(now_ms()),
        });
        let hub = req.hub();
        match hub.broadcast("/notifications", note.to_string()) {
            Ok(()) => {
                Response::json(&json!({"delivered_to": hub.connections("/notifications").len()}))
            }
            Err(err) => Response::text(err.to_string()).with_status(503),
        }
    });
    app
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(
            super::rfc3339(1_700_000_000_000),
            "2023-11-14T22:13:20.000Z"
        );
    }
}
