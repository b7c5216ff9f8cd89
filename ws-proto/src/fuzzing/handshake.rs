//! Oracles for the opening handshake (RFC 6455 §4) and header lists.

use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::input::Input;
use crate::handshake::client::ClientHandshake;
use crate::handshake::server::{self, AcceptOptions, Request};
use crate::handshake::{
    EMPTY_HEADER, Extensions, HandshakeError, HeadReader, Header, Status, Subprotocols, accept_key,
};

/// A token (RFC 9110 §5.6.2), written from the grammar.
fn is_token(value: &[u8]) -> bool {
    !value.is_empty()
        && value.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// A field value we may write (RFC 9110 §5.5): no control characters but
/// horizontal tab.
fn is_field_value(value: &[u8]) -> bool {
    !value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
}

/// The errors `parse_request` may return: a bad request, never misuse.
fn is_request_error(error: HandshakeError) -> bool {
    use HandshakeError::*;
    matches!(
        error,
        MalformedHttp
            | NotGet
            | UnsupportedHttpVersion
            | MissingHost
            | DuplicateHost
            | MissingUpgrade
            | InvalidUpgrade
            | MissingConnectionUpgrade
            | MissingKey
            | InvalidKey
            | DuplicateKey
            | MissingVersion
            | UnsupportedVersion
            | HeadTooLarge
            | TooManyHeaders
    )
}

/// The errors `receive_response` may return (its documented list).
fn is_response_error(error: HandshakeError) -> bool {
    use HandshakeError::*;
    matches!(
        error,
        BadStatus(_)
            | MissingUpgrade
            | InvalidUpgrade
            | MissingConnectionUpgrade
            | MissingAccept
            | InvalidAccept
            | UnexpectedSubprotocol
            | UnexpectedExtension
            | MalformedHttp
            | UnsupportedHttpVersion
            | TooManyHeaders
            | HeadTooLarge
    )
}

/// The incremental head scanner agrees with a parse that completed:
/// whole and byte by byte.
fn check_head_reader(data: &[u8], consumed: usize) {
    let mut reader = HeadReader::default();
    assert_eq!(
        reader.feed(data),
        Ok(Status::Complete(consumed)),
        "HeadReader and httparse disagree on the end of the head"
    );
    if data.len() <= 1024 {
        let mut reader = HeadReader::default();
        let mut result = Ok(Status::Partial);
        for end in 0..=data.len() {
            result = reader.feed(&data[..end]);
            if result != Ok(Status::Partial) {
                break;
            }
        }
        assert_eq!(
            result,
            Ok(Status::Complete(consumed)),
            "byte-wise HeadReader"
        );
    }
}

/// Header fields in owned form: name and value.
type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// Parses `head` as an HTTP response: status and header fields.
fn parse_response(head: &[u8]) -> (u16, Fields) {
    let mut headers = [EMPTY_HEADER; 16];
    let mut response = httparse::Response::new(&mut headers);
    let status = response.parse(head);
    assert!(
        matches!(status, Ok(httparse::Status::Complete(n)) if n <= head.len()),
        "we wrote an unparsable response: {status:?}"
    );
    let headers = response
        .headers
        .iter()
        .map(|h| (h.name.as_bytes().to_vec(), h.value.to_vec()))
        .collect();
    (response.code.unwrap_or(0), headers)
}

fn header_value<'a>(headers: &'a [(Vec<u8>, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| v.as_slice())
}

/// Checks `server::parse_request` on arbitrary bytes: documented errors
/// only, each answered by `reject_error` with its status; a complete parse
/// agrees with [`HeadReader`] and with itself on the head alone; an accepted
/// request can be accepted with every subprotocol and extension it offered,
/// and a client with the same key accepts the answer.
pub fn check_handshake_request(data: &[u8]) {
    let mut headers = [EMPTY_HEADER; 64];
    let parsed = server::parse_request(data, &mut headers);
    match parsed {
        Ok(Status::Complete((request, consumed))) => {
            assert!(consumed <= data.len());
            check_head_reader(data, consumed);
            let mut again = [EMPTY_HEADER; 64];
            match server::parse_request(&data[..consumed], &mut again) {
                Ok(Status::Complete((_, n))) => assert_eq!(n, consumed),
                other => panic!("the head alone parsed as {other:?}"),
            }
            let mut again = [EMPTY_HEADER; 64];
            assert_eq!(
                server::parse_request(&data[..consumed - 1], &mut again).map(|s| s.is_partial()),
                Ok(true),
                "a head without its last byte is not Partial"
            );
            check_accepts(&request);
        }
        Ok(Status::Partial) => {
            let reader = HeadReader::default().feed(data);
            assert_eq!(
                reader,
                Ok(Status::Partial),
                "the scanner found a head httparse did not"
            );
        }
        Err(error) => {
            assert!(
                is_request_error(error),
                "undocumented request error {error:?}"
            );
            let mut out = [0u8; 256];
            let n = server::reject_error(&error, &mut out).expect("256 bytes are enough");
            let (status, _) = parse_response(&out[..n]);
            assert_eq!(status, error.http_status());
        }
    }
}

fn check_accepts(request: &Request<'_, '_>) {
    let key = request.key();
    let mut nonce = [0u8; 18];
    assert_eq!(
        STANDARD.decode_slice(key, &mut nonce),
        Ok(16),
        "key not 16 bytes"
    );
    let nonce: [u8; 16] = nonce[..16].try_into().unwrap_or([0; 16]);
    let mut encoded = [0u8; 24];
    assert_eq!(STANDARD.encode_slice(nonce, &mut encoded), Ok(24));
    assert_eq!(&encoded[..], key, "an accepted key is not canonical base64");

    let offered: Vec<&str> = request.subprotocols().collect();
    let tokens: Vec<&str> = offered
        .iter()
        .copied()
        .filter(|s| is_token(s.as_bytes()))
        .collect();
    let host = core::str::from_utf8(request.host())
        .ok()
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()));
    // Room for the longest answer: the fixed lines plus any offered value.
    let room = 512
        + request
            .headers()
            .iter()
            .map(|h| h.value.len())
            .sum::<usize>();
    let accept = |options: &AcceptOptions<'_>| {
        let mut out = alloc::vec![0u8; room];
        let result = server::accept(request, options, &mut out);
        result.map(|n| {
            let (status, headers) = parse_response(&out[..n]);
            assert_eq!(status, 101);
            assert_eq!(
                header_value(&headers, "Sec-WebSocket-Accept"),
                Some(&accept_key(key)[..])
            );
            let expected = 3
                + usize::from(options.subprotocol.is_some())
                + usize::from(
                    options
                        .extensions
                        .is_some_and(|e| !e.trim_ascii().is_empty()),
                );
            assert_eq!(headers.len(), expected, "header injection in the answer");
            // A client that sent this key and offered these subprotocols
            // accepts the answer.
            if let Some(host) = host {
                // The offer as the client sent it, if a client could have.
                let offer = match request.header("Sec-WebSocket-Extensions") {
                    None => Some(None),
                    Some(value) => core::str::from_utf8(value)
                        .ok()
                        .filter(|v| is_field_value(v.as_bytes()))
                        .map(Some),
                };
                let client = ClientHandshake::new(host, "/", nonce)
                    .subprotocols(&tokens)
                    .extensions(offer.flatten());
                let only_first = request
                    .headers()
                    .iter()
                    .filter(|h| h.name.eq_ignore_ascii_case("Sec-WebSocket-Extensions"))
                    .count()
                    <= 1;
                let mut headers = [EMPTY_HEADER; 16];
                let response = client.receive_response(&out[..n], &mut headers);
                if options.extensions.is_none() || (only_first && offer.is_some()) {
                    match response {
                        Ok(Status::Complete((response, len))) => {
                            assert_eq!(len, n);
                            assert_eq!(response.subprotocol(), options.subprotocol);
                        }
                        other => panic!("the client refused our answer: {other:?}"),
                    }
                }
            }
        })
    };
    accept(&AcceptOptions::default()).expect("a parsed request is acceptable");
    for subprotocol in &offered {
        let options = AcceptOptions {
            subprotocol: Some(subprotocol),
            ..AcceptOptions::default()
        };
        let expected = if is_token(subprotocol.as_bytes()) {
            Ok(())
        } else {
            Err(HandshakeError::InvalidHeaderField)
        };
        assert_eq!(
            accept(&options),
            expected,
            "accepting offered {subprotocol:?}"
        );
    }
    for extension in request.extensions() {
        let options = AcceptOptions {
            extensions: Some(extension.raw()),
            ..AcceptOptions::default()
        };
        let expected = if is_field_value(extension.raw().as_bytes()) {
            Ok(())
        } else {
            Err(HandshakeError::InvalidHeaderField)
        };
        assert_eq!(
            accept(&options),
            expected,
            "accepting offered {extension:?}"
        );
    }
}

