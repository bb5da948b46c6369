//! An axum app served over TLS: each connection is accepted, its TLS
//! handshake made by tokio-rustls, and the app given the peer's address.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;
use axum::Router;
use hyper::server::conn::http1::Builder;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

pub async fn serve(listen: SocketAddr, config: rustls::ServerConfig, app: Router) -> Result<()> {
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(listen).await?;
    loop {
        let (stream, peer) = listener.accept().await?;
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            // A client that fails the handshake (a wrong pin) only ends
            // its own connection.
            let Ok(stream) = acceptor.accept(stream).await else {
                return;
            };
            let app = app.layer(axum::Extension(peer));
            let service = hyper::service::service_fn(move |request| app.clone().oneshot(request));
            let _ = Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
