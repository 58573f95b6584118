//! What kube-apiserver's CRD controllers do, done synchronously when a CRD is written: the
//! naming and establishing controllers (catalog entries for the served versions, then
//! `acceptedNames`, `storedVersions` and the `NamesAccepted`/`Established` conditions), and the
//! finalizer controller (a deleted CRD is `Terminating` until every custom resource is gone,
//! then its `customresourcecleanup.apiextensions.k8s.io` finalizer is removed and the API
//! leaves discovery).

use super::definition::{self, CLEANUP_FINALIZER, condition};
use super::{GROUP, PLURAL};
use crate::instance::Instance;
use crate::openapi::ResourceInfo;
use crate::registry::rest::DeleteOptions;
use crate::registry::storage::{self, Written};
use crate::registry::strategy::{meta_str, metadata_mut};
use crate::registry::{Scope, encoding};
use serde_json::{Value, json};
use std::sync::Arc;

/// How many times a controller write that lost a race is retried.
const RETRIES: usize = 16;

fn crd_key(name: &str) -> String {
    format!("/registry/{GROUP}/{PLURAL}/{name}")
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

/// After a CRD was created, updated or deleted (`removed`): serve or stop serving it, and write
/// its status.
pub fn definition_written(instance: &Instance, crd: &Value, removed: bool) {
    if removed {
        unserve(instance, crd);
    } else {
        reconcile(instance, meta_str(crd, "name"));
    }
}

/// After a custom resource was removed: a terminating CRD may now be finished.
pub fn custom_resource_removed(instance: &Instance, resource: &ResourceInfo) {
    if let Some(custom) = &resource.crd {
        finish_cleanup(instance, &custom.crd_name);
    }
}

fn has_cleanup_finalizer(crd: &Value) -> bool {
    crd.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|f| f == CLEANUP_FINALIZER))
}

/// Brings the catalog and the CRD's status in line with its spec, then cleans up after a
/// deletion.
fn reconcile(instance: &Instance, name: &str) {
    for _attempt in 0..RETRIES {
        let Ok(Some(stored)) = storage::read(&instance.store, &crd_key(name)) else { return };
        let mut crd = stored.to_value();
        let terminating = !meta_str(&crd, "deletionTimestamp").is_empty();
        let conflict = names_conflict(instance, &crd);
        if conflict.is_none() {
            serve(instance, &crd, terminating);
        }
        let status = desired_status(&crd, conflict, terminating, &instance.now_rfc3339());
        if crd.get("status") != Some(&status) {
            crd["status"] = status;
            metadata_mut(&mut crd).remove("resourceVersion");
            let bytes = encoding::encode_for_storage(&crd);
            match storage::replace(&instance.store, &crd_key(name), bytes, stored.revision) {
                Ok(Written::At(_)) => {}
                Ok(Written::Conflict(_)) => continue,
                Err(error) => {
                    tracing::warn!(crd = name, %error, "writing CustomResourceDefinition status");
                    return;
                }
            }
        }
        if terminating && has_cleanup_finalizer(&crd) {
            delete_instances(instance, &crd);
            finish_cleanup(instance, name);
        }
        return;
    }
}

/// Replaces the CRD's catalog entries with its served versions (built-in resources win).
fn serve(instance: &Instance, crd: &Value, terminating: bool) {
    let infos = definition::resource_infos(crd, terminating);
    let (group, plural) = (text(crd, "/spec/group").to_string(), text(crd, "/spec/names/plural").to_string());
    instance.update_catalog(|catalog| {
        if catalog.resources().iter().any(|r| r.group == group && r.plural == plural && !r.custom) {
            return;
        }
        catalog.remove(&group, &plural);
        for info in infos.into_iter().filter(|i| i.crd.as_ref().is_some_and(|c| c.served)) {
            catalog.insert(Arc::new(info));
        }
    });
}

fn unserve(instance: &Instance, crd: &Value) {
    let name = meta_str(crd, "name");
    let (group, plural) = (text(crd, "/spec/group"), text(crd, "/spec/names/plural"));
    let ours = |r: &Arc<ResourceInfo>| r.crd.as_ref().is_some_and(|c| c.crd_name == name);
    if instance.catalog().resources().iter().any(|r| r.group == group && r.plural == plural && ours(r)) {
        instance.update_catalog(|catalog| catalog.remove(group, plural));
    }
}

