//! Certificate subjects as kube-apiserver reads them: the user is the CN, the groups are every O
//! ([`certificate_subject`]). rcgen 0.14 keeps one value per attribute type, so to issue a
//! subject with several groups kubetwin lets rcgen build and sign the certificate, then puts the
//! full subject in its place and signs the TBSCertificate again with the issuer's key (whatever
//! its algorithm: the signature algorithm rcgen wrote is the key's). A subject is written in the
//! order of Go's `pkix.Name` (C, ST, L, street, postal code, O, OU, CN, serial number, then other
//! types), one attribute per RDN as `openssl req -subj "/O=dev/O=qa/CN=alice"` writes it. The
//! DER is read with x509-parser's asn1-rs and written by hand: a tag, a definite length, the
//! content.

use super::PkiError;
use rcgen::{CertificateParams, Issuer, KeyPair, PublicKeyData, SigningKey};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::asn1_rs::{Any, FromDer};

/// A user as a client certificate names it: CN is the user, each O a group; and the DER of the
/// issuer's name, which tells a request-header CA's certificates from the client CA's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSubject {
    pub user: String,
    pub groups: Vec<String>,
    /// The issuer's distinguished name, DER (empty: issued by the client CA).
    pub issuer: Vec<u8>,
}

/// Reads the subject of a (verified) client certificate.
pub fn certificate_subject(der: &[u8]) -> Option<CertificateSubject> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let user = subject.iter_common_name().next()?.as_str().ok()?.to_string();
    let groups = subject.iter_organization().filter_map(|o| o.as_str().ok().map(String::from)).collect();
    Some(CertificateSubject { user, groups, issuer: cert.issuer().as_raw().to_vec() })
}

/// The DER subject names of the certificates in a PEM bundle (the CAs it holds).
pub fn bundle_subjects(pem: &str) -> Result<Vec<Vec<u8>>, PkiError> {
    let mut subjects = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| PkiError(format!("reading a CA certificate: {e}")))?;
        let (_, parsed) = x509_parser::parse_x509_certificate(&cert)
            .map_err(|e| PkiError(format!("parsing a CA certificate: {e}")))?;
        subjects.push(parsed.subject().as_raw().to_vec());
    }
    if subjects.is_empty() {
        return Err(PkiError("the CA bundle holds no PEM certificate".into()));
    }
    Ok(subjects)
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const BIT_STRING: u8 = 0x03;
const OBJECT_IDENTIFIER: u8 = 0x06;
const UTF8_STRING: u8 = 0x0c;
/// `[0] EXPLICIT Version`, the first field of a v2 or v3 TBSCertificate.
const EXPLICIT_VERSION: u8 = 0xa0;

/// The content of the OID of X.520 attribute type 2.5.4.`number`.
fn x520_type(number: u8) -> [u8; 3] {
    [0x55, 0x04, number]
}
const COMMON_NAME: u8 = 3;
const ORGANIZATION: u8 = 10;
/// The X.520 attribute types Go's `pkix.Name.ToRDNSequence` writes, in its order: country,
/// province, locality, street address, postal code, organization, organizational unit, common
/// name, serial number.
const GO_ORDER: [u8; 9] = [6, 8, 7, 9, 17, ORGANIZATION, 11, COMMON_NAME, 5];

/// One AttributeTypeAndValue (DER) and where Go's order puts its type.
struct Attribute {
    rank: usize,
    der: Vec<u8>,
}

impl Attribute {
    /// Reads an AttributeTypeAndValue.
    fn read(der: &[u8]) -> Result<Attribute, PkiError> {
        let oid = *elements(content(der)?)?.first().ok_or_else(|| malformed("an attribute without a type"))?;
        Ok(Attribute { rank: go_rank(content(oid)?), der: der.to_vec() })
    }

    /// A UTF8String attribute of X.520 type 2.5.4.`number`, as rcgen writes a `&str`.
    fn utf8(number: u8, value: &str) -> Attribute {
        let oid = x520_type(number);
        let der = tlv(SEQUENCE, &[tlv(OBJECT_IDENTIFIER, &oid), tlv(UTF8_STRING, value.as_bytes())].concat());
        Attribute { rank: go_rank(&oid), der }
    }
}

