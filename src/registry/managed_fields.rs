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
    pub(super) children: BTreeMap<String, FieldSet>,
    /// The path itself is a member: a leaf (`{}` in FieldsV1), or a map or list element that
    /// has children and is owned as a whole (`.`).
    pub(super) own: bool,
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
        NodeKind::Object.field_set(schemas, root, object)
    }

    /// FieldsV1 JSON.
    pub fn to_fields_v1(&self) -> Value {
        self.clone().into_fields_v1()
    }

    /// FieldsV1 JSON, moving the path elements into it.
    pub fn into_fields_v1(self) -> Value {
        let mut map = Map::with_capacity(self.children.len() + 1);
        if self.own && !self.children.is_empty() {
            map.insert(".".into(), json!({}));
        }
        for (key, child) in self.children {
            map.insert(key, child.into_fields_v1());
        }
        Value::Object(map)
    }

    pub fn is_empty(&self) -> bool {
        self.children.is_empty() && !self.own
    }
}

/// The `f:` element of a field.
pub(super) fn field_element(field: &str) -> String {
    let mut element = String::with_capacity(field.len() + 2);
    element.push_str("f:");
    element.push_str(field);
    element
}

/// How a list merges and is tracked, from its schema: `x-kubernetes-list-type`, or for
/// built-ins without one the strategic patch metadata (a merge key makes it a map, `merge`
/// without a key a set); anything else is atomic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListKind {
    Atomic,
    Set,
    Map(MapKeys),
}

/// The key fields of a list-map's items, with the defaults some of them have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapKeys {
    /// Sorted and without repeats, as the `k:` element lists them, each with the default an
    /// item that omits it takes.
    fields: Vec<(String, Option<&'static str>)>,
}

/// Key fields with a default, which an item that omits them takes: kube-apiserver's OpenAPI
/// carries `default: "TCP"` on these (the vendored spec has no defaults), so a port applied
/// without a protocol is the item `k:{"containerPort":80,"protocol":"TCP"}`, the same item as
/// the defaulted one already stored.
const KEY_DEFAULTS: [(&str, &str, &str); 2] =
    [("io.k8s.api.core.v1.ContainerPort", "protocol", "TCP"), ("io.k8s.api.core.v1.ServicePort", "protocol", "TCP")];

impl MapKeys {
    /// The `k:` element of a list-map item: its key fields, sorted, as compact JSON. Written
    /// straight into the string, byte for byte what serializing them as a JSON object writes.
    pub fn item_key(&self, item: &Value) -> String {
        let mut key = Vec::with_capacity(64);
        key.extend_from_slice(b"k:{");
        for (name, default) in &self.fields {
            let value = item.get(name);
            if value.is_none() && default.is_none() {
                continue;
            }
            if key.len() > b"k:{".len() {
                key.push(b',');
            }
            let written = serde_json::to_writer(&mut key, name).and_then(|()| {
                key.push(b':');
                match value {
                    Some(value) => serde_json::to_writer(&mut key, value),
                    None => serde_json::to_writer(&mut key, default),
                }
            });
            written.expect("JSON values always serialize");
        }
        key.push(b'}');
        String::from_utf8(key).expect("serialized JSON is UTF-8")
    }

    /// Whether every item of a list-map has every key field, each a string, an integer or a
    /// boolean. Then an item has the field values an element lists exactly when
    /// [`MapKeys::item_key`] renders it as that element, so items can be found by their element.
    pub(super) fn keys_items_exactly(&self, items: &[Value]) -> bool {
        items.iter().all(|item| self.fields.iter().all(|(name, _)| item.get(name).is_some_and(is_exact_scalar)))
    }
}

/// A string, an integer or a boolean: a value that equals another exactly when their JSON does,
/// and that reads back from its JSON as itself.
pub(super) fn is_exact_scalar(value: &Value) -> bool {
    match value {
        Value::String(_) | Value::Bool(_) => true,
        Value::Number(number) => number.is_i64() || number.is_u64(),
        _ => false,
    }
}

