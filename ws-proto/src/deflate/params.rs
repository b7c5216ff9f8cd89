//! permessage-deflate negotiation (RFC 7692 §5, §7.1): parsing offers and
//! responses, choosing parameters, writing the answer.
//!
//! Everything here works without `alloc`: parameters are parsed from the
//! borrowed header text with a linear tokenizer, and the response header is
//! written into a small inline buffer.

use core::fmt;

use crate::handshake::Extension;

/// The registered extension name (RFC 7692 §7).
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// Smallest and largest LZ77 window sizes a peer may ask for (RFC 7692 §7.1.2).
const WINDOW_BITS: core::ops::RangeInclusive<u8> = 8..=15;

/// The parameters in force on a connection once permessage-deflate is
/// negotiated (RFC 7692 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// The server resets its compression context after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after every message.
    pub client_no_context_takeover: bool,
    /// The server compresses with an LZ77 window of at most 2^bits bytes.
    pub server_max_window_bits: u8,
    /// The client compresses with an LZ77 window of at most 2^bits bytes.
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    /// RFC 7692's defaults: context takeover both ways, 32 KiB windows.
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// What this endpoint is willing to do, set with `&mut self` setters.
///
/// Servers accept the first acceptable offer; clients offer these settings.
/// Compression of small messages costs more than it saves, so messages
/// shorter than [`min_size`](Self::min_size) are sent uncompressed (RFC 7692
/// §6: compression is per message and optional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateConfig {
    pub(crate) server_no_context_takeover: bool,
    pub(crate) client_no_context_takeover: bool,
    pub(crate) server_max_window_bits: u8,
    pub(crate) client_max_window_bits: u8,
    pub(crate) level: u8,
    pub(crate) min_size: usize,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 1,
            min_size: 32,
        }
    }
}

impl DeflateConfig {
    /// The defaults: context takeover, 32 KiB windows, level 1, messages
    /// from 32 bytes compressed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask for (client) or impose (server) `server_no_context_takeover`:
    /// the server forgets its compression context after each message, which
    /// saves the 32 KiB window per connection between messages.
    pub fn server_no_context_takeover(&mut self, on: bool) -> &mut Self {
        self.server_no_context_takeover = on;
        self
    }

    /// Ask for (client) or impose (server) `client_no_context_takeover`.
    pub fn client_no_context_takeover(&mut self, on: bool) -> &mut Self {
        self.client_no_context_takeover = on;
        self
    }

    /// The largest server window (8–15, clamped). A server compresses with
    /// at most this window; a client asks the server for it.
    pub fn server_max_window_bits(&mut self, bits: u8) -> &mut Self {
        self.server_max_window_bits = bits.clamp(8, 15);
        self
    }

    /// The largest client window (8–15, clamped). A client compresses with
    /// at most this window; a server asks the client for it when the offer
    /// allows.
    pub fn client_max_window_bits(&mut self, bits: u8) -> &mut Self {
        self.client_max_window_bits = bits.clamp(8, 15);
        self
    }

    /// Compression level, 0 (stored) to 10 (clamped); default 1 (fastest).
    pub fn level(&mut self, level: u8) -> &mut Self {
        self.level = level.min(10);
        self
    }

    /// Messages shorter than this are sent uncompressed (default 32 bytes).
    pub fn min_size(&mut self, bytes: usize) -> &mut Self {
        self.min_size = bytes;
        self
    }

