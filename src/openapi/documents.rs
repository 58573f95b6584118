//! The `/openapi/v2` and `/openapi/v3` documents, built from the embedded spec on first request
//! and cached for the life of the process. v3 is split per group-version as kube-apiserver
//! splits it: each document holds that group-version's paths (request bodies per patch type,
//! the `fieldValidation` parameter kubectl looks for) and every schema they reach, with
//! `x-kubernetes-group-version-kind` as an array on schemas and an object on operations.

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::OnceLock;

/// One served document: its JSON and the hash clients pin it by.
#[derive(Debug)]
pub struct Document {
    pub json: bytes::Bytes,
    pub hash: String,
}

impl Document {
    pub(crate) fn new(value: &Value) -> Self {
        let json = serde_json::to_vec(value).expect("documents serialize");
        let digest = ring::digest::digest(&ring::digest::SHA512, &json);
        let hash = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
        Document { json: bytes::Bytes::from(json), hash }
    }
}

/// Every OpenAPI document the built-in API serves.
#[derive(Debug)]
pub struct Documents {
    pub v2: bytes::Bytes,
    /// Keyed by the index path: `api/v1`, `apis/apps/v1`, `api`, `apis`, `apis/apps`, ...
    pub v3: BTreeMap<String, Document>,
}

impl Documents {
    /// The v3 index: `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}}}`.
    pub fn v3_index(&self) -> Value {
        let paths: Map<String, Value> = self
            .v3
            .iter()
            .map(|(path, document)| {
                (path.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={}", document.hash)}))
            })
            .collect();
        json!({"paths": paths})
    }
}

/// The built-in documents, built once per process.
pub fn builtin() -> &'static Documents {
    static DOCUMENTS: OnceLock<Documents> = OnceLock::new();
    DOCUMENTS.get_or_init(|| {
        let mut text = String::new();
        flate2::read::GzDecoder::new(super::FULL_SPEC_GZ)
            .read_to_string(&mut text)
            .expect("embedded spec decompresses");
        let spec: Value = serde_json::from_str(&text).expect("embedded spec is JSON");
        build(&spec, text.into_bytes())
    })
}

fn served_prefixes(spec: &Value) -> BTreeSet<String> {
    let catalog = crate::openapi::builtin_resources();
    let mut prefixes: BTreeSet<String> =
        catalog
            .iter()
            .map(|r| {
                if r.group.is_empty() {
                    format!("api/{}", r.version)
                } else {
                    format!("apis/{}/{}", r.group, r.version)
                }
            })
            .collect();
    let _ = spec;
    prefixes.insert("api".into());
    prefixes.insert("apis".into());
    for resource in catalog.iter().filter(|r| !r.group.is_empty()) {
        prefixes.insert(format!("apis/{}", resource.group));
    }
    prefixes
}

/// Which document a spec path belongs to.
fn document_for(path: &str, prefixes: &BTreeSet<String>) -> Option<String> {
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    let segments: Vec<&str> = trimmed.split('/').collect();
    let key = match segments.as_slice() {
        ["api"] => "api".to_string(),
        ["api", version, ..] => format!("api/{version}"),
        ["apis"] => "apis".to_string(),
        ["apis", group] => format!("apis/{group}"),
        ["apis", group, version, ..] => format!("apis/{group}/{version}"),
        _ => return None,
    };
    prefixes.contains(&key).then_some(key)
}

fn build(spec: &Value, v2_json: Vec<u8>) -> Documents {
    let prefixes = served_prefixes(spec);
    let parameters = spec["parameters"].as_object().cloned().unwrap_or_default();
    let definitions = spec["definitions"].as_object().cloned().unwrap_or_default();
    let mut paths_by_document: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().into_iter().flatten() {
        let Some(document) = document_for(path, &prefixes) else { continue };
        paths_by_document.entry(document).or_default().insert(path.clone(), convert_path_item(item, &parameters));
    }
    let mut v3 = BTreeMap::new();
    for (document, paths) in paths_by_document {
        let mut referenced = BTreeSet::new();
        collect_refs(&Value::Object(paths.clone()), &mut referenced);
        let mut pending: Vec<String> = referenced.iter().cloned().collect();
        while let Some(name) = pending.pop() {
            let mut found = BTreeSet::new();
            if let Some(definition) = definitions.get(&name) {
                collect_refs(definition, &mut found);
            }
            for child in found {
                if referenced.insert(child.clone()) {
                    pending.push(child);
                }
            }
        }
        let schemas: Map<String, Value> = referenced
            .iter()
            .filter_map(|name| definitions.get(name).map(|d| (name.clone(), convert_schema(d))))
            .collect();
        let value = json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.36.0"},
            "paths": Value::Object(paths),
            "components": {"schemas": schemas, "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"}}},
        });
        v3.insert(document, Document::new(&value));
    }
    Documents { v2: bytes::Bytes::from(v2_json), v3 }
}

fn collect_refs(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref" {
                    if let Some(name) = child.as_str().and_then(|r| r.rsplit('/').next()) {
                        found.insert(name.to_string());
                    }
                } else {
                    collect_refs(child, found);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, found)),
        _ => {}
    }
}

