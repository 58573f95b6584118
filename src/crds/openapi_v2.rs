//! `/openapi/v2` with custom resources in it, as kube-apiserver merges them in: each served
//! custom version gets its kind and List definitions (the CRD's schema made OpenAPI-v2-safe as
//! apiextensions-apiserver's `ToStructuralOpenAPIV2` does, with `apiVersion`, `kind` and
//! ObjectMeta added) and its paths. Older clients and helm read v2 to validate manifests. The
//! built-in document is large, so the additions are spliced into its bytes rather than parsed
//! and re-serialized, and the result is kept until the catalog changes.

use crate::openapi::documents;
use crate::openapi::{Catalog, ResourceInfo};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex};

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1";

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/definitions/{name}")})
}

/// The v2 document for a server whose catalog is `catalog`.
pub fn document(catalog: &Arc<Catalog>) -> Bytes {
    let builtin = &documents::builtin().v2;
    if !catalog.resources().iter().any(|r| r.crd.is_some()) {
        return builtin.clone();
    }
    static LAST: Mutex<Option<(Arc<Catalog>, Bytes)>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((built_for, document)) = last.as_ref()
        && Arc::ptr_eq(built_for, catalog)
    {
        return document.clone();
    }
    let (mut paths, mut definitions) = (Map::new(), Map::new());
    for resource in catalog.resources().iter().filter(|r| r.crd.is_some()) {
        add_resource(resource, &mut paths, &mut definitions);
    }
    let document = splice(builtin, &[("paths", paths), ("definitions", definitions)]);
    *last = Some((catalog.clone(), document.clone()));
    document
}

/// `document` with each map's entries added at the start of the object that top-level key
/// (`paths` or `definitions`) holds.
fn splice(document: &[u8], additions: &[(&str, Map<String, Value>)]) -> Bytes {
    let mut out = document.to_vec();
    for (key, entries) in additions {
        let Some(at) = top_level_object(&out, key) else { continue };
        let mut inserted = Vec::new();
        for (name, value) in entries {
            serde_json::to_writer(&mut inserted, name).expect("strings serialize");
            inserted.push(b':');
            serde_json::to_writer(&mut inserted, value).expect("values serialize");
            inserted.push(b',');
        }
        let empty = out[at..].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
        if empty {
            inserted.pop();
        }
        out.splice(at..at, inserted);
    }
    Bytes::from(out)
}

/// Where the object that the top-level `key` of the JSON object `document` holds begins (just
/// after its `{`): a scan that tracks strings and nesting, so a property of the same name
/// deeper down is not mistaken for it.
fn top_level_object(document: &[u8], key: &str) -> Option<usize> {
    let quoted = format!("\"{key}\"");
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut at = 0;
    while at < document.len() {
        let byte = document[at];
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else {
            match byte {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.saturating_sub(1),
                b'"' if depth == 1 && document[at..].starts_with(quoted.as_bytes()) => {
                    let rest = &document[at + quoted.len()..];
                    let colon = rest.iter().position(|b| !b.is_ascii_whitespace())?;
                    let brace = rest[colon + 1..].iter().position(|b| !b.is_ascii_whitespace())?;
                    if rest[colon] == b':' && rest[colon + 1 + brace] == b'{' {
                        return Some(at + quoted.len() + colon + 1 + brace + 1);
                    }
                    in_string = true;
                }
                b'"' => in_string = true,
                _ => {}
            }
        }
        at += 1;
    }
    None
}

/// A CRD schema as OpenAPI v2 can carry it (`ToStructuralOpenAPIV2`): no `allOf`, `oneOf`,
/// `anyOf` or `not`; a nullable or unknown-fields-preserving node loses its type, properties
/// and items (kubectl cannot cope with them); an array without items loses its type; and a
/// nullable property is not required.
pub fn to_v2(schema: &Value) -> Value {
    let Value::Object(map) = schema else { return schema.clone() };
    let mut out = Map::new();
    for (key, value) in map {
        let converted = match key.as_str() {
            "allOf" | "oneOf" | "anyOf" | "not" | "nullable" => continue,
            "properties" | "patternProperties" => match value {
                Value::Object(properties) => {
                    Value::Object(properties.iter().map(|(name, child)| (name.clone(), to_v2(child))).collect())
                }
                other => other.clone(),
            },
            "items" | "additionalProperties" => to_v2(value),
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    let nullable = map.get("nullable") == Some(&Value::Bool(true));
    if nullable || map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        out.remove("properties");
        out.remove("items");
        if nullable {
            out.remove("type");
        }
    }
    if out.get("type") == Some(&json!("array")) && !out.contains_key("items") {
        out.remove("type");
    }
    let nullable_properties: Vec<String> = map
        .get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .filter(|(_, child)| child.get("nullable") == Some(&Value::Bool(true)))
                .map(|(n, _)| n.clone())
                .collect()
        })
        .unwrap_or_default();
    if let Some(Value::Array(required)) = out.get_mut("required") {
        required.retain(|name| !nullable_properties.iter().any(|nullable| name == nullable));
    }
    Value::Object(out)
}

