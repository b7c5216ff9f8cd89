//! Header field helpers: lookup, comma-separated lists (RFC 9110 §5.6.1)
//! and checks on fields we are about to write.

use core::slice;

use super::{HandshakeError, Header};

/// Header names used by the handshake (RFC 6455 §11.3).
pub(crate) mod name {
    pub(crate) const HOST: &str = "Host";
    pub(crate) const UPGRADE: &str = "Upgrade";
    pub(crate) const CONNECTION: &str = "Connection";
    pub(crate) const ORIGIN: &str = "Origin";
    pub(crate) const SEC_WEBSOCKET_KEY: &str = "Sec-WebSocket-Key";
    pub(crate) const SEC_WEBSOCKET_ACCEPT: &str = "Sec-WebSocket-Accept";
    pub(crate) const SEC_WEBSOCKET_VERSION: &str = "Sec-WebSocket-Version";
    pub(crate) const SEC_WEBSOCKET_PROTOCOL: &str = "Sec-WebSocket-Protocol";
    pub(crate) const SEC_WEBSOCKET_EXTENSIONS: &str = "Sec-WebSocket-Extensions";
    pub(crate) const CONTENT_LENGTH: &str = "Content-Length";
    pub(crate) const TRANSFER_ENCODING: &str = "Transfer-Encoding";
}

/// Values of every header called `name` (case-insensitive), in order.
pub(crate) fn values<'h, 'b>(
    headers: &'h [Header<'b>],
    name: &'static str,
) -> impl Iterator<Item = &'b [u8]> + use<'h, 'b> {
    headers
        .iter()
        .filter(move |header| header.name.eq_ignore_ascii_case(name))
        .map(|header| header.value)
}

/// The value of the first header called `name`, without surrounding
/// whitespace.
pub(crate) fn first<'b>(headers: &[Header<'b>], name: &'static str) -> Option<&'b [u8]> {
    values(headers, name).next().map(<[u8]>::trim_ascii)
}

/// Whether any header called `name` lists `token` (case-insensitive).
pub(crate) fn has_token(headers: &[Header<'_>], name: &'static str, token: &str) -> bool {
    ListItems::new(headers, name).any(|item| item.eq_ignore_ascii_case(token.as_bytes()))
}

/// The non-empty, trimmed items of the comma-separated lists in every header
/// called `name` (RFC 9110 §5.6.1). Commas inside quoted strings
/// (RFC 9110 §5.6.4) do not split.
#[derive(Debug, Clone)]
pub(crate) struct ListItems<'h, 'b> {
    headers: slice::Iter<'h, Header<'b>>,
    name: &'static str,
    rest: &'b [u8],
}

impl<'h, 'b> ListItems<'h, 'b> {
    pub(crate) fn new(headers: &'h [Header<'b>], name: &'static str) -> Self {
        Self {
            headers: headers.iter(),
            name,
            rest: &[],
        }
    }

    /// The items of a single list value.
    pub(crate) fn of_value(value: &'b [u8]) -> Self {
        Self {
            headers: [].iter(),
            name: "",
            rest: value,
        }
    }
}

impl<'b> Iterator for ListItems<'_, 'b> {
    type Item = &'b [u8];

    fn next(&mut self) -> Option<&'b [u8]> {
        loop {
            if self.rest.is_empty() {
                let name = self.name;
                self.rest = self
                    .headers
                    .find(|header| header.name.eq_ignore_ascii_case(name))?
                    .value;
                continue;
            }
            let (item, rest) = split_item(self.rest);
            self.rest = rest;
            let item = item.trim_ascii();
            if !item.is_empty() {
                return Some(item);
            }
        }
    }
}

/// Splits `list` at its first comma outside a quoted string.
fn split_item(list: &[u8]) -> (&[u8], &[u8]) {
    let mut quoted = false;
    let mut escaped = false;
    for (at, &byte) in list.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted {
            match byte {
                b'\\' => escaped = true,
                b'"' => quoted = false,
                _ => {}
            }
        } else if byte == b'"' {
            quoted = true;
        } else if byte == b',' {
            let (item, rest) = list.split_at(at);
            return (item, rest.get(1..).unwrap_or_default());
        }
    }
    (list, &[])
}

