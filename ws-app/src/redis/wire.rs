//! The bytes that travel between nodes: the message frame published on a
//! pub/sub channel, and the listing snapshot each node keeps in Redis.
//! Both formats are documented in the [module docs](super#wire-format);
//! decoding never panics and rejects anything it does not understand.

use crate::broker::{Envelope, Topic};
use crate::id::{ConnId, RoomId, RouteId};
use crate::message::Message;

/// The only message frame version this code writes and reads.
pub(crate) const FRAME_VERSION: u8 = 1;
/// The only snapshot version this code writes and reads.
pub(crate) const SNAPSHOT_VERSION: u8 = 1;

/// Flag bit: the payload is binary (clear: UTF-8 text).
const FLAG_BINARY: u8 = 0x01;
/// Flag bit: a 16-byte `except` id follows the topic.
const FLAG_EXCEPT: u8 = 0x02;
const KNOWN_FLAGS: u8 = FLAG_BINARY | FLAG_EXCEPT;

const KIND_CONN: u8 = 0;
const KIND_ROUTE: u8 = 1;
const KIND_ROOM: u8 = 2;

/// Fixed header: version, flags, node id (16), topic kind, topic length (2).
const HEADER_LEN: usize = 1 + 1 + 16 + 1 + 2;

/// Why a frame or a snapshot was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireError {
    /// Shorter than its header or its declared lengths.
    Truncated,
    /// A version this code does not know.
    UnknownVersion(u8),
    /// Flag bits this version does not define.
    UnknownFlags(u8),
    /// A topic kind this version does not define.
    UnknownTopicKind(u8),
    /// A conn topic whose id is not 16 bytes.
    BadConnTopic,
    /// A topic name or a text payload that is not UTF-8.
    NotUtf8,
    /// A topic name longer than 65535 bytes (encoding only).
    TopicTooLong,
    /// Bytes after the last entry of a snapshot.
    TrailingBytes,
}

/// A decoded message frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// The publishing node.
    pub(crate) node: [u8; 16],
    /// What was published.
    pub(crate) envelope: Envelope,
}

fn topic_parts(topic: &Topic) -> (u8, &[u8]) {
    match topic {
        Topic::Conn(id) => (KIND_CONN, id.as_bytes()),
        Topic::Route(route) => (KIND_ROUTE, route.as_str().as_bytes()),
        Topic::Room(room) => (KIND_ROOM, room.as_str().as_bytes()),
    }
}

/// Encodes `envelope`, published by `node`.
pub(crate) fn encode_frame(node: &[u8; 16], envelope: &Envelope) -> Result<Vec<u8>, WireError> {
    let (kind, name) = topic_parts(&envelope.topic);
    let name_len = u16::try_from(name.len()).map_err(|_| WireError::TopicTooLong)?;
    let payload = envelope.message.as_bytes();
    let mut flags = 0;
    if envelope.message.is_binary() {
        flags |= FLAG_BINARY;
    }
    if envelope.except.is_some() {
        flags |= FLAG_EXCEPT;
    }
    let mut out = Vec::with_capacity(HEADER_LEN + name.len() + 16 + payload.len());
    out.push(FRAME_VERSION);
    out.push(flags);
    out.extend_from_slice(node);
    out.push(kind);
    out.extend_from_slice(&name_len.to_be_bytes());
    out.extend_from_slice(name);
    if let Some(except) = &envelope.except {
        out.extend_from_slice(except.as_bytes());
    }
    out.extend_from_slice(payload);
    Ok(out)
}

/// A little cursor over untrusted bytes.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.bytes.len() < n {
            return Err(WireError::Truncated);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn id(&mut self) -> Result<[u8; 16], WireError> {
        let mut id = [0u8; 16];
        id.copy_from_slice(self.take(16)?);
        Ok(id)
    }

    fn name(&mut self) -> Result<&'a str, WireError> {
        let len = usize::from(self.u16()?);
        std::str::from_utf8(self.take(len)?).map_err(|_| WireError::NotUtf8)
    }
}

