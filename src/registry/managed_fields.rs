//! `metadata.managedFields`: the FieldsV1 set of the fields an object sets, encoded as
//! kube-apiserver encodes it (`f:` for fields, `k:{...}` for list-map elements, `v:` for set
//! members, `.` for the element or map itself), and the per-manager entries that writes
//! record. Server-side apply builds on the same field sets.

use crate::openapi::{ListType, SchemaId, SchemaKind, Schemas};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A set of field paths as a tree: each child keyed by its FieldsV1 path element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    children: BTreeMap<String, FieldSet>,
    /// The path itself is a member (`.` in FieldsV1 for maps and list elements).
    own: bool,
}

/// Metadata fields never tracked in managedFields.
const UNTRACKED_METADATA: [&str; 9] = [
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "deletionTimestamp",
    "selfLink",
];

impl FieldSet {
    /// The fields `object` sets, walked along `root`'s schema (no schema: treated as free
    /// form, which is what custom resources without structure get).
    pub fn of_object(schemas: &Schemas, root: Option<SchemaId>, object: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        if let Value::Object(map) = object {
            for (key, value) in map {
                if key == "apiVersion" || key == "kind" {
                    continue;
                }
                let child_schema = root.and_then(|r| schemas.field(r, key));
                let mut child = FieldSet::default();
                if key == "metadata" {
                    if let Value::Object(meta) = value {
                        for (field, field_value) in
                            meta.iter().filter(|(f, _)| !UNTRACKED_METADATA.contains(&f.as_str()))
                        {
                            let field_schema = child_schema.and_then(|s| schemas.field(s, field));
                            child.children.insert(format!("f:{field}"), walk(schemas, field_schema, field_value, true));
                        }
                    }
                    if child.children.is_empty() {
                        continue;
                    }
                } else {
                    child = walk(schemas, child_schema, value, false);
                }
                set.children.insert(format!("f:{key}"), child);
            }
        }
        set
    }

    /// FieldsV1 JSON.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.own {
            map.insert(".".into(), json!({}));
        }
        for (key, child) in &self.children {
            map.insert(key.clone(), child.to_fields_v1());
        }
        Value::Object(map)
    }

    pub fn is_empty(&self) -> bool {
        self.children.is_empty() && !self.own
    }
}

