//! A CustomResourceDefinition version's `openAPIV3Schema` as a structural schema: the tree
//! kube-apiserver's apiextensions-apiserver derives from it to prune unknown fields, apply
//! `default`s and drop `null`s the schema does not allow, plus the value checks (types, enum,
//! pattern, bounds, formats, `allOf`/`anyOf`/`oneOf`/`not`) that [`super::validation`] runs.
//! Parsing also reports the reasons kube-apiserver gives for refusing a non-structural schema.

use crate::error::FieldError;
use serde_json::{Map, Number, Value, json};

/// The types a structural schema may name.
const TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];

/// One node of a structural schema.
#[derive(Debug, Clone, Default)]
pub struct Structural {
    /// `type`, empty when the schema leaves it open (`x-kubernetes-int-or-string`,
    /// `x-kubernetes-preserve-unknown-fields`).
    pub type_: String,
    pub properties: Vec<(String, Structural)>,
    pub additional_properties: Option<Box<Structural>>,
    pub items: Option<Box<Structural>>,
    pub required: Vec<String>,
    pub nullable: bool,
    pub preserve_unknown_fields: bool,
    pub embedded_resource: bool,
    pub int_or_string: bool,
    /// `x-kubernetes-list-type` (`atomic`, `set`, `map`), empty when not given.
    pub list_type: String,
    /// `x-kubernetes-list-map-keys` of a `map` list.
    pub list_map_keys: Vec<String>,
    pub default: Option<Value>,
    pub checks: Checks,
}

/// The value validations of a node: what does not shape the object but constrains it.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    pub enum_values: Option<Vec<Value>>,
    pub pattern: Option<(String, regex::Regex)>,
    pub format: String,
    pub minimum: Option<Number>,
    pub maximum: Option<Number>,
    pub exclusive_minimum: bool,
    pub exclusive_maximum: bool,
    pub multiple_of: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub min_properties: Option<u64>,
    pub max_properties: Option<u64>,
    pub all_of: Vec<Structural>,
    pub any_of: Vec<Structural>,
    pub one_of: Vec<Structural>,
    pub not: Option<Box<Structural>>,
}

/// Where in the CRD a schema node sits, for error paths
/// (`spec.versions[0].schema.openAPIV3Schema.properties[spec].type`).
#[derive(Clone, Copy)]
enum Position {
    Root,
    Property,
    Items,
    /// Inside `allOf`/`anyOf`/`oneOf`/`not`/`additionalProperties`: only value validations.
    Nested,
}

impl Structural {
    /// Parses a version's `openAPIV3Schema`; `path` is where it sits in the CRD. Every reason the
    /// schema is not structural is returned, worded as kube-apiserver words it.
    pub fn parse(schema: &Value, path: &str) -> Result<Structural, Vec<FieldError>> {
        let mut errors = Vec::new();
        let parsed = parse_node(schema, path, Position::Root, &mut errors);
        if errors.is_empty() { Ok(parsed) } else { Err(errors) }
    }

    pub fn property(&self, name: &str) -> Option<&Structural> {
        self.properties.iter().find(|(key, _)| key == name).map(|(_, schema)| schema)
    }

    /// Whether any node has a `default` (then objects are defaulted when read, too).
    pub fn has_defaults(&self) -> bool {
        self.default.is_some()
            || self.properties.iter().any(|(_, p)| p.has_defaults())
            || self.items.as_ref().is_some_and(|i| i.has_defaults())
            || self.additional_properties.as_ref().is_some_and(|a| a.has_defaults())
    }

    /// The node a dotted JSON path (`.spec.replicas`) leads to.
    pub fn at_path(&self, path: &str) -> Option<&Structural> {
        path.trim_start_matches('.').split('.').filter(|s| !s.is_empty()).try_fold(self, |node, key| node.property(key))
    }
}

fn number(value: Option<&Value>) -> Option<Number> {
    value.and_then(Value::as_number).cloned()
}

fn unsigned(value: Option<&Value>) -> Option<u64> {
    value.and_then(Value::as_u64)
}

fn flag(object: &Map<String, Value>, key: &str) -> bool {
    object.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value.and_then(Value::as_array).into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect()
}

