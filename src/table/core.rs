//! Printers for the core (`""` group) configuration and cluster objects: namespaces,
//! configmaps, secrets, serviceaccounts, resourcequotas, nodes (STATUS from the Ready
//! condition, ROLES from `node-role.kubernetes.io/*` labels), persistentvolumes and
//! persistentvolumeclaims (access-mode abbreviations, storage class from the beta annotation or
//! the spec). Pods live in `pods.rs`, services and endpoints in `network.rs`, events in
//! `events.rs`.

use super::columns::{
    AGE, ColumnDefinition, NAME, age_cell, annotation, at, col, deleting, join, join_or_none, list, map, map_len,
    name_cell, opt_bool, opt_text, text, wide,
};
use super::{BuiltinPrinter, Row, TableContext};
use serde_json::{Value, json};

/// A `resource.Quantity` as `String()` prints it (the stored form is already canonical);
/// a missing quantity is Go's zero value, "0".
pub fn quantity(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".into(),
    }
}

// ---- namespaces, configmaps, secrets, serviceaccounts, resourcequotas -----------------------

static NAMESPACE_COLUMNS: [ColumnDefinition; 3] = [NAME, col("Status", "string", "The status of the namespace"), AGE];
pub static NAMESPACES: BuiltinPrinter =
    BuiltinPrinter { columns: &NAMESPACE_COLUMNS, print: print_namespace, adjust: None };

fn print_namespace(ns: &Value, ctx: &TableContext) -> Row {
    Row::from(vec![name_cell(ns), json!(text(ns, &["status", "phase"])), age_cell(ns, ctx)])
}

static CONFIGMAP_COLUMNS: [ColumnDefinition; 3] = [
    NAME,
    col(
        "Data",
        "string",
        "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
    ),
    AGE,
];
pub static CONFIGMAPS: BuiltinPrinter =
    BuiltinPrinter { columns: &CONFIGMAP_COLUMNS, print: print_config_map, adjust: None };

fn print_config_map(cm: &Value, ctx: &TableContext) -> Row {
    Row::from(vec![name_cell(cm), json!(map_len(cm, &["data"]) + map_len(cm, &["binaryData"])), age_cell(cm, ctx)])
}

static SECRET_COLUMNS: [ColumnDefinition; 4] = [
    NAME,
    col(
        "Type",
        "string",
        "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
    ),
    col(
        "Data",
        "string",
        "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
    ),
    AGE,
];
pub static SECRETS: BuiltinPrinter = BuiltinPrinter { columns: &SECRET_COLUMNS, print: print_secret, adjust: None };

fn print_secret(secret: &Value, ctx: &TableContext) -> Row {
    Row::from(vec![
        name_cell(secret),
        json!(text(secret, &["type"])),
        json!(map_len(secret, &["data"])),
        age_cell(secret, ctx),
    ])
}

static SERVICEACCOUNT_COLUMNS: [ColumnDefinition; 3] = [
    NAME,
    col(
        "Secrets",
        "string",
        "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret",
    ),
    AGE,
];
pub static SERVICEACCOUNTS: BuiltinPrinter =
    BuiltinPrinter { columns: &SERVICEACCOUNT_COLUMNS, print: print_service_account, adjust: None };

fn print_service_account(sa: &Value, ctx: &TableContext) -> Row {
    Row::from(vec![name_cell(sa), json!(list(sa, &["secrets"]).len()), age_cell(sa, ctx)])
}

