//! The instance's PKI: a cluster CA, a serving certificate and an admin client certificate,
//! all ECDSA P-256, issued at start in well under a millisecond, or read back from `--cert-dir`
//! so that a restart keeps the same CA. The serving certificate, the client CA and the
//! ServiceAccount signing key may instead come from files ([`PkiFiles`]), as kube-apiserver's
//! flags supply them (envtest does). Also the front-proxy CA and client certificate kubeadm issues
//! for request-header authentication ([`FrontProxy`]) and the rustls server configuration. The
//! cluster CA also signs CertificateSigningRequests (the `csr` submodule); the `subject`
//! submodule writes subjects with one O per group and reads a client certificate's subject as a
//! Kubernetes user (CN) and groups (O).

mod csr;
mod subject;
pub use csr::{RequestedSubject, read_csr};
pub use subject::{CertificateSubject, bundle_subjects, certificate_subject};

use crate::auth::tokens::TokenSigner;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// A certificate and its private key, both PEM.
#[derive(Clone)]
pub struct CertifiedKey {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertifiedKey").field("cert_pem", &self.cert_pem).field("key_pem", &"<redacted>").finish()
    }
}

/// Errors reading or issuing key material.
#[derive(Debug)]
pub struct PkiError(pub String);

impl std::fmt::Display for PkiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PkiError {}

fn pki_error(context: &str) -> impl Fn(rcgen::Error) -> PkiError + '_ {
    move |e| PkiError(format!("{context}: {e}"))
}

/// The names and addresses the serving certificate must cover.
#[derive(Debug, Clone)]
pub struct ServingNames {
    pub ips: Vec<IpAddr>,
    pub dns: Vec<String>,
}

impl ServingNames {
    /// 127.0.0.1, ::1, localhost, the `kubernetes` service names and the first service IP.
    pub fn standard(first_service_ip: IpAddr, extra_ips: &[IpAddr]) -> Self {
        let mut ips = vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]), first_service_ip];
        for ip in extra_ips {
            if !ips.contains(ip) {
                ips.push(*ip);
            }
        }
        let dns = [
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ]
        .map(String::from)
        .to_vec();
        ServingNames { ips, dns }
    }
}

/// Key material read from files instead of issued, as kube-apiserver takes it: the serving
/// certificate and key (`--tls-cert-file`/`--tls-private-key-file`, or `apiserver.crt` and
/// `apiserver.key` in `--cert-dir`), the CA bundle client certificates are verified against
/// (`--client-ca-file`) and the ServiceAccount token signing key
/// (`--service-account-signing-key-file`: PKCS#8 P-256 or RSA, or PKCS#1 RSA).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PkiFiles {
    /// The serving certificate chain (PEM); needs `serving_key`.
    pub serving_cert: Option<PathBuf>,
    /// The serving certificate's private key (PEM); needs `serving_cert`.
    pub serving_key: Option<PathBuf>,
    pub client_ca: Option<PathBuf>,
    pub service_account_signing_key: Option<PathBuf>,
}

impl PkiFiles {
    /// Whether no file is named (everything is issued).
    pub fn is_empty(&self) -> bool {
        self == &PkiFiles::default()
    }
}

fn read_pem(path: &Path, what: &str) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(|e| PkiError(format!("reading {what} {}: {e}", path.display())))
}

/// The cluster CA with everything issued from it.
pub struct Pki {
    /// kubetwin's cluster CA: it issues the serving (unless supplied), admin and user
    /// certificates.
    pub ca_cert_pem: String,
    ca_key_pem: String,
    issuer: Issuer<'static, KeyPair>,
    pub serving: CertifiedKey,
    pub admin: CertifiedKey,
    /// The ServiceAccount token signing key (P-256, PKCS#8 PEM): `sa.key`, as kubeadm names it.
    /// A supplied key may be RSA, PKCS#8 or PKCS#1 ([`crate::auth::tokens::TokenSigner::from_pem`]).
    pub service_account_key_pem: String,
    /// The CAs client certificates are verified against: the cluster CA, plus the supplied
    /// client CA bundle if any.
    pub client_ca_pem: String,
    /// [`Pki::server_config`], built on first use and shared by every server using this PKI.
    serving_tls: OnceLock<Arc<rustls::ServerConfig>>,
    /// The parsed ServiceAccount signing key, for [`Pki::token_signer`].
    token_signer: OnceLock<TokenSigner>,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki").field("ca_cert_pem", &self.ca_cert_pem).finish_non_exhaustive()
    }
}

/// The admin identity kubetwin issues.
pub const ADMIN_USER: &str = "kubetwin-admin";
pub const MASTERS_GROUP: &str = "system:masters";