fn parse_node(schema: &Value, path: &str, position: Position, errors: &mut Vec<FieldError>) -> Structural {
    let Some(object) = schema.as_object() else {
        errors.push(FieldError::invalid(path, json!(schema.to_string()), "must be an object"));
        return Structural::default();
    };
    let mut node = Structural {
        type_: object.get("type").and_then(Value::as_str).unwrap_or_default().to_string(),
        nullable: flag(object, "nullable"),
        preserve_unknown_fields: flag(object, "x-kubernetes-preserve-unknown-fields"),
        embedded_resource: flag(object, "x-kubernetes-embedded-resource"),
        int_or_string: flag(object, "x-kubernetes-int-or-string"),
        list_type: object.get("x-kubernetes-list-type").and_then(Value::as_str).unwrap_or_default().to_string(),
        list_map_keys: strings(object.get("x-kubernetes-list-map-keys")),
        default: object.get("default").cloned(),
        required: strings(object.get("required")),
        ..Structural::default()
    };
    check_type(&node, path, position, errors);
    if object.contains_key("$ref") {
        errors.push(FieldError::forbidden(format!("{path}.$ref"), "$ref is not supported"));
    }
    if flag(object, "uniqueItems") {
        errors.push(FieldError::forbidden(
            format!("{path}.uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    let properties = object.get("properties").and_then(Value::as_object);
    for (name, child) in properties.into_iter().flatten() {
        let child_position = if matches!(position, Position::Nested) { Position::Nested } else { Position::Property };
        node.properties
            .push((name.clone(), parse_node(child, &format!("{path}.properties[{name}]"), child_position, errors)));
    }
    match object.get("additionalProperties") {
        Some(Value::Object(_)) if properties.is_some_and(|p| !p.is_empty()) => errors.push(FieldError::forbidden(
            format!("{path}.additionalProperties"),
            "additionalProperties and properties are mutual exclusive",
        )),
        Some(additional @ Value::Object(_)) => {
            let child_position =
                if matches!(position, Position::Nested) { Position::Nested } else { Position::Property };
            let parsed = parse_node(additional, &format!("{path}.additionalProperties"), child_position, errors);
            node.additional_properties = Some(Box::new(parsed));
        }
        Some(Value::Bool(false)) => errors.push(FieldError::forbidden(
            format!("{path}.additionalProperties"),
            "must not be used if x-kubernetes-preserve-unknown-fields is true or in combination with properties",
        )),
        _ => {}
    }
    match object.get("items") {
        Some(items @ Value::Object(_)) => {
            let child_position = if matches!(position, Position::Nested) { Position::Nested } else { Position::Items };
            node.items = Some(Box::new(parse_node(items, &format!("{path}.items"), child_position, errors)));
        }
        Some(_) => errors
            .push(FieldError::forbidden(format!("{path}.items"), "items must be a schema object and not an array")),
        None if node.type_ == "array" && !matches!(position, Position::Nested) => {
            errors.push(FieldError::required(format!("{path}.items"), "must be specified"))
        }
        None => {}
    }
    node.checks = parse_checks(object, path, errors);
    node
}

fn check_type(node: &Structural, path: &str, position: Position, errors: &mut Vec<FieldError>) {
    let open = node.int_or_string || node.preserve_unknown_fields;
    if !node.type_.is_empty() && !TYPES.contains(&node.type_.as_str()) {
        let supported = TYPES.iter().map(|t| t.to_string()).collect();
        errors.push(FieldError {
            field: format!("{path}.type"),
            kind: crate::error::FieldErrorKind::NotSupported(json!(node.type_), supported),
            detail: String::new(),
        });
        return;
    }
    match position {
        Position::Root if node.type_ != "object" => {
            errors.push(FieldError::invalid(format!("{path}.type"), json!(node.type_), "must be object at the root"))
        }
        Position::Property if node.type_.is_empty() && !open => {
            errors.push(FieldError::required(format!("{path}.type"), "must not be empty for specified object fields"))
        }
        Position::Items if node.type_.is_empty() && !open => {
            errors.push(FieldError::required(format!("{path}.type"), "must not be empty for specified array items"))
        }
        _ => {}
    }
    if node.int_or_string && !node.type_.is_empty() {
        errors.push(FieldError::invalid(
            format!("{path}.type"),
            json!(node.type_),
            "must be empty if x-kubernetes-int-or-string is true",
        ));
    }
}

fn parse_checks(object: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) -> Checks {
    let nested = |key: &str, errors: &mut Vec<FieldError>| -> Vec<Structural> {
        object
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, s)| parse_node(s, &format!("{path}.{key}[{i}]"), Position::Nested, errors))
            .collect()
    };
    let pattern = object.get("pattern").and_then(Value::as_str).and_then(|source| match regex::Regex::new(source) {
        Ok(compiled) => Some((source.to_string(), compiled)),
        Err(error) => {
            errors.push(FieldError::invalid(
                format!("{path}.pattern"),
                json!(source),
                format!("must be a valid regular expression, but isn't: {error}"),
            ));
            None
        }
    });
    Checks {
        enum_values: object.get("enum").and_then(Value::as_array).cloned(),
        pattern,
        format: object.get("format").and_then(Value::as_str).unwrap_or_default().to_string(),
        minimum: number(object.get("minimum")),
        maximum: number(object.get("maximum")),
        exclusive_minimum: flag(object, "exclusiveMinimum"),
        exclusive_maximum: flag(object, "exclusiveMaximum"),
        multiple_of: object.get("multipleOf").and_then(Value::as_f64),
        min_length: unsigned(object.get("minLength")),
        max_length: unsigned(object.get("maxLength")),
        min_items: unsigned(object.get("minItems")),
        max_items: unsigned(object.get("maxItems")),
        min_properties: unsigned(object.get("minProperties")),
        max_properties: unsigned(object.get("maxProperties")),
        all_of: nested("allOf", errors),
        any_of: nested("anyOf", errors),
        one_of: nested("oneOf", errors),
        not: object.get("not").map(|s| Box::new(parse_node(s, &format!("{path}.not"), Position::Nested, errors))),
    }
}

/// The fields of ObjectMeta, which is all a custom resource's `metadata` keeps.
const OBJECT_META_FIELDS: [&str; 16] = [
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
    "clusterName",
];

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// The paths of dropped fields, apart as kube-apiserver collects them.
#[derive(Default)]
struct Dropped {
    /// Unknown fields of the root `metadata` (found when ObjectMeta is decoded).
    root_metadata: Vec<String>,
    /// Fields the schema does not declare (found by pruning).
    pruned: Vec<String>,
    /// Unknown fields of embedded resources' `metadata` (found when they are coerced).
    embedded_metadata: Vec<String>,
}

/// Drops every field the schema does not declare (kept under
/// `x-kubernetes-preserve-unknown-fields`), returning their paths (`spec.foo`,
/// `spec.items[0].bar`) for `fieldValidation` warnings or errors, in kube-apiserver's order:
/// unknown root metadata fields, then the pruned fields sorted, then unknown metadata fields of
/// embedded resources. `apiVersion`, `kind` and `metadata` are kept at the root and in embedded
/// resources; `metadata` keeps ObjectMeta's fields only.
pub fn prune(object: &mut Value, schema: &Structural) -> Vec<String> {
    let mut dropped = Dropped::default();
    prune_node(object, schema, "", true, &mut dropped);
    dropped.pruned.sort();
    [dropped.root_metadata, dropped.pruned, dropped.embedded_metadata].concat()
}

fn prune_node(value: &mut Value, schema: &Structural, path: &str, resource: bool, unknown: &mut Dropped) {
    match value {
        Value::Object(map) => {
            let mut dropped = Vec::new();
            for (key, child) in map.iter_mut() {
                let child_path = join(path, key);
                if resource && key == "metadata" {
                    if let Value::Object(metadata) = child {
                        let found =
                            if path.is_empty() { &mut unknown.root_metadata } else { &mut unknown.embedded_metadata };
                        for field in metadata.keys().filter(|k| !OBJECT_META_FIELDS.contains(&k.as_str())) {
                            found.push(join(&child_path, field));
                        }
                        metadata.retain(|k, _| OBJECT_META_FIELDS.contains(&k.as_str()));
                    }
                    continue;
                }
                if resource && (key == "apiVersion" || key == "kind") && schema.property(key).is_none() {
                    continue;
                }
                if let Some(property) = schema.property(key) {
                    prune_node(child, property, &child_path, property.embedded_resource, unknown);
                } else if let Some(additional) = &schema.additional_properties {
                    prune_node(child, additional, &child_path, additional.embedded_resource, unknown);
                } else if !schema.preserve_unknown_fields {
                    unknown.pruned.push(child_path);
                    dropped.push(key.clone());
                }
            }
            for key in dropped {
                map.remove(&key);
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &schema.items {
                for (i, item) in items.iter_mut().enumerate() {
                    prune_node(item, item_schema, &format!("{path}[{i}]"), item_schema.embedded_resource, unknown);
                }
            }
        }
        _ => {}
    }
}

/// Applies `default`s top-down (a defaulted value gets its own nested defaults) and drops
/// `null`s where the schema is not `nullable` and has no default, as kube-apiserver does when it
/// decodes a request and when it reads from storage.
pub fn apply_defaults(value: &mut Value, schema: &Structural) {
    match value {
        Value::Object(map) => {
            for (name, property) in &schema.properties {
                match map.get(name) {
                    None => {
                        if let Some(default) = &property.default {
                            map.insert(name.clone(), default.clone());
                        }
                    }
                    Some(Value::Null) if !property.nullable => match &property.default {
                        Some(default) => {
                            map.insert(name.clone(), default.clone());
                        }
                        None => {
                            map.remove(name);
                        }
                    },
                    Some(_) => {}
                }
                if let Some(child) = map.get_mut(name) {
                    apply_defaults(child, property);
                }
            }
            if let Some(additional) = &schema.additional_properties {
                map.retain(|_, v| !v.is_null() || additional.nullable || additional.default.is_some());
                for child in map.values_mut() {
                    if child.is_null()
                        && let Some(default) = &additional.default
                    {
                        *child = default.clone();
                    }
                    apply_defaults(child, additional);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &schema.items {
                for item in items.iter_mut() {
                    if item.is_null()
                        && !item_schema.nullable
                        && let Some(default) = &item_schema.default
                    {
                        *item = default.clone();
                    }
                    apply_defaults(item, item_schema);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widget_schema() -> Structural {
        Structural::parse(
            &json!({"type": "object", "properties": {
                "spec": {"type": "object", "properties": {
                    "size": {"type": "integer", "default": 1},
                    "color": {"type": "string", "enum": ["red", "blue"]},
                    "tags": {"type": "array", "items": {"type": "object", "properties": {"key": {"type": "string", "default": "k"}}}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "nested": {"type": "object", "default": {}, "properties": {"depth": {"type": "integer", "default": 3}}},
                    "note": {"type": "string"},
                }},
                "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
            }}),
            "spec.versions[0].schema.openAPIV3Schema",
        )
        .expect("structural")
    }

    #[test]
    fn pruning_drops_undeclared_fields_and_reports_their_paths() {
        let mut object = json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "bogus": 1},
            "spec": {"size": 2, "extra": true, "tags": [{"key": "a", "junk": 1}], "labels": {"a": "b"}, "free": {"any": {"thing": 1}}},
            "top": 1});
        let unknown = prune(&mut object, &widget_schema());
        assert_eq!(unknown, ["metadata.bogus", "spec.extra", "spec.tags[0].junk", "top"]);
        assert_eq!(
            object,
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                "spec": {"size": 2, "tags": [{"key": "a"}], "labels": {"a": "b"}, "free": {"any": {"thing": 1}}}})
        );
    }

    #[test]
    fn defaults_fill_missing_fields_recursively_and_replace_disallowed_nulls() {
        let mut object = json!({"spec": {"tags": [{}], "note": null, "size": null}});
        apply_defaults(&mut object, &widget_schema());
        assert_eq!(object["spec"], json!({"tags": [{"key": "k"}], "size": 1, "nested": {"depth": 3}}));
        assert!(widget_schema().has_defaults());
    }

    #[test]
    fn non_structural_schemas_are_refused_with_kube_wording() {
        let errors = Structural::parse(
            &json!({"type": "object", "properties": {"spec": {"properties": {"a": {"type": "array"}, "b": {"type": "strin"}, "c": {"type": "string", "pattern": "("}}}}}),
            "s",
        )
        .unwrap_err();
        let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            rendered,
            [
                "s.properties[spec].type: Required value: must not be empty for specified object fields",
                "s.properties[spec].properties[a].items: Required value: must be specified",
                "s.properties[spec].properties[b].type: Unsupported value: \"strin\": supported values: \"array\", \"boolean\", \"integer\", \"number\", \"object\", \"string\"",
                "s.properties[spec].properties[c].pattern: Invalid value: \"(\": must be a valid regular expression, but isn't: regex parse error:\n    (\n    ^\nerror: unclosed group",
            ]
        );
        let root = Structural::parse(&json!({"type": "string"}), "s").unwrap_err();
        assert_eq!(root[0].to_string(), "s.type: Invalid value: \"string\": must be object at the root");
        assert!(
            Structural::parse(
                &json!({"type": "object", "properties": {"n": {"x-kubernetes-int-or-string": true}}}),
                "s"
            )
            .is_ok()
        );
    }
}
