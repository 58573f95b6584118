//! How kubetwin reaches an authorization webhook: the kubeconfig-format file of
//! `--authorization-webhook-config-file` read as kube-apiserver reads it (the current context's
//! cluster and user, else the first of each: `server`, `certificate-authority` or
//! `certificate-authority-data`, `tls-server-name`, and the client's `client-certificate[-data]`
//! with `client-key[-data]` or a `token`), turned into a [`WebhookClient`] (the HTTPS client all
//! of kubetwin's webhooks share). Relative file paths are relative to the kubeconfig's folder.

use crate::http::webhook_client::{ClientIdentity, WebhookClient};
use base64::Engine;
use bytes::Bytes;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one webhook call may take, as kube-apiserver's webhook client allows.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A webhook endpoint with everything needed to call it.
#[derive(Clone, Debug)]
pub struct WebhookConnection {
    /// `https://host:port/path`, as the kubeconfig gives it.
    pub url: String,
    client: WebhookClient,
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
        if cluster["insecure-skip-tls-verify"] == true {
            return Err("insecure-skip-tls-verify is not supported; give certificate-authority(-data)".into());
        }
        let ca = pem_material(cluster, "certificate-authority", base)?
            .ok_or("the kubeconfig's cluster has no certificate-authority or certificate-authority-data")?;
        let client_cert = pem_material(&user, "client-certificate", base)?;
        let client_key = pem_material(&user, "client-key", base)?;
        let identity = match (&client_cert, &client_key) {
            (Some(cert_pem), Some(key_pem)) => Some(ClientIdentity { cert_pem, key_pem }),
            (None, None) => None,
            _ => return Err("client-certificate and client-key must be given together".into()),
        };
        let server_name = cluster["tls-server-name"].as_str();
        let bearer_token = user["token"].as_str().map(String::from);
        let client = WebhookClient::new(&url, &ca, identity, server_name, bearer_token)?;
        Ok(WebhookConnection { url, client })
    }

    /// POSTs `body` (JSON) and returns the response body of a 2xx answer. Failures are worded
    /// as Go's HTTP client words them: `Post "<url>": <why>`.
    pub async fn post_json(&self, body: Vec<u8>) -> Result<Bytes, String> {
        self.client.post_json(body, REQUEST_TIMEOUT).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfigs_need_a_server_and_a_certificate_authority() {
        let text = crate::auth::test_support::webhook_kubeconfig();
        let connection = WebhookConnection::from_kubeconfig(&text, Path::new(".")).unwrap();
        assert_eq!(
            (connection.url.as_str(), connection.client.port, connection.client.path.as_str()),
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
