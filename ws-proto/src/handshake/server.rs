//! Server side of the opening handshake (RFC 6455 §4.2).
//!
//! 1. Collect the request head with a [`HeadReader`], so that a slow client
//!    costs linear work.
//! 2. [`parse_request`] validates it (§4.2.1) and returns a zero-copy
//!    [`Request`] plus the length of the head: bytes after it are already
//!    WebSocket frames.
//! 3. Route on the [`Request`], then answer with [`accept`] (§4.2.2) or
//!    [`reject`]. A request that failed validation is answered with
//!    [`reject_error`].

pub use super::head::{HeadReader, RequestLimits};
pub use super::reject::{reject, reject_error};
#[cfg(feature = "alloc")]
pub use super::reject::{reject_error_vec, reject_vec};

use super::accept_key::{accept_key, is_valid_key};
use super::fields::{
    self, Extensions, ListItems, Subprotocols, check_extra_headers, has_token, is_field_value,
    is_token, name,
};
use super::write::{Writer, write_with};
use super::{HandshakeError, Header, Status, WEBSOCKET_VERSION};

/// Headers that [`accept`] writes itself; `extra_headers` may not repeat them.
const ACCEPT_RESERVED: &[&str] = &[
    name::UPGRADE,
    name::CONNECTION,
    name::SEC_WEBSOCKET_ACCEPT,
    name::SEC_WEBSOCKET_PROTOCOL,
    name::SEC_WEBSOCKET_EXTENSIONS,
    name::CONTENT_LENGTH,
    name::TRANSFER_ENCODING,
];

/// A validated WebSocket upgrade request (RFC 6455 §4.2.1), borrowing the
/// header array (`'h`) and the received bytes (`'b`).
#[derive(Debug, Clone, Copy)]
pub struct Request<'h, 'b> {
    method: &'b str,
    target: &'b str,
    headers: &'h [Header<'b>],
    host: &'b [u8],
    key: &'b [u8],
}

impl<'h, 'b> Request<'h, 'b> {
    /// The request method; always `GET` once validated.
    pub const fn method(&self) -> &'b str {
        self.method
    }

    /// The raw request target, such as `/chat?room=1` (RFC 6455 §4.2.1
    /// item 1, the _resource name_).
    pub const fn target(&self) -> &'b str {
        self.target
    }

    /// The request target before any `?`.
    pub fn path(&self) -> &'b str {
        self.target
            .split_once('?')
            .map_or(self.target, |(path, _)| path)
    }

    /// The request target after the first `?`, if there is one.
    pub fn query(&self) -> Option<&'b str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// All header fields, in the order received.
    pub const fn headers(&self) -> &'h [Header<'b>] {
        self.headers
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .map(|header| header.value)
    }

    /// The `Host` header, trimmed (RFC 6455 §4.2.1 item 2).
    pub const fn host(&self) -> &'b [u8] {
        self.host
    }

    /// The `Origin` header, trimmed, if sent (RFC 6455 §4.2.1 item 7,
    /// §10.2). Browsers always send it; check it to refuse cross-site use.
    pub fn origin(&self) -> Option<&'b [u8]> {
        fields::first(self.headers, name::ORIGIN)
    }

    /// The `Sec-WebSocket-Key` header, trimmed: 24 bytes of base64 that
    /// decode to 16 bytes (RFC 6455 §4.2.1 item 5).
    pub const fn key(&self) -> &'b [u8] {
        self.key
    }

    /// The subprotocols the client offers, in its order of preference
    /// (RFC 6455 §4.2.1 item 8).
    pub fn subprotocols(&self) -> Subprotocols<'h, 'b> {
        Subprotocols::new(self.headers)
    }

    /// The extensions the client offers, as raw items (RFC 6455 §4.2.1
    /// item 9, §9.1).
    pub fn extensions(&self) -> Extensions<'h, 'b> {
        Extensions::new(self.headers)
    }
}

/// Parses and validates an upgrade request with the default
/// [`RequestLimits`]. See [`parse_request_with`].
///
/// # Errors
///
/// See [`parse_request_with`].
pub fn parse_request<'h, 'b>(
    buf: &'b [u8],
    headers: &'h mut [Header<'b>],
) -> Result<Status<(Request<'h, 'b>, usize)>, HandshakeError> {
    parse_request_with(&RequestLimits::DEFAULT, buf, headers)
}

