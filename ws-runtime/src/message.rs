//! Whole messages as the application sends and receives them.

use std::fmt;

use ws_proto::{CloseCode, DataKind};

/// An owned Close frame payload: the status code and the reason
/// (RFC 6455 §5.5.1, §7.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, at most 123 bytes of UTF-8.
    pub reason: String,
}

impl CloseFrame {
    /// A Close frame with `code` and `reason`.
    pub fn new(code: CloseCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for CloseFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code.as_u16())?;
        if !self.reason.is_empty() {
            write!(f, " ({})", self.reason)?;
        }
        Ok(())
    }
}

impl From<ws_proto::CloseFrame<'_>> for CloseFrame {
    fn from(frame: ws_proto::CloseFrame<'_>) -> Self {
        Self::new(frame.code, frame.reason)
    }
}

/// A WebSocket message, shaped like tungstenite's so that its users feel at
/// home.
///
/// Received: `Text` and `Binary` are whole messages (fragments joined);
/// `Ping` and `Pong` are reported after the automatic Pong has been queued;
/// `Close` is the peer's Close frame, after the answering Close has been
/// queued. Sent: `Close(None)` closes with 1000 (normal closure).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message {
    /// A text message (valid UTF-8, RFC 6455 §5.6).
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A Ping control frame, at most 125 bytes (RFC 6455 §5.5.2).
    Ping(Vec<u8>),
    /// A Pong control frame, at most 125 bytes (RFC 6455 §5.5.3).
    Pong(Vec<u8>),
    /// A Close frame (RFC 6455 §5.5.1); `None` when it carried no code.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Vec<u8>>) -> Self {
        Self::Binary(data.into())
    }

    /// Whether this is a `Text` message.
    pub fn is_text(&self) -> bool {
        matches!(self, Self::Text(_))
    }

    /// Whether this is a `Binary` message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Self::Binary(_))
    }

    /// Whether this is a `Text` or `Binary` message.
    pub fn is_data(&self) -> bool {
        self.is_text() || self.is_binary()
    }

    /// Whether this is a `Close` frame.
    pub fn is_close(&self) -> bool {
        matches!(self, Self::Close(_))
    }

    /// The payload bytes (the reason, for `Close`).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(text) => text.as_bytes(),
            Self::Binary(data) | Self::Ping(data) | Self::Pong(data) => data,
            Self::Close(frame) => frame.as_ref().map_or(&[], |f| f.reason.as_bytes()),
        }
    }

    /// The payload length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    /// The payload as bytes, consuming the message.
    pub fn into_data(self) -> Vec<u8> {
        match self {
            Self::Text(text) => text.into_bytes(),
            Self::Binary(data) | Self::Ping(data) | Self::Pong(data) => data,
            Self::Close(frame) => frame.map(|f| f.reason.into_bytes()).unwrap_or_default(),
        }
    }

    /// The text of a `Text` message, if it is one.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            _ => None,
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Self {
        Self::Binary(data)
    }
}

impl From<&[u8]> for Message {
    fn from(data: &[u8]) -> Self {
        Self::Binary(data.to_vec())
    }
}

impl From<ws_proto::Message> for Message {
    fn from(message: ws_proto::Message) -> Self {
        match message {
            ws_proto::Message::Text(text) => Self::Text(text),
            ws_proto::Message::Binary(data) => Self::Binary(data),
        }
    }
}

/// The most a message buffer reserves ahead of the bytes that arrived, on
/// the strength of the frame's declared length.
const RESERVE_AHEAD: u64 = 1024 * 1024;

/// Spare capacity below which the message buffer grows before a read in
/// place (a smaller read would cost a system call for little data).
const MIN_DIRECT_READ: usize = 4096;

/// The reassembly buffer capacity kept between messages received with
/// `recv_with` (larger buffers are freed).
const KEEP_CAPACITY: usize = 64 * 1024;

/// Joins data chunks into messages. A message delivered in one chunk is one
/// exact allocation. A longer one reserves, at its first chunk, room for the
/// rest of its frame as the header declared it (the core has checked it
/// against the size limits), but at most [`RESERVE_AHEAD`] bytes ahead of
/// what arrived, so a frame that arrives in pieces is not copied again and
/// again as its buffer grows, and a peer that declares much and sends
/// little gains at most that much address space (pages are only touched
/// as bytes arrive).
#[derive(Debug, Default)]
pub(crate) struct Assembler {
    kind: Option<DataKind>,
    buf: Vec<u8>,
    /// A message completed by bytes read in place, not yet delivered.
    done: Option<Message>,
}

