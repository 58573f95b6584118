//! Expands `bootstrap_policy.yaml` (our compact form) into the objects as the API serves them,
//! aggregated rules filled in. Tests only: the server reads the expansion from
//! `bootstrap_policy.json`, and a test keeps that file in step with the YAML.

use crate::auth::rbac::aggregate;
use serde_json::{Map, Value, json};

const API_VERSION: &str = "rbac.authorization.k8s.io/v1";
const GROUP: &str = "rbac.authorization.k8s.io";

pub fn expand(text: &str) -> Vec<Value> {
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
