//! Waiting for the cluster to reach a state: an object satisfying a predicate, an object gone,
//! or a condition True. Each follows a watch (so it returns as soon as the change lands) and
//! fails after its timeout with a message that shows the last state seen.

use crate::TestServer;
use futures::{Stream, StreamExt};
use k8s_openapi::serde::Serialize;
use k8s_openapi::serde::de::DeserializeOwned;
use kube::Resource;
use kube::api::Api;
use kube::runtime::watcher::{self, watcher};
use std::fmt::Debug;
use std::time::Duration;

/// A wait that ran out of time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitError {
    pub message: String,
}

impl std::fmt::Display for WaitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for WaitError {}

fn describe<K: Serialize>(object: &Option<K>) -> String {
    match object {
        None => "the object did not exist".to_string(),
        Some(object) => serde_json::to_string_pretty(object).unwrap_or_else(|e| format!("<unprintable: {e}>")),
    }
}

impl TestServer {
    /// The object's states as a watch sees them: `Some` while it exists, `None` once it does
    /// not (or not yet).
    fn states<K>(&self, namespace: Option<&str>, name: &str) -> impl Stream<Item = Option<K>> + Send + use<K>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
    {
        let mut fields = format!("metadata.name={name}");
        if let Some(namespace) = namespace {
            fields.push_str(&format!(",metadata.namespace={namespace}"));
        }
        let api: Api<K> = Api::all(self.client());
        let mut listing: Option<K> = None;
        watcher(api, watcher::Config::default().fields(&fields)).filter_map(move |event| {
            let state = match event {
                Ok(watcher::Event::Apply(object)) => Some(Some(object)),
                Ok(watcher::Event::Delete(_)) => Some(None),
                Ok(watcher::Event::Init) => {
                    listing = None;
                    None
                }
                Ok(watcher::Event::InitApply(object)) => {
                    listing = Some(object);
                    None
                }
                Ok(watcher::Event::InitDone) => Some(listing.take()),
                Err(_) => None,
            };
            std::future::ready(state)
        })
    }

    /// Waits until the object exists and `condition` holds for it; returns it.
    pub async fn wait_for<K>(
        &self,
        namespace: Option<&str>,
        name: &str,
        timeout: Duration,
        condition: impl Fn(&K) -> bool,
    ) -> Result<K, WaitError>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + 'static,
    {
        let mut last: Option<K> = None;
        let mut states = Box::pin(self.states::<K>(namespace, name));
        let outcome = tokio::time::timeout(timeout, async {
            while let Some(state) = states.next().await {
                last = state;
                if last.as_ref().is_some_and(&condition) {
                    return true;
                }
            }
            false
        })
        .await;
        match (outcome, last) {
            (Ok(true), Some(object)) => Ok(object),
            (_, last) => Err(WaitError {
                message: format!(
                    "timed out after {timeout:?} waiting for {} {}{name}; last seen: {}",
                    K::plural(&()),
                    namespace.map(|n| format!("{n}/")).unwrap_or_default(),
                    describe(&last)
                ),
            }),
        }
    }

    /// Waits until the object no longer exists.
    pub async fn wait_deleted<K>(&self, namespace: Option<&str>, name: &str, timeout: Duration) -> Result<(), WaitError>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + 'static,
    {
        let mut last: Option<K> = None;
        let mut states = Box::pin(self.states::<K>(namespace, name));
        let gone = tokio::time::timeout(timeout, async {
            while let Some(state) = states.next().await {
                if state.is_none() {
                    return true;
                }
                last = state;
            }
            false
        })
        .await;
        if gone == Ok(true) {
            return Ok(());
        }
        Err(WaitError {
            message: format!(
                "timed out after {timeout:?} waiting for {} {}{name} to be deleted; last seen: {}",
                K::plural(&()),
                namespace.map(|n| format!("{n}/")).unwrap_or_default(),
                describe(&last)
            ),
        })
    }

    /// Waits until the object's `status.conditions` has `condition_type` with status `True`.
    pub async fn wait_for_condition<K>(
        &self,
        namespace: Option<&str>,
        name: &str,
        condition_type: &str,
        timeout: Duration,
    ) -> Result<K, WaitError>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + 'static,
    {
        self.wait_for(namespace, name, timeout, |object: &K| {
            let value = serde_json::to_value(object).unwrap_or_default();
            value.pointer("/status/conditions").and_then(|c| c.as_array()).is_some_and(|conditions| {
                conditions.iter().any(|c| c["type"] == condition_type && c["status"] == "True")
            })
        })
        .await
    }
}