fn validity(params: &mut CertificateParams, years: i32) {
    let now_year = 1970
        + (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
            / 31_556_952) as i32;
    params.not_before = rcgen::date_time_ymd(now_year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(now_year + years, 1, 1);
}

fn new_key() -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(pki_error("generating an ECDSA P-256 key"))
}

fn ca_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::CrlSign];
    validity(&mut params, 10);
    params
}

impl Pki {
    /// Issues a fresh CA, serving certificate and admin certificate.
    pub fn generate(names: &ServingNames) -> Result<Pki, PkiError> {
        let ca_key = new_key()?;
        let params = ca_params("kubetwin-ca");
        let ca_cert = params.self_signed(&ca_key).map_err(pki_error("self-signing the CA"))?;
        let ca_key_pem = ca_key.serialize_pem();
        let issuer = Issuer::new(params, ca_key);
        Self::assemble(ca_cert.pem(), ca_key_pem, issuer, names, [None, None, None])
    }

    /// Issues a fresh PKI, then puts the material `files` names in place of the issued one:
    /// a supplied serving certificate replaces the issued one, a supplied client CA bundle is
    /// trusted besides the cluster CA (so certificates from [`Pki::issue_client_cert`] keep
    /// working), and a supplied signing key replaces `sa.key`. Nothing is written anywhere.
    ///
    /// The cluster CA in [`Pki::ca_cert_pem`] does not verify a supplied serving certificate:
    /// clients need the CA that issued it.
    pub fn from_files(files: &PkiFiles, names: &ServingNames) -> Result<Pki, PkiError> {
        let mut pki = Self::generate(names)?;
        match (&files.serving_cert, &files.serving_key) {
            (Some(cert), Some(key)) => {
                let serving = CertifiedKey {
                    cert_pem: read_pem(cert, "the serving certificate")?,
                    key_pem: read_pem(key, "the serving key")?,
                };
                if CertificateDer::pem_slice_iter(serving.cert_pem.as_bytes()).next().is_none() {
                    return Err(PkiError(format!("{} holds no PEM certificate", cert.display())));
                }
                PrivateKeyDer::from_pem_slice(serving.key_pem.as_bytes())
                    .map_err(|e| PkiError(format!("reading the serving key {}: {e}", key.display())))?;
                pki.serving = serving;
            }
            (None, None) => {}
            _ => return Err(PkiError("a serving certificate needs both its certificate and its key file".into())),
        }
        if let Some(path) = &files.client_ca {
            let bundle = read_pem(path, "the client CA bundle")?;
            if CertificateDer::pem_slice_iter(bundle.as_bytes()).next().is_none() {
                return Err(PkiError(format!("{} holds no PEM certificate", path.display())));
            }
            pki.client_ca_pem = format!("{}\n{}", bundle.trim_end(), pki.ca_cert_pem);
        }
        if let Some(path) = &files.service_account_signing_key {
            pki.service_account_key_pem = read_pem(path, "the service account signing key")?;
        }
        Ok(pki)
    }

    /// The ServiceAccount signing key as PKCS#8 DER.
    pub fn service_account_key_der(&self) -> Result<Vec<u8>, PkiError> {
        let key = KeyPair::from_pem(&self.service_account_key_pem).map_err(pki_error("reading sa.key"))?;
        Ok(key.serialize_der())
    }

    fn assemble(
        ca_cert_pem: String,
        ca_key_pem: String,
        issuer: Issuer<'static, KeyPair>,
        names: &ServingNames,
        [serving, admin, service_account]: [Option<CertifiedKey>; 3],
    ) -> Result<Pki, PkiError> {
        let service_account_key_pem = match service_account {
            Some(existing) => existing.key_pem,
            None => new_key()?.serialize_pem(),
        };
        let mut pki = Pki {
            client_ca_pem: ca_cert_pem.clone(),
            ca_cert_pem,
            ca_key_pem,
            issuer,
            serving: empty_pair(),
            admin: empty_pair(),
            service_account_key_pem,
            serving_tls: OnceLock::new(),
            token_signer: OnceLock::new(),
        };
        pki.serving = match serving {
            Some(serving) => serving,
            None => pki.issue_serving_cert(names)?,
        };
        pki.admin = match admin {
            Some(admin) => admin,
            None => pki.issue_client_cert(ADMIN_USER, &[MASTERS_GROUP])?,
        };
        Ok(pki)
    }

