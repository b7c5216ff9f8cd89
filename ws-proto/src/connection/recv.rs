//! Input: parsing received bytes into events.

use super::{Connection, Role};
use crate::close::CloseFrame;
use crate::error::ProtocolError;
use crate::frame::{DataKind, FrameHeader, OpCode};
use crate::keys::MaskKeySource;
use crate::mask::{MaskKey, apply_mask};
use crate::recv_buf::RecvBuf;
use crate::send_buf::SendStorage;
use crate::status::Status;
use crate::time::Instant;
use crate::utf8::Utf8Validator;

/// What the peer said, borrowed from the receive buffer.
///
/// Data frames are delivered in chunks as their bytes arrive, already
/// unmasked and (for text) UTF-8-validated up to the chunk's end, so a
/// buffer of a few KiB can receive a message of any size. A chunk of a text
/// message may end inside a multi-byte character; the message as a whole is
/// valid UTF-8 once `end_of_message` arrives without a failure.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Part of a data message.
    Data {
        /// The message's kind (from its first frame).
        kind: DataKind,
        /// The next bytes of the message; may be empty (empty frames).
        payload: &'a [u8],
        /// The last chunk of its frame.
        end_of_frame: bool,
        /// The last chunk of the message.
        end_of_message: bool,
    },
    /// A Ping arrived; the Pong is already queued (RFC 6455 §5.5.2).
    Ping(&'a [u8]),
    /// A Pong arrived (RFC 6455 §5.5.3).
    Pong(&'a [u8]),
    /// The peer's Close frame arrived; the answering Close is already queued
    /// unless this end closed first (RFC 6455 §5.5.1).
    CloseReceived(CloseFrame<'a>),
}

/// The data frame whose payload is arriving.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InFrame {
    pub(crate) kind: DataKind,
    pub(crate) fin: bool,
    pub(crate) mask: Option<MaskKey>,
    pub(crate) remaining: u64,
    /// Payload bytes already unmasked, modulo 4: the mask phase.
    pub(crate) offset: usize,
    /// Bytes at the front of the receive buffer already unmasked but not
    /// yet consumed (compressed frames are consumed as the inflater takes
    /// them, which may be less than what arrived).
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    pub(crate) unmasked: usize,
}

/// What [`Connection::whole_message`] found at the front of the buffer.
enum WholeMessage {
    /// Not a whole message the short path takes: the general path does.
    Not,
    /// A valid message of `len` payload bytes, unmasked at the front.
    Valid { kind: DataKind, len: usize },
    /// A text message that is not UTF-8 (its bytes are consumed).
    InvalidUtf8,
}

/// The message being received.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InMessage {
    kind: DataKind,
    size: u64,
    fragments: u32,
    /// RSV1 was set on its first frame (permessage-deflate).
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    compressed: bool,
}

/// A compressed message being inflated.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "deflate"), allow(dead_code))]
pub(crate) struct Inflating {
    pub(crate) kind: DataKind,
    /// Trailer bytes fed to the inflater once the final frame is in;
    /// `u8::MAX` while frames are still arriving.
    pub(crate) trailer_fed: u8,
}

/// Receive-side state.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RecvState {
    pub(crate) frame: Option<InFrame>,
    pub(crate) message: Option<InMessage>,
    pub(crate) utf8: Utf8Validator,
    /// After a failure or a received Close: input is dropped unread.
    pub(crate) discarding: bool,
    /// The compressed message being inflated, if any.
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    pub(crate) inflating: Option<Inflating>,
    /// Decompressed bytes of that message so far.
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    pub(crate) inflated: u64,
}

impl RecvState {
    /// Checks the next chunk of a text message (all of it when
    /// `end_of_message`): whether it keeps the message valid UTF-8.
    #[inline]
    fn text_chunk_valid(&mut self, chunk: &[u8], end_of_message: bool) -> bool {
        self.utf8.feed(chunk).is_ok() && (!end_of_message || self.utf8.finish().is_ok())
    }
}

#[cfg(feature = "deflate")]
impl RecvState {
    /// Whether an inflation step can make progress without a new header.
    fn inflation_active(&self) -> bool {
        self.inflating
            .is_some_and(|i| self.frame.is_some() || usize::from(i.trailer_fed) <= 4)
    }
}

