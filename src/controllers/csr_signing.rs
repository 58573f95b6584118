//! The CertificateSigningRequest signer, as kube-controller-manager's `csrsigning` controllers
//! run it when given the cluster CA (`--cluster-signing-cert-file`): an approved request
//! (Approved, neither Denied nor Failed, no certificate yet) for one of the signers it serves
//! (`kubernetes.io/kube-apiserver-client`, `kube-apiserver-client-kubelet`, `kubelet-serving`
//! and `legacy-unknown`) is checked against that signer's rules and either signed with the
//! cluster CA, `status.certificate` written through the `status` subresource, or marked
//! `Failed` with reason `SignerValidationFailure`. Certificates last `spec.expirationSeconds`
//! (at least ten minutes) or, at most and by default, a year (`--cluster-signing-duration`).

use super::{Controller, Object};
use crate::instance::Instance;
use crate::pki::{Pki, RequestedSubject};
use crate::registry::Scope;
use crate::registry::csr::{bytes_field, has_true_condition, is_csr};
use crate::registry::rest::WriteOptions;
use base64::Engine;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

const MANAGER: &str = "kube-controller-manager";
/// kube-controller-manager's `--cluster-signing-duration` default: 8760h.
const DEFAULT_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// The shortest certificate the signer issues, whatever `spec.expirationSeconds` asks.
const MIN_DURATION: Duration = Duration::from_secs(600);

const KUBE_APISERVER_CLIENT: &str = "kubernetes.io/kube-apiserver-client";
const KUBE_APISERVER_CLIENT_KUBELET: &str = "kubernetes.io/kube-apiserver-client-kubelet";
const KUBELET_SERVING: &str = "kubernetes.io/kubelet-serving";

/// CertificateSigningRequests due for a look.
#[derive(Debug, Default)]
pub struct CsrSigningController {
    due: BTreeSet<String>,
}

impl Controller for CsrSigningController {
    fn reset(&mut self) {
        self.due.clear();
    }

    fn observe(&mut self, _instance: &Instance, object: &Object) {
        if is_csr(&object.resource) && !object.deleting {
            self.due.insert(object.name.clone());
        }
    }

    fn forget(&mut self, _instance: &Instance, object: &Object) {
        if is_csr(&object.resource) {
            self.due.remove(&object.name);
        }
    }

    fn reconcile(&mut self, instance: &Instance) {
        let Some(ca) = instance.auth.cluster_signer.get() else {
            self.due.clear();
            return;
        };
        while let Some(name) = self.due.pop_first() {
            sync(instance, ca, &name);
        }
    }
}

/// What the signer does with one request.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Not (or not yet) this signer's to sign.
    Skip,
    /// The request breaks its signer's rules: a `Failed` condition with this message.
    Failed(String),
    /// The issued certificate, PEM.
    Issued(String),
}

fn sync(instance: &Instance, ca: &Pki, name: &str) {
    let Some(resource) = instance.resource("certificates.k8s.io", "v1", "certificatesigningrequests") else { return };
    let scope = Scope { instance, resource, namespace: None };
    let options = WriteOptions { field_manager: MANAGER.into(), ..WriteOptions::default() };
    let written = scope.guaranteed_update(name, "status", &options, None, |current| {
        let mut csr = current.clone();
        match outcome(ca, current) {
            Outcome::Skip => {}
            Outcome::Failed(message) => {
                let failed = json!({"type": "Failed", "status": "True", "reason": "SignerValidationFailure",
                    "message": message, "lastUpdateTime": instance.now_rfc3339()});
                let status = csr.as_object_mut().expect("objects").entry("status").or_insert_with(|| json!({}));
                match status.get_mut("conditions").and_then(Value::as_array_mut) {
                    Some(conditions) => conditions.push(failed),
                    None => status["conditions"] = json!([failed]),
                }
            }
            Outcome::Issued(pem) => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(pem);
                csr.as_object_mut().expect("objects").entry("status").or_insert_with(|| json!({}))["certificate"] =
                    json!(encoded);
            }
        }
        Ok(csr)
    });
    if let Err(error) = written {
        tracing::warn!(csr = name, %error, "signing a CertificateSigningRequest");
    }
}

