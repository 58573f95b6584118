//! The namespace controller: a namespace being deleted (`status.phase: Terminating`) has its
//! content deleted, waits for the content's finalizers, reports progress in the same
//! conditions kube-controller-manager writes, and finally removes the `kubernetes` finalizer
//! through the `finalize` subresource, which deletes the namespace.

use super::{Controller, Object};
use crate::error::ApiResult;
use crate::instance::Instance;
use crate::openapi::ResourceInfo;
use crate::registry::Scope;
use crate::registry::rest::{DeleteOptions, WriteOptions};
use crate::registry::storage;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

/// The finalizer kube-apiserver puts in every namespace's `spec.finalizers`.
pub const KUBERNETES_FINALIZER: &str = "kubernetes";
const MANAGER: &str = "kube-controller-manager";

/// Namespaces being deleted and those due for another pass.
#[derive(Debug, Default)]
pub struct NamespaceController {
    terminating: HashSet<String>,
    due: BTreeSet<String>,
}

fn is_namespace(object: &Object) -> bool {
    object.resource.group.is_empty() && object.resource.plural == "namespaces"
}

impl Controller for NamespaceController {
    fn reset(&mut self) {
        *self = NamespaceController::default();
    }

    fn observe(&mut self, _instance: &Instance, object: &Object) {
        if is_namespace(object) && object.deleting {
            self.terminating.insert(object.name.clone());
            self.due.insert(object.name.clone());
        } else if let Some(namespace) = object.namespace.as_ref().filter(|ns| self.terminating.contains(*ns)) {
            self.due.insert(namespace.clone());
        }
    }

    fn forget(&mut self, _instance: &Instance, object: &Object) {
        if is_namespace(object) {
            self.terminating.remove(&object.name);
            self.due.remove(&object.name);
        } else if let Some(namespace) = object.namespace.as_ref().filter(|ns| self.terminating.contains(*ns)) {
            self.due.insert(namespace.clone());
        }
    }

    fn reconcile(&mut self, instance: &Instance) {
        while let Some(namespace) = self.due.pop_first() {
            if let Err(error) = delete_content(instance, &namespace)
                && error.reason != crate::error::Reason::NotFound
            {
                tracing::warn!(%error, %namespace, "namespace deletion failed");
            }
        }
    }
}

/// One resource per storage location, for every namespaced resource that stores objects.
fn namespaced_resources(instance: &Instance) -> Vec<Arc<ResourceInfo>> {
    let catalog = instance.catalog();
    let mut seen = HashSet::new();
    catalog
        .resources()
        .iter()
        .filter(|r| r.namespaced && !r.is_virtual() && r.has_verb("delete"))
        .filter(|r| seen.insert(r.storage_prefix.clone()))
        .cloned()
        .collect()
}

/// What is left in a namespace after a pass.
#[derive(Debug, Default)]
struct Remaining {
    /// Qualified resource → how many objects.
    objects: BTreeMap<String, usize>,
    /// Finalizer → how many objects carry it.
    finalizers: BTreeMap<String, usize>,
}