/// Where Go's order puts an attribute of type `oid` (the OID's content): types Go does not name
/// come last.
fn go_rank(oid: &[u8]) -> usize {
    GO_ORDER.iter().position(|&number| oid == x520_type(number)).unwrap_or(GO_ORDER.len())
}

/// A Name of `attributes`, each in its own RDN, in Go's order (attributes of one type keep
/// theirs).
fn name(mut attributes: Vec<Attribute>) -> Vec<u8> {
    attributes.sort_by_key(|attribute| attribute.rank);
    let rdns: Vec<u8> = attributes.iter().flat_map(|attribute| tlv(SET, &attribute.der)).collect();
    tlv(SEQUENCE, &rdns)
}

/// The subject of a client certificate for `user` in `groups`: O=group for each group, then
/// CN=user, all UTF8String.
pub(super) fn client_subject(user: &str, groups: &[&str]) -> Vec<u8> {
    let organizations = groups.iter().map(|group| Attribute::utf8(ORGANIZATION, group));
    name(organizations.chain([Attribute::utf8(COMMON_NAME, user)]).collect())
}

/// A requested subject (a DER Name, as a certificate request holds it) as
/// kube-controller-manager's signer writes it into the certificate: every attribute, values
/// unchanged, in Go's order; several attributes in one RDN (Go writes O=a+O=b) are split into
/// RDNs of their own.
pub(super) fn go_ordered(requested: &[u8]) -> Result<Vec<u8>, PkiError> {
    let mut attributes = Vec::new();
    for rdn in elements(content(requested)?)? {
        for attribute in elements(content(rdn)?)? {
            attributes.push(Attribute::read(attribute)?);
        }
    }
    Ok(name(attributes))
}

/// Issues a certificate (DER) from `params` for `public_key`, signed by `issuer`, whose subject
/// is `subject` (a DER Name) if given instead of `params.distinguished_name`. When rcgen already
/// wrote `subject`, its certificate is kept as it is.
pub(super) fn signed_with_subject(
    params: &CertificateParams,
    public_key: &impl PublicKeyData,
    issuer: &Issuer<'static, KeyPair>,
    subject: Option<&[u8]>,
    what: &str,
) -> Result<Vec<u8>, PkiError> {
    let signing_error = |e: rcgen::Error| PkiError(format!("signing {what}: {e}"));
    let certificate = params.signed_by(public_key, issuer).map_err(signing_error)?;
    let Some(subject) = subject else { return Ok(certificate.der().to_vec()) };
    let [tbs, algorithm, _signature] = elements(content(certificate.der())?)?[..] else {
        return Err(malformed("a certificate that is not a TBSCertificate, an algorithm and a signature"));
    };
    let mut fields = elements(content(tbs)?)?;
    let subject_index = if fields.first().and_then(|field| field.first()) == Some(&EXPLICIT_VERSION) { 5 } else { 4 };
    let Some(field) = fields.get_mut(subject_index) else {
        return Err(malformed("a TBSCertificate without a subject"));
    };
    if *field == subject {
        return Ok(certificate.der().to_vec());
    }
    *field = subject;
    let tbs = tlv(SEQUENCE, &fields.concat());
    let signature = issuer.key().sign(&tbs).map_err(signing_error)?;
    let signature_bits = [&[0u8][..], &signature[..]].concat();
    Ok(tlv(SEQUENCE, &[&tbs[..], algorithm, &tlv(BIT_STRING, &signature_bits)[..]].concat()))
}

/// DER as PEM, with `label` (`CERTIFICATE`) in its BEGIN and END lines.
pub(super) fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

fn malformed(what: &str) -> PkiError {
    PkiError(format!("malformed DER: {what}"))
}

/// The content of one DER element (tag, length, content) that fills `der`.
fn content(der: &[u8]) -> Result<&[u8], PkiError> {
    match Any::from_der(der) {
        Ok(([], element)) => Ok(element.data),
        Ok(_) => Err(malformed("trailing bytes")),
        Err(e) => Err(malformed(&e.to_string())),
    }
}

/// The DER elements, whole (tag, length and content), one after another in `content`.
fn elements(mut content: &[u8]) -> Result<Vec<&[u8]>, PkiError> {
    let mut elements = Vec::new();
    while !content.is_empty() {
        let (rest, _) = Any::from_der(content).map_err(|e| malformed(&e.to_string()))?;
        let (element, _) = content.split_at(content.len() - rest.len());
        elements.push(element);
        content = rest;
    }
    Ok(elements)
}

