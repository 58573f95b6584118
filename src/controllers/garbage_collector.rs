//! The garbage collector: kube-controller-manager's ownerReference semantics, run in-process
//! so dependents go within milliseconds instead of seconds.
//!
//! It keeps a graph, by uid, of the objects that have owners, dependents or a deletion under
//! way. A dependent whose owners are all gone (deleted, or never there: a wrong uid, an owner
//! in a scope it cannot live in) is deleted. A dependent with at least one live owner only
//! loses its references to the dead ones. An owner deleted with `propagationPolicy=Orphan` carries the `orphan` finalizer until
//! its dependents are released; one deleted with `Foreground` carries `foregroundDeletion`
//! until every dependent with `blockOwnerDeletion: true` is gone.

use super::{Controller, Object, OwnerReference, split_api_version};
use crate::error::{ApiResult, Reason};
use crate::instance::Instance;
use crate::registry::Scope;
use crate::registry::rest::{DeleteOptions, WriteOptions};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};

const ORPHAN: &str = "orphan";
const FOREGROUND: &str = "foregroundDeletion";
/// The field manager the collector's writes are recorded under.
const MANAGER: &str = "kube-controller-manager";

/// The object graph and the uids due for a look.
#[derive(Debug, Default)]
pub struct GarbageCollector {
    objects: HashMap<String, Object>,
    /// Owner uid → the uids of objects that name it in their ownerReferences.
    dependents: HashMap<String, HashSet<String>>,
    due: BTreeSet<String>,
}

/// How a dependent's owner stands.
#[derive(Debug, PartialEq)]
enum OwnerState {
    /// Exists and is not waiting for its dependents.
    Solid,
    /// Being deleted in the foreground: its dependents must go first.
    Waiting,
    /// Gone, never there, or unreachable from the dependent's scope.
    Dangling,
    /// Of a kind this server does not serve (yet): leave the reference alone.
    Unknown,
}

impl Controller for GarbageCollector {
    fn reset(&mut self) {
        *self = GarbageCollector::default();
    }

    fn observe(&mut self, _instance: &Instance, object: &Object) {
        if object.uid.is_empty() {
            return;
        }
        self.unlink(&object.uid);
        for owner in &object.owners {
            self.dependents.entry(owner.uid.clone()).or_default().insert(object.uid.clone());
            if self.objects.get(&owner.uid).is_some_and(|o| o.deleting && o.has_finalizer(FOREGROUND)) {
                self.due.insert(owner.uid.clone());
            }
        }
        if !object.owners.is_empty() || object.deleting {
            self.due.insert(object.uid.clone());
        }
        if object.deleting && object.has_finalizer(FOREGROUND) {
            self.due.extend(self.dependents.get(&object.uid).into_iter().flatten().cloned());
        }
        // Only objects that take part in ownership are kept: most have no owners and no
        // dependents (a fresh server's ~150), and an owner found nowhere in the graph is
        // looked up in the store when a dependent needs it.
        if !object.owners.is_empty() || object.deleting || self.dependents.contains_key(&object.uid) {
            self.objects.insert(object.uid.clone(), object.clone());
        } else {
            self.objects.remove(&object.uid);
        }
    }

    fn forget(&mut self, _instance: &Instance, object: &Object) {
        self.unlink(&object.uid);
        self.objects.remove(&object.uid);
        self.due.extend(self.dependents.get(&object.uid).into_iter().flatten().cloned());
        for owner in &object.owners {
            if self.objects.get(&owner.uid).is_some_and(|o| o.deleting) {
                self.due.insert(owner.uid.clone());
            }
        }
    }

    fn reconcile(&mut self, instance: &Instance) {
        while let Some(uid) = self.due.pop_first() {
            let Some(object) = self.objects.get(&uid).cloned() else { continue };
            let outcome = if object.deleting {
                self.finish_deleting(instance, &object)
            } else {
                self.attempt_to_delete(instance, &object)
            };
            if let Err(error) = outcome
                && error.reason != Reason::NotFound
                && error.reason != Reason::Conflict
            {
                tracing::warn!(%error, name = %object.name, resource = %object.resource.plural, "garbage collection failed");
            }
        }
    }
}

impl GarbageCollector {
    /// Removes `uid` from the dependents lists of its previous owners.
    fn unlink(&mut self, uid: &str) {
        let Some(previous) = self.objects.get(uid) else { return };
        for owner in &previous.owners {
            if let Some(set) = self.dependents.get_mut(&owner.uid) {
                set.remove(uid);
                if set.is_empty() {
                    self.dependents.remove(&owner.uid);
                }
            }
        }
    }

    fn live_dependents(&self, uid: &str) -> Vec<Object> {
        let uids = self.dependents.get(uid).into_iter().flatten();
        uids.filter_map(|d| self.objects.get(d)).cloned().collect()
    }