impl Assembler {
    /// `Some(kind)` if a chunk that ends its message is the whole message
    /// (nothing was assembled before it): it can be used where it lies.
    pub(crate) fn whole_chunk(&mut self, kind: DataKind, end_of_message: bool) -> Option<DataKind> {
        if !end_of_message || !self.buf.is_empty() {
            return None;
        }
        Some(self.kind.take().unwrap_or(kind))
    }

    /// Adds a chunk (`frame_remaining` is the core's count of its frame's
    /// payload still to come) and, when it ends the message, returns the
    /// message's kind with the whole message left in the buffer: lend it
    /// ([`finished`](Self::finished), then [`clear_finished`](Self::clear_finished))
    /// or take it ([`take_finished`](Self::take_finished)).
    pub(crate) fn push_keep(
        &mut self,
        kind: DataKind,
        payload: &[u8],
        end_of_message: bool,
        frame_remaining: Option<u64>,
    ) -> Option<DataKind> {
        let kind = *self.kind.get_or_insert(kind);
        if let Some(ahead) = frame_remaining
            && self.buf.len() + payload.len() >= self.buf.capacity()
        {
            let ahead = usize::try_from(ahead.min(RESERVE_AHEAD)).unwrap_or(0);
            self.buf.reserve(payload.len() + ahead);
        }
        self.buf.extend_from_slice(payload);
        if !end_of_message {
            return None;
        }
        self.kind = None;
        Some(kind)
    }

    /// The message [`push_keep`](Self::push_keep) completed.
    pub(crate) fn finished(&self) -> &[u8] {
        &self.buf
    }

    /// The message [`push_keep`](Self::push_keep) completed, owned (the
    /// buffer goes with it).
    pub(crate) fn take_finished(&mut self, kind: DataKind) -> Message {
        Self::finish(kind, std::mem::take(&mut self.buf))
    }

    /// Empties the buffer after a [`finished`](Self::finished) message was
    /// used; keeps its memory unless it grew large.
    pub(crate) fn clear_finished(&mut self) {
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
    }

    /// The message buffer and how many bytes of the current frame
    /// (`remaining` of it are still to come) to read into its spare
    /// capacity directly; then [`appended`](Self::appended).
    ///
    /// It grows as [`push`](Self::push) does: only once (nearly) full, to
    /// at least the rest of the frame but at most [`RESERVE_AHEAD`] beyond
    /// that, or double what arrived. A peer that declares a large frame and
    /// trickles it gets no more room than the bytes it sent justify.
    pub(crate) fn spare(&mut self, remaining: u64) -> (&mut Vec<u8>, usize) {
        let want = usize::try_from(remaining.min(RESERVE_AHEAD)).unwrap_or(0);
        if self.buf.capacity() - self.buf.len() < want.min(MIN_DIRECT_READ) {
            self.buf.reserve(want);
        }
        let room = (self.buf.capacity() - self.buf.len()).min(want);
        (&mut self.buf, room)
    }

    /// The message buffer, with the bytes appended through
    /// [`spare`](Self::spare).
    pub(crate) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Accounts for bytes appended through [`spare`](Self::spare) and
    /// accepted by the core; completes the message at its end.
    pub(crate) fn appended(&mut self, kind: DataKind, end_of_message: bool) {
        let kind = *self.kind.get_or_insert(kind);
        if end_of_message {
            self.kind = None;
            self.done = Some(self.take_finished(kind));
        }
    }

    /// Drops the message being assembled (the core refused its bytes and
    /// has failed the connection).
    pub(crate) fn discard(&mut self) {
        self.kind = None;
        self.buf = Vec::new();
    }

    /// The message completed by [`appended`](Self::appended), once.
    pub(crate) fn take_done(&mut self) -> Option<Message> {
        self.done.take()
    }

    fn finish(kind: DataKind, bytes: Vec<u8>) -> Message {
        match kind {
            // ws-proto validated the text incrementally; this check keeps the
            // crate free of `unsafe` and cannot fail for connection input.
            DataKind::Text => match String::from_utf8(bytes) {
                Ok(text) => Message::Text(text),
                Err(err) => Message::Binary(err.into_bytes()),
            },
            DataKind::Binary => Message::Binary(bytes),
        }
    }
}
