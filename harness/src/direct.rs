//! A `kube::Client` with no socket: requests go straight into the server's pipeline as an
//! in-process tower service, authenticated as the admin certificate would be. Same semantics
//! as the TLS client (authentication, authorization, faults and recording included), less
//! overhead.

use crate::TestServer;
use http_body_util::BodyExt;
use kubetwin::http::ApiRequest;
use kubetwin::http::query::Query;
use kubetwin::http::tls::PeerIdentity;
use kubetwin::pki::{ADMIN_USER, CertificateSubject, MASTERS_GROUP};
use std::convert::Infallible;

impl TestServer {
    /// An admin client that calls the server in-process, without TLS or a socket.
    pub fn direct_client(&self) -> kube::Client {
        let instance = self.server().instance().clone();
        let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
            let instance = instance.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body = match body.collect().await {
                    Ok(collected) => collected.to_bytes(),
                    Err(error) => {
                        let error =
                            kubetwin::error::ApiError::bad_request(format!("unable to read the request body: {error}"));
                        return Ok::<_, Infallible>(kubetwin::http::respond::error(&error));
                    }
                };
                let subject = CertificateSubject { user: ADMIN_USER.into(), groups: vec![MASTERS_GROUP.into()] };
                let request = ApiRequest {
                    method: parts.method,
                    path: parts.uri.path().to_string(),
                    query: Query::parse(parts.uri.query().unwrap_or_default()),
                    headers: parts.headers,
                    body,
                    peer: PeerIdentity(Some(subject)),
                    user: Default::default(),
                };
                Ok(kubetwin::pipeline::handle(&instance, request).await)
            }
        });
        kube::Client::new(service, "default")
    }
}
