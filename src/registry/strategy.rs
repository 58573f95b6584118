//! Strategies: what happens to an object on its way into the store, shared by every resource
//! and specialised by a small table for the kinds that need more. Object metadata is filled in
//! as kube-apiserver's `BeforeCreate`/`BeforeUpdate` fill it; status and spec are kept apart
//! across the main resource and its `status` subresource; `generation` moves only when
//! something outside metadata and status changes; per-kind validation covers what kubectl
//! users meet first.

use crate::error::{ApiError, ApiResult, FieldError};
use crate::openapi::ResourceInfo;
use crate::registry::{defaults, names::NameRule};
use serde_json::{Map, Value, json};

/// Fields of ObjectMeta the server owns: a create or update cannot set them.
const SERVER_OWNED_ON_UPDATE: [&str; 5] =
    ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"];

pub fn metadata(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata").and_then(Value::as_object)
}

pub fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object.as_object_mut().expect("objects are JSON objects").insert("metadata".into(), json!({}));
    }
    object.get_mut("metadata").and_then(Value::as_object_mut).expect("inserted above")
}

/// `object` copied with the top-level `fields` and the `metadata_fields` set to null instead of
/// copied: for a caller about to replace or remove them, which then keep their places (and a
/// removal perturbs the order as removing the original would).
pub fn copy_with_nulls(object: &Value, fields: &[&str], metadata_fields: &[&str]) -> Value {
    let Value::Object(map) = object else { return object.clone() };
    let copy_unless = |names: &[&str], (key, value): (&String, &Value)| {
        (key.clone(), if names.contains(&key.as_str()) { Value::Null } else { value.clone() })
    };
    let copy = |(key, value): (&String, &Value)| match value {
        Value::Object(metadata) if key == "metadata" && !metadata_fields.is_empty() => {
            let metadata = metadata.iter().map(|field| copy_unless(metadata_fields, field)).collect();
            (key.clone(), Value::Object(metadata))
        }
        _ => copy_unless(fields, (key, value)),
    };
    Value::Object(map.iter().map(copy).collect())
}

/// Whether `object` equals `reference` with its metadata field `field` removed, found without
/// building that copy. A `reference` without a metadata object is compared as it is. Fields are
/// compared in the order they most often differ in: everything but metadata first, and
/// `managedFields`, often half of an object and rarely the only difference, last.
pub fn equal_without_metadata_field(reference: &Value, object: &Value, field: &str) -> bool {
    let (Value::Object(reference), Value::Object(object)) = (reference, object) else { return reference == object };
    let same = |theirs: &Map<String, Value>, (name, value): (&String, &Value)| theirs.get(name) == Some(value);
    let same_metadata = |metadata: &Map<String, Value>, theirs: &Value| {
        let Value::Object(theirs) = theirs else { return false };
        let kept = || metadata.iter().filter(|(name, _)| *name != field);
        kept().count() == theirs.len()
            && kept().filter(|(name, _)| *name != "managedFields").all(|pair| same(theirs, pair))
            && kept().filter(|(name, _)| *name == "managedFields").all(|pair| same(theirs, pair))
    };
    reference.len() == object.len()
        && reference.iter().filter(|(key, _)| *key != "metadata").all(|pair| same(object, pair))
        && match (reference.get("metadata"), object.get("metadata")) {
            (Some(Value::Object(metadata)), Some(theirs)) => same_metadata(metadata, theirs),
            (Some(metadata), theirs) => theirs == Some(metadata),
            (None, _) => true,
        }
}

pub fn meta_str<'a>(object: &'a Value, field: &str) -> &'a str {
    metadata(object).and_then(|m| m.get(field)).and_then(Value::as_str).unwrap_or_default()
}

/// Whether this resource keeps status apart behind a `status` subresource.
pub fn has_status_subresource(resource: &ResourceInfo) -> bool {
    resource.subresource("status").is_some()
}

/// Whether `metadata.generation` is tracked: resources whose objects have a spec, except
/// those whose real strategies do not track it.
pub fn tracks_generation(resource: &ResourceInfo) -> bool {
    let untracked = matches!(
        (resource.group.as_str(), resource.plural.as_str()),
        ("", "namespaces")
            | ("", "nodes")
            | ("", "services")
            | ("", "persistentvolumes")
            | ("", "persistentvolumeclaims")
    );
    !untracked && (has_status_subresource(resource) || resource.custom)
}

