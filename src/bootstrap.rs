//! The objects a fresh cluster has right after `kubeadm init`: the four system namespaces, the
//! `kubernetes` Service with its Endpoints and EndpointSlice pointing at this server, and the
//! two system PriorityClasses, the default RBAC policy, and the `extension-apiserver-authentication`
//! ConfigMap extension apiservers read the client CA from.

use crate::error::ApiResult;
use crate::instance::Instance;
use crate::registry::Scope;
use crate::registry::rest::WriteOptions;
use serde_json::{Value, json};
use std::net::IpAddr;

/// The field manager bootstrap objects are recorded under.
const MANAGER: &str = "kube-apiserver";

fn create(
    instance: &Instance,
    group: &str,
    version: &str,
    plural: &str,
    namespace: Option<&str>,
    object: Value,
) -> ApiResult<()> {
    let resource = instance.resource(group, version, plural).expect("bootstrap resources are built in");
    let scope = Scope { instance, resource, namespace };
    let options = WriteOptions { field_manager: MANAGER.into(), ..WriteOptions::default() };
    match scope.create(object, &options) {
        Ok(_) => Ok(()),
        Err(error) if error.code() == 409 => Ok(()),
        Err(error) => Err(error),
    }
}

/// Creates the bootstrap objects; `advertise` is the address and port clients reach the
/// server at.
pub fn run(instance: &Instance, advertise: IpAddr, port: u16) -> ApiResult<()> {
    for namespace in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        create(instance, "", "v1", "namespaces", None, json!({"metadata": {"name": namespace}}))?;
    }
    let cluster_ip = instance.config.service_cluster_ip_range.first().to_string();
    let labels = json!({"component": "apiserver", "provider": "kubernetes"});
    create(
        instance,
        "",
        "v1",
        "services",
        Some("default"),
        json!({
            "metadata": {"name": "kubernetes", "labels": labels},
            "spec": {"clusterIP": cluster_ip, "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}], "sessionAffinity": "None", "type": "ClusterIP"},
        }),
    )?;
    create(
        instance,
        "",
        "v1",
        "endpoints",
        Some("default"),
        json!({
            "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": advertise.to_string()}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
        }),
    )?;
    let family = if advertise.is_ipv4() { "IPv4" } else { "IPv6" };
    create(
        instance,
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        Some("default"),
        json!({
            "metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io"}},
            "addressType": family,
            "endpoints": [{"addresses": [advertise.to_string()], "conditions": {"ready": true}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }),
    )?;
    for (name, value, description) in [
        (
            "system-cluster-critical",
            2_000_000_000,
            "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
        ),
        (
            "system-node-critical",
            2_000_001_000,
            "Used for system critical pods that must not be moved from their current node.",
        ),
    ] {
        create(
            instance,
            "scheduling.k8s.io",
            "v1",
            "priorityclasses",
            None,
            json!({
                "metadata": {"name": name}, "value": value, "description": description, "preemptionPolicy": "PreemptLowerPriority", "globalDefault": false,
            }),
        )?;
    }
    for object in crate::auth::rbac::bootstrap_policy() {
        let plural = match object["kind"].as_str() {
            Some("ClusterRole") => "clusterroles",
            Some("ClusterRoleBinding") => "clusterrolebindings",
            Some("Role") => "roles",
            _ => "rolebindings",
        };
        let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).map(String::from);
        create(instance, "rbac.authorization.k8s.io", "v1", plural, namespace.as_deref(), object)?;
    }
    if let Some(ca) = instance.auth.ca_bundle.get() {
        let configmap = json!({
            "metadata": {"name": "extension-apiserver-authentication"},
            "data": {"client-ca-file": ca},
        });
        create(instance, "", "v1", "configmaps", Some("kube-system"), configmap)?;
    }
    Ok(())
}