/// Subprotocols a fuzzed client may offer.
const SUBPROTOCOLS: [&str; 3] = ["chat", "superchat", "v2.json"];
/// Extension offers a fuzzed client may make.
const OFFERS: [Option<&str>; 4] = [
    None,
    Some("permessage-deflate; client_max_window_bits"),
    Some("x-foo, permessage-deflate; server_no_context_takeover"),
    Some("x-bar; p=\"a,b\""),
];

/// Checks `ClientHandshake::receive_response` on arbitrary bytes, for the
/// RFC 6455 §1.3 sample nonce (so that the fuzzer can find the matching
/// `Sec-WebSocket-Accept` in its dictionary). The first byte picks the
/// offered subprotocols and extensions. A complete response must satisfy
/// every §4.1 check; rejections are the documented errors. Also checks that
/// our own server's answers to our own request are accepted.
pub fn check_handshake_response(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.u8();
    let offered: Vec<&str> = SUBPROTOCOLS
        .iter()
        .enumerate()
        .filter(|(i, _)| flags >> i & 1 == 1)
        .map(|(_, s)| *s)
        .collect();
    let offer = OFFERS[usize::from(flags >> 3 & 3)];
    let client = ClientHandshake::new("server.example.com", "/chat", *b"the sample nonce")
        .subprotocols(&offered)
        .extensions(offer);
    let response = input.rest();
    let mut headers = [EMPTY_HEADER; 64];
    match client.receive_response(response, &mut headers) {
        Ok(Status::Complete((parsed, consumed))) => {
            check_head_reader(response, consumed);
            assert_eq!(parsed.status(), 101);
            assert_eq!(
                parsed
                    .header("Sec-WebSocket-Accept")
                    .map(<[u8]>::trim_ascii),
                Some(&b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="[..])
            );
            if let Some(selected) = parsed.subprotocol() {
                assert!(
                    offered.contains(&selected),
                    "unoffered subprotocol {selected}"
                );
            }
            let offered_names: Vec<&str> = offer
                .map(|o| Extensions::of_value(o).map(|e| e.name()).collect())
                .unwrap_or_default();
            for extension in parsed.extensions() {
                assert!(
                    offered_names.contains(&extension.name()),
                    "unoffered extension {extension:?}"
                );
            }
        }
        Ok(Status::Partial) => {}
        Err(error) => assert!(
            is_response_error(error),
            "undocumented response error {error:?}"
        ),
    }

    // Our server answering our request: the client must accept it.
    let mut request = [0u8; 512];
    let n = client.encode(&mut request).expect("a valid client request");
    let mut headers = [EMPTY_HEADER; 16];
    let Ok(Status::Complete((parsed, len))) = server::parse_request(&request[..n], &mut headers)
    else {
        panic!("our server refused our client's request");
    };
    assert_eq!(len, n);
    let subprotocol = offered.get(usize::from(flags >> 5 & 3)).copied();
    let extensions = if flags & 0x80 != 0 {
        parsed.extensions().next().map(|e| e.raw())
    } else {
        None
    };
    let options = AcceptOptions {
        subprotocol,
        extensions,
        extra_headers: &[],
    };
    let mut answer = [0u8; 512];
    let n = server::accept(&parsed, &options, &mut answer).expect("accepting an offer");
    let mut headers = [EMPTY_HEADER; 16];
    match client.receive_response(&answer[..n], &mut headers) {
        Ok(Status::Complete((response, len))) => {
            assert_eq!(len, n);
            assert_eq!(response.subprotocol(), subprotocol);
        }
        other => panic!("our client refused our server's answer: {other:?}"),
    }
}

/// Header names the `extension_offers` target chooses from.
const NAMES: [&str; 4] = [
    "Sec-WebSocket-Extensions",
    "sec-websocket-extensions",
    "Sec-WebSocket-Protocol",
    "X-Other",
];

/// A reference list splitter (RFC 9110 §5.6.1, §5.6.4), written as an
/// explicit state machine: items are split at commas outside quoted
/// strings, trimmed, and empty ones dropped.
fn reference_items(value: &[u8]) -> Vec<&[u8]> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Plain,
        Quoted,
        Escaped,
    }
    let mut items = Vec::new();
    let mut state = State::Plain;
    let mut start = 0;
    for (at, &byte) in value.iter().enumerate() {
        state = match (state, byte) {
            (State::Plain, b',') => {
                items.push(&value[start..at]);
                start = at + 1;
                State::Plain
            }
            (State::Plain, b'"') => State::Quoted,
            (State::Quoted, b'\\') => State::Escaped,
            (State::Quoted, b'"') => State::Plain,
            (State::Escaped, _) => State::Quoted,
            (state, _) => state,
        };
    }
    items.push(&value[start..]);
    items
        .into_iter()
        .map(<[u8]>::trim_ascii)
        .filter(|item| !item.is_empty())
        .collect()
}

