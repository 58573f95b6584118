//! The default RBAC policy kube-apiserver creates at start (the `rbac/bootstrap-roles`
//! post-start hook): ClusterRoles such as `cluster-admin`, `admin`/`edit`/`view` and the
//! `system:*` roles, the ClusterRoleBindings that give them to `system:masters`,
//! `system:authenticated` and friends, and the Roles and RoleBindings of `kube-system` and
//! `kube-public`. The data lives in `bootstrap_policy.yaml` in a compact form of our own; this
//! module expands it into the objects as the API serves them, aggregated rules filled in.

use super::rbac::aggregate;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

const API_VERSION: &str = "rbac.authorization.k8s.io/v1";
const GROUP: &str = "rbac.authorization.k8s.io";
const POLICY: &str = include_str!("bootstrap_policy.yaml");

/// Every bootstrap object, ClusterRoles first, then ClusterRoleBindings, Roles and
/// RoleBindings, each as kube-apiserver stores it (`kind`, `apiVersion`, metadata with the
/// `kubernetes.io/bootstrapping: rbac-defaults` label and the autoupdate annotation).
pub fn bootstrap_policy() -> Vec<Value> {
    static POLICY_OBJECTS: OnceLock<Vec<Value>> = OnceLock::new();
    POLICY_OBJECTS.get_or_init(|| expand(POLICY)).clone()
}

fn expand(text: &str) -> Vec<Value> {
    let policy: Value = serde_saphyr::from_str(text).expect("bootstrap_policy.yaml parses");
    let section = |name: &str| policy.get(name).and_then(Value::as_array).cloned().unwrap_or_default();
    let mut cluster_roles: Vec<Value> = section("clusterRoles").iter().map(|e| role("ClusterRole", e)).collect();
    for (name, rules) in aggregate(&cluster_roles) {
        let role = cluster_roles.iter_mut().find(|r| r["metadata"]["name"] == name.as_str());
        if let Some(role) = role {
            role["rules"] = Value::Array(rules);
        }
    }
    let mut objects = cluster_roles;
    objects.extend(section("clusterRoleBindings").iter().map(|e| binding("ClusterRoleBinding", e)));
    objects.extend(section("roles").iter().map(|e| role("Role", e)));
    objects.extend(section("roleBindings").iter().map(|e| binding("RoleBinding", e)));
    objects
}

fn text<'a>(entry: &'a Value, field: &str) -> &'a str {
    entry.get(field).and_then(Value::as_str).unwrap_or_default()
}

/// `metadata` in `ObjectMeta` field order.
fn metadata(entry: &Value) -> Value {
    let mut meta = Map::new();
    meta.insert("name".into(), json!(text(entry, "name")));
    if let Some(namespace) = entry.get("namespace") {
        meta.insert("namespace".into(), namespace.clone());
    }
    let mut labels = Map::new();
    labels.insert("kubernetes.io/bootstrapping".into(), json!("rbac-defaults"));
    if let Some(extra) = entry.get("labels").and_then(Value::as_object) {
        labels.extend(extra.clone());
    }
    meta.insert("labels".into(), Value::Object(labels));
    meta.insert("annotations".into(), json!({"rbac.authorization.kubernetes.io/autoupdate": "true"}));
    Value::Object(meta)
}

fn role(kind: &str, entry: &Value) -> Value {
    let rules: Vec<Value> = entry.get("rules").and_then(Value::as_array).into_iter().flatten().map(rule).collect();
    let mut object = Map::new();
    object.insert("kind".into(), json!(kind));
    object.insert("apiVersion".into(), json!(API_VERSION));
    object.insert("metadata".into(), metadata(entry));
    object.insert("rules".into(), Value::Array(rules));
    if let Some(labels) = entry.get("aggregateFrom").and_then(Value::as_array) {
        let selectors: Vec<Value> =
            labels.iter().filter_map(Value::as_str).map(|label| json!({"matchLabels": {label: "true"}})).collect();
        object.insert("aggregationRule".into(), json!({"clusterRoleSelectors": selectors}));
    }
    Value::Object(object)
}

/// A rule in `rbacv1.PolicyRule` field order.
fn rule(entry: &Value) -> Value {
    let mut rule = Map::new();
    for field in ["verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"] {
        if let Some(items) = entry.get(field) {
            rule.insert(field.into(), items.clone());
        }
    }
    Value::Object(rule)
}

fn binding(kind: &str, entry: &Value) -> Value {
    let (role_kind, role_name) = text(entry, "roleRef").split_once(' ').unwrap_or_default();
    let subjects: Vec<Value> = entry
        .get("subjects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(subject)
        .collect();
    let mut object = Map::new();
    object.insert("kind".into(), json!(kind));
    object.insert("apiVersion".into(), json!(API_VERSION));
    object.insert("metadata".into(), metadata(entry));
    if !subjects.is_empty() {
        object.insert("subjects".into(), Value::Array(subjects));
    }
    object.insert("roleRef".into(), json!({"apiGroup": GROUP, "kind": role_kind, "name": role_name}));
    Value::Object(object)
}

/// `User name`, `Group name` or `ServiceAccount namespace/name`, in `rbacv1.Subject` order.
fn subject(text: &str) -> Value {
    let (kind, name) = text.split_once(' ').unwrap_or_default();
    match name.split_once('/') {
        Some((namespace, name)) if kind == "ServiceAccount" => {
            json!({"kind": kind, "name": name, "namespace": namespace})
        }
        _ => json!({"kind": kind, "apiGroup": GROUP, "name": name}),
    }
}

#[cfg(test)]
#[path = "bootstrap_policy_tests.rs"]
mod tests;
