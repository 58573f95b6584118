//! Printers for the remaining built-in kinds with a kube-apiserver printer: RBAC bindings,
//! leases, priorityclasses, storageclasses, runtimeclasses, certificatesigningrequests,
//! poddisruptionbudgets, horizontalpodautoscalers (the TARGETS summary) and admission webhook
//! configurations. Roles, clusterroles and CRDs have no printer upstream; they get the
//! default NAME/CREATED AT table from `custom.rs`.

use super::columns::{
    AGE, ColumnDefinition, NAME, age_cell, annotation, at, col, int, int_or_string, join, list, name_cell, opt_bool,
    opt_int, opt_text, text, wide,
};
use super::core::quantity;
use super::duration::human_duration;
use super::{BuiltinPrinter, Row, TableContext};
use serde_json::{Value, json};

// ---- rolebindings and clusterrolebindings ----------------------------------------------------

static ROLEBINDING_COLUMNS: [ColumnDefinition; 6] = [
    NAME,
    col(
        "Role",
        "string",
        "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.",
    ),
    AGE,
    wide("Users", "string", "Users in the roleBinding"),
    wide("Groups", "string", "Groups in the roleBinding"),
    wide("ServiceAccounts", "string", "ServiceAccounts in the roleBinding"),
];
pub static ROLEBINDINGS: BuiltinPrinter =
    BuiltinPrinter { columns: &ROLEBINDING_COLUMNS, print: print_binding, adjust: None };

static CLUSTERROLEBINDING_COLUMNS: [ColumnDefinition; 6] = [
    NAME,
    col(
        "Role",
        "string",
        "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.",
    ),
    AGE,
    wide("Users", "string", "Users in the clusterRoleBinding"),
    wide("Groups", "string", "Groups in the clusterRoleBinding"),
    wide("ServiceAccounts", "string", "ServiceAccounts in the clusterRoleBinding"),
];
pub static CLUSTERROLEBINDINGS: BuiltinPrinter =
    BuiltinPrinter { columns: &CLUSTERROLEBINDING_COLUMNS, print: print_binding, adjust: None };

/// `rbac.SubjectsStrings`, then each list joined by ", ".
fn print_binding(binding: &Value, ctx: &TableContext) -> Row {
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for subject in list(binding, &["subjects"]) {
        let name = text(subject, &["name"]);
        match text(subject, &["kind"]) {
            "ServiceAccount" => sas.push(format!("{}/{name}", text(subject, &["namespace"]))),
            "User" => users.push(name.to_string()),
            "Group" => groups.push(name.to_string()),
            _ => {}
        }
    }
    let role = format!("{}/{}", text(binding, &["roleRef", "kind"]), text(binding, &["roleRef", "name"]));
    Row::from(vec![
        name_cell(binding),
        json!(role),
        age_cell(binding, ctx),
        json!(users.join(", ")),
        json!(groups.join(", ")),
        json!(sas.join(", ")),
    ])
}

// ---- leases, priorityclasses, storageclasses, runtimeclasses --------------------------------

static LEASE_COLUMNS: [ColumnDefinition; 3] = [
    NAME,
    col(
        "Holder",
        "string",
        "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.",
    ),
    AGE,
];
pub static LEASES: BuiltinPrinter = BuiltinPrinter { columns: &LEASE_COLUMNS, print: print_lease, adjust: None };

fn print_lease(lease: &Value, ctx: &TableContext) -> Row {
    Row::from(vec![name_cell(lease), json!(text(lease, &["spec", "holderIdentity"])), age_cell(lease, ctx)])
}

static PRIORITYCLASS_COLUMNS: [ColumnDefinition; 5] = [
    NAME,
    col(
        "Value",
        "integer",
        "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec.",
    ),
    col(
        "Global-Default",
        "boolean",
        "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`. However, if more than one PriorityClasses exists with their `globalDefault` field set to true, the smallest value of such global default PriorityClasses will be used as the default priority.",
    ),
    AGE,
    col(
        "PreemptionPolicy",
        "string",
        "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.",
    ),
];
pub static PRIORITYCLASSES: BuiltinPrinter =
    BuiltinPrinter { columns: &PRIORITYCLASS_COLUMNS, print: print_priority_class, adjust: None };

fn print_priority_class(pc: &Value, ctx: &TableContext) -> Row {
    Row::from(vec![
        name_cell(pc),
        json!(int(pc, &["value"])),
        json!(opt_bool(pc, &["globalDefault"]).unwrap_or(false)),
        age_cell(pc, ctx),
        json!(text(pc, &["preemptionPolicy"])),
    ])
}

