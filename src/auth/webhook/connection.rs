//! How kubetwin reaches an authorization webhook: the kubeconfig-format file of
//! `--authorization-webhook-config-file` read as kube-apiserver reads it (the current context's
//! cluster and user, else the first of each: `server`, `certificate-authority` or
//! `certificate-authority-data`, `tls-server-name`, and the client's `client-certificate[-data]`
//! with `client-key[-data]` or a `token`), turned into a rustls client configuration, and one
//! HTTPS POST over it with hyper. Relative file paths are relative to the kubeconfig's folder.

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long one webhook call may take, as kube-apiserver's webhook client allows.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A webhook endpoint with everything needed to call it.
#[derive(Clone)]
pub struct WebhookConnection {
    /// `https://host:port/path`, as the kubeconfig gives it.
    pub url: String,
    host: String,
    port: u16,
    path: String,
    server_name: ServerName<'static>,
    tls: Arc<rustls::ClientConfig>,
    bearer_token: Option<String>,
}

impl std::fmt::Debug for WebhookConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConnection").field("url", &self.url).finish_non_exhaustive()
    }
}

/// The named entry `name` of a kubeconfig list (`clusters`, `users`), else its first entry.
fn entry<'a>(config: &'a Value, list: &str, name: Option<&str>, field: &str) -> Option<&'a Value> {
    let items = config[list].as_array()?;
    let named = name.and_then(|name| items.iter().find(|item| item["name"] == name));
    named.or_else(|| items.first()).map(|item| &item[field])
}

/// PEM bytes from `<field>-data` (base64) or the file `<field>`, if either is given.
fn pem_material(section: &Value, field: &str, base: &Path) -> Result<Option<Vec<u8>>, String> {
    if let Some(data) = section[format!("{field}-data")].as_str() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| format!("{field}-data is not base64: {e}"))?;
        return Ok(Some(decoded));
    }
    match section[field].as_str() {
        Some(path) => {
            let path = base.join(path);
            std::fs::read(&path).map(Some).map_err(|e| format!("reading {field} {}: {e}", path.display()))
        }
        None => Ok(None),
    }
}

/// Splits `https://host[:port][/path]`.
fn split_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url.strip_prefix("https://").ok_or_else(|| {
        format!("the webhook server {url:?} is not an https:// URL (kubetwin calls webhooks over TLS only)")
    })?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
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
    Ok((host.to_string(), port, path.to_string()))
}

impl WebhookConnection {
    /// Reads the kubeconfig at `path`.
    pub fn from_kubeconfig_file(path: &Path) -> Result<WebhookConnection, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        Self::from_kubeconfig(&text, &base).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Reads a kubeconfig's text; relative paths in it are relative to `base`.
    pub fn from_kubeconfig(text: &str, base: &Path) -> Result<WebhookConnection, String> {
        let config: Value = serde_saphyr::from_str(text).map_err(|e| format!("not a kubeconfig: {e}"))?;
        let current = config["current-context"].as_str();
        let context = current.and_then(|name| entry(&config, "contexts", Some(name), "context"));
        let context_field = |field: &str| context.and_then(|c| c[field].as_str());
        let cluster = entry(&config, "clusters", context_field("cluster"), "cluster")
            .filter(|c| c.is_object())
            .ok_or("the kubeconfig has no cluster")?;
        let user = entry(&config, "users", context_field("user"), "user").cloned().unwrap_or(Value::Null);
        let url = cluster["server"].as_str().ok_or("the kubeconfig's cluster has no server")?.to_string();
        let (host, port, path) = split_url(&url)?;
        if cluster["insecure-skip-tls-verify"] == true {
            return Err("insecure-skip-tls-verify is not supported; give certificate-authority(-data)".into());
        }
        let ca = pem_material(cluster, "certificate-authority", base)?
            .ok_or("the kubeconfig's cluster has no certificate-authority or certificate-authority-data")?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&ca) {
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
        let client_cert = pem_material(&user, "client-certificate", base)?;
        let client_key = pem_material(&user, "client-key", base)?;
        let mut tls = match (client_cert, client_key) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_slice_iter(&cert)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("reading the client certificate: {e}"))?;
                let key = PrivateKeyDer::from_pem_slice(&key).map_err(|e| format!("reading the client key: {e}"))?;
                builder.with_client_auth_cert(chain, key).map_err(|e| format!("the client certificate: {e}"))?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => return Err("client-certificate and client-key must be given together".into()),
        };
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let name = cluster["tls-server-name"].as_str().unwrap_or(&host).to_string();
        let server_name =
            ServerName::try_from(name.clone()).map_err(|e| format!("{name:?} is not a server name: {e}"))?;
        let bearer_token = user["token"].as_str().map(String::from);
        Ok(WebhookConnection { url, host, port, path, server_name, tls: Arc::new(tls), bearer_token })
    }

    /// POSTs `body` (JSON) and returns the response body of a 2xx answer. Failures are worded
    /// as Go's HTTP client words them: `Post "<url>": <why>`.
    pub async fn post_json(&self, body: Vec<u8>) -> Result<Bytes, String> {
        let failed = |why: &dyn std::fmt::Display| format!("Post {:?}: {why}", self.url);
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(body)).await {
            Ok(Ok((status, body))) if (200..300).contains(&status) => Ok(body),
            Ok(Ok((status, body))) => Err(failed(&format!(
                "the webhook answered {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(512)])
            ))),
            Ok(Err(error)) => Err(failed(&error)),
            Err(_) => Err(failed(&format!("no answer within {}s", REQUEST_TIMEOUT.as_secs()))),
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
        assert!(split_url("http://authz.example/").unwrap_err().contains("https://"));
        assert!(split_url("https://host:port/").unwrap_err().contains("port"));
    }

    #[test]
    fn kubeconfigs_need_a_server_and_a_certificate_authority() {
        let pki = crate::pki::Pki::generate(&crate::pki::ServingNames::standard([10, 0, 0, 1].into(), &[])).unwrap();
        let text = crate::server::kubeconfig(
            "https://127.0.0.1:9443/authorize",
            &pki.ca_cert_pem,
            &pki.admin.cert_pem,
            &pki.admin.key_pem,
            "apiserver",
        );
        let connection = WebhookConnection::from_kubeconfig(&text, Path::new(".")).unwrap();
        assert_eq!(
            (connection.url.as_str(), connection.port, connection.path.as_str()),
            ("https://127.0.0.1:9443/authorize", 9443, "/authorize")
        );
        let no_ca = "clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1/\n";
        assert!(
            WebhookConnection::from_kubeconfig(no_ca, Path::new(".")).unwrap_err().contains("certificate-authority")
        );
        let missing_file =
            "clusters:\n- name: c\n  cluster:\n    server: https://h/\n    certificate-authority: nope.crt\n";
        assert!(
            WebhookConnection::from_kubeconfig(missing_file, Path::new("/nonexistent"))
                .unwrap_err()
                .contains("nope.crt")
        );
        assert!(WebhookConnection::from_kubeconfig("users: []\n", Path::new(".")).unwrap_err().contains("no cluster"));
    }
}
