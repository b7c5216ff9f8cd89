//! Client side of the opening handshake (RFC 6455 §4.1).
//!
//! 1. Build a [`ClientHandshake`] with a fresh random nonce (see
//!    [`random_nonce`] under `std`) and [`encode`](ClientHandshake::encode)
//!    the request.
//! 2. Collect the response head with a [`HeadReader`](super::HeadReader),
//!    which looks at each received byte once, then call
//!    [`receive_response`](ClientHandshake::receive_response) once on the
//!    complete head. (Calling `receive_response` after every read also
//!    works, but parses from the start each time.)
//! 3. Bytes after the head are WebSocket frames.

use super::accept_key::{KEY_LEN, accept_key, encode_key};
use super::fields::{
    self, Extensions, ListItems, check_extra_headers, extension_name, is_field_value, is_token,
    name,
};
use super::head::RequestLimits;
use super::server::{check_upgrade, from_httparse};
use super::write::{Writer, write_with};
use super::{HandshakeError, Header, Status, WEBSOCKET_VERSION};

/// Headers that [`ClientHandshake::encode`] writes itself; extra headers may
/// not repeat them.
const RESERVED: &[&str] = &[
    name::HOST,
    name::UPGRADE,
    name::CONNECTION,
    name::SEC_WEBSOCKET_KEY,
    name::SEC_WEBSOCKET_VERSION,
    name::SEC_WEBSOCKET_PROTOCOL,
    name::SEC_WEBSOCKET_EXTENSIONS,
    name::CONTENT_LENGTH,
    name::TRANSFER_ENCODING,
];

/// A client's opening handshake (RFC 6455 §4.1): encodes the upgrade request
/// and validates the server's answer.
///
/// ```
/// use ws_proto::handshake::client::ClientHandshake;
///
/// let handshake = ClientHandshake::new("server.example.com", "/chat", *b"the sample nonce")
///     .subprotocols(&["chat", "superchat"]);
/// let mut out = [0u8; 256];
/// let len = handshake.encode(&mut out)?;
/// assert!(out[..len].starts_with(b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"));
/// # Ok::<(), ws_proto::handshake::HandshakeError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ClientHandshake<'a> {
    host: &'a str,
    path: &'a str,
    key: [u8; KEY_LEN],
    subprotocols: &'a [&'a str],
    extensions: Option<&'a str>,
    extra_headers: &'a [(&'a str, &'a [u8])],
    limits: RequestLimits,
}

impl<'a> ClientHandshake<'a> {
    /// A handshake for `ws://host/path` (RFC 6455 §3, §4.1).
    ///
    /// - `host` is the `Host` header value: the host, with `:port` unless it
    ///   is the scheme's default.
    /// - `path` is the resource name: `/`, the path and an optional `?query`.
    /// - `nonce` must be freshly chosen and random for every connection
    ///   (RFC 6455 §4.1 item 7); [`random_nonce`] provides one under `std`.
    ///
    /// Inputs are checked by [`encode`](Self::encode).
    pub fn new(host: &'a str, path: &'a str, nonce: [u8; 16]) -> Self {
        Self {
            host,
            path,
            key: encode_key(&nonce),
            subprotocols: &[],
            extensions: None,
            extra_headers: &[],
            limits: RequestLimits::DEFAULT,
        }
    }

