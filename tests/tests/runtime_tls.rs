//! `wss://`: both adapters' clients (feature `rustls`) against a TLS server
//! built from tokio-rustls / futures-rustls around our `accept`, with a
//! self-signed certificate for 127.0.0.1 (`runtime_tls/cert.pem`, valid
//! until 2126). Loopback only.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;

const CERT: &[u8] = include_bytes!("runtime_tls/cert.pem");
const KEY: &[u8] = include_bytes!("runtime_tls/key.pem");

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config() -> Arc<rustls::ServerConfig> {
    let certs = CertificateDer::pem_slice_iter(CERT)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    Arc::new(config)
}

fn client_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(CERT) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

mod tokio_wss {
    use super::*;
    use tokio::net::TcpListener;
    use ws_runtime_tokio::{
        ClientOptions, CloseCode, Error, Message, accept, connect, connect_with_tls,
    };

    #[tokio::test]
    async fn wss_round_trip() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("wss://{}/secure", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let tls = tokio_rustls::TlsAcceptor::from(server_config())
                .accept(tcp)
                .await
                .unwrap();
            let mut ws = accept(tls).await.unwrap();
            while let Some(message) = ws.recv().await {
                if let message @ Message::Text(_) = message.unwrap() {
                    ws.send(message).await.unwrap();
                }
            }
        });
        let mut ws = connect_with_tls(&url, &ClientOptions::new(), client_config())
            .await
            .unwrap();
        ws.send(Message::text("over tls")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("over tls"));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn wss_default_roots_refuse_a_self_signed_server() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("wss://{}/", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let result = tokio_rustls::TlsAcceptor::from(server_config())
                .accept(tcp)
                .await;
            assert!(result.is_err(), "the client must abort the TLS handshake");
        });
        let err = connect(&url).await.unwrap_err();
        assert!(matches!(err, Error::Io(_)), "{err}");
        server.await.unwrap();
    }
}

mod smol_wss {
    use super::*;
    use async_net::TcpListener;
    use ws_runtime_async_std::{ClientOptions, CloseCode, Message, accept, connect_with_tls};

    #[test]
    fn wss_round_trip() {
        smol::block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("wss://{}/secure", listener.local_addr().unwrap());
            let server = smol::spawn(async move {
                let (tcp, _) = listener.accept().await.unwrap();
                let tls = futures_rustls::TlsAcceptor::from(server_config())
                    .accept(tcp)
                    .await
                    .unwrap();
                let mut ws = accept(tls).await.unwrap();
                while let Some(message) = ws.recv().await {
                    if let message @ Message::Text(_) = message.unwrap() {
                        ws.send(message).await.unwrap();
                    }
                }
            });
            let mut ws = connect_with_tls(&url, &ClientOptions::new(), client_config())
                .await
                .unwrap();
            ws.send(Message::text("over tls")).await.unwrap();
            assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("over tls"));
            ws.close(CloseCode::NORMAL, "").await.unwrap();
            server.await;
        });
    }
}
