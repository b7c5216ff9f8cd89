//! Finding the end of an HTTP head, incrementally and within limits.

use super::{HandshakeError, Status};

/// Limits on an HTTP head: the request on a server, the response on a client.
///
/// RFC 6455 §4.1 and §4.2.1 leave them to the implementation; RFC 6585 §5
/// gives `431` as the answer when a request exceeds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    pub(crate) max_head_len: usize,
    pub(crate) max_headers: usize,
}

impl RequestLimits {
    /// The defaults: an 8192-byte head with at most 64 header fields.
    pub const DEFAULT: Self = Self {
        max_head_len: 8192,
        max_headers: 64,
    };

    /// The longest HTTP head accepted, in bytes, counting the request or
    /// status line and the terminating blank line. Longer heads fail with
    /// [`HandshakeError::HeadTooLarge`]. Default: 8192.
    pub const fn max_head_len(&mut self, bytes: usize) -> &mut Self {
        self.max_head_len = bytes;
        self
    }

    /// The most header fields accepted. More fail with
    /// [`HandshakeError::TooManyHeaders`]. The header array passed to the
    /// parser is a limit too: the smaller of the two applies. Default: 64.
    pub const fn max_headers(&mut self, count: usize) -> &mut Self {
        self.max_headers = count;
        self
    }

    /// A [`HeadReader`] that enforces these limits.
    pub const fn head_reader(&self) -> HeadReader {
        HeadReader::new(self)
    }

    /// Checks an `httparse` result against `max_head_len`.
    pub(crate) const fn check_head_len(
        &self,
        buf_len: usize,
        status: &httparse::Status<usize>,
    ) -> Result<(), HandshakeError> {
        let too_large = match status {
            httparse::Status::Complete(head_len) => *head_len > self.max_head_len,
            httparse::Status::Partial => buf_len > self.max_head_len,
        };
        if too_large {
            Err(HandshakeError::HeadTooLarge)
        } else {
            Ok(())
        }
    }

    /// The part of a caller's header array that may be filled.
    pub(crate) fn limit_headers<'h, 'b>(
        &self,
        headers: &'h mut [httparse::Header<'b>],
    ) -> &'h mut [httparse::Header<'b>] {
        let len = headers.len().min(self.max_headers);
        headers.split_at_mut(len).0
    }
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Where the scanner is relative to line ends. A line end is `\r\n` or a bare
/// `\n` (RFC 9112 §2.2 allows recipients to accept the latter, and `httparse`
/// does), so the scanner ends exactly where `httparse` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Before the start line; empty lines here are skipped (RFC 9112 §2.2).
    Start,
    /// A `\r` before the start line.
    StartCr,
    /// Inside a line.
    Line,
    /// A `\r` inside a line.
    LineCr,
    /// Just after a line end.
    LineEnd,
    /// A `\r` just after a line end.
    LineEndCr,
}

impl Scan {
    /// The next state, or `None` when `byte` completes the blank line that
    /// ends the head.
    const fn next(self, byte: u8) -> Option<Self> {
        Some(match (self, byte) {
            (Self::Start | Self::StartCr, b'\n') => Self::Start,
            (Self::Start, b'\r') => Self::StartCr,
            (Self::LineEnd | Self::LineEndCr, b'\n') => return None,
            (Self::LineEnd, b'\r') => Self::LineEndCr,
            (_, b'\n') => Self::LineEnd,
            (_, b'\r') => Self::LineCr,
            _ => Self::Line,
        })
    }
}

/// Finds the end of an HTTP head (the blank line after the header fields)
/// in input that arrives in pieces.
///
/// Each [`feed`](Self::feed) call looks only at the bytes it has not looked
/// at before, so a head that arrives one byte per read costs linear total
/// work. Once it reports [`Status::Complete`], parse the head once with
/// [`server::parse_request`](super::server::parse_request) or
/// [`ClientHandshake::receive_response`](super::client::ClientHandshake::receive_response).
///
/// The scanner accepts `\r\n` and bare `\n` line ends and skips empty lines
/// before the start line, as `httparse` does, so it agrees with the parser
/// on where the head ends.
#[derive(Debug, Clone)]
pub struct HeadReader {
    max_head_len: usize,
    /// Bytes of the input examined so far.
    scanned: usize,
    state: Scan,
    /// The head length, once found.
    end: Option<usize>,
    /// Total bytes examined over the reader's life, to test linearity.
    #[cfg(test)]
    steps: usize,
}