    /// The subprotocols to offer, most preferred first (RFC 6455 §4.1
    /// item 10). Each must be a token. Default: none.
    #[must_use]
    pub const fn subprotocols(mut self, subprotocols: &'a [&'a str]) -> Self {
        self.subprotocols = subprotocols;
        self
    }

    /// The raw `Sec-WebSocket-Extensions` value to offer, such as
    /// `permessage-deflate; client_max_window_bits` (RFC 6455 §4.1 item 11,
    /// §9.1). Default: none.
    #[must_use]
    pub const fn extensions(mut self, offer: Option<&'a str>) -> Self {
        self.extensions = offer;
        self
    }

    /// Further request headers, such as `Origin` (RFC 6455 §4.1 item 8) or
    /// `Authorization`. Names must be tokens and values free of control
    /// characters; headers the handshake writes itself are refused.
    #[must_use]
    pub const fn extra_headers(mut self, headers: &'a [(&'a str, &'a [u8])]) -> Self {
        self.extra_headers = headers;
        self
    }

    /// Limits on the response head. Default: [`RequestLimits::DEFAULT`].
    #[must_use]
    pub const fn limits(mut self, limits: RequestLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The `Sec-WebSocket-Key` sent: the nonce in base64 (RFC 6455 §4.1
    /// item 7).
    pub const fn key(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    /// Writes the upgrade request into `out` and returns its length:
    /// `GET {path} HTTP/1.1`, `Host`, `Upgrade: websocket`,
    /// `Connection: Upgrade`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13`,
    /// then `Sec-WebSocket-Protocol`, `Sec-WebSocket-Extensions` and the extra
    /// headers if any, then a blank line.
    ///
    /// # Errors
    ///
    /// - [`HandshakeError::InvalidRequestTarget`] if `path` is empty, does not
    ///   start with `/`, or has whitespace, control, non-ASCII or `#`
    ///   characters (RFC 6455 §3).
    /// - [`HandshakeError::InvalidHeaderField`] if the host is empty or has
    ///   whitespace or control characters, a subprotocol is not a token,
    ///   or a header value could split the head (CR, LF).
    /// - [`HandshakeError::BufferTooSmall`] if `out` is too small; `out` is
    ///   then left untouched.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, HandshakeError> {
        self.check()?;
        write_with(out, |w| self.write(w))
    }

    /// Like [`encode`](Self::encode), into a new vector.
    ///
    /// # Errors
    ///
    /// As [`encode`](Self::encode), except that it never runs out of space.
    #[cfg(feature = "alloc")]
    pub fn encode_vec(&self) -> Result<alloc::vec::Vec<u8>, HandshakeError> {
        self.check()?;
        Ok(super::write::write_vec(|w| self.write(w)))
    }

    fn check(&self) -> Result<(), HandshakeError> {
        let path = self.path.as_bytes();
        let path_ok = path.first() == Some(&b'/')
            && path
                .iter()
                .all(|&byte| byte.is_ascii_graphic() && byte != b'#');
        if !path_ok {
            return Err(HandshakeError::InvalidRequestTarget);
        }
        let host = self.host.as_bytes();
        let host_ok = !host.is_empty() && host.iter().all(u8::is_ascii_graphic);
        let subprotocols_ok = self
            .subprotocols
            .iter()
            .all(|subprotocol| is_token(subprotocol.as_bytes()));
        let extensions_ok = self
            .extensions
            .is_none_or(|offer| is_field_value(offer.as_bytes()));
        if !(host_ok && subprotocols_ok && extensions_ok) {
            return Err(HandshakeError::InvalidHeaderField);
        }
        check_extra_headers(self.extra_headers, RESERVED)
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.put(b"GET ");
        w.put_str(self.path);
        w.put(b" HTTP/1.1\r\n");
        w.header(name::HOST, self.host.as_bytes());
        w.header(name::UPGRADE, b"websocket");
        w.header(name::CONNECTION, b"Upgrade");
        w.header(name::SEC_WEBSOCKET_KEY, &self.key);
        w.header(name::SEC_WEBSOCKET_VERSION, WEBSOCKET_VERSION.as_bytes());
        if let Some((first, rest)) = self.subprotocols.split_first() {
            w.put_str(name::SEC_WEBSOCKET_PROTOCOL);
            w.put(b": ");
            w.put_str(first);
            for subprotocol in rest {
                w.put(b", ");
                w.put_str(subprotocol);
            }
            w.put(b"\r\n");
        }
        if let Some(offer) = self.offered_extensions() {
            w.header(name::SEC_WEBSOCKET_EXTENSIONS, offer.as_bytes());
        }
        for (header, value) in self.extra_headers {
            w.header(header, value);
        }
        w.put(b"\r\n");
    }

    /// The extension offer, if it is not blank.
    fn offered_extensions(&self) -> Option<&'a str> {
        self.extensions
            .map(str::trim_ascii)
            .filter(|offer| !offer.is_empty())
    }

    /// Parses and validates the server's response (RFC 6455 §4.1, "the
    /// client MUST validate the server's response").
    ///
    /// `buf` holds the bytes received so far; `headers` is storage for the
    /// parsed header fields (at most `min(headers.len(), max_headers)` are
    /// accepted). Returns [`Status::Partial`] while the head is incomplete,
    /// or the response and the length of its head: `buf[len..]` holds
    /// WebSocket frames.
    ///
    /// This parses `buf` from the start on each call; to keep a slow server
    /// from costing quadratic work, call it once a
    /// [`HeadReader`](super::HeadReader) has found the end of the head.
    ///
    /// # Errors
    ///
    /// Any error means the client must _Fail the WebSocket Connection_:
    /// - [`HandshakeError::BadStatus`] for a status other than 101 (the
    ///   head of, say, a redirect is still parsed first);
    /// - [`MissingUpgrade`](HandshakeError::MissingUpgrade),
    ///   [`InvalidUpgrade`](HandshakeError::InvalidUpgrade),
    ///   [`MissingConnectionUpgrade`](HandshakeError::MissingConnectionUpgrade);
    /// - [`MissingAccept`](HandshakeError::MissingAccept),
    ///   [`InvalidAccept`](HandshakeError::InvalidAccept);
    /// - [`UnexpectedSubprotocol`](HandshakeError::UnexpectedSubprotocol) if
    ///   the server selected a subprotocol we did not offer, or several;
    /// - [`UnexpectedExtension`](HandshakeError::UnexpectedExtension) if it
    ///   named an extension we did not offer;
    /// - [`MalformedHttp`](HandshakeError::MalformedHttp),
    ///   [`UnsupportedHttpVersion`](HandshakeError::UnsupportedHttpVersion),
    ///   [`TooManyHeaders`](HandshakeError::TooManyHeaders),
    ///   [`HeadTooLarge`](HandshakeError::HeadTooLarge).
    pub fn receive_response<'h, 'b>(
        &self,
        buf: &'b [u8],
        headers: &'h mut [Header<'b>],
    ) -> Result<Status<(Response<'h, 'b>, usize)>, HandshakeError> {
        let mut response = httparse::Response::new(self.limits.limit_headers(headers));
        let status = response.parse(buf).map_err(from_httparse)?;
        self.limits.check_head_len(buf.len(), &status)?;
        let httparse::Status::Complete(consumed) = status else {
            return Ok(Status::Partial);
        };
        let (Some(version), Some(code)) = (response.version, response.code) else {
            return Err(HandshakeError::MalformedHttp);
        };
        let headers: &'h [Header<'b>] = response.headers;
        if code != 101 {
            return Err(HandshakeError::BadStatus(code));
        }
        if version < 1 {
            return Err(HandshakeError::UnsupportedHttpVersion);
        }
        check_upgrade(headers)?;
        self.check_accept(headers)?;
        let subprotocol = self.check_subprotocol(headers)?;
        self.check_extensions(headers)?;
        let response = Response {
            code,
            reason: response.reason.unwrap_or_default(),
            headers,
            subprotocol,
        };
        Ok(Status::Complete((response, consumed)))
    }

    /// RFC 6455 §4.1 item 4 of the response checks.
    fn check_accept(&self, headers: &[Header<'_>]) -> Result<(), HandshakeError> {
        let mut values = fields::values(headers, name::SEC_WEBSOCKET_ACCEPT);
        let value = values.next().ok_or(HandshakeError::MissingAccept)?;
        if values.next().is_some() || value.trim_ascii() != accept_key(&self.key) {
            return Err(HandshakeError::InvalidAccept);
        }
        Ok(())
    }

    /// RFC 6455 §4.1 item 6 of the response checks: at most one value, and
    /// one we offered.
    fn check_subprotocol<'b>(
        &self,
        headers: &[Header<'b>],
    ) -> Result<Option<&'b str>, HandshakeError> {
        let mut values = fields::values(headers, name::SEC_WEBSOCKET_PROTOCOL);
        let Some(value) = values.next() else {
            return Ok(None);
        };
        let selected = core::str::from_utf8(value.trim_ascii()).ok();
        match selected {
            Some(selected) if values.next().is_none() && self.subprotocols.contains(&selected) => {
                Ok(Some(selected))
            }
            _ => Err(HandshakeError::UnexpectedSubprotocol),
        }
    }

    /// RFC 6455 §4.1 item 5 of the response checks: every extension named
    /// must be one we offered.
    fn check_extensions(&self, headers: &[Header<'_>]) -> Result<(), HandshakeError> {
        let offered = self.offered_extensions().unwrap_or_default();
        for item in ListItems::new(headers, name::SEC_WEBSOCKET_EXTENSIONS) {
            let selected = extension_name(item);
            if !Extensions::of_value(offered).any(|offer| offer.name().as_bytes() == selected) {
                return Err(HandshakeError::UnexpectedExtension);
            }
        }
        Ok(())
    }
}