/// Decodes a message frame.
pub(crate) fn decode_frame(bytes: &[u8]) -> Result<Frame, WireError> {
    let mut r = Reader { bytes };
    let version = r.u8()?;
    if version != FRAME_VERSION {
        return Err(WireError::UnknownVersion(version));
    }
    let flags = r.u8()?;
    if flags & !KNOWN_FLAGS != 0 {
        return Err(WireError::UnknownFlags(flags));
    }
    let node = r.id()?;
    let kind = r.u8()?;
    let len = usize::from(r.u16()?);
    let name = r.take(len)?;
    let topic = match kind {
        KIND_CONN => {
            let id: [u8; 16] = name.try_into().map_err(|_| WireError::BadConnTopic)?;
            Topic::Conn(ConnId::from_bytes(id))
        }
        KIND_ROUTE | KIND_ROOM => {
            let name = std::str::from_utf8(name).map_err(|_| WireError::NotUtf8)?;
            if kind == KIND_ROUTE {
                Topic::Route(RouteId::from(name))
            } else {
                Topic::Room(RoomId::from(name))
            }
        }
        other => return Err(WireError::UnknownTopicKind(other)),
    };
    let except = if flags & FLAG_EXCEPT != 0 {
        Some(ConnId::from_bytes(r.id()?))
    } else {
        None
    };
    let payload = r.bytes;
    let message = if flags & FLAG_BINARY != 0 {
        Message::Binary(payload.to_vec())
    } else {
        Message::Text(
            std::str::from_utf8(payload)
                .map_err(|_| WireError::NotUtf8)?
                .to_owned(),
        )
    };
    Ok(Frame {
        node,
        envelope: Envelope {
            topic,
            message,
            except,
        },
    })
}

/// One node's connections as the cluster listing sees them: its routes
/// and rooms, each with its member ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) routes: Vec<(RouteId, Vec<ConnId>)>,
    pub(crate) rooms: Vec<(RoomId, Vec<ConnId>)>,
}

fn encode_groups(out: &mut Vec<u8>, groups: &[(&str, &[ConnId])]) -> Result<(), WireError> {
    let count = u32::try_from(groups.len()).map_err(|_| WireError::TopicTooLong)?;
    out.extend_from_slice(&count.to_be_bytes());
    for (name, ids) in groups {
        let len = u16::try_from(name.len()).map_err(|_| WireError::TopicTooLong)?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        let n = u32::try_from(ids.len()).map_err(|_| WireError::TopicTooLong)?;
        out.extend_from_slice(&n.to_be_bytes());
        for id in *ids {
            out.extend_from_slice(id.as_bytes());
        }
    }
    Ok(())
}

/// Encodes a snapshot.
pub(crate) fn encode_snapshot(snapshot: &Snapshot) -> Result<Vec<u8>, WireError> {
    let mut out = vec![SNAPSHOT_VERSION];
    let routes: Vec<(&str, &[ConnId])> = snapshot
        .routes
        .iter()
        .map(|(r, ids)| (r.as_str(), ids.as_slice()))
        .collect();
    encode_groups(&mut out, &routes)?;
    let rooms: Vec<(&str, &[ConnId])> = snapshot
        .rooms
        .iter()
        .map(|(r, ids)| (r.as_str(), ids.as_slice()))
        .collect();
    encode_groups(&mut out, &rooms)?;
    Ok(out)
}

fn decode_groups(r: &mut Reader<'_>) -> Result<Vec<(String, Vec<ConnId>)>, WireError> {
    let count = r.u32()?;
    let mut groups = Vec::new();
    for _ in 0..count {
        let name = r.name()?.to_owned();
        let n = r.u32()? as usize;
        // Bound the allocation by what the input can hold.
        if r.bytes.len() / 16 < n {
            return Err(WireError::Truncated);
        }
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            ids.push(ConnId::from_bytes(r.id()?));
        }
        groups.push((name, ids));
    }
    Ok(groups)
}