pub fn list_kind(schemas: &Schemas, list: SchemaId) -> ListKind {
    let node = schemas.node(list);
    let mut names: Vec<String> = if !node.list_map_keys.is_empty() {
        node.list_map_keys.clone()
    } else {
        node.patch_merge_key.iter().cloned().collect()
    };
    if node.list_type != ListType::Atomic && !names.is_empty() {
        names.sort();
        names.dedup();
        let items = schemas.items(list);
        let default_of = |name: &str| {
            KEY_DEFAULTS
                .iter()
                .find(|(definition, field, _)| *field == name && items.is_some() && schemas.id(definition) == items)
                .map(|(_, _, value)| *value)
        };
        let fields = names
            .into_iter()
            .map(|name| {
                let default = default_of(&name);
                (name, default)
            })
            .collect();
        ListKind::Map(MapKeys { fields })
    } else if node.list_type == ListType::Set
        || (node.patch_strategy.merge && names.is_empty() && node.list_type != ListType::Atomic)
    {
        ListKind::Set
    } else {
        ListKind::Atomic
    }
}

/// Whether a map or struct is `x-kubernetes-map-type: atomic` (on the property or its type).
pub fn is_atomic_map(schemas: &Schemas, schema: SchemaId) -> bool {
    schemas.node(schema).map_type == crate::openapi::MapType::Atomic
        || schemas.resolve(schema).map_type == crate::openapi::MapType::Atomic
}

/// What a node of an object's field set stands for, which says how its set is built from its
/// value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NodeKind {
    /// The whole object: its fields but `apiVersion` and `kind`, and `metadata` only when it
    /// has fields managedFields tracks.
    Object,
    /// `metadata`: the fields managedFields tracks.
    Metadata,
    /// A field's value, walked along its schema: a member when nothing is tracked under it.
    Field,
    /// A list-map item: walked like a field, and a member itself.
    ListMapItem,
    /// A set member: a member leaf, whatever its value.
    SetMember,
}

impl NodeKind {
    /// The field set of a node of this kind whose schema is `schema` and value `value`.
    pub(super) fn field_set(self, schemas: &Schemas, schema: Option<SchemaId>, value: &Value) -> FieldSet {
        let mut children = BTreeMap::new();
        let own = self.visit_children(schemas, schema, value, |element, kind, child_schema, child| {
            children.insert(element, kind.field_set(schemas, child_schema, child));
        });
        FieldSet { own: self.is_member(own, children.is_empty()), children }
    }

    /// Whether the node is a member, given whether [`NodeKind::visit_children`] found it one
    /// and whether it has children.
    pub(super) fn is_member(self, own: bool, childless: bool) -> bool {
        match self {
            NodeKind::Object | NodeKind::Metadata => false,
            NodeKind::Field => own || childless,
            NodeKind::ListMapItem | NodeKind::SetMember => true,
        }
    }

    /// One level of the field set: calls `visit` with each child's path element, kind, schema
    /// and value, in the value's order, and returns whether the node's own value makes it a
    /// member (a granular map is one).
    pub(super) fn visit_children<'a>(
        self,
        schemas: &Schemas,
        schema: Option<SchemaId>,
        value: &'a Value,
        mut visit: impl FnMut(String, NodeKind, Option<SchemaId>, &'a Value),
    ) -> bool {
        let field_schema = |key: &str| schema.and_then(|s| schemas.field(s, key));
        match (self, value) {
            (NodeKind::Object, Value::Object(map)) => {
                for (key, child) in map {
                    let kind = match key.as_str() {
                        "apiVersion" | "kind" => continue,
                        "metadata" if !has_tracked_metadata(child) => continue,
                        "metadata" => NodeKind::Metadata,
                        _ => NodeKind::Field,
                    };
                    visit(field_element(key), kind, field_schema(key), child);
                }
                false
            }
            (NodeKind::Metadata, Value::Object(metadata)) => {
                for (field, child) in metadata.iter().filter(|(f, _)| !UNTRACKED_METADATA.contains(&f.as_str())) {
                    visit(field_element(field), NodeKind::Field, field_schema(field), child);
                }
                false
            }
            (NodeKind::Field | NodeKind::ListMapItem, _) => visit_walked_children(schemas, schema, value, visit),
            _ => false,
        }
    }
}

/// Whether `metadata` is an object with a field managedFields tracks.
fn has_tracked_metadata(metadata: &Value) -> bool {
    metadata.as_object().is_some_and(|m| m.keys().any(|f| !UNTRACKED_METADATA.contains(&f.as_str())))
}