static STORAGECLASS_COLUMNS: [ColumnDefinition; 6] = [
    NAME,
    col("Provisioner", "string", "provisioner indicates the type of the provisioner."),
    col(
        "ReclaimPolicy",
        "string",
        "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.",
    ),
    col(
        "VolumeBindingMode",
        "string",
        "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature.",
    ),
    col("AllowVolumeExpansion", "string", "allowVolumeExpansion shows whether the storage class allow volume expand."),
    AGE,
];
pub static STORAGECLASSES: BuiltinPrinter =
    BuiltinPrinter { columns: &STORAGECLASS_COLUMNS, print: print_storage_class, adjust: Some(mark_effective_default) };

/// `storageutil.IsDefaultAnnotation`.
fn annotated_default(sc: &Value) -> bool {
    ["storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"]
        .iter()
        .any(|key| annotation(sc, key) == Some("true"))
}

fn print_storage_class(sc: &Value, ctx: &TableContext) -> Row {
    let is_default = annotated_default(sc);
    let name = text(sc, &["metadata", "name"]);
    Row::from(vec![
        json!(if is_default { format!("{name} (default)") } else { name.to_string() }),
        json!(text(sc, &["provisioner"])),
        json!(opt_text(sc, &["reclaimPolicy"]).unwrap_or("Delete")),
        json!(opt_text(sc, &["volumeBindingMode"]).unwrap_or("Immediate")),
        json!(opt_bool(sc, &["allowVolumeExpansion"]).unwrap_or(false)),
        age_cell(sc, ctx),
    ])
}

/// Of several classes annotated as default only the effective one, the newest (ties: the first
/// name), keeps "(default)" (kubernetes#135964). A table of one object can only go by its
/// annotation; upstream lists every class for a single GET.
fn mark_effective_default(objects: &[&Value], rows: &mut [Row]) {
    let effective = objects
        .iter()
        .filter(|sc| annotated_default(sc))
        .max_by(|a, b| {
            let created = |sc: &Value| super::columns::time(sc, &["metadata", "creationTimestamp"]);
            created(a).cmp(&created(b)).then_with(|| text(b, &["metadata", "name"]).cmp(text(a, &["metadata", "name"])))
        })
        .map(|sc| text(sc, &["metadata", "name"]));
    for (object, row) in objects.iter().zip(rows.iter_mut()) {
        let name = text(object, &["metadata", "name"]);
        row.cells[0] = json!(if Some(name) == effective { format!("{name} (default)") } else { name.to_string() });
    }
}

/// Upstream reads this description from `ObjectMeta`'s docs, which have no "handler" entry.
static RUNTIMECLASS_COLUMNS: [ColumnDefinition; 3] = [NAME, col("Handler", "string", ""), AGE];
pub static RUNTIMECLASSES: BuiltinPrinter =
    BuiltinPrinter { columns: &RUNTIMECLASS_COLUMNS, print: print_runtime_class, adjust: None };

fn print_runtime_class(rc: &Value, ctx: &TableContext) -> Row {
    Row::from(vec![name_cell(rc), json!(text(rc, &["handler"])), age_cell(rc, ctx)])
}

// ---- certificatesigningrequests, poddisruptionbudgets, webhooks ------------------------------

static CSR_COLUMNS: [ColumnDefinition; 6] = [
    NAME,
    AGE,
    col(
        "SignerName",
        "string",
        "Requested signer for the request. It is a qualified name in the form: `scope-hostname.io/name`. If empty, it will be defaulted:\n 1. If it's a kubelet client certificate, it is assigned\n    \"kubernetes.io/kube-apiserver-client-kubelet\".\n 2. If it's a kubelet serving certificate, it is assigned\n    \"kubernetes.io/kubelet-serving\".\n 3. Otherwise, it is assigned \"kubernetes.io/legacy-unknown\".\nDistribution of trust for signers happens out of band. You can select on this field using `spec.signerName`.",
    ),
    col("Requestor", "string", "Base64-encoded PKCS#10 CSR data"),
    col(
        "RequestedDuration",
        "string",
        "expirationSeconds is the requested duration of validity of the issued certificate. The certificate signer may issue a certificate with a different validity duration so a client must check the delta between the notBefore and and notAfter fields in the issued certificate to determine the actual duration.\n\nThe v1.22+ in-tree implementations of the well-known Kubernetes signers will honor this field as long as the requested duration is not greater than the maximum duration they will honor per the --cluster-signing-duration CLI flag to the Kubernetes controller manager.\n\nCertificate signers may not honor this field for various reasons:\n\n  1. Old signer that is unaware of the field (such as the in-tree\n     implementations prior to v1.22)\n  2. Signer whose configured maximum is shorter than the requested duration\n  3. Signer whose configured minimum is longer than the requested duration\n\nThe minimum valid value for expirationSeconds is 600, i.e. 10 minutes.",
    ),
    col("Condition", "string", "Conditions applied to the request, such as approval or denial."),
];
pub static CERTIFICATESIGNINGREQUESTS: BuiltinPrinter =
    BuiltinPrinter { columns: &CSR_COLUMNS, print: print_csr, adjust: None };

