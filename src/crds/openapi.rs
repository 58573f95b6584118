//! `/openapi/v3` for custom resources: the index lists each served custom group-version next
//! to the built-in ones, and each gets a document shaped as kube-apiserver builds it from the
//! CRD (paths with `x-kubernetes-group-version-kind` and the `fieldValidation` parameter, the
//! version's schema with `apiVersion`, `kind` and ObjectMeta filled in, its List kind, and the
//! meta schemas they reference), which is what `kubectl explain` and kubectl's server-side field
//! validation check read.

use crate::openapi::documents::{self, Document};
use crate::openapi::{Catalog, GroupVersion, ResourceInfo};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1";
const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA_DESCRIPTION: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The built-in schemas custom documents reference (ObjectMeta, ListMeta, Status, DeleteOptions,
/// Patch, autoscaling/v1 Scale) and everything they reach, taken from the built-in documents.
fn meta_schemas() -> &'static Map<String, Value> {
    static SCHEMAS: OnceLock<Map<String, Value>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let mut available = Map::new();
        for path in ["api/v1", "apis/autoscaling/v1"] {
            let Some(document) = documents::builtin().v3.get(path) else { continue };
            let parsed: Value = serde_json::from_slice(&document.json).unwrap_or_default();
            if let Some(Value::Object(schemas)) = parsed.pointer("/components/schemas") {
                available.extend(schemas.clone());
            }
        }
        let roots = ["ObjectMeta", "ListMeta", "Status", "DeleteOptions", "Patch"].map(|n| format!("{META}.{n}"));
        let mut pending: Vec<String> =
            roots.into_iter().chain(["io.k8s.api.autoscaling.v1.Scale".to_string()]).collect();
        let mut kept = BTreeSet::new();
        while let Some(name) = pending.pop() {
            if !kept.insert(name.clone()) {
                continue;
            }
            if let Some(schema) = available.get(&name) {
                collect_refs(schema, &mut pending);
            }
        }
        kept.into_iter().filter_map(|name| available.get(&name).map(|s| (name, s.clone()))).collect()
    })
}

fn collect_refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => found.extend(target.rsplit('/').next().map(String::from)),
                    _ => collect_refs(child, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, found)),
        _ => {}
    }
}

fn custom_resources<'a>(catalog: &'a Catalog, gv: &'a GroupVersion) -> impl Iterator<Item = &'a Arc<ResourceInfo>> {
    catalog.resources().iter().filter(move |r| r.custom && r.group == gv.group && r.version == gv.version)
}

/// The v3 index: the built-in documents plus one per served custom group-version.
pub fn v3_index(catalog: &Catalog) -> Value {
    let mut index = documents::builtin().v3_index();
    let custom: BTreeSet<GroupVersion> =
        catalog.resources().iter().filter(|r| r.custom).map(|r| r.group_version()).collect();
    for gv in custom {
        let path = format!("apis/{}/{}", gv.group, gv.version);
        if documents::builtin().v3.contains_key(&path) {
            continue;
        }
        if let (Some(document), Some(Value::Object(paths))) = (v3_document(catalog, &path), index.get_mut("paths")) {
            let url = format!("/openapi/v3/{path}?hash={}", document.hash);
            paths.insert(path, json!({"serverRelativeURL": url}));
        }
    }
    index
}

/// The document for `apis/<group>/<version>` when custom resources are served there.
pub fn v3_document(catalog: &Catalog, path: &str) -> Option<Document> {
    let (group, version) = path.strip_prefix("apis/")?.split_once('/')?;
    let gv = GroupVersion { group: group.to_string(), version: version.to_string() };
    let resources: Vec<&Arc<ResourceInfo>> = custom_resources(catalog, &gv).collect();
    if resources.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = meta_schemas().clone();
    for resource in resources {
        add_resource(resource, &mut paths, &mut schemas);
    }
    let document = json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"}}},
    });
    Some(Document::new(&document))
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

