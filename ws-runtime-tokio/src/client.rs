//! The client side: connect by URL (`ws://`, and `wss://` with the `rustls`
//! feature), or over a stream you opened.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::connection::{Io, WebSocket};
use crate::error::Error;
use crate::time::Runtime;

pub use ws_runtime::{ClientOptions, WsUrl};

#[cfg(feature = "rustls")]
pub use tokio_rustls::rustls;

/// The stream under a WebSocket opened by URL: plain TCP for `ws://`, TLS
/// over TCP for `wss://` (feature `rustls`).
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// `ws://`: plain TCP.
    Plain(TcpStream),
    /// `wss://`: TLS (rustls) over TCP.
    #[cfg(feature = "rustls")]
    Rustls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl MaybeTlsStream {
    /// The TCP stream underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(tcp) => tcp,
            #[cfg(feature = "rustls")]
            Self::Rustls(tls) => tls.get_ref().0,
        }
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            MaybeTlsStream::Plain($s) => {
                let $s = Pin::new($s);
                $e
            }
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls($s) => {
                let $s = Pin::new(&mut **$s);
                $e
            }
        }
    };
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => s.poll_shutdown(cx))
    }
}

/// Opens a WebSocket to `url` (`ws://host[:port]/path?query`, or `wss://`
/// with the `rustls` feature) over a new TCP connection (with
/// `TCP_NODELAY`), with the default options.
///
/// `wss://` verifies the server against the Mozilla root certificates
/// (webpki-roots); use `connect_with_tls` (same feature) for other roots or client
/// certificates. Without the `rustls` feature, `wss://` fails with
/// [`Error::InvalidUrl`]: open a TLS stream yourself and use
/// [`connect_with`].
///
/// Cancel safety: dropping the future drops the half-open connection.
pub async fn connect(url: &str) -> Result<WebSocket<MaybeTlsStream>, Error> {
    connect_with_options(url, &ClientOptions::default()).await
}

/// Like [`connect`], with subprotocols, extra headers and a configuration.
pub async fn connect_with_options(
    url: &str,
    options: &ClientOptions,
) -> Result<WebSocket<MaybeTlsStream>, Error> {
    let parsed = WsUrl::parse(url)?;
    let tcp = tcp_connect(&parsed).await?;
    let stream = if parsed.is_secure() {
        #[cfg(feature = "rustls")]
        {
            tls_connect(&parsed, tcp, default_tls_config()).await?
        }
        #[cfg(not(feature = "rustls"))]
        {
            drop(tcp);
            return Err(Error::InvalidUrl(format!(
                "wss:// needs the `rustls` feature (or connect_with over your own TLS stream): {url}"
            )));
        }
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    connect_with(stream, url, options).await
}

/// Like [`connect_with_options`], with your own TLS configuration (roots,
/// client certificates, ALPN) for `wss://` URLs.
#[cfg(feature = "rustls")]
pub async fn connect_with_tls(
    url: &str,
    options: &ClientOptions,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> Result<WebSocket<MaybeTlsStream>, Error> {
    let parsed = WsUrl::parse(url)?;
    let tcp = tcp_connect(&parsed).await?;
    let stream = if parsed.is_secure() {
        tls_connect(&parsed, tcp, tls).await?
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    connect_with(stream, url, options).await
}

async fn tcp_connect(url: &WsUrl) -> Result<TcpStream, Error> {
    let stream = TcpStream::connect((url.host(), url.port())).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

#[cfg(feature = "rustls")]
async fn tls_connect(
    url: &WsUrl,
    tcp: TcpStream,
    config: std::sync::Arc<rustls::ClientConfig>,
) -> Result<MaybeTlsStream, Error> {
    let name = rustls::pki_types::ServerName::try_from(url.host().to_owned())
        .map_err(|_| Error::InvalidUrl(format!("not a TLS server name: {}", url.host())))?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    Ok(MaybeTlsStream::Rustls(Box::new(tls)))
}

/// The default TLS client configuration: ring, TLS 1.2 and 1.3, Mozilla's
/// roots. Built once.
#[cfg(feature = "rustls")]
fn default_tls_config() -> std::sync::Arc<rustls::ClientConfig> {
    static CONFIG: std::sync::OnceLock<std::sync::Arc<rustls::ClientConfig>> =
        std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            std::sync::Arc::new(config)
        })
        .clone()
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
    ws_runtime::connect_with(Io(stream), Runtime, url, options).await
}