impl HeadReader {
    /// A reader enforcing `limits.max_head_len`.
    pub const fn new(limits: &RequestLimits) -> Self {
        Self {
            max_head_len: limits.max_head_len,
            scanned: 0,
            state: Scan::Start,
            end: None,
            #[cfg(test)]
            steps: 0,
        }
    }

    /// Looks for the end of the head in `buf`, which must be all input
    /// received so far: the same bytes as in the previous call, with new
    /// bytes appended.
    ///
    /// Returns [`Status::Complete`] with the length of the head including
    /// its terminating blank line; `buf[len..]` is not part of the head.
    /// Returns [`Status::Partial`] if the head has not ended yet.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::HeadTooLarge`] as soon as `buf` is longer than
    /// `max_head_len` without the head having ended within that many bytes.
    ///
    /// If `buf` is shorter than the input already examined, the caller broke
    /// the contract above; the reader then starts over on the new input.
    pub fn feed(&mut self, buf: &[u8]) -> Result<Status<usize>, HandshakeError> {
        if buf.len() < self.scanned {
            self.reset();
        }
        if let Some(end) = self.end {
            return Ok(Status::Complete(end));
        }
        let limit = buf.len().min(self.max_head_len);
        let fresh = buf.get(self.scanned..limit).unwrap_or_default();
        for &byte in fresh {
            self.scanned += 1;
            #[cfg(test)]
            {
                self.steps += 1;
            }
            let Some(state) = self.state.next(byte) else {
                self.end = Some(self.scanned);
                return Ok(Status::Complete(self.scanned));
            };
            self.state = state;
        }
        if buf.len() > self.max_head_len {
            Err(HandshakeError::HeadTooLarge)
        } else {
            Ok(Status::Partial)
        }
    }

    /// How many bytes of the input have been examined. Never decreases,
    /// except through [`reset`](Self::reset).
    pub const fn scanned(&self) -> usize {
        self.scanned
    }

    /// Forgets all input, to read a new head (the limit is kept).
    pub const fn reset(&mut self) {
        self.scanned = 0;
        self.state = Scan::Start;
        self.end = None;
    }
}