/// One DER element: `tag`, the definite length of `content`, `content`.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let length = content.len().to_be_bytes();
    let significant = &length[length.iter().take_while(|&&byte| byte == 0).count()..];
    let mut der = vec![tag];
    match significant {
        [] => der.push(0),
        [short] if *short < 0x80 => der.push(*short),
        long => {
            der.push(0x80 | long.len() as u8);
            der.extend_from_slice(long);
        }
    }
    der.extend_from_slice(content);
    der
}

#[cfg(test)]
mod tests {
    use super::super::{Pki, ServingNames, ca_params};
    use super::*;
    use std::sync::Arc;
    use x509_parser::certificate::X509Certificate;

    /// An RSA 2048 key (PKCS#8), as kubeadm's CA may have.
    const RSA_CA_KEY: &str = r"-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC8jmNpMkLIrh34
ydUJmBSnr8Sejjy2OAN/FHo2pypgepto6Az8zP5ittDUeWS61X5k9obb9yxct3tv
bsL4q8/T2Dr7js1jRapJJLEIB9jbSc/fRP23aWvoxuR324gAy0ho51SGvNAZjZ01
IW+Uq0PuleVTnZCH+EunLfCt1ncgPyK+DmjH7hAX1JAT+p22iC+zwoue+b/2+EOV
xLuaGy7t8yhP9UPG+UbtEC2xMF9ug+LyKjHa4YXswWevBgxJpqkD16/fH+05X5Eg
VSO55q2wIWgAAdaaEcPBaei50k0VUG5NgKRc5Q5sW5kyhK+NQqc6jskyB0gytQkA
Fz/hdV7zAgMBAAECggEAQQIKbiNg+RVmyfa0F1myjVnBPTUm42AOfIrP0/XwW1EK
MbIHgEUg02HaP9cWjn+60w5X0pC2X8T2rqWOXPPHdG9Rbpd+YmKLYipfSriB4KDj
JUQBAXI8PQYNkPFEQ5nSfjB7aPTB/n1fnQjJEoW1pxVQ+nIReX92fc4N87FEYv4p
yx4Ef8VOudcehHObI7szJAAPlJL7Rie/WO3uyF2iCs6pZDim0WT7c1BEpoXW5R/G
Co3wjGyihvgL+yYbAzsau0FYJla5rAukewszetxbr8xqD7Srm4pNQv1Q+R8YH4vx
ORjmzFsqLBYMcGK0DRmeBm9iib3A3yOQNYDR65IaoQKBgQDmyzRui6iwE4pJd/uI
aYW9s1gzQ93klIjf24uF+K7Y/1M0m8MsRwuuZezeVGJZHJdfKt+j66g0ayl3gU26
r9nBlGq0GIZivLvXiyzJB/HpZKhQjnftM/GfB/jWvceq7cjptzZimN1Q57SDSXHz
uW+MT/w523h42X9xzriilz4dcQKBgQDRJkHvHKDwIcW7742nCLV1tzAOrnILqOse
PpxTuxeVRdiWjOoOOzbbYewZgJoSejpty3AuFDyayAxDZRDWdpMFEf+IHKy717qM
fjfWHInobJnB48gTVwj8v8HaZ/4Q1E9qJ2QloW3UEsASz/yxKCg5vpXEP1y2nc6k
j7mZsaKgowKBgQDODuW8QUMWGgwgtlhEnfpDuelotBJcMGXYgHsc3UC3C5etY9ip
IrGCPwxyIKNCbq2T0YKlJxUh3//A7BiLMtBX7nwqWa86XsnTkzYkMszBFhbU/a6D
gRocZBC/Iegwa2czjFmpRFRtFMLtaNitw4WdoBhRS+tO8tm/sdLVj/VscQKBgEo+
KmmW4Apd8rMj9kS08rU2sfiENDevXsb9ssCGSXjTsm6+1tb2biKyP/1NiWPFv7f5
33h79od7O98woSmALfA+01ad1zNXAQGeTHPU7Z9z7aDGGt/CpY4TA91jzOxscURd
d09kXnhJr6T979VzS9QzszZWx7KLki8YVeoZBIHBAoGAbQfJzvL4aP1k91qsEvGA
iqZaRwR1PSQdymAl1o6OS+/OyWT5ZB100XNGT5ADMLyZQ2FysS88ucfoinhD4QaV
YrXFMQOM2cgrMoupQSxpBQjFreW1o7v+y2Yw1jGdpG8XQ+njwV751bB5BI6YBWab
QudioMXl3Nmz0OFf4fk26EU=
-----END PRIVATE KEY-----
";

