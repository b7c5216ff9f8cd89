//! Receiving without an allocation per message: [`MessageRef`], a message
//! borrowed from the connection's buffers, and [`Replies`], the handle that
//! answers it, as [`WebSocket::recv_with`](crate::WebSocket::recv_with)
//! hands them to its callback.
//!
//! `recv` returns an owned [`Message`]: one allocation and one copy per
//! message, and a value moved through a future for each. For small
//! messages at high rates that is a large share of the work (about a third
//! of a 16-byte echo server's user time on this project's benchmarks), so
//! `recv_with` calls a closure for every message already received instead,
//! with the payload borrowed where it lies: in the receive buffer when the
//! message arrived in one piece, in a reassembly buffer when it came in
//! several. A reply is encoded straight into the send buffer.

use std::collections::VecDeque;

use ws_proto::{DataKind, SendError};

use crate::driver::{Connection, Outgoing};
use crate::error::Error;
use crate::message::{CloseFrame, Message};

/// A received message, borrowed: valid for the duration of the callback.
///
/// The same items [`recv`](crate::WebSocket::recv) returns as [`Message`];
/// [`to_owned`](Self::to_owned) makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageRef<'a> {
    /// A text message (valid UTF-8).
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
    /// A Ping; the Pong is already queued.
    Ping(&'a [u8]),
    /// A Pong.
    Pong(&'a [u8]),
    /// The peer's Close frame (`None`: it carried no code); the answering
    /// Close is already queued.
    Close(Option<ws_proto::CloseFrame<'a>>),
}

impl<'a> MessageRef<'a> {
    /// A data message of `kind` with payload `bytes`, which the core has
    /// validated as UTF-8 if it is text.
    pub(crate) fn data(kind: DataKind, bytes: &'a [u8]) -> Self {
        match kind {
            // ws-proto validated the text; this check keeps the crate free
            // of `unsafe` and cannot fail for connection input.
            DataKind::Text => match std::str::from_utf8(bytes) {
                Ok(text) => Self::Text(text),
                Err(_) => Self::Binary(bytes),
            },
            DataKind::Binary => Self::Binary(bytes),
        }
    }

    /// A borrowed view of an owned message.
    pub fn from_message(message: &'a Message) -> Self {
        match message {
            Message::Text(text) => Self::Text(text),
            Message::Binary(data) => Self::Binary(data),
            Message::Ping(data) => Self::Ping(data),
            Message::Pong(data) => Self::Pong(data),
            Message::Close(frame) => Self::Close(frame.as_ref().map(|f| ws_proto::CloseFrame {
                code: f.code,
                reason: &f.reason,
            })),
        }
    }

    /// Whether this is a `Text` or `Binary` message.
    pub fn is_data(&self) -> bool {
        matches!(self, Self::Text(_) | Self::Binary(_))
    }

    /// The payload bytes (the reason, for `Close`).
    pub fn as_bytes(&self) -> &'a [u8] {
        match *self {
            Self::Text(text) => text.as_bytes(),
            Self::Binary(data) | Self::Ping(data) | Self::Pong(data) => data,
            Self::Close(frame) => frame.map_or(&[], |f| f.reason.as_bytes()),
        }
    }

    /// The owned [`Message`] with the same content.
    pub fn to_owned(&self) -> Message {
        match *self {
            Self::Text(text) => Message::Text(text.to_owned()),
            Self::Binary(data) => Message::Binary(data.to_vec()),
            Self::Ping(data) => Message::Ping(data.to_vec()),
            Self::Pong(data) => Message::Pong(data.to_vec()),
            Self::Close(frame) => Message::Close(frame.map(CloseFrame::from)),
        }
    }
}

/// Answers from inside a [`recv_with`](crate::WebSocket::recv_with)
/// callback: each message is encoded into the connection's send buffer at
/// once and written with everything else queued when the connection next
/// would block, as with [`feed`](crate::WebSocket::feed).
///
/// Echoing a large message that was read straight into its own buffer
/// (the rest of a frame larger than the receive buffer) moves that buffer
/// instead of copying it, and it is written with a vectored write.
///
/// Replies never wait and are never refused for lack of room: when the
/// send buffer is at its watermark, a reply is kept (copied) until the
/// buffer drains, and `recv_with` reads no further message until it has
/// been written. What one callback sends beyond the watermark is therefore
/// held in memory; keep replies proportionate to the message.
pub struct Replies<'a> {
    pub(crate) conn: &'a mut Connection,
    /// Items waiting for room, written in order before anything else.
    pub(crate) held: &'a mut VecDeque<Outgoing>,
    /// The message being handled, when the driver owns it (a large one
    /// read in place): echoing it moves it instead of copying it.
    pub(crate) lent: Option<Lent>,
}

