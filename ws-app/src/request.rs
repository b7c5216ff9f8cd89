//! What a connection knows about the request that opened it: the path, the
//! [`QueryParams`], the [`Headers`], the peer's address.

use std::net::SocketAddr;
use std::str::FromStr;

/// The query string of a request, percent-decoded, in order, with repeated
/// keys kept.
///
/// Parsing follows `application/x-www-form-urlencoded`: pairs split on `&`,
/// key and value on the first `=` (a key without `=` has the value `""`),
/// `+` means a space, `%XX` escapes are decoded (an invalid escape stays as
/// written; bytes that are not UTF-8 after decoding become U+FFFD). Robyn
/// does not decode at all; this does, so `?name=J%C3%BCrgen` gives
/// `"Jürgen"`.
///
/// [`get`](Self::get) returns the **last** value of a repeated key, as
/// Robyn's `query_params.get` does; [`get_all`](Self::get_all) returns every
/// value.
///
/// ```
/// let q = ws_app::QueryParams::parse("room=chat&tag=a&tag=b+c&flag&page=5");
/// assert_eq!(q.get("room"), Some("chat"));
/// assert_eq!(q.get("tag"), Some("b c"));
/// assert_eq!(q.get_all("tag"), vec!["a", "b c"]);
/// assert_eq!(q.get("flag"), Some(""));
/// assert_eq!(q.get_parsed::<u32>("page"), Some(Ok(5)));
/// assert_eq!(q.get_or("missing", "default"), "default");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Parses a raw query string (the part after `?`, without it), with the
    /// `form_urlencoded` crate (the WHATWG URL parser's own).
    pub fn parse(query: &str) -> Self {
        let pairs = form_urlencoded::parse(query.as_bytes())
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        Self { pairs }
    }

    /// The last value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The last value of `key`, or `default`.
    pub fn get_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get(key).unwrap_or(default)
    }

    /// Every value of `key`, in order.
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The last value of `key` parsed as `T` (Robyn's typed "easy access"
    /// parameters): `None` when absent, `Some(Err(_))` when it does not
    /// parse.
    pub fn get_parsed<T: FromStr>(&self, key: &str) -> Option<Result<T, T::Err>> {
        self.get(key).map(str::parse)
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == key)
    }

    /// All pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// The header fields of a request, in the order received; names compare
/// case-insensitively.
///
/// ```
/// let h = ws_app::Headers::from_pairs([("Origin", "https://example.com"), ("X-Tag", "a"), ("x-tag", "b")]);
/// assert_eq!(h.get("origin"), Some("https://example.com"));
/// assert_eq!(h.get_all("X-TAG"), vec!["a", "b"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<(String, Vec<u8>)>,
}

impl Headers {
    /// Headers from `(name, value)` pairs.
    pub fn from_pairs<N: Into<String>, V: Into<Vec<u8>>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        Self {
            fields: pairs
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        }
    }

    /// The first value of `name` as text (`None` if absent or not UTF-8),
    /// with surrounding whitespace trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::trim)
    }

    /// The first value of `name` as bytes.
    pub fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Every value of `name` that is text, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .filter_map(|(_, v)| std::str::from_utf8(v).ok())
            .map(str::trim)
            .collect()
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get_bytes(name).is_some()
    }

    /// All fields, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Whether a comma-separated header `name` lists `token`
    /// (case-insensitive), as `Connection: keep-alive, Upgrade` does.
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

/// The parsed head of an HTTP request: what handlers, guards and
/// connections see of it.
#[derive(Debug, Clone)]
pub(crate) struct RequestHead {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) raw_query: String,
    pub(crate) query: QueryParams,
    pub(crate) headers: Headers,
    pub(crate) peer_addr: SocketAddr,
}

impl RequestHead {
    /// The subprotocols the client offers (`Sec-WebSocket-Protocol`), in
    /// its order of preference.
    pub(crate) fn subprotocols(&self) -> Vec<String> {
        self.headers
            .get_all("sec-websocket-protocol")
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding_table() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("", &[]),
            ("a=1", &[("a", "1")]),
            ("a=1&&b=2&", &[("a", "1"), ("b", "2")]),
            ("a", &[("a", "")]),
            ("a=", &[("a", "")]),
            ("a=b=c", &[("a", "b=c")]),
            ("n=J%C3%BCrgen+X", &[("n", "Jürgen X")]),
            ("k%20ey=v%2Bw", &[("k ey", "v+w")]),
            ("bad=%zz%4", &[("bad", "%zz%4")]),
            ("end=%", &[("end", "%")]),
            ("end2=%4", &[("end2", "%4")]),
            ("lat=%FF", &[("lat", "\u{fffd}")]),
            ("t=a&t=b", &[("t", "a"), ("t", "b")]),
        ];
        for (input, expected) in cases {
            let q = QueryParams::parse(input);
            let got: Vec<_> = q.iter().collect();
            assert_eq!(&got, expected, "{input:?}");
        }
    }

    #[test]
    fn get_returns_the_last_value_like_robyn() {
        let q = QueryParams::parse("one=hi&two=hello&one=again");
        assert_eq!(q.get("one"), Some("again"));
        assert_eq!(q.get_all("one"), vec!["hi", "again"]);
        assert_eq!(q.get("three"), None);
        assert!(q.contains("two"));
        assert_eq!(q.len(), 3);
        assert_eq!(q.get_parsed::<u8>("two").map(|r| r.is_err()), Some(true));
    }

    #[test]
    fn header_tokens() {
        let h = Headers::from_pairs([("Connection", "keep-alive, Upgrade"), ("Bin", "\u{0}")]);
        assert!(h.has_token("connection", "upgrade"));
        assert!(!h.has_token("connection", "close"));
        assert_eq!(h.get_bytes("bin"), Some(&b"\0"[..]));
    }
}
