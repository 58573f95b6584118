//! Objects from files, created when a server starts: every document of the `.yaml`, `.yml` and
//! `.json` files at a path (a file, or a folder read in name order), created through the
//! registry as the admin would create them. `kubetwin serve --crds PATH --manifests PATH` and
//! the harness builder's `crds_from` / `manifests_from` both load through here, CRDs first, so
//! that custom resources among the manifests find their API served.

use crate::instance::Instance;
use crate::registry::Scope;
use crate::registry::rest::WriteOptions;
use serde_json::Value;
use std::path::Path;

/// Every object document of every manifest file at `path`.
pub fn read(path: &Path) -> Result<Vec<Value>, String> {
    let mut files = Vec::new();
    if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        for entry in entries {
            let file = entry.map_err(|e| format!("reading {}: {e}", path.display()))?.path();
            if file.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json") {
                files.push(file);
            }
        }
        files.sort();
    } else {
        files.push(path.to_path_buf());
    }
    let mut objects = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        let documents: Vec<Value> =
            serde_saphyr::from_multiple(&text).map_err(|e| format!("parsing {}: {e}", file.display()))?;
        objects.extend(documents.into_iter().filter(|d| d.is_object()));
    }
    Ok(objects)
}

/// Creates one object as the admin, under `field_manager`; namespaced objects without a
/// namespace go to `default`.
pub fn create(instance: &Instance, object: Value, field_manager: &str) -> Result<(), String> {
    let text = |field: &str| object[field].as_str().unwrap_or_default().to_string();
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
    let resource = instance
        .catalog()
        .by_kind(group, version, &kind)
        .cloned()
        .ok_or_else(|| format!("the server does not serve {kind} in {api_version}"))?;
    let namespace = resource
        .namespaced
        .then(|| object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_string());
    let scope = Scope { instance, resource, namespace: namespace.as_deref() };
    let options = WriteOptions { field_manager: field_manager.into(), ..WriteOptions::default() };
    scope.create(object, &options).map_err(|e| format!("creating {kind}: {e}"))?;
    Ok(())
}

/// Reads and creates everything at `paths`, in order.
pub fn load(instance: &Instance, paths: &[&Path], field_manager: &str) -> Result<usize, String> {
    let mut created = 0;
    for path in paths {
        for object in read(path)? {
            create(instance, object, field_manager)?;
            created += 1;
        }
    }
    Ok(created)
}