/// `extractCSRStatus`: Denied over Approved over Pending, then ",Failed" and ",Issued".
fn csr_condition(csr: &Value) -> String {
    let has = |type_: &str| list(csr, &["status", "conditions"]).iter().any(|c| text(c, &["type"]) == type_);
    let mut status = if has("Denied") {
        "Denied"
    } else if has("Approved") {
        "Approved"
    } else {
        "Pending"
    }
    .to_string();
    if has("Failed") {
        status.push_str(",Failed");
    }
    if !text(csr, &["status", "certificate"]).is_empty() {
        status.push_str(",Issued");
    }
    status
}

fn print_csr(csr: &Value, ctx: &TableContext) -> Row {
    let requested =
        opt_int(csr, &["spec", "expirationSeconds"]).map_or_else(|| "<none>".into(), |s| human_duration(s * 1_000_000));
    Row::from(vec![
        name_cell(csr),
        age_cell(csr, ctx),
        json!(match text(csr, &["spec", "signerName"]) {
            "" => "<none>",
            signer => signer,
        }),
        json!(text(csr, &["spec", "username"])),
        json!(requested),
        json!(csr_condition(csr)),
    ])
}

static PDB_COLUMNS: [ColumnDefinition; 5] = [
    NAME,
    col("Min Available", "string", "The minimum number of pods that must be available."),
    col("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
    col("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
    AGE,
];
pub static PODDISRUPTIONBUDGETS: BuiltinPrinter =
    BuiltinPrinter { columns: &PDB_COLUMNS, print: print_pdb, adjust: None };

fn print_pdb(pdb: &Value, ctx: &TableContext) -> Row {
    let bound =
        |field: &str| at(pdb, &["spec", field]).filter(|v| !v.is_null()).map_or_else(|| "N/A".into(), int_or_string);
    Row::from(vec![
        name_cell(pdb),
        json!(bound("minAvailable")),
        json!(bound("maxUnavailable")),
        json!(int(pdb, &["status", "disruptionsAllowed"])),
        age_cell(pdb, ctx),
    ])
}

static WEBHOOK_COLUMNS: [ColumnDefinition; 3] = [
    NAME,
    col("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration"),
    AGE,
];
/// Both mutating- and validatingwebhookconfigurations.
pub static WEBHOOKCONFIGURATIONS: BuiltinPrinter =
    BuiltinPrinter { columns: &WEBHOOK_COLUMNS, print: print_webhooks, adjust: None };

fn print_webhooks(config: &Value, ctx: &TableContext) -> Row {
    Row::from(vec![name_cell(config), json!(list(config, &["webhooks"]).len()), age_cell(config, ctx)])
}

// ---- horizontalpodautoscalers ----------------------------------------------------------------

static HPA_COLUMNS: [ColumnDefinition; 7] = [
    NAME,
    col(
        "Reference",
        "string",
        "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.",
    ),
    col(
        "Targets",
        "string",
        "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).  The desired replica count is calculated multiplying the ratio between the target value and the current value by the current number of pods.  Ergo, metrics used must decrease as the pod count is increased, and vice-versa.  See the individual metric source types for more information about how each type of metric must respond.",
    ),
    col(
        "MinPods",
        "string",
        "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  Scaling is active as long as at least one metric value is available.",
    ),
    col(
        "MaxPods",
        "string",
        "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. It cannot be less that minReplicas.",
    ),
    col(
        "Replicas",
        "string",
        "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.",
    ),
    AGE,
];
pub static HORIZONTALPODAUTOSCALERS: BuiltinPrinter =
    BuiltinPrinter { columns: &HPA_COLUMNS, print: print_hpa, adjust: None };

/// A `*resource.Quantity`'s `String()`: "<nil>" for a nil pointer.
fn quantity_ptr(value: Option<&Value>) -> String {
    value.filter(|v| !v.is_null()).map_or_else(|| "<nil>".into(), |v| quantity(Some(v)))
}

/// `metrics` and `currentMetrics` as autoscaling/v2 stores them. An autoscaling/v1 object's
/// `targetCPUUtilizationPercentage` converts to a CPU metric; with neither, v2 defaulting's
/// 80% CPU applies.
fn hpa_metrics(hpa: &Value) -> (Vec<Value>, Vec<Value>) {
    let specs = list(hpa, &["spec", "metrics"]);
    if !specs.is_empty() {
        return (specs.to_vec(), list(hpa, &["status", "currentMetrics"]).to_vec());
    }
    let target = opt_int(hpa, &["spec", "targetCPUUtilizationPercentage"]).unwrap_or(80);
    let spec = json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}});
    let status = match opt_int(hpa, &["status", "currentCPUUtilizationPercentage"]) {
        Some(current) => {
            vec![json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}})]
        }
        None => list(hpa, &["status", "currentMetrics"]).to_vec(),
    };
    (vec![spec], status)
}

