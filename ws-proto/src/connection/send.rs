//! Commands: encoding frames into the send buffer.

use super::{Connection, ControlPayload, Shutdown, State};
use crate::close::{CloseCode, CloseFrame, MAX_REASON_LEN, StoredClose};
use crate::error::SendError;
use crate::frame::{DataKind, FrameHeader, MAX_HEADER_LEN, OpCode, field, first_byte};
use crate::keys::MaskKeySource;
use crate::mask::apply_mask;
use crate::send_buf::SendStorage;
use crate::time::Instant;

impl<K: MaskKeySource, S: SendStorage> Connection<K, S> {
    /// Sends a whole text message (one frame).
    ///
    /// Fails with [`SendError::InvalidState`] once closing has begun,
    /// [`SendError::FragmentInProgress`] inside a fragmented message, and
    /// [`SendError::BufferFull`] when the send buffer is at its watermark
    /// (nothing is queued then; drain [`poll_transmit`](Self::poll_transmit)
    /// and retry). Afterwards drain `poll_transmit`.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_message(DataKind::Text, text.as_bytes())
    }

    /// Sends a whole binary message (one frame). Errors as for
    /// [`send_text`](Self::send_text).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_message(DataKind::Binary, data)
    }

    fn send_message(&mut self, kind: DataKind, data: &[u8]) -> Result<(), SendError> {
        self.check_open()?;
        if self.sending.is_some() {
            return Err(SendError::FragmentInProgress);
        }
        #[cfg(feature = "deflate")]
        if self.should_compress(data.len()) {
            return self.encode_compressed(kind.opcode(), true, true, data);
        }
        self.encode_frame(kind.opcode(), true, 0, data, false)
    }

    /// Sends a whole message whose payload the caller writes itself, from
    /// its own buffer, with a vectored write: only the frame header goes
    /// into the send buffer, so a large payload is never copied.
    ///
    /// Returns `Ok(true)` once the header is queued. The caller then drains
    /// [`poll_transmit`](Self::poll_transmit) as usual and writes the `len`
    /// payload bytes right after those bytes, reporting them with
    /// [`consume_payload`](Self::consume_payload);
    /// [`payload_owed`](Self::payload_owed) says how many are left. Anything
    /// queued meanwhile (an automatic Pong, a Close, later messages) waits
    /// behind the payload. For [`DataKind::Text`] the caller guarantees
    /// that the payload is UTF-8.
    ///
    /// Returns `Ok(false)`, queuing nothing, when the payload cannot go out
    /// as it is: on a client, which must mask every payload (RFC 6455
    /// §5.3), and when permessage-deflate would compress a message of this
    /// size. Send it with [`send_text`](Self::send_text) or
    /// [`send_binary`](Self::send_binary) then.
    ///
    /// Errors as for `send_text`; also [`SendError::BufferFull`] while an
    /// earlier external payload is still owed (drain and retry). The
    /// payload counts against the send-buffer watermark.
    pub fn send_external(&mut self, kind: DataKind, len: usize) -> Result<bool, SendError> {
        self.check_open()?;
        if self.sending.is_some() {
            return Err(SendError::FragmentInProgress);
        }
        if self.role != super::Role::Server {
            return Ok(false);
        }
        #[cfg(feature = "deflate")]
        if self.should_compress(len) {
            return Ok(false);
        }
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: kind.opcode(),
            mask: None,
            payload_len: len as u64,
        };
        let head_len = header.encoded_len();
        let pending = self.send.pending_len();
        let over = pending > 0 && pending + head_len + len > self.config.send_buffer_watermark;
        if over || self.send.payload_owed() > 0 || !self.send.make_room(head_len) {
            return Err(SendError::BufferFull {
                needed: head_len + len,
            });
        }
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head).unwrap_or(0);
        self.send.push(&head[..head_len]);
        self.send.start_external(len);
        Ok(true)
    }

    /// Sends a message encoded once for many recipients (broadcast).
    ///
    /// Only servers send unmasked frames, so a client gets
    /// [`SendError::InvalidState`]. The frame goes out uncompressed even
    /// when permessage-deflate is on (RSV1 clear is always allowed,
    /// RFC 7692 §6). State rules and the watermark apply as for
    /// [`send_text`](Self::send_text).
    #[cfg(feature = "alloc")]
    pub fn send_prepared(&mut self, frame: &crate::frame::PreparedFrame) -> Result<(), SendError> {
        self.check_open()?;
        if self.role != super::Role::Server {
            return Err(SendError::InvalidState);
        }
        if self.sending.is_some() {
            return Err(SendError::FragmentInProgress);
        }
        let bytes = frame.as_bytes();
        let pending = self.send.pending_len();
        if pending > 0 && pending + bytes.len() > self.config.send_buffer_watermark {
            return Err(SendError::BufferFull {
                needed: bytes.len(),
            });
        }
        if !self.send.make_room(bytes.len()) {
            return Err(SendError::BufferFull {
                needed: bytes.len(),
            });
        }
        self.send.push(bytes);
        Ok(())
    }

    /// Sends one fragment of a message (RFC 6455 §5.4): the first call starts
    /// a `kind` message, later calls continue it, and `fin` ends it.
    ///
    /// Control frames may be sent between fragments; whole messages may not
    /// ([`SendError::FragmentInProgress`], also returned when `kind` differs
    /// from the message's kind). The caller is responsible for text
    /// fragments forming valid UTF-8 once joined.
    pub fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), SendError> {
        self.check_open()?;
        let opcode = match self.sending {
            Some(current) if current != kind => return Err(SendError::FragmentInProgress),
            Some(_) => OpCode::Continuation,
            None => kind.opcode(),
        };
        #[cfg(feature = "deflate")]
        {
            // The first fragment decides whether the message is compressed.
            let first = self.sending.is_none();
            let compress = if first {
                self.should_compress(data.len())
            } else {
                self.sending_compressed
            };
            if compress {
                self.encode_compressed(opcode, fin, first, data)?;
            } else {
                self.encode_frame(opcode, fin, 0, data, false)?;
            }
            self.sending_compressed = compress && !fin;
        }
        #[cfg(not(feature = "deflate"))]
        self.encode_frame(opcode, fin, 0, data, false)?;
        self.sending = if fin { None } else { Some(kind) };
        Ok(())
    }

    /// Sends a Ping (RFC 6455 §5.5.2) with at most 125 bytes of payload.
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.check_open()?;
        self.send_control(OpCode::Ping, payload, false)
    }

    /// Sends an unsolicited Pong (RFC 6455 §5.5.3), a one-way heartbeat.
    /// Pings are answered automatically; this is not needed for that.
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.check_open()?;
        self.send_control(OpCode::Pong, payload, false)
    }

    /// Starts the closing handshake (RFC 6455 §7.1.2) with `code` and a
    /// reason of at most 123 bytes.
    ///
    /// Afterwards no data can be sent; keep feeding input until the peer's
    /// Close arrives and the connection reports [`Lifecycle::Closed`], or
    /// the close timeout (armed from `now`) expires. Fails with
    /// [`SendError::InvalidState`] if a Close was already sent or received.
    ///
    /// [`Lifecycle::Closed`]: crate::Lifecycle::Closed
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), SendError> {
        if self.state != State::Open || self.close_sent.is_some() || self.pending_close.is_some() {
            return Err(SendError::InvalidState);
        }
        if !code.is_sendable() {
            return Err(SendError::InvalidCloseCode);
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(SendError::CloseReasonTooLong);
        }
        let frame = StoredClose::new(&CloseFrame { code, reason });
        self.write_close(&frame)?;
        self.start_close(now, frame);
        Ok(())
    }

    fn check_open(&self) -> Result<(), SendError> {
        if self.state == State::Open && self.close_sent.is_none() && self.pending_close.is_none() {
            Ok(())
        } else {
            Err(SendError::InvalidState)
        }
    }

    /// Encodes a control frame. `automatic` frames (pongs, keepalive pings)
    /// ignore the watermark, which only pushes back on the application.
    pub(crate) fn send_control(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        automatic: bool,
    ) -> Result<(), SendError> {
        if payload.len() > field::MAX_CONTROL_PAYLOAD {
            return Err(SendError::FrameTooLarge);
        }
        self.encode_frame(opcode, true, 0, payload, automatic)
    }

    /// Answers a Ping: at once if there is room, otherwise by keeping only
    /// the latest unanswered Ping (RFC 6455 §5.5.3 allows answering only the
    /// most recent one), so a ping flood from a peer that does not read
    /// cannot grow the buffer.
    pub(crate) fn reply_pong(&mut self, payload: &[u8]) {
        if self.close_sent.is_some()
            || self.pending_close.is_some()
            || self.shutdown != Shutdown::No
        {
            return;
        }
        let over = self.send.pending_len() >= self.config.send_buffer_watermark;
        if over || self.send_control(OpCode::Pong, payload, true).is_err() {
            self.pending_pong = Some(ControlPayload::new(payload));
        }
    }

    /// Queues a Close frame this end must send (an echo, a failure, a
    /// timeout): written now if it fits, else on the next `poll_transmit`.
    pub(crate) fn queue_close_frame(&mut self, frame: StoredClose) {
        if self.close_sent.is_some() || self.pending_close.is_some() {
            return;
        }
        if self.write_close(&frame).is_err() {
            self.pending_close = Some(frame);
        }
    }

    fn write_close(&mut self, frame: &StoredClose) -> Result<(), SendError> {
        let close = frame.get();
        let mut payload = [0u8; field::MAX_CONTROL_PAYLOAD];
        let len = close.encoded_len();
        if len > 0 {
            payload[..2].copy_from_slice(&close.code.as_u16().to_be_bytes());
            payload[2..len].copy_from_slice(close.reason.as_bytes());
        }
        self.encode_frame(OpCode::Close, true, 0, &payload[..len], true)?;
        self.close_sent = Some(close.code);
        self.sending = None;
        #[cfg(feature = "deflate")]
        {
            self.sending_compressed = false;
        }
        Ok(())
    }

    /// Writes automatic control frames that did not fit earlier.
    pub(crate) fn flush_pending_control(&mut self) {
        if let Some(pong) = self.pending_pong {
            // No Pong after a Close; otherwise write it if it fits now.
            let closing = self.pending_close.is_some() || self.close_sent.is_some();
            if closing
                || self
                    .send_control(OpCode::Pong, pong.as_slice(), true)
                    .is_ok()
            {
                self.pending_pong = None;
            }
        }
        if let Some(close) = self.pending_close
            && self.write_close(&close).is_ok()
        {
            self.pending_close = None;
        }
    }

    /// Checks that a frame of `payload_len` bytes may be queued now: the
    /// watermark (for application frames) and the storage's room.
    pub(crate) fn check_room(
        &mut self,
        payload_len: usize,
        automatic: bool,
    ) -> Result<(), SendError> {
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            mask: None,
            payload_len: payload_len as u64,
        };
        let mask_len = if self.role == super::Role::Client {
            4
        } else {
            0
        };
        let needed = header.encoded_len() + mask_len + payload_len;
        let pending = self.send.pending_len();
        if !automatic && pending > 0 && pending + needed > self.config.send_buffer_watermark {
            return Err(SendError::BufferFull { needed });
        }
        if !self.send.make_room(needed) {
            return Err(SendError::BufferFull { needed });
        }
        Ok(())
    }

    /// Encodes one frame into the send buffer, masking it for a client.
    pub(crate) fn encode_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv: u8,
        payload: &[u8],
        automatic: bool,
    ) -> Result<(), SendError> {
        self.check_room(payload.len(), automatic)?;
        if self.role == super::Role::Server && payload.len() < usize::from(field::LEN_16) {
            // The common small server frame: a two-byte header, no mask.
            let first = first_byte(fin, rsv, opcode);
            self.send
                .push_short_frame([first, payload.len() as u8], payload);
            return Ok(());
        }
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask: (self.role == super::Role::Client).then(|| self.keys.next_mask_key()),
            payload_len: payload.len() as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head).unwrap_or(0);
        self.send.push(&head[..head_len]);
        self.send.push(payload);
        if let Some(key) = header.mask {
            apply_mask(self.send.tail_mut(payload.len()), key, 0);
        }
        Ok(())
    }
}
