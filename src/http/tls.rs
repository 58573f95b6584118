//! TLS termination: accepts TCP connections, completes the rustls handshake, reads the
//! verified client certificate (if any) into a [`PeerIdentity`] request extension, and serves
//! HTTP/1.1 on the connection through hyper-util, or HTTP/2 through [`http2`], stopping
//! gracefully on shutdown.

use super::batched_writes::BatchedWrites;
use super::http2::{self, RequestBody};
use crate::pki::{CertificateSubject, certificate_subject};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// How long in-flight requests may take to finish once the server stops.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// How much encrypted data a connection buffers before it has to wait for the socket.
const TLS_SEND_BUFFER: usize = 256 * 1024;

/// The subject of the client certificate a connection presented, verified against the client
/// CAs or the request-header CA (its issuer tells which).
#[derive(Debug, Clone, Default)]
pub struct PeerIdentity(pub Option<CertificateSubject>);

/// The service every connection is served with: a warp filter turned into a tower service.
pub type Routes = warp::filters::BoxedFilter<(warp::reply::Response,)>;

/// Serves `routes` on `listener` until `shutdown` turns true, then lets in-flight requests end
/// (watches end at once) for up to [`SHUTDOWN_GRACE`].
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    routes: Routes,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::debug!(%error, "accept failed");
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let routes = routes.clone();
        let watcher = graceful.watcher();
        let connection_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(error) => {
                    tracing::debug!(%error, "TLS handshake failed");
                    return;
                }
            };
            // Large bodies (a LIST of thousands of objects) go out in writes of up to this much
            // ciphertext instead of rustls's default 64 KiB: a quarter of the system calls, and of
            // the wake-ups of a reader on the same machine.
            tls.get_mut().1.set_buffer_limit(Some(TLS_SEND_BUFFER));
            let peer = PeerIdentity(
                tls.get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .and_then(|cert| certificate_subject(cert)),
            );
            let service = warp::service(routes);
            if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                // Multiplexed streams (watches): their writes are gathered, and one task sends them.
                let io = BatchedWrites::new(tls, true);
                let handle = move |request: hyper::Request<RequestBody>| serve_from(service.clone(), &peer, request);
                // Boxed: its state would otherwise make every HTTP/1.1 connection's task larger.
                Box::pin(http2::serve_connection(io, handle, connection_shutdown)).await;
                drop(watcher);
                return;
            }
            let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let response = serve_from(service.clone(), &peer, request);
                let shutdown = connection_shutdown.clone();
                async move { Ok::<_, Infallible>(http2::ending_at_shutdown(response.await, shutdown)) }
            });
            let builder = Builder::new(TokioExecutor::new());
            let connection =
                builder.serve_connection_with_upgrades(TokioIo::new(BatchedWrites::new(tls, false)), service);
            if let Err(error) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(SHUTDOWN_GRACE) => {}
    }
}

/// Serves `request`, which came from `peer`, with the routes' `service`.
fn serve_from<S, B>(
    mut service: S,
    peer: &PeerIdentity,
    mut request: hyper::Request<B>,
) -> impl Future<Output = warp::reply::Response> + use<S, B>
where
    S: tower_service::Service<hyper::Request<B>, Response = warp::reply::Response, Error = Infallible>,
{
    request.extensions_mut().insert(peer.clone());
    async move {
        match service.call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}
