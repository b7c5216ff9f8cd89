//! Settings for a WebSocket beyond the protocol core's.

use std::time::Duration;

use ws_proto::deflate::DeflateConfig;
use ws_proto::handshake::RequestLimits;

/// Everything a WebSocket can be configured with: the protocol core's
/// [`ws_proto::Config`] (limits, timers, the send-buffer watermark) plus the
/// driver's own buffers and the handshake's limits.
///
/// `&mut self` setters, as in [`ws_proto::Config`]:
///
/// ```
/// use std::time::Duration;
/// let mut config = ws_runtime::WebSocketConfig::default();
/// config.read_buffer_size(16 * 1024).handshake_timeout(Duration::from_secs(5));
/// config.protocol_mut().send_buffer_watermark(256 * 1024);
/// ```
#[derive(Debug, Clone)]
pub struct WebSocketConfig {
    pub(crate) protocol: ws_proto::Config,
    pub(crate) read_buffer_size: usize,
    pub(crate) channel_capacity: usize,
    pub(crate) handshake_timeout: Duration,
    pub(crate) request_limits: RequestLimits,
    pub(crate) deflate: Option<DeflateConfig>,
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        Self {
            protocol: ws_proto::Config::default(),
            read_buffer_size: 32 * 1024,
            channel_capacity: 16,
            handshake_timeout: Duration::from_secs(10),
            request_limits: RequestLimits::DEFAULT,
            deflate: None,
        }
    }
}

impl WebSocketConfig {
    /// The defaults: ws-proto's defaults (16 MiB frames, 64 MiB messages, a
    /// 1 MiB send-buffer watermark, 10 s close timeout, no keepalive), a
    /// 32 KiB read buffer, 16-message split channels, a 10 s handshake
    /// timeout, an 8 KiB / 64-header limit on HTTP heads, and no
    /// permessage-deflate.
    pub fn new() -> Self {
        Self::default()
    }

    /// A configuration around the given protocol settings.
    pub fn with_protocol(protocol: ws_proto::Config) -> Self {
        Self {
            protocol,
            ..Self::default()
        }
    }

    /// The protocol core's settings.
    pub fn protocol(&self) -> &ws_proto::Config {
        &self.protocol
    }

    /// The protocol core's settings, to change limits, timers and the
    /// send-buffer watermark (the bound on buffered outgoing bytes: sending
    /// waits while it is reached).
    pub fn protocol_mut(&mut self) -> &mut ws_proto::Config {
        &mut self.protocol
    }

    /// The size of the reused receive buffer (at least 256 bytes). Data
    /// frames of any size stream through it. A connection starts with 2 KiB
    /// (less if this is smaller) and moves to this size on the first read
    /// that fills the small buffer, so idle connections stay cheap.
    /// Default: 32 KiB.
    pub fn read_buffer_size(&mut self, bytes: usize) -> &mut Self {
        self.read_buffer_size = bytes.max(ws_proto::recv_buf::MIN_RECV_BUFFER);
        self
    }

    /// After [`split`](crate::WebSocket::split): how many received messages
    /// may wait for the reader, and how many outgoing ones for the driver
    /// (at least 1). When the reader lags, the driver stops reading the
    /// socket, so TCP pushes back on the peer. The bound is in messages:
    /// queued memory is at most this many times `max_message_size`.
    /// Default: 16.
    pub fn channel_capacity(&mut self, messages: usize) -> &mut Self {
        self.channel_capacity = messages.max(1);
        self
    }

    /// How long a server waits for the whole upgrade request, and a client
    /// for the whole response (a defence against slowloris). Default: 10 s.
    pub fn handshake_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Limits on the HTTP head of the upgrade request (server) or response
    /// (client). Default: [`RequestLimits::DEFAULT`].
    pub fn request_limits(&mut self, limits: RequestLimits) -> &mut Self {
        self.request_limits = limits;
        self
    }

    /// permessage-deflate (RFC 7692): `Some` makes a client offer it and a
    /// server accept the first acceptable offer, with these settings;
    /// `None` (the default) never compresses.
    ///
    /// Off by default because compression trades CPU and memory for
    /// bandwidth: a connection that compresses holds about 300 KiB of
    /// compressor state once it sends its first compressed message (and
    /// about 43 KiB to inflate), which matters for servers with many
    /// connections. Browsers always offer it; small messages (below
    /// [`DeflateConfig::min_size`]) are never compressed.
    pub fn permessage_deflate(&mut self, deflate: Option<DeflateConfig>) -> &mut Self {
        self.deflate = deflate;
        self
    }

    /// The permessage-deflate settings, if enabled.
    pub fn deflate(&self) -> Option<&DeflateConfig> {
        self.deflate.as_ref()
    }
}
