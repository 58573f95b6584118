//! kube-apiserver's request-header (front-proxy) flags, `--requestheader-*` and
//! `--proxy-client-*`, and the front-proxy material kubetwin issues when no request-header CA
//! is supplied: a front-proxy CA and client certificate (`front-proxy-ca.crt`/`.key`,
//! `front-proxy-client.crt`/`.key` in `--cert-dir`) with kubeadm's settings. Only the binary
//! issues them; servers started in-process get request-header authentication only when their
//! configuration names it, which keeps their start cheap.

use super::apiserver_flags::{Flag, flag};
use crate::auth::requestheader::RequestHeaderConfig;
use crate::pki::FrontProxy;
use std::path::{Path, PathBuf};

pub(super) const FLAGS: &[Flag] = &[
    flag("proxy-client-cert-file", Some("string"), "Accepted; kubetwin serves no aggregated APIs to proxy to."),
    flag("proxy-client-key-file", Some("string"), "Accepted; kubetwin serves no aggregated APIs to proxy to."),
    flag(
        "requestheader-allowed-names",
        Some("strings"),
        "Client certificate CNs allowed to set the request headers; any when empty.",
    ),
    flag(
        "requestheader-client-ca-file",
        Some("string"),
        "CA bundle for front-proxy certificates. (default: a front-proxy CA kubetwin issues)",
    ),
    flag("requestheader-extra-headers-prefix", Some("strings"), "Request header prefixes for user extra."),
    flag("requestheader-group-headers", Some("strings"), "Request headers to read groups from."),
    flag("requestheader-username-headers", Some("strings"), "Request headers to read the username from."),
];

/// The request-header flags as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestHeaderFlags {
    pub client_ca_file: Option<PathBuf>,
    pub allowed_names: Vec<String>,
    pub username_headers: Vec<String>,
    pub group_headers: Vec<String>,
    pub extra_headers_prefixes: Vec<String>,
    /// `--proxy-client-cert-file`/`--proxy-client-key-file`: stored only, as nothing is proxied.
    pub proxy_client_cert_file: Option<PathBuf>,
    pub proxy_client_key_file: Option<PathBuf>,
}

impl RequestHeaderFlags {
    /// Sets the flag `name` (one of [`FLAGS`]); `false` when it is not one of them.
    pub(super) fn set(&mut self, name: &str, value: &str) -> bool {
        let list = || value.split(',').map(str::trim).filter(|item| !item.is_empty()).map(String::from);
        match name {
            "proxy-client-cert-file" => self.proxy_client_cert_file = Some(value.into()),
            "proxy-client-key-file" => self.proxy_client_key_file = Some(value.into()),
            "requestheader-allowed-names" => self.allowed_names.extend(list()),
            "requestheader-client-ca-file" => self.client_ca_file = Some(value.into()),
            "requestheader-extra-headers-prefix" => self.extra_headers_prefixes.extend(list()),
            "requestheader-group-headers" => self.group_headers.extend(list()),
            "requestheader-username-headers" => self.username_headers.extend(list()),
            _ => return false,
        }
        true
    }

    /// The request-header configuration: from `--requestheader-client-ca-file` when given
    /// (with the other flags as they are, as kube-apiserver takes them), else the front-proxy CA
    /// kubetwin issues, kept in `cert_dir` when there is one.
    pub fn auth_config(&self, cert_dir: Option<&Path>) -> Result<RequestHeaderConfig, String> {
        let Some(path) = &self.client_ca_file else {
            return issued_front_proxy(cert_dir);
        };
        let pem = std::fs::read_to_string(path)
            .map_err(|e| format!("--requestheader-client-ca-file: reading {}: {e}", path.display()))?;
        RequestHeaderConfig::new(
            pem,
            self.allowed_names.clone(),
            self.username_headers.clone(),
            self.group_headers.clone(),
            self.extra_headers_prefixes.clone(),
        )
        .map_err(|e| format!("--requestheader-client-ca-file {}: {e}", path.display()))
    }
}

/// A front-proxy CA and client certificate, read from or written to `cert_dir` (in memory only
/// without one), trusted with kubeadm's request-header settings.
pub fn issued_front_proxy(cert_dir: Option<&Path>) -> Result<RequestHeaderConfig, String> {
    let front_proxy = match cert_dir {
        Some(dir) => FrontProxy::load_or_generate(dir),
        None => FrontProxy::generate(),
    }
    .map_err(|e| e.to_string())?;
    RequestHeaderConfig::kubeadm(front_proxy.ca_cert_pem)
}

#[cfg(test)]
mod tests {
    use super::super::apiserver_flags::ApiserverFlags;
    use std::ffi::OsString;

    fn parse(args: &[&str]) -> Result<ApiserverFlags, String> {
        ApiserverFlags::parse(&args.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn kubeadm_request_header_flags_reach_the_auth_config() {
        let dir = tempfile::tempdir().unwrap();
        let front_proxy = crate::pki::FrontProxy::generate().unwrap();
        let ca = dir.path().join("front-proxy-ca.crt");
        std::fs::write(&ca, &front_proxy.ca_cert_pem).unwrap();
        let flags = parse(&[
            &format!("--requestheader-client-ca-file={}", ca.display()),
            "--requestheader-allowed-names=front-proxy-client,aggregator",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            "--proxy-client-cert-file=/pki/front-proxy-client.crt",
            "--proxy-client-key-file=/pki/front-proxy-client.key",
        ])
        .unwrap();
        assert_eq!(flags.requestheader.proxy_client_key_file, Some("/pki/front-proxy-client.key".into()));
        let config = flags.server_config().unwrap().instance.auth.requestheader.unwrap();
        assert_eq!(config.client_ca_pem, front_proxy.ca_cert_pem);
        assert_eq!(config.allowed_names, ["front-proxy-client", "aggregator"]);
        assert_eq!(
            (config.username_headers, config.group_headers, config.extra_headers_prefixes),
            (vec!["X-Remote-User".into()], vec!["X-Remote-Group".into()], vec!["X-Remote-Extra-".into()])
        );

        let missing = parse(&["--requestheader-client-ca-file=/nonexistent/ca.crt"]).unwrap();
        assert!(missing.server_config().unwrap_err().contains("/nonexistent/ca.crt"));
    }

    #[test]
    fn without_a_request_header_ca_a_front_proxy_ca_is_issued_into_the_cert_dir() {
        let dir = tempfile::tempdir().unwrap();
        let config = super::issued_front_proxy(Some(dir.path())).unwrap();
        for file in ["front-proxy-ca.crt", "front-proxy-ca.key", "front-proxy-client.crt", "front-proxy-client.key"] {
            assert!(dir.path().join(file).is_file(), "{file} was not written");
        }
        assert_eq!(config.allowed_names, ["front-proxy-client"]);
        assert_eq!(config.username_headers, ["X-Remote-User"]);
        let again = super::issued_front_proxy(Some(dir.path())).unwrap();
        assert_eq!(again.client_ca_pem, config.client_ca_pem, "a restart keeps the front-proxy CA");
        let flags = parse(&[&format!("--cert-dir={}", dir.path().display())]).unwrap();
        assert_eq!(
            flags.server_config().unwrap().instance.auth.requestheader.unwrap().client_ca_pem,
            config.client_ca_pem
        );
    }
}