/// The subprotocols listed in `Sec-WebSocket-Protocol` headers
/// (RFC 6455 §4.1 item 10, §11.3.4): comma-separated across all such headers,
/// trimmed, empty items skipped.
///
/// Items that are not valid UTF-8 are skipped: they cannot be tokens.
#[derive(Debug, Clone)]
pub struct Subprotocols<'h, 'b> {
    items: ListItems<'h, 'b>,
}

impl<'h, 'b> Subprotocols<'h, 'b> {
    pub(crate) fn new(headers: &'h [Header<'b>]) -> Self {
        Self {
            items: ListItems::new(headers, name::SEC_WEBSOCKET_PROTOCOL),
        }
    }
}

impl<'b> Iterator for Subprotocols<'_, 'b> {
    type Item = &'b str;

    fn next(&mut self) -> Option<&'b str> {
        self.items
            .by_ref()
            .find_map(|item| core::str::from_utf8(item).ok())
    }
}

/// One item of a `Sec-WebSocket-Extensions` list (RFC 6455 §9.1): an
/// extension name with its raw, unparsed parameters, such as
/// `permessage-deflate; client_max_window_bits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Extension<'b> {
    raw: &'b str,
    name: &'b str,
    params: &'b str,
}

impl<'b> Extension<'b> {
    /// Splits one trimmed list item into name and parameters.
    fn from_item(raw: &'b str) -> Self {
        let (name, params) = raw.split_once(';').unwrap_or((raw, ""));
        Self {
            raw,
            name: name.trim_ascii(),
            params: params.trim_ascii(),
        }
    }

    /// The extension token, such as `permessage-deflate`.
    pub const fn name(&self) -> &'b str {
        self.name
    }

    /// The whole item, trimmed: name and parameters, exactly as received.
    pub const fn raw(&self) -> &'b str {
        self.raw
    }

    /// The unparsed parameters after the first `;`, trimmed; empty if there
    /// are none.
    pub const fn params(&self) -> &'b str {
        self.params
    }
}

/// The items of `Sec-WebSocket-Extensions` lists (RFC 6455 §9.1): comma
/// separated across all such headers, commas inside quoted strings not
/// splitting, trimmed, empty items skipped.
///
/// Items that are not valid UTF-8 are skipped: the grammar only allows
/// tokens and quoted tokens.
#[derive(Debug, Clone)]
pub struct Extensions<'h, 'b> {
    items: ListItems<'h, 'b>,
}

impl<'h, 'b> Extensions<'h, 'b> {
    pub(crate) fn new(headers: &'h [Header<'b>]) -> Self {
        Self {
            items: ListItems::new(headers, name::SEC_WEBSOCKET_EXTENSIONS),
        }
    }

    /// The items of one `Sec-WebSocket-Extensions` header value, for
    /// callers that hold the value rather than parsed headers.
    pub fn of_value(value: &'b str) -> Self {
        Self {
            items: ListItems::of_value(value.as_bytes()),
        }
    }
}

impl<'b> Iterator for Extensions<'_, 'b> {
    type Item = Extension<'b>;

    fn next(&mut self) -> Option<Extension<'b>> {
        self.items
            .by_ref()
            .find_map(|item| core::str::from_utf8(item).ok())
            .map(Extension::from_item)
    }
}

/// The name of a raw `Sec-WebSocket-Extensions` item: the part before the
/// first `;`, trimmed (RFC 6455 §9.1).
pub(crate) fn extension_name(item: &[u8]) -> &[u8] {
    item.split(|&byte| byte == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii()
}

/// Whether `value` is a token (RFC 9110 §5.6.2).
pub(crate) fn is_token(value: &[u8]) -> bool {
    const DELIMITERS: &[u8] = b"!#$%&'*+-.^_`|~";
    !value.is_empty()
        && value
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || DELIMITERS.contains(byte))
}

/// Whether `value` may be written as a field value (RFC 9110 §5.5): no
/// control characters except horizontal tab, so no CR or LF to split the
/// head with.
pub(crate) fn is_field_value(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&byte| byte == b'\t' || (byte >= b' ' && byte != 0x7f))
}