/// Drops empty lists and maps from metadata, which kube-apiserver omits (kube-rs's
/// finalizer helper depends on it), and nulls anywhere in metadata.
pub fn prune_empty_metadata(object: &mut Value) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.retain(|_, value| match value {
            Value::Null => false,
            Value::Array(items) => !items.is_empty(),
            Value::Object(map) => !map.is_empty(),
            _ => true,
        });
    }
}

fn name_errors(resource: &ResourceInfo, name: &str) -> Vec<FieldError> {
    NameRule::for_resource(&resource.group, &resource.plural)
        .check(name)
        .into_iter()
        .map(|detail| FieldError::invalid("metadata.name", json!(name), detail))
        .collect()
}

/// Per-kind validation run on create and update (`old` set on update).
pub fn validate(resource: &ResourceInfo, object: &Value, old: Option<&Value>) -> ApiResult<()> {
    let name = meta_str(object, "name");
    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push(FieldError::required("metadata.name", "name or generateName is required"));
    } else if old.is_none() {
        errors.extend(name_errors(resource, name));
    }
    if let Some(old) = old {
        errors.extend(immutability_errors(resource, object, old));
        errors.extend(finalizer_errors(object, old));
    }
    errors.extend(super::object_meta::errors(object));
    errors.extend(kind_errors(resource, object));
    errors.extend(crate::crds::object_errors(resource, object, old));
    if errors.is_empty() { Ok(()) } else { Err(ApiError::invalid(&resource.group, &resource.kind, name, errors)) }
}

fn kind_errors(resource: &ResourceInfo, object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let containers_at = |pointer: &str, field: &str, errors: &mut Vec<FieldError>| {
        let containers = object.pointer(pointer).and_then(Value::as_array);
        match containers {
            None => errors.push(FieldError::required(field, "")),
            Some(list) if list.is_empty() => errors.push(FieldError::required(field, "")),
            Some(list) => {
                for (i, container) in list.iter().enumerate() {
                    if container.get("name").and_then(Value::as_str).unwrap_or_default().is_empty() {
                        errors.push(FieldError::required(format!("{field}[{i}].name"), ""));
                    }
                    if container.get("image").and_then(Value::as_str).unwrap_or_default().is_empty() {
                        errors.push(FieldError::required(format!("{field}[{i}].image"), ""));
                    }
                }
            }
        }
    };
    match (resource.group.as_str(), resource.plural.as_str()) {
        ("", "pods") => containers_at("/spec/containers", "spec.containers", &mut errors),
        ("apps", "deployments" | "replicasets" | "statefulsets" | "daemonsets") => {
            if object.pointer("/spec/selector").is_none() {
                errors.push(FieldError::required("spec.selector", ""));
            }
            containers_at("/spec/template/spec/containers", "spec.template.spec.containers", &mut errors);
        }
        ("batch", "jobs") => {
            containers_at("/spec/template/spec/containers", "spec.template.spec.containers", &mut errors)
        }
        ("", "configmaps") | ("", "secrets") => {
            for section in ["data", "binaryData"] {
                for key in object.get(section).and_then(Value::as_object).into_iter().flatten().map(|(k, _)| k) {
                    let valid = !key.is_empty()
                        && key.len() <= 253
                        && key.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
                    if !valid {
                        errors.push(FieldError::invalid(
                            format!("{section}[{key}]"),
                            json!(key),
                            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                        ));
                    }
                }
            }
        }
        ("certificates.k8s.io", "certificatesigningrequests") => errors.extend(super::csr::object_errors(object)),
        _ => {}
    }
    errors
}

fn immutability_errors(resource: &ResourceInfo, object: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if matches!((resource.group.as_str(), resource.plural.as_str()), ("", "configmaps") | ("", "secrets"))
        && old.get("immutable") == Some(&json!(true))
    {
        const DETAIL: &str = "field is immutable when `immutable` is set";
        if object.get("immutable") != Some(&json!(true)) {
            errors.push(FieldError::forbidden("immutable", DETAIL));
        }
        for section in ["data", "binaryData", "stringData"] {
            if object.get(section) != old.get(section) {
                errors.push(FieldError::forbidden(section, DETAIL));
            }
        }
    }
    errors
}