/// The signer's decision on `csr` (kube-controller-manager's `signer.handle`).
fn outcome(ca: &Pki, csr: &Value) -> Outcome {
    let approved = has_true_condition(csr, "Approved") && !has_true_condition(csr, "Denied");
    let issued = csr.pointer("/status/certificate").and_then(Value::as_str).is_some_and(|c| !c.is_empty());
    if !approved || has_true_condition(csr, "Failed") || issued {
        return Outcome::Skip;
    }
    let signer = csr.pointer("/spec/signerName").and_then(Value::as_str).unwrap_or_default();
    let Some(pem) = bytes_field(csr, "/spec/request") else { return Outcome::Skip };
    let Ok(subject) = crate::pki::read_csr(&pem) else { return Outcome::Skip };
    let usages: Vec<&str> =
        csr.pointer("/spec/usages").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let checked = match signer {
        KUBE_APISERVER_CLIENT => api_server_client_usages(&usages),
        KUBE_APISERVER_CLIENT_KUBELET => kubelet_client(&subject, &usages),
        KUBELET_SERVING => kubelet_serving(&subject, &usages),
        crate::registry::csr::LEGACY_UNKNOWN_SIGNER => Ok(()),
        _ => return Outcome::Skip,
    };
    if let Err(message) = checked {
        return Outcome::Failed(message);
    }
    let requested = csr.pointer("/spec/expirationSeconds").and_then(Value::as_u64).map(Duration::from_secs);
    let duration = requested.map_or(DEFAULT_DURATION, |d| d.clamp(MIN_DURATION, DEFAULT_DURATION));
    match ca.sign_csr(&String::from_utf8_lossy(&pem), &usages, duration) {
        Ok(certificate) => Outcome::Issued(certificate),
        Err(error) => {
            tracing::warn!(%error, "error auto signing csr");
            Outcome::Skip
        }
    }
}

/// `validAPIServerClientUsages`: client auth, optionally digital signature and key encipherment.
fn api_server_client_usages(usages: &[&str]) -> Result<(), String> {
    if let Some(other) =
        usages.iter().find(|u| !matches!(**u, "digital signature" | "key encipherment" | "client auth"))
    {
        return Err(format!("invalid usage for client certificate: {other}"));
    }
    if !usages.contains(&"client auth") {
        return Err("missing required usage for client certificate: client auth".into());
    }
    Ok(())
}

fn exact_usages(usages: &[&str], required: &[&str], without_key_encipherment: &[&str]) -> Result<(), String> {
    let set: BTreeSet<&str> = usages.iter().copied().collect();
    let matches = |wanted: &[&str]| set == wanted.iter().copied().collect::<BTreeSet<_>>();
    if matches(required) || matches(without_key_encipherment) {
        Ok(())
    } else {
        Err(format!("usages did not match [{}]", required.join(" ")))
    }
}

fn from_nodes(subject: &RequestedSubject) -> Result<(), String> {
    if subject.organizations != ["system:nodes"] {
        return Err("subject organization is not system:nodes".into());
    }
    Ok(())
}

fn node_common_name(subject: &RequestedSubject) -> Result<(), String> {
    if !subject.common_name.starts_with("system:node:") {
        return Err("subject common name does not begin with system:node:".into());
    }
    Ok(())
}

/// `ValidateKubeletClientCSR`.
fn kubelet_client(subject: &RequestedSubject, usages: &[&str]) -> Result<(), String> {
    from_nodes(subject)?;
    let sans =
        [(subject.dns_names, "DNS"), (subject.emails, "Email"), (subject.ip_addresses, "IP"), (subject.uris, "URI")];
    if let Some((_, kind)) = sans.iter().find(|(count, _)| *count > 0) {
        return Err(format!("{kind} subjectAltNames are not allowed"));
    }
    node_common_name(subject)?;
    exact_usages(
        usages,
        &["client auth", "digital signature", "key encipherment"],
        &["client auth", "digital signature"],
    )
}

