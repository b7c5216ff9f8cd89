//! The opening handshake over a [`Transport`]: [`accept`] / [`accept_with`]
//! for servers, [`connect_with`] for clients. The HTTP parsing and the
//! RFC 6455 checks are `ws_proto::handshake`'s; this module only moves the
//! bytes, bounds the time and hands the leftovers to the connection.

use std::future::poll_fn;
use std::io;
use std::task::Poll;

use ws_proto::Role;
use ws_proto::deflate::DeflateConfig;
use ws_proto::handshake::client::{ClientHandshake, random_nonce};
use ws_proto::handshake::server::{self, AcceptOptions, Request};
use ws_proto::handshake::{EMPTY_HEADER, HandshakeError, Status};

use crate::config::WebSocketConfig;
use crate::error::Error;
use crate::runtime::{Runtime, Timer};
use crate::transport::Transport;
use crate::url::WsUrl;
use crate::websocket::WebSocket;

/// Header slots offered to the HTTP parser (the configured limit applies
/// when it is smaller).
const MAX_HEADER_SLOTS: usize = 128;

/// Bytes asked for per read of an HTTP head (a browser's request is about
/// 500 bytes; a longer head takes several reads).
const HEAD_READ: usize = 1024;

/// A server's decision to accept an upgrade: the subprotocol to speak and
/// extra response headers.
#[derive(Debug, Clone, Default)]
pub struct Accept {
    subprotocol: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
}

impl Accept {
    /// Accept with no subprotocol and no extra headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Selects `subprotocol`, which the client must have offered
    /// (RFC 6455 §4.2.2 item 5.4; see [`Request::subprotocols`]).
    #[must_use]
    pub fn subprotocol(mut self, subprotocol: impl Into<String>) -> Self {
        self.subprotocol = Some(subprotocol.into());
        self
    }

    /// Adds a response header (a cookie, for instance).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The subprotocol selected with [`subprotocol`](Self::subprotocol):
    /// the one the connection speaks if the handshake succeeds.
    pub fn selected_subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }
}

/// A server's decision to refuse an upgrade with an HTTP response; no 101
/// is sent.
#[derive(Debug, Clone)]
pub struct Reject {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Reject {
    /// Refuse with `status` (200..=599), no headers and an empty body.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a response header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the response body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }
}

fn header_refs(headers: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_slice()))
        .collect()
}

/// The handshake deadline. The runtime's timer is created the first time
/// the handshake has to wait: a request (or response) that is in the socket
/// already, the common case, costs no timer (a boxed `Sleep` and a trip
/// through the timer wheel on tokio).
struct LazyTimer<R: Runtime> {
    runtime: R,
    deadline: std::time::Instant,
    timer: Option<R::Timer>,
}

impl<R: Runtime> LazyTimer<R> {
    fn new(runtime: R, deadline: std::time::Instant) -> Self {
        Self {
            runtime,
            deadline,
            timer: None,
        }
    }
}

impl<R: Runtime> Timer for LazyTimer<R> {
    fn reset(&mut self, deadline: std::time::Instant) {
        self.deadline = deadline;
        if let Some(timer) = &mut self.timer {
            timer.reset(deadline);
        }
    }

    fn poll_elapsed(&mut self, cx: &mut std::task::Context<'_>) -> Poll<()> {
        let Self {
            runtime,
            deadline,
            timer,
        } = self;
        timer
            .get_or_insert_with(|| runtime.timer(*deadline))
            .poll_elapsed(cx)
    }
}

/// Reads once, failing with [`Error::HandshakeTimeout`] when `timer` fires
/// first.
async fn read_some<T: Transport, Tm: Timer>(
    io: &mut T,
    timer: &mut Tm,
    buf: &mut [u8],
) -> Result<usize, Error> {
    poll_fn(|cx| {
        if let Poll::Ready(result) = io.poll_read(cx, buf) {
            return Poll::Ready(result.map_err(Error::Io));
        }
        if timer.poll_elapsed(cx).is_ready() {
            return Poll::Ready(Err(Error::HandshakeTimeout));
        }
        Poll::Pending
    })
    .await
}

/// Writes all of `data` and flushes, failing with
/// [`Error::HandshakeTimeout`] when `timer` fires first.
async fn write_all<T: Transport, Tm: Timer>(
    io: &mut T,
    timer: &mut Tm,
    mut data: &[u8],
) -> Result<(), Error> {
    poll_fn(|cx| {
        while !data.is_empty() {
            match io.poll_write(cx, data) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into()));
                }
                Poll::Ready(Ok(n)) => data = &data[n..],
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err.into())),
                Poll::Pending => {
                    if timer.poll_elapsed(cx).is_ready() {
                        return Poll::Ready(Err(Error::HandshakeTimeout));
                    }
                    return Poll::Pending;
                }
            }
        }
        match io.poll_flush(cx) {
            Poll::Ready(result) => Poll::Ready(result.map_err(Error::Io)),
            Poll::Pending if timer.poll_elapsed(cx).is_ready() => {
                Poll::Ready(Err(Error::HandshakeTimeout))
            }
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Reads an HTTP head: returns all bytes read and the head's length (bytes
/// after it are frame data).
async fn read_head<T: Transport, Tm: Timer>(
    io: &mut T,
    timer: &mut Tm,
    config: &WebSocketConfig,
) -> Result<Result<(Vec<u8>, usize), HandshakeError>, Error> {
    let mut reader = config.request_limits.head_reader();
    // Read straight into the heap: a read buffer in this future would stay
    // in the connection task's allocation for the connection's whole life.
    let mut input = Vec::new();
    loop {
        let filled = input.len();
        input.resize(filled + HEAD_READ, 0);
        let n = read_some(io, timer, &mut input[filled..]).await?;
        input.truncate(filled + n);
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed during the opening handshake",
            )
            .into());
        }
        match reader.feed(&input) {
            Ok(Status::Complete(len)) => return Ok(Ok((input, len))),
            Ok(Status::Partial) => {}
            Err(err) => return Ok(Err(err)),
        }
    }
}