impl<K: MaskKeySource, S: SendStorage> Connection<K, S> {
    /// Processes received bytes and returns the next event, or `None` when
    /// `buf` holds no complete event (read more then) or the connection is
    /// discarding input.
    ///
    /// Call it in a loop after every read until it returns `None`, then
    /// drain [`poll_transmit`](Self::poll_transmit) (automatic Pongs and
    /// Close replies are queued here) and [`poll_event`](Self::poll_event).
    /// Peer faults are not errors here: the connection fails itself and
    /// reports [`Lifecycle::Failed`](crate::Lifecycle::Failed).
    ///
    /// Payloads are unmasked in place and borrow `buf`; the connection itself
    /// is free to use (for example to echo the chunk) while they live.
    pub fn receive<'b, B>(&mut self, now: Instant, buf: &'b mut RecvBuf<B>) -> Option<Event<'b>>
    where
        B: AsRef<[u8]> + AsMut<[u8]>,
    {
        'input: loop {
            if self.recv.discarding {
                buf.consume_all();
                return None;
            }
            #[cfg(feature = "deflate")]
            if self.recv.inflation_active() {
                if !buf.is_empty() {
                    self.note_activity(now);
                }
                match self.inflate_step(now, buf) {
                    super::deflate::InflateStep::Output {
                        kind,
                        len,
                        end_of_message,
                    } => {
                        return Some(Event::Data {
                            kind,
                            payload: buf.inflated(len),
                            end_of_frame: end_of_message,
                            end_of_message,
                        });
                    }
                    super::deflate::InflateStep::NeedInput => return None,
                    super::deflate::InflateStep::Continue => continue,
                }
            }
            if buf.is_empty() {
                return None;
            }
            self.note_activity(now);
            // The frame whose payload comes next: the one in progress, or
            // the one whose header is parsed here. Either way the state is
            // not reloaded right after a store to it: loading the whole
            // frame state just after the tag was written alone (between
            // frames) or field by field (a new header) stalls, once per
            // frame, for want of store-to-load forwarding.
            let frame = 'frame: {
                if self.recv.frame.is_some()
                    && let Some(frame) = self.recv.frame
                {
                    break 'frame frame;
                }
                // The common case first: a whole message in one frame.
                match self.whole_message(buf) {
                    WholeMessage::Not => {}
                    WholeMessage::Valid { kind, len } => {
                        return Some(Event::Data {
                            kind,
                            payload: buf.consume(len),
                            end_of_frame: true,
                            end_of_message: true,
                        });
                    }
                    WholeMessage::InvalidUtf8 => {
                        self.fail(now, ProtocolError::InvalidUtf8);
                        continue 'input;
                    }
                }
                let (header, header_len) = match FrameHeader::parse(buf.filled()) {
                    Ok(Status::Complete(parsed)) => parsed,
                    Ok(Status::Partial) => return None,
                    Err(err) => {
                        self.fail(now, err);
                        continue 'input;
                    }
                };
                if let Err(err) = self.check_header(&header) {
                    self.fail(now, err);
                    continue 'input;
                }
                if header.opcode.is_control() {
                    return self.receive_control(now, buf, &header, header_len);
                }
                buf.consume(header_len);
                let message = self.recv.message.map_or(DataKind::Binary, |m| m.kind);
                let frame = InFrame {
                    kind: message,
                    fin: header.fin,
                    mask: header.mask,
                    remaining: header.payload_len,
                    offset: 0,
                    unmasked: 0,
                };
                #[cfg(feature = "deflate")]
                if self.recv.message.is_some_and(|m| m.compressed) {
                    if self.recv.inflating.is_none() {
                        self.recv.inflating = Some(super::deflate::start_inflating(message));
                    }
                    // Even an empty final frame must go through the inflater,
                    // which still holds the message's end.
                    self.recv.frame = Some(super::deflate::compressed_frame(frame));
                    continue 'input;
                }
                if header.payload_len > 0 {
                    // With payload bytes at hand, `payload_chunk` stores
                    // the frame's state after them (or clears it).
                    if buf.is_empty() {
                        self.recv.frame = Some(frame);
                        return None;
                    }
                    break 'frame frame;
                }
                // An empty data frame is an event of its own.
                if header.fin && frame.kind == DataKind::Text && self.recv.utf8.finish().is_err() {
                    self.fail(now, ProtocolError::InvalidUtf8);
                    continue 'input;
                }
                if header.fin {
                    self.recv.message = None;
                }
                return Some(Event::Data {
                    kind: frame.kind,
                    payload: &[],
                    end_of_frame: true,
                    end_of_message: header.fin,
                });
            };
            return self.receive_payload(now, buf, frame);
        }
    }

    /// Takes a whole message off the front of `buf` when it is the common
    /// case: between messages, on a server, an unfragmented masked Text or
    /// Binary frame (FIN set, RSV clear) with a 7- or 16-bit length (at
    /// most 65,535 bytes), all of it in `buf`, within the frame and
    /// message limits (the fragment limit is at least 1). Its header is
    /// consumed and its payload unmasked (and validated, for text) in
    /// place, leaving `len` payload bytes at the front of `buf`; the frame
    /// and message state stay as they are (between messages), as the
    /// general path would leave them after the same frame.
    ///
    /// Anything else, errors included, is [`WholeMessage::Not`] and goes
    /// through the general path; the fuzzing oracle's split invariance
    /// checks that both give the same events (a frame split across reads
    /// never takes this path).
    #[inline]
    fn whole_message<B>(&mut self, buf: &mut RecvBuf<B>) -> WholeMessage
    where
        B: AsRef<[u8]> + AsMut<[u8]>,
    {
        let bytes = buf.filled();
        let (Some(&first), Some(&second)) = (bytes.first(), bytes.get(1)) else {
            return WholeMessage::Not;
        };
        let kind = match first {
            0x81 => DataKind::Text,
            0x82 => DataKind::Binary,
            _ => return WholeMessage::Not,
        };
        // The length in the header byte, or (126) in the next two bytes
        // (a non-minimal 16-bit length is accepted, as by the general path);
        // 127, the 64-bit form, is left to the general path.
        let (len, at) = match second & 0x7f {
            126 => match (bytes.get(2), bytes.get(3)) {
                (Some(&high), Some(&low)) => (usize::from(u16::from_be_bytes([high, low])), 4),
                _ => return WholeMessage::Not,
            },
            short => (usize::from(short), 2),
        };
        if second & 0x80 == 0
            || len > 125 && at == 2
            || bytes.len() < at + 4 + len
            || self.role != Role::Server
            || self.recv.message.is_some()
            || len as u64 > self.config.max_frame_size
            || len as u64 > self.config.max_message_size
        {
            return WholeMessage::Not;
        }
        let key = MaskKey::new([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        buf.consume(at + 4);
        let payload = &mut buf.filled_mut()[..len];
        apply_mask(payload, key, 0);
        if kind == DataKind::Text && !self.recv.text_chunk_valid(payload, true) {
            return WholeMessage::InvalidUtf8;
        }
        WholeMessage::Valid { kind, len }
    }

    /// Payload bytes of the data frame being received that `receive` has
    /// not delivered yet: `Some` from the frame's header until its last
    /// chunk, `None` between frames, for compressed messages (the wire
    /// length is not the message length) and after a failure.
    ///
    /// A hint for sizing a reassembly buffer. The length is the peer's
    /// claim, already checked against [`Config`](crate::Config)'s frame
    /// and message limits, but the bytes may never come: reserve from it
    /// only within a bound of your own.
    pub fn frame_remaining(&self) -> Option<u64> {
        if self.recv.discarding || self.recv.inflating.is_some() {
            return None;
        }
        self.recv.frame.map(|frame| frame.remaining)
    }

    /// Validates what the header alone cannot: RSV bits, the mask bit for
    /// this role, fragmentation order and size limits. Updates the message
    /// bookkeeping for a valid data frame.
    fn check_header(&mut self, header: &FrameHeader) -> Result<(), ProtocolError> {
        // RSV1 means "compressed" on the first frame of a message when
        // permessage-deflate is on (RFC 7692 §6); nowhere else.
        let rsv1 = header.rsv & 0b100 != 0;
        #[cfg(feature = "deflate")]
        let deflate_rsv1 = rsv1
            && self.deflate.is_some()
            && matches!(header.opcode, OpCode::Text | OpCode::Binary);
        #[cfg(not(feature = "deflate"))]
        let deflate_rsv1 = false;
        let rsv = if deflate_rsv1 {
            header.rsv & 0b011
        } else {
            header.rsv
        };
        if rsv & !self.rsv_allowed != 0 {
            return Err(ProtocolError::ReservedBits);
        }
        match (self.role, header.mask) {
            (Role::Server, None) if !self.config.accept_unmasked_frames => {
                return Err(ProtocolError::UnmaskedFrame);
            }
            (Role::Client, Some(_)) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if header.opcode.is_control() {
            return Ok(());
        }
        if header.payload_len > self.config.max_frame_size {
            return Err(ProtocolError::FrameTooLarge);
        }
        let message = match (header.opcode, self.recv.message) {
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Continuation, Some(m)) => m,
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (opcode, None) => InMessage {
                kind: if opcode == OpCode::Text {
                    DataKind::Text
                } else {
                    DataKind::Binary
                },
                size: 0,
                fragments: 0,
                compressed: rsv1 && deflate_rsv1,
            },
        };
        let size = message.size.saturating_add(header.payload_len);
        if size > self.config.max_message_size {
            return Err(ProtocolError::MessageTooLarge);
        }
        if message.fragments >= self.config.max_fragments {
            return Err(ProtocolError::TooManyFragments);
        }
        self.recv.message = Some(InMessage {
            size,
            fragments: message.fragments + 1,
            ..message
        });
        Ok(())
    }

    /// Delivers the next chunk of the current data frame.
    fn receive_payload<'b, B>(
        &mut self,
        now: Instant,
        buf: &'b mut RecvBuf<B>,
        frame: InFrame,
    ) -> Option<Event<'b>>
    where
        B: AsRef<[u8]> + AsMut<[u8]>,
    {
        let take = usize::try_from(frame.remaining).map_or(buf.len(), |r| r.min(buf.len()));
        let Some((end_of_frame, end_of_message)) =
            self.payload_chunk(now, &mut buf.filled_mut()[..take], frame)
        else {
            buf.consume_all();
            return None;
        };
        Some(Event::Data {
            kind: frame.kind,
            payload: buf.consume(take),
            end_of_frame,
            end_of_message,
        })
    }

    /// Delivers payload bytes of the data frame being received that the
    /// caller read into storage of its own instead of a [`RecvBuf`]: the
    /// rest of a large frame, read straight into the message buffer it
    /// will end up in, so it is not copied there from the receive buffer.
    /// `payload` is unmasked and (for text) UTF-8-validated in place, and
    /// the event is the one [`receive`](Self::receive) would have given for
    /// the same bytes.
    ///
    /// Only for bytes that come next on the wire: call it when
    /// [`frame_remaining`](Self::frame_remaining) is `Some(r)` with
    /// `payload.len() <= r` and the `RecvBuf` given to `receive` is empty
    /// (its bytes come first). Returns `None` without changing anything if
    /// `frame_remaining` is `None` or `payload` is longer than `r`, and
    /// `None` after failing the connection if the bytes are invalid (as
    /// `receive` would).
    pub fn receive_in_place<'b>(
        &mut self,
        now: Instant,
        payload: &'b mut [u8],
    ) -> Option<Event<'b>> {
        let remaining = self.frame_remaining()?;
        let frame = self.recv.frame?;
        if payload.len() as u64 > remaining {
            return None;
        }
        if !payload.is_empty() {
            self.note_activity(now);
        }
        let (end_of_frame, end_of_message) = self.payload_chunk(now, payload, frame)?;
        Some(Event::Data {
            kind: frame.kind,
            payload,
            end_of_frame,
            end_of_message,
        })
    }

    /// Unmasks and validates `chunk`, the next bytes of `frame` (at most
    /// its remaining length), and advances the frame and message state.
    /// Returns (end of frame, end of message), or `None` after failing the
    /// connection on invalid UTF-8.
    fn payload_chunk(
        &mut self,
        now: Instant,
        chunk: &mut [u8],
        frame: InFrame,
    ) -> Option<(bool, bool)> {
        let take = chunk.len();
        if let Some(key) = frame.mask {
            apply_mask(chunk, key, frame.offset);
        }
        let remaining = frame.remaining - take as u64;
        let end_of_frame = remaining == 0;
        let end_of_message = end_of_frame && frame.fin;
        if frame.kind == DataKind::Text && !self.recv.text_chunk_valid(chunk, end_of_message) {
            self.fail(now, ProtocolError::InvalidUtf8);
            return None;
        }
        if end_of_frame {
            self.recv.frame = None;
            if end_of_message {
                self.recv.message = None;
            }
        } else {
            self.recv.frame = Some(InFrame {
                remaining,
                offset: (frame.offset + take) % 4,
                ..frame
            });
        }
        Some((end_of_frame, end_of_message))
    }

    /// Handles a control frame once it is whole in the buffer (it always
    /// fits: the buffer holds at least a maximal header plus 125 bytes).
    fn receive_control<'b, B>(
        &mut self,
        now: Instant,
        buf: &'b mut RecvBuf<B>,
        header: &FrameHeader,
        header_len: usize,
    ) -> Option<Event<'b>>
    where
        B: AsRef<[u8]> + AsMut<[u8]>,
    {
        // Control frames are at most 125 bytes: the cast cannot truncate.
        let len = header.payload_len as usize;
        if buf.len() < header_len + len {
            return None;
        }
        buf.consume(header_len);
        let payload = &mut buf.filled_mut()[..len];
        if let Some(key) = header.mask {
            apply_mask(payload, key, 0);
        }
        match header.opcode {
            OpCode::Ping => self.reply_pong(payload),
            OpCode::Close => match CloseFrame::parse(payload) {
                Ok(frame) => self.on_close_received(now, &frame),
                Err(err) => {
                    self.fail(now, err);
                    buf.consume_all();
                    return None;
                }
            },
            _ => {}
        }
        let payload = buf.consume(len);
        Some(match header.opcode {
            OpCode::Ping => Event::Ping(payload),
            OpCode::Pong => Event::Pong(payload),
            // Parsed successfully above; the bytes have not changed.
            _ => Event::CloseReceived(CloseFrame::parse(payload).unwrap_or(CloseFrame {
                code: crate::close::CloseCode::NO_STATUS_RCVD,
                reason: "",
            })),
        })
    }
}