/// The naming controller's check: another CRD of the group already uses one of our names.
fn names_conflict(instance: &Instance, crd: &Value) -> Option<(String, String)> {
    let name = meta_str(crd, "name");
    let group = text(crd, "/spec/group");
    let kind = text(crd, "/spec/names/kind");
    let short_names: Vec<&str> = crd
        .pointer("/spec/names/shortNames")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let catalog = instance.catalog();
    let others =
        catalog.resources().iter().filter(|r| r.group == group && r.crd.as_ref().is_some_and(|c| c.crd_name != name));
    for other in others {
        if other.kind == kind {
            return Some(("KindConflict".into(), format!("{kind:?} is already in use")));
        }
        if let Some(short) =
            short_names.iter().find(|s| other.short_names.iter().any(|o| o == *s) || other.plural == **s)
        {
            return Some(("ShortNamesConflict".into(), format!("{short:?} is already in use")));
        }
    }
    None
}

/// The status the naming, establishing and finalizer controllers agree on.
fn desired_status(crd: &Value, conflict: Option<(String, String)>, terminating: bool, now: &str) -> Value {
    let existing: Vec<Value> = crd.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    let generation = crd.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        condition(&existing, type_, status, reason, message, now, generation)
    };
    let (mut conditions, accepted_names) = match &conflict {
        None => (
            vec![
                condition("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
                condition("Established", "True", "InitialNamesAccepted", "the initial names have been accepted"),
            ],
            definition::requested_names(crd),
        ),
        Some((reason, message)) => (
            vec![
                condition("NamesAccepted", "False", reason, message),
                condition("Established", "False", "NotAccepted", "not all names are accepted"),
            ],
            crd.pointer("/status/acceptedNames").cloned().unwrap_or_else(|| json!({"plural": "", "kind": ""})),
        ),
    };
    if terminating {
        conditions.push(condition(
            "Terminating",
            "True",
            "InstanceDeletionInProgress",
            "CustomResource deletion is in progress",
        ));
    }
    let mut stored_versions: Vec<Value> =
        crd.pointer("/status/storedVersions").and_then(Value::as_array).cloned().unwrap_or_default();
    if let Some(storage) = definition::storage_version(crd)
        && !stored_versions.iter().any(|v| v == storage)
    {
        stored_versions.push(json!(storage));
    }
    json!({
        "acceptedNames": accepted_names,
        "conditions": conditions,
        "storedVersions": stored_versions,
        "observedGeneration": generation,
    })
}

/// The finalizer controller's work: deletes every custom resource of a terminating CRD (each
/// keeps its own finalizers).
fn delete_instances(instance: &Instance, crd: &Value) {
    let storage = definition::storage_version(crd).unwrap_or_default().to_string();
    let infos = definition::resource_infos(crd, true);
    let Some(resource) = infos.into_iter().find(|r| r.version == storage) else { return };
    let resource = Arc::new(resource);
    let Ok(page) = storage::read_page(&instance.store, &resource.key_prefix(None), None, 0, 0) else { return };
    for (_, stored) in page.items {
        let object = stored.to_value();
        let namespace = meta_str(&object, "namespace").to_string();
        let scope = Scope {
            instance,
            resource: resource.clone(),
            namespace: resource.namespaced.then_some(namespace.as_str()),
        };
        if let Err(error) = scope.delete(meta_str(&object, "name"), &DeleteOptions::default())
            && error.code() != 404
        {
            tracing::warn!(crd = meta_str(crd, "name"), %error, "deleting a custom resource");
        }
    }
}