/// Accepts a WebSocket on `io` (server side): reads the upgrade request,
/// validates it (RFC 6455 §4.2.1) and answers `101 Switching Protocols`.
///
/// An invalid request is answered with the matching HTTP error (400, 405,
/// 426, 431) and fails with [`Error::Handshake`]. The whole request must
/// arrive within [`WebSocketConfig::handshake_timeout`].
///
/// Cancel safety: dropping the future drops `io` mid-handshake.
pub async fn accept<T: Transport, R: Runtime>(
    io: T,
    runtime: R,
    config: &WebSocketConfig,
) -> Result<WebSocket<T, R>, Error> {
    accept_with(io, runtime, config, |_| Ok(Accept::new())).await
}

/// Like [`accept`], but `callback` sees the parsed [`Request`] (path,
/// query, headers, origin, offered subprotocols) before anything is sent
/// and decides: [`Accept`] (choosing a subprotocol, adding headers) or
/// [`Reject`] (an HTTP status, headers and body; the result is then
/// [`Error::Rejected`]).
///
/// ```no_run
/// # async fn demo<T: ws_runtime::Transport, R: ws_runtime::Runtime>(io: T, rt: R) -> Result<(), ws_runtime::Error> {
/// use ws_runtime::{Accept, Reject, WebSocketConfig};
///
/// let ws = ws_runtime::accept_with(io, rt, &WebSocketConfig::default(), |request| {
///     if request.path() != "/chat" {
///         return Err(Reject::new(404).body("no such room"));
///     }
///     match request.subprotocols().find(|p| *p == "chat.v1") {
///         Some(p) => Ok(Accept::new().subprotocol(p)),
///         None => Ok(Accept::new()),
///     }
/// })
/// .await?;
/// # drop(ws); Ok(()) }
/// ```
pub async fn accept_with<T, R, F>(
    mut io: T,
    runtime: R,
    config: &WebSocketConfig,
    callback: F,
) -> Result<WebSocket<T, R>, Error>
where
    T: Transport,
    R: Runtime,
    F: FnOnce(&Request<'_, '_>) -> Result<Accept, Reject>,
{
    let mut timer = LazyTimer::new(runtime.clone(), runtime.now() + config.handshake_timeout);
    let (input, head_len) = match read_head(&mut io, &mut timer, config).await? {
        Ok(head) => head,
        Err(err) => {
            write_all(&mut io, &mut timer, &server::reject_error_vec(&err)).await?;
            return Err(err.into());
        }
    };
    let decision = decide(config, &input[..head_len], callback);
    match decision {
        Ok((response, Ok((subprotocol, deflate)))) => {
            write_all(&mut io, &mut timer, &response).await?;
            let mut ws =
                WebSocket::from_parts(io, Role::Server, config, runtime, &input[head_len..]);
            ws.set_subprotocol(subprotocol);
            if let (Some(params), Some(deflate)) = (deflate, config.deflate.as_ref()) {
                ws.enable_deflate(params, deflate);
            }
            Ok(ws)
        }
        Ok((response, Err(status))) => {
            write_all(&mut io, &mut timer, &response).await?;
            let _ = poll_fn(|cx| io.poll_shutdown(cx)).await;
            Err(Error::Rejected { status })
        }
        Err(err) => {
            write_all(&mut io, &mut timer, &server::reject_error_vec(&err)).await?;
            Err(err.into())
        }
    }
}

/// What the server answers to the request head `head`: the response
/// bytes, and the subprotocol and permessage-deflate parameters when it
/// accepts (the status when `callback` rejects). Not async, so the header
/// slots live on this call's stack, not in the handshake future, and cost
/// no allocation.
#[allow(clippy::type_complexity)]
fn decide<F>(
    config: &WebSocketConfig,
    head: &[u8],
    callback: F,
) -> Result<
    (
        Vec<u8>,
        Result<(Option<String>, Option<ws_proto::deflate::DeflateParams>), u16>,
    ),
    HandshakeError,