/// One pass: delete what is not yet being deleted, then either finalize the namespace or
/// report what remains.
fn delete_content(instance: &Instance, namespace: &str) -> ApiResult<()> {
    let mut remaining = Remaining::default();
    let background = DeleteOptions { propagation_policy: Some("Background".into()), ..DeleteOptions::default() };
    for resource in namespaced_resources(instance) {
        let scope = Scope { instance, resource: resource.clone(), namespace: Some(namespace) };
        let page = storage::read_page(&instance.store, &resource.key_prefix(Some(namespace)), None, 0, 0)
            .map_err(storage::store_error)?;
        for (_, stored) in page.items {
            let object = scope.view(&stored);
            let metadata = crate::registry::strategy::metadata(&object).cloned().unwrap_or_default();
            let name = metadata.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
            if !metadata.contains_key("deletionTimestamp") {
                match scope.delete(&name, &background) {
                    Ok(crate::registry::rest::Deleted::Gone(_)) => continue,
                    Ok(_) => {}
                    Err(error) if error.reason == crate::error::Reason::NotFound => continue,
                    Err(error) => return Err(error),
                }
            }
            *remaining.objects.entry(resource.qualified_plural()).or_default() += 1;
            let finalizers = scope.get(&name).map(|s| scope.view(&s)).ok();
            for finalizer in finalizers
                .iter()
                .filter_map(|o| o.pointer("/metadata/finalizers"))
                .filter_map(Value::as_array)
                .flatten()
            {
                *remaining.finalizers.entry(finalizer.as_str().unwrap_or_default().to_string()).or_default() += 1;
            }
        }
    }
    let namespaces = namespace_scope(instance);
    let options = WriteOptions { field_manager: MANAGER.into(), ..WriteOptions::default() };
    namespaces.guaranteed_update(namespace, "status", &options, None, |current| {
        let mut next = current.clone();
        next["status"]["conditions"] =
            conditions(&remaining, &current["status"]["conditions"], &instance.now_rfc3339());
        Ok(next)
    })?;
    if remaining.objects.is_empty() {
        namespaces.guaranteed_update(namespace, "finalize", &options, None, |current| {
            let mut next = current.clone();
            if let Some(Value::Array(finalizers)) = next.pointer_mut("/spec/finalizers") {
                finalizers.retain(|f| f != KUBERNETES_FINALIZER);
            }
            Ok(next)
        })?;
    }
    Ok(())
}

fn namespace_scope(instance: &Instance) -> Scope<'_> {
    let resource = instance.resource("", "v1", "namespaces").expect("namespaces are always served");
    Scope { instance, resource, namespace: None }
}

/// The five conditions kube-controller-manager keeps on a terminating namespace. A condition
/// keeps its transition time while its status stays the same.
fn conditions(remaining: &Remaining, previous: &Value, now: &str) -> Value {
    let count = |map: &BTreeMap<String, usize>| {
        map.iter().map(|(what, n)| format!("{what} has {n} resource instances")).collect::<Vec<_>>().join(", ")
    };
    let (content_status, content_reason, content_message) = if remaining.objects.is_empty() {
        ("False", "ContentRemoved", "All content successfully removed".to_string())
    } else {
        ("True", "SomeResourcesRemain", format!("Some resources are remaining: {}", count(&remaining.objects)))
    };
    let (finalizer_status, finalizer_reason, finalizer_message) = if remaining.finalizers.is_empty() {
        ("False", "ContentHasNoFinalizers", "All content-preserving finalizers finished".to_string())
    } else {
        (
            "True",
            "SomeFinalizersRemain",
            format!("Some content in the namespace has finalizers remaining: {}", count(&remaining.finalizers)),
        )
    };
    let wanted = [
        (
            "NamespaceDeletionDiscoveryFailure",
            "False",
            "ResourcesDiscovered",
            "All resources successfully discovered".to_string(),
        ),
        (
            "NamespaceDeletionGroupVersionParsingFailure",
            "False",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed".to_string(),
        ),
        (
            "NamespaceDeletionContentFailure",
            "False",
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization".to_string(),
        ),
        ("NamespaceContentRemaining", content_status, content_reason, content_message),
        ("NamespaceFinalizersRemaining", finalizer_status, finalizer_reason, finalizer_message),
    ];
    let previous = previous.as_array().cloned().unwrap_or_default();
    let conditions = wanted.into_iter().map(|(kind, status, reason, message)| {
        let before = previous.iter().find(|c| c["type"] == kind);
        let since = match before {
            Some(before) if before["status"] == status => before["lastTransitionTime"].clone(),
            _ => json!(now),
        };
        json!({"type": kind, "status": status, "lastTransitionTime": since, "reason": reason, "message": message})
    });
    Value::Array(conditions.collect())
}