static RESOURCEQUOTA_COLUMNS: [ColumnDefinition; 4] = [
    NAME,
    col("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
    col(
        "Limit",
        "string",
        "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
    ),
    AGE,
];
pub static RESOURCEQUOTAS: BuiltinPrinter =
    BuiltinPrinter { columns: &RESOURCEQUOTA_COLUMNS, print: print_resource_quota, adjust: None };

fn print_resource_quota(quota: &Value, ctx: &TableContext) -> Row {
    let hard = map(quota, &["status", "hard"]);
    let mut resources: Vec<&String> = hard.into_iter().flat_map(|m| m.keys()).collect();
    resources.sort();
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for resource in resources {
        let used = quantity(at(quota, &["status", "used", resource]));
        let entry = format!("{resource}: {used}/{}", quantity(hard.and_then(|h| h.get(resource))));
        let is_limit = resource.split('.').count() > 1 && resource.split('.').next() == Some("limits");
        if is_limit { limits.push(entry) } else { requests.push(entry) }
    }
    Row::from(vec![name_cell(quota), json!(requests.join(", ")), json!(limits.join(", ")), age_cell(quota, ctx)])
}

// ---- nodes ----------------------------------------------------------------------------------

const NODE_ADDRESSES: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";

static NODE_COLUMNS: [ColumnDefinition; 10] = [
    NAME,
    col("Status", "string", "The status of the node"),
    col("Roles", "string", "The roles of the node"),
    AGE,
    col("Version", "string", "Kubelet Version reported by the node."),
    wide("Internal-IP", "string", NODE_ADDRESSES),
    wide("External-IP", "string", NODE_ADDRESSES),
    wide(
        "OS-Image",
        "string",
        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
    ),
    wide(
        "Kernel-Version",
        "string",
        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
    ),
    wide(
        "Container-Runtime",
        "string",
        "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
    ),
];
pub static NODES: BuiltinPrinter = BuiltinPrinter { columns: &NODE_COLUMNS, print: print_node, adjust: None };

fn print_node(node: &Value, ctx: &TableContext) -> Row {
    // The last Ready condition wins, as in Go's map-building loop.
    let ready = list(node, &["status", "conditions"]).iter().rfind(|c| text(c, &["type"]) == "Ready");
    let mut status = vec![match ready {
        Some(c) if text(c, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if opt_bool(node, &["spec", "unschedulable"]) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let mut roles: Vec<&str> = map(node, &["metadata", "labels"])
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| match key.strip_prefix("node-role.kubernetes.io/") {
            Some(role) if !role.is_empty() => Some(role),
            Some(_) => None,
            None => (key == "kubernetes.io/role").then(|| value.as_str().unwrap_or("")).filter(|r| !r.is_empty()),
        })
        .collect();
    roles.sort_unstable();
    roles.dedup();
    let address = |type_: &str| {
        let found = list(node, &["status", "addresses"]).iter().find(|a| text(a, &["type"]) == type_);
        found.map_or("<none>", |a| text(a, &["address"]))
    };
    let info = |field: &str| match text(node, &["status", "nodeInfo", field]) {
        "" => "<unknown>",
        value => value,
    };
    Row::from(vec![
        name_cell(node),
        json!(join(status, ",")),
        json!(join_or_none(roles, ",")),
        age_cell(node, ctx),
        json!(text(node, &["status", "nodeInfo", "kubeletVersion"])),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ])
}

// ---- persistentvolumes and claims -----------------------------------------------------------

/// `helper.GetAccessModesAsString`: RWO, ROX, RWX, RWOP in that order, each once.
fn access_modes(modes: &[Value]) -> String {
    let has = |mode: &str| modes.iter().any(|m| m.as_str() == Some(mode));
    let pairs =
        [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")];
    join(pairs.iter().filter(|(mode, _)| has(mode)).map(|(_, short)| *short), ",")
}

const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// The phase, or "Terminating" once deletion started.
fn phase(object: &Value) -> &str {
    if deleting(object) { "Terminating" } else { text(object, &["status", "phase"]) }
}

fn unset_or(object: &Value, path: &[&str]) -> String {
    opt_text(object, path).unwrap_or("<unset>").to_string()
}

static PV_COLUMNS: [ColumnDefinition; 11] = [
    NAME,
    col(
        "Capacity",
        "string",
        "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity",
    ),
    col(
        "Access Modes",
        "string",
        "accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes",
    ),
    col(
        "Reclaim Policy",
        "string",
        "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming",
    ),
    col(
        "Status",
        "string",
        "phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase",
    ),
    col(
        "Claim",
        "string",
        "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding",
    ),
    col("StorageClass", "string", "StorageClass of the pv"),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
    col(
        "Reason",
        "string",
        "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.",
    ),
    AGE,
    wide(
        "VolumeMode",
        "string",
        "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.",
    ),
];
pub static PERSISTENTVOLUMES: BuiltinPrinter =
    BuiltinPrinter { columns: &PV_COLUMNS, print: print_persistent_volume, adjust: None };

fn print_persistent_volume(pv: &Value, ctx: &TableContext) -> Row {
    let claim = match at(pv, &["spec", "claimRef"]).filter(|c| !c.is_null()) {
        Some(c) => format!("{}/{}", text(c, &["namespace"]), text(c, &["name"])),
        None => String::new(),
    };
    let class = annotation(pv, BETA_STORAGE_CLASS).unwrap_or_else(|| text(pv, &["spec", "storageClassName"]));
    Row::from(vec![
        name_cell(pv),
        json!(quantity(at(pv, &["spec", "capacity", "storage"]))),
        json!(access_modes(list(pv, &["spec", "accessModes"]))),
        json!(text(pv, &["spec", "persistentVolumeReclaimPolicy"])),
        json!(phase(pv)),
        json!(claim),
        json!(class),
        json!(unset_or(pv, &["spec", "volumeAttributesClassName"])),
        json!(text(pv, &["status", "reason"])),
        age_cell(pv, ctx),
        json!(unset_or(pv, &["spec", "volumeMode"])),
    ])
}

static PVC_COLUMNS: [ColumnDefinition; 9] = [
    NAME,
    col("Status", "string", "phase represents the current phase of PersistentVolumeClaim."),
    col("Volume", "string", "volumeName is the binding reference to the PersistentVolume backing this claim."),
    col("Capacity", "string", "capacity represents the actual resources of the underlying volume."),
    col(
        "Access Modes",
        "string",
        "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1",
    ),
    col("StorageClass", "string", "StorageClass of the pvc"),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
    AGE,
    wide(
        "VolumeMode",
        "string",
        "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.",
    ),
];
pub static PERSISTENTVOLUMECLAIMS: BuiltinPrinter =
    BuiltinPrinter { columns: &PVC_COLUMNS, print: print_persistent_volume_claim, adjust: None };

fn print_persistent_volume_claim(pvc: &Value, ctx: &TableContext) -> Row {
    let volume = text(pvc, &["spec", "volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (quantity(at(pvc, &["status", "capacity", "storage"])), access_modes(list(pvc, &["status", "accessModes"])))
    };
    let class = annotation(pvc, BETA_STORAGE_CLASS).unwrap_or_else(|| text(pvc, &["spec", "storageClassName"]));
    Row::from(vec![
        name_cell(pvc),
        json!(phase(pvc)),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(class),
        json!(unset_or(pvc, &["spec", "volumeAttributesClassName"])),
        age_cell(pvc, ctx),
        json!(unset_or(pvc, &["spec", "volumeMode"])),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::parse_rfc3339;

    fn ctx() -> TableContext {
        TableContext { now_unix: parse_rfc3339("2026-11-22T07:41:00Z").unwrap() }
    }

    fn meta(name: &str) -> Value {
        json!({"name": name, "uid": "6f1e0c1e-0000-4000-8000-00000000000a", "resourceVersion": "17", "creationTimestamp": "2026-11-21T07:41:00Z"})
    }

    #[test]
    fn namespace_configmap_secret_serviceaccount() {
        let ns = json!({"metadata": meta("kube-system"), "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
        assert_eq!(print_namespace(&ns, &ctx()).cells, vec![json!("kube-system"), json!("Active"), json!("24h")]);
        let cm = json!({"metadata": meta("kube-root-ca.crt"), "data": {"ca.crt": "-----BEGIN CERTIFICATE-----"}, "binaryData": {"logo.png": "iVBO"}});
        assert_eq!(print_config_map(&cm, &ctx()).cells, vec![json!("kube-root-ca.crt"), json!(2), json!("24h")]);
        let empty = json!({"metadata": meta("empty")});
        assert_eq!(print_config_map(&empty, &ctx()).cells[1], json!(0));
        let secret = json!({"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "Zm9v", "tls.key": "YmFy"}});
        assert_eq!(
            print_secret(&secret, &ctx()).cells,
            vec![json!("tls"), json!("kubernetes.io/tls"), json!(2), json!("24h")]
        );
        let sa = json!({"metadata": meta("default")});
        assert_eq!(print_service_account(&sa, &ctx()).cells, vec![json!("default"), json!(0), json!("24h")]);
        let sa = json!({"metadata": meta("builder"), "secrets": [{"name": "builder-token"}]});
        assert_eq!(print_service_account(&sa, &ctx()).cells[1], json!(1));
    }

    #[test]
    fn resource_quota_splits_limits() {
        let quota = json!({"metadata": meta("compute"),
            "spec": {"hard": {"requests.cpu": "1", "limits.memory": "2Gi", "pods": "10", "limits.cpu": "2"}},
            "status": {"hard": {"requests.cpu": "1", "limits.memory": "2Gi", "pods": "10", "limits.cpu": "2"},
                       "used": {"requests.cpu": "500m", "limits.memory": "512Mi", "pods": "3"}}});
        assert_eq!(
            print_resource_quota(&quota, &ctx()).cells,
            vec![
                json!("compute"),
                json!("pods: 3/10, requests.cpu: 500m/1"),
                json!("limits.cpu: 0/2, limits.memory: 512Mi/2Gi"),
                json!("24h")
            ]
        );
    }

    #[test]
    fn nodes() {
        let node = json!({"metadata": {"name": "kind-control-plane", "creationTimestamp": "2026-11-01T07:41:00Z",
                "labels": {"kubernetes.io/hostname": "kind-control-plane", "node-role.kubernetes.io/control-plane": "",
                           "node-role.kubernetes.io/": "", "kubernetes.io/role": "master"}},
            "spec": {"podCIDR": "10.244.0.0/24", "unschedulable": true},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                       "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": "kind-control-plane"}],
                       "nodeInfo": {"kubeletVersion": "v1.36.0", "osImage": "Debian GNU/Linux 12 (bookworm)", "kernelVersion": "6.8.0",
                                    "containerRuntimeVersion": "containerd://2.1.0"}}});
        assert_eq!(
            print_node(&node, &ctx()).cells,
            vec![
                json!("kind-control-plane"),
                json!("Ready,SchedulingDisabled"),
                json!("control-plane,master"),
                json!("21d"),
                json!("v1.36.0"),
                json!("172.18.0.2"),
                json!("<none>"),
                json!("Debian GNU/Linux 12 (bookworm)"),
                json!("6.8.0"),
                json!("containerd://2.1.0")
            ]
        );
        let bare = json!({"metadata": {"name": "n2", "creationTimestamp": "2026-11-22T07:40:00Z"},
                          "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
        assert_eq!(
            print_node(&bare, &ctx()).cells[1..],
            [
                json!("NotReady"),
                json!("<none>"),
                json!("60s"),
                json!(""),
                json!("<none>"),
                json!("<none>"),
                json!("<unknown>"),
                json!("<unknown>"),
                json!("<unknown>")
            ]
        );
        // A repeated Ready condition: the last one counts.
        let flapping = json!({"metadata": {"name": "n4"}, "status": {"conditions": [
            {"type": "Ready", "status": "True"}, {"type": "Ready", "status": "False"}]}});
        assert_eq!(print_node(&flapping, &ctx()).cells[1], json!("NotReady"));
        let new = json!({"metadata": {"name": "n3"}});
        assert_eq!(print_node(&new, &ctx()).cells[1], json!("Unknown"));
    }

    #[test]
    fn persistent_volume() {
        let pv = json!({"metadata": {"name": "pvc-3f9a", "creationTimestamp": "2026-11-22T06:41:00Z",
                "annotations": {"pv.kubernetes.io/provisioned-by": "rancher.io/local-path"}},
            "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "standard", "volumeMode": "Filesystem",
                     "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "default", "name": "data-db-0"}},
            "status": {"phase": "Bound"}});
        assert_eq!(
            print_persistent_volume(&pv, &ctx()).cells,
            vec![
                json!("pvc-3f9a"),
                json!("10Gi"),
                json!("RWO,RWX"),
                json!("Delete"),
                json!("Bound"),
                json!("default/data-db-0"),
                json!("standard"),
                json!("<unset>"),
                json!(""),
                json!("60m"),
                json!("Filesystem")
            ]
        );
        let mut released = pv.clone();
        released["metadata"]["deletionTimestamp"] = json!("2026-11-22T07:40:00Z");
        released["metadata"]["annotations"][BETA_STORAGE_CLASS] = json!("legacy");
        released["spec"].as_object_mut().unwrap().remove("claimRef");
        assert_eq!(
            print_persistent_volume(&released, &ctx()).cells[4..7],
            [json!("Terminating"), json!(""), json!("legacy")]
        );
    }

    #[test]
    fn persistent_volume_claim() {
        let pending = json!({"metadata": {"name": "data-db-0", "creationTimestamp": "2026-11-22T07:39:00Z"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "storageClassName": "standard", "volumeMode": "Filesystem"},
            "status": {"phase": "Pending"}});
        assert_eq!(
            print_persistent_volume_claim(&pending, &ctx()).cells,
            vec![
                json!("data-db-0"),
                json!("Pending"),
                json!(""),
                json!(""),
                json!(""),
                json!("standard"),
                json!("<unset>"),
                json!("2m"),
                json!("Filesystem")
            ]
        );
        let mut bound = pending.clone();
        bound["spec"]["volumeName"] = json!("pvc-3f9a");
        bound["spec"]["volumeAttributesClassName"] = json!("gold");
        bound["status"] = json!({"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}});
        assert_eq!(
            print_persistent_volume_claim(&bound, &ctx()).cells[1..7],
            [json!("Bound"), json!("pvc-3f9a"), json!("1Gi"), json!("RWO"), json!("standard"), json!("gold")]
        );
    }
}