    /// Server side: picks the first acceptable `permessage-deflate` offer
    /// among `offers` and returns the parameters in force plus the
    /// `Sec-WebSocket-Extensions` response value. Offers with unknown,
    /// repeated or out-of-range parameters are declined, not failed
    /// (RFC 7692 §5.1); `None` means no offer was acceptable.
    pub fn accept_offers<'a>(
        &self,
        offers: impl IntoIterator<Item = Extension<'a>>,
    ) -> Option<(DeflateParams, ExtensionHeader)> {
        offers
            .into_iter()
            .filter(|offer| offer.name().eq_ignore_ascii_case(EXTENSION_NAME))
            .find_map(|offer| self.accept_offer(offer.params()))
    }

    fn accept_offer(&self, params: &str) -> Option<(DeflateParams, ExtensionHeader)> {
        let offer = Parsed::parse(params).ok()?;
        // An offer's server_max_window_bits needs a value (§7.1.2.1).
        if offer.server_max_window_bits == Some(None) {
            return None;
        }
        let server_bits = match offer.server_max_window_bits {
            Some(Some(bits)) => bits.min(self.server_max_window_bits),
            _ => self.server_max_window_bits,
        };
        // We may only restrict the client's window if it said it can
        // (§7.1.2.2), and never above what it offered.
        let client_bits = match offer.client_max_window_bits {
            Some(offered) => offered.unwrap_or(15).min(self.client_max_window_bits),
            None => 15,
        };
        let params = DeflateParams {
            server_no_context_takeover: offer.server_no_context_takeover
                || self.server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        };
        let mut header = ExtensionHeader::new();
        header.push(EXTENSION_NAME);
        if params.server_no_context_takeover {
            header.push("; server_no_context_takeover");
        }
        if params.client_no_context_takeover {
            header.push("; client_no_context_takeover");
        }
        if offer.server_max_window_bits.is_some() || server_bits < 15 {
            header.push("; server_max_window_bits=");
            header.push_bits(server_bits);
        }
        if offer.client_max_window_bits.is_some() && client_bits < 15 {
            header.push("; client_max_window_bits=");
            header.push_bits(client_bits);
        }
        Some((params, header))
    }

    /// Client side: the offer to send in `Sec-WebSocket-Extensions`.
    pub fn offer(&self) -> ExtensionHeader {
        let mut header = ExtensionHeader::new();
        header.push(EXTENSION_NAME);
        if self.server_no_context_takeover {
            header.push("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            header.push("; client_no_context_takeover");
        }
        if self.server_max_window_bits < 15 {
            header.push("; server_max_window_bits=");
            header.push_bits(self.server_max_window_bits);
        }
        // Always allow the server to restrict our window (§7.1.2.2).
        header.push("; client_max_window_bits");
        if self.client_max_window_bits < 15 {
            header.push("=");
            header.push_bits(self.client_max_window_bits);
        }
        header
    }

    /// Client side: validates the server's answer to [`offer`](Self::offer)
    /// and returns the parameters in force. An invalid answer must fail the
    /// connection (RFC 7692 §5.1).
    pub fn accept_response(
        &self,
        response: Extension<'_>,
    ) -> Result<DeflateParams, NegotiationError> {
        if !response.name().eq_ignore_ascii_case(EXTENSION_NAME) {
            return Err(NegotiationError::UnknownExtension);
        }
        let answer = Parsed::parse(response.params())?;
        let server_bits = match answer.server_max_window_bits {
            Some(Some(bits)) => bits,
            Some(None) => return Err(NegotiationError::InvalidParameter),
            None if self.server_max_window_bits < 15 => {
                return Err(NegotiationError::InvalidParameter);
            }
            None => 15,
        };
        if server_bits > self.server_max_window_bits {
            return Err(NegotiationError::InvalidParameter);
        }
        let client_bits = match answer.client_max_window_bits {
            Some(Some(bits)) => bits.min(self.client_max_window_bits),
            Some(None) => return Err(NegotiationError::InvalidParameter),
            None => self.client_max_window_bits,
        };
        if self.server_no_context_takeover && !answer.server_no_context_takeover {
            return Err(NegotiationError::InvalidParameter);
        }
        Ok(DeflateParams {
            server_no_context_takeover: answer.server_no_context_takeover,
            client_no_context_takeover: answer.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        })
    }
}

/// A permessage-deflate offer or response that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NegotiationError {
    /// The response names an extension that was not offered.
    UnknownExtension,
    /// An unknown parameter (RFC 7692 §7.1: not allowed).
    UnknownParameter,
    /// A parameter appears twice (RFC 7692 §7.1: not allowed).
    DuplicateParameter,
    /// A parameter has a missing, superfluous or out-of-range value, or
    /// one the offer did not allow.
    InvalidParameter,
    /// The parameter list is not `name[=value]` items separated by `;`.
    Malformed,
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnknownExtension => "extension was not offered",
            Self::UnknownParameter => "unknown permessage-deflate parameter",
            Self::DuplicateParameter => "repeated permessage-deflate parameter",
            Self::InvalidParameter => "invalid permessage-deflate parameter value",
            Self::Malformed => "malformed extension parameters",
        })
    }
}