/// One metric of `formatHPAMetrics`.
fn format_metric(spec: &Value, status: Option<&Value>) -> String {
    // The status entry for this source, as Go's `len(statuses) > i && statuses[i].X != nil`.
    let current = |source: &str| status.and_then(|s| at(s, &[source])).filter(|v| !v.is_null());
    match text(spec, &["type"]) {
        source_type @ ("External" | "Object") => {
            let source = if source_type == "External" { "external" } else { "object" };
            let target = at(spec, &[source, "target"]).cloned().unwrap_or_default();
            match at(&target, &["averageValue"]).filter(|v| !v.is_null()) {
                Some(average) => {
                    let now =
                        current(source).and_then(|c| at(c, &["current", "averageValue"])).filter(|v| !v.is_null());
                    format!(
                        "{}/{} (avg)",
                        now.map_or_else(|| "<unknown>".into(), |v| quantity(Some(v))),
                        quantity(Some(average))
                    )
                }
                None => {
                    let now = current(source)
                        .map_or_else(|| "<unknown>".into(), |c| quantity_ptr(at(c, &["current", "value"])));
                    format!("{now}/{}", quantity_ptr(at(&target, &["value"])))
                }
            }
        }
        "Pods" => {
            let now = current("pods")
                .map_or_else(|| "<unknown>".into(), |c| quantity_ptr(at(c, &["current", "averageValue"])));
            format!("{now}/{}", quantity_ptr(at(spec, &["pods", "target", "averageValue"])))
        }
        source_type @ ("Resource" | "ContainerResource") => {
            let source = if source_type == "Resource" { "resource" } else { "containerResource" };
            let name = text(spec, &[source, "name"]);
            let target = at(spec, &[source, "target"]).cloned().unwrap_or_default();
            match at(&target, &["averageValue"]).filter(|v| !v.is_null()) {
                Some(average) => {
                    let now = current(source)
                        .map_or_else(|| "<unknown>".into(), |c| quantity_ptr(at(c, &["current", "averageValue"])));
                    format!("{name}: {now}/{}", quantity(Some(average)))
                }
                None => {
                    let now = current(source)
                        .and_then(|c| opt_int(c, &["current", "averageUtilization"]))
                        .map_or_else(|| "<unknown>".into(), |u| format!("{u}%"));
                    let goal =
                        opt_int(&target, &["averageUtilization"]).map_or_else(|| "<auto>".into(), |u| format!("{u}%"));
                    format!("{name}: {now}/{goal}")
                }
            }
        }
        _ => "<unknown type>".into(),
    }
}