/// Decodes a snapshot.
pub(crate) fn decode_snapshot(bytes: &[u8]) -> Result<Snapshot, WireError> {
    let mut r = Reader { bytes };
    let version = r.u8()?;
    if version != SNAPSHOT_VERSION {
        return Err(WireError::UnknownVersion(version));
    }
    let routes = decode_groups(&mut r)?
        .into_iter()
        .map(|(n, ids)| (RouteId::from(n), ids))
        .collect();
    let rooms = decode_groups(&mut r)?
        .into_iter()
        .map(|(n, ids)| (RoomId::from(n), ids))
        .collect();
    if !r.bytes.is_empty() {
        return Err(WireError::TrailingBytes);
    }
    Ok(Snapshot { routes, rooms })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE: [u8; 16] = [7; 16];

    fn roundtrip(envelope: Envelope) {
        let bytes = encode_frame(&NODE, &envelope).unwrap();
        let frame = decode_frame(&bytes).unwrap();
        assert_eq!(frame.node, NODE);
        assert_eq!(frame.envelope, envelope);
    }

    #[test]
    fn frames_round_trip_every_topic_and_payload() {
        let id = ConnId::new_v4();
        roundtrip(Envelope {
            topic: Topic::Conn(id),
            message: Message::Text("héllo".into()),
            except: None,
        });
        roundtrip(Envelope {
            topic: Topic::Route(RouteId::from("/chat")),
            message: Message::Binary(vec![0, 0xff, 1, 0x80]),
            except: Some(id),
        });
        roundtrip(Envelope {
            topic: Topic::Room(RoomId::from("red room ✓")),
            message: Message::Text(String::new()),
            except: Some(id),
        });
        roundtrip(Envelope {
            topic: Topic::Room(RoomId::from("")),
            message: Message::Binary(Vec::new()),
            except: None,
        });
    }

    #[test]
    fn frame_layout_is_the_documented_one() {
        let except = ConnId::from_bytes([9; 16]);
        let bytes = encode_frame(
            &NODE,
            &Envelope {
                topic: Topic::Route(RouteId::from("/r")),
                message: Message::Binary(vec![0xaa]),
                except: Some(except),
            },
        )
        .unwrap();
        let mut expected = vec![1, 0x03];
        expected.extend_from_slice(&NODE);
        expected.extend_from_slice(&[1, 0, 2, b'/', b'r']);
        expected.extend_from_slice(&[9; 16]);
        expected.push(0xaa);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn malformed_frames_are_rejected() {
        let good = encode_frame(
            &NODE,
            &Envelope {
                topic: Topic::Room(RoomId::from("r")),
                message: Message::Text("ok".into()),
                except: Some(ConnId::new_v4()),
            },
        )
        .unwrap();
        // Every truncation of the header, topic and except id fails cleanly.
        for n in 0..HEADER_LEN + 1 + 16 {
            assert_eq!(decode_frame(&good[..n]), Err(WireError::Truncated), "{n}");
        }
        let mut v2 = good.clone();
        v2[0] = 2;
        assert_eq!(decode_frame(&v2), Err(WireError::UnknownVersion(2)));
        let mut flags = good.clone();
        flags[1] |= 0x80;
        assert_eq!(decode_frame(&flags), Err(WireError::UnknownFlags(0x82)));
        let mut kind = good.clone();
        kind[18] = 3;
        assert_eq!(decode_frame(&kind), Err(WireError::UnknownTopicKind(3)));
        let mut text = good.clone();
        text.push(0xff);
        assert_eq!(decode_frame(&text), Err(WireError::NotUtf8));
        let mut conn = good.clone();
        conn[18] = KIND_CONN;
        assert_eq!(decode_frame(&conn), Err(WireError::BadConnTopic));
        let mut name = good;
        name[21] = 0xc0;
        assert_eq!(decode_frame(&name), Err(WireError::NotUtf8));
        // Arbitrary bytes never panic.
        let mut seed = 0x1234_5678_u32;
        for len in 0..200 {
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (seed >> 16) as u8
                })
                .collect();
            let _ = decode_frame(&junk);
            let _ = decode_snapshot(&junk);
        }
    }

    #[test]
    fn snapshots_round_trip_and_reject_malformed_input() {
        let a = ConnId::new_v4();
        let b = ConnId::new_v4();
        let snapshot = Snapshot {
            routes: vec![(RouteId::from("/chat"), vec![a, b])],
            rooms: vec![
                (RoomId::from("red"), vec![b]),
                (RoomId::from("empty"), vec![]),
            ],
        };
        let bytes = encode_snapshot(&snapshot).unwrap();
        assert_eq!(decode_snapshot(&bytes), Ok(snapshot));
        assert_eq!(
            decode_snapshot(&encode_snapshot(&Snapshot::default()).unwrap()),
            Ok(Snapshot::default())
        );
        for n in 0..bytes.len() {
            assert!(decode_snapshot(&bytes[..n]).is_err(), "{n}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(decode_snapshot(&extra), Err(WireError::TrailingBytes));
        let mut v9 = bytes;
        v9[0] = 9;
        assert_eq!(decode_snapshot(&v9), Err(WireError::UnknownVersion(9)));
        // A huge declared count with no bytes behind it allocates nothing.
        let huge = [1, 0, 0, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(decode_snapshot(&huge), Err(WireError::Truncated));
    }
}