    fn names() -> ServingNames {
        ServingNames::standard(std::net::IpAddr::from([10, 96, 0, 1]), &[])
    }

    fn der(pem: &str) -> Vec<u8> {
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap().to_vec()
    }

    /// The subject RDN by RDN, each as its attributes' `type=value`.
    fn rdns(certificate: &X509Certificate<'_>) -> Vec<Vec<String>> {
        let registry = x509_parser::objects::oid_registry();
        let attribute = |a: &x509_parser::x509::AttributeTypeAndValue<'_>| {
            let kind = x509_parser::objects::oid2abbrev(a.attr_type(), registry).unwrap();
            format!("{kind}={}", a.as_str().unwrap())
        };
        certificate.subject().iter().map(|rdn| rdn.iter().map(attribute).collect()).collect()
    }

    /// Checks `certificate` (DER) as kube-apiserver's TLS listener does: issued by the PKI's
    /// CA, for client authentication, signature and validity checked by rustls (webpki).
    fn assert_verifies_as_a_client(pki: &Pki, certificate: &[u8]) {
        let ca_der = der(&pki.ca_cert_pem);
        let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(certificate).unwrap();
        parsed.verify_signature(Some(ca.public_key())).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from(ca_der.clone())).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
        let now = rustls_pki_types::UnixTime::now();
        verifier.verify_client_cert(&CertificateDer::from(certificate), &[], now).unwrap();
    }

    #[test]
    fn a_client_certificate_carries_every_group_as_an_o_of_its_own() {
        let pki = Pki::generate(&names()).unwrap();
        let issued = pki.issue_client_cert("alice", &["dev", "qa", "system:masters"]).unwrap();
        let certificate = der(&issued.cert_pem);
        let (_, parsed) = x509_parser::parse_x509_certificate(&certificate).unwrap();
        assert_eq!(rdns(&parsed), [["O=dev"], ["O=qa"], ["O=system:masters"], ["CN=alice"]]);
        assert_verifies_as_a_client(&pki, &certificate);
        assert!(parsed.extended_key_usage().unwrap().unwrap().value.client_auth);
        assert!(parsed.key_usage().unwrap().unwrap().value.digital_signature());
        let authority_key = x509_parser::oid_registry::OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER;
        assert!(parsed.get_extension_unique(&authority_key).unwrap().is_some());
        let subject = certificate_subject(&certificate).unwrap();
        assert_eq!(
            (subject.user.as_str(), subject.groups),
            ("alice", vec!["dev".into(), "qa".into(), "system:masters".into()])
        );
    }

    #[test]
    fn with_one_group_at_most_rcgen_already_writes_the_subject() {
        let pki = Pki::generate(&names()).unwrap();
        for groups in [&[][..], &["dev"]] {
            let issued = pki.issue_client_cert("alice", groups).unwrap();
            let certificate = der(&issued.cert_pem);
            let (_, parsed) = x509_parser::parse_x509_certificate(&certificate).unwrap();
            assert_eq!(parsed.subject().as_raw(), client_subject("alice", groups));
        }
    }

    #[test]
    fn an_rsa_ca_signs_with_rsa() {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::from_pem(RSA_CA_KEY).unwrap();
        let ca = ca_params("kubernetes").self_signed(&key).unwrap();
        std::fs::write(dir.path().join("ca.crt"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("ca.key"), RSA_CA_KEY).unwrap();
        let pki = Pki::load_or_generate(dir.path(), &names()).unwrap();
        let issued = pki.issue_client_cert("alice", &["dev", "qa"]).unwrap();
        let certificate = der(&issued.cert_pem);
        let (_, parsed) = x509_parser::parse_x509_certificate(&certificate).unwrap();
        assert_eq!(parsed.signature_algorithm.algorithm, x509_parser::oid_registry::OID_PKCS1_SHA256WITHRSA);
        assert_eq!(rdns(&parsed), [["O=dev"], ["O=qa"], ["CN=alice"]]);
        assert_verifies_as_a_client(&pki, &certificate);
    }

    #[test]
    fn a_signed_request_keeps_its_dns_ip_email_and_uri_names() {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(["n1.example".to_string()]).unwrap();
        params.subject_alt_names.push(rcgen::SanType::IpAddress(std::net::IpAddr::from([10, 0, 0, 1])));
        params.subject_alt_names.push(rcgen::SanType::IpAddress("fd00::1".parse().unwrap()));
        params.subject_alt_names.push(rcgen::SanType::Rfc822Name("n1@example.com".try_into().unwrap()));
        params.subject_alt_names.push(rcgen::SanType::URI("spiffe://example/n1".try_into().unwrap()));
        let request_pem = params.serialize_request(&key).unwrap().pem().unwrap();
        let pki = Pki::generate(&names()).unwrap();
        let signed = pki.sign_csr(&request_pem, &["server auth"], std::time::Duration::from_secs(3600)).unwrap();
        let certificate = der(&signed);
        let (_, parsed) = x509_parser::parse_x509_certificate(&certificate).unwrap();
        let names = parsed.subject_alternative_name().unwrap().unwrap().value.general_names.iter();
        let names: Vec<String> = names.map(|name| name.to_string()).collect();
        assert_eq!(names.len(), 5, "{names:?}");
        for expected in ["n1.example", "0a:00:00:01", "fd:00:", "n1@example.com", "spiffe://example/n1"] {
            assert!(names.iter().any(|name| name.contains(expected)), "{expected} missing from {names:?}");
        }
    }

    #[test]
    fn a_signed_request_keeps_every_attribute_in_gos_order_one_per_rdn() {
        // CN=carol, then O=qa+O=ops in one RDN as Go writes them, then C=DE as a PrintableString.
        let attribute = |number: u8, tag: u8, value: &str| {
            tlv(SEQUENCE, &[tlv(OBJECT_IDENTIFIER, &x520_type(number)), tlv(tag, value.as_bytes())].concat())
        };
        let organizations = [attribute(ORGANIZATION, UTF8_STRING, "qa"), attribute(ORGANIZATION, UTF8_STRING, "ops")];
        let rdns_requested = [
            tlv(SET, &attribute(COMMON_NAME, UTF8_STRING, "carol")),
            tlv(SET, &organizations.concat()),
            tlv(SET, &attribute(6, 0x13, "DE")),
        ];
        let key = KeyPair::generate().unwrap();
        let info = tlv(
            SEQUENCE,
            &[
                &[0x02, 0x01, 0x00][..],
                &tlv(SEQUENCE, &rdns_requested.concat()),
                &key.subject_public_key_info(),
                &[0xa0, 0x00],
            ]
            .concat(),
        );
        let ecdsa_with_sha256 = [0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
        let signature = [&[0u8][..], &key.sign(&info).unwrap()].concat();
        let request = tlv(SEQUENCE, &[&info[..], &ecdsa_with_sha256, &tlv(BIT_STRING, &signature)].concat());
        let request_pem = pem("CERTIFICATE REQUEST", &request);
        assert_eq!(super::super::read_csr(request_pem.as_bytes()).unwrap().organizations, ["qa", "ops"]);

        let pki = Pki::generate(&names()).unwrap();
        let signed = pki.sign_csr(&request_pem, &["client auth"], std::time::Duration::from_secs(3600)).unwrap();
        let certificate = der(&signed);
        let (_, parsed) = x509_parser::parse_x509_certificate(&certificate).unwrap();
        assert_eq!(rdns(&parsed), [["C=DE"], ["O=qa"], ["O=ops"], ["CN=carol"]]);
        assert_verifies_as_a_client(&pki, &certificate);
        assert!(
            parsed.subject().iter_country().next().unwrap().attr_value().header.tag()
                == x509_parser::asn1_rs::Tag::PrintableString
        );
        assert_eq!(certificate_subject(&certificate).unwrap().groups, ["qa", "ops"]);
    }
}
