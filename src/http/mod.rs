//! The HTTP surface: TLS termination, the warp routes, content negotiation, and the encoders
//! for objects, lists, tables, watch streams and Status errors.

pub mod applying;
pub mod batched_writes;
pub mod http2;
pub mod negotiate;
pub mod nonresource;
pub mod patching;
pub mod query;
pub mod resources;
pub mod respond;
pub mod scale;
pub mod tls;
pub mod watch;
pub mod webhook_client;

use crate::instance::Instance;
use bytes::Bytes;
use http::{HeaderMap, Method};
use query::Query;
use std::sync::Arc;
use tls::{PeerIdentity, Routes};
use warp::Filter;

/// Requests larger than this are refused, as kube-apiserver refuses bodies over 3 MiB.
pub const MAX_BODY_BYTES: u64 = 3 * 1024 * 1024;

/// One request, read off the wire, with the peer's verified certificate subject.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub peer: PeerIdentity,
    /// Who sent it, once the pipeline has authenticated it.
    pub user: crate::auth::UserInfo,
}

impl ApiRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The routes every connection is served with. Health, metrics, version and OpenAPI
/// documents are plain filters; everything else goes through the pipeline.
pub fn routes(instance: Arc<Instance>) -> Routes {
    let with_instance = warp::any().map(move || instance.clone());
    let raw_query = warp::query::raw().or(warp::any().map(String::new)).unify();
    let peer = warp::ext::optional::<PeerIdentity>().map(|peer: Option<PeerIdentity>| peer.unwrap_or_default());
    warp::method()
        .and(warp::path::full())
        .and(raw_query)
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .and(peer)
        .and(with_instance)
        .then(|method, path: warp::path::FullPath, query: String, headers, body, peer, instance: Arc<Instance>| async move {
            let body = match read_body(body).await {
                Ok(body) => body,
                Err(error) => return respond::error(&error),
            };
            let request = ApiRequest { method, path: path.as_str().to_string(), query: Query::parse(&query), headers, body, peer, user: Default::default() };
            crate::pipeline::handle(&instance, request).await
        })
        .recover(|rejection: warp::Rejection| async move {
            let error = crate::error::ApiError::bad_request(format!("unable to read the request: {rejection:?}"));
            Ok::<_, std::convert::Infallible>(respond::error(&error))
        })
        .unify()
        .boxed()
}

/// Reads a request body of any framing (Content-Length or chunked), refusing it once it passes
/// [`MAX_BODY_BYTES`] instead of buffering without bound.
async fn read_body<S, B>(stream: S) -> Result<Bytes, crate::error::ApiError>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: bytes::Buf,
{
    use futures_util::StreamExt;
    let mut body = bytes::BytesMut::new();
    let mut stream = std::pin::pin!(stream);
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|error| {
            crate::error::ApiError::bad_request(format!("unable to read the request body: {error}"))
        })?;
        if body.len() as u64 + chunk.remaining() as u64 > MAX_BODY_BYTES {
            return Err(crate::error::ApiError::new(
                crate::error::Reason::RequestEntityTooLarge,
                format!("Request entity too large: limit is {MAX_BODY_BYTES}"),
            ));
        }
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            body.extend_from_slice(piece);
            let read = piece.len();
            chunk.advance(read);
        }
    }
    Ok(body.freeze())
}
