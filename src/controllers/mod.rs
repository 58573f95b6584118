//! The in-process controllers a test cluster needs to behave like a real one: the garbage
//! collector (ownerReferences, orphan and foreground deletion), the namespace controller
//! (deleting a namespace's content, then the namespace), the ServiceAccount publisher, the
//! ServiceAccount tokens controller (legacy token Secrets), the CertificateSigningRequest signer
//! and the ClusterRole aggregator. Each follows the store's watch directly, so it reacts within
//! the same millisecond as the write, and acts through the registry's verbs, so its writes carry
//! the same semantics and events as a client's.

pub mod cluster_role_aggregation;
pub mod csr_signing;
pub mod garbage_collector;
pub mod namespaces;
pub mod service_account_tokens;
pub mod service_accounts;

use crate::instance::Instance;
use crate::openapi::ResourceInfo;
use crate::registry::Scope;
use crate::store::{EventKind, KeyRange, RangeRequest, WatchCancelReason, WatchRequest, Watcher};
use serde::Deserialize;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// The running controllers of one instance; dropping the value stops them.
#[derive(Debug)]
pub struct Controllers {
    task: JoinHandle<()>,
}

impl Controllers {
    /// Starts the garbage collector, the namespace, ServiceAccount, ServiceAccount tokens, CSR
    /// signing and ClusterRole aggregation controllers on `instance`.
    pub fn start(instance: &Arc<Instance>) -> Controllers {
        // One watch and one parse of each event feed them all.
        let controllers: Vec<Box<dyn Controller>> = vec![
            Box::new(garbage_collector::GarbageCollector::default()),
            Box::new(namespaces::NamespaceController::default()),
            Box::new(service_accounts::ServiceAccountController::default()),
            Box::new(service_account_tokens::ServiceAccountTokenController::default()),
            Box::new(csr_signing::CsrSigningController::default()),
            Box::new(cluster_role_aggregation::ClusterRoleAggregationController::default()),
        ];
        Controllers { task: tokio::spawn(run(instance.clone(), controllers)) }
    }
}

impl Drop for Controllers {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a controller does with the objects it sees.
pub(crate) trait Controller: Send + 'static {
    /// Forgets everything; a full listing follows.
    fn reset(&mut self);
    /// An object as it now stands (from the initial listing or a write).
    fn observe(&mut self, instance: &Instance, object: &Object);
    /// An object that was deleted.
    fn forget(&mut self, instance: &Instance, object: &Object);
    /// Acts on what the last batch of events made due.
    fn reconcile(&mut self, instance: &Instance);
}

const REGISTRY_PREFIX: &[u8] = b"/registry/";

/// Lists everything, then follows the store's watch; starts over when the watch is lost
/// (compaction overtook it) and stops when the store shuts down.
async fn run(instance: Arc<Instance>, mut controllers: Vec<Box<dyn Controller>>) {
    loop {
        let Some(mut watcher) = list_and_watch(&instance, &mut controllers) else { return };
        reconcile(&instance, &mut controllers);
        loop {
            let Some(response) = watcher.next().await else { return };
            match response.canceled {
                Some(WatchCancelReason::Shutdown) => return,
                Some(WatchCancelReason::Compacted { .. }) => break,
                None => {}
            }
            for event in response.events.iter() {
                let deleted = event.kind == EventKind::Delete;
                let value = match (&event.prev_kv, deleted) {
                    (Some(previous), true) => &previous.value,
                    _ => &event.kv.value,
                };
                let Some(object) = Object::parse(&instance, value) else { continue };
                for controller in &mut controllers {
                    if deleted {
                        controller.forget(&instance, &object);
                    } else {
                        controller.observe(&instance, &object);
                    }
                }
            }
            reconcile(&instance, &mut controllers);
        }
    }
}

fn reconcile(instance: &Instance, controllers: &mut [Box<dyn Controller>]) {
    for controller in controllers {
        controller.reconcile(instance);
    }
}

fn list_and_watch(instance: &Instance, controllers: &mut [Box<dyn Controller>]) -> Option<Watcher> {
    let listing = instance.store.range(RangeRequest::new(KeyRange::prefix(REGISTRY_PREFIX.to_vec()))).ok()?;
    for controller in controllers.iter_mut() {
        controller.reset();
    }
    // The bootstrap objects come parsed already (see `bootstrap::install`), unless changed
    // since: sorted by key, they are walked alongside the listing.
    let mut parsed = std::mem::take(&mut *instance.bootstrap_objects.lock().unwrap_or_else(|e| e.into_inner()));
    parsed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut parsed = parsed.into_iter().peekable();
    for kv in &listing.kvs {
        while parsed.next_if(|(key, _, _)| *key < kv.key).is_some() {}
        let known = parsed.next_if(|(key, revision, _)| *key == kv.key && *revision == kv.mod_revision);
        if let Some(object) = known.map(|(_, _, object)| object).or_else(|| Object::parse(instance, &kv.value)) {
            for controller in controllers.iter_mut() {
                controller.observe(instance, &object);
            }
        }
    }
    let mut request = WatchRequest::new(KeyRange::prefix(REGISTRY_PREFIX.to_vec()));
    request.start_revision = listing.revision + 1;
    request.prev_kv = true;
    instance.store.watch(request).ok()
}

/// An owner reference, as the garbage collector reads it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OwnerReference {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
    #[serde(default)]
    pub block_owner_deletion: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredMeta {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    uid: String,
    #[serde(default)]
    owner_references: Vec<OwnerReference>,
    #[serde(default)]
    finalizers: Vec<String>,
    #[serde(default)]
    deletion_timestamp: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredHead {
    api_version: String,
    kind: String,
    metadata: StoredMeta,
}

/// The identity and lifecycle metadata of one stored object, and the resource it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub resource: Arc<ResourceInfo>,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
    pub owners: Vec<OwnerReference>,
    pub finalizers: Vec<String>,
    pub deleting: bool,
    /// A bootstrap object, unchanged since the server wrote it (only seen in a first listing).
    pub bootstrap: bool,
}

impl Object {
    /// Reads a stored object's metadata; None for values that are not API objects.
    pub(crate) fn parse(instance: &Instance, value: &[u8]) -> Option<Object> {
        let head: StoredHead = serde_json::from_slice(value).ok()?;
        let (group, version) = split_api_version(&head.api_version);
        let resource = instance.catalog().by_kind(group, version, &head.kind)?.clone();
        let meta = head.metadata;
        Some(Object {
            namespace: meta.namespace.filter(|_| resource.namespaced),
            resource,
            name: meta.name,
            uid: meta.uid,
            owners: meta.owner_references,
            finalizers: meta.finalizers,
            deleting: meta.deletion_timestamp.is_some(),
            bootstrap: false,
        })
    }

    pub fn scope<'a>(&'a self, instance: &'a Instance) -> Scope<'a> {
        Scope { instance, resource: self.resource.clone(), namespace: self.namespace.as_deref() }
    }

    pub fn has_finalizer(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}