/// The kind's schema: the CRD's, with `apiVersion`, `kind` and ObjectMeta filled in.
fn kind_schema(resource: &ResourceInfo, raw: &Value) -> Value {
    let mut schema = match raw {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let properties = schema.entry("properties").or_insert_with(|| json!({}));
    if let Some(properties) = properties.as_object_mut() {
        properties.insert("apiVersion".into(), json!({"type": "string", "description": API_VERSION_DESCRIPTION}));
        properties.insert("kind".into(), json!({"type": "string", "description": KIND_DESCRIPTION}));
        properties.insert(
            "metadata".into(),
            json!({"allOf": [reference(&format!("{META}.ObjectMeta"))], "default": {}, "description": METADATA_DESCRIPTION}),
        );
    }
    schema.insert(
        "x-kubernetes-group-version-kind".into(),
        json!([gvk(&resource.group, &resource.version, &resource.kind)]),
    );
    Value::Object(schema)
}

fn list_schema(resource: &ResourceInfo) -> Value {
    json!({
        "description": format!("{}List is a list of {}", resource.kind, resource.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string", "description": API_VERSION_DESCRIPTION},
            "items": {"type": "array", "description": format!("List of {}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md", resource.plural), "items": reference(&resource.definition)},
            "kind": {"type": "string", "description": KIND_DESCRIPTION},
            "metadata": {"allOf": [reference(&format!("{META}.ListMeta"))], "default": {}, "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"},
        },
        "x-kubernetes-group-version-kind": [gvk(&resource.group, &resource.version, &resource.list_kind())],
    })
}

fn query(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

fn operation(
    action: &str,
    id: String,
    parameters: Vec<Value>,
    body: Option<(&[&str], Value)>,
    response: Value,
    kind: &Value,
) -> Value {
    let mut op = json!({
        "description": format!("{action} {}", kind["kind"].as_str().unwrap_or_default()),
        "operationId": id,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": response}}}, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": kind,
    });
    if !parameters.is_empty() {
        op["parameters"] = Value::Array(parameters);
    }
    if let Some((types, schema)) = body {
        let content: Map<String, Value> = types.iter().map(|t| (t.to_string(), json!({"schema": schema}))).collect();
        op["requestBody"] = json!({"content": content, "required": true});
    }
    op
}

fn add_resource(resource: &ResourceInfo, paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    let Some(custom) = &resource.crd else { return };
    let (group, version, kind) = (&resource.group, &resource.version, &resource.kind);
    let list_name = format!("{}List", resource.definition);
    schemas.insert(resource.definition.clone(), kind_schema(resource, &custom.raw_schema));
    schemas.insert(list_name.clone(), list_schema(resource));
    let object = reference(&resource.definition);
    let this = gvk(group, version, kind);
    let id = |verb: &str| format!("{verb}{}{}", group.replace(['.', '-'], ""), kind);
    let write = vec![
        query("dryRun", "When present, indicates that modifications should not be persisted."),
        query(
            "fieldManager",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
        ),
        query(
            "fieldValidation",
            "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict",
        ),
    ];
    let json_types: &[&str] = &["application/json", "application/yaml"];
    let patch_types: &[&str] =
        &["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"];
    let patch_body = reference(&format!("{META}.Patch"));
    let namespace_prefix = if resource.namespaced { "/namespaces/{namespace}" } else { "" };
    let base = format!("/apis/{group}/{version}{namespace_prefix}/{}", resource.plural);
    let mut collection = Map::new();
    collection.insert("get".into(), operation("list", id("list"), vec![], None, reference(&list_name), &this));
    collection.insert(
        "post".into(),
        operation("post", id("create"), write.clone(), Some((json_types, object.clone())), object.clone(), &this),
    );
    collection.insert(
        "delete".into(),
        operation(
            "deletecollection",
            id("deletecollection"),
            vec![],
            None,
            reference(&format!("{META}.Status")),
            &this,
        ),
    );
    paths.insert(base.clone(), Value::Object(collection));
    if resource.namespaced {
        let all = format!("/apis/{group}/{version}/{}", resource.plural);
        paths.insert(
            all,
            json!({"get": operation("list", id("listForAllNamespaces"), vec![], None, reference(&list_name), &this)}),
        );
    }
    let mut item = Map::new();
    item.insert("get".into(), operation("get", id("read"), vec![], None, object.clone(), &this));
    item.insert(
        "put".into(),
        operation("put", id("replace"), write.clone(), Some((json_types, object.clone())), object.clone(), &this),
    );
    item.insert(
        "patch".into(),
        operation("patch", id("patch"), write.clone(), Some((patch_types, patch_body.clone())), object.clone(), &this),
    );
    item.insert(
        "delete".into(),
        operation("delete", id("delete"), vec![], None, reference(&format!("{META}.Status")), &this),
    );
    paths.insert(format!("{base}/{{name}}"), Value::Object(item));
    for sub in &resource.subresources {
        let (response, sub_gvk) = match sub.name.as_str() {
            "scale" => (reference("io.k8s.api.autoscaling.v1.Scale"), gvk("autoscaling", "v1", "Scale")),
            _ => (object.clone(), this.clone()),
        };
        let suffix = if sub.name == "status" { "Status" } else { "Scale" };
        let mut ops = Map::new();
        ops.insert(
            "get".into(),
            operation("get", id(&format!("read{suffix}")), vec![], None, response.clone(), &sub_gvk),
        );
        ops.insert(
            "put".into(),
            operation(
                "put",
                id(&format!("replace{suffix}")),
                write.clone(),
                Some((json_types, response.clone())),
                response.clone(),
                &sub_gvk,
            ),
        );
        ops.insert(
            "patch".into(),
            operation(
                "patch",
                id(&format!("patch{suffix}")),
                write.clone(),
                Some((patch_types, patch_body.clone())),
                response,
                &sub_gvk,
            ),
        );
        paths.insert(format!("{base}/{{name}}/{}", sub.name), Value::Object(ops));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::{Instance, InstanceConfig};
    use crate::registry::Scope;
    use crate::registry::rest::WriteOptions;

    #[test]
    fn custom_group_versions_get_documents_that_kubectl_can_read() {
        let instance = Instance::with_defaults(InstanceConfig::default());
        let crds = instance.resource(super::super::GROUP, "v1", super::super::PLURAL).unwrap();
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "description": "The spec."}}}}}]}});
        Scope { instance: &instance, resource: crds, namespace: None }.create(crd, &WriteOptions::default()).unwrap();
        let catalog = instance.catalog();
        let index = v3_index(&catalog);
        let url = index["paths"]["apis/example.com/v1"]["serverRelativeURL"].as_str().expect("listed");
        let document = v3_document(&catalog, "apis/example.com/v1").unwrap();
        assert_eq!(url, format!("/openapi/v3/apis/example.com/v1?hash={}", document.hash));
        assert!(index["paths"]["api/v1"].is_object(), "built-in documents stay listed");
        let parsed: Value = serde_json::from_slice(&document.json).unwrap();
        let widget = &parsed["components"]["schemas"]["com.example.v1.Widget"];
        assert_eq!(
            widget["x-kubernetes-group-version-kind"],
            json!([{"group": "example.com", "kind": "Widget", "version": "v1"}])
        );
        assert_eq!(widget["properties"]["spec"]["description"], "The spec.");
        assert!(parsed["components"]["schemas"][format!("{META}.ObjectMeta")].is_object());
        let patch = &parsed["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"];
        assert!(patch["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "fieldValidation"));
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Widget");
        assert!(parsed["paths"]["/apis/example.com/v1/widgets"]["get"].is_object());
        assert!(parsed["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/status"].is_object());
        assert!(v3_document(&catalog, "apis/example.com/v2").is_none());
    }
}
