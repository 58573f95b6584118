//! Build script: distils the vendored Kubernetes OpenAPI spec into two small documents that the
//! server parses at start in well under a millisecond, instead of the 4 MB spec:
//!
//! - `catalog.json`: every served resource (group, version, kind, plural, scope, verbs,
//!   subresources and the definition that describes it), read off the spec's paths;
//! - `schema-graph.json`: the graph of every definition (`src/openapi/schema.rs`, included here),
//!   for schema-driven merges, validation and field management, ready to deserialize.
//!
//! The full spec stays embedded (compressed) for the `/openapi` documents.

#[allow(dead_code)]
#[path = "src/openapi/schema.rs"]
mod schema;

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::io::Read;

const SPEC: &str = "openapi/kubernetes-v1.36-swagger.json.gz";

fn main() {
    println!("cargo::rerun-if-changed={SPEC}");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=src/openapi/schema.rs");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(SPEC).expect("vendored OpenAPI spec"))
        .read_to_string(&mut text)
        .expect("spec is gzip-compressed UTF-8");
    let spec: Value = serde_json::from_str(&text).expect("spec is JSON");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let catalog = build_catalog(&spec);
    std::fs::write(out.join("catalog.json"), serde_json::to_vec(&catalog).unwrap()).unwrap();
    let graph = schema::Schemas::from_definitions(&strip_descriptions(&spec["definitions"]));
    std::fs::write(out.join("schema-graph.json"), serde_json::to_vec(&graph).unwrap()).unwrap();
}

/// Only generally available group-versions are on in a default kube-apiserver 1.36; alpha and
/// beta APIs need `--runtime-config`.
fn is_served_by_default(version: &str) -> bool {
    !version.contains("alpha") && !version.contains("beta")
}

#[derive(Default)]
struct ResourceEntry {
    group: String,
    version: String,
    kind: String,
    namespaced: bool,
    verbs: Vec<String>,
    subresources: BTreeMap<String, (Value, Vec<String>)>,
}

fn build_catalog(spec: &Value) -> Value {
    let definitions_by_gvk = definitions_by_gvk(&spec["definitions"]);
    let mut resources: BTreeMap<(String, String, String), ResourceEntry> = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        let Some(parsed) = parse_path(path) else { continue };
        if !is_served_by_default(&parsed.version) {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            let Some(action) = operation["x-kubernetes-action"].as_str() else { continue };
            let Some(verb) = verb_for(action, method) else { continue };
            let gvk = &operation["x-kubernetes-group-version-kind"];
            let key = (parsed.group.clone(), parsed.version.clone(), parsed.plural.clone());
            let entry = resources.entry(key).or_default();
            entry.group.clone_from(&parsed.group);
            entry.version.clone_from(&parsed.version);
            entry.namespaced |= parsed.namespaced;
            match &parsed.subresource {
                Some(sub) => {
                    let (kind, verbs) =
                        entry.subresources.entry(sub.clone()).or_insert_with(|| (gvk.clone(), Vec::new()));
                    if kind.is_null() {
                        *kind = gvk.clone();
                    }
                    push_unique(verbs, verb);
                }
                None => {
                    if let Some(kind) = gvk["kind"].as_str() {
                        entry.kind = kind.to_string();
                    }
                    push_unique(&mut entry.verbs, verb);
                }
            }
        }
    }
    let mut list = Vec::new();
    for ((group, version, plural), entry) in resources {
        if entry.kind.is_empty() {
            continue;
        }
        let definition =
            definitions_by_gvk.get(&(group.clone(), version.clone(), entry.kind.clone())).cloned().unwrap_or_default();
        let mut verbs = entry.verbs;
        verbs.sort();
        let subresources: Vec<Value> = entry
            .subresources
            .into_iter()
            .map(|(name, (gvk, mut verbs))| {
                verbs.sort();
                json!({"name": name, "group": gvk["group"], "version": gvk["version"], "kind": gvk["kind"], "verbs": verbs})
            })
            .collect();
        list.push(json!({
            "group": group, "version": version, "kind": entry.kind, "plural": plural,
            "namespaced": entry.namespaced, "verbs": verbs, "subresources": subresources,
            "definition": definition,
        }));
    }
    Value::Array(list)
}

fn push_unique(verbs: &mut Vec<String>, verb: &str) {
    if !verbs.iter().any(|v| v == verb) {
        verbs.push(verb.to_string());
    }
}

fn verb_for(action: &str, method: &str) -> Option<&'static str> {
    Some(match action {
        "get" => "get",
        "list" => "list",
        "post" => "create",
        "put" => "update",
        "patch" => "patch",
        "delete" => "delete",
        "deletecollection" => "deletecollection",
        "watch" | "watchlist" => "watch",
        "connect" => match method {
            "get" => "get",
            "post" => "create",
            "put" => "update",
            "patch" => "patch",
            "delete" => "delete",
            _ => return None,
        },
        _ => return None,
    })
}

struct ParsedPath {
    group: String,
    version: String,
    plural: String,
    namespaced: bool,
    subresource: Option<String>,
}

fn parse_path(path: &str) -> Option<ParsedPath> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => (String::new(), version.to_string(), rest),
        ["apis", group, version, rest @ ..] => (group.to_string(), version.to_string(), rest),
        _ => return None,
    };
    let rest = match rest {
        ["watch", rest @ ..] => rest,
        rest => rest,
    };
    let (namespaced, rest) = match rest {
        ["namespaces", "{namespace}", rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    let (plural, subresource) = match rest {
        [plural] | [plural, "{name}"] => (plural, None),
        [plural, "{name}", sub, ..] => (plural, Some(sub.to_string())),
        _ => return None,
    };
    Some(ParsedPath { group, version, plural: plural.to_string(), namespaced, subresource })
}

fn definitions_by_gvk(definitions: &Value) -> BTreeMap<(String, String, String), String> {
    let mut map = BTreeMap::new();
    for (name, definition) in definitions.as_object().expect("definitions") {
        for gvk in definition["x-kubernetes-group-version-kind"].as_array().into_iter().flatten() {
            let key = |field: &str| gvk[field].as_str().unwrap_or_default().to_string();
            map.insert((key("group"), key("version"), key("kind")), name.clone());
        }
    }
    map
}

fn strip_descriptions(value: &Value) -> Value {
    strip_descriptions_in(value, false)
}

/// Drops `description` keywords, but not properties named `description` (JSONSchemaProps has
/// one): the keys of a `properties` map are field names.
fn strip_descriptions_in(value: &Value, property_names: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| property_names || key.as_str() != "description")
                .map(|(key, value)| (key.clone(), strip_descriptions_in(value, !property_names && key == "properties")))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|item| strip_descriptions_in(item, false)).collect()),
        other => other.clone(),
    }
}