fn finalizer_errors(object: &Value, old: &Value) -> Vec<FieldError> {
    if meta_str(old, "deletionTimestamp").is_empty() {
        return Vec::new();
    }
    let finalizers = |o: &Value| -> Vec<String> {
        metadata(o)
            .and_then(|m| m.get("finalizers"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str().map(String::from))
            .collect()
    };
    let old_finalizers = finalizers(old);
    let added: Vec<String> = finalizers(object).into_iter().filter(|f| !old_finalizers.contains(f)).collect();
    if added.is_empty() {
        return Vec::new();
    }
    vec![FieldError::forbidden(
        "metadata.finalizers",
        format!(
            "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
            added.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>().join(", ")
        ),
    )]
}

/// What the server fills in on create.
pub struct CreateStamp<'a> {
    pub uid: String,
    pub now: String,
    pub namespace: Option<&'a str>,
}

/// Prepares a new object: type meta, server-owned metadata, status reset, defaults.
pub fn prepare_create(resource: &ResourceInfo, object: &mut Value, stamp: CreateStamp<'_>) {
    let metadata = metadata_mut(object);
    metadata.remove("resourceVersion");
    metadata.remove("deletionTimestamp");
    metadata.remove("deletionGracePeriodSeconds");
    metadata.remove("selfLink");
    match stamp.namespace {
        Some(namespace) => {
            metadata.insert("namespace".into(), json!(namespace));
        }
        None => {
            metadata.remove("namespace");
        }
    }
    metadata.insert("uid".into(), json!(stamp.uid));
    metadata.insert("creationTimestamp".into(), json!(stamp.now));
    if tracks_generation(resource) {
        metadata.insert("generation".into(), json!(1));
    } else {
        metadata.remove("generation");
    }
    if has_status_subresource(resource)
        && let Some(map) = object.as_object_mut()
    {
        // Custom resources drop status on create; built-in kinds reset it to its zero value.
        if resource.custom {
            map.remove("status")
        } else {
            map.insert("status".into(), json!({}))
        };
    }
    if (resource.group.as_str(), resource.plural.as_str()) == ("", "pods") {
        defaults::set_default(object, &["status", "phase"], json!("Pending"));
        let qos = qos_class(object);
        defaults::set_default(object, &["status", "qosClass"], json!(qos));
    }
    defaults::apply(&resource.group, &resource.plural, object);
    if let Some(map) = object.as_object_mut()
        && map.get("status").is_some_and(|s| s.as_object().is_some_and(Map::is_empty))
        && !has_status_subresource(resource)
    {
        map.remove("status");
    }
    prune_empty_metadata(object);
}

/// The QoS class of a pod, from its containers' requests and limits.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> =
        pod.pointer("/spec/containers").and_then(Value::as_array).into_iter().flatten().collect();
    let section = |c: &Value, which: &str| {
        c.pointer(&format!("/resources/{which}")).and_then(Value::as_object).cloned().unwrap_or_default()
    };
    let any_set = containers.iter().any(|c| !section(c, "requests").is_empty() || !section(c, "limits").is_empty());
    if !any_set {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        let limits = section(c, "limits");
        let requests = section(c, "requests");
        ["cpu", "memory"]
            .iter()
            .all(|r| limits.contains_key(*r) && requests.get(*r).is_none_or(|v| Some(v) == limits.get(*r)))
    });
    if guaranteed { "Guaranteed" } else { "Burstable" }
}

/// Which part of an object an update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateScope {
    /// The main resource: everything but status (when status is a subresource).
    Main,
    /// The `status` subresource: status only.
    Status,
    /// A namespace's `finalize` subresource: `spec.finalizers` only.
    Finalize,
    /// A CertificateSigningRequest's `approval` subresource: `status.conditions` only.
    Approval,
}

impl UpdateScope {
    pub fn of_subresource(subresource: &str) -> UpdateScope {
        match subresource {
            "status" => UpdateScope::Status,
            "finalize" => UpdateScope::Finalize,
            "approval" => UpdateScope::Approval,
            _ => UpdateScope::Main,
        }
    }
}

