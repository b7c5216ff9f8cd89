//! Shared support for the workspace's integration tests.
//!
//! [`Pair`] is a two-party harness in the style of quinn's `Pair` and
//! str0m's `progress`: a client and a server `ws-proto` connection joined by
//! in-memory pipes, with a fake clock that jumps to the next deadline.
//! [`Pair::filter`] alters bytes in flight (rustls' `transfer_altered`), to
//! flip mask bits or truncate frames.
//! [`CountingAlloc`] is a global allocator that counts live heap bytes and
//! their peak, for tests that bound what an attack makes the code allocate.

mod alloc_counter;

pub use alloc_counter::CountingAlloc;

use ws_proto::{
    Config, Connection, Event, Instant, Lifecycle, Message, MessageAssembler, NoMaskKeys, RecvBuf,
    Role, Transmit,
};

/// A deterministic client mask key source for tests.
pub type TestKeys = Box<dyn FnMut() -> [u8; 4] + Send>;

/// A connection as the harness holds it.
pub type TestConnection = Connection<TestKeys, Vec<u8>>;

/// A counter-based key source: deterministic, different for every frame.
pub fn test_keys() -> TestKeys {
    let mut n: u32 = 0x1234_5678;
    Box::new(move || {
        n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        n.to_be_bytes()
    })
}

/// Builds a connection for `role` with deterministic mask keys.
pub fn connection(role: Role, config: Config, now: Instant) -> TestConnection {
    let keys: TestKeys = match role {
        Role::Client => test_keys(),
        Role::Server => Box::new(|| {
            use ws_proto::MaskKeySource;
            NoMaskKeys.next_mask_key().bytes()
        }),
    };
    Connection::with_parts(role, config, now, keys, Vec::new())
}

/// What one side observed, in owned form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// A whole message, reassembled.
    Message(Message),
    /// A Ping payload.
    Ping(Vec<u8>),
    /// A Pong payload.
    Pong(Vec<u8>),
    /// A Close frame: code and reason.
    Close(u16, String),
    /// A lifecycle change.
    Life(Lifecycle),
    /// The peer shut down its write half, and the EOF reached this side.
    Eof,
}

/// One side of the pair.
pub struct Side {
    /// The connection.
    pub conn: TestConnection,
    /// Its receive buffer.
    pub buf: RecvBuf<Box<[u8]>>,
    assembler: MessageAssembler,
    /// Everything observed so far.
    pub observed: Vec<Observed>,
    /// Bytes in flight towards this side.
    inbound: Vec<u8>,
    /// Set once the peer's shutdown has reached this side.
    eof_pending: bool,
    /// Whether this side has shut down its write half.
    pub shut_down: bool,
}

impl Side {
    fn new(conn: TestConnection) -> Self {
        Self {
            conn,
            buf: RecvBuf::with_capacity(4096),
            assembler: MessageAssembler::new(),
            observed: Vec::new(),
            inbound: Vec::new(),
            eof_pending: false,
            shut_down: false,
        }
    }

    /// Feeds the inbound bytes (and EOF) into the connection.
    fn deliver(&mut self, now: Instant) -> bool {
        let mut progressed = false;
        while !self.inbound.is_empty() {
            let n = self.buf.extend_from_slice(&self.inbound);
            self.inbound.drain(..n);
            progressed |= n > 0;
            while let Some(event) = self.conn.receive(now, &mut self.buf) {
                if let Some(message) = self.assembler.push_event(&event) {
                    self.observed.push(Observed::Message(message));
                }
                match event {
                    Event::Ping(p) => self.observed.push(Observed::Ping(p.to_vec())),
                    Event::Pong(p) => self.observed.push(Observed::Pong(p.to_vec())),
                    Event::CloseReceived(f) => self
                        .observed
                        .push(Observed::Close(f.code.as_u16(), f.reason.to_owned())),
                    Event::Data { .. } => {}
                }
            }
            if n == 0 {
                break;
            }
        }
        if self.eof_pending && self.inbound.is_empty() {
            self.eof_pending = false;
            self.observed.push(Observed::Eof);
            self.conn.receive_eof(now);
            progressed = true;
        }
        while let Some(life) = self.conn.poll_event() {
            self.observed.push(Observed::Life(life));
            progressed = true;
        }
        progressed
    }