/// Checks caller-supplied headers before writing them: names must be tokens
/// and not among `reserved` (headers the handshake writes itself), values
/// must be valid field values.
pub(crate) fn check_extra_headers(
    headers: &[(&str, &[u8])],
    reserved: &[&str],
) -> Result<(), HandshakeError> {
    for (header, value) in headers {
        let reserved = reserved
            .iter()
            .any(|name| name.eq_ignore_ascii_case(header));
        if reserved || !is_token(header.as_bytes()) || !is_field_value(value) {
            return Err(HandshakeError::InvalidHeaderField);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn header<'b>(name: &'b str, value: &'b str) -> Header<'b> {
        Header {
            name,
            value: value.as_bytes(),
        }
    }

    #[test]
    fn rfc9110_5_6_1_list_items_across_headers() {
        let headers = [
            header("Connection", "keep-alive, , Upgrade"),
            header("Host", "x"),
            header("connection", ",close ,"),
        ];
        let items: Vec<_> = ListItems::new(&headers, name::CONNECTION).collect();
        assert_eq!(items, [&b"keep-alive"[..], b"Upgrade", b"close"]);
        assert!(has_token(&headers, name::CONNECTION, "upgrade"));
        assert!(!has_token(&headers, name::CONNECTION, "keep"));
        assert!(!has_token(&headers, name::UPGRADE, "websocket"));
    }

    #[test]
    fn rfc9110_5_6_4_quoted_commas_do_not_split() {
        let items: Vec<_> = ListItems::of_value(br#"a; p="x,\"y,z", b,c; q="\\",d"#).collect();
        assert_eq!(
            items,
            [&br#"a; p="x,\"y,z""#[..], b"b", br#"c; q="\\""#, b"d"]
        );
        // An unterminated quote swallows the rest of the value.
        let items: Vec<_> = ListItems::of_value(br#"a; p="x, b"#).collect();
        assert_eq!(items, [&br#"a; p="x, b"#[..]]);
    }

    #[test]
    fn rfc6455_11_3_4_subprotocols() {
        let headers = [
            header("Sec-WebSocket-Protocol", "chat, superchat"),
            header("sec-websocket-protocol", " v2.json ,"),
        ];
        let offered: Vec<_> = Subprotocols::new(&headers).collect();
        assert_eq!(offered, ["chat", "superchat", "v2.json"]);
        let bad = [Header {
            name: "Sec-WebSocket-Protocol",
            value: b"\xff\xfe, ok",
        }];
        assert_eq!(Subprotocols::new(&bad).collect::<Vec<_>>(), ["ok"]);
    }

    #[test]
    fn rfc6455_9_1_extension_offers() {
        let headers = [
            header(
                "Sec-WebSocket-Extensions",
                r#"permessage-deflate; client_max_window_bits, x-foo; p="a,b""#,
            ),
            header("Sec-WebSocket-Extensions", "permessage-deflate"),
        ];
        let offers: Vec<_> = Extensions::new(&headers).collect();
        assert_eq!(offers.len(), 3);
        assert_eq!(offers[0].name(), "permessage-deflate");
        assert_eq!(offers[0].params(), "client_max_window_bits");
        assert_eq!(
            offers[0].raw(),
            "permessage-deflate; client_max_window_bits"
        );
        assert_eq!(offers[1].name(), "x-foo");
        assert_eq!(offers[1].params(), r#"p="a,b""#);
        assert_eq!(offers[2].raw(), "permessage-deflate");
        assert_eq!(offers[2].params(), "");
    }

    #[test]
    fn rfc9110_5_5_field_checks() {
        assert!(is_token(b"X-Custom_1"));
        assert!(!is_token(b""));
        assert!(!is_token(b"X Custom"));
        assert!(!is_token(b"X:"));
        assert!(is_field_value(b"a b\tc \xff"));
        assert!(!is_field_value(b"a\r\nInjected: 1"));
        assert!(!is_field_value(b"a\nb"));
        assert!(!is_field_value(b"a\0"));
        assert_eq!(check_extra_headers(&[("X-A", b"1")], &["Upgrade"]), Ok(()));
        for bad in [
            ("upgrade", &b"x"[..]),
            ("X-A\r\nX-B", b"1"),
            ("X-A", b"1\r\nX-B: 2"),
            ("", b"1"),
        ] {
            assert_eq!(
                check_extra_headers(&[bad], &["Upgrade"]),
                Err(HandshakeError::InvalidHeaderField),
                "{bad:?}"
            );
        }
    }
}