/// A validated `101 Switching Protocols` response (RFC 6455 §4.2.2),
/// borrowing the header array (`'h`) and the received bytes (`'b`).
#[derive(Debug, Clone, Copy)]
pub struct Response<'h, 'b> {
    code: u16,
    reason: &'b str,
    headers: &'h [Header<'b>],
    subprotocol: Option<&'b str>,
}

impl<'h, 'b> Response<'h, 'b> {
    /// The status code; always 101 once validated.
    pub const fn status(&self) -> u16 {
        self.code
    }

    /// The reason phrase, as sent.
    pub const fn reason(&self) -> &'b str {
        self.reason
    }

    /// The subprotocol the server selected, one of those offered
    /// (RFC 6455 §4.2.2 item 5.4).
    pub const fn subprotocol(&self) -> Option<&'b str> {
        self.subprotocol
    }

    /// The extensions the server accepted, as raw items, each named in the
    /// offer (RFC 6455 §9.1).
    pub fn extensions(&self) -> Extensions<'h, 'b> {
        Extensions::new(self.headers)
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
}

/// A fresh nonce for [`ClientHandshake::new`], from the operating system's
/// random number generator (RFC 6455 §4.1 item 7, §10.3).
///
/// # Errors
///
/// When the operating system cannot provide randomness.
#[cfg(feature = "std")]
pub fn random_nonce() -> Result<[u8; 16], getrandom::Error> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce)?;
    Ok(nonce)
}

