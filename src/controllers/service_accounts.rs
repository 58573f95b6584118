//! The ServiceAccount and root-CA publisher controllers: every active namespace has a
//! `default` ServiceAccount and a `kube-root-ca.crt` ConfigMap holding the cluster CA. They are
//! created synchronously when a namespace is created (so a pod can follow at once) and
//! recreated by this controller if deleted.

use super::{Controller, Object};
use crate::instance::Instance;
use crate::registry::Scope;
use crate::registry::rest::WriteOptions;
use serde_json::json;
use std::collections::BTreeSet;

const ROOT_CA_CONFIGMAP: &str = "kube-root-ca.crt";
const ROOT_CA_DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// Namespaces due for a check.
#[derive(Debug, Default)]
pub struct ServiceAccountController {
    due: BTreeSet<String>,
}

impl Controller for ServiceAccountController {
    fn reset(&mut self) {
        self.due.clear();
    }

    fn observe(&mut self, _instance: &Instance, object: &Object) {
        let resource = &object.resource;
        if resource.group.is_empty() && resource.plural == "namespaces" && !object.deleting {
            self.due.insert(object.name.clone());
        }
    }

    fn forget(&mut self, _instance: &Instance, object: &Object) {
        let resource = &object.resource;
        let ours = (resource.plural == "serviceaccounts" && object.name == "default")
            || (resource.plural == "configmaps" && object.name == ROOT_CA_CONFIGMAP);
        if resource.group.is_empty() && ours {
            self.due.extend(object.namespace.clone());
        }
    }

    fn reconcile(&mut self, instance: &Instance) {
        while let Some(namespace) = self.due.pop_first() {
            ensure_defaults(instance, &namespace);
        }
    }
}

/// Creates `namespace`'s default ServiceAccount and CA bundle ConfigMap where missing (and the
/// namespace is active).
pub fn ensure_defaults(instance: &Instance, namespace: &str) {
    let ca = instance.auth.ca_bundle.get();
    let account = ("serviceaccounts", "default");
    let wanted: &[(&str, &str)] = if ca.is_some() { &[account, ("configmaps", ROOT_CA_CONFIGMAP)] } else { &[account] };
    for &(plural, name) in wanted {
        let resource = instance.resource("", "v1", plural).expect("core resources are always served");
        let scope = Scope { instance, resource, namespace: Some(namespace) };
        // Usually there already: looked up before anything is built.
        if scope.get(name).is_ok() {
            continue;
        }
        let object = match ca {
            Some(ca) if plural == "configmaps" => json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION}},
                "data": {"ca.crt": ca},
            }),
            _ => json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}),
        };
        let options = WriteOptions { field_manager: "kube-controller-manager".into(), ..WriteOptions::default() };
        // A terminating or missing namespace refuses the create; that is as it should be.
        let _ = scope.create(object, &options);
    }
}
