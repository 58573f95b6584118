//! A compact graph of the OpenAPI schemas, the part of the spec that drives behaviour: which
//! fields exist, their types, and the list, map and patch semantics carried by the
//! `x-kubernetes-*` extensions. Strategic merge patch, unknown-field detection and field
//! management walk this graph instead of raw JSON schema.
//!
//! Nodes live in one arena and refer to each other by [`SchemaId`]. A `$ref` becomes a
//! [`SchemaKind::Ref`] node so that a property can add its own extensions (Deployment's
//! `strategy` adds `retainKeys`) on top of the definition it points at.
//!
//! The build script includes this file too: it builds the built-in graph from the spec and
//! stores it serialized, so that a process only deserializes it (see [`super::schema`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

pub type SchemaId = usize;

/// The shape of one schema node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SchemaKind {
    Object {
        properties: Vec<(String, SchemaId)>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        additional: Option<SchemaId>,
    },
    Array {
        items: SchemaId,
    },
    String,
    Integer,
    Number,
    Boolean,
    IntOrString,
    /// Anything goes: RawExtension, JSON, or a schema with no type.
    Any,
    Ref(SchemaId),
}

/// `x-kubernetes-list-type`; `None` when the schema does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ListType {
    #[default]
    Unspecified,
    Atomic,
    Set,
    Map,
}

/// `x-kubernetes-map-type`; structs and maps default to granular.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MapType {
    #[default]
    Granular,
    Atomic,
}

/// The parsed `x-kubernetes-patch-strategy` (a comma-separated list in the spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PatchStrategy {
    pub merge: bool,
    pub replace: bool,
    pub retain_keys: bool,
}

/// One node of the graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    pub kind: SchemaKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub list_type: ListType,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub list_map_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub map_type: MapType,
    #[serde(default, skip_serializing_if = "is_default")]
    pub patch_strategy: PatchStrategy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_merge_key: Option<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub preserve_unknown_fields: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    pub embedded_resource: bool,
}

/// Serialized graphs leave out what a node does not set.
fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

impl Schema {
    fn of_kind(kind: SchemaKind) -> Self {
        Schema {
            kind,
            format: None,
            required: Vec::new(),
            list_type: ListType::Unspecified,
            list_map_keys: Vec::new(),
            map_type: MapType::Granular,
            patch_strategy: PatchStrategy::default(),
            patch_merge_key: None,
            preserve_unknown_fields: false,
            embedded_resource: false,
        }
    }
}

/// An arena of schema nodes with named roots (definition names such as
/// `io.k8s.api.core.v1.Pod`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Schemas {
    nodes: Vec<Schema>,
    names: HashMap<String, SchemaId>,
}

impl Schemas {
    /// Builds the graph from an OpenAPI v2 `definitions` object (refs as `#/definitions/X`).
    pub fn from_definitions(definitions: &Value) -> Self {
        let mut schemas = Schemas::default();
        let Some(map) = definitions.as_object() else { return schemas };
        for name in map.keys() {
            let id = schemas.nodes.len();
            schemas.nodes.push(Schema::of_kind(SchemaKind::Any));
            schemas.names.insert(name.clone(), id);
        }
        for (name, definition) in map {
            let node = schemas.build_node(definition);
            let id = schemas.names[name];
            schemas.nodes[id] = node;
        }
        schemas
    }

    /// Adds an anonymous root (a CRD version's schema, say) and returns its id.
    pub fn add_root(&mut self, schema: &Value) -> SchemaId {
        let node = self.build_node(schema);
        self.push(node)
    }

    fn push(&mut self, node: Schema) -> SchemaId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn build_node(&mut self, value: &Value) -> Schema {
        let kind = self.build_kind(value);
        let strings = |key: &str| -> Vec<String> {
            value[key].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect()
        };
        let flag = |key: &str| value[key].as_bool().unwrap_or(false);
        let strategy = value["x-kubernetes-patch-strategy"].as_str().unwrap_or_default();
        Schema {
            kind,
            format: value["format"].as_str().map(String::from),
            required: strings("required"),
            list_type: match value["x-kubernetes-list-type"].as_str() {
                Some("atomic") => ListType::Atomic,
                Some("set") => ListType::Set,
                Some("map") => ListType::Map,
                _ => ListType::Unspecified,
            },
            list_map_keys: strings("x-kubernetes-list-map-keys"),
            map_type: match value["x-kubernetes-map-type"].as_str() {
                Some("atomic") => MapType::Atomic,
                _ => MapType::Granular,
            },
            patch_strategy: PatchStrategy {
                merge: strategy.split(',').any(|s| s == "merge"),
                replace: strategy.split(',').any(|s| s == "replace"),
                retain_keys: strategy.split(',').any(|s| s == "retainKeys"),
            },
            patch_merge_key: value["x-kubernetes-patch-merge-key"].as_str().map(String::from),
            preserve_unknown_fields: flag("x-kubernetes-preserve-unknown-fields"),
            embedded_resource: flag("x-kubernetes-embedded-resource"),
        }
    }

    fn build_child(&mut self, value: &Value) -> SchemaId {
        if let Some(target) = self.ref_target(value)
            && value.as_object().is_some_and(|m| m.keys().all(|k| k == "$ref" || k == "description"))
        {
            return target;
        }
        let node = self.build_node(value);
        self.push(node)
    }

