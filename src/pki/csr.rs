//! CertificateSigningRequests and the cluster CA: reading a request as kube-apiserver checks it on
//! every write ([`read_csr`]: a PEM `CERTIFICATE REQUEST` with a valid signature) and signing
//! it as kube-controller-manager's local signer does ([`Pki::sign_csr`]): the request's subject,
//! SANs and public key, the usages the CertificateSigningRequest names, five minutes of
//! backdating and a validity capped at the CA's own. The request is read with x509-parser rather
//! than rcgen, which refuses the multi-valued RDNs Go writes for several O values (O=a+O=b).

use super::{Pki, PkiError, pki_error, subject};
use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SanType, SerialNumber};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};

impl Pki {
    /// Signs a PKCS#10 request (PEM) with the cluster CA as kube-controller-manager's local
    /// signer does: the request's subject (every attribute, in Go's order), DNS, IP, email and
    /// URI SANs, and public key; key usages from `usages` (certificates.k8s.io names); valid
    /// from five minutes ago for `ttl` (a TTL under eight hours is not backdated at its end),
    /// never past the CA's own expiry.
    pub fn sign_csr(&self, csr_pem: &str, usages: &[&str], ttl: std::time::Duration) -> Result<String, PkiError> {
        const BACKDATE: u64 = 5 * 60;
        const SHORT: u64 = 8 * 3600;
        let mut params = CertificateParams::default();
        let (subject, public_key) = verified_request(csr_pem.as_bytes(), |request| {
            for name in requested_names(request) {
                params.subject_alt_names.extend(certificate_name(name)?);
            }
            let info = &request.certification_request_info;
            let public_key = rcgen::SubjectPublicKeyInfo::from_der(info.subject_pki.raw)
                .map_err(pki_error("reading the request's public key"))?;
            Ok((subject::go_ordered(info.subject.as_raw())?, public_key))
        })?;
        for &usage in usages {
            match x509_usage(usage) {
                Some(X509Usage::Key(key)) if !params.key_usages.contains(&key) => params.key_usages.push(key),
                Some(X509Usage::Extended(extended)) => params.insert_extended_key_usage(extended),
                Some(X509Usage::Key(_)) => {}
                None => return Err(PkiError(format!("unrecognized usage values: [{usage:?}]"))),
            }
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        let mut serial = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut serial)
            .map_err(|_| PkiError("generating a serial number".into()))?;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        let not_before = now.saturating_sub(BACKDATE);
        let mut not_after = if ttl.as_secs() < SHORT { now } else { not_before } + ttl.as_secs();
        let der = CertificateDer::from_pem_slice(self.ca_cert_pem.as_bytes())
            .map_err(|e| PkiError(format!("reading the CA: {e}")))?;
        let (_, ca) =
            x509_parser::parse_x509_certificate(&der).map_err(|e| PkiError(format!("parsing the CA: {e}")))?;
        let ca_not_after = u64::try_from(ca.validity().not_after.timestamp()).unwrap_or(0);
        if now >= ca_not_after {
            return Err(PkiError("the signer has expired".into()));
        }
        not_after = not_after.min(ca_not_after);
        let epoch = rcgen::date_time_ymd(1970, 1, 1);
        params.not_before = epoch + std::time::Duration::from_secs(not_before);
        params.not_after = epoch + std::time::Duration::from_secs(not_after);
        let der = subject::signed_with_subject(&params, &public_key, &self.issuer, Some(&subject), "the request")?;
        Ok(subject::pem("CERTIFICATE", &der))
    }
}

/// A requested SAN as rcgen writes it, None for the kinds Go's x509 package drops (kinds other
/// than DNS names, IP addresses, emails and URIs).
fn certificate_name(name: &GeneralName<'_>) -> Result<Option<SanType>, PkiError> {
    let invalid = |e: rcgen::Error| PkiError(format!("a subject alternative name: {e}"));
    Ok(Some(match name {
        GeneralName::DNSName(dns) => SanType::DnsName((*dns).try_into().map_err(invalid)?),
        GeneralName::RFC822Name(email) => SanType::Rfc822Name((*email).try_into().map_err(invalid)?),
        GeneralName::URI(uri) => SanType::URI((*uri).try_into().map_err(invalid)?),
        GeneralName::IPAddress(ip) => SanType::IpAddress(match *ip {
            &[a, b, c, d] => std::net::IpAddr::from([a, b, c, d]),
            octets => <[u8; 16]>::try_from(octets)
                .map(std::net::IpAddr::from)
                .map_err(|_| PkiError(format!("an IP address SAN of {} bytes", octets.len())))?,
        }),
        _ => return Ok(None),
    }))
}

