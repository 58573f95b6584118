//! End-to-end: CertificateSigningRequests as `kubectl certificate` and kube-rs users meet them.
//! The server stamps the requester into the spec, the spec never changes, `approval` changes
//! only the conditions, and the in-process signer issues a client certificate from the cluster
//! CA once a request is approved, one that then authenticates as the request's subject (CN the
//! user, O the groups). Denied requests are never signed; requests breaking their signer's rules
//! are marked Failed as kube-controller-manager marks them.

use k8s_openapi::ByteString;
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::certificates::v1::{CertificateSigningRequest, CertificateSigningRequestCondition};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kubetwin_harness::TestServer;
use rcgen::{CertificateParams, DnType, KeyPair};
use serde_json::json;
use std::time::Duration;

const CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client";

/// A fresh ECDSA P-256 key (PEM) and a certificate request for `user` in up to two `groups`
/// (PEM), each group an O of its own. rcgen keeps one value per attribute type, so the second O
/// goes in under a custom type with O's OID.
fn key_and_request(user: &str, groups: &[&str]) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    let organizations = [DnType::OrganizationName, DnType::CustomDnType(vec![2, 5, 4, 10])];
    assert!(groups.len() <= organizations.len(), "rcgen writes two O values at most");
    for (organization, group) in organizations.into_iter().zip(groups) {
        params.distinguished_name.push(organization, *group);
    }
    params.distinguished_name.push(DnType::CommonName, user);
    let request = params.serialize_request(&key).unwrap().pem().unwrap();
    (key.serialize_pem(), request)
}

fn csr(name: &str, request_pem: &str, signer: &str, usages: &[&str]) -> CertificateSigningRequest {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "request": ByteString(request_pem.as_bytes().to_vec()),
            "signerName": signer,
            "usages": usages,
            "username": "mallory",
            "groups": ["system:masters"],
        },
    }))
    .unwrap()
}