>
where
    F: FnOnce(&Request<'_, '_>) -> Result<Accept, Reject>,
{
    let mut headers = [EMPTY_HEADER; MAX_HEADER_SLOTS];
    match server::parse_request_with(&config.request_limits, head, &mut headers) {
        Ok(Status::Complete((request, _))) => match callback(&request) {
            Ok(accept) => {
                let extra = header_refs(&accept.headers);
                // permessage-deflate: the core picks the first acceptable
                // offer (RFC 7692 §5.1) when the configuration enables it.
                let negotiated = config
                    .deflate
                    .as_ref()
                    .and_then(|deflate| deflate.accept_offers(request.extensions()));
                let options = AcceptOptions {
                    subprotocol: accept.subprotocol.as_deref(),
                    extensions: negotiated.as_ref().map(|(_, header)| header.as_str()),
                    extra_headers: &extra,
                };
                server::accept_vec(&request, &options).map(|bytes| {
                    let params = negotiated.map(|(params, _)| params);
                    (bytes, Ok((accept.subprotocol, params)))
                })
            }
            Err(reject) => {
                server::reject_vec(reject.status, &header_refs(&reject.headers), &reject.body)
                    .map(|bytes| (bytes, Err(reject.status)))
            }
        },
        // The head reader found the end of the head; the parser agrees.
        Ok(Status::Partial) => Err(HandshakeError::MalformedHttp),
        Err(err) => Err(err),
    }
}

/// How a client opens a WebSocket: subprotocols to offer, extra request
/// headers, and the connection's configuration.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    subprotocols: Vec<String>,
    headers: Vec<(String, Vec<u8>)>,
    config: WebSocketConfig,
}

impl ClientOptions {
    /// No subprotocols, no extra headers, the default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Offers `subprotocol` (in order of preference; RFC 6455 §4.1 item 10).
    #[must_use]
    pub fn subprotocol(mut self, subprotocol: impl Into<String>) -> Self {
        self.subprotocols.push(subprotocol.into());
        self
    }

    /// Adds a request header, such as `Origin` or `Authorization`.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The connection's configuration.
    #[must_use]
    pub fn config(mut self, config: WebSocketConfig) -> Self {
        self.config = config;
        self
    }

    /// The connection's configuration, to change in place.
    pub fn config_mut(&mut self) -> &mut WebSocketConfig {
        &mut self.config
    }
}

/// Opens a WebSocket over `io`, a stream already connected (and, for
/// `wss`, already encrypted) to the server of `url` (client side,
/// RFC 6455 §4.1).
///
/// The nonce and the mask keys come from the operating system's entropy.
/// The server's response must arrive within the handshake timeout.
///
/// # Errors
///
/// [`Error::InvalidUrl`], [`Error::Handshake`] (with
/// [`HandshakeError::BadStatus`] for a refusal), [`Error::HandshakeTimeout`],
/// [`Error::Io`].
pub async fn connect_with<T: Transport, R: Runtime>(
    mut io: T,
    runtime: R,
    url: &str,
    options: &ClientOptions,
) -> Result<WebSocket<T, R>, Error> {
    let url = WsUrl::parse(url)?;
    let config = &options.config;
    let nonce = random_nonce()
        .map_err(|err| Error::Io(io::Error::other(format!("OS entropy unavailable: {err}"))))?;
    let subprotocols: Vec<&str> = options.subprotocols.iter().map(String::as_str).collect();
    let extra = header_refs(&options.headers);
    let offer = config.deflate.as_ref().map(DeflateConfig::offer);
    let handshake = ClientHandshake::new(url.host_header(), url.resource(), nonce)
        .subprotocols(&subprotocols)
        .extensions(offer.as_ref().map(|offer| offer.as_str()))
        .extra_headers(&extra)
        .limits(config.request_limits);
    let request = handshake.encode_vec()?;
    let mut timer = LazyTimer::new(runtime.clone(), runtime.now() + config.handshake_timeout);
    write_all(&mut io, &mut timer, &request).await?;
    let (input, head_len) = read_head(&mut io, &mut timer, config).await??;
    let mut headers = vec![EMPTY_HEADER; MAX_HEADER_SLOTS];
    let (subprotocol, deflate) =
        match handshake.receive_response(&input[..head_len], &mut headers)? {
            Status::Complete((response, _)) => {
                // The core already checked that only offered extensions came
                // back; the answer's parameters must be valid too (RFC 7692 §5.1:
                // otherwise the client fails the connection).
                let deflate = match (config.deflate.as_ref(), response.extensions().next()) {
                    (Some(deflate), Some(answer)) => Some(
                        deflate
                            .accept_response(answer)
                            .map_err(|_| HandshakeError::UnexpectedExtension)?,
                    ),
                    _ => None,
                };
                (response.subprotocol().map(str::to_owned), deflate)
            }
            Status::Partial => return Err(HandshakeError::MalformedHttp.into()),
        };
    let mut ws = WebSocket::from_parts(io, Role::Client, config, runtime, &input[head_len..]);
    ws.set_subprotocol(subprotocol);
    if let (Some(params), Some(deflate)) = (deflate, config.deflate.as_ref()) {
        ws.enable_deflate(params, deflate);
    }
    Ok(ws)
}