fn print_hpa(hpa: &Value, ctx: &TableContext) -> Row {
    const MAX: usize = 2;
    let (specs, statuses) = hpa_metrics(hpa);
    let formatted: Vec<String> =
        specs.iter().enumerate().map(|(i, spec)| format_metric(spec, statuses.get(i))).collect();
    let targets = match formatted.len() {
        0 => "<none>".to_string(),
        n if n > MAX => format!("{} + {} more...", formatted[..MAX].join(", "), n - MAX),
        _ => join(&formatted, ", "),
    };
    let reference = format!(
        "{}/{}",
        text(hpa, &["spec", "scaleTargetRef", "kind"]),
        text(hpa, &["spec", "scaleTargetRef", "name"])
    );
    Row::from(vec![
        name_cell(hpa),
        json!(reference),
        json!(targets),
        json!(opt_int(hpa, &["spec", "minReplicas"]).unwrap_or(1).to_string()),
        json!(int(hpa, &["spec", "maxReplicas"])),
        json!(int(hpa, &["status", "currentReplicas"])),
        age_cell(hpa, ctx),
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
        json!({"name": name, "uid": "u-1", "resourceVersion": "55", "creationTimestamp": "2026-11-22T07:21:00Z"})
    }

    #[test]
    fn bindings() {
        let rb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta("read-pods"),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"},
                         {"kind": "ServiceAccount", "name": "builder", "namespace": "ci"},
                         {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"},
                         {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "joe"}]});
        assert_eq!(
            (ROLEBINDINGS.print)(&rb, &ctx()).cells,
            vec![
                json!("read-pods"),
                json!("Role/pod-reader"),
                json!("20m"),
                json!("jane, joe"),
                json!("devs"),
                json!("ci/builder")
            ]
        );
        let crb = json!({"metadata": meta("cluster-admin"), "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "Group", "name": "system:masters"}]});
        assert_eq!(
            (CLUSTERROLEBINDINGS.print)(&crb, &ctx()).cells[1..],
            [json!("ClusterRole/cluster-admin"), json!("20m"), json!(""), json!("system:masters"), json!("")]
        );
    }

    #[test]
    fn lease_priority_storage_runtime_classes() {
        let lease = json!({"metadata": meta("kube-controller-manager"), "spec": {"holderIdentity": "cp_4b1c", "leaseDurationSeconds": 15}});
        assert_eq!(
            print_lease(&lease, &ctx()).cells,
            vec![json!("kube-controller-manager"), json!("cp_4b1c"), json!("20m")]
        );
        let node_lease = json!({"metadata": meta("node-1"), "spec": {}});
        assert_eq!(print_lease(&node_lease, &ctx()).cells[1], json!(""));

        let pc = json!({"metadata": meta("system-node-critical"), "value": 2000001000, "globalDefault": false,
                        "description": "Used for system critical pods that must not be moved from their current node.", "preemptionPolicy": "PreemptLowerPriority"});
        assert_eq!(
            print_priority_class(&pc, &ctx()).cells,
            vec![
                json!("system-node-critical"),
                json!(2000001000),
                json!(false),
                json!("20m"),
                json!("PreemptLowerPriority")
            ]
        );

        let sc = json!({"metadata": {"name": "standard", "creationTimestamp": "2026-11-22T07:21:00Z",
                            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                        "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"});
        assert_eq!(
            print_storage_class(&sc, &ctx()).cells,
            vec![
                json!("standard (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("WaitForFirstConsumer"),
                json!(false),
                json!("20m")
            ]
        );
        let sc = json!({"metadata": meta("fast"), "provisioner": "ebs.csi.aws.com", "reclaimPolicy": "Retain", "allowVolumeExpansion": true});
        assert_eq!(
            print_storage_class(&sc, &ctx()).cells[..5],
            [json!("fast"), json!("ebs.csi.aws.com"), json!("Retain"), json!("Immediate"), json!(true)]
        );

        // Two annotated defaults in one list: only the newer one is marked.
        let older = json!({"metadata": {"name": "a-old", "creationTimestamp": "2026-11-01T00:00:00Z",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "p"});
        let newer = json!({"metadata": {"name": "z-new", "creationTimestamp": "2026-11-02T00:00:00Z",
            "annotations": {"storageclass.beta.kubernetes.io/is-default-class": "true"}}, "provisioner": "p"});
        let same_time = json!({"metadata": {"name": "m-tie", "creationTimestamp": "2026-11-02T00:00:00Z",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "p"});
        let objects = [&older, &newer, &sc];
        let mut rows: Vec<Row> = objects.iter().map(|o| print_storage_class(o, &ctx())).collect();
        mark_effective_default(&objects, &mut rows);
        let names: Vec<&Value> = rows.iter().map(|r| &r.cells[0]).collect();
        assert_eq!(names, [&json!("a-old"), &json!("z-new (default)"), &json!("fast")]);
        let objects = [&newer, &same_time];
        let mut rows: Vec<Row> = objects.iter().map(|o| print_storage_class(o, &ctx())).collect();
        mark_effective_default(&objects, &mut rows);
        assert_eq!((&rows[0].cells[0], &rows[1].cells[0]), (&json!("z-new"), &json!("m-tie (default)")));

        let rc = json!({"metadata": meta("gvisor"), "handler": "runsc"});
        assert_eq!(print_runtime_class(&rc, &ctx()).cells, vec![json!("gvisor"), json!("runsc"), json!("20m")]);
    }

    #[test]
    fn certificate_signing_requests() {
        let csr = json!({"metadata": meta("csr-7xk2p"),
            "spec": {"request": "LS0t", "signerName": "kubernetes.io/kube-apiserver-client-kubelet", "expirationSeconds": 86400,
                     "usages": ["digital signature", "client auth"], "username": "system:node:node-1", "groups": ["system:nodes"]},
            "status": {"conditions": [{"type": "Approved", "status": "True", "reason": "AutoApproved"}], "certificate": "LS0tLS1CRUdJTg=="}});
        assert_eq!(
            print_csr(&csr, &ctx()).cells,
            vec![
                json!("csr-7xk2p"),
                json!("20m"),
                json!("kubernetes.io/kube-apiserver-client-kubelet"),
                json!("system:node:node-1"),
                json!("24h"),
                json!("Approved,Issued")
            ]
        );
        let pending = json!({"metadata": meta("csr-2"), "spec": {"request": "LS0t", "username": "jane"}, "status": {}});
        assert_eq!(
            print_csr(&pending, &ctx()).cells[2..],
            [json!("<none>"), json!("jane"), json!("<none>"), json!("Pending")]
        );
        let denied = json!({"metadata": meta("csr-3"), "spec": {}, "status": {"conditions": [{"type": "Approved"}, {"type": "Denied"}, {"type": "Failed"}]}});
        assert_eq!(print_csr(&denied, &ctx()).cells[5], json!("Denied,Failed"));
    }

    #[test]
    fn pdb_and_webhooks() {
        let pdb = json!({"metadata": meta("web"), "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
                         "status": {"disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3}});
        assert_eq!(print_pdb(&pdb, &ctx()).cells, vec![json!("web"), json!("2"), json!("N/A"), json!(1), json!("20m")]);
        let pct = json!({"metadata": meta("db"), "spec": {"maxUnavailable": "25%"}});
        assert_eq!(print_pdb(&pct, &ctx()).cells[1..4], [json!("N/A"), json!("25%"), json!(0)]);
        let vwc = json!({"metadata": meta("policy.example.com"), "webhooks": [{"name": "a.example.com"}, {"name": "b.example.com"}]});
        assert_eq!(print_webhooks(&vwc, &ctx()).cells, vec![json!("policy.example.com"), json!(2), json!("20m")]);
    }

    #[test]
    fn horizontal_pod_autoscalers() {
        let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta("web"),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 10,
                     "metrics": [
                        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
                        {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}}]},
            "status": {"currentReplicas": 3, "desiredReplicas": 3, "currentMetrics": [
                        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 34, "averageValue": "170m"}}}]}});
        assert_eq!(
            print_hpa(&hpa, &ctx()).cells,
            vec![
                json!("web"),
                json!("Deployment/web"),
                json!("cpu: 34%/50%, memory: <unknown>/500Mi + 1 more..."),
                json!("2"),
                json!(10),
                json!(3),
                json!("20m")
            ]
        );

        let external = json!({"metadata": meta("queue"), "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "worker"}, "maxReplicas": 5, "metrics": [
            {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "AverageValue", "averageValue": "30"}}},
            {"type": "Object", "object": {"metric": {"name": "hits"}, "target": {"type": "Value", "value": "10k"}}}]},
            "status": {"currentMetrics": [{"type": "External", "external": {"current": {"averageValue": "12"}}},
                                          {"type": "Object", "object": {"current": {"value": "2k"}}}]}});
        assert_eq!(
            print_hpa(&external, &ctx()).cells[2..6],
            [json!("12/30 (avg), 2k/10k"), json!("1"), json!(5), json!(0)]
        );

        let v1 = json!({"apiVersion": "autoscaling/v1", "metadata": meta("legacy"),
            "spec": {"scaleTargetRef": {"kind": "ReplicaSet", "name": "legacy"}, "minReplicas": 1, "maxReplicas": 4, "targetCPUUtilizationPercentage": 70},
            "status": {"currentReplicas": 1, "currentCPUUtilizationPercentage": 12}});
        assert_eq!(print_hpa(&v1, &ctx()).cells[2], json!("cpu: 12%/70%"));
        let defaulted = json!({"metadata": meta("d"), "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 3}});
        assert_eq!(print_hpa(&defaulted, &ctx()).cells[2], json!("cpu: <unknown>/80%"));
    }
}