/// Checks the `Sec-WebSocket-Extensions` and `Sec-WebSocket-Protocol` list
/// iterators on header values split from `data` at `\n`; each line's first
/// byte picks the header name. Items must match [`reference_items`], and an
/// item split again must give itself.
pub fn check_extension_offers(data: &[u8]) {
    let headers: Vec<Header<'_>> = data
        .split(|&b| b == b'\n')
        .map(|line| {
            let (pick, value) = line.split_first().map_or((0, line), |(p, v)| (*p, v));
            Header {
                name: NAMES[usize::from(pick) % NAMES.len()],
                value,
            }
        })
        .collect();
    let of = |name: &str| -> Vec<&[u8]> {
        headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .flat_map(|h| reference_items(h.value))
            .collect()
    };

    let expected: Vec<(&str, &str, &str)> = of("Sec-WebSocket-Extensions")
        .into_iter()
        .filter_map(|item| core::str::from_utf8(item).ok())
        .map(|raw| {
            let (name, params) = raw.split_once(';').unwrap_or((raw, ""));
            (raw, name.trim_ascii(), params.trim_ascii())
        })
        .collect();
    let got: Vec<(&str, &str, &str)> = Extensions::new(&headers)
        .map(|e| (e.raw(), e.name(), e.params()))
        .collect();
    assert_eq!(got, expected, "extension items");
    for extension in Extensions::new(&headers) {
        let again: Vec<_> = Extensions::of_value(extension.raw()).collect();
        assert_eq!(again, [extension], "an item split again");
        assert!(!extension.raw().is_empty());
        assert_eq!(extension.raw().trim_ascii(), extension.raw());
        assert!(!extension.name().contains(';'));
    }

    let expected: Vec<&str> = of("Sec-WebSocket-Protocol")
        .into_iter()
        .filter_map(|item| core::str::from_utf8(item).ok())
        .collect();
    let got: Vec<&str> = Subprotocols::new(&headers).collect();
    assert_eq!(got, expected, "subprotocol items");

    // permessage-deflate negotiation on the same offers.
    #[cfg(feature = "deflate")]
    super::inflate::check_offers(&headers);

    // The same lists in a request: the server may accept any offer.
    let mut head = Vec::from(
        &b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
           Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"[..],
    );
    for header in &headers {
        head.extend_from_slice(header.name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(header.value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    check_handshake_request(&head);
}