#[cfg(test)]
mod tests {
    use super::super::EMPTY_HEADER;
    use super::super::server::{self, AcceptOptions};
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    /// RFC 6455 §1.2, the server's answer when it selects `chat`.
    const RFC_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
        Sec-WebSocket-Protocol: chat\r\n\
        \r\n";

    const SUBPROTOCOLS: &[&str] = &["chat", "superchat"];

    fn rfc_client() -> ClientHandshake<'static> {
        ClientHandshake::new("server.example.com", "/chat", *b"the sample nonce")
            .subprotocols(SUBPROTOCOLS)
    }

    fn receive(
        handshake: &ClientHandshake<'_>,
        buf: &[u8],
    ) -> Result<Status<(Option<String>, usize)>, HandshakeError> {
        let mut headers = [EMPTY_HEADER; 16];
        match handshake.receive_response(buf, &mut headers)? {
            Status::Complete((response, len)) => Ok(Status::Complete((
                response.subprotocol().map(String::from),
                len,
            ))),
            Status::Partial => Ok(Status::Partial),
        }
    }

    /// The §1.2 response with header `name` replaced by `line` (removed
    /// when `line` is empty).
    fn response_with(name: &str, line: &str) -> Vec<u8> {
        let text = core::str::from_utf8(RFC_RESPONSE).unwrap();
        let mut out = String::new();
        for (index, original) in text.split_inclusive("\r\n").enumerate() {
            let replace = if index == 0 {
                name == "status-line"
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

    #[test]
    fn rfc6455_1_2_request_encodes_byte_exact() {
        let mut out = [0u8; 256];
        let len = rfc_client().encode(&mut out).unwrap();
        let expected = b"GET /chat HTTP/1.1\r\n\
            Host: server.example.com\r\n\
            Upgrade: websocket\r\n\
            Connection: Upgrade\r\n\
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
            Sec-WebSocket-Version: 13\r\n\
            Sec-WebSocket-Protocol: chat, superchat\r\n\
            \r\n";
        assert_eq!(
            String::from_utf8_lossy(&out[..len]),
            String::from_utf8_lossy(expected)
        );
        #[cfg(feature = "alloc")]
        assert_eq!(rfc_client().encode_vec().unwrap(), expected);
        assert_eq!(rfc_client().key(), b"dGhlIHNhbXBsZSBub25jZQ==");
    }

    #[test]
    fn rfc6455_4_1_request_with_extensions_and_extra_headers() {
        let handshake = ClientHandshake::new("localhost:9001", "/?a=1", [0; 16])
            .extensions(Some("permessage-deflate; client_max_window_bits"))
            .extra_headers(&[("Origin", b"http://localhost")]);
        let mut out = [0u8; 256];
        let len = handshake.encode(&mut out).unwrap();
        let expected = b"GET /?a=1 HTTP/1.1\r\n\
            Host: localhost:9001\r\n\
            Upgrade: websocket\r\n\
            Connection: Upgrade\r\n\
            Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\
            Sec-WebSocket-Version: 13\r\n\
            Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
            Origin: http://localhost\r\n\
            \r\n";
        assert_eq!(
            String::from_utf8_lossy(&out[..len]),
            String::from_utf8_lossy(expected)
        );
    }

    #[test]
    fn encode_refuses_injection_and_bad_inputs() {
        let mut out = [0u8; 512];
        let cases: [(ClientHandshake<'_>, HandshakeError); 9] = [
            (
                ClientHandshake::new("a\r\nX-Injected: 1", "/", [0; 16]),
                HandshakeError::InvalidHeaderField,
            ),
            (
                ClientHandshake::new("", "/", [0; 16]),
                HandshakeError::InvalidHeaderField,
            ),
            (
                ClientHandshake::new("a", "/ HTTP/1.1\r\nX-Injected: 1\r\n", [0; 16]),
                HandshakeError::InvalidRequestTarget,
            ),
            (
                ClientHandshake::new("a", "", [0; 16]),
                HandshakeError::InvalidRequestTarget,
            ),
            (
                ClientHandshake::new("a", "chat", [0; 16]),
                HandshakeError::InvalidRequestTarget,
            ),
            (
                ClientHandshake::new("a", "/#frag", [0; 16]),
                HandshakeError::InvalidRequestTarget,
            ),
            (
                ClientHandshake::new("a", "/", [0; 16]).subprotocols(&["chat, evil"]),
                HandshakeError::InvalidHeaderField,
            ),
            (
                ClientHandshake::new("a", "/", [0; 16]).extensions(Some("x\r\n\r\nGET / HTTP/1.1")),
                HandshakeError::InvalidHeaderField,
            ),
            (
                ClientHandshake::new("a", "/", [0; 16])
                    .extra_headers(&[("Sec-WebSocket-Key", b"x")]),
                HandshakeError::InvalidHeaderField,
            ),
        ];
        for (handshake, error) in cases {
            assert_eq!(handshake.encode(&mut out), Err(error), "{handshake:?}");
        }
    }

    #[test]
    fn encode_buffer_too_small_reports_needed() {
        let handshake = rfc_client();
        let mut big = [0u8; 512];
        let needed = handshake.encode(&mut big).unwrap();
        let mut small = [b'?'; 100];
        assert_eq!(
            handshake.encode(&mut small),
            Err(HandshakeError::BufferTooSmall { needed })
        );
        assert_eq!(small, [b'?'; 100]);
    }

    macro_rules! response_checks {
        ($($test:ident: ($header:expr, $line:expr) => $expected:expr;)*) => {$(
            #[test]
            fn $test() {
                let buf = response_with($header, $line);
                let expected: Result<Option<&str>, HandshakeError> = $expected;
                let got = receive(&rfc_client(), &buf).map(|status| match status {
                    Status::Complete((subprotocol, len)) => {
                        assert_eq!(len, buf.len());
                        subprotocol
                    }
                    Status::Partial => panic!("complete response reported partial"),
                });
                assert_eq!(
                    got.as_ref().map(Option::as_deref),
                    expected.as_ref().copied(),
                    "{}",
                    String::from_utf8_lossy(&buf)
                );
            }
        )*};
    }

    response_checks! {
        rfc6455_4_1_good_response: ("none", "") => Ok(Some("chat"));
        rfc6455_4_1_no_subprotocol_selected: ("Sec-WebSocket-Protocol", "") => Ok(None);
        rfc6455_4_1_1_status_200:
            ("status-line", "HTTP/1.1 200 OK") => Err(HandshakeError::BadStatus(200));
        rfc6455_4_1_1_redirect:
            ("status-line", "HTTP/1.1 302 Found") => Err(HandshakeError::BadStatus(302));
        rfc6455_4_1_1_http_1_0:
            ("status-line", "HTTP/1.0 101 Switching Protocols")
                => Err(HandshakeError::UnsupportedHttpVersion);
        rfc6455_4_1_2_no_upgrade: ("Upgrade", "") => Err(HandshakeError::MissingUpgrade);
        rfc6455_4_1_2_upgrade_not_websocket:
            ("Upgrade", "Upgrade: h2c") => Err(HandshakeError::InvalidUpgrade);
        rfc6455_4_1_2_upgrade_mixed_case: ("Upgrade", "Upgrade: WEBSOCKET") => Ok(Some("chat"));
        rfc6455_4_1_3_no_connection:
            ("Connection", "") => Err(HandshakeError::MissingConnectionUpgrade);
        rfc6455_4_1_3_connection_mixed_case:
            ("Connection", "Connection: keep-alive, upgrade") => Ok(Some("chat"));
        rfc6455_4_1_4_no_accept:
            ("Sec-WebSocket-Accept", "") => Err(HandshakeError::MissingAccept);
        rfc6455_4_1_4_wrong_accept: (
            "Sec-WebSocket-Accept",
            "Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ=="
        ) => Err(HandshakeError::InvalidAccept);
        rfc6455_4_1_4_accept_case_matters: (
            "Sec-WebSocket-Accept",
            "Sec-WebSocket-Accept: S3PPLMBITXAQ9KYGZZHZRBK+XOO="
        ) => Err(HandshakeError::InvalidAccept);
        rfc6455_4_1_4_two_accepts: (
            "Sec-WebSocket-Accept",
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        ) => Err(HandshakeError::InvalidAccept);
        rfc6455_4_1_6_unoffered_subprotocol:
            ("Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: graphql-ws")
                => Err(HandshakeError::UnexpectedSubprotocol);
        rfc6455_4_1_6_subprotocol_list:
            ("Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: chat, superchat")
                => Err(HandshakeError::UnexpectedSubprotocol);
        rfc6455_4_1_6_two_subprotocol_headers: (
            "Sec-WebSocket-Protocol",
            "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat"
        ) => Err(HandshakeError::UnexpectedSubprotocol);
        rfc6455_4_1_6_other_offered_subprotocol:
            ("Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: superchat") => Ok(Some("superchat"));
        rfc6455_4_1_5_unoffered_extension: (
            "Sec-WebSocket-Protocol",
            "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate"
        ) => Err(HandshakeError::UnexpectedExtension);
    }

    #[test]
    fn rfc6455_4_1_6_subprotocol_when_none_offered() {
        let handshake = ClientHandshake::new("server.example.com", "/chat", *b"the sample nonce");
        assert_eq!(
            receive(&handshake, RFC_RESPONSE),
            Err(HandshakeError::UnexpectedSubprotocol)
        );
    }

    #[test]
    fn rfc6455_4_1_5_extensions_checked_against_offer() {
        let handshake =
            rfc_client().extensions(Some("permessage-deflate; client_max_window_bits, x-foo"));
        let buf = response_with(
            "Sec-WebSocket-Protocol",
            "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n\
             Sec-WebSocket-Extensions: x-foo",
        );
        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete((response, len))) = handshake.receive_response(&buf, &mut headers)
        else {
            panic!("response refused");
        };
        assert_eq!(len, buf.len());
        assert_eq!(response.status(), 101);
        assert_eq!(response.reason(), "Switching Protocols");
        assert_eq!(response.subprotocol(), None);
        let names: Vec<_> = response.extensions().map(|e| e.name()).collect();
        assert_eq!(names, ["permessage-deflate", "x-foo"]);
        assert_eq!(
            response.extensions().next().map(|e| e.raw()),
            Some("permessage-deflate; server_max_window_bits=10")
        );
        assert_eq!(response.header("upgrade"), Some(&b"websocket"[..]));
        assert_eq!(response.headers().len(), 5);

        let bad = response_with(
            "Sec-WebSocket-Protocol",
            "Sec-WebSocket-Extensions: x-foo, x-bar",
        );
        assert_eq!(
            receive(&handshake, &bad),
            Err(HandshakeError::UnexpectedExtension)
        );
        let not_utf8 = [
            &RFC_RESPONSE[..RFC_RESPONSE.len() - 2],
            b"Sec-WebSocket-Extensions: \xff\r\n\r\n",
        ]
        .concat();
        assert_eq!(
            receive(&handshake, &not_utf8),
            Err(HandshakeError::UnexpectedExtension)
        );
    }

    #[test]
    fn partial_at_every_split_point_and_frames_left() {
        for end in 0..RFC_RESPONSE.len() {
            assert_eq!(
                receive(&rfc_client(), &RFC_RESPONSE[..end]),
                Ok(Status::Partial)
            );
        }
        let mut buf = Vec::from(RFC_RESPONSE);
        buf.extend_from_slice(b"\x81\x05Hello");
        assert_eq!(
            receive(&rfc_client(), &buf),
            Ok(Status::Complete((
                Some(String::from("chat")),
                RFC_RESPONSE.len()
            )))
        );
    }

    #[test]
    fn response_head_too_large() {
        let mut limits = RequestLimits::default();
        limits.max_head_len(40);
        let handshake = rfc_client().limits(limits);
        assert_eq!(
            receive(&handshake, RFC_RESPONSE),
            Err(HandshakeError::HeadTooLarge)
        );
        assert_eq!(
            receive(&handshake, &RFC_RESPONSE[..41]),
            Err(HandshakeError::HeadTooLarge)
        );
        assert_eq!(
            receive(&handshake, &RFC_RESPONSE[..40]),
            Ok(Status::Partial)
        );
    }

    #[test]
    fn client_and_server_agree() {
        let client = ClientHandshake::new("example.com", "/ws?x=1", *b"0123456789abcdef")
            .subprotocols(&["v2", "v1"])
            .extensions(Some("permessage-deflate"));
        let mut request = [0u8; 512];
        let request_len = client.encode(&mut request).unwrap();

        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete((parsed, consumed))) =
            server::parse_request(&request[..request_len], &mut headers)
        else {
            panic!("server refused the client's request");
        };
        assert_eq!(consumed, request_len);
        assert_eq!(parsed.query(), Some("x=1"));
        let options = AcceptOptions {
            subprotocol: Some("v1"),
            extensions: Some("permessage-deflate"),
            ..AcceptOptions::default()
        };
        let mut response = [0u8; 512];
        let response_len = server::accept(&parsed, &options, &mut response).unwrap();

        let mut headers = [EMPTY_HEADER; 16];
        let Ok(Status::Complete((accepted, _))) =
            client.receive_response(&response[..response_len], &mut headers)
        else {
            panic!("client refused the server's response");
        };
        assert_eq!(accepted.subprotocol(), Some("v1"));
        assert_eq!(accepted.extensions().count(), 1);
    }

    #[cfg(feature = "std")]
    #[test]
    fn random_nonces_differ() {
        let first = random_nonce().unwrap();
        let second = random_nonce().unwrap();
        assert_ne!(first, second);
    }
}
