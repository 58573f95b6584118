//! Test fixtures the auth unit tests share: an instance with a fixed clock, a ServiceAccount
//! signing key and the ServiceAccount `default/robot`; an authorization webhook's kubeconfig.

use super::tokens::{DEFAULT_ISSUER, TokenSigner};
use crate::clock::{FixedClock, RandomIds};
use crate::instance::{Instance, InstanceConfig};
use crate::registry::Scope;
use crate::registry::rest::WriteOptions;
use crate::registry::strategy::meta_str;
use serde_json::json;
use std::sync::Arc;

/// The fixed clock's start: 2023-11-14T22:13:20Z.
pub const NOW: i64 = 1_700_000_000;

/// An instance at [`NOW`] with a signing key (also returned) and the ServiceAccount
/// `default/robot`, whose uid is returned.
pub fn instance_with_robot() -> (Instance, Arc<FixedClock>, TokenSigner, String) {
    let clock = Arc::new(FixedClock::at_unix_seconds(NOW));
    let instance = Instance::new(InstanceConfig::default(), clock.clone(), Arc::new(RandomIds));
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let signer = TokenSigner::from_pkcs8(&key.serialize_der(), DEFAULT_ISSUER, Vec::new()).unwrap();
    instance.auth.signer.set(signer.clone()).unwrap();
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}});
    core(&instance, "namespaces", None).create(namespace, &WriteOptions::default()).unwrap();
    let account = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}});
    let created =
        core(&instance, "serviceaccounts", Some("default")).create(account, &WriteOptions::default()).unwrap();
    let uid = meta_str(&created.object.to_value(), "uid").to_string();
    (instance, clock, signer, uid)
}

/// A core (`v1`) resource of `instance`.
pub fn core<'a>(instance: &'a Instance, plural: &str, namespace: Option<&'a str>) -> Scope<'a> {
    Scope { instance, resource: instance.resource("", "v1", plural).unwrap(), namespace }
}

/// A kubeconfig naming an HTTPS authorization webhook at `https://127.0.0.1:9443/authorize`,
/// with a CA and a client certificate of a fresh PKI.
pub fn webhook_kubeconfig() -> String {
    let pki = crate::pki::Pki::generate(&crate::pki::ServingNames::standard([10, 0, 0, 1].into(), &[])).unwrap();
    crate::server::kubeconfig(
        "https://127.0.0.1:9443/authorize",
        &pki.ca_cert_pem,
        &pki.admin.cert_pem,
        &pki.admin.key_pem,
        "apiserver",
    )
}