/// A certificates.k8s.io key usage as X.509 names it.
enum X509Usage {
    Key(KeyUsagePurpose),
    Extended(ExtendedKeyUsagePurpose),
}

/// The X.509 meaning of a certificates.k8s.io usage (kube-controller-manager's
/// `keyUsagesFromStrings`); None for names it does not know.
fn x509_usage(usage: &str) -> Option<X509Usage> {
    use ExtendedKeyUsagePurpose as E;
    use KeyUsagePurpose as K;
    let key = match usage {
        "signing" | "digital signature" => K::DigitalSignature,
        "content commitment" => K::ContentCommitment,
        "key encipherment" => K::KeyEncipherment,
        "key agreement" => K::KeyAgreement,
        "data encipherment" => K::DataEncipherment,
        "cert sign" => K::KeyCertSign,
        "crl sign" => K::CrlSign,
        "encipher only" => K::EncipherOnly,
        "decipher only" => K::DecipherOnly,
        _ => {
            let extended = match usage {
                "any" => E::Any,
                "server auth" => E::ServerAuth,
                "client auth" => E::ClientAuth,
                "code signing" => E::CodeSigning,
                "email protection" | "s/mime" => E::EmailProtection,
                "timestamping" => E::TimeStamping,
                "ocsp signing" => E::OcspSigning,
                "ipsec end system" => E::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 5]),
                "ipsec tunnel" => E::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 6]),
                "ipsec user" => E::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 7]),
                "microsoft sgc" => E::Other(vec![1, 3, 6, 1, 4, 1, 311, 10, 3, 3]),
                "netscape sgc" => E::Other(vec![2, 16, 840, 1, 113730, 4, 1]),
                _ => return None,
            };
            return Some(X509Usage::Extended(extended));
        }
    };
    Some(X509Usage::Key(key))
}

/// What a certificate request asks to be: its subject's CN and Os, and how many SANs of each
/// kind it names (what kube-controller-manager's signers check).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RequestedSubject {
    pub common_name: String,
    pub organizations: Vec<String>,
    pub dns_names: usize,
    pub ip_addresses: usize,
    pub emails: usize,
    pub uris: usize,
}

/// Reads a CertificateSigningRequest's `spec.request` as kube-apiserver checks it on every
/// write: a PEM `CERTIFICATE REQUEST` whose signature verifies. Only signatures ring verifies
/// pass: ECDSA P-256/P-384, Ed25519 and RSA of 2048 to 8192 bits.
pub fn read_csr(pem: &[u8]) -> Result<RequestedSubject, PkiError> {
    verified_request(pem, |request| {
        let name = &request.certification_request_info.subject;
        let text =
            |value: &x509_parser::x509::AttributeTypeAndValue<'_>| value.as_str().unwrap_or_default().to_string();
        let mut subject = RequestedSubject {
            common_name: name.iter_common_name().next().map(text).unwrap_or_default(),
            organizations: name.iter_organization().map(text).collect(),
            ..RequestedSubject::default()
        };
        for name in requested_names(request) {
            match name {
                GeneralName::DNSName(_) => subject.dns_names += 1,
                GeneralName::IPAddress(_) => subject.ip_addresses += 1,
                GeneralName::RFC822Name(_) => subject.emails += 1,
                GeneralName::URI(_) => subject.uris += 1,
                _ => {}
            }
        }
        Ok(subject)
    })
}

/// Reads a PEM `CERTIFICATE REQUEST` whose signature verifies and hands it to `read`.
fn verified_request<T>(
    pem: &[u8],
    read: impl FnOnce(&X509CertificationRequest<'_>) -> Result<T, PkiError>,
) -> Result<T, PkiError> {
    use x509_parser::prelude::FromDer;
    let der = CertificateSigningRequestDer::from_pem_slice(pem)
        .map_err(|_| PkiError("PEM block type must be CERTIFICATE REQUEST".into()))?;
    let (_, request) = X509CertificationRequest::from_der(&der)
        .map_err(|e| PkiError(format!("x509: malformed certificate request: {e}")))?;
    request.verify_signature().map_err(|e| PkiError(format!("x509: certificate request signature: {e}")))?;
    read(&request)
}

/// The subject alternative names a request asks for.
fn requested_names<'a>(request: &'a X509CertificationRequest<'_>) -> impl Iterator<Item = &'a GeneralName<'a>> {
    let extensions = request.requested_extensions().into_iter().flatten();
    extensions
        .filter_map(|extension| match extension {
            ParsedExtension::SubjectAlternativeName(names) => Some(&names.general_names),
            _ => None,
        })
        .flatten()
}