/// Whether an object walked along `schema` has its fields as children (`None` when it has no
/// children: it is empty, an atomic map, or of any type), and if so whether it is a member
/// itself, as a granular map is.
pub(super) fn walked_object_members(
    schemas: &Schemas,
    schema: Option<SchemaId>,
    map: &Map<String, Value>,
) -> Option<bool> {
    if map.is_empty() || schema.is_some_and(|s| is_atomic_map(schemas, s)) {
        return None;
    }
    let resolved = schema.map(|s| &schemas.resolve(s).kind);
    if matches!(resolved, Some(SchemaKind::Any)) {
        return None;
    }
    let is_map =
        matches!(resolved, Some(SchemaKind::Object { properties, additional: Some(_) }) if properties.is_empty());
    Some(is_map)
}

/// [`NodeKind::visit_children`] of a value walked along its schema.
fn visit_walked_children<'a>(
    schemas: &Schemas,
    schema: Option<SchemaId>,
    value: &'a Value,
    mut visit: impl FnMut(String, NodeKind, Option<SchemaId>, &'a Value),
) -> bool {
    match value {
        Value::Object(map) => {
            let Some(own) = walked_object_members(schemas, schema, map) else { return false };
            for (key, child) in map {
                visit(field_element(key), NodeKind::Field, schema.and_then(|s| schemas.field(s, key)), child);
            }
            own
        }
        Value::Array(items) if !items.is_empty() => {
            let Some(list) = schema else { return false };
            let item_schema = schemas.items(list);
            match list_kind(schemas, list) {
                ListKind::Map(map_keys) => {
                    for item in items {
                        visit(map_keys.item_key(item), NodeKind::ListMapItem, item_schema, item);
                    }
                }
                ListKind::Set => {
                    for item in items {
                        visit(format!("v:{item}"), NodeKind::SetMember, item_schema, item);
                    }
                }
                ListKind::Atomic => {}
            }
            false
        }
        _ => false,
    }
}

/// The default field manager: the User-Agent up to its first `/`, as kube-apiserver derives it.
pub fn manager_from_user_agent(user_agent: &str) -> String {
    let prefix = user_agent.split('/').next().unwrap_or_default().trim();
    let prefix: String = prefix.chars().take(128).collect();
    if prefix.is_empty() { "unknown".into() } else { prefix }
}

/// One decoded managedFields entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: String,
    pub fields: FieldSet,
    /// The FieldsV1 to write instead of encoding `fields`: the one stored, while the write
    /// leaves the entry's fields as they were (`fields` may then be left undecoded).
    pub encoded: Option<Value>,
}

impl Entry {
    /// The entry without its fields, which are left empty, and its FieldsV1 as stored.
    fn decode_without_fields(value: &Value) -> Option<(Entry, &Value)> {
        let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
        let manager = text("manager");
        let operation = text("operation");
        if manager.is_empty() && operation.is_empty() {
            return None;
        }
        let entry = Entry {
            manager,
            operation,
            api_version: text("apiVersion"),
            time: text("time"),
            subresource: text("subresource"),
            fields: FieldSet::default(),
            encoded: None,
        };
        Some((entry, value.get("fieldsV1").unwrap_or(&Value::Null)))
    }

    /// The entry as managedFields stores it.
    pub fn into_value(self) -> Value {
        let mut entry = Map::new();
        entry.insert("manager".into(), Value::String(self.manager));
        entry.insert("operation".into(), Value::String(self.operation));
        entry.insert("apiVersion".into(), Value::String(self.api_version));
        entry.insert("time".into(), Value::String(self.time));
        entry.insert("fieldsType".into(), json!("FieldsV1"));
        entry.insert("fieldsV1".into(), self.encoded.unwrap_or_else(|| self.fields.into_fields_v1()));
        if !self.subresource.is_empty() {
            entry.insert("subresource".into(), Value::String(self.subresource));
        }
        Value::Object(entry)
    }

    /// Whether this entry is the one `manager` writes with `operation` on `subresource` (the
    /// manager identifier of the real server: appliers are one manager across API versions).
    pub fn is(&self, manager: &str, operation: &str, api_version: &str, subresource: &str) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource == subresource
            && (operation == "Apply" || self.api_version == api_version)
    }

    /// How a conflict message names this manager: `"mgr"`, with `with subresource "status"` and,
    /// for updaters, `using apps/v1`.
    pub fn display(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            out.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == "Update" {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }
}

