//! Request-header (front-proxy) authentication, as kube-apiserver's `headerrequest`
//! authenticator does it: a client certificate issued by the request-header CA
//! (`--requestheader-client-ca-file`) whose CN is allowed (`--requestheader-allowed-names`; any
//! CN when the list is empty) vouches for the user named in its headers: the first non-empty
//! username header, every non-empty value of the group headers, and `<prefix><key>` headers as
//! extra (the key lower-cased and %-unescaped). Without a username the request is left to the
//! authenticators after this one. The headers count only from such a certificate.

use super::UserInfo;
use crate::pki::{CertificateSubject, FRONT_PROXY_CLIENT, bundle_subjects};
use http::HeaderMap;

/// kubeadm's username header.
pub const DEFAULT_USERNAME_HEADER: &str = "X-Remote-User";
/// kubeadm's group header.
pub const DEFAULT_GROUP_HEADER: &str = "X-Remote-Group";
/// kubeadm's extra header prefix.
pub const DEFAULT_EXTRA_HEADERS_PREFIX: &str = "X-Remote-Extra-";

/// The `--requestheader-*` flags, with the CA read.
#[derive(Debug, Clone)]
pub struct RequestHeaderConfig {
    /// The request-header CA bundle (PEM); published in `extension-apiserver-authentication`.
    pub client_ca_pem: String,
    /// CNs a front-proxy certificate may have; any when empty.
    pub allowed_names: Vec<String>,
    pub username_headers: Vec<String>,
    pub group_headers: Vec<String>,
    pub extra_headers_prefixes: Vec<String>,
    /// The DER subject names of the CAs in `client_ca_pem`.
    ca_subjects: Vec<Vec<u8>>,
}

/// Trims header names and refuses blank ones, as kube-apiserver's flag validation does.
fn trim_headers(flag: &str, headers: Vec<String>) -> Result<Vec<String>, String> {
    headers
        .into_iter()
        .map(|header| match header.trim() {
            "" => Err(format!("empty value in {flag:?}")),
            trimmed => Ok(trimmed.to_string()),
        })
        .collect()
}

impl RequestHeaderConfig {
    /// Checks the header names and reads the CA bundle's subjects.
    pub fn new(
        client_ca_pem: String,
        allowed_names: Vec<String>,
        username_headers: Vec<String>,
        group_headers: Vec<String>,
        extra_headers_prefixes: Vec<String>,
    ) -> Result<RequestHeaderConfig, String> {
        let ca_subjects = bundle_subjects(&client_ca_pem).map_err(|e| e.to_string())?;
        Ok(RequestHeaderConfig {
            client_ca_pem,
            allowed_names,
            username_headers: trim_headers("requestheader-username-headers", username_headers)?,
            group_headers: trim_headers("requestheader-group-headers", group_headers)?,
            extra_headers_prefixes: trim_headers("requestheader-extra-headers-prefix", extra_headers_prefixes)?,
            ca_subjects,
        })
    }

    /// kubeadm's settings for a front-proxy CA: allowed name `front-proxy-client`, `X-Remote-User`,
    /// `X-Remote-Group` and `X-Remote-Extra-`.
    pub fn kubeadm(client_ca_pem: String) -> Result<RequestHeaderConfig, String> {
        let one = |text: &str| vec![text.to_string()];
        Self::new(
            client_ca_pem,
            one(FRONT_PROXY_CLIENT),
            one(DEFAULT_USERNAME_HEADER),
            one(DEFAULT_GROUP_HEADER),
            one(DEFAULT_EXTRA_HEADERS_PREFIX),
        )
    }

    /// Whether the request-header CA issued `subject`'s certificate.
    pub fn issued(&self, subject: &CertificateSubject) -> bool {
        self.ca_subjects.contains(&subject.issuer)
    }