/// Removes the cleanup finalizer from a terminating CRD once none of its custom resources is
/// left, deleting the CRD when no other finalizer holds it.
fn finish_cleanup(instance: &Instance, name: &str) {
    for _attempt in 0..RETRIES {
        let Ok(Some(stored)) = storage::read(&instance.store, &crd_key(name)) else { return };
        let mut crd = stored.to_value();
        if meta_str(&crd, "deletionTimestamp").is_empty() || !has_cleanup_finalizer(&crd) {
            return;
        }
        let prefix = format!("/registry/{}/{}/", text(&crd, "/spec/group"), text(&crd, "/spec/names/plural"));
        match storage::read_page(&instance.store, &prefix, None, 0, 1) {
            Ok(page) if page.items.is_empty() => {}
            _ => return,
        }
        let metadata = metadata_mut(&mut crd);
        let finalizers: Vec<Value> = metadata
            .get("finalizers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|f| *f != CLEANUP_FINALIZER)
            .cloned()
            .collect();
        metadata.remove("resourceVersion");
        let written = if finalizers.is_empty() {
            storage::remove(&instance.store, &crd_key(name), stored.revision)
        } else {
            metadata.insert("finalizers".into(), Value::Array(finalizers.clone()));
            storage::replace(&instance.store, &crd_key(name), encoding::encode_for_storage(&crd), stored.revision)
        };
        match written {
            Ok(Written::At(_)) => {
                if finalizers.is_empty() {
                    unserve(instance, &crd);
                }
                return;
            }
            Ok(Written::Conflict(_)) => continue,
            Err(error) => {
                tracing::warn!(crd = name, %error, "removing the cleanup finalizer");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::InstanceConfig;
    use crate::registry::rest::WriteOptions;

    fn definition(plural: &str, kind: &str) -> Value {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.example.com")},
            "spec": {"group": "example.com", "scope": "Cluster", "names": {"plural": plural, "kind": kind},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}})
    }

    fn scope<'a>(instance: &'a Instance, group: &str, plural: &str) -> Scope<'a> {
        let resource = instance.resource(group, "v1", plural).unwrap_or_else(|| panic!("{plural} is served"));
        Scope { instance, resource, namespace: None }
    }

    fn stored(instance: &Instance, name: &str) -> Option<Value> {
        storage::read(&instance.store, &crd_key(name)).unwrap().map(|s| s.to_value())
    }

    fn conditions(crd: &Value) -> Vec<(String, String)> {
        let listed = crd.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
        listed.iter().map(|c| (text(c, "/type").to_string(), text(c, "/status").to_string())).collect()
    }

    #[test]
    fn a_second_crd_with_a_taken_kind_is_not_accepted_or_served() {
        let instance = Instance::with_defaults(InstanceConfig::default());
        let crds = scope(&instance, GROUP, PLURAL);
        crds.create(definition("widgets", "Widget"), &WriteOptions::default()).unwrap();
        crds.create(definition("gizmos", "Widget"), &WriteOptions::default()).unwrap();
        let second = stored(&instance, "gizmos.example.com").unwrap();
        assert_eq!(
            conditions(&second),
            [("NamesAccepted".into(), "False".into()), ("Established".into(), "False".into())]
        );
        assert_eq!(second["status"]["conditions"][0]["message"], "\"Widget\" is already in use");
        assert!(instance.resource("example.com", "v1", "gizmos").is_none());
        assert!(instance.resource("example.com", "v1", "widgets").is_some());
    }

    #[test]
    fn a_deleted_crd_waits_for_finalized_custom_resources_then_leaves() {
        let instance = Instance::with_defaults(InstanceConfig::default());
        let crds = scope(&instance, GROUP, PLURAL);
        crds.create(definition("widgets", "Widget"), &WriteOptions::default()).unwrap();
        let widgets = scope(&instance, "example.com", "widgets");
        let held = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "held", "finalizers": ["example.com/hold"]}});
        widgets.create(held, &WriteOptions::default()).unwrap();
        crds.delete("widgets.example.com", &DeleteOptions::default()).unwrap();

        let terminating = stored(&instance, "widgets.example.com").expect("held by its custom resource");
        assert_eq!(terminating["metadata"]["finalizers"], json!([CLEANUP_FINALIZER]));
        assert!(conditions(&terminating).contains(&("Terminating".into(), "True".into())));
        let widgets = scope(&instance, "example.com", "widgets");
        let refused = widgets.create(json!({"metadata": {"name": "new"}}), &WriteOptions::default()).unwrap_err();
        assert_eq!(
            (refused.code(), refused.message.as_str()),
            (405, "create not allowed while custom resource definition is terminating")
        );

        widgets
            .guaranteed_update("held", "", &WriteOptions::default(), None, |current| {
                let mut released = current.clone();
                released["metadata"]["finalizers"] = json!([]);
                Ok(released)
            })
            .unwrap();
        assert!(stored(&instance, "widgets.example.com").is_none(), "the last custom resource lets the CRD go");
        assert!(instance.resource("example.com", "v1", "widgets").is_none());
    }
}
