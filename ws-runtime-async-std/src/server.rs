//! The server side: accept a WebSocket on any `futures-io` stream.

use futures_io::{AsyncRead, AsyncWrite};

use crate::connection::{Io, WebSocket, WebSocketConfig};
use crate::error::Error;
use crate::time::Runtime;

pub use ws_runtime::{Accept, Reject, Request};

/// Accepts a WebSocket on `stream`: reads the upgrade request, validates it
/// and answers `101 Switching Protocols` (or the matching HTTP error, with
/// [`Error::Handshake`]). The default [`WebSocketConfig`] applies,
/// including its 10 s handshake timeout.
///
/// Cancel safety: dropping the future mid-handshake drops the stream.
pub async fn accept<S>(stream: S) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    accept_with_config(stream, &WebSocketConfig::default(), |_| Ok(Accept::new())).await
}

/// Like [`accept`], but `callback` sees the parsed [`Request`] (path,
/// query, headers, origin, offered subprotocols) first and returns
/// [`Accept`] (subprotocol, extra headers) or [`Reject`] (an HTTP status,
/// headers and body, sent instead of the 101; the result is then
/// [`Error::Rejected`]).
pub async fn accept_with<S, F>(stream: S, callback: F) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: FnOnce(&Request<'_, '_>) -> Result<Accept, Reject>,
{
    accept_with_config(stream, &WebSocketConfig::default(), callback).await
}

/// Like [`accept_with`], with a configuration (limits, timers, buffers,
/// handshake timeout and head limits).
pub async fn accept_with_config<S, F>(
    stream: S,
    config: &WebSocketConfig,
    callback: F,
) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: FnOnce(&Request<'_, '_>) -> Result<Accept, Reject>,
{
    ws_runtime::accept_with(Io(stream), Runtime::new(), config, callback).await
}