/// Parses and validates an upgrade request (RFC 6455 §4.2.1).
///
/// `buf` holds the bytes received so far; `headers` is storage for the
/// parsed header fields (use [`EMPTY_HEADER`](super::EMPTY_HEADER)). At most
/// `min(headers.len(), limits.max_headers)` headers are accepted.
///
/// Returns [`Status::Partial`] while the head is incomplete, or the request
/// and the length of its head: `buf[len..]` holds WebSocket frames.
///
/// Each call parses `buf` from the start. Calling it after every read is
/// quadratic in the worst case; call it once a [`HeadReader`] has found the
/// end of the head instead.
///
/// # Errors
///
/// The first failed check, in this order: [`HandshakeError::MalformedHttp`],
/// [`TooManyHeaders`](HandshakeError::TooManyHeaders),
/// [`HeadTooLarge`](HandshakeError::HeadTooLarge),
/// [`NotGet`](HandshakeError::NotGet),
/// [`UnsupportedHttpVersion`](HandshakeError::UnsupportedHttpVersion), then
/// the `Host`, `Upgrade`, `Connection`, `Sec-WebSocket-Key` and
/// `Sec-WebSocket-Version` checks. Answer with [`reject_error`].
pub fn parse_request_with<'h, 'b>(
    limits: &RequestLimits,
    buf: &'b [u8],
    headers: &'h mut [Header<'b>],
) -> Result<Status<(Request<'h, 'b>, usize)>, HandshakeError> {
    let mut request = httparse::Request::new(limits.limit_headers(headers));
    let status = request.parse(buf).map_err(from_httparse)?;
    limits.check_head_len(buf.len(), &status)?;
    let httparse::Status::Complete(consumed) = status else {
        return Ok(Status::Partial);
    };
    let (Some(method), Some(target), Some(version)) =
        (request.method, request.path, request.version)
    else {
        return Err(HandshakeError::MalformedHttp);
    };
    let headers: &'h [Header<'b>] = request.headers;
    if method != "GET" {
        return Err(HandshakeError::NotGet);
    }
    if version < 1 {
        return Err(HandshakeError::UnsupportedHttpVersion);
    }
    let host = single(headers, name::HOST)
        .map_err(|()| HandshakeError::DuplicateHost)?
        .ok_or(HandshakeError::MissingHost)?;
    check_upgrade(headers)?;
    let key = single(headers, name::SEC_WEBSOCKET_KEY)
        .map_err(|()| HandshakeError::DuplicateKey)?
        .ok_or(HandshakeError::MissingKey)?;
    if !is_valid_key(key) {
        return Err(HandshakeError::InvalidKey);
    }
    let mut versions = fields::values(headers, name::SEC_WEBSOCKET_VERSION).peekable();
    if versions.peek().is_none() {
        return Err(HandshakeError::MissingVersion);
    }
    if !versions.all(|version| version.trim_ascii() == WEBSOCKET_VERSION.as_bytes()) {
        return Err(HandshakeError::UnsupportedVersion);
    }
    let request = Request {
        method,
        target,
        headers,
        host,
        key,
    };
    Ok(Status::Complete((request, consumed)))
}

/// Maps an `httparse` failure.
pub(crate) const fn from_httparse(error: httparse::Error) -> HandshakeError {
    match error {
        httparse::Error::TooManyHeaders => HandshakeError::TooManyHeaders,
        httparse::Error::Version => HandshakeError::UnsupportedHttpVersion,
        _ => HandshakeError::MalformedHttp,
    }
}

/// The trimmed value of the only header called `name`; `Err` if repeated.
fn single<'b>(headers: &[Header<'b>], name: &'static str) -> Result<Option<&'b [u8]>, ()> {
    let mut values = fields::values(headers, name);
    let first = values.next().map(<[u8]>::trim_ascii);
    match values.next() {
        Some(_) => Err(()),
        None => Ok(first),
    }
}

