//! `ws://` and `wss://` URLs (RFC 6455 §3).

use crate::error::Error;

/// A parsed WebSocket URL: `ws[s]://host[:port][/path][?query]`.
///
/// ```
/// let url = ws_runtime::WsUrl::parse("ws://127.0.0.1:9001/chat?room=1").unwrap();
/// assert_eq!(url.host(), "127.0.0.1");
/// assert_eq!(url.port(), 9001);
/// assert_eq!(url.resource(), "/chat?room=1");
/// assert_eq!(url.host_header(), "127.0.0.1:9001");
/// assert!(!url.is_secure());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    secure: bool,
    host: String,
    port: u16,
    resource: String,
    host_header: String,
}

impl WsUrl {
    /// Parses `url`. Fragments (`#`) and user info (`user@`) are refused
    /// (RFC 6455 §3); the port defaults to 80 for `ws` and 443 for `wss`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] with the reason.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let invalid = |why: &str| Error::InvalidUrl(format!("{why}: {url}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("missing scheme"))?;
        let secure = if scheme.eq_ignore_ascii_case("ws") {
            false
        } else if scheme.eq_ignore_ascii_case("wss") {
            true
        } else {
            return Err(invalid("scheme is not ws or wss"));
        };
        if rest.contains('#') {
            return Err(invalid("fragments are not allowed"));
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(split);
        if authority.contains('@') {
            return Err(invalid("user info is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| invalid("unterminated IPv6 address"))?;
            match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if after.is_empty() => (host, None),
                None => return Err(invalid("junk after IPv6 address")),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() || !host.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid("invalid host"));
        }
        let default_port = if secure { 443 } else { 80 };
        let port = match port {
            Some(port) => port.parse().map_err(|_| invalid("invalid port"))?,
            None => default_port,
        };
        let bracketed = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let host_header = if port == default_port {
            bracketed
        } else {
            format!("{bracketed}:{port}")
        };
        let resource = match resource {
            "" => "/".to_owned(),
            r if r.starts_with('?') => format!("/{r}"),
            r => r.to_owned(),
        };
        Ok(Self {
            secure,
            host: host.to_owned(),
            port,
            resource,
            host_header,
        })
    }

    /// Whether the scheme is `wss` (TLS).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The host, without brackets for IPv6 (what a resolver wants).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The resource name: path and query, at least `/`.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The `Host` header value: host, with `:port` unless it is the
    /// default.
    pub fn host_header(&self) -> &str {
        &self.host_header
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_3_urls() {
        let u = WsUrl::parse("wss://example.com").unwrap();
        assert_eq!(
            (
                u.is_secure(),
                u.host(),
                u.port(),
                u.resource(),
                u.host_header()
            ),
            (true, "example.com", 443, "/", "example.com")
        );
        let u = WsUrl::parse("ws://[::1]:9001?x=1").unwrap();
        assert_eq!(
            (u.host(), u.port(), u.resource(), u.host_header()),
            ("::1", 9001, "/?x=1", "[::1]:9001")
        );
        let u = WsUrl::parse("WS://h:80/a/b").unwrap();
        assert_eq!((u.host_header(), u.resource()), ("h", "/a/b"));
        for bad in [
            "http://h/",
            "ws://h/#frag",
            "ws://u@h/",
            "ws://:80/",
            "ws://h:x/",
            "h:80",
            "ws://[::1/",
        ] {
            assert!(WsUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
