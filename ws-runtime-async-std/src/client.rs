//! The client side: connect by URL, or over a stream you opened.

use async_net::TcpStream;
use futures_io::{AsyncRead, AsyncWrite};

use crate::connection::{Io, WebSocket};
use crate::error::Error;
use crate::time::Runtime;

pub use ws_runtime::{ClientOptions, WsUrl};

/// Opens a WebSocket to `url` (`ws://host[:port]/path?query`) over a new
/// TCP connection (with `TCP_NODELAY`), with the default options.
///
/// `wss://` URLs need TLS, which this crate does not bundle yet: open a TLS
/// stream yourself (futures-rustls) and use [`connect_with`].
///
/// Cancel safety: dropping the future drops the half-open connection.
pub async fn connect(url: &str) -> Result<WebSocket<TcpStream>, Error> {
    connect_with_options(url, &ClientOptions::default()).await
}

/// Like [`connect`], with subprotocols, extra headers and a configuration.
pub async fn connect_with_options(
    url: &str,
    options: &ClientOptions,
) -> Result<WebSocket<TcpStream>, Error> {
    let parsed = WsUrl::parse(url)?;
    if parsed.is_secure() {
        return Err(Error::InvalidUrl(format!(
            "wss:// needs TLS, which is not built in yet; connect a TLS stream and use connect_with: {url}"
        )));
    }
    let stream = TcpStream::connect((parsed.host(), parsed.port())).await?;
    stream.set_nodelay(true)?;
    connect_with(stream, url, options).await
}

/// Opens a WebSocket over `stream`, already connected (and for `wss`,
/// encrypted) to the server of `url`: sends the upgrade request with a
/// fresh OS-random key, checks the answer (RFC 6455 §4.1).
pub async fn connect_with<S>(
    stream: S,
    url: &str,
    options: &ClientOptions,
) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    ws_runtime::connect_with(Io(stream), Runtime::new(), url, options).await
}
