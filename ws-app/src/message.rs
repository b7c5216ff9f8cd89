//! [`Message`]: what handlers send and receive.

/// A data message: text or binary. Control frames (Ping, Pong, Close) are
/// handled by the stack and never reach handlers; the end of a connection
/// is reported as [`Error::Closed`](crate::Error::Closed).
///
/// Conversions follow Robyn's `broadcast(x)`: `String`/`&str` become text,
/// `Vec<u8>`/`&[u8]` become binary.
///
/// ```
/// use ws_app::Message;
/// assert_eq!(Message::from("hi"), Message::Text("hi".into()));
/// assert_eq!(Message::from(vec![0xff]), Message::Binary(vec![0xff]));
/// assert_eq!(Message::from(&b"\x00"[..]).len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message {
    /// A text message (UTF-8; sent as a text frame).
    Text(String),
    /// A binary message (sent as a binary frame).
    Binary(Vec<u8>),
}

impl Message {
    /// Whether this is text.
    pub fn is_text(&self) -> bool {
        matches!(self, Self::Text(_))
    }

    /// Whether this is binary.
    pub fn is_binary(&self) -> bool {
        matches!(self, Self::Binary(_))
    }

    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(text) => text.as_bytes(),
            Self::Binary(data) => data,
        }
    }

    /// The text, if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            Self::Binary(_) => None,
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

    /// The payload bytes, consuming the message.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Self::Text(text) => text.into_bytes(),
            Self::Binary(data) => data,
        }
    }

    pub(crate) fn into_runtime(self) -> ws_runtime::Message {
        match self {
            Self::Text(text) => ws_runtime::Message::Text(text),
            Self::Binary(data) => ws_runtime::Message::Binary(data),
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

impl From<&String> for Message {
    fn from(text: &String) -> Self {
        Self::Text(text.clone())
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

impl<const N: usize> From<&[u8; N]> for Message {
    fn from(data: &[u8; N]) -> Self {
        Self::Binary(data.to_vec())
    }
}