/// Identifies the owned message a callback got (by address, length and
/// kind), and where in `held` its echo was put, if it was echoed: the
/// driver moves the message there after the callback. A large echo thus
/// goes out with a vectored write from the message's own buffer, as with
/// `feed`, instead of being copied into the send buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lent {
    addr: usize,
    len: usize,
    text: bool,
    pub(crate) at: Option<usize>,
}

impl Lent {
    /// For a data message the driver owns.
    pub(crate) fn of(message: &Message) -> Option<Self> {
        message.is_data().then(|| Self {
            addr: message.as_bytes().as_ptr() as usize,
            len: message.len(),
            text: message.is_text(),
            at: None,
        })
    }

    /// Whether `message` is that message itself (not just equal bytes).
    fn is(&self, message: &MessageRef<'_>) -> bool {
        let (text, bytes) = match message {
            MessageRef::Text(text) => (true, text.as_bytes()),
            MessageRef::Binary(data) => (false, *data),
            _ => return false,
        };
        text == self.text && bytes.len() == self.len && bytes.as_ptr() as usize == self.addr
    }
}

impl Replies<'_> {
    /// Queues a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send(MessageRef::Text(text))
    }

    /// Queues a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send(MessageRef::Binary(data))
    }

    /// Queues `message`: a data message, a Ping or a Pong (echoing the
    /// message the callback got is `replies.send(message)`). A Close is
    /// refused with [`SendError::InvalidState`]: use
    /// [`close`](crate::WebSocket::close) after the callback.
    pub fn send(&mut self, message: MessageRef<'_>) -> Result<(), Error> {
        if let Some(lent) = &mut self.lent
            && lent.at.is_none()
            && lent.is(&message)
        {
            // A placeholder (no allocation) that the driver replaces with
            // the message itself once the callback returns.
            lent.at = Some(self.held.len());
            self.held
                .push_back(Outgoing::Message(Message::Binary(Vec::new())));
            return Ok(());
        }
        if !self.held.is_empty() {
            return self.hold(message);
        }
        let sent = match message {
            MessageRef::Text(text) => self.conn.send_text(text),
            MessageRef::Binary(data) => self.conn.send_binary(data),
            MessageRef::Ping(data) => self.conn.send_ping(data),
            MessageRef::Pong(data) => self.conn.send_pong(data),
            MessageRef::Close(_) => Err(SendError::InvalidState),
        };
        match sent {
            Ok(()) => Ok(()),
            Err(SendError::BufferFull { .. }) => self.hold(message),
            Err(err) => Err(Error::Send(err)),
        }
    }

    fn hold(&mut self, message: MessageRef<'_>) -> Result<(), Error> {
        if matches!(message, MessageRef::Close(_)) {
            return Err(Error::Send(SendError::InvalidState));
        }
        self.held.push_back(Outgoing::Message(message.to_owned()));
        Ok(())
    }

    /// Bytes queued on this connection and not yet written, replies held
    /// for room included.
    pub fn buffered_amount(&self) -> usize {
        self.conn.send_buffered() + self.held.iter().map(Outgoing::len).sum::<usize>()
    }
}

impl std::fmt::Debug for Replies<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replies")
            .field("held", &self.held.len())
            .finish_non_exhaustive()
    }
}