    /// Reads the CA, serving and admin material from `dir` where present (`ca.crt`/`ca.key`,
    /// `apiserver.crt`/`apiserver.key`, `admin.crt`/`admin.key`), issues whatever is missing,
    /// and writes it back, so a restart keeps the same CA.
    pub fn load_or_generate(dir: &Path, names: &ServingNames) -> Result<Pki, PkiError> {
        let read_pair = |stem: &str| -> Option<CertifiedKey> {
            let cert_pem = std::fs::read_to_string(dir.join(format!("{stem}.crt"))).ok()?;
            let key_pem = std::fs::read_to_string(dir.join(format!("{stem}.key"))).ok()?;
            Some(CertifiedKey { cert_pem, key_pem })
        };
        let pki = match read_pair("ca") {
            Some(ca) => {
                let key = KeyPair::from_pem(&ca.key_pem).map_err(pki_error("reading ca.key"))?;
                let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, key).map_err(pki_error("reading ca.crt"))?;
                let service_account = std::fs::read_to_string(dir.join("sa.key"))
                    .ok()
                    .map(|key_pem| CertifiedKey { cert_pem: String::new(), key_pem });
                let existing = [read_pair("apiserver"), read_pair("admin"), service_account];
                Self::assemble(ca.cert_pem, ca.key_pem, issuer, names, existing)?
            }
            None => Self::generate(names)?,
        };
        pki.write_to(dir).map_err(|e| PkiError(format!("writing the PKI to {}: {e}", dir.display())))?;
        Ok(pki)
    }

    /// Writes every PEM into `dir` (keys readable by the owner only).
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        let files = [
            ("ca.crt", &self.ca_cert_pem, false),
            ("ca.key", &self.ca_key_pem, true),
            ("apiserver.crt", &self.serving.cert_pem, false),
            ("apiserver.key", &self.serving.key_pem, true),
            ("admin.crt", &self.admin.cert_pem, false),
            ("admin.key", &self.admin.key_pem, true),
            ("sa.key", &self.service_account_key_pem, true),
        ];
        write_pems(dir, &files)
    }

    fn issue_serving_cert(&self, names: &ServingNames) -> Result<CertifiedKey, PkiError> {
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "kube-apiserver");
        params.distinguished_name = name;
        params.subject_alt_names = names.ips.iter().map(|ip| SanType::IpAddress(*ip)).collect();
        for dns in &names.dns {
            params.subject_alt_names.push(SanType::DnsName(dns.clone().try_into().map_err(pki_error("a DNS name"))?));
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        sign(&self.issuer, params, None, "the serving certificate")
    }

    /// Issues a client certificate for `user` in `groups` (CN and one O per group, as
    /// kube-apiserver reads them).
    pub fn issue_client_cert(&self, user: &str, groups: &[&str]) -> Result<CertifiedKey, PkiError> {
        let mut params = CertificateParams::default();
        // rcgen keeps the last O only: with one group at most, its certificate is kept as it is.
        let mut name = DistinguishedName::new();
        for group in groups {
            name.push(DnType::OrganizationName, *group);
        }
        name.push(DnType::CommonName, user);
        params.distinguished_name = name;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let subject = subject::client_subject(user, groups);
        sign(&self.issuer, params, Some(&subject), "a client certificate")
    }

    /// A ServiceAccount token signer with this PKI's key, for `issuer` and `audiences`. The key
    /// is parsed once per PKI.
    pub fn token_signer(&self, issuer: &str, audiences: Vec<String>) -> Result<TokenSigner, String> {
        let parsed = match self.token_signer.get() {
            Some(parsed) => parsed,
            None => {
                let signer = TokenSigner::from_pem(&self.service_account_key_pem, issuer, Vec::new())?;
                self.token_signer.get_or_init(|| signer)
            }
        };
        Ok(parsed.for_issuer(issuer, audiences))
    }

    /// The cluster CA certificate, DER-encoded, as clients put it among their roots.
    pub fn ca_cert_der(&self) -> Result<Vec<u8>, PkiError> {
        let certificate = CertificateDer::from_pem_slice(self.ca_cert_pem.as_bytes())
            .map_err(|e| PkiError(format!("reading the CA: {e}")))?;
        Ok(certificate.to_vec())
    }

    /// A rustls configuration that serves the serving certificate, offers HTTP/2 and HTTP/1.1,
    /// and verifies client certificates against the client CAs without requiring one (tokens
    /// and anonymous requests are authenticated later in the pipeline). Built once per PKI.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, PkiError> {
        if let Some(config) = self.serving_tls.get() {
            return Ok(config.clone());
        }
        let config = Arc::new(self.server_config_trusting(None)?);
        Ok(self.serving_tls.get_or_init(|| config).clone())
    }

    /// [`Pki::server_config`], also accepting client certificates `extra_client_cas` (a PEM
    /// bundle: the request-header CA) issued. Which CA issued a peer's certificate is told
    /// apart later, by [`CertificateSubject::issuer`].
    pub fn server_config_trusting(&self, extra_client_cas: Option<&str>) -> Result<rustls::ServerConfig, PkiError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for bundle in std::iter::once(self.client_ca_pem.as_str()).chain(extra_client_cas) {
            for cert in CertificateDer::pem_slice_iter(bundle.as_bytes()) {
                let cert = cert.map_err(|e| PkiError(format!("reading the CA: {e}")))?;
                roots.add(cert).map_err(|e| PkiError(format!("trusting the CA: {e}")))?;
            }
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .allow_unauthenticated()
            .build()
            .map_err(|e| PkiError(format!("client verifier: {e}")))?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(self.serving.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| PkiError(format!("reading the serving certificate: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(self.serving.key_pem.as_bytes())
            .map_err(|e| PkiError(format!("reading the serving key: {e}")))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| PkiError(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| PkiError(format!("serving certificate: {e}")))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Issues a certificate from `params` for a fresh key, valid for a year, with `subject` (DER) in
/// place of the one rcgen writes if given.
fn sign(
    issuer: &Issuer<'static, KeyPair>,
    mut params: CertificateParams,
    subject: Option<&[u8]>,
    what: &str,
) -> Result<CertifiedKey, PkiError> {
    validity(&mut params, 1);
    params.use_authority_key_identifier_extension = true;
    let key = new_key()?;
    let der = subject::signed_with_subject(&params, &key, issuer, subject, what)?;
    Ok(CertifiedKey { cert_pem: subject::pem("CERTIFICATE", &der), key_pem: key.serialize_pem() })
}

/// The front-proxy CA and its client certificate (CN `front-proxy-client`), as kubeadm issues
/// them for the aggregation layer: `front-proxy-ca.crt`/`.key` and
/// `front-proxy-client.crt`/`.key`.
pub struct FrontProxy {
    pub ca_cert_pem: String,
    ca_key_pem: String,
    issuer: Issuer<'static, KeyPair>,
    pub client: CertifiedKey,
}

/// The CN of the front-proxy client certificate kubetwin issues.
pub const FRONT_PROXY_CLIENT: &str = "front-proxy-client";

impl FrontProxy {
    /// Issues a fresh front-proxy CA and client certificate.
    pub fn generate() -> Result<FrontProxy, PkiError> {
        let ca_key = new_key()?;
        let params = ca_params("front-proxy-ca");
        let ca_cert = params.self_signed(&ca_key).map_err(pki_error("self-signing the front-proxy CA"))?;
        let ca_key_pem = ca_key.serialize_pem();
        let issuer = Issuer::new(params, ca_key);
        let mut front_proxy = FrontProxy { ca_cert_pem: ca_cert.pem(), ca_key_pem, issuer, client: empty_pair() };
        front_proxy.client = front_proxy.issue_client_cert(FRONT_PROXY_CLIENT)?;
        Ok(front_proxy)
    }

    /// Reads the front-proxy CA and client certificate from `dir` where present, issues what is
    /// missing and writes it back.
    pub fn load_or_generate(dir: &Path) -> Result<FrontProxy, PkiError> {
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
        let front_proxy = match (read("front-proxy-ca.crt"), read("front-proxy-ca.key")) {
            (Some(ca_cert_pem), Some(ca_key_pem)) => {
                let key = KeyPair::from_pem(&ca_key_pem).map_err(pki_error("reading front-proxy-ca.key"))?;
                let issuer =
                    Issuer::from_ca_cert_pem(&ca_cert_pem, key).map_err(pki_error("reading front-proxy-ca.crt"))?;
                let mut front_proxy = FrontProxy { ca_cert_pem, ca_key_pem, issuer, client: empty_pair() };
                front_proxy.client = match (read("front-proxy-client.crt"), read("front-proxy-client.key")) {
                    (Some(cert_pem), Some(key_pem)) => CertifiedKey { cert_pem, key_pem },
                    _ => front_proxy.issue_client_cert(FRONT_PROXY_CLIENT)?,
                };
                front_proxy
            }
            _ => Self::generate()?,
        };
        let files = [
            ("front-proxy-ca.crt", &front_proxy.ca_cert_pem, false),
            ("front-proxy-ca.key", &front_proxy.ca_key_pem, true),
            ("front-proxy-client.crt", &front_proxy.client.cert_pem, false),
            ("front-proxy-client.key", &front_proxy.client.key_pem, true),
        ];
        write_pems(dir, &files)
            .map_err(|e| PkiError(format!("writing the front-proxy PKI to {}: {e}", dir.display())))?;
        Ok(front_proxy)
    }

    /// Issues a client certificate with CN `common_name` from the front-proxy CA.
    pub fn issue_client_cert(&self, common_name: &str) -> Result<CertifiedKey, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        sign(&self.issuer, params, None, "a front-proxy client certificate")
    }
}

fn empty_pair() -> CertifiedKey {
    CertifiedKey { cert_pem: String::new(), key_pem: String::new() }
}

/// Writes PEMs into `dir` unless already there as they are (keys readable by the owner only).
fn write_pems(dir: &Path, files: &[(&str, &String, bool)]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for &(name, contents, secret) in files {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).is_ok_and(|existing| &existing == contents) {
            continue;
        }
        std::fs::write(&path, contents)?;
        #[cfg(unix)]
        if secret {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        #[cfg(not(unix))]
        let _ = secret;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> ServingNames {
        ServingNames::standard(IpAddr::from([10, 96, 0, 1]), &[])
    }

    #[test]
    fn admin_certificate_names_the_admin_in_system_masters() {
        let pki = Pki::generate(&names()).unwrap();
        let der = CertificateDer::from_pem_slice(pki.admin.cert_pem.as_bytes()).unwrap();
        let subject = certificate_subject(&der).unwrap();
        assert_eq!(
            (subject.user.as_str(), subject.groups.as_slice()),
            (ADMIN_USER, [MASTERS_GROUP.to_string()].as_slice())
        );
        assert_eq!(bundle_subjects(&pki.ca_cert_pem).unwrap(), [subject.issuer]);
        assert!(pki.server_config().is_ok());
    }

    #[test]
    fn serving_certificate_covers_the_kubernetes_names() {
        let pki = Pki::generate(&names()).unwrap();
        let der = CertificateDer::from_pem_slice(pki.serving.cert_pem.as_bytes()).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let san = cert
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        for expected in [
            "7f:00:00:01",
            "0a:60:00:01",
            "00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:01",
            "DNSName(localhost)",
            "kubernetes.default.svc.cluster.local",
        ] {
            assert!(san.contains(expected), "{expected} missing from {san}");
        }
    }

    #[test]
    fn a_restart_reuses_the_ca_kept_in_the_cert_dir() {
        let dir = tempfile::tempdir().unwrap();
        let first = Pki::load_or_generate(dir.path(), &names()).unwrap();
        let second = Pki::load_or_generate(dir.path(), &names()).unwrap();
        assert_eq!(first.ca_cert_pem, second.ca_cert_pem);
        assert_eq!(first.serving.cert_pem, second.serving.cert_pem);
        let user = second.issue_client_cert("alice", &["dev"]).unwrap();
        let der = CertificateDer::from_pem_slice(user.cert_pem.as_bytes()).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert_eq!(cert.issuer().to_string(), "CN=kubetwin-ca");
    }

    #[test]
    fn supplied_files_replace_the_serving_certificate_client_ca_and_signing_key() {
        let dir = tempfile::tempdir().unwrap();
        let external = Pki::generate(&names()).unwrap();
        external.write_to(dir.path()).unwrap();
        let files = PkiFiles {
            serving_cert: Some(dir.path().join("apiserver.crt")),
            serving_key: Some(dir.path().join("apiserver.key")),
            client_ca: Some(dir.path().join("ca.crt")),
            service_account_signing_key: Some(dir.path().join("sa.key")),
        };
        let pki = Pki::from_files(&files, &names()).unwrap();
        assert_eq!(pki.serving.cert_pem, external.serving.cert_pem);
        assert_eq!(pki.service_account_key_pem, external.service_account_key_pem);
        assert_ne!(pki.ca_cert_pem, external.ca_cert_pem, "the cluster CA is still kubetwin's own");
        assert!(pki.client_ca_pem.contains(&external.ca_cert_pem) && pki.client_ca_pem.contains(&pki.ca_cert_pem));
        assert_eq!(CertificateDer::pem_slice_iter(pki.client_ca_pem.as_bytes()).count(), 2);
        assert!(pki.server_config().is_ok());
        assert!(PkiFiles::default().is_empty() && !files.is_empty());

        let half = PkiFiles { serving_key: None, ..files.clone() };
        assert!(Pki::from_files(&half, &names()).unwrap_err().0.contains("both"));
        let missing = PkiFiles { client_ca: Some(dir.path().join("nope.crt")), ..PkiFiles::default() };
        assert!(Pki::from_files(&missing, &names()).unwrap_err().0.contains("nope.crt"));
    }
}