    /// An owner that is being deleted: release (orphan) or wait for (foreground) dependents.
    fn finish_deleting(&mut self, instance: &Instance, owner: &Object) -> ApiResult<()> {
        let dependents = self.live_dependents(&owner.uid);
        if owner.has_finalizer(ORPHAN) {
            for dependent in &dependents {
                remove_owner_references(instance, dependent, &HashSet::from([owner.uid.as_str()]))?;
            }
            return remove_finalizer(instance, owner, ORPHAN);
        }
        if owner.has_finalizer(FOREGROUND) {
            let blocking = dependents
                .iter()
                .any(|d| d.owners.iter().any(|o| o.uid == owner.uid && o.block_owner_deletion == Some(true)));
            if !blocking {
                return remove_finalizer(instance, owner, FOREGROUND);
            }
            for dependent in dependents.iter().filter(|d| !d.deleting) {
                self.attempt_to_delete(instance, dependent)?;
            }
        }
        Ok(())
    }

    /// A dependent: delete it when no owner is left, or drop its references to dead owners.
    fn attempt_to_delete(&mut self, instance: &Instance, dependent: &Object) -> ApiResult<()> {
        if dependent.owners.is_empty() {
            return Ok(());
        }
        let states: Vec<(&OwnerReference, OwnerState)> =
            dependent.owners.iter().map(|owner| (owner, self.owner_state(instance, dependent, owner))).collect();
        let has = |state: OwnerState| states.iter().any(|(_, s)| *s == state);
        if has(OwnerState::Unknown) {
            return Ok(());
        }
        if has(OwnerState::Solid) {
            let stale: HashSet<&str> =
                states.iter().filter(|(_, s)| *s != OwnerState::Solid).map(|(o, _)| o.uid.as_str()).collect();
            if stale.is_empty() {
                return Ok(());
            }
            return remove_owner_references(instance, dependent, &stale);
        }
        let has_dependents = self.dependents.get(&dependent.uid).is_some_and(|d| !d.is_empty());
        let policy = if has(OwnerState::Waiting) {
            if has_dependents { "Foreground" } else { "Background" }
        } else if dependent.has_finalizer(ORPHAN) {
            "Orphan"
        } else if dependent.has_finalizer(FOREGROUND) {
            "Foreground"
        } else {
            "Background"
        };
        let options = DeleteOptions {
            propagation_policy: Some(policy.into()),
            precondition_uid: Some(dependent.uid.clone()),
            ..DeleteOptions::default()
        };
        dependent.scope(instance).delete(&dependent.name, &options).map(drop)
    }

    fn owner_state(&self, instance: &Instance, dependent: &Object, owner: &OwnerReference) -> OwnerState {
        if let Some(known) = self.objects.get(&owner.uid) {
            let reachable = !known.resource.namespaced || known.namespace == dependent.namespace;
            if reachable && known.name == owner.name {
                return if known.deleting && known.has_finalizer(FOREGROUND) {
                    OwnerState::Waiting
                } else {
                    OwnerState::Solid
                };
            }
            return OwnerState::Dangling;
        }
        let (group, version) = split_api_version(&owner.api_version);
        let Some(resource) = instance.catalog().by_kind(group, version, &owner.kind).cloned() else {
            return OwnerState::Unknown;
        };
        if resource.namespaced && dependent.namespace.is_none() {
            return OwnerState::Dangling;
        }
        let namespace = dependent.namespace.as_deref().filter(|_| resource.namespaced);
        let scope = Scope { instance, resource, namespace };
        match scope.get(&owner.name) {
            Ok(stored) if crate::registry::strategy::meta_str(&scope.view(&stored), "uid") == owner.uid => {
                OwnerState::Solid
            }
            _ => OwnerState::Dangling,
        }
    }
}

fn write_options() -> WriteOptions {
    WriteOptions { field_manager: MANAGER.into(), ..WriteOptions::default() }
}

/// Rewrites the live object (if it is still the same uid) through `change`.
fn update_metadata(
    instance: &Instance,
    object: &Object,
    change: impl Fn(&mut serde_json::Map<String, Value>),
) -> ApiResult<()> {
    let scope = object.scope(instance);
    scope
        .guaranteed_update(&object.name, "", &write_options(), None, |current| {
            let mut next = current.clone();
            if crate::registry::strategy::meta_str(current, "uid") == object.uid {
                change(crate::registry::strategy::metadata_mut(&mut next));
            }
            Ok(next)
        })
        .map(drop)
}

fn remove_finalizer(instance: &Instance, object: &Object, finalizer: &str) -> ApiResult<()> {
    update_metadata(instance, object, |metadata| {
        remove_matching(metadata, "finalizers", |f| f.as_str() == Some(finalizer));
    })
}

fn remove_owner_references(instance: &Instance, dependent: &Object, owners: &HashSet<&str>) -> ApiResult<()> {
    update_metadata(instance, dependent, |metadata| {
        remove_matching(metadata, "ownerReferences", |r| r["uid"].as_str().is_some_and(|uid| owners.contains(uid)));
    })
}

/// Removes the entries of a metadata list that match, and the list itself once it is empty.
fn remove_matching(metadata: &mut serde_json::Map<String, Value>, list: &str, matches: impl Fn(&Value) -> bool) {
    if let Some(Value::Array(items)) = metadata.get_mut(list) {
        items.retain(|item| !matches(item));
        if items.is_empty() {
            metadata.remove(list);
        }
    }
}