/// The entries of an object's `metadata.managedFields`.
pub fn entries_of(object: &Value) -> Vec<Entry> {
    stored_entries(object).map(|(entry, fields)| Entry { fields: FieldSet::from_fields_v1(fields), ..entry }).collect()
}

/// The entries of an object's `metadata.managedFields` with their fields left empty, each
/// with its FieldsV1 as stored, for callers that need not decode them all.
pub fn stored_entries(object: &Value) -> impl Iterator<Item = (Entry, &Value)> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Entry::decode_without_fields)
}

/// Writes `entries` (without empty ones) into `object`, ordered as kube-apiserver orders them:
/// by operation, time, manager, apiVersion and subresource.
pub fn write_entries(object: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| e.encoded.is_some() || !e.fields.is_empty());
    entries.sort_by(|a, b| {
        (&a.operation, &a.time, &a.manager, &a.api_version, &a.subresource).cmp(&(
            &b.operation,
            &b.time,
            &b.manager,
            &b.api_version,
            &b.subresource,
        ))
    });
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    if entries.is_empty() {
        metadata.remove("managedFields");
    } else {
        metadata.insert("managedFields".into(), Value::Array(entries.into_iter().map(Entry::into_value).collect()));
    }
}

/// The entries an update starts from, each with its FieldsV1 as stored: those the new object
/// carries (taken out of it); none when it carries `[{}]` (the documented way to reset them);
/// the live object's when it carries none. Also whether they are the live object's (or the
/// object carries them unchanged, as a client sends back what it read): only those are known
/// to be encoded as the server encodes them, and may be written back as they are.
fn update_base_entries(old: Option<&Value>, object: &mut Value) -> (Vec<(Entry, Value)>, bool) {
    let live = old.and_then(|old| old.pointer("/metadata/managedFields"));
    let sent = object.pointer_mut("/metadata/managedFields").map(std::mem::take);
    match sent {
        Some(Value::Array(sent)) if !sent.is_empty() => {
            let unchanged = live.and_then(Value::as_array) == Some(&sent);
            let taken = sent.into_iter().filter_map(|mut value| {
                let fields = value.get_mut("fieldsV1").map(std::mem::take).unwrap_or_default();
                Entry::decode_without_fields(&value).map(|(entry, _)| (entry, fields))
            });
            (taken.collect(), unchanged)
        }
        _ => {
            let copied = old.into_iter().flat_map(stored_entries).map(|(entry, fields)| (entry, fields.clone()));
            (copied.collect(), true)
        }
    }
}

/// Records an Update by `manager` in `object`'s managedFields, as structured-merge-diff's
/// `Updater.Update` does: the manager gains the fields the update added or changed and loses
/// those it removed, and every other manager loses the fields changed or removed under it.
/// `old` is the live object (none on create). Entries the update does not touch are written
/// back as stored, without decoding them.
#[allow(clippy::too_many_arguments)]
pub fn record_update(
    schemas: &Schemas,
    root: Option<SchemaId>,
    old: Option<&Value>,
    object: &mut Value,
    manager: &str,
    api_version: &str,
    time: &str,
    subresource: &str,
) {
    let (base, as_stored) = update_base_entries(old, object);
    let empty = json!({});
    let (changed, removed) = FieldSet::compare(schemas, root, old.unwrap_or(&empty), object);
    let touched = changed.union(&removed);
    let mut previous = FieldSet::default();
    let mut entries = Vec::new();
    for (mut entry, stored) in base {
        if entry.is(manager, "Update", api_version, subresource) {
            previous = FieldSet::from_fields_v1(&stored);
        } else if as_stored && !touched.meets_fields_v1(&stored) {
            entry.encoded = Some(stored);
            entries.push(entry);
        } else {
            entry.fields = FieldSet::from_fields_v1(&stored).difference(&touched);
            entries.push(entry);
        }
    }
    let fields = previous.union(&changed).difference(&removed);
    entries.push(Entry {
        manager: manager.into(),
        operation: "Update".into(),
        api_version: api_version.into(),
        time: time.into(),
        subresource: subresource.into(),
        fields,
        encoded: None,
    });
    write_entries(object, entries);
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
        record_update(schemas, root, None, &mut object, "kubectl-edit", "v1", "t1", "");
        let old = object.clone();
        object["data"]["k"] = json!("w");
        record_update(schemas, root, Some(&old), &mut object, "kubectl-edit", "v1", "t2", "");
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
