//! Whole-message reassembly (with `alloc`), shared by the runtime crates
//! (python-websockets' `Assembler`).

use alloc::string::String;
use alloc::vec::Vec;

use crate::connection::Event;
use crate::frame::DataKind;

/// A complete data message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

impl Message {
    /// The message's kind.
    pub fn kind(&self) -> DataKind {
        match self {
            Self::Text(_) => DataKind::Text,
            Self::Binary(_) => DataKind::Binary,
        }
    }

    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(text) => text.as_bytes(),
            Self::Binary(data) => data,
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
}

/// Joins [`Event::Data`] chunks into [`Message`]s.
///
/// The connection already enforces `max_message_size` from frame headers,
/// so the buffer never grows past that limit; the assembler reserves memory
/// only as bytes actually arrive, never from a declared length.
#[derive(Debug, Default)]
pub struct MessageAssembler {
    kind: Option<DataKind>,
    buf: Vec<u8>,
}

impl MessageAssembler {
    /// An empty assembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one data chunk; returns the message when `end_of_message`.
    pub fn push(
        &mut self,
        kind: DataKind,
        payload: &[u8],
        end_of_message: bool,
    ) -> Option<Message> {
        if self.kind.is_none() {
            self.kind = Some(kind);
        }
        if end_of_message && self.buf.is_empty() {
            // The common single-frame case: one copy, no reallocation.
            self.kind = None;
            return Some(Self::finish(kind, payload.to_vec()));
        }
        self.buf.extend_from_slice(payload);
        if !end_of_message {
            return None;
        }
        let kind = self.kind.take().unwrap_or(kind);
        Some(Self::finish(kind, core::mem::take(&mut self.buf)))
    }

    /// Adds an event if it is a data chunk; other events return `None`.
    pub fn push_event(&mut self, event: &Event<'_>) -> Option<Message> {
        match *event {
            Event::Data {
                kind,
                payload,
                end_of_message,
                ..
            } => self.push(kind, payload, end_of_message),
            _ => None,
        }
    }

    /// Bytes of the unfinished message held so far.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn finish(kind: DataKind, bytes: Vec<u8>) -> Message {
        match kind {
            // The connection validated the text incrementally; this second
            // check keeps the crate free of `unsafe` and cannot fail for
            // input that came through a `Connection`.
            DataKind::Text => match String::from_utf8(bytes) {
                Ok(text) => Message::Text(text),
                Err(err) => Message::Binary(err.into_bytes()),
            },
            DataKind::Binary => Message::Binary(bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s5_4_fragments_join() {
        let mut asm = MessageAssembler::new();
        assert_eq!(asm.push(DataKind::Text, b"Hel", false), None);
        assert_eq!(asm.buffered(), 3);
        assert_eq!(
            asm.push(DataKind::Text, b"lo", true),
            Some(Message::Text("Hello".into()))
        );
        assert_eq!(
            asm.push(DataKind::Binary, b"\x00\xff", true),
            Some(Message::Binary(alloc::vec![0, 255]))
        );
        assert_eq!(
            asm.push(DataKind::Text, b"", true),
            Some(Message::Text(String::new()))
        );
    }
}
