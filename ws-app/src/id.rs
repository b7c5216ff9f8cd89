//! Identifiers: [`ConnId`] (a connection), [`RouteId`] (a WebSocket route),
//! [`RoomId`] (a room). Newtypes with `Display`, never raw integers.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A connection's identity: a random UUID (version 4), fixed for the
/// connection's lifetime and never reused.
///
/// `Display` gives Robyn's `websocket.id`: 36 characters, lowercase,
/// hyphenated (`0b6c6e1a-5d3f-4c1e-9a8f-2b7e4d1c0f9a`). It parses back with
/// [`FromStr`], and serializes as that string with serde.
///
/// ```
/// let id = ws_app::ConnId::new_v4();
/// let text = id.to_string();
/// assert_eq!(text.len(), 36);
/// assert_eq!(&text[14..15], "4");
/// assert_eq!(text.parse::<ws_app::ConnId>().unwrap(), id);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(uuid::Uuid);

impl ConnId {
    /// A fresh random id from the operating system's entropy (RFC 9562
    /// §5.4: version 4, variant `10`; built by the `uuid` crate).
    ///
    /// Should the OS refuse entropy, the id is derived from the clock, a
    /// process counter and the address of a stack variable instead: still
    /// unique within the process, though guessable.
    pub fn new_v4() -> Self {
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            bytes = fallback_bytes();
        }
        Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }

    /// An id from its 16 bytes (no version check).
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(uuid::Uuid::from_bytes(bytes))
    }

    /// The 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

fn fallback_bytes() -> [u8; 16] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let local = 0u8;
    let addr = &local as *const u8 as usize as u64;
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&(nanos ^ addr.rotate_left(32)).to_le_bytes());
    bytes[8..].copy_from_slice(&count.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    bytes
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnId({self})")
    }
}

/// The text was not a hyphenated UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a connection id (expected a hyphenated UUID)")]
pub struct ParseConnIdError;

impl FromStr for ConnId {
    type Err = ParseConnIdError;

    /// Accepts exactly the hyphenated form `Display` writes (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 36 {
            return Err(ParseConnIdError);
        }
        uuid::Uuid::try_parse(s)
            .map(Self)
            .map_err(|_| ParseConnIdError)
    }
}

impl serde::Serialize for ConnId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ConnId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

macro_rules! name_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// The id from its name.
            pub fn new(name: impl AsRef<str>) -> Self {
                Self(Arc::from(name.as_ref()))
            }

            /// The name.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl From<&str> for $name {
            fn from(name: &str) -> Self {
                Self::new(name)
            }
        }

        impl From<String> for $name {
            fn from(name: String) -> Self {
                Self(Arc::from(name))
            }
        }

        impl From<&String> for $name {
            fn from(name: &String) -> Self {
                Self::new(name)
            }
        }

        impl From<&$name> for $name {
            fn from(id: &$name) -> Self {
                id.clone()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }
    };
}

name_id! {
    /// A WebSocket route: its full path (prefixes included), such as
    /// `/sub_router/nested/ws`. Broadcasts reach the connections of one route.
    RouteId
}

name_id! {
    /// A room: a named group of connections, joined and left at will
    /// (rooms are server-side only; clients never name them directly).
    RoomId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conn_id_is_uuid_v4_and_round_trips() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..64 {
            let id = ConnId::new_v4();
            let text = id.to_string();
            assert_eq!(text.len(), 36);
            assert!(text.bytes().all(|c| c == b'-' || c.is_ascii_hexdigit()));
            assert!(!text.bytes().any(|c| c.is_ascii_uppercase()));
            assert_eq!(text.as_bytes()[14], b'4');
            assert!(matches!(text.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
            assert_eq!(text.parse::<ConnId>(), Ok(id));
            assert!(seen.insert(id));
        }
        let json = serde_json::to_string(&ConnId::from_bytes([0xab; 16])).unwrap();
        assert_eq!(json, "\"abababab-abab-abab-abab-abababababab\"");
        let back: ConnId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ConnId::from_bytes([0xab; 16]));
    }

    #[test]
    fn conn_id_rejects_malformed_text() {
        for bad in [
            "",
            "abababab-abab-abab-abab-ababababab",
            "abababababababababababababababababab",
            "abababab-abab-abab-abab-abababababaz",
            "abababab_abab-abab-abab-abababababab",
            "ééababab-abab-abab-abab-abababababab",
        ] {
            assert_eq!(bad.parse::<ConnId>(), Err(ParseConnIdError), "{bad:?}");
        }
    }

    #[test]
    fn names_display_as_themselves() {
        assert_eq!(RoomId::from("lobby").to_string(), "lobby");
        assert_eq!(
            format!("{:?}", RouteId::from("/chat")),
            "RouteId(\"/chat\")"
        );
    }
}