/// `ValidateKubeletServingCSR`.
fn kubelet_serving(subject: &RequestedSubject, usages: &[&str]) -> Result<(), String> {
    from_nodes(subject)?;
    if subject.dns_names == 0 && subject.ip_addresses == 0 {
        return Err("DNS or IP subjectAltName is required".into());
    }
    if subject.emails > 0 {
        return Err("Email subjectAltNames are not allowed".into());
    }
    if subject.uris > 0 {
        return Err("URI subjectAltNames are not allowed".into());
    }
    exact_usages(
        usages,
        &["digital signature", "key encipherment", "server auth"],
        &["digital signature", "server auth"],
    )?;
    node_common_name(subject)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::ServingNames;
    use rcgen::{CertificateParams, DnType, KeyPair, SanType};

    fn request(common_name: &str, organizations: &[&str], sans: Vec<SanType>) -> String {
        let mut params = CertificateParams::default();
        for organization in organizations {
            params.distinguished_name.push(DnType::OrganizationName, *organization);
        }
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.subject_alt_names = sans;
        params.serialize_request(&KeyPair::generate().unwrap()).unwrap().pem().unwrap()
    }

    fn csr(pem: &str, signer: &str, usages: &[&str], conditions: Value) -> Value {
        let request = base64::engine::general_purpose::STANDARD.encode(pem);
        json!({"spec": {"request": request, "signerName": signer, "usages": usages}, "status": {"conditions": conditions}})
    }

    fn approved() -> Value {
        json!([{"type": "Approved", "status": "True"}])
    }

    fn certificate_der(pem: &str) -> rustls_pki_types::CertificateDer<'static> {
        rustls_pki_types::pem::PemObject::from_pem_slice(pem.as_bytes()).unwrap()
    }

    fn ca() -> Pki {
        Pki::generate(&ServingNames::standard([10, 96, 0, 1].into(), &[])).unwrap()
    }

    #[test]
    fn an_approved_client_request_is_signed_with_its_subject_usages_and_a_year() {
        let ca = ca();
        let pem = request("carol", &["qa"], vec![]);
        let usages = ["digital signature", "key encipherment", "client auth"];
        let Outcome::Issued(certificate) = outcome(&ca, &csr(&pem, KUBE_APISERVER_CLIENT, &usages, approved())) else {
            panic!("not signed")
        };
        let der = certificate_der(&certificate);
        let subject = crate::pki::certificate_subject(&der).unwrap();
        assert_eq!((subject.user.as_str(), subject.groups), ("carol", vec!["qa".to_string()]));
        assert_eq!(crate::pki::bundle_subjects(&ca.ca_cert_pem).unwrap(), [subject.issuer]);
        let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
        let lifetime = parsed.validity().not_after.timestamp() - parsed.validity().not_before.timestamp();
        assert_eq!(lifetime, DEFAULT_DURATION.as_secs() as i64);
        assert!(parsed.extended_key_usage().unwrap().unwrap().value.client_auth);
        let key_usage = parsed.key_usage().unwrap().unwrap().value;
        assert!(key_usage.digital_signature() && key_usage.key_encipherment() && !key_usage.key_cert_sign());
        assert!(!parsed.is_ca());
    }

    #[test]
    fn short_expirations_are_raised_to_ten_minutes_and_not_backdated_at_the_end() {
        let ca = ca();
        let mut request = csr(&request("dave", &[], vec![]), KUBE_APISERVER_CLIENT, &["client auth"], approved());
        request["spec"]["expirationSeconds"] = json!(60);
        let Outcome::Issued(certificate) = outcome(&ca, &request) else { panic!("not signed") };
        let der = certificate_der(&certificate);
        let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
        let lifetime = parsed.validity().not_after.timestamp() - parsed.validity().not_before.timestamp();
        assert_eq!(lifetime, (MIN_DURATION.as_secs() + 300) as i64, "five minutes of backdating");
    }

    #[test]
    fn only_approved_unissued_requests_for_known_signers_are_signed() {
        let ca = ca();
        let pem = request("erin", &[], vec![]);
        let usages = ["client auth"];
        let denied = json!([{"type": "Denied", "status": "True"}]);
        assert_eq!(outcome(&ca, &csr(&pem, KUBE_APISERVER_CLIENT, &usages, denied)), Outcome::Skip);
        assert_eq!(outcome(&ca, &csr(&pem, KUBE_APISERVER_CLIENT, &usages, json!([]))), Outcome::Skip);
        assert_eq!(outcome(&ca, &csr(&pem, "example.com/other", &usages, approved())), Outcome::Skip);
        let mut issued = csr(&pem, KUBE_APISERVER_CLIENT, &usages, approved());
        issued["status"]["certificate"] = json!("LS0t");
        assert_eq!(outcome(&ca, &issued), Outcome::Skip);
    }

    #[test]
    fn requests_breaking_their_signers_rules_fail_with_the_real_messages() {
        let ca = ca();
        let failed =
            |pem: &str, signer: &str, usages: &[&str]| match outcome(&ca, &csr(pem, signer, usages, approved())) {
                Outcome::Failed(message) => message,
                other => panic!("expected a failure, got {other:?}"),
            };
        let carol = request("carol", &["qa"], vec![]);
        assert_eq!(
            failed(&carol, KUBE_APISERVER_CLIENT, &["digital signature"]),
            "missing required usage for client certificate: client auth"
        );
        assert_eq!(
            failed(&carol, KUBE_APISERVER_CLIENT, &["client auth", "server auth"]),
            "invalid usage for client certificate: server auth"
        );
        assert_eq!(
            failed(&carol, KUBE_APISERVER_CLIENT_KUBELET, &["client auth"]),
            "subject organization is not system:nodes"
        );
        let node = request("system:node:n1", &["system:nodes"], vec![]);
        assert_eq!(
            failed(&node, KUBE_APISERVER_CLIENT_KUBELET, &["client auth"]),
            "usages did not match [client auth digital signature key encipherment]"
        );
        assert_eq!(
            failed(&node, KUBELET_SERVING, &["digital signature", "server auth"]),
            "DNS or IP subjectAltName is required"
        );
        let serving = request("system:node:n1", &["system:nodes"], vec![SanType::DnsName("n1".try_into().unwrap())]);
        let usages = ["digital signature", "server auth"];
        assert!(matches!(outcome(&ca, &csr(&serving, KUBELET_SERVING, &usages, approved())), Outcome::Issued(_)));
        assert_eq!(failed(&serving, KUBE_APISERVER_CLIENT_KUBELET, &usages), "DNS subjectAltNames are not allowed");
    }
}
