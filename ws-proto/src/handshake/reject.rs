//! Refusing an upgrade with an HTTP error response (RFC 6455 §4.2.2 item 4,
//! §4.4).

use super::fields::{check_extra_headers, name};
use super::write::{Writer, write_with};
use super::{HandshakeError, WEBSOCKET_VERSION};

/// Headers that [`reject`] writes itself; `headers` may not repeat them.
const REJECT_RESERVED: &[&str] = &[
    name::CONNECTION,
    name::CONTENT_LENGTH,
    name::TRANSFER_ENCODING,
];

/// Writes an HTTP error response that refuses the upgrade (RFC 6455 §4.2.2
/// item 4).
///
/// The response is `HTTP/1.1 <status> <reason>`, `headers`, `Content-Length`,
/// `Connection: close`, a blank line and `body`. Close the connection after
/// sending it.
///
/// Returns the number of bytes written.
///
/// # Errors
///
/// - [`HandshakeError::InvalidStatus`] unless `200 <= status <= 599`.
/// - [`HandshakeError::InvalidHeaderField`] for a header name that is not a
///   token, a value with control characters, or `Content-Length`,
///   `Transfer-Encoding` or `Connection`, which `reject` writes itself.
/// - [`HandshakeError::BufferTooSmall`] if `out` is too small; `out` is then
///   left untouched.
pub fn reject(
    status: u16,
    headers: &[(&str, &[u8])],
    body: &[u8],
    out: &mut [u8],
) -> Result<usize, HandshakeError> {
    check_reject(status, headers)?;
    write_with(out, |w| write_reject(w, status, "close", headers, body))
}