/// A v2 schema as v3 spells it: `#/components/schemas/` references, and a `$ref` that has a
/// description beside it wrapped in `allOf` (siblings of `$ref` are ignored in OpenAPI 3.0).
fn convert_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            let has_ref = map.contains_key("$ref");
            let has_siblings = map.keys().any(|k| k != "$ref");
            for (key, value) in map {
                match key.as_str() {
                    "$ref" if has_siblings => {
                        out.insert("allOf".into(), json!([{"$ref": v3_ref(value)}]));
                    }
                    "$ref" => {
                        out.insert("$ref".into(), json!(v3_ref(value)));
                    }
                    _ => {
                        out.insert(key.clone(), convert_schema(value));
                    }
                }
            }
            if has_ref && has_siblings && !out.contains_key("default") {
                out.insert("default".into(), json!({}));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(convert_schema).collect()),
        other => other.clone(),
    }
}

fn v3_ref(reference: &Value) -> String {
    let name = reference.as_str().and_then(|r| r.rsplit('/').next()).unwrap_or_default();
    format!("#/components/schemas/{name}")
}

fn convert_parameter(parameter: &Value, shared: &Map<String, Value>) -> Value {
    let resolved = match parameter.get("$ref").and_then(Value::as_str) {
        Some(reference) => shared.get(reference.rsplit('/').next().unwrap_or_default()).cloned().unwrap_or(Value::Null),
        None => parameter.clone(),
    };
    let mut out = Map::new();
    let mut schema = Map::new();
    for (key, value) in resolved.as_object().into_iter().flatten() {
        match key.as_str() {
            "name" | "in" | "description" | "required" => {
                out.insert(key.clone(), value.clone());
            }
            "type" | "uniqueItems" | "format" | "items" => {
                schema.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }
    out.insert("schema".into(), Value::Object(schema));
    Value::Object(out)
}

fn convert_operation(method: &str, operation: &Value, shared: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    let mut parameters = Vec::new();
    let mut body_schema = None;
    for parameter in operation["parameters"].as_array().into_iter().flatten() {
        let resolved = match parameter.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                shared.get(reference.rsplit('/').next().unwrap_or_default()).cloned().unwrap_or(Value::Null)
            }
            None => parameter.clone(),
        };
        if resolved["in"] == "body" {
            body_schema = Some(convert_schema(&resolved["schema"]));
        } else {
            parameters.push(convert_parameter(parameter, shared));
        }
    }
    for (key, value) in operation.as_object().into_iter().flatten() {
        match key.as_str() {
            "parameters" | "consumes" | "produces" | "schemes" => {}
            "responses" => {
                let produces: Vec<String> = operation["produces"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str().map(String::from))
                    .collect();
                let responses: Map<String, Value> = value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(code, response)| {
                        let mut converted = json!({"description": response["description"]});
                        if let Some(schema) = response.get("schema") {
                            let content: Map<String, Value> = produces
                                .iter()
                                .map(|p| (p.clone(), json!({"schema": convert_schema(schema)})))
                                .collect();
                            converted["content"] = Value::Object(content);
                        }
                        (code.clone(), converted)
                    })
                    .collect();
                out.insert("responses".into(), Value::Object(responses));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if !parameters.is_empty() {
        out.insert("parameters".into(), Value::Array(parameters));
    }
    if let Some(schema) = body_schema {
        let consumes: Vec<String> = match operation["consumes"].as_array() {
            Some(types) if method != "patch" => {
                types.iter().filter_map(|t| t.as_str().map(String::from)).filter(|t| t != "*/*").collect()
            }
            Some(types) => types.iter().filter_map(|t| t.as_str().map(String::from)).collect(),
            None => Vec::new(),
        };
        let consumes = if consumes.is_empty() { vec!["*/*".to_string()] } else { consumes };
        let content: Map<String, Value> = consumes.iter().map(|c| (c.clone(), json!({"schema": schema}))).collect();
        out.insert("requestBody".into(), json!({"content": content, "required": true}));
    }
    Value::Object(out)
}

fn convert_path_item(item: &Value, shared: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (key, value) in item.as_object().into_iter().flatten() {
        if key == "parameters" {
            let parameters: Vec<Value> =
                value.as_array().into_iter().flatten().map(|p| convert_parameter(p, shared)).collect();
            out.insert("parameters".into(), Value::Array(parameters));
        } else {
            out.insert(key.clone(), convert_operation(key, value, shared));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_documents_carry_what_kubectl_checks() {
        let documents = builtin();
        let apps = documents.v3.get("apis/apps/v1").expect("apps/v1 document");
        let doc: Value = serde_json::from_slice(&apps.json).unwrap();
        let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert!(patch["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "fieldValidation"));
        assert!(patch["requestBody"]["content"]["application/strategic-merge-patch+json"].is_object());
        assert!(patch["requestBody"]["content"]["application/apply-patch+yaml"].is_object());
        assert!(patch["x-kubernetes-group-version-kind"].is_object());
        let deployment = &doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
        assert!(deployment["x-kubernetes-group-version-kind"].is_array());
        assert_eq!(
            deployment["properties"]["metadata"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        assert!(doc["components"]["schemas"]["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"].is_object());
        let index = documents.v3_index();
        assert!(
            index["paths"]["api/v1"]["serverRelativeURL"].as_str().unwrap().starts_with("/openapi/v3/api/v1?hash=")
        );
        assert!(!documents.v3.contains_key("apis/resource.k8s.io/v1beta1"));
    }
}