fn walk(schemas: &Schemas, schema: Option<SchemaId>, value: &Value, is_map_entry_parent: bool) -> FieldSet {
    let _ = is_map_entry_parent;
    let mut set = FieldSet::default();
    let resolved = schema.map(|s| &schemas.resolve(s).kind);
    match value {
        Value::Object(map) if !map.is_empty() => {
            let is_map = matches!(resolved, Some(SchemaKind::Object { properties, additional: Some(_) }) if properties.is_empty())
                || matches!(resolved, None | Some(SchemaKind::Any));
            if is_map && schema.is_some_and(|s| !matches!(schemas.resolve(s).kind, SchemaKind::Any)) {
                set.own = true;
            }
            if matches!(resolved, Some(SchemaKind::Any)) && schema.is_some() {
                return set;
            }
            for (key, child) in map {
                let child_schema = schema.and_then(|s| schemas.field(s, key));
                set.children.insert(format!("f:{key}"), walk(schemas, child_schema, child, false));
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let Some(list) = schema else { return set };
            let node = schemas.node(list);
            let item_schema = schemas.items(list);
            let map_keys: Vec<String> = if !node.list_map_keys.is_empty() {
                node.list_map_keys.clone()
            } else {
                node.patch_merge_key.iter().cloned().collect()
            };
            let is_set = node.list_type == ListType::Set
                || (node.patch_strategy.merge && map_keys.is_empty() && node.list_type != ListType::Atomic);
            if node.list_type != ListType::Atomic && !map_keys.is_empty() {
                for item in items {
                    let mut key = Map::new();
                    let mut sorted = map_keys.clone();
                    sorted.sort();
                    for k in sorted {
                        if let Some(v) = item.get(&k) {
                            key.insert(k, v.clone());
                        }
                    }
                    let mut element = walk(schemas, item_schema, item, false);
                    element.own = true;
                    set.children.insert(format!("k:{}", Value::Object(key)), element);
                }
            } else if is_set {
                for item in items {
                    set.children.insert(format!("v:{item}"), FieldSet::default());
                }
            }
        }
        _ => {}
    }
    set
}

/// One managedFields entry.
pub fn entry(
    manager: &str,
    operation: &str,
    api_version: &str,
    time: &str,
    subresource: &str,
    fields: &FieldSet,
) -> Value {
    let mut entry = Map::new();
    entry.insert("manager".into(), json!(manager));
    entry.insert("operation".into(), json!(operation));
    entry.insert("apiVersion".into(), json!(api_version));
    entry.insert("time".into(), json!(time));
    entry.insert("fieldsType".into(), json!("FieldsV1"));
    entry.insert("fieldsV1".into(), fields.to_fields_v1());
    if !subresource.is_empty() {
        entry.insert("subresource".into(), json!(subresource));
    }
    Value::Object(entry)
}

/// The default field manager: the User-Agent up to its first `/`, as kube-apiserver derives it.
pub fn manager_from_user_agent(user_agent: &str) -> String {
    let prefix = user_agent.split('/').next().unwrap_or_default().trim();
    let prefix: String = prefix.chars().take(128).collect();
    if prefix.is_empty() { "unknown".into() } else { prefix }
}

/// Records an Update by `manager` in `object`'s managedFields: the manager's entry for this
/// operation and subresource is replaced with the fields the object now sets.
pub fn record_update(
    schemas: &Schemas,
    root: Option<SchemaId>,
    object: &mut Value,
    manager: &str,
    api_version: &str,
    time: &str,
    subresource: &str,
) {
    let fields = FieldSet::of_object(schemas, root, object);
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    let mut entries: Vec<Value> = match metadata.remove("managedFields") {
        Some(Value::Array(entries)) => entries,
        _ => Vec::new(),
    };
    entries.retain(|e| {
        !(e["manager"] == manager
            && e["operation"] == "Update"
            && e.get("subresource").and_then(Value::as_str).unwrap_or_default() == subresource)
    });
    if !fields.is_empty() {
        entries.push(entry(manager, "Update", api_version, time, subresource, &fields));
    }
    if !entries.is_empty() {
        metadata.insert("managedFields".into(), Value::Array(entries));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::schema;

    #[test]
    fn deployment_fields_are_encoded_as_kube_apiserver_encodes_them() {
        let schemas = schema();
        let root = schemas.id("io.k8s.api.apps.v1.Deployment");
        let object = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}},
        });
        let fields = FieldSet::of_object(schemas, root, &object).to_fields_v1();
        assert_eq!(
            fields,
            json!({
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}, "f:ports": {
                        "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:protocol": {}}
                    }}
                }}}}
            })
        );
    }

    #[test]
    fn finalizers_are_a_set_and_updates_replace_the_managers_entry() {
        let schemas = schema();
        let root = schemas.id("io.k8s.api.core.v1.ConfigMap");
        let mut object = json!({"metadata": {"name": "c", "finalizers": ["a/b"]}, "data": {"k": "v"}});
        record_update(schemas, root, &mut object, "kubectl-edit", "v1", "t1", "");
        record_update(schemas, root, &mut object, "kubectl-edit", "v1", "t2", "");
        let entries = object["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["time"], "t2");
        assert_eq!(
            entries[0]["fieldsV1"],
            json!({"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:finalizers": {"v:\"a/b\"": {}}}})
        );
    }

    #[test]
    fn manager_names_come_from_the_user_agent() {
        assert_eq!(manager_from_user_agent("kubectl/v1.33.0 (linux/amd64) kubernetes/abc"), "kubectl");
        assert_eq!(manager_from_user_agent(""), "unknown");
    }
}