/// Like [`reject`], into a new vector.
///
/// # Errors
///
/// As [`reject`], except that it never runs out of space.
#[cfg(feature = "alloc")]
pub fn reject_vec(
    status: u16,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Result<alloc::vec::Vec<u8>, HandshakeError> {
    check_reject(status, headers)?;
    Ok(super::write::write_vec(|w| {
        write_reject(w, status, "close", headers, body);
    }))
}

/// Writes the response for a request that failed with `error`.
///
/// It has the error's [`http_status`](HandshakeError::http_status), a short
/// plain-text explanation, and the headers that status calls for:
/// `Allow: GET` with 405 (RFC 9110 §15.5.6), and `Upgrade: websocket` with
/// `Sec-WebSocket-Version: 13` with 426 (RFC 6455 §4.4, RFC 9110 §15.5.22).
///
/// # Errors
///
/// [`HandshakeError::BufferTooSmall`] if `out` is too small; `out` is then
/// left untouched. 256 bytes are always enough.
pub fn reject_error(error: &HandshakeError, out: &mut [u8]) -> Result<usize, HandshakeError> {
    write_with(out, |w| write_reject_error(w, error))
}

/// Like [`reject_error`], into a new vector.
#[cfg(feature = "alloc")]
pub fn reject_error_vec(error: &HandshakeError) -> alloc::vec::Vec<u8> {
    super::write::write_vec(|w| write_reject_error(w, error))
}

fn check_reject(status: u16, headers: &[(&str, &[u8])]) -> Result<(), HandshakeError> {
    if !(200..=599).contains(&status) {
        return Err(HandshakeError::InvalidStatus);
    }
    check_extra_headers(headers, REJECT_RESERVED)
}

fn write_reject_error(w: &mut Writer<'_>, error: &HandshakeError) {
    const TEXT: (&str, &[u8]) = ("Content-Type", b"text/plain; charset=utf-8");
    const ALLOW: (&str, &[u8]) = ("Allow", b"GET");
    const UPGRADE: (&str, &[u8]) = (name::UPGRADE, b"websocket");
    const VERSION: (&str, &[u8]) = (name::SEC_WEBSOCKET_VERSION, WEBSOCKET_VERSION.as_bytes());
    let status = error.http_status();
    let (connection, headers): (&str, &[(&str, &[u8])]) = match status {
        405 => ("close", &[ALLOW, TEXT]),
        426 => ("Upgrade, close", &[UPGRADE, VERSION, TEXT]),
        _ => ("close", &[TEXT]),
    };
    write_reject(w, status, connection, headers, error.message().as_bytes());
}

fn write_reject(
    w: &mut Writer<'_>,
    status: u16,
    connection: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) {
    w.put(b"HTTP/1.1 ");
    w.decimal(status.into());
    w.put(b" ");
    w.put_str(reason_phrase(status));
    w.put(b"\r\n");
    for (header, value) in headers {
        w.header(header, value);
    }
    w.put_str(name::CONTENT_LENGTH);
    w.put(b": ");
    w.decimal(body.len());
    w.put(b"\r\n");
    w.header(name::CONNECTION, connection.as_bytes());
    w.put(b"\r\n");
    w.put(body);
}

/// The reason phrase for common statuses (RFC 9110 §15); empty for others,
/// which the status-line grammar allows (RFC 9112 §4).
const fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        414 => "URI Too Long",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn reject_error_bytes(error: &HandshakeError) -> Vec<u8> {
        let mut out = [0u8; 256];
        let len = reject_error(error, &mut out).unwrap();
        out[..len].to_vec()
    }

    #[test]
    fn reject_error_statuses() {
        for (error, status_line, extra) in [
            (
                HandshakeError::NotGet,
                "HTTP/1.1 405 Method Not Allowed\r\n",
                "Allow: GET\r\n",
            ),
            (
                HandshakeError::MissingHost,
                "HTTP/1.1 400 Bad Request\r\n",
                "",
            ),
            (
                HandshakeError::TooManyHeaders,
                "HTTP/1.1 431 Request Header Fields Too Large\r\n",
                "",
            ),
            (
                HandshakeError::MissingVersion,
                "HTTP/1.1 426 Upgrade Required\r\n",
                "Sec-WebSocket-Version: 13\r\n",
            ),
        ] {
            let response = reject_error_bytes(&error);
            let text = String::from_utf8(response).unwrap();
            assert!(text.starts_with(status_line), "{text}");
            assert!(text.contains(extra), "{text}");
            assert!(text.ends_with(error.message()), "{text}");
            let mut out = [0u8; 256];
            assert!(reject_error(&error, &mut out).is_ok());
        }
    }

    #[test]
    fn reject_writes_status_headers_and_body() {
        let mut out = [0u8; 128];
        let len = reject(403, &[("X-Reason", b"origin")], b"nope", &mut out).unwrap();
        assert_eq!(
            &out[..len],
            b"HTTP/1.1 403 Forbidden\r\n\
            X-Reason: origin\r\n\
            Content-Length: 4\r\n\
            Connection: close\r\n\
            \r\nnope"
        );
        let len = reject(599, &[], b"", &mut out).unwrap();
        assert_eq!(
            &out[..len],
            b"HTTP/1.1 599 \r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        #[cfg(feature = "alloc")]
        assert_eq!(
            reject_vec(403, &[], b"").unwrap(),
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn reject_refuses_bad_status_and_headers() {
        let mut out = [0u8; 128];
        for status in [0, 101, 199, 600, 1000] {
            assert_eq!(
                reject(status, &[], b"", &mut out),
                Err(HandshakeError::InvalidStatus)
            );
        }
        for header in [
            ("Content-Length", &b"1"[..]),
            ("connection", b"keep-alive"),
            ("X-A", b"1\r\n\r\nHTTP/1.1 200 OK"),
            ("X-A\r\nX-B", b"1"),
        ] {
            assert_eq!(
                reject(400, &[header], b"", &mut out),
                Err(HandshakeError::InvalidHeaderField)
            );
        }
    }

    #[test]
    fn buffer_too_small_reports_needed_and_leaves_out_untouched() {
        let mut out = [b'?'; 10];
        assert_eq!(
            reject(404, &[], b"", &mut out),
            Err(HandshakeError::BufferTooSmall { needed: 64 })
        );
        assert_eq!(out, [b'?'; 10]);
        let mut out = [b'?'; 10];
        let needed = reject_error_bytes(&HandshakeError::MissingKey).len();
        assert_eq!(
            reject_error(&HandshakeError::MissingKey, &mut out),
            Err(HandshakeError::BufferTooSmall { needed })
        );
    }

    #[test]
    fn reject_error_fits_256_bytes_for_every_error() {
        use HandshakeError as E;
        for error in [
            E::MalformedHttp,
            E::NotGet,
            E::UnsupportedHttpVersion,
            E::MissingHost,
            E::DuplicateHost,
            E::MissingUpgrade,
            E::InvalidUpgrade,
            E::MissingConnectionUpgrade,
            E::MissingKey,
            E::InvalidKey,
            E::DuplicateKey,
            E::MissingVersion,
            E::UnsupportedVersion,
            E::HeadTooLarge,
            E::TooManyHeaders,
            E::BadStatus(u16::MAX),
            E::MissingAccept,
            E::InvalidAccept,
            E::UnexpectedSubprotocol,
            E::UnexpectedExtension,
            E::SubprotocolNotOffered,
            E::ExtensionNotOffered,
            E::InvalidHeaderField,
            E::InvalidRequestTarget,
            E::InvalidStatus,
            E::BufferTooSmall { needed: usize::MAX },
        ] {
            let bytes = reject_error_bytes(&error);
            assert!(bytes.len() <= 256, "{error:?}: {}", bytes.len());
            let mut headers = [httparse::EMPTY_HEADER; 8];
            let mut response = httparse::Response::new(&mut headers);
            let head_len = match response.parse(&bytes) {
                Ok(httparse::Status::Complete(len)) => len,
                other => panic!("{error:?}: {other:?}"),
            };
            assert_eq!(response.code, Some(error.http_status()));
            assert_eq!(&bytes[head_len..], error.message().as_bytes());
        }
    }
}
