//! The minimal HTTP side: [`HttpRequest`], [`Response`], and parsing of
//! request heads. One request per connection (`Connection: close`), `GET`
//! (and `HEAD`) and `POST` with a bounded `Content-Length` body; enough
//! for pages, health checks and small JSON APIs next to the WebSockets.

use std::any::Any;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::deps::{Deps, Scope};
use crate::hub::Hub;
use crate::request::{Headers, QueryParams, RequestHead};

/// The HTTP methods routes can be registered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `GET` (routes also answer `HEAD`).
    Get,
    /// `POST`.
    Post,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

/// An HTTP request, as an HTTP handler sees it.
#[derive(Clone)]
pub struct HttpRequest {
    pub(crate) head: Arc<RequestHead>,
    pub(crate) body: Vec<u8>,
    pub(crate) scope: Scope,
    pub(crate) hub: Hub,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.head.method)
            .field("path", &self.head.path)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl HttpRequest {
    /// The method as sent (`GET`, `HEAD`, `POST`).
    pub fn method(&self) -> &str {
        &self.head.method
    }

    /// The path, without the query.
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

    /// The body (empty for `GET`).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text, if it is UTF-8.
    pub fn body_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    /// The body parsed as JSON.
    pub fn body_json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.head.peer_addr
    }

    /// The app's hub: send to WebSocket connections from HTTP handlers.
    pub fn hub(&self) -> &Hub {
        &self.hub
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

/// An HTTP response: a status, headers and a body. The server adds
/// `Content-Length` and `Connection: close`.
///
/// ```
/// use ws_app::Response;
/// let page = Response::html("<h1>hi</h1>");
/// assert_eq!(page.status(), 200);
/// let health = Response::json(&serde_json::json!({"status": "ok"}));
/// assert_eq!(health.body_bytes(), br#"{"status":"ok"}"#);
/// let missing = Response::text("no such thing").with_status(404);
/// assert_eq!(missing.status(), 404);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// An empty response with `status` (100..=999 is kept; anything else
    /// becomes 500).
    pub fn new(status: u16) -> Self {
        Self {
            status: if (100..=999).contains(&status) {
                status
            } else {
                500
            },
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `200` with an HTML body.
    pub fn html(body: impl Into<String>) -> Self {
        Self::new(200)
            .header("Content-Type", "text/html; charset=utf-8")
            .body(body.into())
    }

    /// `200` with a plain-text body.
    pub fn text(body: impl Into<String>) -> Self {
        Self::new(200)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(body.into())
    }

    /// `200` with `value` as JSON (`500` if it cannot be serialized).
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Self::new(200)
                .header("Content-Type", "application/json")
                .body(body),
            Err(_) => Self::text("cannot serialize the response").with_status(500),
        }
    }

    /// The same response with another status.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Self::new(status).status;
        self
    }

    /// Adds a header. A name that is not an HTTP token, or a value with a
    /// control character (CR, LF, ...), is ignored: no response splitting.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        let name_ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        let value_ok = value
            .bytes()
            .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f));
        let reserved = ["content-length", "connection", "transfer-encoding"]
            .iter()
            .any(|r| name.eq_ignore_ascii_case(r));
        if name_ok && value_ok && !reserved {
            self.headers.push((name, value));
        }
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The body.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// The headers added.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The encoded response (`head_only`: without the body, for `HEAD`).
    pub(crate) fn encode(&self, head_only: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.body.len());
        out.extend_from_slice(
            format!(
                "HTTP/1.1 {} {}\r\n",
                self.status,
                reason_phrase(self.status)
            )
            .as_bytes(),
        );
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                self.body.len()
            )
            .as_bytes(),
        );
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }

    /// A plain-text error response.
    pub(crate) fn error(status: u16, message: &str) -> Self {
        Self::text(message).with_status(status)
    }
}

impl From<&str> for Response {
    fn from(text: &str) -> Self {
        Self::text(text)
    }
}

impl From<String> for Response {
    fn from(text: String) -> Self {
        Self::text(text)
    }
}

/// The standard reason phrase of a status, or `""`.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// The end of an HTTP head in `buf` (the index after the blank line),
/// scanning from `from`.
pub(crate) fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    let mut i = start;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

/// Why a request head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// Not HTTP/1.x.
    Malformed,
    /// More than the header slots.
    TooManyHeaders,
}

/// Header slots offered to the parser.
const MAX_HEADERS: usize = 96;

/// Parses a complete request head (`buf` ends with the blank line).
pub(crate) fn parse_head(buf: &[u8], peer_addr: SocketAddr) -> Result<RequestHead, HeadError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut slots);
    match request.parse(buf) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(HeadError::Malformed),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(_) => return Err(HeadError::Malformed),
    }
    let (Some(method), Some(target)) = (request.method, request.path) else {
        return Err(HeadError::Malformed);
    };
    let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let headers = Headers::from_pairs(
        request
            .headers
            .iter()
            .map(|h| (h.name.to_owned(), h.value.to_vec())),
    );
    Ok(RequestHead {
        method: method.to_owned(),
        path: path.to_owned(),
        raw_query: raw_query.to_owned(),
        query: QueryParams::parse(raw_query),
        headers,
        peer_addr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "127.0.0.1:9".parse().unwrap()
    }

    #[test]
    fn head_end_is_found_across_reads() {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nrest";
        assert_eq!(find_head_end(head, 0), Some(head.len() - 4));
        for split in 0..head.len() {
            let found = find_head_end(&head[..split], 0).or_else(|| find_head_end(head, split));
            assert_eq!(found, Some(head.len() - 4), "split at {split}");
        }
        assert_eq!(find_head_end(b"GET / HTTP/1.1\n\n", 0), Some(16));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n", 0), None);
    }

    #[test]
    fn parse_head_splits_target() {
        let head = parse_head(
            b"GET /chat?room=a%20b&x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n",
            peer(),
        )
        .unwrap();
        assert_eq!(head.method, "GET");
        assert_eq!(head.path, "/chat");
        assert_eq!(head.raw_query, "room=a%20b&x");
        assert_eq!(head.query.get("room"), Some("a b"));
        assert_eq!(head.headers.get("upgrade"), Some("websocket"));
        assert_eq!(
            parse_head(b"\x16\x03\x01garbage\r\n\r\n", peer()).unwrap_err(),
            HeadError::Malformed
        );
    }

    #[test]
    fn responses_encode_without_splitting() {
        let r = Response::text("hi")
            .header("X-Ok", "1")
            .header("X-Bad", "a\r\nInjected: yes")
            .header("Bad Name", "v")
            .header("Content-Length", "99");
        let encoded = String::from_utf8(r.encode(false)).unwrap();
        assert_eq!(
            encoded,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nX-Ok: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
        );
        assert!(
            String::from_utf8(r.encode(true))
                .unwrap()
                .ends_with("\r\n\r\n")
        );
        assert_eq!(Response::new(42).status(), 500);
    }
}