    fn ref_target(&self, value: &Value) -> Option<SchemaId> {
        let reference = value["$ref"].as_str()?;
        let name = reference.rsplit('/').next()?;
        self.names.get(name).copied()
    }

    fn build_kind(&mut self, value: &Value) -> SchemaKind {
        if let Some(target) = self.ref_target(value) {
            return SchemaKind::Ref(target);
        }
        if value["x-kubernetes-int-or-string"].as_bool() == Some(true)
            || value["format"].as_str() == Some("int-or-string")
        {
            return SchemaKind::IntOrString;
        }
        match value["type"].as_str() {
            Some("string") => SchemaKind::String,
            Some("integer") => SchemaKind::Integer,
            Some("number") => SchemaKind::Number,
            Some("boolean") => SchemaKind::Boolean,
            Some("array") => {
                let items = match value.get("items") {
                    Some(items) => self.build_child(items),
                    None => self.push(Schema::of_kind(SchemaKind::Any)),
                };
                SchemaKind::Array { items }
            }
            Some("object") => {
                let mut properties = Vec::new();
                for (name, property) in value["properties"].as_object().into_iter().flatten() {
                    properties.push((name.clone(), self.build_child(property)));
                }
                let additional = match value.get("additionalProperties") {
                    Some(Value::Object(schema)) if !schema.is_empty() || properties.is_empty() => {
                        Some(self.build_child(&value["additionalProperties"]))
                    }
                    _ => None,
                };
                if properties.is_empty() && additional.is_none() {
                    SchemaKind::Any
                } else {
                    SchemaKind::Object { properties, additional }
                }
            }
            _ => SchemaKind::Any,
        }
    }

    /// The id of a named definition.
    pub fn id(&self, name: &str) -> Option<SchemaId> {
        self.names.get(name).copied()
    }

    /// The node itself, extensions included, without following `$ref`.
    pub fn node(&self, id: SchemaId) -> &Schema {
        &self.nodes[id]
    }

    /// The node's structure: follows `$ref` chains to the node that has a real kind.
    pub fn resolve(&self, mut id: SchemaId) -> &Schema {
        for _ in 0..64 {
            match self.nodes[id].kind {
                SchemaKind::Ref(target) => id = target,
                _ => break,
            }
        }
        &self.nodes[id]
    }

    /// The schema of field `name` of an object node: a declared property, or the
    /// `additionalProperties` schema for maps.
    pub fn field(&self, id: SchemaId, name: &str) -> Option<SchemaId> {
        match &self.resolve(id).kind {
            SchemaKind::Object { properties, additional } => {
                properties.iter().find(|(property, _)| property == name).map(|(_, id)| *id).or(*additional)
            }
            _ => None,
        }
    }

    /// The schema of an array node's items.
    pub fn items(&self, id: SchemaId) -> Option<SchemaId> {
        match self.resolve(id).kind {
            SchemaKind::Array { items } => Some(items),
            _ => None,
        }
    }

    /// Whether unknown fields under this node are kept rather than reported or pruned.
    pub fn accepts_any(&self, id: SchemaId) -> bool {
        let node = self.resolve(id);
        node.preserve_unknown_fields || self.node(id).preserve_unknown_fields || node.kind == SchemaKind::Any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::schema;

    #[test]
    fn pod_containers_carry_their_list_and_patch_semantics() {
        let schemas = schema();
        let pod = schemas.id("io.k8s.api.core.v1.Pod").unwrap();
        let spec = schemas.field(pod, "spec").unwrap();
        let containers = schemas.field(spec, "containers").unwrap();
        let node = schemas.node(containers);
        assert_eq!(node.list_type, ListType::Map);
        assert_eq!(node.list_map_keys, ["name"]);
        assert!(node.patch_strategy.merge);
        assert_eq!(node.patch_merge_key.as_deref(), Some("name"));
        let container = schemas.items(containers).unwrap();
        let image = schemas.field(container, "image").unwrap();
        assert_eq!(schemas.resolve(image).kind, SchemaKind::String);
        assert!(schemas.field(container, "nosuchfield").is_none());
    }

    #[test]
    fn ref_properties_keep_their_own_extensions() {
        let schemas = schema();
        let spec = schemas.id("io.k8s.api.apps.v1.DeploymentSpec").unwrap();
        let strategy = schemas.field(spec, "strategy").unwrap();
        assert!(schemas.node(strategy).patch_strategy.retain_keys);
        assert!(matches!(schemas.resolve(strategy).kind, SchemaKind::Object { .. }));
    }

    #[test]
    fn maps_int_or_string_and_free_form_fields() {
        let schemas = schema();
        let meta = schemas.id("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta").unwrap();
        let labels = schemas.field(meta, "labels").unwrap();
        let any_label = schemas.field(labels, "app.kubernetes.io/name").unwrap();
        assert_eq!(schemas.resolve(any_label).kind, SchemaKind::String);
        let port = schemas.id("io.k8s.api.core.v1.ServicePort").unwrap();
        let target = schemas.field(port, "targetPort").unwrap();
        assert_eq!(schemas.resolve(target).kind, SchemaKind::IntOrString);
        let raw = schemas.id("io.k8s.apimachinery.pkg.runtime.RawExtension").unwrap();
        assert!(schemas.accepts_any(raw));
    }
}