impl core::error::Error for NegotiationError {}

/// The parameters of one offer or response, as written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Parsed {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    /// `None`: absent; `Some(None)`: present without a value.
    server_max_window_bits: Option<Option<u8>>,
    client_max_window_bits: Option<Option<u8>>,
}

impl Parsed {
    fn parse(params: &str) -> Result<Self, NegotiationError> {
        let mut parsed = Self::default();
        for param in Params::new(params) {
            let (name, value) = param?;
            let flag = |slot: &mut bool| {
                if *slot {
                    return Err(NegotiationError::DuplicateParameter);
                }
                if value.is_some() {
                    return Err(NegotiationError::InvalidParameter);
                }
                *slot = true;
                Ok(())
            };
            let bits = |slot: &mut Option<Option<u8>>| {
                if slot.is_some() {
                    return Err(NegotiationError::DuplicateParameter);
                }
                *slot = Some(value.map(parse_bits).transpose()?);
                Ok(())
            };
            match name {
                n if n.eq_ignore_ascii_case("server_no_context_takeover") => {
                    flag(&mut parsed.server_no_context_takeover)?;
                }
                n if n.eq_ignore_ascii_case("client_no_context_takeover") => {
                    flag(&mut parsed.client_no_context_takeover)?;
                }
                n if n.eq_ignore_ascii_case("server_max_window_bits") => {
                    bits(&mut parsed.server_max_window_bits)?;
                }
                n if n.eq_ignore_ascii_case("client_max_window_bits") => {
                    bits(&mut parsed.client_max_window_bits)?;
                }
                _ => return Err(NegotiationError::UnknownParameter),
            }
        }
        Ok(parsed)
    }
}

/// `8`..`15` as 1*DIGIT with no leading zero (RFC 7692 §7.1.2.1).
fn parse_bits(value: &str) -> Result<u8, NegotiationError> {
    let valid = !value.is_empty()
        && value.len() <= 2
        && !value.starts_with('0')
        && value.bytes().all(|b| b.is_ascii_digit());
    let bits = if valid {
        value.parse::<u8>().ok()
    } else {
        None
    };
    match bits {
        Some(bits) if WINDOW_BITS.contains(&bits) => Ok(bits),
        _ => Err(NegotiationError::InvalidParameter),
    }
}

/// Splits `a; b=1; c="2"` into `(name, value)` pairs in one pass. A quoted
/// value has its quotes removed (RFC 7692 §7.1: values may be quoted).
struct Params<'a> {
    rest: &'a str,
    failed: bool,
}

impl<'a> Params<'a> {
    fn new(params: &'a str) -> Self {
        Self {
            rest: params,
            failed: false,
        }
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = Result<(&'a str, Option<&'a str>), NegotiationError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.rest.trim_start_matches([' ', '\t']);
        if rest.is_empty() {
            return None;
        }
        let item = self.split_item(rest);
        let result = parse_item(item);
        self.failed = result.is_err();
        Some(result)
    }
}

impl<'a> Params<'a> {
    /// Takes one item up to the next `;` outside quotes.
    fn split_item(&mut self, rest: &'a str) -> &'a str {
        let mut quoted = false;
        let mut escaped = false;
        for (i, c) in rest.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                ';' if !quoted => {
                    self.rest = &rest[i + 1..];
                    return &rest[..i];
                }
                _ => {}
            }
        }
        self.rest = "";
        rest
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn parse_item(item: &str) -> Result<(&str, Option<&str>), NegotiationError> {
    let (name, value) = match item.split_once('=') {
        Some((name, value)) => (name.trim_ascii(), Some(value.trim_ascii())),
        None => (item.trim_ascii(), None),
    };
    if !is_token(name) {
        return Err(NegotiationError::Malformed);
    }
    let value = match value {
        None => None,
        Some(v) if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') => {
            let inner = &v[1..v.len() - 1];
            // Only quoted tokens are meaningful here; escapes are not.
            if !is_token(inner) {
                return Err(NegotiationError::Malformed);
            }
            Some(inner)
        }
        Some(v) if is_token(v) => Some(v),
        Some(_) => return Err(NegotiationError::Malformed),
    };
    Ok((name, value))
}