    /// The user a front-proxy certificate's request names: `Ok(None)` when no username header
    /// is set, an error when the certificate's CN is not allowed.
    pub fn authenticate(&self, subject: &CertificateSubject, headers: &HeaderMap) -> Result<Option<UserInfo>, String> {
        if !self.allowed_names.is_empty() && !self.allowed_names.contains(&subject.user) {
            return Err(format!("x509: subject with cn={} is not in the allowed list", subject.user));
        }
        let values = |name: &String| headers.get_all(name.as_str()).into_iter().filter_map(|v| v.to_str().ok());
        let Some(name) =
            self.username_headers.iter().find_map(|header| values(header).next().filter(|v| !v.is_empty()))
        else {
            return Ok(None);
        };
        let groups = self.group_headers.iter().flat_map(values).filter(|v| !v.is_empty()).map(String::from).collect();
        let mut extra = std::collections::BTreeMap::<String, Vec<String>>::new();
        for prefix in &self.extra_headers_prefixes {
            let prefix = prefix.to_ascii_lowercase();
            for header in headers.keys() {
                if let Some(key) = header.as_str().strip_prefix(prefix.as_str()) {
                    let values = headers.get_all(header).into_iter().filter_map(|v| v.to_str().ok()).map(String::from);
                    extra.entry(unescape_extra_key(key)).or_default().extend(values);
                }
            }
        }
        Ok(Some(UserInfo { name: name.to_string(), groups, extra, ..UserInfo::default() }))
    }
}

/// Go's `url.PathUnescape`; a malformed key is kept as it came.
fn unescape_extra_key(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    let (mut decoded, mut i) = (Vec::with_capacity(bytes.len()), 0);
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit));
            let Some(byte) = hex.and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()) else {
                return encoded.to_string();
            };
            decoded.push(byte);
            i += 3;
            continue;
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(decoded).unwrap_or_else(|_| encoded.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::FrontProxy;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    fn config() -> (RequestHeaderConfig, CertificateSubject) {
        let front_proxy = FrontProxy::generate().unwrap();
        let der = CertificateDer::from_pem_slice(front_proxy.client.cert_pem.as_bytes()).unwrap();
        let subject = crate::pki::certificate_subject(&der).unwrap();
        (RequestHeaderConfig::kubeadm(front_proxy.ca_cert_pem).unwrap(), subject)
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        map
    }

    #[test]
    fn headers_name_the_user_groups_and_extra() {
        let (config, subject) = config();
        assert!(config.issued(&subject) && subject.user == FRONT_PROXY_CLIENT);
        let request = headers(&[
            ("X-Remote-User", "alice"),
            ("X-Remote-Group", "dev"),
            ("X-Remote-Group", ""),
            ("X-Remote-Group", "ops"),
            ("X-Remote-Extra-Scopes", "read"),
            ("X-Remote-Extra-scopes", "write"),
            ("X-Remote-Extra-Example.com%2Fteam", "blue"),
            ("X-Remote-Extra-Bad%zz", "kept"),
        ]);
        let user = config.authenticate(&subject, &request).unwrap().unwrap();
        assert_eq!(
            (user.name.as_str(), user.groups.as_slice()),
            ("alice", ["dev".to_string(), "ops".into()].as_slice())
        );
        assert_eq!(user.extra["scopes"], ["read", "write"]);
        assert_eq!(user.extra["example.com/team"], ["blue"]);
        assert_eq!(user.extra["bad%zz"], ["kept"]);
    }

    #[test]
    fn the_first_non_empty_username_header_wins_and_none_falls_through() {
        let (mut config, subject) = config();
        config.username_headers = vec!["X-User".into(), "X-Remote-User".into()];
        let request = headers(&[("X-User", ""), ("X-Remote-User", "bob")]);
        assert_eq!(config.authenticate(&subject, &request).unwrap().unwrap().name, "bob");
        assert_eq!(config.authenticate(&subject, &headers(&[("X-Remote-Group", "dev")])), Ok(None));
    }

    #[test]
    fn a_cn_outside_the_allowed_names_is_refused() {
        let (mut config, subject) = config();
        config.allowed_names = vec!["aggregator".into()];
        let request = headers(&[("X-Remote-User", "alice")]);
        assert_eq!(
            config.authenticate(&subject, &request),
            Err("x509: subject with cn=front-proxy-client is not in the allowed list".into())
        );
        config.allowed_names.clear();
        assert_eq!(config.authenticate(&subject, &request).unwrap().unwrap().name, "alice");
    }

    #[test]
    fn blank_header_names_and_empty_bundles_are_refused() {
        let (config, _) = config();
        let blank = RequestHeaderConfig::new(config.client_ca_pem, vec![], vec![" ".into()], vec![], vec![]);
        assert_eq!(blank.unwrap_err(), "empty value in \"requestheader-username-headers\"");
        assert!(RequestHeaderConfig::kubeadm(String::new()).is_err());
        assert_eq!(unescape_extra_key("a%2fb%25"), "a/b%");
        assert_eq!(unescape_extra_key("trailing%2"), "trailing%2");
    }
}
