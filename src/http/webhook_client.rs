//! The HTTPS client kubetwin calls webhooks with (the authorization webhook, CRD conversion
//! webhooks): an `https://` URL, a rustls configuration that trusts only the given CA bundle
//! (and presents a client certificate when given one), and one JSON POST per call over a fresh
//! connection with hyper, bounded by a timeout so that a silent webhook never hangs a request.
//! Failures are worded as Go's HTTP client words them (`Post "<url>": <why>`). Callers on
//! synchronous paths use [`WebhookClient::post_json_blocking`].

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::sync::Arc;
use std::time::Duration;

/// A client certificate and its key, both PEM.
pub struct ClientIdentity<'a> {
    pub cert_pem: &'a [u8],
    pub key_pem: &'a [u8],
}

/// One webhook endpoint with everything needed to call it.
#[derive(Clone)]
pub struct WebhookClient {
    /// `https://host:port/path`, as configured (shown in errors).
    pub url: String,
    pub host: String,
    pub port: u16,
    /// The request target: the path and query.
    pub path: String,
    server_name: ServerName<'static>,
    tls: Arc<rustls::ClientConfig>,
    bearer_token: Option<String>,
}

impl std::fmt::Debug for WebhookClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookClient").field("url", &self.url).finish_non_exhaustive()
    }
}

/// Splits `https://host[:port][/path[?query]]`.
pub fn split_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url.strip_prefix("https://").ok_or_else(|| {
        format!("the webhook server {url:?} is not an https:// URL (kubetwin calls webhooks over TLS only)")
    })?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) if rest[at..].starts_with('?') => (&rest[..at], format!("/{}", &rest[at..])),
        Some(at) => (&rest[..at], rest[at..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => {
            (host, port.parse().map_err(|_| format!("the webhook server {url:?} has an invalid port"))?)
        }
        _ => (authority, 443),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("the webhook server {url:?} names no host"));
    }
    Ok((host.to_string(), port, path))
}

/// A rustls client configuration trusting only the certificates of `ca_pem`, presenting
/// `identity` if given, speaking HTTP/1.1.
fn tls_config(ca_pem: &[u8], identity: Option<ClientIdentity<'_>>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| format!("reading the certificate authority: {e}"))?;
        roots.add(cert).map_err(|e| format!("trusting the certificate authority: {e}"))?;
    }
    if roots.is_empty() {
        return Err("the certificate authority holds no PEM certificate".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let mut tls = match identity {
        Some(identity) => {
            let chain = CertificateDer::pem_slice_iter(identity.cert_pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("reading the client certificate: {e}"))?;
            let key =
                PrivateKeyDer::from_pem_slice(identity.key_pem).map_err(|e| format!("reading the client key: {e}"))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| format!("the client certificate: {e}"))?
        }
        None => builder.with_no_client_auth(),
    };
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

impl WebhookClient {
    /// A client for `url` trusting `ca_pem`; `server_name` overrides the name the certificate
    /// must carry (the URL's host otherwise).
    pub fn new(
        url: &str,
        ca_pem: &[u8],
        identity: Option<ClientIdentity<'_>>,
        server_name: Option<&str>,
        bearer_token: Option<String>,
    ) -> Result<WebhookClient, String> {
        let (host, port, path) = split_url(url)?;
        let tls = tls_config(ca_pem, identity)?;
        let name = server_name.unwrap_or(&host).to_string();
        let server_name =
            ServerName::try_from(name.clone()).map_err(|e| format!("{name:?} is not a server name: {e}"))?;
        Ok(WebhookClient { url: url.to_string(), host, port, path, server_name, tls: Arc::new(tls), bearer_token })
    }

    /// POSTs `body` (JSON) and returns the response body of a 2xx answer within `timeout`.
    pub async fn post_json(&self, body: Vec<u8>, timeout: Duration) -> Result<Bytes, String> {
        let failed = |why: &dyn std::fmt::Display| format!("Post {:?}: {why}", self.url);
        match tokio::time::timeout(timeout, self.exchange(body)).await {
            Ok(Ok((status, body))) if (200..300).contains(&status) => Ok(body),
            Ok(Ok((status, body))) => Err(failed(&format!(
                "the webhook answered {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(512)])
            ))),
            Ok(Err(error)) => Err(failed(&error)),
            Err(_) => Err(failed(&"context deadline exceeded (Client.Timeout exceeded while awaiting headers)")),
        }
    }

    /// [`WebhookClient::post_json`] from synchronous code. On a multi-threaded runtime the call
    /// runs on the caller's worker, whose other tasks move to another worker meanwhile;
    /// elsewhere it runs on a thread of its own while the caller waits, so on a current-thread
    /// runtime a webhook served by that same runtime answers only after the timeout.
    pub fn post_json_blocking(&self, body: Vec<u8>, timeout: Duration) -> Result<Bytes, String> {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| handle.block_on(self.post_json(body, timeout)))
            }
            _ => {
                let client = self.clone();
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| format!("starting the webhook client: {e}"))?;
                    runtime.block_on(client.post_json(body, timeout))
                })
                .join()
                .unwrap_or_else(|_| Err("the webhook call panicked".into()))
            }
        }
    }

    async fn exchange(&self, body: Vec<u8>) -> Result<(u16, Bytes), String> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port)).await.map_err(|e| e.to_string())?;
        let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
        let tls = connector.connect(self.server_name.clone(), tcp).await.map_err(|e| e.to_string())?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let authority = if self.port == 443 { self.host.clone() } else { format!("{}:{}", self.host, self.port) };
        let mut request = http::Request::post(&self.path)
            .header(http::header::HOST, authority)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json");
        if let Some(token) = &self.bearer_token {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request.body(Full::new(Bytes::from(body))).map_err(|e| e.to_string())?;
        let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((status, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_port_and_path() {
        assert_eq!(
            split_url("https://authz.example:8443/authorize").unwrap(),
            ("authz.example".into(), 8443, "/authorize".into())
        );
        assert_eq!(split_url("https://127.0.0.1").unwrap(), ("127.0.0.1".into(), 443, "/".into()));
        assert_eq!(split_url("https://[::1]:9443/x").unwrap(), ("::1".into(), 9443, "/x".into()));
        assert_eq!(split_url("https://h:1?timeout=30s").unwrap(), ("h".into(), 1, "/?timeout=30s".into()));
        assert!(split_url("http://authz.example/").unwrap_err().contains("https://"));
        assert!(split_url("https://host:port/").unwrap_err().contains("port"));
    }

    #[test]
    fn clients_trust_only_a_pem_bundle() {
        assert!(WebhookClient::new("https://h/", b"not pem", None, None, None).unwrap_err().contains("no PEM"));
    }

    #[tokio::test]
    async fn an_unreachable_webhook_fails_with_the_url() {
        let pki = crate::pki::Pki::generate(&crate::pki::ServingNames::standard([10, 0, 0, 1].into(), &[])).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}/convert", listener.local_addr().unwrap());
        drop(listener);
        let client = WebhookClient::new(&url, pki.ca_cert_pem.as_bytes(), None, None, None).unwrap();
        let error = client.post_json_blocking(b"{}".to_vec(), Duration::from_secs(5)).unwrap_err();
        assert!(error.starts_with(&format!("Post {url:?}: ")), "{error}");
    }
}