/// Whether a Namespace still has `spec.finalizers` (the `kubernetes` finalizer the namespace
/// controller removes through `finalize`). Only namespaces have them; another kind's
/// `spec.finalizers` field is ordinary data.
pub fn has_namespace_finalizers(resource: &ResourceInfo, object: &Value) -> bool {
    resource.group.is_empty()
        && resource.plural == "namespaces"
        && object.pointer("/spec/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty())
}

/// Whether an object marked for deletion has nothing left holding it: no finalizers in
/// metadata, and for a namespace none in `spec.finalizers` either.
pub fn deletion_complete(resource: &ResourceInfo, object: &Value) -> bool {
    let no_finalizers = object.pointer("/metadata/finalizers").and_then(Value::as_array).is_none_or(Vec::is_empty);
    !meta_str(object, "deletionTimestamp").is_empty() && no_finalizers && !has_namespace_finalizers(resource, object)
}

/// Carries server-owned state from `old` into an update, keeps status and spec apart, and
/// bumps generation when the spec changed.
pub fn prepare_update(resource: &ResourceInfo, object: &mut Value, old: &Value, scope: UpdateScope) {
    if scope == UpdateScope::Finalize {
        let finalizers = object.pointer("/spec/finalizers").cloned();
        let managed = metadata(object).and_then(|m| m.get("managedFields")).cloned();
        *object = old.clone();
        let spec = object.as_object_mut().expect("object").entry("spec").or_insert_with(|| json!({}));
        match finalizers {
            Some(finalizers) if finalizers.as_array().is_some_and(|f| !f.is_empty()) => spec["finalizers"] = finalizers,
            _ => {
                spec.as_object_mut().map(|spec| spec.remove("finalizers"));
            }
        }
        if let Some(managed) = managed {
            metadata_mut(object).insert("managedFields".into(), managed);
        }
        return;
    }
    if matches!(scope, UpdateScope::Status | UpdateScope::Approval) {
        // The old object with the new status; status writes may still move managedFields,
        // nothing else of metadata. What is replaced is moved over, not copied.
        let status = object.as_object_mut().and_then(|map| map.remove("status"));
        let managed = object.get_mut("metadata").and_then(Value::as_object_mut).and_then(|m| m.remove("managedFields"));
        *object = copy_with_nulls(old, &["status"], if managed.is_some() { &["managedFields"] } else { &[] });
        let map = object.as_object_mut().expect("object");
        match status {
            Some(status) => map.insert("status".into(), status),
            None => map.remove("status"),
        };
        if let Some(managed) = managed {
            metadata_mut(object).insert("managedFields".into(), managed);
        }
        return;
    }
    let old_metadata = metadata(old);
    let metadata = metadata_mut(object);
    for field in SERVER_OWNED_ON_UPDATE {
        match old_metadata.and_then(|m| m.get(field)) {
            Some(value) => {
                metadata.insert(field.into(), value.clone());
            }
            None => {
                metadata.remove(field);
            }
        }
    }
    for field in ["name", "namespace"] {
        if let Some(value) = old_metadata.and_then(|m| m.get(field)) {
            metadata.insert(field.into(), value.clone());
        }
    }
    metadata.remove("selfLink");
    if has_status_subresource(resource) {
        let map = object.as_object_mut().expect("object");
        match old.get("status") {
            Some(status) => {
                map.insert("status".into(), status.clone());
            }
            None => {
                map.remove("status");
            }
        }
    }
    defaults::apply(&resource.group, &resource.plural, object);
    if tracks_generation(resource) && spec_changed(object, old) {
        let generation = metadata_mut(object).get("generation").and_then(Value::as_i64).unwrap_or(0);
        metadata_mut(object).insert("generation".into(), json!(generation + 1));
    }
    prune_empty_metadata(object);
}

/// Whether anything outside metadata and status differs.
pub fn spec_changed(object: &Value, old: &Value) -> bool {
    fn outside(o: &Value) -> impl Iterator<Item = (&String, &Value)> {
        o.as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "status" | "kind" | "apiVersion"))
    }
    // The same fields with the same values: as many on each side, and each of `object`'s
    // in `old` with its value.
    outside(object).count() != outside(old).count() || outside(object).any(|(k, v)| old.get(k) != Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::Catalog;

    fn resource(group: &str, version: &str, plural: &str) -> std::sync::Arc<ResourceInfo> {
        Catalog::builtin().get(group, version, plural).unwrap().clone()
    }

    #[test]
    fn create_fills_metadata_resets_status_and_defaults() {
        let deployments = resource("apps", "v1", "deployments");
        let mut object = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "resourceVersion": "5", "finalizers": [], "labels": {}},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
            "status": {"replicas": 3}});
        prepare_create(
            &deployments,
            &mut object,
            CreateStamp { uid: "u-1".into(), now: "2026-11-22T08:00:00Z".into(), namespace: Some("default") },
        );
        assert_eq!(
            object["metadata"],
            json!({"name": "web", "namespace": "default", "uid": "u-1", "creationTimestamp": "2026-11-22T08:00:00Z", "generation": 1})
        );
        assert_eq!(object["status"], json!({}));
        assert_eq!(object["spec"]["replicas"], 1);
        assert!(validate(&deployments, &object, None).is_ok());
    }

    #[test]
    fn generation_moves_only_with_the_spec_and_status_is_kept_apart() {
        let deployments = resource("apps", "v1", "deployments");
        let mut old = json!({"metadata": {"name": "web", "generation": 1, "uid": "u"}, "spec": {"replicas": 1}, "status": {"replicas": 1}});
        defaults::apply("apps", "deployments", &mut old);
        let mut relabelled = json!({"metadata": {"name": "web", "labels": {"a": "b"}}, "spec": {"replicas": 1}, "status": {"replicas": 9}});
        prepare_update(&deployments, &mut relabelled, &old, UpdateScope::Main);
        assert_eq!(relabelled["metadata"]["generation"], 1);
        assert_eq!(relabelled["status"], json!({"replicas": 1}), "status ignored on the main resource");
        let mut scaled = json!({"metadata": {"name": "web"}, "spec": {"replicas": 3}});
        prepare_update(&deployments, &mut scaled, &old, UpdateScope::Main);
        assert_eq!(scaled["metadata"]["generation"], 2);
        assert_eq!(scaled["metadata"]["uid"], "u");
        let mut status = json!({"metadata": {"name": "web"}, "spec": {"replicas": 7}, "status": {"replicas": 2}});
        prepare_update(&deployments, &mut status, &old, UpdateScope::Status);
        assert_eq!((status["spec"]["replicas"].clone(), status["status"]["replicas"].clone()), (json!(1), json!(2)));
    }

    #[test]
    fn names_and_required_fields_are_validated_with_kube_wording() {
        let pods = resource("", "v1", "pods");
        let error =
            validate(&pods, &json!({"metadata": {"name": "Bad_Name"}, "spec": {"containers": []}}), None).unwrap_err();
        assert_eq!(error.code(), 422);
        assert!(error.message.starts_with("Pod \"Bad_Name\" is invalid: [metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"), "{}", error.message);
        assert!(error.message.ends_with("spec.containers: Required value]"), "{}", error.message);
    }

    #[test]
    fn immutable_configmaps_refuse_changes() {
        let configmaps = resource("", "v1", "configmaps");
        let old = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "1"}});
        let new = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "2"}});
        let error = validate(&configmaps, &new, Some(&old)).unwrap_err();
        assert_eq!(
            error.message,
            "ConfigMap \"c\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
        );
    }

    #[test]
    fn finalizers_cannot_be_added_while_deleting() {
        let configmaps = resource("", "v1", "configmaps");
        let old = json!({"metadata": {"name": "c", "deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["a"]}});
        let new =
            json!({"metadata": {"name": "c", "deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["a", "b"]}});
        let error = validate(&configmaps, &new, Some(&old)).unwrap_err();
        assert!(
            error.message.contains("no new finalizers can be added if the object is being deleted"),
            "{}",
            error.message
        );
    }

    #[test]
    fn pods_start_pending_with_a_qos_class() {
        let pods = resource("", "v1", "pods");
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        prepare_create(&pods, &mut pod, CreateStamp { uid: "u".into(), now: "t".into(), namespace: Some("default") });
        assert_eq!(pod["status"], json!({"phase": "Pending", "qosClass": "Guaranteed"}));
    }
}