/// A `Sec-WebSocket-Extensions` value written without allocation (at most
/// 160 bytes, enough for every combination of parameters).
#[derive(Clone, Copy)]
pub struct ExtensionHeader {
    buf: [u8; 160],
    len: usize,
}

impl ExtensionHeader {
    fn new() -> Self {
        Self {
            buf: [0; 160],
            len: 0,
        }
    }

    fn push(&mut self, s: &str) {
        let end = (self.len + s.len()).min(self.buf.len());
        let n = end - self.len;
        self.buf[self.len..end].copy_from_slice(&s.as_bytes()[..n]);
        self.len = end;
    }

    fn push_bits(&mut self, bits: u8) {
        let digits = [b'0' + bits / 10, b'0' + bits % 10];
        let digits = if bits >= 10 {
            &digits[..]
        } else {
            &digits[1..]
        };
        self.push(core::str::from_utf8(digits).unwrap_or("15"));
    }

    /// The header value.
    pub fn as_str(&self) -> &str {
        // Only ASCII from string literals and digits is ever pushed.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or(EXTENSION_NAME)
    }
}

impl fmt::Debug for ExtensionHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ExtensionHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::Extensions;

    fn accept(
        config: &DeflateConfig,
        header: &str,
    ) -> Option<(DeflateParams, std::string::String)> {
        extern crate std;
        use std::string::ToString;
        config
            .accept_offers(Extensions::of_value(header))
            .map(|(params, h)| (params, h.as_str().to_string()))
    }

    macro_rules! offers {
        ($($name:ident: $offer:expr => $expect:expr;)*) => {$(
            #[test]
            fn $name() {
                let got = accept(&DeflateConfig::default(), $offer);
                let want: Option<&str> = $expect;
                assert_eq!(got.as_ref().map(|(_, h)| h.as_str()), want, "offer {:?}", $offer);
            }
        )*};
    }

    offers! {
        s7_plain_offer: "permessage-deflate" => Some("permessage-deflate");
        s7_1_1_1_server_no_context_takeover: "permessage-deflate; server_no_context_takeover" =>
            Some("permessage-deflate; server_no_context_takeover");
        s7_1_1_2_client_no_context_takeover: "permessage-deflate; client_no_context_takeover" =>
            Some("permessage-deflate; client_no_context_takeover");
        s7_1_2_1_server_window: "permessage-deflate; server_max_window_bits=10" =>
            Some("permessage-deflate; server_max_window_bits=10");
        s7_1_2_1_server_window_quoted: "permessage-deflate; server_max_window_bits=\"9\"" =>
            Some("permessage-deflate; server_max_window_bits=9");
        s7_1_2_1_server_window_needs_value: "permessage-deflate; server_max_window_bits" => None;
        s7_1_2_2_client_window_without_value: "permessage-deflate; client_max_window_bits" =>
            Some("permessage-deflate");
        s7_1_2_2_client_window_with_value: "permessage-deflate; client_max_window_bits=12" =>
            Some("permessage-deflate; client_max_window_bits=12");
        s7_1_window_7_declined: "permessage-deflate; server_max_window_bits=7" => None;
        s7_1_window_16_declined: "permessage-deflate; client_max_window_bits=16" => None;
        s7_1_window_junk_declined: "permessage-deflate; server_max_window_bits=10x" => None;
        s7_1_window_leading_zero_declined: "permessage-deflate; server_max_window_bits=010" => None;
        s7_1_duplicate_declined: "permessage-deflate; server_no_context_takeover; server_no_context_takeover" => None;
        s7_1_flag_with_value_declined: "permessage-deflate; client_no_context_takeover=1" => None;
        s7_1_unknown_param_declined: "permessage-deflate; foo=bar" => None;
        s5_1_first_acceptable_offer_wins: "permessage-deflate; foo, permessage-deflate; client_no_context_takeover" =>
            Some("permessage-deflate; client_no_context_takeover");
        s5_1_other_extensions_ignored: "x-webkit-deflate-frame, permessage-deflate; client_max_window_bits" =>
            Some("permessage-deflate");
        s5_1_nothing_acceptable: "x-webkit-deflate-frame" => None;
        empty_header: "" => None;
    }

    #[test]
    fn s7_1_2_server_config_restricts_windows() {
        let mut config = DeflateConfig::default();
        config
            .server_max_window_bits(10)
            .client_max_window_bits(9)
            .server_no_context_takeover(true);
        let (params, header) = accept(
            &config,
            "permessage-deflate; client_max_window_bits; server_max_window_bits=12",
        )
        .unwrap();
        assert_eq!(
            params,
            DeflateParams {
                server_no_context_takeover: true,
                client_no_context_takeover: false,
                server_max_window_bits: 10,
                client_max_window_bits: 9,
            }
        );
        assert_eq!(
            header,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9"
        );
        // Without client_max_window_bits in the offer, the client's window stays 15.
        let (params, header) = accept(&config, "permessage-deflate").unwrap();
        assert_eq!(params.client_max_window_bits, 15);
        assert_eq!(
            header,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
        );
    }

    #[test]
    fn client_offer_and_response() {
        let mut config = DeflateConfig::default();
        assert_eq!(
            config.offer().as_str(),
            "permessage-deflate; client_max_window_bits"
        );
        let ext = |s: &'static str| Extensions::of_value(s).next().unwrap();
        assert_eq!(
            config.accept_response(ext("permessage-deflate")),
            Ok(DeflateParams::default())
        );
        let params = config
            .accept_response(ext(
                "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
            ))
            .unwrap();
        assert!(params.server_no_context_takeover);
        assert_eq!(params.client_max_window_bits, 10);
        assert_eq!(
            config.accept_response(ext("permessage-deflate; client_max_window_bits")),
            Err(NegotiationError::InvalidParameter)
        );
        assert_eq!(
            config.accept_response(ext("permessage-deflate; bogus")),
            Err(NegotiationError::UnknownParameter)
        );
        assert_eq!(
            config.accept_response(ext("x-other")),
            Err(NegotiationError::UnknownExtension)
        );

        config
            .server_max_window_bits(10)
            .client_no_context_takeover(true);
        assert_eq!(
            config.offer().as_str(),
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits"
        );
        // The server must honour the window it was asked for.
        assert_eq!(
            config.accept_response(ext("permessage-deflate; server_max_window_bits=12")),
            Err(NegotiationError::InvalidParameter)
        );
        let params = config
            .accept_response(ext("permessage-deflate; server_max_window_bits=9"))
            .unwrap();
        assert_eq!(params.server_max_window_bits, 9);
        assert!(params.client_no_context_takeover);
    }

    #[test]
    fn tokenizer_handles_quotes_and_hostile_input() {
        assert_eq!(
            Parsed::parse("client_max_window_bits=\"10\" ; server_no_context_takeover"),
            Ok(Parsed {
                server_no_context_takeover: true,
                client_max_window_bits: Some(Some(10)),
                ..Parsed::default()
            })
        );
        assert_eq!(
            Parsed::parse("server_no_context_takeover;;client_no_context_takeover"),
            Err(NegotiationError::Malformed)
        );
        assert_eq!(
            Parsed::parse("client_max_window_bits=\"1;0\""),
            Err(NegotiationError::Malformed)
        );
        assert_eq!(Parsed::parse("=15"), Err(NegotiationError::Malformed));
        // Long junk is rejected in one linear pass.
        extern crate std;
        let junk = "x".repeat(100_000);
        assert_eq!(
            Parsed::parse(&junk),
            Err(NegotiationError::UnknownParameter)
        );
        let quotes = "\"".repeat(100_001);
        assert!(Parsed::parse(&quotes).is_err());
    }
}