fn gvk(resource: &ResourceInfo, kind: &str) -> Value {
    json!([{"group": resource.group, "kind": kind, "version": resource.version}])
}

fn add_resource(resource: &ResourceInfo, paths: &mut Map<String, Value>, definitions: &mut Map<String, Value>) {
    let Some(custom) = &resource.crd else { return };
    let mut kind = match to_v2(&custom.raw_schema) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let properties = kind.entry("properties").or_insert_with(|| json!({}));
    if let Some(properties) = properties.as_object_mut() {
        properties.insert("apiVersion".into(), json!({"type": "string"}));
        properties.insert("kind".into(), json!({"type": "string"}));
        properties.insert("metadata".into(), reference(&format!("{META}.ObjectMeta")));
    }
    kind.insert("x-kubernetes-group-version-kind".into(), gvk(resource, &resource.kind));
    definitions.insert(resource.definition.clone(), Value::Object(kind));
    let list = format!("{}List", resource.definition);
    definitions.insert(
        list.clone(),
        json!({
            "description": format!("{}List is a list of {}", resource.kind, resource.kind),
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": {"type": "string"},
                "items": {"type": "array", "items": reference(&resource.definition)},
                "kind": {"type": "string"},
                "metadata": reference(&format!("{META}.ListMeta")),
            },
            "x-kubernetes-group-version-kind": gvk(resource, &resource.list_kind()),
        }),
    );
    let id = |verb: &str| format!("{verb}{}{}", resource.group.replace(['.', '-'], ""), resource.kind);
    let op = |action: &str, verb: &str, response: Value| {
        json!({
            "operationId": id(verb),
            "consumes": ["application/json", "application/yaml"],
            "produces": ["application/json", "application/yaml"],
            "schemes": ["https"],
            "responses": {"200": {"description": "OK", "schema": response}, "401": {"description": "Unauthorized"}},
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk(resource, &resource.kind)[0].clone(),
        })
    };
    let object = reference(&resource.definition);
    let status = reference(&format!("{META}.Status"));
    let namespaced = if resource.namespaced { "/namespaces/{namespace}" } else { "" };
    let base = format!("/apis/{}/{}{namespaced}/{}", resource.group, resource.version, resource.plural);
    paths.insert(
        base.clone(),
        json!({
            "get": op("list", "list", reference(&list)),
            "post": op("post", "create", object.clone()),
            "delete": op("deletecollection", "deletecollection", status.clone()),
        }),
    );
    paths.insert(
        format!("{base}/{{name}}"),
        json!({
            "get": op("get", "read", object.clone()),
            "put": op("put", "replace", object.clone()),
            "patch": op("patch", "patch", object.clone()),
            "delete": op("delete", "delete", status),
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_lose_what_openapi_v2_cannot_say() {
        let schema = json!({
            "type": "object",
            "required": ["spec", "note"],
            "properties": {
                "spec": {"type": "object", "oneOf": [{"required": ["a"]}], "properties": {"a": {"type": "string"}}},
                "note": {"type": "string", "nullable": true},
                "blob": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"x": {"type": "string"}}},
                "list": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
            },
        });
        assert_eq!(
            to_v2(&schema),
            json!({
                "type": "object",
                "required": ["spec"],
                "properties": {
                    "spec": {"type": "object", "properties": {"a": {"type": "string"}}},
                    "note": {},
                    "blob": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "list": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                },
            })
        );
    }

    #[test]
    fn spliced_entries_land_inside_the_named_objects() {
        let document =
            br#"{"definitions": {"A": {"properties": {"paths": {"type": "x"}}}}, "note": "\"paths\": {", "paths": {}}"#;
        let mut paths = Map::new();
        paths.insert("/b".into(), json!({}));
        let mut definitions = Map::new();
        definitions.insert("B".into(), json!({"type": "object"}));
        let spliced = splice(document, &[("paths", paths), ("definitions", definitions)]);
        let parsed: Value = serde_json::from_slice(&spliced).unwrap();
        assert_eq!(parsed["paths"], json!({"/b": {}}), "into the top-level paths, which was empty");
        assert_eq!(parsed["definitions"]["B"], json!({"type": "object"}));
        assert_eq!(parsed["definitions"]["A"]["properties"]["paths"], json!({"type": "x"}), "nested keys untouched");
    }
}
