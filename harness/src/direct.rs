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
    /// An admin client that calls the server in-process, without TLS or a socket. Requests are
    /// authenticated as the admin (`kubetwin-admin` in `system:masters`) and pass through the same
    /// pipeline as [`TestServer::client`]'s: authorization, admission, faults and the request log.
    /// Unlike that client it does not retry 429, 503 or 504 responses.
    ///
    /// ```rust
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kubetwin_harness::Error> {
    /// use k8s_openapi::api::core::v1::ConfigMap;
    /// use kube::api::{Api, PostParams};
    /// let twin = kubetwin_harness::TestServer::start().await?;
    /// let direct: Api<ConfigMap> = Api::default_namespaced(twin.direct_client());
    /// let settings = serde_json::from_value(serde_json::json!({"metadata": {"name": "settings"}}))?;
    /// direct.create(&PostParams::default(), &settings).await?;
    /// let over_tls: Api<ConfigMap> = Api::default_namespaced(twin.client());
    /// assert!(over_tls.get_opt("settings").await?.is_some(), "one server behind both clients");
    /// # Ok(())
    /// # }
    /// ```
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
                let subject = CertificateSubject {
                    user: ADMIN_USER.into(),
                    groups: vec![MASTERS_GROUP.into()],
                    issuer: Vec::new(),
                };
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
