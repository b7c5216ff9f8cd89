//! Limits and timer settings for a [`Connection`](crate::Connection).

use core::time::Duration;

/// Connection limits and timers, set with `&mut self` setters
/// (httparse's `ParserConfig`, quinn's `TransportConfig`).
///
/// The defaults suit a public server: 16 MiB frames, 64 MiB messages,
/// 1 048 576 fragments per message, a 1 MiB send-buffer watermark, a 10 s
/// closing-handshake timeout, and no keepalive or idle timeout.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) max_frame_size: u64,
    pub(crate) max_message_size: u64,
    pub(crate) max_fragments: u32,
    pub(crate) send_buffer_watermark: usize,
    pub(crate) keepalive_interval: Option<Duration>,
    pub(crate) pong_timeout: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) accept_unmasked_frames: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            max_fragments: 1 << 20,
            send_buffer_watermark: 1 << 20,
            keepalive_interval: None,
            pong_timeout: Duration::from_secs(20),
            close_timeout: Duration::from_secs(10),
            idle_timeout: None,
            accept_unmasked_frames: false,
        }
    }
}

impl Config {
    /// The defaults (see the type's docs).
    pub fn new() -> Self {
        Self::default()
    }

    /// Largest payload of a single received frame. A bigger frame fails the
    /// connection with 1009 as soon as its header arrives, before any of its
    /// payload is read (RFC 6455 §10.4).
    pub fn max_frame_size(&mut self, bytes: u64) -> &mut Self {
        self.max_frame_size = bytes;
        self
    }

    /// Largest received message, summed over its fragments. The frame that
    /// would cross the limit fails the connection with 1009 from its header
    /// alone (RFC 6455 §10.4).
    pub fn max_message_size(&mut self, bytes: u64) -> &mut Self {
        self.max_message_size = bytes;
        self
    }

    /// Most frames one received message may be split into; more fail the
    /// connection with 1008 (a defence against floods of tiny or empty
    /// continuation frames, RFC 6455 §10.4).
    ///
    /// Default: 1 048 576. Each fragment costs O(1) work and no memory
    /// (fragments are streamed, never collected), so the cap only has to
    /// end a message that never ends; it stays well above the 65 536
    /// fragments of 64 bytes that Autobahn|Testsuite cases 9.3.1 and 9.4.1
    /// send. An application that knows its messages can lower it (`ws-app`
    /// uses 4096); `docs/security.md` lists every limit.
    pub fn max_fragments(&mut self, frames: u32) -> &mut Self {
        self.max_fragments = frames.max(1);
        self
    }

    /// Send-buffer watermark. A command is refused with
    /// [`SendError::BufferFull`](crate::SendError::BufferFull) while the
    /// unsent bytes plus the new frame would exceed it; a single frame larger
    /// than the watermark is accepted only into an empty buffer. Growable
    /// storage therefore never holds more than `max(watermark, one frame)`.
    pub fn send_buffer_watermark(&mut self, bytes: usize) -> &mut Self {
        self.send_buffer_watermark = bytes;
        self
    }

    /// Sends a Ping after this long without receiving anything, and expects
    /// a reply within [`pong_timeout`](Self::pong_timeout) (RFC 6455 §5.5.2).
    /// `None` (the default) disables keepalive.
    pub fn keepalive_interval(&mut self, interval: Option<Duration>) -> &mut Self {
        self.keepalive_interval = interval;
        self
    }

    /// How long to wait for any frame after a keepalive Ping before the peer
    /// is declared dead and the connection is dropped.
    pub fn pong_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.pong_timeout = timeout;
        self
    }

    /// How long the closing handshake (RFC 6455 §7.1.2–7.1.4) may take,
    /// from sending a Close frame until the TCP connection can be dropped.
    pub fn close_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.close_timeout = timeout;
        self
    }

    /// Closes the connection with 1001 after this long without receiving
    /// anything. `None` (the default) disables it.
    pub fn idle_timeout(&mut self, timeout: Option<Duration>) -> &mut Self {
        self.idle_timeout = timeout;
        self
    }

    /// Lets a server accept unmasked client frames. RFC 6455 §5.1 forbids
    /// them; this exists only for peers on a trusted link that skip masking
    /// for speed. Off by default.
    pub fn accept_unmasked_frames(&mut self, accept: bool) -> &mut Self {
        self.accept_unmasked_frames = accept;
        self
    }
}