/// `Upgrade: websocket` and `Connection: Upgrade`, as tokens in lists
/// (RFC 6455 §4.2.1 items 3 and 4, §4.1 items 2 and 3).
pub(crate) fn check_upgrade(headers: &[Header<'_>]) -> Result<(), HandshakeError> {
    if fields::values(headers, name::UPGRADE).next().is_none() {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !has_token(headers, name::UPGRADE, "websocket") {
        return Err(HandshakeError::InvalidUpgrade);
    }
    if !has_token(headers, name::CONNECTION, "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    Ok(())
}

/// How [`accept`] answers: the subprotocol and extensions chosen, and any
/// additional headers (cookies, for instance).
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptOptions<'a> {
    /// The subprotocol to speak, which the client must have offered
    /// (RFC 6455 §4.2.2 item 5.4). `None` selects no subprotocol.
    pub subprotocol: Option<&'a str>,
    /// The raw `Sec-WebSocket-Extensions` value to send, such as
    /// `permessage-deflate; server_no_context_takeover`. Each extension named
    /// must have been offered (RFC 6455 §9.1). `None` accepts no extension.
    pub extensions: Option<&'a str>,
    /// Further headers to send. Names must be tokens and values free of
    /// control characters; headers [`accept`] writes itself are refused.
    pub extra_headers: &'a [(&'a str, &'a [u8])],
}

/// Writes the `101 Switching Protocols` response that completes the
/// handshake (RFC 6455 §4.2.2 item 5) into `out`.
///
/// Returns the number of bytes written. Send them, then hand the bytes after
/// the request head to the WebSocket connection.
///
/// # Errors
///
/// - [`HandshakeError::SubprotocolNotOffered`] or
///   [`ExtensionNotOffered`](HandshakeError::ExtensionNotOffered) if
///   `options` selects something the client did not offer.
/// - [`HandshakeError::InvalidHeaderField`] if a value to be written could
///   split the head (CR, LF or another control character), a subprotocol is
///   not a token, or an extra header is reserved.
/// - [`HandshakeError::BufferTooSmall`] if `out` is too small; `out` is then
///   left untouched.
pub fn accept(
    request: &Request<'_, '_>,
    options: &AcceptOptions<'_>,
    out: &mut [u8],
) -> Result<usize, HandshakeError> {
    check_accept(request, options)?;
    let accept = accept_key(request.key());
    write_with(out, |w| write_accept(w, &accept, options))
}

/// Like [`accept`], into a new vector.
///
/// # Errors
///
/// As [`accept`], except that it never runs out of space.
#[cfg(feature = "alloc")]
pub fn accept_vec(
    request: &Request<'_, '_>,
    options: &AcceptOptions<'_>,
) -> Result<alloc::vec::Vec<u8>, HandshakeError> {
    check_accept(request, options)?;
    let accept = accept_key(request.key());
    Ok(super::write::write_vec(|w| {
        write_accept(w, &accept, options);
    }))
}

fn check_accept(
    request: &Request<'_, '_>,
    options: &AcceptOptions<'_>,
) -> Result<(), HandshakeError> {
    if let Some(chosen) = options.subprotocol {
        if !is_token(chosen.as_bytes()) {
            return Err(HandshakeError::InvalidHeaderField);
        }
        if !request.subprotocols().any(|offered| offered == chosen) {
            return Err(HandshakeError::SubprotocolNotOffered);
        }
    }
    if let Some(chosen) = options.extensions {
        if !is_field_value(chosen.as_bytes()) {
            return Err(HandshakeError::InvalidHeaderField);
        }
        for extension in ListItems::of_value(chosen.as_bytes()) {
            let chosen_name = fields::extension_name(extension);
            if !request
                .extensions()
                .any(|offered| offered.name().as_bytes() == chosen_name)
            {
                return Err(HandshakeError::ExtensionNotOffered);
            }
        }
    }
    check_extra_headers(options.extra_headers, ACCEPT_RESERVED)
}

fn write_accept(w: &mut Writer<'_>, accept: &[u8; 28], options: &AcceptOptions<'_>) {
    w.put(b"HTTP/1.1 101 Switching Protocols\r\n");
    w.header(name::UPGRADE, b"websocket");
    w.header(name::CONNECTION, b"Upgrade");
    w.header(name::SEC_WEBSOCKET_ACCEPT, accept);
    if let Some(subprotocol) = options.subprotocol {
        w.header(name::SEC_WEBSOCKET_PROTOCOL, subprotocol.as_bytes());
    }
    if let Some(extensions) = options.extensions.map(str::trim_ascii)
        && !extensions.is_empty()
    {
        w.header(name::SEC_WEBSOCKET_EXTENSIONS, extensions.as_bytes());
    }
    for (header, value) in options.extra_headers {
        w.header(header, value);
    }
    w.put(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::super::EMPTY_HEADER;
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    /// RFC 6455 §1.2, the client's opening handshake.
    const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
        Host: server.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Version: 13\r\n\
        \r\n";

    /// RFC 6455 §1.2, the server's answer when it selects `chat`.
    const RFC_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
        Sec-WebSocket-Protocol: chat\r\n\
        \r\n";

    /// The §1.2 request with header `name` replaced by `line` (or removed
    /// when `line` is empty).
    fn request_with(name: &str, line: &str) -> Vec<u8> {
        let text = core::str::from_utf8(RFC_REQUEST).unwrap();
        let mut out = String::new();
        for (index, original) in text.split_inclusive("\r\n").enumerate() {
            let replace = if index == 0 {
                name == "request-line"
            } else {
                original
                    .split_once(':')
                    .is_some_and(|(header, _)| header.eq_ignore_ascii_case(name))
            };
            if !replace {
                out.push_str(original);
            } else if !line.is_empty() {
                out.push_str(line);
                out.push_str("\r\n");
            }
        }
        out.into_bytes()
    }

    fn parse(buf: &[u8]) -> Result<Status<usize>, HandshakeError> {
        let mut headers = [EMPTY_HEADER; 16];
        match parse_request(buf, &mut headers)? {
            Status::Complete((_, len)) => Ok(Status::Complete(len)),
            Status::Partial => Ok(Status::Partial),
        }
    }

    #[test]
    fn rfc6455_1_2_request_parses_and_is_accepted_byte_exact() {
        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete((request, consumed))) = parse_request(RFC_REQUEST, &mut headers)
        else {
            panic!("RFC request did not parse");
        };
        assert_eq!(consumed, RFC_REQUEST.len());
        assert_eq!(request.method(), "GET");
        assert_eq!(request.target(), "/chat");
        assert_eq!(request.path(), "/chat");
        assert_eq!(request.query(), None);
        assert_eq!(request.host(), b"server.example.com");
        assert_eq!(request.origin(), Some(&b"http://example.com"[..]));
        assert_eq!(request.key(), b"dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(request.header("upgrade"), Some(&b"websocket"[..]));
        assert_eq!(request.header("X-Missing"), None);
        assert_eq!(request.headers().len(), 7);
        assert_eq!(
            request.subprotocols().collect::<Vec<_>>(),
            ["chat", "superchat"]
        );
        assert_eq!(request.extensions().count(), 0);

        let options = AcceptOptions {
            subprotocol: Some("chat"),
            ..AcceptOptions::default()
        };
        let mut out = [0u8; 256];
        let len = accept(&request, &options, &mut out).unwrap();
        assert_eq!(&out[..len], RFC_RESPONSE);
        #[cfg(feature = "alloc")]
        assert_eq!(accept_vec(&request, &options).unwrap(), RFC_RESPONSE);
    }

    #[test]
    fn rfc6455_4_2_2_accept_with_extensions_and_extra_headers() {
        let buf = request_with(
            "Sec-WebSocket-Protocol",
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo",
        );
        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete((request, _))) = parse_request(&buf, &mut headers) else {
            panic!("request did not parse");
        };
        let options = AcceptOptions {
            subprotocol: None,
            extensions: Some("permessage-deflate; server_no_context_takeover"),
            extra_headers: &[("Set-Cookie", b"a=b")],
        };
        let mut out = [0u8; 256];
        let len = accept(&request, &options, &mut out).unwrap();
        assert_eq!(
            &out[..len],
            &b"HTTP/1.1 101 Switching Protocols\r\n\
            Upgrade: websocket\r\n\
            Connection: Upgrade\r\n\
            Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
            Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\
            Set-Cookie: a=b\r\n\
            \r\n"[..]
        );
    }

    macro_rules! request_checks {
        ($($test:ident: ($header:expr, $line:expr) => $expected:expr;)*) => {$(
            #[test]
            fn $test() {
                let buf = request_with($header, $line);
                let expected: Result<(), HandshakeError> = $expected;
                let got = parse(&buf).map(|status| {
                    assert_eq!(status, Status::Complete(buf.len()));
                });
                assert_eq!(got, expected, "{}", String::from_utf8_lossy(&buf));
            }
        )*};
    }

    request_checks! {
        rfc6455_4_2_1_1_post_is_not_get:
            ("request-line", "POST /chat HTTP/1.1") => Err(HandshakeError::NotGet);
        rfc6455_4_2_1_1_lowercase_get_is_not_get:
            ("request-line", "get /chat HTTP/1.1") => Err(HandshakeError::NotGet);
        rfc6455_4_2_1_1_http_1_0_refused:
            ("request-line", "GET /chat HTTP/1.0") => Err(HandshakeError::UnsupportedHttpVersion);
        rfc6455_4_2_1_1_http_2_refused:
            ("request-line", "GET /chat HTTP/2.0") => Err(HandshakeError::UnsupportedHttpVersion);
        rfc6455_4_2_1_1_garbage_request_line:
            ("request-line", "GET") => Err(HandshakeError::MalformedHttp);
        rfc6455_4_2_1_2_no_host: ("Host", "") => Err(HandshakeError::MissingHost);
        rfc6455_4_2_1_2_two_hosts:
            ("Host", "Host: a\r\nHost: b") => Err(HandshakeError::DuplicateHost);
        rfc6455_4_2_1_3_no_upgrade: ("Upgrade", "") => Err(HandshakeError::MissingUpgrade);
        rfc6455_4_2_1_3_upgrade_not_websocket:
            ("Upgrade", "Upgrade: h2c") => Err(HandshakeError::InvalidUpgrade);
        rfc6455_4_2_1_3_upgrade_mixed_case:
            ("Upgrade", "Upgrade: WebSocket") => Ok(());
        rfc6455_4_2_1_3_upgrade_list:
            ("Upgrade", "Upgrade: h2c, websocket") => Ok(());
        rfc6455_4_2_1_4_no_connection:
            ("Connection", "") => Err(HandshakeError::MissingConnectionUpgrade);
        rfc6455_4_2_1_4_connection_keep_alive_only:
            ("Connection", "Connection: keep-alive") => Err(HandshakeError::MissingConnectionUpgrade);
        rfc6455_4_2_1_4_connection_keep_alive_upgrade:
            ("Connection", "Connection: keep-alive, Upgrade") => Ok(());
        rfc6455_4_2_1_4_connection_mixed_case:
            ("Connection", "Connection: uPgRaDe") => Ok(());
        rfc6455_4_2_1_4_connection_split_over_headers:
            ("Connection", "Connection: keep-alive\r\nConnection: upgrade") => Ok(());
        rfc6455_4_2_1_4_connection_substring_is_not_token:
            ("Connection", "Connection: upgraded") => Err(HandshakeError::MissingConnectionUpgrade);
        rfc6455_4_2_1_5_no_key: ("Sec-WebSocket-Key", "") => Err(HandshakeError::MissingKey);
        rfc6455_4_2_1_5_key_15_bytes:
            ("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j") => Err(HandshakeError::InvalidKey);
        rfc6455_4_2_1_5_key_17_bytes:
            ("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZTE=") => Err(HandshakeError::InvalidKey);
        rfc6455_4_2_1_5_key_not_base64:
            ("Sec-WebSocket-Key", "Sec-WebSocket-Key: not base64 at all!!!!!") => Err(HandshakeError::InvalidKey);
        rfc6455_4_2_1_5_key_with_whitespace:
            ("Sec-WebSocket-Key", "Sec-WebSocket-Key:   dGhlIHNhbXBsZSBub25jZQ==  ") => Ok(());
        rfc6455_4_2_1_5_duplicate_key: (
            "Sec-WebSocket-Key",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
        ) => Err(HandshakeError::DuplicateKey);
        rfc6455_4_2_1_6_no_version:
            ("Sec-WebSocket-Version", "") => Err(HandshakeError::MissingVersion);
        rfc6455_4_2_1_6_version_8:
            ("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8") => Err(HandshakeError::UnsupportedVersion);
        rfc6455_4_2_1_6_version_list:
            ("Sec-WebSocket-Version", "Sec-WebSocket-Version: 13, 8") => Err(HandshakeError::UnsupportedVersion);
        rfc6455_4_2_1_6_version_repeated_13: (
            "Sec-WebSocket-Version",
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13"
        ) => Ok(());
        rfc9112_5_bad_header_name:
            ("Origin", "Ori gin: x") => Err(HandshakeError::MalformedHttp);
    }

    #[test]
    fn rfc6455_4_4_version_8_rejected_with_426_and_version_13() {
        let buf = request_with("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8");
        let error = parse(&buf).unwrap_err();
        assert_eq!(error, HandshakeError::UnsupportedVersion);
        assert_eq!(error.http_status(), 426);
        let mut out = [0u8; 256];
        let len = reject_error(&error, &mut out).unwrap();
        let body = error.message();
        let expected = std::format!(
            "HTTP/1.1 426 Upgrade Required\r\n\
            Upgrade: websocket\r\n\
            Sec-WebSocket-Version: 13\r\n\
            Content-Type: text/plain; charset=utf-8\r\n\
            Content-Length: {}\r\n\
            Connection: Upgrade, close\r\n\
            \r\n{body}",
            body.len()
        );
        assert_eq!(String::from_utf8_lossy(&out[..len]), expected);
        #[cfg(feature = "alloc")]
        assert_eq!(reject_error_vec(&error), expected.as_bytes());
    }

    #[test]
    fn buffer_too_small_reports_needed_and_leaves_out_untouched() {
        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete((request, _))) = parse_request(RFC_REQUEST, &mut headers) else {
            panic!("RFC request did not parse");
        };
        let options = AcceptOptions {
            subprotocol: Some("chat"),
            ..AcceptOptions::default()
        };
        let mut out = [b'?'; 64];
        assert_eq!(
            accept(&request, &options, &mut out),
            Err(HandshakeError::BufferTooSmall {
                needed: RFC_RESPONSE.len()
            })
        );
        assert_eq!(out, [b'?'; 64]);
        let mut exact = std::vec![0u8; RFC_RESPONSE.len()];
        assert_eq!(
            accept(&request, &options, &mut exact),
            Ok(RFC_RESPONSE.len())
        );
    }

    #[test]
    fn rfc6455_4_2_2_accept_refuses_unoffered_and_injected_values() {
        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete((request, _))) = parse_request(RFC_REQUEST, &mut headers) else {
            panic!("RFC request did not parse");
        };
        let mut out = [0u8; 512];
        for (options, error) in [
            (
                AcceptOptions {
                    subprotocol: Some("graphql-ws"),
                    ..AcceptOptions::default()
                },
                HandshakeError::SubprotocolNotOffered,
            ),
            (
                AcceptOptions {
                    subprotocol: Some("chat\r\nX-Injected: 1"),
                    ..AcceptOptions::default()
                },
                HandshakeError::InvalidHeaderField,
            ),
            (
                AcceptOptions {
                    extensions: Some("permessage-deflate"),
                    ..AcceptOptions::default()
                },
                HandshakeError::ExtensionNotOffered,
            ),
            (
                AcceptOptions {
                    extensions: Some("x\r\nX-Injected: 1"),
                    ..AcceptOptions::default()
                },
                HandshakeError::InvalidHeaderField,
            ),
            (
                AcceptOptions {
                    extra_headers: &[("X-A", b"1\r\nX-Injected: 1")],
                    ..AcceptOptions::default()
                },
                HandshakeError::InvalidHeaderField,
            ),
            (
                AcceptOptions {
                    extra_headers: &[("Sec-WebSocket-Accept", b"forged")],
                    ..AcceptOptions::default()
                },
                HandshakeError::InvalidHeaderField,
            ),
        ] {
            assert_eq!(
                accept(&request, &options, &mut out),
                Err(error),
                "{options:?}"
            );
        }
    }

    #[test]
    fn request_target_split_into_path_and_query() {
        let buf = request_with("request-line", "GET /chat/room?id=1&x=?y HTTP/1.1");
        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete((request, _))) = parse_request(&buf, &mut headers) else {
            panic!("request did not parse");
        };
        assert_eq!(request.target(), "/chat/room?id=1&x=?y");
        assert_eq!(request.path(), "/chat/room");
        assert_eq!(request.query(), Some("id=1&x=?y"));
    }

    #[test]
    fn partial_at_every_split_point() {
        for end in 0..RFC_REQUEST.len() {
            assert_eq!(
                parse(&RFC_REQUEST[..end]),
                Ok(Status::Partial),
                "prefix of {end} bytes"
            );
        }
        assert_eq!(parse(RFC_REQUEST), Ok(Status::Complete(RFC_REQUEST.len())));
    }

    #[test]
    fn frame_bytes_after_head_are_not_consumed() {
        let mut buf = Vec::from(RFC_REQUEST);
        buf.extend_from_slice(&[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ]);
        assert_eq!(parse(&buf), Ok(Status::Complete(RFC_REQUEST.len())));
    }

    #[test]
    fn head_reader_then_parse_one_byte_at_a_time() {
        let mut reader = HeadReader::default();
        let mut buf = Vec::new();
        let mut mid_frame = Vec::from(RFC_REQUEST);
        mid_frame.extend_from_slice(b"\x81\x05Hello");
        for &byte in &mid_frame {
            buf.push(byte);
            if let Status::Complete(head_len) = reader.feed(&buf).unwrap() {
                assert_eq!(head_len, RFC_REQUEST.len());
                assert_eq!(parse(&buf[..head_len]), Ok(Status::Complete(head_len)));
                return;
            }
        }
        panic!("head end not found");
    }

    #[test]
    fn head_too_large() {
        let mut limits = RequestLimits::default();
        limits.max_head_len(64);
        let mut headers = [EMPTY_HEADER; 16];
        assert_eq!(
            parse_request_with(&limits, RFC_REQUEST, &mut headers).map(|s| s.is_complete()),
            Err(HandshakeError::HeadTooLarge)
        );
        // An incomplete head past the limit fails as well.
        assert_eq!(
            parse_request_with(&limits, &RFC_REQUEST[..100], &mut headers).map(|s| s.is_complete()),
            Err(HandshakeError::HeadTooLarge)
        );
        assert_eq!(
            parse_request_with(&limits, &RFC_REQUEST[..64], &mut headers).map(|s| s.is_complete()),
            Ok(false)
        );
        assert_eq!(
            limits.head_reader().feed(RFC_REQUEST),
            Err(HandshakeError::HeadTooLarge)
        );
    }

    #[test]
    fn too_many_headers() {
        let mut buf = Vec::from(&RFC_REQUEST[..RFC_REQUEST.len() - 2]);
        for index in 0..200 {
            buf.extend_from_slice(std::format!("X-{index}: y\r\n").as_bytes());
        }
        buf.extend_from_slice(b"\r\n");
        let mut headers = [EMPTY_HEADER; 256];
        assert_eq!(
            parse_request(&buf, &mut headers).map(|s| s.is_complete()),
            Err(HandshakeError::TooManyHeaders)
        );
        assert_eq!(HandshakeError::TooManyHeaders.http_status(), 431);
        // A larger limit lets the same request through.
        let mut limits = RequestLimits::default();
        limits.max_headers(256);
        assert_eq!(
            parse_request_with(&limits, &buf, &mut headers).map(|s| s.is_complete()),
            Ok(true)
        );
        // So does the caller's header array, when it is the smaller limit.
        let mut few = [EMPTY_HEADER; 8];
        assert_eq!(
            parse_request_with(&limits, &buf, &mut few).map(|s| s.is_complete()),
            Err(HandshakeError::TooManyHeaders)
        );
    }

    #[test]
    fn no_panic_on_arbitrary_bytes() {
        // A small deterministic sweep; the fuzz target covers the rest.
        let mut state = 0x2545_f491_u32;
        let alphabet = b"GET /HTP1.\r\n:, \"\\wsocktupgradeUWS-Key=+\x00\xff";
        for _ in 0..2000 {
            let mut buf = Vec::new();
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let len = (state % 96) as usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                buf.push(alphabet[(state as usize) % alphabet.len()]);
            }
            let _ = parse(&buf);
            let _ = HeadReader::default().feed(&buf);
        }
    }
}