    /// Takes the bytes this side transmits; returns them and whether it shut
    /// down.
    fn transmit(&mut self) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let mut shutdown = false;
        while let Some(t) = self.conn.poll_transmit() {
            match t {
                Transmit::Bytes(bytes) => {
                    out.extend_from_slice(bytes);
                    let n = bytes.len();
                    self.conn.consume_transmit(n);
                }
                Transmit::Shutdown => {
                    shutdown = true;
                    self.shut_down = true;
                }
            }
        }
        (out, shutdown)
    }

    /// Messages received so far.
    pub fn messages(&self) -> Vec<Message> {
        self.observed
            .iter()
            .filter_map(|o| match o {
                Observed::Message(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    /// The final outcome, if the connection reported one.
    pub fn outcome(&self) -> Option<ws_proto::CloseOutcome> {
        self.observed.iter().find_map(|o| match o {
            Observed::Life(Lifecycle::Closed(outcome)) => Some(*outcome),
            _ => None,
        })
    }
}

/// Which way bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the client to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

/// A filter applied to bytes in flight.
pub type Filter = Box<dyn FnMut(Direction, &mut Vec<u8>)>;

/// A client and a server connection joined in memory, with a fake clock.
pub struct Pair {
    /// The client side.
    pub client: Side,
    /// The server side.
    pub server: Side,
    /// The fake clock.
    pub now: Instant,
    filter: Option<Filter>,
    cut: [bool; 2],
}

impl Pair {
    /// A pair with the same configuration on both sides.
    pub fn new(config: Config) -> Self {
        Self::with_configs(config.clone(), config)
    }

    /// A pair with a configuration per side.
    pub fn with_configs(client: Config, server: Config) -> Self {
        let now = Instant::ZERO;
        Self {
            client: Side::new(connection(Role::Client, client, now)),
            server: Side::new(connection(Role::Server, server, now)),
            now,
            filter: None,
            cut: [false; 2],
        }
    }

    /// Alters every transfer with `filter` from now on.
    pub fn filter(&mut self, filter: impl FnMut(Direction, &mut Vec<u8>) + 'static) {
        self.filter = Some(Box::new(filter));
    }

    /// Cuts the link in one direction: bytes and EOF are lost from now on,
    /// as with a peer that went silent.
    pub fn cut(&mut self, direction: Direction) {
        self.cut[direction as usize] = true;
    }

    /// Moves bytes both ways once and feeds them in. Returns whether
    /// anything happened.
    pub fn step(&mut self) -> bool {
        let (mut to_server, mut client_shut) = self.client.transmit();
        let (mut to_client, mut server_shut) = self.server.transmit();
        if self.cut[Direction::ToServer as usize] {
            to_server.clear();
            client_shut = false;
        }
        if self.cut[Direction::ToClient as usize] {
            to_client.clear();
            server_shut = false;
        }
        if let Some(filter) = self.filter.as_mut() {
            if !to_server.is_empty() {
                filter(Direction::ToServer, &mut to_server);
            }
            if !to_client.is_empty() {
                filter(Direction::ToClient, &mut to_client);
            }
        }
        let moved = !to_server.is_empty() || !to_client.is_empty() || client_shut || server_shut;
        self.server.inbound.extend(to_server);
        self.client.inbound.extend(to_client);
        self.server.eof_pending |= client_shut;
        self.client.eof_pending |= server_shut;
        let a = self.server.deliver(self.now);
        let b = self.client.deliver(self.now);
        moved || a || b
    }

    /// Steps until nothing moves; then, if a timer is pending, jumps the
    /// clock to it and continues. Stops after `max_steps` steps.
    pub fn drive(&mut self, max_steps: usize) {
        for _ in 0..max_steps {
            if self.step() {
                continue;
            }
            let next = [
                self.client.conn.poll_timeout(),
                self.server.conn.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(at) = next else { return };
            self.now = self.now.max(at);
            self.client.conn.handle_timeout(self.now);
            self.server.conn.handle_timeout(self.now);
        }
    }

    /// Steps until nothing moves, without touching the clock.
    pub fn settle(&mut self, max_steps: usize) {
        for _ in 0..max_steps {
            if !self.step() {
                return;
            }
        }
    }
}

/// Encodes a masked client frame by hand (for tests that send what a
/// conforming `Connection` never would).
pub fn raw_client_frame(first_byte: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = vec![first_byte];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend((n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend((n as u64).to_be_bytes());
        }
    }
    out.extend(key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// The README's Rust examples, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