impl Default for HeadReader {
    /// A reader with the default limits ([`RequestLimits::DEFAULT`]).
    fn default() -> Self {
        Self::new(&RequestLimits::DEFAULT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: a\r\n\r\nFRAME";

    macro_rules! head_end {
        ($($name:ident: $input:expr => $expected:expr;)*) => {$(
            #[test]
            fn $name() {
                let input: &[u8] = $input;
                assert_eq!(HeadReader::default().feed(input), $expected);
                // Same answer when the input arrives one byte at a time.
                let mut reader = HeadReader::default();
                let mut last = Ok(Status::Partial);
                for end in 0..=input.len() {
                    last = reader.feed(&input[..end]);
                    if last != Ok(Status::Partial) {
                        break;
                    }
                }
                assert_eq!(last, $expected);
            }
        )*};
    }

    head_end! {
        rfc9112_2_1_crlf_head: REQUEST => Ok(Status::Complete(REQUEST.len() - 5));
        rfc9112_2_2_bare_lf_head: b"GET / HTTP/1.1\nHost: a\n\nX" => Ok(Status::Complete(24));
        rfc9112_2_2_mixed_line_ends: b"GET / HTTP/1.1\r\nHost: a\n\r\n" => Ok(Status::Complete(26));
        rfc9112_2_2_leading_empty_lines_skipped:
            b"\r\n\nGET / HTTP/1.1\r\n\r\n" => Ok(Status::Complete(21));
        no_terminator_is_partial: b"GET / HTTP/1.1\r\nHost: a\r\n" => Ok(Status::Partial);
        cr_cr_is_not_a_terminator: b"GET / HTTP/1.1\r\r\r\r" => Ok(Status::Partial);
        empty_input_is_partial: b"" => Ok(Status::Partial);
    }

    #[test]
    fn head_end_agrees_with_httparse() {
        for input in [
            REQUEST,
            b"\r\n\nGET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\nHost: a\n\nX",
        ] {
            let Ok(Status::Complete(end)) = HeadReader::default().feed(input) else {
                panic!("no head end in {input:?}");
            };
            let mut headers = [httparse::EMPTY_HEADER; 4];
            let parsed = httparse::Request::new(&mut headers).parse(input);
            assert_eq!(parsed, Ok(httparse::Status::Complete(end)));
        }
    }

    #[test]
    fn head_too_large_fails_once_limit_is_passed() {
        let mut limits = RequestLimits::default();
        limits.max_head_len(20);
        let mut reader = limits.head_reader();
        let input = [b'a'; 21];
        assert_eq!(reader.feed(&input[..20]), Ok(Status::Partial));
        assert_eq!(reader.feed(&input), Err(HandshakeError::HeadTooLarge));
        // Never looks past the limit.
        assert_eq!(reader.scanned(), 20);
    }

    #[test]
    fn head_exactly_at_limit_is_accepted() {
        let mut limits = RequestLimits::default();
        limits.max_head_len(REQUEST.len() - 5);
        assert_eq!(
            limits.head_reader().feed(REQUEST),
            Ok(Status::Complete(REQUEST.len() - 5))
        );
        limits.max_head_len(REQUEST.len() - 6);
        assert_eq!(
            limits.head_reader().feed(REQUEST),
            Err(HandshakeError::HeadTooLarge)
        );
    }

    #[test]
    fn head_reader_is_linear_one_byte_at_a_time() {
        let mut head = Vec::from(&b"GET / HTTP/1.1\r\n"[..]);
        while head.len() < 7980 {
            head.extend_from_slice(b"X-Filler: 0123456789abcdef\r\n");
        }
        head.extend_from_slice(b"\r\n");
        let mut reader = HeadReader::default();
        let mut previous = 0;
        for end in 0..head.len() {
            assert_eq!(reader.feed(&head[..end]), Ok(Status::Partial));
            // The scan position only moves forward, one new byte per call.
            assert_eq!(reader.scanned(), end);
            assert!(reader.scanned() >= previous);
            previous = reader.scanned();
        }
        assert_eq!(reader.feed(&head), Ok(Status::Complete(head.len())));
        // Every byte was examined exactly once over all calls.
        assert_eq!(reader.steps, head.len());
        // Later calls are answered without scanning.
        assert_eq!(reader.feed(&head), Ok(Status::Complete(head.len())));
        assert_eq!(reader.steps, head.len());
    }

    #[test]
    fn terminator_split_across_calls() {
        let input = b"GET / HTTP/1.1\r\n\r\n";
        for split in 0..input.len() {
            let mut reader = HeadReader::default();
            let first = reader.feed(&input[..split]);
            assert_eq!(first, Ok(Status::Partial), "split at {split}");
            assert_eq!(reader.feed(input), Ok(Status::Complete(input.len())));
        }
    }

    #[test]
    fn shorter_input_restarts() {
        let mut reader = HeadReader::default();
        assert_eq!(
            reader.feed(b"GET / HTTP/1.1\r\nHost: a\r\n"),
            Ok(Status::Partial)
        );
        assert_eq!(
            reader.feed(b"GET / HTTP/1.1\r\n\r\n"),
            Ok(Status::Complete(18))
        );
    }

    #[test]
    fn headers_limit_is_smaller_of_array_and_limit() {
        let mut limits = RequestLimits::default();
        limits.max_headers(2);
        let mut headers = [httparse::EMPTY_HEADER; 4];
        assert_eq!(limits.limit_headers(&mut headers).len(), 2);
        limits.max_headers(10);
        assert_eq!(limits.limit_headers(&mut headers).len(), 4);
    }
}