fn status_of(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Adds a condition through the `approval` subresource, as `kubectl certificate approve|deny`.
async fn decide(csrs: &Api<CertificateSigningRequest>, name: &str, kind: &str) -> CertificateSigningRequest {
    let condition =
        json!({"type": kind, "status": "True", "reason": "TestDecision", "message": format!("{kind} by the test")});
    let patch = json!({"status": {"conditions": [condition]}});
    csrs.patch_approval(name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap()
}

/// Polls until the request has a certificate (PEM), for at most five seconds.
async fn issued_certificate(csrs: &Api<CertificateSigningRequest>, name: &str) -> String {
    for _ in 0..100 {
        let current = csrs.get(name).await.unwrap();
        if let Some(ByteString(certificate)) = current.status.and_then(|s| s.certificate) {
            return String::from_utf8(certificate).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} was not signed within five seconds");
}

fn conditions(csr: &CertificateSigningRequest) -> Vec<CertificateSigningRequestCondition> {
    csr.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default()
}

async fn client_from_certificate(twin: &TestServer, cert_pem: &str, key_pem: &str, user: &str) -> kube::Client {
    let ca = &twin.server().pki().ca_cert_pem;
    let kubeconfig = kubetwin::server::kubeconfig(&twin.url(), ca, cert_pem, key_pem, user);
    let kubeconfig = Kubeconfig::from_yaml(&kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

#[tokio::test]
async fn an_approved_request_is_signed_and_its_certificate_authenticates_the_subject() {
    let twin = TestServer::start().await.unwrap();
    let csrs: Api<CertificateSigningRequest> = Api::all(twin.client());
    let (key_pem, request_pem) = key_and_request("carol", &["qa", "ops"]);
    let created = csrs
        .create(&PostParams::default(), &csr("carol", &request_pem, CLIENT_SIGNER, &["client auth"]))
        .await
        .unwrap();
    assert_eq!(created.spec.username.as_deref(), Some("kubetwin-admin"), "the requester, not the client's claim");
    let groups = created.spec.groups.clone().unwrap_or_default();
    assert!(groups.contains(&"system:authenticated".to_string()), "{groups:?}");
    assert!(created.status.as_ref().and_then(|s| s.certificate.as_ref()).is_none());

    let approved = decide(&csrs, "carol", "Approved").await;
    let condition = &conditions(&approved)[0];
    assert_eq!((condition.type_.as_str(), condition.status.as_str()), ("Approved", "True"));
    assert!(condition.last_update_time.is_some() && condition.last_transition_time.is_some(), "{condition:?}");

    let certificate = issued_certificate(&csrs, "carol").await;
    assert!(certificate.starts_with("-----BEGIN CERTIFICATE-----"), "{certificate}");
    let signed = csrs.get("carol").await.unwrap();
    let managers: Vec<_> =
        signed.metadata.managed_fields.unwrap_or_default().into_iter().map(|m| (m.manager, m.subresource)).collect();
    assert!(managers.contains(&(Some("kube-controller-manager".into()), Some("status".into()))), "{managers:?}");

    let carol = client_from_certificate(&twin, &certificate, &key_pem, "carol").await;
    let review: SelfSubjectReview =
        serde_json::from_value(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})).unwrap();
    let reviewed = Api::<SelfSubjectReview>::all(carol).create(&PostParams::default(), &review).await.unwrap();
    let user = reviewed.status.and_then(|s| s.user_info).unwrap();
    assert_eq!(user.username.as_deref(), Some("carol"));
    assert_eq!(user.groups.unwrap_or_default(), ["qa", "ops", "system:authenticated"], "every O of the request");
}

#[tokio::test]
async fn approval_changes_only_conditions_and_the_spec_never_changes() {
    let twin = TestServer::start().await.unwrap();
    let csrs: Api<CertificateSigningRequest> = Api::all(twin.client());
    let (_, request_pem) = key_and_request("dave", &[]);
    // A signer kubetwin does not serve: nothing signs it, so every change below is the client's.
    let created = csrs
        .create(&PostParams::default(), &csr("dave", &request_pem, "example.com/custom", &["client auth"]))
        .await
        .unwrap();

    let self_approval = json!({"status": {"conditions": [{"type": "Approved", "status": "True", "reason": "Mine"}]}});
    let refused =
        status_of(csrs.patch_status("dave", &PatchParams::default(), &Patch::Merge(&self_approval)).await.unwrap_err());
    assert_eq!(refused.code, 422);
    assert!(
        refused.message.contains("status.conditions: Forbidden: updates may not add a condition of type \"Approved\""),
        "only the approval subresource approves: {}",
        refused.message
    );

    let sneaky = json!({"spec": {"usages": ["server auth"]}, "status": {"certificate": "bm9wZQ==",
        "conditions": [{"type": "Approved", "status": "True", "reason": "KubectlApprove", "message": "This CSR was approved by kubectl certificate approve."}]}});
    let approved = csrs.patch_approval("dave", &PatchParams::default(), &Patch::Merge(&sneaky)).await.unwrap();
    assert_eq!(approved.spec, created.spec, "approval keeps the spec");
    assert!(approved.status.as_ref().unwrap().certificate.is_none(), "approval sets no certificate");
    assert_eq!(conditions(&approved)[0].reason.as_deref(), Some("KubectlApprove"));

    let mut edited = approved.clone();
    edited.spec.usages = Some(vec!["server auth".into()]);
    edited.spec.username = Some("mallory".into());
    let replaced = csrs.replace("dave", &PostParams::default(), &edited).await.unwrap();
    assert_eq!(replaced.spec, created.spec, "the main resource keeps the spec too");

    let mut unapproved = replaced.clone();
    unapproved.status.as_mut().unwrap().conditions = Some(Vec::new());
    let refused = status_of(csrs.replace_status("dave", &PostParams::default(), &unapproved).await.unwrap_err());
    assert_eq!(refused.code, 422);
    assert!(
        refused
            .message
            .contains("status.conditions: Forbidden: updates may not remove a condition of type \"Approved\""),
        "{}",
        refused.message
    );

    let denial = json!({"status": {"conditions": [
        {"type": "Approved", "status": "True", "reason": "KubectlApprove"},
        {"type": "Failed", "status": "True", "reason": "Test"},
        {"type": "Denied", "status": "True", "reason": "Test"}]}});
    let refused =
        status_of(csrs.patch_status("dave", &PatchParams::default(), &Patch::Merge(&denial)).await.unwrap_err());
    assert!(refused.message.contains("Approved and Denied conditions are mutually exclusive"), "{}", refused.message);
}

#[tokio::test]
async fn invalid_requests_are_refused_with_kube_apiserver_wording() {
    let twin = TestServer::start().await.unwrap();
    let csrs: Api<CertificateSigningRequest> = Api::all(twin.client());
    let (key_pem, request_pem) = key_and_request("erin", &[]);
    let mut bad = csr("erin", &key_pem, "", &[]);
    bad.spec.usages = None;
    bad.spec.expiration_seconds = Some(60);
    let refused = status_of(csrs.create(&PostParams::default(), &bad).await.unwrap_err());
    assert_eq!((refused.code, refused.reason.as_str()), (422, "Invalid"));
    for expected in [
        "CertificateSigningRequest.certificates.k8s.io \"erin\" is invalid",
        "spec.request: Invalid value",
        "PEM block type must be CERTIFICATE REQUEST",
        "spec.usages: Required value: usages must be provided",
        "spec.signerName: Required value: signerName must be provided",
        "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds (10 minutes)",
    ] {
        assert!(refused.message.contains(expected), "{expected} missing from {}", refused.message);
    }

    let legacy = csr("erin", &request_pem, "kubernetes.io/legacy-unknown", &["client auth", "client auth", "jumping"]);
    let refused = status_of(csrs.create(&PostParams::default(), &legacy).await.unwrap_err());
    for expected in [
        "spec.signerName: Invalid value: \"kubernetes.io/legacy-unknown\": the legacy signerName is not allowed via this API version",
        "spec.usages[1]: Duplicate value: \"client auth\"",
        "spec.usages[2]: Unsupported value: \"jumping\"",
    ] {
        assert!(refused.message.contains(expected), "{expected} missing from {}", refused.message);
    }
    let unqualified = csr("erin", &request_pem, "custom", &["client auth"]);
    let refused = status_of(csrs.create(&PostParams::default(), &unqualified).await.unwrap_err());
    assert!(
        refused.message.contains("must be a fully qualified domain and path of the form 'example.com/signer-name'"),
        "{}",
        refused.message
    );
}

#[tokio::test]
async fn denied_requests_are_never_signed_and_rule_breakers_fail() {
    let twin = TestServer::start().await.unwrap();
    let csrs: Api<CertificateSigningRequest> = Api::all(twin.client());
    let (_, request_pem) = key_and_request("frank", &["qa"]);
    csrs.create(&PostParams::default(), &csr("denied", &request_pem, CLIENT_SIGNER, &["client auth"])).await.unwrap();
    decide(&csrs, "denied", "Denied").await;
    let usages = ["digital signature", "key encipherment"];
    csrs.create(&PostParams::default(), &csr("no-client-auth", &request_pem, CLIENT_SIGNER, &usages)).await.unwrap();
    decide(&csrs, "no-client-auth", "Approved").await;
    // The signer handles events in order: once a later request is signed, it has seen these.
    csrs.create(&PostParams::default(), &csr("later", &request_pem, CLIENT_SIGNER, &["client auth"])).await.unwrap();
    decide(&csrs, "later", "Approved").await;
    issued_certificate(&csrs, "later").await;

    let denied = csrs.get("denied").await.unwrap();
    assert!(denied.status.as_ref().unwrap().certificate.is_none(), "a denied request was signed");
    let failed = csrs.get("no-client-auth").await.unwrap();
    assert!(failed.status.as_ref().unwrap().certificate.is_none());
    let failure = conditions(&failed).into_iter().find(|c| c.type_ == "Failed").expect("a Failed condition");
    assert_eq!(failure.status, "True");
    assert_eq!(failure.reason.as_deref(), Some("SignerValidationFailure"));
    assert_eq!(failure.message.as_deref(), Some("missing required usage for client certificate: client auth"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_certificate_approve_gets_a_request_signed() {
    let twin = TestServer::start().await.unwrap();
    let csrs: Api<CertificateSigningRequest> = Api::all(twin.client());
    let (_, request_pem) = key_and_request("grace", &["qa"]);
    let usages = ["digital signature", "key encipherment", "client auth"];
    csrs.create(&PostParams::default(), &csr("grace", &request_pem, CLIENT_SIGNER, &usages)).await.unwrap();

    let pending = twin.kubectl(&["get", "csr", "grace"]).await;
    assert!(pending.ok().lines().any(|l| l.starts_with("grace") && l.contains("Pending")), "{}", pending.ok());
    let approved = twin.kubectl(&["certificate", "approve", "grace"]).await;
    assert_eq!(approved.ok().trim(), "certificatesigningrequest.certificates.k8s.io/grace approved");
    issued_certificate(&csrs, "grace").await;
    let condition = &conditions(&csrs.get("grace").await.unwrap())[0];
    assert_eq!(
        (condition.type_.as_str(), condition.reason.as_deref(), condition.message.as_deref()),
        ("Approved", Some("KubectlApprove"), Some("This CSR was approved by kubectl certificate approve."))
    );
    let listed = twin.kubectl(&["get", "csr", "grace"]).await;
    assert!(listed.ok().lines().any(|l| l.starts_with("grace") && l.contains("Approved,Issued")), "{}", listed.ok());
}
